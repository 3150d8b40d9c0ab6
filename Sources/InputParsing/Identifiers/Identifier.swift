/// Checks of the ids in paths and bodies, without regular expressions. Every id is
/// checked against its documented pattern before any statement runs: text that no id
/// can be (a NUL, a slash, a space) never reaches the database.
public enum Identifier {
    static let alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    /// The kinds of id in paths, named as the path templates name them.
    public enum Kind: String, Sendable, CaseIterable {
        case tenant, device, sensor, key

        /// The pattern, as `openapi.yaml` and error messages give it.
        public var pattern: String {
            switch self {
            case .tenant: "^[a-z0-9][a-z0-9-]{1,62}$"
            case .device: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
            case .sensor: "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
            case .key: "^[0-9a-f]{18}$"
            }
        }
    }

    /// Whether `text` is an id of `kind`.
    public static func isValid(_ text: String, as kind: Kind) -> Bool {
        let bytes = text.utf8
        switch kind {
        case .tenant:
            return (2...63).contains(bytes.count) && bytes.first.map(isLowerAlphanumeric) == true
                && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        case .device:
            return isValid(text, first: alphanumeric, rest: "._:-")
        case .sensor:
            return isValid(text, first: alphanumeric + "_", rest: "._-")
        case .key:
            return bytes.count == 18
                && bytes.allSatisfy {
                    ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
                }
        }
    }

    /// 1 to `maxLength` ASCII characters: the first from `first`, the rest from
    /// `first` plus alphanumerics plus `rest`.
    private static func isValid(_ text: String, first: String, rest: String, maxLength: Int = 128) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...maxLength).contains(bytes.count), first.utf8.contains(bytes[0]) else { return false }
        let allowed = Set(alphanumeric.utf8).union(rest.utf8).union(first.utf8)
        return bytes.dropFirst().allSatisfy(allowed.contains)
    }

    private static func isLowerAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
