import Foundation
import Logging
import Postgres
import Tenancy
import Testing

/// Tenant isolation of points in the database itself, deletion of points with their
/// sensor, device or tenant, device status from ingestion, and the storage engine.
@Suite("Metric storage")
struct MetricStorageTests {
    @Test("The runtime role cannot read the metric tables; the views show only the scoped tenant's points")
    func isolation() async throws {
        let client = try await TestClient.make()
        let a = try await Fixtures.tenant(client)
        let b = try await Fixtures.tenant(client)
        for t in [a, b] {
            try await Fixtures.device(client, tenant: t, id: "d1")
            let written = try await Metrics.lines(
                client, t, token: try await Tokens.writer(t), "m,device=d1 v=1,n=2i,ok=t,s=\"x\"")
            #expect(written.status == 204)
        }
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.runtimeDatabaseURL, size: 1), logger: Logger(label: "test"))
        let database = TenantDatabase(pool: pool)
        let tenantA = try #require(TenantID(a))
        for kind in ["number", "integer", "boolean", "string"] {
            let denied = await #expect(throws: PostgresError.self) {
                try await database.read(tenantA, ["SELECT count(*) FROM millwright_metrics.\(unsafeSQL: kind)_points"]) { _ in 0 }
            }
            #expect(denied?.sqlState == "42501")  // insufficient_privilege
            // Handwritten SQL that forgets the tenant still sees only tenant A's row.
            let visible = try await database.read(tenantA, ["SELECT count(*) FROM millwright.\(unsafeSQL: kind)_points"]) {
                try $0[0].first!.decode(0, as: Int.self)
            }
            #expect(visible == 1)
        }
        // Without a tenant scope, the views show nothing at all.
        let unscoped = try await pool.read(["SELECT count(*) FROM millwright.number_points"]) {
            try $0[0].first!.decode(0, as: Int.self)
        }
        #expect(unscoped == 0)
        await pool.shutdown()
    }

    @Test("Deleting a sensor, a device or a tenant deletes its points")
    func deletion() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        try await Fixtures.device(client, tenant: t, id: "d2")
        let lines = "m,device=d1 a=1,b=2i\nm,device=d2 a=1,b=true"
        #expect(try await Metrics.lines(client, t, token: admin, lines).status == 204)
        #expect(try await Metrics.storedRows(t) == 4)
        #expect(try await client.delete("/api/v1/tenants/\(t)/devices/d1/sensors/m.a", token: admin).status == 204)
        #expect(try await Metrics.storedRows(t) == 3)
        #expect(try await client.delete("/api/v1/tenants/\(t)/devices/d1", token: admin).status == 204)
        #expect(try await Metrics.storedRows(t) == 2)
        #expect(try await client.delete("/api/v1/tenants/\(t)", token: try await Tokens.platformAdmin()).status == 204)
        #expect(try await Metrics.storedRows(t) == 0)
    }

    @Test("Ingestion keeps last_seen_at and the device status; the status filter works")
    func deviceStatus() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "seen")
        try await Fixtures.device(client, tenant: t, id: "quiet")
        #expect(try await Metrics.lines(client, t, token: admin, "m,device=seen v=1").status == 204)
        var status: String?
        for _ in 0..<30 where status != "online" {  // written within a second, coalesced
            try await Task.sleep(for: .milliseconds(200))
            status = try await client.get("/api/v1/tenants/\(t)/devices/seen", token: admin).json["status"] as? String
        }
        #expect(status == "online")
        let online = try await client.get("/api/v1/tenants/\(t)/devices?status=online", token: admin)
        #expect(online.items.map { $0["id"] as? String } == ["seen"])
        let never = try await client.get("/api/v1/tenants/\(t)/devices?status=never_seen", token: admin)
        #expect(never.items.map { $0["id"] as? String } == ["quiet"])
    }

    @Test("/readyz names the storage engine the database has")
    func readiness() async throws {
        let client = try await TestClient.make()
        let ready = try await client.get("/readyz", token: nil)
        let engine = try await Metrics.asOwner { db in
            try db.query("SELECT engine FROM millwright.metric_storage").first!.decode(0, as: String.self)
        }
        let timescale = try await Metrics.asOwner { db in
            try db.query("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").first!.decode(0, as: Int.self)
        }
        #expect(ready.json["storage"] as? String == engine)
        #expect(engine == (timescale == 1 ? "timescaledb" : "partman"))
    }
}
