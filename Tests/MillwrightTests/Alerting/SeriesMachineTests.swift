import Foundation
import Testing

@testable import Alerting

/// The series state machine alone: point time, `for`, `resolve_for`, late points,
/// silence and repeats (the end-to-end suites run the same through the service).
@Suite("Series state machine")
struct SeriesMachineTests {
    static let second: Int64 = 1_000_000

    @Test("for 0 fires on the first point that holds; resolve_for 0 resolves on the first that does not")
    func immediate() {
        var m = SeriesMachine(createdAt: 0)
        #expect(m.observe(at: 10 * Self.second, holds: false, value: 1, forSeconds: 0, resolveForSeconds: 0) == nil)
        #expect(
            m.observe(at: 20 * Self.second, holds: true, value: 9, forSeconds: 0, resolveForSeconds: 0)
                == .fire(startedAt: 20 * Self.second, at: 20 * Self.second, value: 9))
        #expect(m.state == .firing)
        #expect(m.observe(at: 25 * Self.second, holds: true, value: 9, forSeconds: 0, resolveForSeconds: 0) == nil)
        #expect(
            m.observe(at: 30 * Self.second, holds: false, value: 1, forSeconds: 0, resolveForSeconds: 0)
                == .resolve(at: 30 * Self.second, value: 1))
        #expect(m.state == .inactive)
    }

    @Test("pending until the condition held for `for`; a break starts over")
    func pending() {
        var m = SeriesMachine(createdAt: 0)
        let s = Self.second
        #expect(m.observe(at: 0, holds: true, value: 1, forSeconds: 60, resolveForSeconds: 0) == nil)
        #expect(m.state == .pending)
        #expect(m.observe(at: 59 * s, holds: true, value: 1, forSeconds: 60, resolveForSeconds: 0) == nil)
        #expect(m.observe(at: 61 * s, holds: false, value: 0, forSeconds: 60, resolveForSeconds: 0) == nil)
        #expect(m.state == .inactive)
        #expect(m.observe(at: 100 * s, holds: true, value: 1, forSeconds: 60, resolveForSeconds: 0) == nil)
        #expect(
            m.observe(at: 160 * s, holds: true, value: 2, forSeconds: 60, resolveForSeconds: 0)
                == .fire(startedAt: 100 * s, at: 160 * s, value: 2))
    }

    @Test("resolve_for: the condition must stop holding that long; holding again starts it over")
    func hysteresis() {
        var m = SeriesMachine(createdAt: 0)
        let s = Self.second
        _ = m.observe(at: 0, holds: true, value: 1, forSeconds: 0, resolveForSeconds: 30)
        #expect(m.observe(at: 10 * s, holds: false, value: 0, forSeconds: 0, resolveForSeconds: 30) == nil)
        #expect(m.observe(at: 20 * s, holds: true, value: 1, forSeconds: 0, resolveForSeconds: 30) == nil)
        #expect(m.observe(at: 30 * s, holds: false, value: 0, forSeconds: 0, resolveForSeconds: 30) == nil)
        #expect(m.observe(at: 59 * s, holds: false, value: 0, forSeconds: 0, resolveForSeconds: 30) == nil)
        #expect(
            m.observe(at: 60 * s, holds: false, value: 0, forSeconds: 0, resolveForSeconds: 30) == .resolve(at: 60 * s, value: 0))
    }

    @Test("a point at or before the newest evaluated is late and changes nothing")
    func latePoints() {
        var m = SeriesMachine(createdAt: 0)
        let s = Self.second
        _ = m.observe(at: 10 * s, holds: true, value: 1, forSeconds: 0, resolveForSeconds: 0)
        _ = m.observe(at: 20 * s, holds: false, value: 0, forSeconds: 0, resolveForSeconds: 0)
        #expect(m.state == .inactive)
        #expect(m.observe(at: 15 * s, holds: true, value: 1, forSeconds: 0, resolveForSeconds: 0) == nil)
        #expect(m.observe(at: 20 * s, holds: true, value: 1, forSeconds: 0, resolveForSeconds: 0) == nil)
        #expect(m.state == .inactive)
        #expect(m.lastPointAt == 20 * s)
    }

    @Test("silence fires by the clock from the newest point (or the series' start) and resolves on the next point")
    func silence() {
        let s = Self.second
        var m = SeriesMachine(createdAt: 100 * s)
        #expect(m.checkSilence(now: 105 * s, forSeconds: 10) == nil)
        #expect(m.checkSilence(now: 110 * s, forSeconds: 10) == .fire(startedAt: 100 * s, at: 110 * s, value: nil))
        #expect(m.checkSilence(now: 200 * s, forSeconds: 10) == nil)
        #expect(m.heard(at: 201 * s, resolveForSeconds: 0) == .resolve(at: 201 * s, value: nil))
        #expect(m.checkSilence(now: 205 * s, forSeconds: 10) == nil)
        #expect(m.checkSilence(now: 211 * s, forSeconds: 10) == .fire(startedAt: 201 * s, at: 211 * s, value: nil))
    }

    @Test("repeats only while firing, at most every repeat_every")
    func repeats() {
        let s = Self.second
        var m = SeriesMachine(createdAt: 0)
        #expect(m.checkRepeat(now: 100 * s, everySeconds: 10) == nil)
        _ = m.observe(at: 0, holds: true, value: 1, forSeconds: 0, resolveForSeconds: 0)
        m.lastNotifiedAt = 100 * s
        #expect(m.checkRepeat(now: 105 * s, everySeconds: 10) == nil)
        #expect(m.checkRepeat(now: 110 * s, everySeconds: 10) == .repeatNotice(at: 110 * s))
        #expect(m.checkRepeat(now: 115 * s, everySeconds: 10) == nil)
        #expect(m.checkRepeat(now: 200 * s, everySeconds: nil) == nil)
    }

    @Test("extreme stored times never trap")
    func extremes() {
        #expect(SeriesMachine.elapsed(.min, .max) == .max)
        #expect(SeriesMachine.elapsed(.max, .min) == .min)
        var m = SeriesMachine(createdAt: .min)
        #expect(m.checkSilence(now: .max, forSeconds: 10) != nil)
        #expect(m.observe(at: .max, holds: true, value: 1, forSeconds: 60, resolveForSeconds: 0) == nil)
    }

    @Test("conditions: thresholds at their bounds, and z-scores without enough points or deviation hold nothing")
    func conditions() {
        let above = Condition.threshold(.above, low: 80, high: nil, forSeconds: 0)
        #expect(!above.holds(for: 80) && above.holds(for: 80.01))
        let inside = Condition.threshold(.inside, low: 10, high: 20, forSeconds: 0)
        #expect(inside.holds(for: 10) && inside.holds(for: 20) && !inside.holds(for: 20.5))
        let outside = Condition.threshold(.outside, low: 10, high: 20, forSeconds: 0)
        #expect(!outside.holds(for: 10) && outside.holds(for: 9.9) && outside.holds(for: 21))
        let anomaly = Condition.anomaly(windowSeconds: 900, threshold: 3, minSamples: 30)
        #expect(anomaly.holds(value: 10, samples: 30, mean: 0, deviation: 1))
        #expect(!anomaly.holds(value: 10, samples: 29, mean: 0, deviation: 1))
        #expect(!anomaly.holds(value: 10, samples: 30, mean: 0, deviation: 0))
        #expect(!anomaly.holds(value: 10, samples: 30, mean: nil, deviation: nil))
        #expect(!anomaly.holds(value: 2.9, samples: 30, mean: 0, deviation: 1))
    }
}

