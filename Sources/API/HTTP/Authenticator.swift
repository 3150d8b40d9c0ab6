import Auth
import HTTPTypes
import InputParsing

/// Turns an `Authorization` header into a principal, or throws why not.
protocol Authenticating: Sendable {
    func authenticate(_ header: String?) async throws -> Principal
}

/// The service's authenticator: a device key (`mwk.<tenant>.<key>.<secret>`) or a JWT
/// from a trusted issuer.
struct Authenticator: Authenticating {
    let tokens: TokenVerifier
    let deviceKeys: DeviceKeyAuthenticator

    func authenticate(_ header: String?) async throws -> Principal {
        guard let header, let credential = AuthorizationHeader.credential(header) else {
            throw Problem.unauthenticated()
        }
        if let key = DeviceKeyCredential(bearer: credential) {
            return .device(try await deviceKeys.authenticate(key))
        }
        return .user(try await tokens.verify(credential))
    }
}
