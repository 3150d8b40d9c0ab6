/// Why a credential was refused. `reason` is stable (it labels metrics and logs); the
/// HTTP layer turns `.invalidCredential` into 401 and `.unavailable` into 503.
public struct AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Kind: Hashable, Sendable {
        let raw: String
        /// The credential is not acceptable: 401.
        public static let invalidCredential = Kind(raw: "invalid_credential")
        /// The credential cannot be checked now (no keys ever loaded for the issuer,
        /// credential store down): 503.
        public static let unavailable = Kind(raw: "unavailable")
    }

    public var kind: Kind
    /// A stable snake_case reason, e.g. `expired`, `bad_signature`.
    public var reason: String
    /// A sentence safe to show to the client.
    public var message: String

    public init(kind: Kind, reason: String, message: String) {
        self.kind = kind
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(kind.raw): \(reason) (\(message))" }

    static func invalid(_ reason: String, _ message: String) -> AuthError {
        AuthError(kind: .invalidCredential, reason: reason, message: message)
    }
}
