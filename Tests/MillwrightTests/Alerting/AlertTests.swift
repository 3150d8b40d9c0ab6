import Foundation
import InputParsing
import Postgres
import Testing

/// Alerts end to end: rules through the API, points through ingestion, the evaluator in
/// the real service(s) on the real database, notifications to a real local HTTP
/// receiver.
@Suite("Alerts")
struct AlertTests {
    /// A tenant with device `d1` (labels line=3) and a number sensor `temp`, and a
    /// channel posting to the receiver under a name of its own.
    struct Setup {
        let client: TestClient
        let tenant: String
        let admin: String
        let hook: String
        let channel: String
        let receiver: WebhookReceiver
        var base: String { "/api/v1/tenants/\(tenant)" }

        static func make(signed: Bool = true) async throws -> Setup {
            let client = try await TestClient.make()
            let receiver = try await WebhookReceiver.shared.value
            let tenant = try await Fixtures.tenant(client)
            let admin = try await Tokens.tenantAdmin(tenant)
            try await Fixtures.device(client, tenant: tenant, id: "d1", fields: ["labels": ["line": "3"]])
            let sensor = try await client.post(
                "/api/v1/tenants/\(tenant)/devices/d1/sensors", token: admin, json: ["key": "temp", "kind": "number"])
            #expect(sensor.status == 201)
            let hook = "h-" + UUID().uuidString.prefix(8).lowercased()
            let channel = try await client.post(
                "/api/v1/tenants/\(tenant)/notification-channels", token: admin,
                json: ["name": "ops", "url": receiver.url(hook), "signed": signed])
            guard channel.status == 201, let id = channel.json["id"] as? String else {
                throw TestFailure("channel: \(channel.status) \(channel.raw.text)")
            }
            return Setup(client: client, tenant: tenant, admin: admin, hook: hook, channel: id, receiver: receiver)
        }

        func rule(_ body: [String: Any]) async throws -> String {
            var body = body
            if body["channels"] == nil { body["channels"] = [channel] }
            if body["name"] == nil { body["name"] = "rule" }
            let response = try await client.post(base + "/alert-rules", token: admin, json: body)
            guard response.status == 201, let id = response.json["id"] as? String else {
                throw TestFailure("rule: \(response.status) \(response.raw.text)")
            }
            return id
        }

        /// Writes points of `d1`/`temp` (or the given device and sensor) at the given times.
        func write(_ points: [(at: Date, value: Double)], device: String = "d1", sensor: String = "temp") async throws {
            let body = points.map { ["device": device, "sensor": sensor, "time": RFC3339.format($0.at), "value": $0.value] }
            let response = try await Metrics.write(client, tenant, token: admin, body)
            guard response.status == 200 else { throw TestFailure("write: \(response.status) \(response.raw.text)") }
        }

        func alerts(_ query: String = "") async throws -> [[String: Any]] {
            let response = try await client.get(base + "/alerts" + query, token: admin)
            guard response.status == 200 else { throw TestFailure("alerts: \(response.status) \(response.raw.text)") }
            return response.items
        }

        /// Waits until the evaluator had time for several rounds (no event expected).
        func settle() async throws { try await Task.sleep(for: .seconds(2)) }

        /// Waits until the evaluator took every committed write of the tenant.
        func evaluated() async throws {
            let tenant = tenant
            for _ in 0..<150 {
                let waiting = try await Metrics.asOwner { db in
                    try db.query("SELECT count(*) FROM millwright_metrics.point_commits WHERE tenant_id = \(tenant)")
                        .first?.decode(0, as: Int.self) ?? 0
                }
                if waiting == 0 { return }
                try await Task.sleep(for: .milliseconds(200))
            }
            throw TestFailure("the evaluator did not take the tenant's commits in 30 s")
        }
    }

