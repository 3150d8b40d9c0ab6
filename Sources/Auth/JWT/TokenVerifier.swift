import Foundation
import InputParsing
import OpenSSLSupport
import Tenancy

/// Verifies bearer JWTs from the trusted issuers and turns them into principals.
///
/// Order of checks: size and shape; header `alg` (RSA/EC only) and `kid`; `iss` among
/// the trusted issuers; the key by `kid`; the header's `alg` against the key's type
/// (before libjwt sees the token); the signature (libjwt + OpenSSL); then `exp`, `nbf`,
/// `typ` and `aud`/`azp`.
///
/// Start: `TokenVerifier(configuration:keys:)`; shut down: nothing to release.
public struct TokenVerifier: Sendable {
    public let configuration: AuthConfiguration
    public let keys: JWKSCache
    private let trustedIssuers: Set<String>
    private let verified = VerifiedTokenCache()
    private static let supportedAlgorithms: Set<String> = ["RS256", "RS384", "RS512", "ES256", "ES384"]

    public init(configuration: AuthConfiguration, keys: JWKSCache) {
        self.configuration = configuration
        self.keys = keys
        self.trustedIssuers = Set(configuration.issuers)
    }

    /// The principal a token proves, or why it proves nothing.
    public func verify(_ token: String, now: Date = Date()) async throws(AuthError) -> UserPrincipal {
        guard token.utf8.count <= configuration.maxTokenBytes else {
            throw .invalid("token_too_large", "the token is longer than \(configuration.maxTokenBytes) bytes")
        }
        let digest = VerifiedTokenCache.Digest(token)
        let seconds = now.timeIntervalSince1970
        let generation = keys.generation
        if let principal = verified.lookup(digest, now: seconds, leeway: configuration.leeway, keyGeneration: generation) {
            return principal
        }
        let (principal, expiresAt) = try await verifyFully(token, now: seconds)
        verified.store(
            digest, .init(principal: principal, expiresAt: expiresAt, keyGeneration: generation), now: seconds,
            leeway: configuration.leeway)
        return principal
    }

    /// Every check, without the cache. Returns the principal and the token's `exp`.
    private func verifyFully(_ token: String, now: Double) async throws(AuthError) -> (UserPrincipal, Double) {
        guard let (header, claims) = CompactJWT.parts(token) else {
            throw .invalid("malformed", "the token is not a well-formed JWT")
        }
        guard let alg = header["alg"] as? String, Self.supportedAlgorithms.contains(alg) else {
            throw .invalid("unsupported_algorithm", "the token's algorithm is not accepted (RS256/384/512, ES256/384)")
        }
        guard let kid = header["kid"] as? String else {
            throw .invalid("missing_key_id", "the token's header names no key (kid)")
        }
        guard let issuer = claims["iss"] as? String, trustedIssuers.contains(issuer) else {
            throw .invalid("untrusted_issuer", "the token's issuer is not trusted")
        }
        let key = try await keys.key(issuer: issuer, kid: kid)
        guard key.allowedAlgorithms.contains(alg) else {
            throw .invalid("algorithm_key_mismatch", "the token's algorithm does not match its key")
        }
        guard LibJWT.signatureIsValid(token: token, pem: key.publicKey.pem) else {
            throw .invalid("bad_signature", "the token's signature does not verify")
        }
        let expiresAt = try checkClaims(claims, now: now)
        var principal = principal(issuer: issuer, claims: claims)
        principal.expiresAt = expiresAt
        return (principal, expiresAt)
    }

    /// Checks the time, type and audience claims; returns `exp`.
    private func checkClaims(_ claims: [String: Any], now: Double) throws(AuthError) -> Double {
        guard let exp = (claims["exp"] as? NSNumber)?.doubleValue else {
            throw .invalid("missing_expiry", "the token has no expiry (exp)")
        }
        guard exp + configuration.leeway > now else { throw .invalid("expired", "the token has expired") }
        if let nbf = claims["nbf"] {
            guard let value = (nbf as? NSNumber)?.doubleValue, value - configuration.leeway <= now else {
                throw .invalid("not_yet_valid", "the token is not valid yet (nbf)")
            }
        }
        if let typ = claims["typ"] {
            guard let value = typ as? String, value.caseInsensitiveCompare("Bearer") == .orderedSame else {
                throw .invalid("wrong_token_type", "only access tokens (typ Bearer) are accepted")
            }
        }
        if let audience = configuration.audience {
            let audiences: [String] =
                switch claims["aud"] {
                case let single as String: [single]
                case let many as [Any]: many.compactMap { $0 as? String }
                default: []
                }
            guard audiences.contains(audience) || (claims["azp"] as? String) == audience else {
                throw .invalid("wrong_audience", "the token is not meant for this service (aud)")
            }
        }
        return exp
    }

    private func principal(issuer: String, claims: [String: Any]) -> UserPrincipal {
        var roleNames: [String] = ((claims["realm_access"] as? [String: Any])?["roles"] as? [Any] ?? []).compactMap {
            $0 as? String
        }
        if let clientID = configuration.clientID,
            let client = (claims["resource_access"] as? [String: Any])?[clientID] as? [String: Any]
        {
            roleNames += (client["roles"] as? [Any] ?? []).compactMap { $0 as? String }
        }
        return UserPrincipal(
            issuer: issuer,
            subject: claims["sub"] as? String ?? "",
            username: claims["preferred_username"] as? String,
            roles: Set(roleNames.compactMap(Role.init(rawValue:))),
            tenants: Self.tenants(from: claims[configuration.tenantClaim]))
    }

    /// Tenants from the tenant claim: `"acme"`, `["acme", "beta"]`, or
    /// `{"acme": {...}, "beta": {...}}` (Keycloak's organization claim shapes).
    static func tenants(from claim: Any?) -> Set<TenantID> {
        let names: [String] =
            switch claim {
            case let single as String: [single]
            case let many as [Any]: many.compactMap { $0 as? String }
            case let keyed as [String: Any]: Array(keyed.keys)
            default: []
            }
        return Set(names.compactMap { TenantID($0) })
    }
}
