import Auth
import HTTPTypes

/// Turns an `Authorization` header into a principal: a device key
/// (`mwk.<tenant>.<key>.<secret>`) or a JWT from a trusted issuer.
struct Authenticator: Sendable {
    let tokens: TokenVerifier
    let deviceKeys: DeviceKeyAuthenticator

    func authenticate(_ header: String?) async throws -> Principal {
        guard let header, let credential = Self.credential(from: header) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"millwright\""
            throw Problem(.unauthorized, code: "unauthenticated", detail: "a bearer token is required", headers: headers)
        }
        if let key = DeviceKeyCredential(bearer: credential) {
            return .device(try await deviceKeys.authenticate(key))
        }
        return .user(try await tokens.verify(credential))
    }

    /// The credential of `Bearer <x>` or `Token <x>` (InfluxDB clients' scheme).
    /// Works on the UTF-8 bytes: it runs on every request, over tokens of ~1 KiB.
    static func credential(from header: String) -> String? {
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
}
