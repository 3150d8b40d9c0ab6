import Foundation

/// An alert a rule raised on one series: firing until its condition stopped holding
/// for the rule's `resolve_for`, then resolved. Kept after its rule is deleted.
public struct Alert: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case firing, resolved
    }

    public struct Transition: Sendable, Equatable {
        /// `firing`, `repeat` (re-notified while firing) or `resolved`.
        public var state: String
        /// The point time (or, for silence and repeats, the clock time) of the change.
        public var at: Date
        public var value: Double?
        public var reason: String?
        public var recordedAt: Date

        public init(state: String, at: Date, value: Double?, reason: String?, recordedAt: Date) {
            self.state = state
            self.at = at
            self.value = value
            self.reason = reason
            self.recordedAt = recordedAt
        }
    }

    public var id: Int64
    public var ruleID: UUID
    public var ruleName: String
    public var condition: String
    public var deviceID: String
    /// Empty for a device-wide silence rule.
    public var sensorKey: String
    public var severity: Severity
    public var state: State
    /// When the condition began to hold (point time).
    public var startedAt: Date
    /// The value and point time that made it fire (no value for silence).
    public var value: Double?
    public var valueAt: Date
    public var resolvedAt: Date?
    public var resolvedValue: Double?
    public var acknowledgedBy: String?
    public var acknowledgedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    /// Filled by `alert(_:in:)`; empty in lists.
    public var transitions: [Transition]

    public init(
        id: Int64, ruleID: UUID, ruleName: String, condition: String, deviceID: String, sensorKey: String,
        severity: Severity, state: State, startedAt: Date, value: Double?, valueAt: Date, resolvedAt: Date?,
        resolvedValue: Double?, acknowledgedBy: String?, acknowledgedAt: Date?, createdAt: Date, updatedAt: Date,
        transitions: [Transition] = []
    ) {
        self.id = id
        self.ruleID = ruleID
        self.ruleName = ruleName
        self.condition = condition
        self.deviceID = deviceID
        self.sensorKey = sensorKey
        self.severity = severity
        self.state = state
        self.startedAt = startedAt
        self.value = value
        self.valueAt = valueAt
        self.resolvedAt = resolvedAt
        self.resolvedValue = resolvedValue
        self.acknowledgedBy = acknowledgedBy
        self.acknowledgedAt = acknowledgedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.transitions = transitions
    }
}

/// Which alerts a list shows; every field narrows it.
public struct AlertFilter: Sendable, Equatable {
    public var state: Alert.State?
    public var severity: Severity?
    public var device: String?
    public var rule: UUID?
    /// Alerts whose condition began at or after `from` and before `to`.
    public var from: Date?
    public var to: Date?

    public init() {}
}

/// One point's z-score against the window before it.
public struct AnomalyScore: Sendable, Equatable {
    public var time: Date
    public var value: Double
    /// Points in the window (the point itself excluded).
    public var samples: Int
    public var mean: Double?
    public var deviation: Double?
    /// Nil when the window has fewer than `min_samples` points or no deviation.
    public var z: Double?
    public var anomalous: Bool

    public init(time: Date, value: Double, samples: Int, mean: Double?, deviation: Double?, z: Double?, anomalous: Bool) {
        self.time = time
        self.value = value
        self.samples = samples
        self.mean = mean
        self.deviation = deviation
        self.z = z
        self.anomalous = anomalous
    }
}
