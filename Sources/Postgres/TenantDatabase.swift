import Tenancy

/// The database as the service sees it: every transaction is scoped either to one
/// tenant or to the platform, and row-level security in PostgreSQL holds it there.
///
/// A tenant-scoped transaction sets `millwright.tenant_id` (transaction-local), which
/// every registry table's policy compares with its `tenant_id`. So a handler that
/// forgets a `tenant_id` filter still cannot see another tenant's rows.
///
/// Start: `TenantDatabase(pool:)`; shut down: shut the pool down.
public struct TenantDatabase: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Runs `body` in a transaction that can see only `tenant`'s rows.
    public func withTenant<T: Sendable>(
        _ tenant: TenantID, _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await pool.withTransaction(prologue: [Self.scope(tenant)]) { connection, _ in
            try body(connection)
        }
    }

    /// Like `withTenant`, with `prologue` sent with `BEGIN` and the scope in one round
    /// trip; `body` gets the prologue's results.
    public func withTenant<T: Sendable>(
        _ tenant: TenantID, prologue: [PostgresQuery],
        _ body: @escaping @Sendable (PostgresConnection, [PostgresResult]) throws -> T
    ) async throws -> T {
        try await pool.withTransaction(prologue: [Self.scope(tenant)] + prologue) { connection, results in
            try body(connection, Array(results.dropFirst()))
        }
    }

    /// Runs `queries` in one read-only transaction scoped to `tenant`, in a single
    /// round trip, and lets `body` read their results.
    public func read<T: Sendable>(
        _ tenant: TenantID, _ queries: [PostgresQuery], _ body: @escaping @Sendable ([PostgresResult]) throws -> T
    ) async throws -> T {
        try await pool.read([Self.scope(tenant)] + queries) { results in try body(Array(results.dropFirst())) }
    }

    /// The statement that scopes a transaction to a tenant.
    public static func scope(_ tenant: TenantID) -> PostgresQuery {
        "SELECT set_config('millwright.tenant_id', \(tenant.rawValue), true)"
    }

    /// Runs `body` in a transaction that may manage tenants themselves (not their devices).
    public func withPlatform<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await pool.withTransaction(prologue: ["SELECT set_config('millwright.platform', 'on', true)"]) { connection, _ in
            try body(connection)
        }
    }
}
