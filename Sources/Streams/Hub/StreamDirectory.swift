import JSONText
import Postgres
import Tenancy

/// What a stream's selection is checked against: the tenant and its devices.
enum StreamDirectory {
    /// Refuses a tenant that does not exist, or is suspended (unless `mayActWhenSuspended`).
    static func admit(_ tenant: TenantID, mayActWhenSuspended: Bool, on connection: PostgresConnection) throws {
        let status = try connection.query(
            "SELECT status FROM millwright.tenants WHERE id = \(tenant.rawValue)"
        ).first?.decode(0, as: String.self)
        guard let status else { throw StreamRefusal.unknownTenant(tenant) }
        if status != "active", !mayActWhenSuspended { throw StreamRefusal.suspended(tenant) }
    }

    static func admit(_ tenant: TenantID, mayActWhenSuspended: Bool, pool: PostgresPool) async throws {
        try await pool.withTransaction(prologue: [TenantDatabase.scope(tenant)]) { connection, _ in
            try admit(tenant, mayActWhenSuspended: mayActWhenSuspended, on: connection)
        }
    }

    /// Of `devices` (nil: all of the tenant's), those whose labels hold every pair of
    /// `labels`.
    static func devices(
        in tenant: TenantID, among devices: Set<String>?, labelled labels: [String: String], pool: PostgresPool
    ) async throws -> Set<String> {
        let wanted = JSONLabels.object(labels)
        return try await pool.read(
            [
                TenantDatabase.scope(tenant),
                """
                SELECT id FROM millwright.devices
                WHERE tenant_id = \(tenant.rawValue) AND labels @> \(wanted)::jsonb
                  AND (\(devices == nil) OR id = ANY(\(PostgresTextArray((devices ?? []).sorted()))::text[]))
                """,
            ]
        ) { results in Set(try results[1].rows.map { try $0.decode(0, as: String.self) }) }
    }

    /// Those of `devices` that do not exist in the tenant.
    static func missing(_ devices: Set<String>, in tenant: TenantID, pool: PostgresPool) async throws -> Set<String> {
        let existing = try await pool.read(
            [
                TenantDatabase.scope(tenant),
                """
                SELECT id FROM millwright.devices
                WHERE tenant_id = \(tenant.rawValue) AND id = ANY(\(PostgresTextArray(devices.sorted()))::text[])
                """,
            ]
        ) { results in Set(try results[1].rows.map { try $0.decode(0, as: String.self) }) }
        return devices.subtracting(existing)
    }
}

/// A label selector as a jsonb object literal for `@>`.
enum JSONLabels {
    static func object(_ labels: [String: String]) -> String {
        var w = JSONWriter(capacity: 64)
        w.beginObject()
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            w.key(key)
            w.string(value)
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
