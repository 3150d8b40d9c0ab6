import CurlClient
import Foundation
import Testing

@testable import Auth

/// Why the header's `alg` is checked before libjwt sees a token: libjwt 1.10 on its
/// own accepts an HS256 token whose HMAC secret is the RSA public key's PEM.
@Suite("Algorithm confusion")
struct AlgorithmConfusionTests {
    @Test("libjwt alone accepts the HS256-with-public-key forgery; TokenVerifier refuses it")
    func forgery() async throws {
        let jwks = try await CurlHTTPClient.forTests.perform(
            HTTPClientRequest(url: TestEnvironment.issuer + "/protocol/openid-connect/certs"))
        let keys = try JWKSParser.parse(jwks.body).keys
        let rsa = try #require(keys["millwright-rsa-1"])
        let forged = try await Tokens.mint([
            "mode": "hs256-public-key", "claims": ["realm_access": ["roles": ["platform-admin"]]],
        ])

        // The library by itself is fooled ...
        #expect(LibJWT.signatureIsValid(token: forged, pem: rsa.publicKey.pem))
        // ... and the verifier is not.
        var configuration = AuthConfiguration(issuers: [TestEnvironment.issuer], allowHTTP: true)
        configuration.retryInterval = .milliseconds(10)
        let verifier = TokenVerifier(
            configuration: configuration, keys: JWKSCache(configuration: configuration, logger: .init(label: "test")))
        await #expect(throws: AuthError.self) { try await verifier.verify(forged) }
        // A genuine token passes the same verifier, so the refusal is about the forgery.
        let genuine = try await Tokens.mint(["claims": ["realm_access": ["roles": ["viewer"]]]])
        let principal = try await verifier.verify(genuine)
        #expect(principal.roles == [.viewer])
        #expect(LibJWT.signatureIsValid(token: genuine, pem: rsa.publicKey.pem))
    }
}
