import Alerting
import Foundation
import InputParsing
import JSONText

/// Durations in rules: `0s`, `90s`, `15m`, `1h`, `7d` (a whole number and one unit).
enum DurationText {
    static func seconds(_ text: String) -> Int? { Interval.duration(text).map(Int.init) }

    /// The shortest form: the largest unit that divides the duration.
    static func format(_ seconds: Int) -> String {
        if seconds == 0 { return "0s" }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}

/// An alert rule as the API shows it.
struct AlertRuleBody {
    var rule: AlertRule

    /// The writable fields as JSON, the base a merge patch applies to.
    var editable: JSONValue {
        let f = rule.fields
        var object: [String: JSONValue] = [
            "name": .string(f.name), "severity": .string(f.severity.rawValue), "enabled": .bool(f.enabled),
            "labels": .object(f.labels.mapValues { .string($0) }),
            "channels": .array(f.channels.map { .string($0.uuidString.lowercased()) }),
            "condition": Self.condition(f.condition), "resolve_for": .string(DurationText.format(f.resolveForSeconds)),
        ]
        if let description = f.description { object["description"] = .string(description) }
        if let key = f.sensorKey { object["sensor"] = .string(key) }
        if let every = f.repeatEverySeconds { object["repeat_every"] = .string(DurationText.format(every)) }
        switch f.target {
        case .device(let id): object["device"] = .string(id)
        case .selector(let labels): object["selector"] = .object(["labels": .object(labels.mapValues { .string($0) })])
        }
        return .object(object)
    }

    static func condition(_ condition: Condition) -> JSONValue {
        switch condition {
        case .threshold(let op, let low, let high, let seconds):
            var object: [String: JSONValue] = [
                "type": .string("threshold"), "operator": .string(op.rawValue),
                "for": .string(DurationText.format(seconds)),
            ]
            if op == .above || op == .below {
                object["value"] = .number(low)
            } else {
                object["low"] = .number(low)
                object["high"] = .number(high ?? low)
            }
            return .object(object)
        case .anomaly(let window, let threshold, let minSamples):
            return .object([
                "type": .string("anomaly"), "window": .string(DurationText.format(window)), "threshold": .number(threshold),
                "min_samples": .integer(Int64(minSamples)),
            ])
        case .silence(let seconds):
            return .object(["type": .string("silence"), "for": .string(DurationText.format(seconds))])
        }
    }
}

extension AlertRuleBody: JSONBodyWriting {
    func write(to w: inout JSONWriter) {
        let f = rule.fields
        w.beginObject()
        w.key("channels")
        w.beginArray()
        for channel in f.channels { w.string(channel.uuidString.lowercased()) }
        w.endArray()
        w.key("condition")
        Self.condition(f.condition).write(to: &w)
        w.key("created_at")
        w.date(rule.createdAt)
        w.key("description")
        w.string(f.description)
        w.key("device")
        if case .device(let id) = f.target { w.string(id) } else { w.null() }
        w.key("enabled")
        w.bool(f.enabled)
        w.key("id")
        w.string(rule.id.uuidString.lowercased())
        w.key("labels")
        JSONValue.object(f.labels.mapValues { .string($0) }).write(to: &w)
        w.key("name")
        w.string(f.name)
        w.key("repeat_every")
        w.string(f.repeatEverySeconds.map(DurationText.format))
        w.key("resolve_for")
        w.string(DurationText.format(f.resolveForSeconds))
        w.key("selector")
        if case .selector(let labels) = f.target {
            JSONValue.object(["labels": .object(labels.mapValues { .string($0) })]).write(to: &w)
        } else {
            w.null()
        }
        w.key("sensor")
        w.string(f.sensorKey)
        w.key("severity")
        w.string(f.severity.rawValue)
        w.key("updated_at")
        w.date(rule.updatedAt)
        w.key("version")
        w.integer(rule.version)
        w.endObject()
    }
}

extension JSONValue: JSONBodyWriting {
    /// A parsed value written back (objects with sorted keys).
    public func write(to w: inout JSONWriter) {
        switch self {
        case .null: w.null()
        case .bool(let flag): w.bool(flag)
        case .integer(let n): w.integer(n)
        case .number(let d): w.number(d)
        case .string(let text): w.string(text)
        case .array(let items):
            w.beginArray()
            for item in items { item.write(to: &w) }
            w.endArray()
        case .object(let fields):
            w.beginObject()
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                w.key(key)
                value.write(to: &w)
            }
            w.endObject()
        }
    }
}

