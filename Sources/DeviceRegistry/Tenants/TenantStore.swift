import Foundation
import Postgres
import Tenancy

/// Tenants in the database. Each function runs inside a transaction the caller opened
/// (platform-scoped to create, list, change or delete; tenant-scoped to read one's own).
enum TenantStore {
    static func create(_ id: TenantID, _ fields: TenantFields, on db: PostgresConnection) throws -> Tenant {
        do {
            let result = try db.query(
                """
                INSERT INTO millwright.tenants (id, name, status, device_limit, retention_days, sensor_limit_per_device,
                                                alert_rule_limit)
                VALUES (\(id.rawValue), \(fields.name), \(fields.status.rawValue), \(fields.deviceLimit),
                        \(fields.retentionDays), \(fields.sensorLimitPerDevice), \(fields.alertRuleLimit))
                RETURNING \(unsafeSQL: Tenant.columns)
                """)
            return try Tenant(row: result.first!)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw RegistryError(.alreadyExists, "tenant \(id) already exists")
        }
    }

    /// The tenant; `forUpdate` locks its row until the transaction ends (for a
    /// conditional update).
    static func find(_ id: TenantID, on db: PostgresConnection, forUpdate: Bool = false) throws -> Tenant? {
        var query = findQuery(id)
        if forUpdate { query.sql += " FOR UPDATE" }
        return try tenant(from: db.query(query))
    }

    /// The statement `find` runs, for pipelining with others.
    static func findQuery(_ id: TenantID) -> PostgresQuery {
        "SELECT \(unsafeSQL: Tenant.columns) FROM millwright.tenants WHERE id = \(id.rawValue)"
    }

    static func tenant(from result: PostgresResult) throws -> Tenant? {
        try result.first.map(Tenant.init(row:))
    }

    /// Tenants ordered by id, after `cursor` (an id), at most `limit`.
    static func list(after cursor: String?, limit: Int, on db: PostgresConnection) throws -> [Tenant] {
        try db.query(
            """
            SELECT \(unsafeSQL: Tenant.columns) FROM millwright.tenants
            WHERE \(cursor)::text IS NULL OR id > \(cursor) ORDER BY id LIMIT \(limit)
            """
        ).rows.map(Tenant.init(row:))
    }

    static func update(_ id: TenantID, _ fields: TenantFields, on db: PostgresConnection) throws -> Tenant {
        let result = try db.query(
            """
            UPDATE millwright.tenants SET name = \(fields.name), status = \(fields.status.rawValue),
                device_limit = \(fields.deviceLimit), retention_days = \(fields.retentionDays),
                sensor_limit_per_device = \(fields.sensorLimitPerDevice), alert_rule_limit = \(fields.alertRuleLimit),
                updated_at = now(), version = version + 1
            WHERE id = \(id.rawValue)
            RETURNING \(unsafeSQL: Tenant.columns)
            """)
        guard let row = result.first else { throw RegistryError(.notFound, "no tenant \(id)") }
        return try Tenant(row: row)
    }

    /// Deletes the tenant and, by cascade, everything it owns.
    static func delete(_ id: TenantID, on db: PostgresConnection) throws {
        let result = try db.query("DELETE FROM millwright.tenants WHERE id = \(id.rawValue)")
        guard result.affectedRows == 1 else { throw RegistryError(.notFound, "no tenant \(id)") }
    }
}
