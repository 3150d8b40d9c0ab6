import Tenancy

/// Who acts in which tenant, decided once per request (by the API's router, from the
/// route's `TenantRequirement`) and handed to every operation that touches the
/// tenant's data. Nothing below the router looks at a principal's tenants again.
public struct TenantContext: Sendable, Equatable {
    public let tenant: TenantID
    public let principal: Principal
    /// The role the principal acts with here: a user's highest role (platform-admin for
    /// platform admins), `metrics-writer` for a device key.
    public let role: Role
    /// Platform admins may still act in a suspended tenant.
    public var isPlatformAdmin: Bool { role == .platformAdmin }
    /// A device key acts for its own device only.
    public var onlyDevice: String? {
        if case .device(let device) = principal { return device.deviceID }
        return nil
    }

    /// A context as the router decides it; tests of the layers below build their own.
    public init(tenant: TenantID, principal: Principal, role: Role) {
        self.tenant = tenant
        self.principal = principal
        self.role = role
    }
}

/// What a tenant-scoped route asks of its caller.
public enum TenantRequirement: Sendable, Equatable {
    /// A user of the tenant with at least this role; device keys are refused (403).
    case member(Role)
    /// Metrics may be written: a user with metrics-writer or more, or a device key of
    /// the tenant (its own device's points only).
    case metricsWriter
    /// A platform admin; members of the tenant get 403, everyone else 404.
    case platformAdmin
}

/// Why a principal may not act in a tenant. Outside the tenant it is `notFound`
/// (another tenant's existence is not disclosed), inside with too small a role `forbidden`.
public struct AccessDenied: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case notFound
        case forbidden
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

extension Principal {
    /// The user, if a platform admin: platform operations outside any tenant (creating
    /// and listing tenants). Device keys and other users are refused (403).
    public func platformAdmin() throws(AccessDenied) -> UserPrincipal {
        guard case .user(let user) = self else { throw AccessDenied(.forbidden, "device keys may only write metrics") }
        guard user.isPlatformAdmin else { throw AccessDenied(.forbidden, "this needs the platform-admin role") }
        return user
    }

    /// The context in which this principal acts in the tenant named `raw` (a path
    /// segment or the InfluxDB `org`), if `requirement` lets it.
    public func access(to raw: String, requiring requirement: TenantRequirement) throws(AccessDenied) -> TenantContext {
        let missing = AccessDenied(.notFound, "no tenant \(raw)")
        guard let tenant = TenantID(raw) else { throw missing }
        switch self {
        case .device(let device):
            guard device.tenant == tenant else { throw missing }
            guard requirement == .metricsWriter else {
                throw AccessDenied(.forbidden, "device keys may only write metrics")
            }
            return TenantContext(tenant: tenant, principal: self, role: .metricsWriter)
        case .user(let user):
            guard user.isPlatformAdmin || user.tenants.contains(tenant) else { throw missing }
            let minimum: Role =
                switch requirement {
                case .member(let role): role
                case .metricsWriter: .metricsWriter
                case .platformAdmin: .platformAdmin
                }
            // A member without any Millwright role is refused as too small a role.
            guard let role = user.role(in: tenant), role >= minimum else {
                throw AccessDenied(.forbidden, "this needs the \(minimum.rawValue) role")
            }
            return TenantContext(tenant: tenant, principal: self, role: role)
        }
    }
}
