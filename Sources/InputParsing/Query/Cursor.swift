/// Page cursors: opaque to clients, base64url of a one-letter kind and a position.
public enum Cursor {
    /// `k` + a registry key (devices, sensors, tenants, keys), or `t` + a time.
    public static func encode(_ kind: Character, _ position: String) -> String {
        Base64URL.encode(Array("\(kind)\(position)".utf8))
    }

    /// The position of a cursor of `kind`, or nil when it is not one this service issued
    /// (wrong kind, not base64url, not UTF-8, or holding NUL).
    public static func decode(_ raw: some StringProtocol, kind: Character) -> String? {
        guard raw.utf8.count <= 1024, let bytes = Base64URL.decode(raw), let first = bytes.first,
            kind.asciiValue == first, !bytes.contains(0), let text = String(validating: bytes.dropFirst(), as: UTF8.self)
        else { return nil }
        return text
    }

    /// A time cursor's microseconds since 1970.
    public static func decodeTime(_ raw: some StringProtocol) -> Int64? {
        guard let text = decode(raw, kind: "t") else { return nil }
        let bytes = Array(text.utf8)
        guard let micros = DecimalText.int64(bytes, 0..<bytes.count), RFC3339.range.contains(micros) else { return nil }
        return micros
    }
}
