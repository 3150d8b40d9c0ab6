extension JSONValue {
    /// The length in bytes of this value as PostgreSQL's `jsonb` prints it: `", "` and
    /// `": "` between items, numbers written out in full (`1e308` is 309 digits), strings
    /// escaped as JSON. What a stored value costs to read back, which a limit must
    /// measure: the compact text a client sent can be 50 times shorter. Recursion is
    /// bounded by `JSONDepth`.
    public var canonicalLength: Int {
        switch self {
        case .null, .bool(true): return 4
        case .bool(false): return 5
        case .integer(let value): return String(value).utf8.count
        case .number(let value): return Self.plainDecimalLength(value)
        case .string(let text): return Self.quotedLength(text)
        case .array(let items):
            return 2 + items.reduce(0) { $0 + $1.canonicalLength } + max(0, items.count - 1) * 2
        case .object(let fields):
            return 2 + fields.reduce(0) { $0 + Self.quotedLength($1.key) + 2 + $1.value.canonicalLength }
                + max(0, fields.count - 1) * 2
        }
    }

    /// `"…"` with PostgreSQL's escapes: `\"` `\\` `\b` `\f` `\n` `\r` `\t`, `\u00XX` for
    /// other control characters, everything else as UTF-8.
    static func quotedLength(_ text: String) -> Int {
        var length = 2
        for byte in text.utf8 {
            switch byte {
            case 0x22, 0x5C, 0x08, 0x0C, 0x0A, 0x0D, 0x09: length += 2
            case 0..<0x20: length += 6
            default: length += 1
            }
        }
        return length
    }

    /// Digits of `value` written without an exponent, from its shortest round-trip
    /// form (`1.5e-07` is `0.00000015`, 10 bytes).
    static func plainDecimalLength(_ value: Double) -> Int {
        var text = Substring(value.description)
        var length = 0
        if text.first == "-" {
            length += 1
            text = text.dropFirst()
        }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var whole = parts.first.map(String.init) ?? ""
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        while fraction.hasSuffix("0") { fraction.removeLast() }
        var point = whole.count + exponent
        if whole == "0" {  // 0.xxx: the leading zero is no digit of the value
            whole = ""
            point -= 1
        }
        var digits = whole + fraction
        while digits.hasPrefix("0"), digits.count > 1 {
            digits.removeFirst()
            point -= 1
        }
        if digits.isEmpty { return length + 1 }  // 0
        if point >= digits.count { return length + point }  // an integer, with trailing zeros
        if point > 0 { return length + digits.count + 1 }  // a point among the digits
        return length + 2 + (-point) + digits.count  // 0.000ddd
    }
}
