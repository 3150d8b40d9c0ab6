import Tenancy

/// A role Millwright grants; anything else in a token is ignored.
public enum Role: String, Sendable, CaseIterable, Comparable {
    case viewer
    case metricsWriter = "metrics-writer"
    case tenantAdmin = "tenant-admin"
    case platformAdmin = "platform-admin"

    var rank: Int {
        switch self {
        case .viewer: 0
        case .metricsWriter: 1
        case .tenantAdmin: 2
        case .platformAdmin: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Who is calling, as proven by a verified credential.
public enum Principal: Sendable, Equatable {
    /// A person or service account with a token from a trusted issuer.
    case user(UserPrincipal)
    /// A device with one of its keys.
    case device(DevicePrincipal)

    /// `user` or `device`, for logs.
    public var kind: String {
        switch self {
        case .user: "user"
        case .device: "device"
        }
    }

    /// The subject (`sub`) of a user, or `tenant/device` of a device, for logs.
    public var subject: String {
        switch self {
        case .user(let user): user.subject
        case .device(let device): "\(device.tenant)/\(device.deviceID)"
        }
    }
}

public struct UserPrincipal: Sendable, Equatable {
    public var issuer: String
    public var subject: String
    public var username: String?
    /// Millwright roles the token grants.
    public var roles: Set<Role>
    /// Tenants named by the tenant claim (names that cannot be a tenant id are dropped
    /// when the token is read: no tenant can have them).
    public var tenants: Set<TenantID>
    /// The token's `exp` (seconds since the epoch): a live stream opened with it ends then.
    public var expiresAt: Double?

    public init(
        issuer: String, subject: String, username: String?, roles: Set<Role>, tenants: Set<TenantID>,
        expiresAt: Double? = nil
    ) {
        self.issuer = issuer
        self.subject = subject
        self.username = username
        self.roles = roles
        self.tenants = tenants
        self.expiresAt = expiresAt
    }

    public var isPlatformAdmin: Bool { roles.contains(.platformAdmin) }

    /// The highest role this user holds inside `tenant`, or nil when it may not act there.
    public func role(in tenant: TenantID) -> Role? {
        if isPlatformAdmin { return .platformAdmin }
        guard tenants.contains(tenant) else { return nil }
        return roles.max()
    }
}

public struct DevicePrincipal: Sendable, Equatable {
    public var tenant: TenantID
    public var deviceID: String
    public var keyID: String

    public init(tenant: TenantID, deviceID: String, keyID: String) {
        self.tenant = tenant
        self.deviceID = deviceID
        self.keyID = keyID
    }
}