/// What a notification says, in both formats.
@Suite("Notification payloads")
struct NotificationPayloadTests {
    static let payload = NotificationPayload(
        event: "firing", eventID: "alert-7-1", tenant: "acme", alertID: 7, ruleID: nil, ruleName: "Spindle hot",
        condition: "threshold", severity: "critical", state: "firing", device: "press-01", sensor: "temp", value: 81.5,
        time: Date(timeIntervalSince1970: 1_764_000_000), startedAt: nil,
        link: AlertSettings(publicURL: "https://millwright.example.com/").link(tenant: "acme", alert: 7))

    @Test("the JSON event carries tenant, rule, device, sensor, value, time, state, severity, alert id and link")
    func json() throws {
        let event = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.payload.json.utf8)) as? [String: Any])
        #expect(event["tenant"] as? String == "acme")
        #expect((event["rule"] as? [String: Any])?["name"] as? String == "Spindle hot")
        #expect(event["device"] as? String == "press-01")
        #expect(event["sensor"] as? String == "temp")
        #expect(event["value"] as? Double == 81.5)
        #expect(event["time"] as? String == "2025-11-24T16:00:00Z")
        #expect(event["state"] as? String == "firing")
        #expect(event["severity"] as? String == "critical")
        #expect(event["alert_id"] as? Int == 7)
        #expect(event["link"] as? String == "https://millwright.example.com/api/v1/tenants/acme/alerts/7")
        #expect(AlertSettings().link(tenant: "acme", alert: 7) == "/api/v1/tenants/acme/alerts/7")
    }

    @Test("the Slack message is text and one section block saying the same")
    func slack() throws {
        let message = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.payload.slack.utf8)) as? [String: Any])
        let text = try #require(message["text"] as? String)
        #expect(text.hasPrefix(":red_circle: [critical] Spindle hot: firing on press-01/temp value 81.5"))
        #expect(text.contains("<https://millwright.example.com/api/v1/tenants/acme/alerts/7|alert 7>"))
        let blocks = message["blocks"] as? [[String: Any]] ?? []
        #expect((blocks.first?["text"] as? [String: Any])?["text"] as? String == text)
    }
}
