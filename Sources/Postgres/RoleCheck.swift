/// The database roles the service runs as: what the runtime role may do, and granting
/// it exactly what it needs (`millwright.grant_runtime_privileges`, kept by the
/// migrations).
public struct RoleCheck: Sendable, Equatable {
    public var superuser: Bool
    public var bypassesRowSecurity: Bool
    /// Whether the role owns the schema (then row-level security binds it only if forced).
    public var ownsSchema: Bool

    /// A role for which row-level security does not keep tenants apart.
    public var isPrivileged: Bool { superuser || bypassesRowSecurity || ownsSchema }

    /// The connection's own role; nil if the catalog does not know it.
    public static func current(on connection: PostgresConnection, schema: String) throws -> RoleCheck? {
        try connection.query(
            """
            SELECT r.rolsuper, r.rolbypassrls,
                   coalesce((SELECT nspowner = r.oid FROM pg_namespace WHERE nspname = \(schema)), false)
            FROM pg_roles r WHERE r.rolname = current_user
            """
        ).first.map {
            RoleCheck(
                superuser: try $0.decode(0), bypassesRowSecurity: try $0.decode(1), ownsSchema: try $0.decode(2))
        }
    }

    /// Grants `role` the runtime privileges, as the schema owner.
    public static func grantRuntimePrivileges(to role: String, on connection: PostgresConnection) throws {
        try connection.query("SELECT millwright.grant_runtime_privileges(\(role))")
    }
}
