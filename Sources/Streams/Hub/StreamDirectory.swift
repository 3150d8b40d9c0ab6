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

    /// Checks a stream's tenant and selection in one read: refuses a tenant that does
    /// not exist or is suspended (unless `mayActWhenSuspended`) and named devices that do
    /// not exist; returns the devices the selection streams (nil: every device).
    static func check(
        _ tenant: TenantID, mayActWhenSuspended: Bool, devices named: Set<String>?, labels: [String: String]?,
        pool: PostgresPool
    ) async throws -> Set<String>? {
        var queries: [PostgresQuery] = [
            TenantDatabase.scope(tenant), "SELECT status FROM millwright.tenants WHERE id = \(tenant.rawValue)",
        ]
        if let named { queries.append(existing(named, in: tenant)) }
        if let labels { queries.append(labelled(labels, among: named, in: tenant)) }
        let last = queries.count - 1
        let (status, existing, matching) = try await pool.read(queries) { results in
            (
                try results[1].first?.decode(0, as: String.self),
                named == nil ? nil : try ids(results[2]),
                labels == nil ? nil : try ids(results[last])
            )
        }
        guard let status else { throw StreamRefusal.unknownTenant(tenant) }
        if status != "active", !mayActWhenSuspended { throw StreamRefusal.suspended(tenant) }
        if let named, let existing, let unknown = named.subtracting(existing).min() {
            throw StreamRefusal.unknownDevice(unknown)
        }
        return matching ?? named
    }

    /// Of `devices` (nil: all of the tenant's), those whose labels hold every pair of
    /// `labels`.
    static func devices(
        in tenant: TenantID, among devices: Set<String>?, labelled labels: [String: String], pool: PostgresPool
    ) async throws -> Set<String> {
        try await pool.read([TenantDatabase.scope(tenant), labelled(labels, among: devices, in: tenant)]) { results in
            try ids(results[1])
        }
    }

    private static func labelled(_ labels: [String: String], among devices: Set<String>?, in tenant: TenantID) -> PostgresQuery {
        """
        SELECT id FROM millwright.devices
        WHERE tenant_id = \(tenant.rawValue) AND labels @> \(JSONLabels.object(labels))::jsonb
          AND (\(devices == nil) OR id = ANY(\(PostgresTextArray((devices ?? []).sorted()))::text[]))
        """
    }

    private static func existing(_ devices: Set<String>, in tenant: TenantID) -> PostgresQuery {
        """
        SELECT id FROM millwright.devices
        WHERE tenant_id = \(tenant.rawValue) AND id = ANY(\(PostgresTextArray(devices.sorted()))::text[])
        """
    }

    private static func ids(_ result: PostgresResult) throws -> Set<String> {
        Set(try result.rows.map { try $0.decode(0, as: String.self) })
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
