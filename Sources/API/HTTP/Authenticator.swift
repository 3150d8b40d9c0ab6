import Auth
import HTTPTypes
import InputParsing

/// Turns an `Authorization` header into a principal: a device key
/// (`mwk.<tenant>.<key>.<secret>`) or a JWT from a trusted issuer.
struct Authenticator: Sendable {
    let tokens: TokenVerifier
    let deviceKeys: DeviceKeyAuthenticator

    func authenticate(_ header: String?) async throws -> Principal {
        guard let header, let credential = AuthorizationHeader.credential(header) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"millwright\""
            throw Problem(.unauthorized, code: "unauthenticated", detail: "a bearer token is required", headers: headers)
        }
        if let key = DeviceKeyCredential(bearer: credential) {
            return .device(try await deviceKeys.authenticate(key))
        }
        return .user(try await tokens.verify(credential))
    }
}
