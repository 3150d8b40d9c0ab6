import Auth
import DeviceRegistry
import Hummingbird
import Postgres
import Tenancy

/// Who may do what, decided before any database work.
///
/// Missing from another tenant looks exactly like missing: a principal outside the
/// tenant in the path gets 404, never 403. Inside it, too small a role is 403.
extension RequestState {
    /// The caller as a user; device keys are refused here (403).
    func user() throws(Problem) -> UserPrincipal {
        switch principal {
        case .user(let user): return user
        case .device, nil: throw Problem.forbidden("device keys may only write metrics")
        }
    }

    func requirePlatformAdmin() throws(Problem) {
        guard try user().isPlatformAdmin else { throw Problem.forbidden("this needs the platform-admin role") }
    }

    /// Platform-only operations on one tenant: outsiders get 404 (as if it did not
    /// exist), members 403.
    func requirePlatformAdminForTenant() throws(Problem) {
        if isPlatformAdmin { return }
        _ = try tenant(minimum: .platformAdmin)
    }

    /// The tenant in the path, if the caller may act in it with at least `minimum`.
    func tenant(minimum: Role) throws(Problem) -> TenantID {
        let raw = parameter("tenant")
        guard let tenant = TenantID(raw) else { throw Problem.notFound("no tenant \(raw)") }
        switch principal {
        case .device(let device):
            guard device.tenant == tenant.rawValue else { throw Problem.notFound("no tenant \(raw)") }
            throw Problem.forbidden("device keys may only write metrics")
        case .user(let user):
            guard user.isPlatformAdmin || user.tenants.contains(tenant.rawValue) else {
                throw Problem.notFound("no tenant \(raw)")
            }
            guard let role = user.role(in: tenant.rawValue), role >= minimum else {
                throw Problem.forbidden("this needs the \(minimum.rawValue) role")
            }
            return tenant
        case nil:
            throw Problem.forbidden("not authenticated")
        }
    }

    var isPlatformAdmin: Bool {
        if case .user(let user) = principal { return user.isPlatformAdmin }
        return false
    }
}

extension TenantDatabase {
    /// A tenant-scoped transaction for a request: 404 when the tenant does not exist,
    /// 403 `tenant_suspended` when it is suspended (platform admins still pass).
    func withActiveTenant<T: Sendable>(
        _ tenant: TenantID, state: RequestState, _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let platformAdmin = state.isPlatformAdmin
        return try await withTenant(tenant, prologue: [Self.statusQuery(tenant)]) { db, results in
            try Self.checkStatus(results[0], tenant: tenant, platformAdmin: platformAdmin)
            return try body(db)
        }
    }

    /// A read-only request in one round trip: the tenant's status and `queries`,
    /// checked as `withActiveTenant` does; `body` gets the queries' results.
    func readActiveTenant<T: Sendable>(
        _ tenant: TenantID, state: RequestState, _ queries: [PostgresQuery],
        _ body: @escaping @Sendable ([PostgresResult]) throws -> T
    ) async throws -> T {
        let platformAdmin = state.isPlatformAdmin
        return try await read(tenant, [Self.statusQuery(tenant)] + queries) { results in
            try Self.checkStatus(results[0], tenant: tenant, platformAdmin: platformAdmin)
            return try body(Array(results.dropFirst()))
        }
    }

    private static func statusQuery(_ tenant: TenantID) -> PostgresQuery {
        "SELECT status FROM millwright.tenants WHERE id = \(tenant.rawValue)"
    }

    private static func checkStatus(_ result: PostgresResult, tenant: TenantID, platformAdmin: Bool) throws {
        guard let row = result.first else { throw RegistryError(.notFound, "no tenant \(tenant)") }
        if Tenant.Status(rawValue: try row.decode(0, as: String.self)) != .active && !platformAdmin {
            throw RegistryError(.tenantSuspended, "tenant \(tenant) is suspended")
        }
    }
}
