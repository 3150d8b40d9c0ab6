import Foundation

/// The shape of a compact JWS (`header.claims.signature`), checked before any
/// cryptography: three base64url parts, the first two JSON objects.
public enum CompactJWT {
    /// Longest token looked at; Keycloak's access tokens are 1-3 KiB.
    public static let maxLength = 16 << 10

    /// The decoded header and claims, or nil when the token is not shaped like a JWS.
    /// The signature part is only checked to be present.
    public static func parts(_ token: String) -> (header: [String: Any], claims: [String: Any])? {
        guard token.utf8.count <= maxLength else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[2].isEmpty, let header = object(parts[0]), let claims = object(parts[1]) else {
            return nil
        }
        return (header, claims)
    }

    private static func object(_ part: Substring) -> [String: Any]? {
        guard let bytes = Base64URL.decode(part), JSONDepth.isWithin(bytes, limit: JSONDepth.defaultLimit) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }
}