    static let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 3600)

    @Test("a threshold rule fires on the point above it and resolves on the next below, notifying both")
    func thresholdFiresAndResolves() async throws {
        let s = try await Setup.make()
        let rule = try await s.rule([
            "name": "Spindle hot", "severity": "critical", "device": "d1", "sensor": "temp",
            "condition": ["type": "threshold", "operator": "above", "value": 80],
        ])
        try await s.write([(Self.t0, 70)])
        try await s.settle()
        #expect(try await s.alerts().isEmpty)
        try await s.write([(Self.t0 + 10, 85.5)])
        let firing = try await s.receiver.wait(s.hook, count: 1)[0]
        let event = firing.json
        #expect(event["event"] as? String == "firing")
        #expect(event["state"] as? String == "firing")
        #expect(event["tenant"] as? String == s.tenant)
        #expect(event["device"] as? String == "d1")
        #expect(event["sensor"] as? String == "temp")
        #expect(event["value"] as? Double == 85.5)
        #expect(event["severity"] as? String == "critical")
        #expect(event["time"] as? String == RFC3339.format(Self.t0 + 10))
        #expect((event["rule"] as? [String: Any])?["id"] as? String == rule)
        let alertID = event["alert_id"] as? Int ?? 0
        #expect(event["link"] as? String == "https://millwright.example/api/v1/tenants/\(s.tenant)/alerts/\(alertID)")
        #expect(firing.header("Idempotency-Key") == "alert-\(alertID)-1")
        #expect(firing.header("webhook-id") == "alert-\(alertID)-1")
        #expect(firing.header("X-Millwright-Signature")?.hasPrefix("sha256=") == true)
        #expect(firing.header("webhook-signature")?.hasPrefix("v1,") == true)

        let listed = try await s.alerts("?state=firing")
        #expect(listed.count == 1)
        #expect(listed.first?["value"] as? Double == 85.5)

        try await s.write([(Self.t0 + 20, 75)])
        let resolved = try await s.receiver.wait(s.hook, count: 2)[1]
        #expect(resolved.json["event"] as? String == "resolved")
        #expect(resolved.json["value"] as? Double == 75)
        #expect(resolved.header("Idempotency-Key") == "alert-\(alertID)-2")
        let detail = try await s.client.get(s.base + "/alerts/\(alertID)", token: s.admin)
        #expect(detail.json["state"] as? String == "resolved")
        #expect(detail.json["started_at"] as? String == RFC3339.format(Self.t0 + 10))
        #expect(detail.json["resolved_at"] as? String == RFC3339.format(Self.t0 + 20))
        let transitions = detail.json["transitions"] as? [[String: Any]] ?? []
        #expect(transitions.map { $0["state"] as? String } == ["firing", "resolved"])
        try await s.settle()
        #expect(s.receiver.received(s.hook).count == 2)
    }
}

