import Foundation
import Logging
import Testing

@testable import Auth

/// A remembered token is still held to its expiry.
@Suite("Verified token cache")
struct VerifiedTokenCacheTests {
    @Test("A token verified once is refused once it expires, cache or not")
    func expiryOnHit() async throws {
        var configuration = AuthConfiguration(issuers: [TestEnvironment.issuer], allowHTTP: true)
        configuration.leeway = 0
        let verifier = TokenVerifier(
            configuration: configuration, keys: JWKSCache(configuration: configuration, logger: Logger(label: "test")))
        let now = Date()
        let token = try await Tokens.mint([
            "claims": ["exp": Int(now.timeIntervalSince1970) + 30, "realm_access": ["roles": ["viewer"]]]
        ])
        #expect(try await verifier.verify(token, now: now).roles == [.viewer])
        #expect(try await verifier.verify(token, now: now.addingTimeInterval(10)).roles == [.viewer])
        await #expect(throws: AuthError.self) { try await verifier.verify(token, now: now.addingTimeInterval(31)) }
    }

    @Test("Keeps at most its capacity")
    func capacity() {
        let cache = VerifiedTokenCache(capacity: 10)
        let principal = UserPrincipal(issuer: "i", subject: "s", username: nil, roles: [], tenants: [])
        for index in 0..<25 {
            cache.store(
                .init("token-\(index)"), .init(principal: principal, expiresAt: 1e12, keyGeneration: 0), now: 0, leeway: 0)
        }
        #expect(cache.lookup(.init("token-24"), now: 0, leeway: 0, keyGeneration: 0) != nil)
        #expect(cache.lookup(.init("token-24"), now: 0, leeway: 0, keyGeneration: 1) == nil)  // keys changed
        let kept = (0..<25).filter { cache.lookup(.init("token-\($0)"), now: 0, leeway: 0, keyGeneration: 0) != nil }.count
        #expect(kept <= 10)
    }
}
