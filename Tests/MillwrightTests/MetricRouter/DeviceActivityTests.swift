import Foundation
import Postgres
import Testing

/// `last_seen_at` is written once a second, one tenant after another: a tenant whose
/// devices another transaction holds locked must not hold up the others.
@Suite("Device activity")
struct DeviceActivityTests {
    @Test("One tenant's devices locked by a long transaction do not delay another tenant's last_seen_at")
    func lockedTenantDoesNotDelayOthers() async throws {
        let client = try await TestClient.make()
        let locked = try await Fixtures.tenant(client)
        let other = try await Fixtures.tenant(client)
        for t in [locked, other] { try await Fixtures.device(client, tenant: t, id: "d1") }
        let lockedAdmin = try await Tokens.tenantAdmin(locked)
        let otherAdmin = try await Tokens.tenantAdmin(other)
        // Sensors made beforehand: creating one locks its device's row, which is the
        // tenant's own wait, not what this test is about.
        for (t, token) in [(locked, lockedAdmin), (other, otherAdmin)] {
            let sensor = ["key": "m.v", "kind": "number"]
            #expect(try await client.post("/api/v1/tenants/\(t)/devices/d1/sensors", token: token, json: sensor).status == 201)
        }

        // A transaction holds the locked tenant's device row for 8 s (as a long delete would).
        let holder = Task {
            try await Metrics.asOwner { db in
                _ = try db.query("SELECT set_config('millwright.tenant_id', \(locked), false)")
                _ = try db.execute(
                    unsafeSQL: "BEGIN; SELECT 1 FROM millwright.devices WHERE id = 'd1' FOR UPDATE; SELECT pg_sleep(8); COMMIT")
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(try await Metrics.lines(client, locked, token: lockedAdmin, "m,device=d1 v=1").status == 204)
        // Let a round start on the locked tenant, then write the other one.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await Metrics.lines(client, other, token: otherAdmin, "m,device=d1 v=1").status == 204)
        var seen = false
        while !seen, ContinuousClock.now - started < .seconds(6) {
            try await Task.sleep(for: .milliseconds(200))
            seen = try await client.get("/api/v1/tenants/\(other)/devices/d1", token: otherAdmin).json["last_seen_at"] is String
        }
        #expect(seen, "the other tenant's last_seen_at waited for the locked tenant's devices")
        try await holder.value
        // The locked tenant's update was kept for a later round, not dropped.
        var lockedSeen = false
        for _ in 0..<30 where !lockedSeen {
            try await Task.sleep(for: .milliseconds(200))
            lockedSeen =
                try await client.get("/api/v1/tenants/\(locked)/devices/d1", token: lockedAdmin).json["last_seen_at"] is String
        }
        #expect(lockedSeen, "the locked tenant's last_seen_at was dropped")
    }
}
