import Foundation
import Logging
import Postgres
import Tenancy
import Testing

/// Row-level security holds in the database itself: handwritten SQL of the runtime
/// role, scoped to tenant A, cannot read, change or delete tenant B's rows.
@Suite("Row-level security")
struct RowLevelSecurityTests {
    func runtimePool() -> PostgresPool {
        PostgresPool(
            configuration: .init(connectionString: TestEnvironment.runtimeDatabaseURL, size: 2),
            logger: Logger(label: "test"))
    }

    @Test("A session scoped to tenant A cannot touch tenant B's registry rows")
    func isolation() async throws {
        let client = try await TestClient.make()
        let a = try await Fixtures.tenant(client)
        let b = try await Fixtures.tenant(client)
        try await Fixtures.device(client, tenant: a, id: "press-01")
        try await Fixtures.device(client, tenant: b, id: "press-01")
        let sensor = try await client.post(
            "/api/v1/tenants/\(b)/devices/press-01/sensors", token: try await Tokens.tenantAdmin(b),
            json: ["key": "temp", "kind": "number"])
        #expect(sensor.status == 201)
        let key = try await client.post(
            "/api/v1/tenants/\(b)/devices/press-01/keys", token: try await Tokens.tenantAdmin(b), json: [:] as [String: Any])
        #expect(key.status == 201)

        let pool = runtimePool()
        let database = TenantDatabase(pool: pool)
        let tenantA = try #require(TenantID(a))
        let counts = try await database.withTenant(tenantA) { db -> [String: Int] in
            var counts: [String: Int] = [:]
            for table in ["devices", "sensors", "device_keys"] {
                counts[table] = try db.query(
                    "SELECT count(*) FROM millwright.\(unsafeSQL: table) WHERE tenant_id = \(b)"
                ).first!.decode(0)
                counts["all " + table] = try db.query(
                    "SELECT count(*) FROM millwright.\(unsafeSQL: table) WHERE tenant_id <> \(a)"
                ).first!.decode(0)
            }
            counts["tenants"] = try db.query("SELECT count(*) FROM millwright.tenants WHERE id = \(b)").first!.decode(0)
            counts["device counts"] = try db.query("SELECT count(*) FROM millwright.tenant_device_counts WHERE tenant_id <> \(a)")
                .first!.decode(0)
            counts["updated"] = try db.query("UPDATE millwright.devices SET name = 'x' WHERE tenant_id = \(b)").affectedRows
            counts["deleted"] = try db.query("DELETE FROM millwright.devices WHERE tenant_id = \(b)").affectedRows
            counts["deleted keys"] = try db.query("DELETE FROM millwright.device_keys").affectedRows
            counts["own"] = try db.query("SELECT count(*) FROM millwright.devices").first!.decode(0)
            return counts
        }
        #expect(counts["devices"] == 0)
        #expect(counts["sensors"] == 0)
        #expect(counts["device_keys"] == 0)
        #expect(counts["all devices"] == 0)
        #expect(counts["all sensors"] == 0)
        #expect(counts["all device_keys"] == 0)
        #expect(counts["tenants"] == 0)
        #expect(counts["device counts"] == 0)
        #expect(counts["updated"] == 0)
        #expect(counts["deleted"] == 0)
        #expect(counts["deleted keys"] == 0)  // A has no keys; B's are invisible
        #expect(counts["own"] == 1)  // A's own device is visible

        // Inserting a row for B from A's session violates the policy.
        await #expect(throws: PostgresError.self) {
            try await database.withTenant(tenantA) { db in
                _ = try db.query("INSERT INTO millwright.devices (tenant_id, id) VALUES (\(b), 'intruder')")
            }
        }
        // Moving A's row into B is refused too.
        await #expect(throws: PostgresError.self) {
            try await database.withTenant(tenantA) { db in
                _ = try db.query("UPDATE millwright.devices SET tenant_id = \(b) WHERE id = 'press-01'")
            }
        }
        // A tenant session cannot change the tenants table, even its own row.
        let ownTenantUpdate = try await database.withTenant(tenantA) { db -> Bool in
            do {
                try db.query("UPDATE millwright.tenants SET device_limit = 999999 WHERE id = \(a)")
                return true
            } catch { return false }
        }
        #expect(!ownTenantUpdate)

        // With no tenant set at all, nothing is visible.
        let unscoped: Int = try await pool.withTransaction { db in
            try db.query("SELECT count(*) FROM millwright.devices").first!.decode(0)
        }
        #expect(unscoped == 0)

        // B's rows are all still there.
        let survivors: Int = try await database.withTenant(try #require(TenantID(b))) { db in
            try db.query(
                "SELECT (SELECT count(*) FROM millwright.devices) + (SELECT count(*) FROM millwright.sensors) + (SELECT count(*) FROM millwright.device_keys)"
            ).first!.decode(0)
        }
        #expect(survivors == 3)
        await pool.shutdown()
    }

    @Test("The runtime role owns nothing and cannot bypass row-level security")
    func runtimeRoleIsUnprivileged() async throws {
        _ = try await TestClient.make()  // migrations applied
        let pool = runtimePool()
        let flags: [Bool] = try await pool.withConnection { db in
            let row = try db.query(
                """
                SELECT r.rolsuper, r.rolbypassrls, n.nspowner = r.oid
                FROM pg_roles r, pg_namespace n WHERE r.rolname = current_user AND n.nspname = 'millwright'
                """
            ).first!
            return [try row.decode(0), try row.decode(1), try row.decode(2)]
        }
        #expect(flags == [false, false, false])
        await pool.shutdown()
    }
}
