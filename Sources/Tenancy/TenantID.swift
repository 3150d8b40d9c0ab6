import InputParsing

/// A tenant's id: a slug `^[a-z0-9][a-z0-9-]{1,62}$` (a Keycloak realm name or
/// organization alias). Constructing one validates it.
public struct TenantID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init?(_ rawValue: some StringProtocol) {
        guard Identifier.isValid(String(rawValue), as: .tenant) else { return nil }
        self.rawValue = String(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: TenantID, rhs: TenantID) -> Bool { lhs.rawValue < rhs.rawValue }
}
