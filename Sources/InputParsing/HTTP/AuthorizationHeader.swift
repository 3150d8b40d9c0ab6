/// The credential in an `Authorization` header.
public enum AuthorizationHeader {
    /// The credential of `Bearer <x>` or `Token <x>` (InfluxDB clients' scheme), scheme
    /// matched without case. Works on the UTF-8 bytes: it runs on every request, over
    /// tokens of ~1 KiB.
    public static func credential(_ header: String) -> String? {
        let bytes = header.utf8
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let scheme = bytes[..<space]
        guard
            scheme.elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 })
                || scheme.elementsEqual("token".utf8, by: { $0 | 0x20 == $1 })
        else { return nil }
        var value = bytes[bytes.index(after: space)...]
        while value.first == UInt8(ascii: " ") || value.first == UInt8(ascii: "\t") { value = value.dropFirst() }
        while value.last == UInt8(ascii: " ") || value.last == UInt8(ascii: "\t") { value = value.dropLast() }
        return value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
    }

    /// The parts of a device key, `mwk.<tenant>.<key id>.<secret>`, or nil when the
    /// credential is not shaped like one (then it is taken for a JWT).
    public static func deviceKey(_ credential: String) -> (tenant: String, keyID: String, secret: String)? {
        let prefix = "mwk."
        guard credential.hasPrefix(prefix), credential.utf8.count <= 512 else { return nil }
        let parts = credential.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, parts[2].utf8.count == 43 else { return nil }
        return (String(parts[0]), String(parts[1]), String(parts[2]))
    }
}