extension AlertTests {
    @Test("for: fires only once the condition held that long; resolve_for: resolves only once it stopped that long")
    func forAndResolveFor() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "device": "d1", "sensor": "temp", "resolve_for": "60s",
            "condition": ["type": "threshold", "operator": "above", "value": 80, "for": "60s"],
        ])
        let t = Self.t0
        // Held 30 s, then broken: pending, never firing.
        try await s.write([(t, 85), (t + 30, 90), (t + 40, 70)])
        // Held from t+100 through t+160: fires at t+160, started at t+100.
        try await s.write([(t + 100, 85), (t + 130, 86)])
        try await s.settle()
        #expect(s.receiver.received(s.hook).isEmpty)
        try await s.write([(t + 160, 87)])
        let firing = try await s.receiver.wait(s.hook, count: 1)[0].json
        #expect(firing["time"] as? String == RFC3339.format(t + 160))
        #expect(firing["started_at"] as? String == RFC3339.format(t + 100))
        // Below for 30 s, above again (hysteresis starts over), then below for 60 s.
        try await s.write([(t + 200, 70), (t + 230, 71), (t + 240, 85), (t + 250, 70), (t + 290, 70)])
        try await s.settle()
        #expect(s.receiver.received(s.hook).count == 1)
        try await s.write([(t + 310, 70)])
        let resolved = try await s.receiver.wait(s.hook, count: 2)[1].json
        #expect(resolved["event"] as? String == "resolved")
        #expect(resolved["time"] as? String == RFC3339.format(t + 310))
    }

    @Test("repeat_every re-notifies while the alert stays firing, with a new idempotency key each time")
    func repeatEvery() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "device": "d1", "sensor": "temp", "repeat_every": "10s",
            "condition": ["type": "threshold", "operator": "outside", "low": 0, "high": 50],
        ])
        try await s.write([(Date(), 75)])
        let got = try await s.receiver.wait(s.hook, count: 2, timeout: .seconds(40))
        #expect(got[0].json["event"] as? String == "firing")
        #expect(got[1].json["event"] as? String == "repeat")
        #expect(got[1].json["state"] as? String == "firing")
        #expect(got[0].header("Idempotency-Key") != got[1].header("Idempotency-Key"))
        // Counted between the events as recorded (arrivals also hold the dispatcher's delays).
        let alert = got[0].json["alert_id"] as? Int ?? 0
        let detail = try await s.client.get(s.base + "/alerts/\(alert)", token: s.admin)
        let recorded = (detail.json["transitions"] as? [[String: Any]] ?? []).compactMap {
            ($0["recorded_at"] as? String).flatMap(RFC3339.parseMicroseconds)
        }
        #expect(recorded.count >= 2)
        if recorded.count >= 2 { #expect(recorded[1] - recorded[0] >= 10_000_000) }
    }

    @Test("a late point older than the newest evaluated changes nothing: it never reopens a resolved alert")
    func latePoints() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "device": "d1", "sensor": "temp", "condition": ["type": "threshold", "operator": "below", "value": 10],
        ])
        let t = Self.t0
        try await s.write([(t, 5)])
        try await s.receiver.wait(s.hook, count: 1)
        try await s.write([(t + 20, 20)])
        try await s.receiver.wait(s.hook, count: 2)
        // Older than what was evaluated: stored, but no alert.
        try await s.write([(t + 10, 1)])
        try await s.settle()
        #expect(s.receiver.received(s.hook).count == 2)
        #expect(try await s.alerts().count == 1)
        let points = try await Metrics.points(
            s.client, s.tenant, device: "d1", sensor: "temp", token: s.admin, query: "?from=\(RFC3339.format(t - 1))")
        #expect(points.count == 3)
    }

    @Test("a point more than a minute older than a quiet series' newest is late too, from the series' first point")
    func latePointOfQuietSeries() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "device": "d1", "sensor": "temp", "condition": ["type": "threshold", "operator": "above", "value": 80],
        ])
        try await s.write([(Self.t0 + 120, 70)])
        try await s.evaluated()
        try await s.write([(Self.t0, 90)])  // two minutes late: stored, not evaluated
        try await s.evaluated()
        #expect(try await s.alerts().isEmpty)
        try await s.write([(Self.t0 + 121, 90)])
        let fired = try await s.receiver.wait(s.hook, count: 1)[0].json
        #expect(fired["time"] as? String == RFC3339.format(Self.t0 + 121))
    }

    @Test("anomaly: the z-score leaves the point out of its own window; a window without deviation raises nothing")
    func anomalyExcludesOwnPoint() async throws {
        let s = try await Setup.make()
        // 30 points alternating 0 and 1 (mean 0.5, sample deviation 0.5085), then 3: its
        // z is 4.92 against the window without it, 3.6 with it. Threshold 4.5.
        try await s.rule([
            "device": "d1", "sensor": "temp",
            "condition": ["type": "anomaly", "window": "15m", "threshold": 4.5, "min_samples": 30],
        ])
        let t = Self.t0
        var points = (0..<30).map { (at: t + Double($0 * 10), value: Double($0 % 2)) }
        points.append((t + 300, 3))
        try await s.write(points)
        let event = try await s.receiver.wait(s.hook, count: 1)[0].json
        #expect(event["value"] as? Double == 3)
        #expect(event["time"] as? String == RFC3339.format(t + 300))

        // The same numbers from the anomalies endpoint, computed in SQL.
        let query = "?from=\(RFC3339.format(t))&to=\(RFC3339.format(t + 301))&window=15m&threshold=4.5&min_samples=30"
        let response = try await s.client.get(s.base + "/devices/d1/sensors/temp/anomalies" + query, token: s.admin)
        #expect(response.status == 200)
        let last = try #require(response.items.last)
        let values = (0..<30).map { Double($0 % 2) }
        let mean = values.reduce(0, +) / 30
        let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 29).squareRoot()
        #expect(last["samples"] as? Int == 30)
        #expect(abs((last["mean"] as? Double ?? 0) - mean) < 1e-9)
        #expect(abs((last["z"] as? Double ?? 0) - (3 - mean) / deviation) < 1e-9)
        #expect(last["anomalous"] as? Bool == true)
        // The first point has an empty window: no z, not anomalous.
        #expect(response.items.first?["z"] is NSNull)
        #expect(response.items.first?["samples"] as? Int == 0)

        // A constant series: zero deviation, no z, no alert, no division by zero.
        let flat = try await Setup.make()
        try await flat.rule([
            "device": "d1", "sensor": "temp",
            "condition": ["type": "anomaly", "window": "15m", "threshold": 3, "min_samples": 5],
        ])
        try await flat.write((0..<10).map { (at: t + Double($0 * 10), value: 7.0) } + [(t + 100, 100)])
        try await flat.settle()
        #expect(flat.receiver.received(flat.hook).isEmpty)
        let scores = try await flat.client.get(
            flat.base
                + "/devices/d1/sensors/temp/anomalies?from=\(RFC3339.format(t))&to=\(RFC3339.format(t + 101))&min_samples=5",
            token: flat.admin)
        #expect(scores.items.last?["deviation"] as? Double == 0)
        #expect(scores.items.last?["z"] is NSNull)
    }

    @Test("the anomalies endpoint bounds its range, window, threshold and row count (400 naming the parameter)")
    func anomaliesParameters() async throws {
        let s = try await Setup.make()
        let path = s.base + "/devices/d1/sensors/temp/anomalies"
        for (query, parameter) in [
            ("?from=2026-01-01T00:00:00Z&to=2026-01-09T00:00:00Z", "to"), ("?window=5s", "window"),
            ("?window=2d", "window"), ("?threshold=0", "threshold"), ("?min_samples=1", "min_samples"),
            ("?limit=10001", "limit"), ("?from=yesterday", "from"),
        ] {
            let response = try await s.client.get(path + query, token: s.admin)
            #expect(response.status == 400, "\(query)")
            #expect(response.errorPointers == [parameter], "\(query)")
        }
        #expect(try await s.client.get(s.base + "/devices/d1/sensors/nope/anomalies", token: s.admin).status == 404)
    }

    @Test("silence: raised by the clock when a device stops sending, resolved by its next point")
    func silence() async throws {
        let s = try await Setup.make()
        try await s.rule(["device": "d1", "condition": ["type": "silence", "for": "10s"]])
        try await s.write([(Date(), 20)])
        let fired = try await s.receiver.wait(s.hook, count: 1, timeout: .seconds(40))[0].json
        #expect(fired["event"] as? String == "firing")
        #expect(fired["condition"] as? String == "silence")
        #expect(fired["sensor"] is NSNull)
        #expect(fired["value"] is NSNull)
        try await s.write([(Date(), 21)])
        let resolved = try await s.receiver.wait(s.hook, count: 2)[1].json
        #expect(resolved["event"] as? String == "resolved")
    }

    @Test("a label-selector rule covers devices created after it")
    func selectorPicksUpLaterDevices() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "selector": ["labels": ["line": "7"]], "sensor": "temp",
            "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
        try await Fixtures.device(s.client, tenant: s.tenant, id: "late-1", fields: ["labels": ["line": "7"]])
        try await Fixtures.device(s.client, tenant: s.tenant, id: "other", fields: ["labels": ["line": "8"]])
        try await s.write([(Self.t0, 60)], device: "other")
        try await s.write([(Self.t0, 60)], device: "late-1")
        let event = try await s.receiver.wait(s.hook, count: 1)[0].json
        #expect(event["device"] as? String == "late-1")
        try await s.settle()
        #expect(s.receiver.received(s.hook).count == 1)
    }

    @Test("relabelling a device, or changing a rule, takes effect on the next points (the matches kept across rounds follow)")
    func matchesFollowChanges() async throws {
        let s = try await Setup.make()
        let rule = try await s.rule([
            "selector": ["labels": ["line": "9"]], "sensor": "temp",
            "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
        // d1 is on line 3: its points are evaluated against nothing, and that is remembered.
        try await s.write([(Self.t0, 60)])
        try await s.evaluated()
        #expect(s.receiver.received(s.hook).isEmpty)
        let moved = try await s.client.patch(s.base + "/devices/d1", token: s.admin, json: ["labels": ["line": "9"]])
        #expect(moved.status == 200)
        try await s.write([(Self.t0 + 1, 61)])
        let fired = try await s.receiver.wait(s.hook, count: 1)[0].json
        #expect(fired["value"] as? Double == 61)
        // Raising the rule's threshold (a new version of it) applies to the next point.
        let changed = try await s.client.patch(
            s.base + "/alert-rules/\(rule)", token: s.admin,
            json: ["condition": ["type": "threshold", "operator": "above", "value": 70]])
        #expect(changed.status == 200)
        // (The change resolved the firing alert; the old threshold would raise another.)
        try await s.write([(Self.t0 + 2, 65)])
        try await s.settle()
        #expect(try await s.alerts().map { $0["state"] as? String } == ["resolved"])
        try await s.write([(Self.t0 + 3, 75)])
        try await s.receiver.wait(s.hook, count: 2)
        #expect(try await s.alerts("?state=firing").first?["value"] as? Double == 75)
    }

    @Test("another tenant's rule on the same labels and sensor key never sees this tenant's points")
    func rulesStayInTheirTenant() async throws {
        let mine = try await Setup.make()
        let other = try await Setup.make()
        for s in [mine, other] {
            try await s.rule([
                "selector": ["labels": ["line": "3"]], "sensor": "temp",
                "condition": ["type": "threshold", "operator": "above", "value": s.tenant == mine.tenant ? 50 : 90],
            ])
        }
        // Both tenants' d1 are on line 3; only the other tenant's point is above its own 90.
        try await mine.write([(Self.t0, 95)])
        try await other.write([(Self.t0, 60)])
        try await mine.evaluated()
        try await other.evaluated()
        let fired = try await mine.receiver.wait(mine.hook, count: 1)[0].json
        #expect(fired["tenant"] as? String == mine.tenant)
        #expect(fired["value"] as? Double == 95)
        try await mine.settle()
        #expect(mine.receiver.received(mine.hook).count == 1)
        #expect(other.receiver.received(other.hook).isEmpty)
        #expect(try await other.alerts().isEmpty)
    }

    @Test("a firing alert resolves, unnotified, when its device leaves the selector, or it or its sensor is deleted")
    func orphanedAlertsResolve() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "selector": ["labels": ["line": "3"]], "sensor": "temp",
            "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
        for device in ["d2", "d3"] {
            try await Fixtures.device(s.client, tenant: s.tenant, id: device, fields: ["labels": ["line": "3"]])
            let sensor = try await s.client.post(
                s.base + "/devices/\(device)/sensors", token: s.admin, json: ["key": "temp", "kind": "number"])
            #expect(sensor.status == 201)
        }
        for device in ["d1", "d2", "d3"] { try await s.write([(Self.t0, 60)], device: device) }
        try await s.receiver.wait(s.hook, count: 3)
        #expect(try await s.alerts("?state=firing").count == 3)

        let moved = try await s.client.patch(s.base + "/devices/d1", token: s.admin, json: ["labels": ["line": "4"]])
        #expect(moved.status == 200)
        #expect(try await s.client.delete(s.base + "/devices/d2", token: s.admin).status == 204)
        #expect(try await s.client.delete(s.base + "/devices/d3/sensors/temp", token: s.admin).status == 204)
        var reasons: [String: String] = [:]
        for _ in 0..<50 where reasons.count < 3 {
            try await Task.sleep(for: .milliseconds(200))
            for alert in try await s.alerts("?state=resolved") {
                let detail = try await s.client.get(s.base + "/alerts/\(alert["id"] as? Int ?? 0)", token: s.admin)
                let last = (detail.json["transitions"] as? [[String: Any]])?.last
                reasons[alert["device"] as? String ?? ""] = last?["reason"] as? String
            }
        }
        #expect(reasons == ["d1": "device_relabelled", "d2": "device_deleted", "d3": "sensor_deleted"])
        #expect(try await s.alerts("?state=firing").isEmpty)
        #expect(s.receiver.received(s.hook).count == 3)

        // Back on the selector, d1 starts afresh: its next hot point fires a new alert.
        let back = try await s.client.patch(s.base + "/devices/d1", token: s.admin, json: ["labels": ["line": "3"]])
        #expect(back.status == 200)
        try await s.write([(Self.t0 + 1, 61)])
        let fired = try await s.receiver.wait(s.hook, count: 4)[3].json
        #expect(fired["device"] as? String == "d1")
        #expect(fired["value"] as? Double == 61)
    }

    @Test("a refused batch raises nothing: only committed points are evaluated")
    func refusedBatchRaisesNothing() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "device": "d1", "sensor": "temp", "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
        let refused = try await Metrics.write(
            s.client, s.tenant, token: s.admin,
            [
                ["device": "d1", "sensor": "temp", "time": RFC3339.format(Self.t0), "value": 99],
                ["device": "d1", "sensor": "temp", "time": "not a time", "value": 1],
            ])
        #expect(refused.status == 422 || refused.status == 400)
        try await s.settle()
        #expect(s.receiver.received(s.hook).isEmpty)
        #expect(try await s.alerts().isEmpty)
        try await s.write([(Self.t0 + 1, 98)])
        try await s.receiver.wait(s.hook, count: 1)
        #expect(try await s.alerts().count == 1)
    }

    @Test("integer points are evaluated with their values, and points of several requests in their time order")
    func integerPointsInOrder() async throws {
        let s = try await Setup.make()
        let sensor = try await s.client.post(
            s.base + "/devices/d1/sensors", token: s.admin, json: ["key": "parts", "kind": "integer"])
        #expect(sensor.status == 201)
        try await s.rule([
            "device": "d1", "sensor": "parts", "condition": ["type": "threshold", "operator": "above", "value": 100],
        ])
        // Two requests in flight together, the later point first: one round may take both.
        async let later = Metrics.write(
            s.client, s.tenant, token: s.admin,
            [["device": "d1", "sensor": "parts", "time": RFC3339.format(Self.t0 + 2), "value": 90]])
        async let earlier = Metrics.write(
            s.client, s.tenant, token: s.admin,
            [["device": "d1", "sensor": "parts", "time": RFC3339.format(Self.t0 + 1), "value": 9_007_199_254]])
        #expect(try await [later.status, earlier.status] == [200, 200])
        try await s.evaluated()
        // Either one round took both (fired at +1, resolved at +2), or the later point was
        // evaluated first and the earlier one is late (nothing fired).
        let first = try await s.alerts()
        if let alert = first.first {
            #expect(first.count == 1)
            #expect(alert["value"] as? Double == 9_007_199_254)
            #expect(alert["started_at"] as? String == RFC3339.format(Self.t0 + 1))
            #expect(alert["state"] as? String == "resolved")
        }
        try await s.write([(Self.t0 + 3, 101)], sensor: "parts")
        try await s.receiver.wait(s.hook, count: first.isEmpty ? 1 : 3)
        let firing = try await s.alerts("?state=firing")
        #expect(firing.count == 1)
        #expect(firing.first?["value"] as? Double == 101)
    }

    @Test("a commit row without its points (from a replica before migration 0012) is evaluated from the point tables")
    func commitRowWithoutPoints() async throws {
        let s = try await Setup.make()
        try await s.rule([
            "device": "d1", "sensor": "temp", "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
        let tenant = s.tenant
        let time = Int64(Self.t0.timeIntervalSince1970 + 5) * 1_000_000
        try await Metrics.asOwner { db in
            try db.transaction {
                _ = try db.query("SELECT set_config('millwright.tenant_id', \(tenant), true)")
                let sensor = try db.query(
                    """
                    SELECT sensor_id FROM millwright.sensors WHERE tenant_id = \(tenant) AND device_id = 'd1' AND key = 'temp'
                    """
                ).first!.decode(0, as: Int64.self)
                _ = try db.query(
                    """
                    INSERT INTO millwright_metrics.number_points (tenant_id, sensor_id, time, value)
                    VALUES (\(tenant), \(sensor), timestamptz 'epoch' + \(time) * interval '1 microsecond', 61.25)
                    """)
                _ = try db.query(
                    """
                    INSERT INTO millwright_metrics.point_commits (tenant_id, sensor_ids, newest, oldest)
                    VALUES (\(tenant), ARRAY[\(sensor)]::bigint[], ARRAY[\(time)]::bigint[], \(time))
                    """)
            }
        }
        let fired = try await s.receiver.wait(s.hook, count: 1)[0].json
        #expect(fired["value"] as? Double == 61.25)
        #expect(fired["time"] as? String == RFC3339.format(unixMicros: time))
    }

    @Test("rules that cannot work are refused with 422 naming the field; the tenant's rule limit is 409")
    func ruleValidation() async throws {
        let s = try await Setup.make()
        _ = try await s.client.post(
            s.base + "/devices/d1/sensors", token: s.admin, json: ["key": "state", "kind": "string"])
        let threshold: [String: Any] = ["type": "threshold", "operator": "above", "value": 1]
        let cases: [([String: Any], String)] = [
            (["device": "d1", "sensor": "state", "condition": threshold], "/sensor"),
            (["device": "ghost", "sensor": "temp", "condition": threshold], "/device"),
            (["device": "d1", "sensor": "temp", "condition": threshold, "channels": [UUID().uuidString]], "/channels/0"),
            (
                [
                    "device": "d1", "sensor": "temp",
                    "condition": ["type": "threshold", "operator": "inside", "low": 5, "high": 1],
                ],
                "/condition/low"
            ),
            (
                [
                    "device": "d1", "sensor": "temp",
                    "condition": ["type": "threshold", "operator": "above", "value": 1, "for": "30d"],
                ],
                "/condition/for"
            ),
            (["device": "d1", "sensor": "temp", "condition": ["type": "anomaly", "window": "10s"]], "/condition/window"),
            (["device": "d1", "sensor": "temp", "condition": threshold, "repeat_every": "1s"], "/repeat_every"),
            (["sensor": "temp", "condition": threshold], "/device"),
            (["device": "d1", "condition": threshold], "/sensor"),
        ]
        for (body, pointer) in cases {
            var body = body
            body["name"] = "bad"
            let response = try await s.client.post(s.base + "/alert-rules", token: s.admin, json: body)
            #expect(response.status == 422, "\(pointer): \(response.raw.text)")
            #expect(response.errorPointers.contains(pointer), "\(pointer): \(response.raw.text)")
        }
        let limited = try await Fixtures.tenant(s.client, fields: ["alert_rule_limit": 1])
        let admin = try await Tokens.tenantAdmin(limited)
        try await Fixtures.device(s.client, tenant: limited, id: "d1")
        let rule: [String: Any] = ["name": "r", "device": "d1", "sensor": "temp", "condition": threshold]
        #expect(try await s.client.post("/api/v1/tenants/\(limited)/alert-rules", token: admin, json: rule).status == 201)
        let over = try await s.client.post("/api/v1/tenants/\(limited)/alert-rules", token: admin, json: rule)
        #expect(over.status == 409)
        #expect(over.code == "alert_rule_limit_reached")
    }

    @Test("rules: ETag, If-Match, merge patch, cursor pages; disabling resolves the rule's firing alerts")
    func ruleLifecycle() async throws {
        let s = try await Setup.make()
        let id = try await s.rule([
            "device": "d1", "sensor": "temp", "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
        let path = s.base + "/alert-rules/\(id)"
        let read = try await s.client.get(path, token: try await Tokens.viewer(s.tenant))
        #expect(read.status == 200)
        let etag = try #require(read.header("ETag"))
        let stale = try await s.client.patch(
            path, token: s.admin, json: ["name": "x"], headers: [("If-Match", "\"0000\"")])
        #expect(stale.status == 412)
        let patched = try await s.client.patch(
            path, token: s.admin, json: ["condition": ["value": 60], "severity": "info"], headers: [("If-Match", etag)])
        #expect(patched.status == 200)
        #expect((patched.json["condition"] as? [String: Any])?["value"] as? Double == 60)
        #expect(patched.json["severity"] as? String == "info")
        #expect(patched.json["version"] as? Int == 2)

        try await s.write([(Self.t0, 70)])
        try await s.receiver.wait(s.hook, count: 1)
        #expect(try await s.client.patch(path, token: s.admin, json: ["enabled": false]).status == 200)
        let alert = try #require(try await s.alerts().first)
        #expect(alert["state"] as? String == "resolved")
        let detail = try await s.client.get(s.base + "/alerts/\(alert["id"] as? Int ?? 0)", token: s.admin)
        #expect((detail.json["transitions"] as? [[String: Any]])?.last?["reason"] as? String == "rule_disabled")

        for n in 0..<3 {
            _ = try await s.rule([
                "name": "r\(n)", "device": "d1", "sensor": "temp", "condition": ["type": "silence", "for": "1h"],
            ])
        }
        let first = try await s.client.get(s.base + "/alert-rules?limit=2", token: s.admin)
        let cursor = try #require(first.json["next_cursor"] as? String)
        let second = try await s.client.get(s.base + "/alert-rules?limit=2&cursor=\(cursor)", token: s.admin)
        let ids = (first.items + second.items).compactMap { $0["id"] as? String }
        #expect(Set(ids).count == 4)
        #expect(try await s.client.delete(path, token: s.admin).status == 204)
        #expect(try await s.client.get(path, token: s.admin).status == 404)
    }

    @Test("acknowledging records who and when, once")
    func acknowledge() async throws {
        let s = try await Setup.make()
        try await s.rule(["device": "d1", "sensor": "temp", "condition": ["type": "threshold", "operator": "above", "value": 1]])
        try await s.write([(Self.t0, 2)])
        try await s.receiver.wait(s.hook, count: 1)
        let id = try #require(try await s.alerts().first?["id"] as? Int)
        let viewer = try await Tokens.viewer(s.tenant)
        let first = try await s.client.post(s.base + "/alerts/\(id)/acknowledge", token: viewer, json: [:] as [String: Any])
        #expect(first.status == 200)
        let by = try #require(first.json["acknowledged_by"] as? String)
        let at = try #require(first.json["acknowledged_at"] as? String)
        let again = try await s.client.post(s.base + "/alerts/\(id)/acknowledge", token: s.admin, json: [:] as [String: Any])
        #expect(again.json["acknowledged_by"] as? String == by)
        #expect(again.json["acknowledged_at"] as? String == at)
        #expect(
            try await s.client.post(s.base + "/alerts/999999999/acknowledge", token: s.admin, json: [:] as [String: Any]).status
                == 404)
    }
}
