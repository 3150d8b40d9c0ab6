import Auth
import Postgres
import Tenancy

extension TenantDatabase {
    /// A tenant-scoped transaction for `context`: 404 when the tenant does not exist,
    /// 403 `tenant_suspended` when it is suspended (platform admins still pass). The
    /// status is read in the same round trip as `BEGIN`.
    public func withActiveTenant<T: Sendable>(
        _ context: TenantContext, _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withTenant(context.tenant, prologue: [Self.statusQuery(context.tenant)]) { db, results in
            try Self.checkStatus(results[0], context)
            return try body(db)
        }
    }

    /// A read-only request in one round trip: the tenant's status and `queries`,
    /// checked as `withActiveTenant` does; `body` gets the queries' results.
    public func readActiveTenant<T: Sendable>(
        _ context: TenantContext, _ queries: [PostgresQuery], _ body: @escaping @Sendable ([PostgresResult]) throws -> T
    ) async throws -> T {
        try await read(context.tenant, [Self.statusQuery(context.tenant)] + queries) { results in
            try Self.checkStatus(results[0], context)
            return try body(Array(results.dropFirst()))
        }
    }

    private static func statusQuery(_ tenant: TenantID) -> PostgresQuery {
        "SELECT status FROM millwright.tenants WHERE id = \(tenant.rawValue)"
    }

    private static func checkStatus(_ result: PostgresResult, _ context: TenantContext) throws {
        guard let row = result.first else { throw RegistryError(.notFound, "no tenant \(context.tenant)") }
        try Tenant.Status(stored: try row.decode(0)).admit(context)
    }
}