/// Reads and checks a rule (create, and the result of a merge patch).
enum AlertRuleInput {
    static let readOnly: Set<String> = ["id", "created_at", "updated_at", "version"]

    static func read(_ reader: inout ObjectReader) -> RuleFields? {
        let name = reader.string("name", required: true, maxLength: 200)
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty { reader.rule("name", "empty", "must not be empty") }
        let description = reader.string("description", nullable: true, maxLength: 2000)
        var severity = Severity.warning
        if let raw = reader.string("severity") {
            if let parsed = Severity(rawValue: raw) {
                severity = parsed
            } else {
                reader.rule("severity", "invalid_value", "must be info, warning or critical")
            }
        }
        let enabled = reader.bool("enabled") ?? true
        let labels = readLabels(&reader, "labels")
        var channels: [UUID] = []
        if let value = reader.value("channels") {
            if case .array(let items) = value {
                if items.count > 20 { reader.rule("channels", "too_many", "at most 20 channels") }
                for (index, item) in items.enumerated() {
                    if case .string(let text) = item, let id = UUID(uuidString: text) {
                        if channels.contains(id) {
                            reader.ruleErrors.append(
                                .init(pointer: reader.path("channels") + "/\(index)", code: "duplicate", message: "appears twice")
                            )
                        }
                        channels.append(id)
                    } else {
                        reader.ruleErrors.append(
                            .init(
                                pointer: reader.path("channels") + "/\(index)", code: "unknown_channel",
                                message: "is not a channel id"))
                    }
                }
            } else if case .null = value {
            } else {
                reader.typeError("channels", expected: "an array of channel ids", got: value)
            }
        }
        // The target: one device or a label selector.
        let device = reader.string("device", nullable: true, maxLength: 128)
        if let device, !Identifier.isValid(device, as: .device) {
            reader.rule("device", "invalid_format", "must match \(Identifier.Kind.device.pattern)")
        }
        var selector: [String: String]?
        if let value = reader.object("selector", nullable: true), case .object = value {
            if var inner = try? ObjectReader(value, pointer: reader.path("selector")) {
                selector = readLabels(&inner, "labels", required: true)
                inner.rejectUnknown()
                reader.absorb(inner)
            }
        }
        if (device == nil) == (selector == nil) {
            reader.rule("device", "invalid_target", "name exactly one of device and selector")
        }
        let sensor = reader.string("sensor", nullable: true, maxLength: 128)
        if let sensor, !Identifier.isValid(sensor, as: .sensor) {
            reader.rule("sensor", "invalid_format", "must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
        }
        let condition = readCondition(&reader)
        if let condition, sensor == nil, condition.kind != "silence" {
            reader.rule("sensor", "required", "\(condition.kind) rules watch one sensor key")
        }
        let resolveFor = duration(&reader, "resolve_for", in: 0...604_800) ?? 0
        var repeatEvery: Int?
        if reader.has("repeat_every"), case .null = reader.value("repeat_every") {
        } else {
            repeatEvery = duration(&reader, "repeat_every", in: 10...604_800)
        }
        guard let name, let condition else { return nil }
        let target: RuleTarget = device.map { .device($0) } ?? .selector(selector ?? [:])
        return RuleFields(
            name: name, description: description, severity: severity, enabled: enabled, labels: labels,
            channels: channels, target: target, sensorKey: sensor, condition: condition, resolveForSeconds: resolveFor,
            repeatEverySeconds: repeatEvery)
    }

    private static func readCondition(_ reader: inout ObjectReader) -> Condition? {
        guard let value = reader.value("condition", required: true) else { return nil }
        guard var c = try? ObjectReader(value, pointer: reader.path("condition")) else {
            reader.typeError("condition", expected: "an object", got: value)
            return nil
        }
        defer {
            c.rejectUnknown()
            reader.absorb(c)
        }
        guard let type = c.string("type", required: true) else { return nil }
        switch type {
        case "threshold":
            guard let raw = c.string("operator", required: true) else { return nil }
            guard let op = Condition.Operator(rawValue: raw) else {
                c.rule("operator", "invalid_value", "must be above, below, outside or inside")
                return nil
            }
            let forSeconds = duration(&c, "for", in: 0...604_800) ?? 0
            if op == .above || op == .below {
                guard let value = finite(&c, "value", required: true) else { return nil }
                return .threshold(op, low: value, high: nil, forSeconds: forSeconds)
            }
            let low = finite(&c, "low", required: true)
            let high = finite(&c, "high", required: true)
            guard let low, let high else { return nil }
            if low > high { c.rule("low", "invalid_range", "must not be above high") }
            return .threshold(op, low: low, high: high, forSeconds: forSeconds)
        case "anomaly":
            let window = duration(&c, "window", in: 60...86_400) ?? 900
            let threshold = finite(&c, "threshold") ?? 3
            if threshold <= 0 || threshold > 1000 { c.rule("threshold", "out_of_range", "must be above 0 and at most 1000") }
            let minSamples = c.integer("min_samples", in: 2...100_000) ?? 30
            return .anomaly(windowSeconds: window, threshold: threshold, minSamples: minSamples)
        case "silence":
            guard let seconds = duration(&c, "for", required: true, in: 10...2_592_000) else { return nil }
            return .silence(forSeconds: seconds)
        default:
            c.rule("type", "invalid_value", "must be threshold, anomaly or silence")
            return nil
        }
    }

    private static func finite(_ reader: inout ObjectReader, _ key: String, required: Bool = false) -> Double? {
        if required && !reader.has(key) {
            reader.syntaxErrors.append(.init(pointer: reader.path(key), code: "required", message: "is required"))
            return nil
        }
        guard let value = reader.number(key) ?? nil else { return nil }
        guard value.isFinite, abs(value) <= 1e300 else {
            reader.rule(key, "out_of_range", "must be a finite number")
            return nil
        }
        return value
    }

    static func duration(
        _ reader: inout ObjectReader, _ key: String, required: Bool = false, in range: ClosedRange<Int>
    ) -> Int? {
        guard let text = reader.string(key, required: required, maxLength: 16) else { return nil }
        guard let seconds = DurationText.seconds(text) else {
            reader.rule(key, "invalid_duration", "must be a whole number of s, m, h or d, like 60s or 15m")
            return nil
        }
        guard range.contains(seconds) else {
            reader.rule(
                key, "out_of_range",
                "must be from \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))")
            return nil
        }
        return seconds
    }

    private static func readLabels(_ reader: inout ObjectReader, _ key: String, required: Bool = false) -> [String: String] {
        guard let value = reader.value(key, required: required) else { return [:] }
        guard case .object(let entries) = value else {
            reader.typeError(key, expected: "an object of strings", got: value)
            return [:]
        }
        if entries.count > 64 { reader.rule(key, "too_many", "at most 64 labels") }
        var labels: [String: String] = [:]
        for (name, item) in entries.sorted(by: { $0.key < $1.key }) {
            let pointer = reader.path(key) + "/" + name
            guard case .string(let text) = item else {
                reader.syntaxErrors.append(
                    .init(pointer: pointer, code: "invalid_type", message: "expected a string, got \(item.typeName)"))
                continue
            }
            if name.isEmpty || name.unicodeScalars.count > 128 || text.unicodeScalars.count > 256 {
                reader.ruleErrors.append(
                    .init(pointer: pointer, code: "invalid_label", message: "keys are 1-128 characters, values at most 256"))
            }
            labels[name] = text
        }
        return labels
    }
}
