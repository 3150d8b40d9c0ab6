import OpenSSLSupport
import Synchronization

/// Tokens that verified, by SHA-256 of the whole token, until they expire.
///
/// Clients send the same access token for its whole lifetime (minutes), and libjwt
/// decodes the issuer's PEM key again on every call (~0.6 ms with OpenSSL 3.0), so
/// each token is verified once and then recognised. A hit still checks expiry; an
/// entry dies with a change of any issuer's key set. Only verified tokens are kept,
/// at most `capacity` of them.
final class VerifiedTokenCache: Sendable {
    struct Entry {
        var principal: UserPrincipal
        var expiresAt: Double
        var keyGeneration: Int
    }

    private let entries = Mutex<[Digest: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The 32-byte digest as four words: cheap to hash and compare.
    struct Digest: Hashable {
        var a, b, c, d: UInt64

        init(_ token: String) {
            let bytes = CryptoPrimitives.sha256(token.utf8)
            func word(_ offset: Int) -> UInt64 {
                bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
            }
            (a, b, c, d) = (word(0), word(8), word(16), word(24))
        }
    }

    func lookup(_ digest: Digest, now: Double, leeway: Double, keyGeneration: Int) -> UserPrincipal? {
        entries.withLock { entries in
            guard let entry = entries[digest] else { return nil }
            guard entry.expiresAt + leeway > now, entry.keyGeneration == keyGeneration else {
                entries[digest] = nil
                return nil
            }
            return entry.principal
        }
    }

    func store(_ digest: Digest, _ entry: Entry, now: Double, leeway: Double) {
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expiresAt + leeway > now && $0.value.keyGeneration == entry.keyGeneration }
                // Still full of live tokens: make room by dropping an arbitrary tenth.
                if entries.count >= capacity {
                    for key in entries.keys.prefix(max(1, capacity / 10)) { entries[key] = nil }
                }
            }
            entries[digest] = entry
        }
    }
}
