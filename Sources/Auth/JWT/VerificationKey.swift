import Foundation
import InputParsing
import OpenSSLSupport

/// A signing key published by an issuer, ready for libjwt.
public struct VerificationKey: Sendable, Equatable {
    public var keyID: String
    public var publicKey: PublicKeyPEM
    /// The `alg` the JWK pins, if any.
    public var pinnedAlgorithm: String?

    /// The algorithms a token signed with this key may name. HMAC and `none` never
    /// appear: a public key is not a shared secret.
    public var allowedAlgorithms: Set<String> {
        let byType: Set<String> =
            switch publicKey.type {
            case .rsa: ["RS256", "RS384", "RS512"]
            case .ecP256: ["ES256"]
            case .ecP384: ["ES384"]
            }
        guard let pinnedAlgorithm else { return byType }
        return byType.intersection([pinnedAlgorithm])
    }
}

/// Parses a JWKS document (RFC 7517) into the signature keys Millwright accepts.
enum JWKSParser {
    struct Result {
        var keys: [String: VerificationKey]
        /// Keys left out, with why (for the log).
        var skipped: [String]
    }

    static func parse(_ body: [UInt8]) throws(AuthError) -> Result {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let entries = object["keys"] as? [[String: Any]]
        else {
            throw AuthError(kind: .unavailable, reason: "jwks_invalid", message: "the issuer's key set is not valid JSON")
        }
        var result = Result(keys: [:], skipped: [])
        for entry in entries {
            let kid = entry["kid"] as? String ?? ""
            do {
                if let key = try parseKey(entry) { result.keys[kid] = key }
            } catch {
                result.skipped.append("\(kid): \(error)")
            }
        }
        return result
    }

    /// One JWK, or nil when it is not a signing key of a type we accept.
    static func parseKey(_ entry: [String: Any]) throws -> VerificationKey? {
        guard let kid = entry["kid"] as? String, !kid.isEmpty else { return nil }
        if let use = entry["use"] as? String, use != "sig" { return nil }
        let alg = entry["alg"] as? String
        switch entry["kty"] as? String {
        case "RSA":
            guard let n = (entry["n"] as? String).flatMap(Base64URL.decode),
                let e = (entry["e"] as? String).flatMap(Base64URL.decode)
            else { return nil }
            let key = try PublicKeyPEM.rsa(modulus: n, exponent: e)
            guard key.bits >= 2048 else { return nil }
            return VerificationKey(keyID: kid, publicKey: key, pinnedAlgorithm: alg)
        case "EC":
            let curve: PublicKeyPEM.KeyType
            switch entry["crv"] as? String {
            case "P-256": curve = .ecP256
            case "P-384": curve = .ecP384
            default: return nil
            }
            guard let x = (entry["x"] as? String).flatMap(Base64URL.decode),
                let y = (entry["y"] as? String).flatMap(Base64URL.decode)
            else { return nil }
            return VerificationKey(keyID: kid, publicKey: try .ec(curve: curve, x: x, y: y), pinnedAlgorithm: alg)
        default:
            return nil
        }
    }
}
