import Foundation
import InputParsing

/// What a notification says: one alert's state change (or a test), as Millwright's JSON
/// event and as a Slack-compatible message. Built once, when the change is recorded,
/// and sent unchanged on every attempt.
struct NotificationPayload {
    var event: String
    var eventID: String
    var tenant: String
    var alertID: Int64?
    var ruleID: UUID?
    var ruleName: String
    var condition: String
    var severity: String
    var state: String
    var device: String
    var sensor: String
    var value: Double?
    var time: Date
    var startedAt: Date?
    /// Where the alert is read in the API (absolute with MILLWRIGHT_PUBLIC_URL).
    var link: String?

    /// `{"event": "firing", "tenant": …}` with sorted keys.
    var json: String {
        var object: [String: Any] = [
            "event": event, "event_id": eventID, "tenant": tenant, "condition": condition, "severity": severity,
            "state": state, "device": device, "sensor": sensor.isEmpty ? NSNull() : sensor,
            "value": value.map { $0.isFinite ? $0 as Any : NSNull() } ?? NSNull(), "time": RFC3339.format(time),
            "alert_id": alertID.map { $0 as Any } ?? NSNull(), "link": link ?? NSNull(),
            "rule": ["id": ruleID?.uuidString.lowercased() ?? NSNull(), "name": ruleName] as [String: Any],
        ]
        if let startedAt { object["started_at"] = RFC3339.format(startedAt) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        return String(decoding: data ?? Data("{}".utf8), as: UTF8.self)
    }

    /// A Slack incoming-webhook message: `text` (shown in notifications) and the same
    /// line as a section block.
    var slack: String {
        let mark =
            switch (state, severity) {
            case ("resolved", _): ":white_check_mark:"
            case (_, "critical"): ":red_circle:"
            case (_, "warning"): ":warning:"
            default: ":information_source:"
            }
        let series = sensor.isEmpty ? device : "\(device)/\(sensor)"
        let reading = value.map { " value \(Self.number($0))" } ?? ""
        let verb = event == "repeat" ? "still firing" : event == "test" ? "test notification" : state
        var text = "\(mark) [\(severity)] \(ruleName): \(verb) on \(series)\(reading) at \(RFC3339.format(time))"
        text += " (tenant \(tenant))"
        if let link { text += " <\(link)|alert \(alertID.map(String.init) ?? "")>" }
        let object: [String: Any] = [
            "text": text,
            "blocks": [["type": "section", "text": ["type": "mrkdwn", "text": text]]],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        return String(decoding: data ?? Data("{}".utf8), as: UTF8.self)
    }

    private static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
