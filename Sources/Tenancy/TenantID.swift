/// A tenant's id: a slug `^[a-z0-9][a-z0-9-]{1,62}$` (a Keycloak realm name or
/// organization alias). Constructing one validates it.
public struct TenantID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init?(_ rawValue: some StringProtocol) {
        let bytes = Array(rawValue.utf8)
        guard (2...63).contains(bytes.count), Self.isLowerAlnum(bytes[0]),
            bytes.dropFirst().allSatisfy({ Self.isLowerAlnum($0) || $0 == UInt8(ascii: "-") })
        else { return nil }
        self.rawValue = String(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: TenantID, rhs: TenantID) -> Bool { lhs.rawValue < rhs.rawValue }

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
