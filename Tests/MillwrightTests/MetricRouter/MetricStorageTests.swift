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

    @Test("Maintenance enforces each tenant's retention_days and, on pg_partman, keeps partitions made ahead")
    func maintenance() async throws {
        let client = try await TestClient.make()
        let short = try await Fixtures.tenant(client, fields: ["retention_days": 30])
        let long = try await Fixtures.tenant(client, fields: ["retention_days": 30])
        let old = Int(Date().timeIntervalSince1970) - 20 * 86_400
        for t in [short, long] {
            try await Fixtures.device(client, tenant: t, id: "d1")
            let lines = "m,device=d1 v=1 \(old)\nm,device=d1 v=2"
            #expect(
                try await Metrics.lines(client, t, token: try await Tokens.writer(t), lines, query: "?precision=s").status == 204)
        }
        let patched = try await client.patch(
            "/api/v1/tenants/\(short)", token: try await Tokens.platformAdmin(), json: ["retention_days": 10])
        #expect(patched.status == 200)
        // As the service runs it: the runtime role calls the function.
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.runtimeDatabaseURL, size: 1), logger: Logger(label: "test"))
        var deleted: Int64 = 0
        for _ in 0..<20 where deleted == 0 {  // another maintenance run may hold the lock for a moment
            deleted = try await pool.withConnection { db in
                try db.query("SELECT millwright.maintain_metric_storage()").first!.decode(0, as: Int64.self)
            }
            if deleted == 0 { try await Task.sleep(for: .milliseconds(200)) }
        }
        await pool.shutdown()
        #expect(deleted >= 1)
        #expect(try await Metrics.storedRows(short) == 1)
        #expect(try await Metrics.storedRows(long) == 2)
        let (engine, ahead) = try await Metrics.asOwner { db in
            let engine = try db.query("SELECT engine FROM millwright.metric_storage").first!.decode(0, as: String.self)
            let ahead = try db.query(
                """
                SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'millwright_metrics.number_points'::regclass
                  AND c.relname = 'number_points_p' || to_char(now() + interval '6 days', 'YYYY_MM_DD')
                """
            ).first!.decode(0, as: Int.self)
            return (engine, ahead)
        }
        if engine == "partman" { #expect(ahead == 1) }
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
