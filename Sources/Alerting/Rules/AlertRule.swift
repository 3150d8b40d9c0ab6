import Foundation

/// How urgent an alert is.
public enum Severity: String, Sendable, CaseIterable {
    case info, warning, critical
}

/// What a rule watches for on each of its series.
public enum Condition: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable {
        case above, below, outside, inside
    }

    /// A value above `low` (`above`), below `low` (`below`), outside or inside
    /// [`low`, `high`], held continuously for `forSeconds` of point time.
    case threshold(Operator, low: Double, high: Double?, forSeconds: Int)
    /// |z| > `threshold`, where z compares a point with the mean and sample standard
    /// deviation of the series' points in the `windowSeconds` before it (the point
    /// itself excluded), once that window holds `minSamples` points.
    case anomaly(windowSeconds: Int, threshold: Double, minSamples: Int)
    /// No point from the device (or from the sensor, when the rule names one) for
    /// `forSeconds`, by the clock.
    case silence(forSeconds: Int)

    public var kind: String {
        switch self {
        case .threshold: "threshold"
        case .anomaly: "anomaly"
        case .silence: "silence"
        }
    }

    /// Whether `value` meets a threshold or anomaly condition (silence is not about values).
    public func holds(for value: Double) -> Bool {
        guard case .threshold(let op, let low, let high, _) = self else { return false }
        switch op {
        case .above: return value > low
        case .below: return value < low
        case .outside: return value < low || value > (high ?? low)
        case .inside: return value >= low && value <= (high ?? low)
        }
    }

    /// The z-score test of an anomaly rule; a window without enough points or with no
    /// deviation holds nothing (and divides by nothing).
    public func holds(value: Double, samples: Int, mean: Double?, deviation: Double?) -> Bool {
        guard case .anomaly(_, let threshold, let minSamples) = self, samples >= minSamples, let mean, let deviation,
            deviation > 0, deviation.isFinite
        else { return false }
        return abs(value - mean) / deviation > threshold
    }
}

/// The devices a rule covers: one, or every device whose labels contain `labels`
/// (devices created or relabelled later included).
public enum RuleTarget: Sendable, Equatable {
    case device(String)
    case selector([String: String])
}

/// The writable fields of an alert rule.
public struct RuleFields: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var severity: Severity
    public var enabled: Bool
    public var labels: [String: String]
    public var channels: [UUID]
    public var target: RuleTarget
    /// The sensor key; nil only for a device-wide silence rule.
    public var sensorKey: String?
    public var condition: Condition
    /// How long the condition must stop holding before a firing alert resolves.
    public var resolveForSeconds: Int
    /// Re-notify this often while firing; nil: never.
    public var repeatEverySeconds: Int?

    public init(
        name: String, description: String? = nil, severity: Severity = .warning, enabled: Bool = true,
        labels: [String: String] = [:], channels: [UUID] = [], target: RuleTarget, sensorKey: String?,
        condition: Condition, resolveForSeconds: Int = 0, repeatEverySeconds: Int? = nil
    ) {
        self.name = name
        self.description = description
        self.severity = severity
        self.enabled = enabled
        self.labels = labels
        self.channels = channels
        self.target = target
        self.sensorKey = sensorKey
        self.condition = condition
        self.resolveForSeconds = resolveForSeconds
        self.repeatEverySeconds = repeatEverySeconds
    }
}

/// An alert rule of a tenant.
public struct AlertRule: Sendable, Equatable {
    public var id: UUID
    public var fields: RuleFields
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(id: UUID, fields: RuleFields, createdAt: Date, updatedAt: Date, version: Int64) {
        self.id = id
        self.fields = fields
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// A rule the database refused for what it knows and the request could not: the field
/// (a JSON pointer into the rule), a code and a message; the API answers 422.
public struct RuleRefused: Error, Sendable, Equatable {
    public var pointer: String
    public var code: String
    public var message: String

    public init(pointer: String, code: String, message: String) {
        self.pointer = pointer
        self.code = code
        self.message = message
    }
}
