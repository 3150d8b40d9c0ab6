import Foundation
import Testing

/// Every way a bearer token must be refused, proven over HTTP against the running
/// service with tokens from the real local issuer (reached through libcurl).
@Suite("Token verification")
struct TokenVerificationTests {
    /// A tenant-scoped read that succeeds with a good token.
    func readOwnTenant(_ token: String, tenant: String) async throws -> APIResponse {
        try await TestClient.make().get("/api/v1/tenants/\(tenant)", token: token)
    }

    func expectRejected(_ token: String, tenant: String, _ comment: Comment) async throws {
        let response = try await readOwnTenant(token, tenant: tenant)
        #expect(response.status == 401, comment)
        #expect(response.code == "invalid_token", comment)
        #expect(response.header("WWW-Authenticate")?.contains("error=\"invalid_token\"") == true, comment)
        #expect(response.header("Content-Type") == "application/problem+json", comment)
    }

    @Test("RS256, ES256 and ES384 tokens from a trusted issuer are accepted")
    func acceptsGoodTokens() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        for alg in ["RS256", "ES256", "ES384"] {
            let token = try await Tokens.user(["viewer"], tenant: tenant, alg: alg)
            let response = try await readOwnTenant(token, tenant: tenant)
            #expect(response.status == 200, "\(alg): \(response.raw.text)")
            #expect(response.json["id"] as? String == tenant)
        }
    }

    @Test("A second trusted issuer works alongside the first")
    func secondIssuer() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        let token = try await Tokens.mint(realm: "second", ["claims": ["realm_access": ["roles": ["viewer"]], "tenant": tenant]])
        #expect(try await readOwnTenant(token, tenant: tenant).status == 200)
    }

    @Test("Bad signature, alg none, HMAC with the public key, and alg/key mismatch are refused")
    func signatureAttacks() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        let claims: [String: Any] = ["realm_access": ["roles": ["viewer"]], "tenant": tenant]
        try await expectRejected(try await Tokens.mint(["claims": claims, "mode": "tamper"]), tenant: tenant, "tampered payload")
        try await expectRejected(try await Tokens.mint(["claims": claims, "mode": "none"]), tenant: tenant, "alg none")
        try await expectRejected(
            try await Tokens.mint(["claims": claims, "mode": "hs256-public-key", "kid": "millwright-rsa-1"]), tenant: tenant,
            "HS256 signed with the RSA public key PEM")
        // RS256 header but the EC key's kid: the alg does not fit the key type.
        try await expectRejected(
            try await Tokens.mint(["claims": claims, "alg": "RS256", "kid": "millwright-ec-1"]), tenant: tenant,
            "RSA alg on an EC key")
        // A kid the issuer does not publish, and its encryption key.
        try await expectRejected(try await Tokens.mint(["claims": claims, "kid": "nope"]), tenant: tenant, "unknown kid")
        try await expectRejected(
            try await Tokens.mint(["claims": claims, "kid": "millwright-enc-1"]), tenant: tenant, "enc key used to sign")
    }

    @Test("A token signed by another realm's key under a trusted iss is refused")
    func crossRealmKey() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        // Signed by the untrusted realm's RSA key, but claiming the trusted issuer and
        // naming the trusted realm's kid: the signature cannot verify.
        let token = try await Tokens.mint(
            realm: "untrusted",
            [
                "claims": ["iss": TestEnvironment.issuer, "realm_access": ["roles": ["viewer"]], "tenant": tenant],
                "kid": "millwright-rsa-1",
            ])
        try await expectRejected(token, tenant: tenant, "foreign key")
    }

    @Test("Unknown issuer, expiry, nbf, missing exp, audience and token type are enforced")
    func claims() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        let base: [String: Any] = ["realm_access": ["roles": ["viewer"]], "tenant": tenant]
        let now = Int(Date().timeIntervalSince1970)
        func with(_ extra: [String: Any]) -> [String: Any] { base.merging(extra) { _, new in new } }

        try await expectRejected(try await Tokens.mint(realm: "untrusted", ["claims": base]), tenant: tenant, "untrusted issuer")
        try await expectRejected(try await Tokens.mint(["claims": with(["exp": now - 120])]), tenant: tenant, "expired")
        try await expectRejected(try await Tokens.mint(["claims": with(["nbf": now + 600])]), tenant: tenant, "nbf in the future")
        try await expectRejected(try await Tokens.mint(["claims": base, "remove": ["exp"]]), tenant: tenant, "no exp")
        try await expectRejected(
            try await Tokens.mint(["claims": with(["aud": "other", "azp": "other"])]), tenant: tenant, "wrong audience")
        try await expectRejected(try await Tokens.mint(["claims": with(["typ": "ID"])]), tenant: tenant, "ID token")
        try await expectRejected(try await Tokens.mint(["claims": with(["typ": "Refresh"])]), tenant: tenant, "refresh token")

        // Within the 60 s leeway: accepted.
        let lenient = try await Tokens.mint(["claims": with(["exp": now - 30, "nbf": now + 30])])
        #expect(try await readOwnTenant(lenient, tenant: tenant).status == 200)
        // The audience may also come through aud alone.
        let byAudience = try await Tokens.mint(["claims": with(["aud": ["account", "millwright"], "azp": "web"])])
        #expect(try await readOwnTenant(byAudience, tenant: tenant).status == 200)
    }

    @Test("Malformed and oversized tokens are refused; a missing one asks for a bearer token")
    func malformed() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        for token in ["abc", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.", "\(String(repeating: "x", count: 40))"] {
            try await expectRejected(token, tenant: tenant, "malformed \(token)")
        }
        let huge = try await Tokens.user(["viewer"], tenant: tenant, extra: ["padding": String(repeating: "p", count: 17_000)])
        try await expectRejected(huge, tenant: tenant, "over 16 KiB")

        let missing = try await client.get("/api/v1/tenants/\(tenant)", token: nil)
        #expect(missing.status == 401)
        #expect(missing.code == "unauthenticated")
        #expect(missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        let basic = try await client.get(
            "/api/v1/tenants/\(tenant)", token: nil, headers: [("Authorization", "Basic dXNlcjpwYXNz")])
        #expect(basic.status == 401)
    }

    @Test("An issuer whose keys were never loaded answers 503 auth_unavailable, not 401")
    func unreachableIssuer() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        let token = try await Tokens.mint(
            realm: "untrusted",
            ["claims": ["iss": TestEnvironment.unreachableIssuer, "realm_access": ["roles": ["viewer"]], "tenant": tenant]])
        let response = try await readOwnTenant(token, tenant: tenant)
        #expect(response.status == 503)
        #expect(response.code == "auth_unavailable")
        #expect(response.header("Retry-After") != nil)
    }

    @Test("Roles come from realm_access and from the configured client's resource_access")
    func clientRoles() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        let viaClient = try await Tokens.mint([
            "claims": [
                "tenant": tenant,
                "resource_access": [
                    TestEnvironment.clientID: ["roles": ["tenant-admin"]], "other": ["roles": ["platform-admin"]],
                ],
            ]
        ])
        let created = try await client.post("/api/v1/tenants/\(tenant)/devices", token: viaClient, json: ["id": "d1"])
        #expect(created.status == 201, "\(created.raw.text)")
        // Another client's roles do not count: platform-admin from "other" is ignored.
        let list = try await client.get("/api/v1/tenants", token: viaClient)
        #expect(list.status == 403)
    }

    @Test("The tenant claim may be a string, an array or an object keyed by tenant")
    func tenantClaimShapes() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        let other = Fixtures.uniqueTenantID()
        for claim: Any in [tenant, [other, tenant], [tenant: ["id": "x"], other: [:]] as [String: Any]] {
            let token = try await Tokens.user(["viewer"], tenant: claim)
            #expect(try await readOwnTenant(token, tenant: tenant).status == 200, "claim \(claim)")
        }
        let elsewhere = try await Tokens.user(["viewer"], tenant: [other])
        #expect(try await readOwnTenant(elsewhere, tenant: tenant).status == 404)
    }
}
