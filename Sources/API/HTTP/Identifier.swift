/// Checks of the ids in paths and bodies, without regular expressions.
enum Identifier {
    static let alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    /// 1 to `maxLength` ASCII characters: the first from `first`, the rest from
    /// `first` plus alphanumerics plus `rest`.
    static func isValid(_ text: String, first: String, rest: String, maxLength: Int = 128) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...maxLength).contains(bytes.count), first.utf8.contains(bytes[0]) else { return false }
        let allowed = Set(alphanumeric.utf8).union(rest.utf8).union(first.utf8)
        return bytes.dropFirst().allSatisfy(allowed.contains)
    }
}
