/// How deep a JSON text nests, found without parsing it and without recursion, so that
/// a recursive decoder (Foundation's, `JSONValue`'s) is never handed more than it can
/// take on a thread's stack.
public enum JSONDepth {
    /// The nesting a registry body or a token may have: far beyond any real document.
    public static let defaultLimit = 64

    /// Whether `bytes`, read as JSON, opens no more than `limit` arrays and objects at
    /// once. Brackets inside strings do not count; the text need not be valid JSON
    /// (the decoder judges that).
    public static func isWithin(_ bytes: [UInt8], limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return false }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return true
    }
}
