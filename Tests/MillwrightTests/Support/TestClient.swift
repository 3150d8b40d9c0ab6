import CurlClient
import Foundation
import NIOPosix

/// A response with its body parsed as JSON (when it is JSON).
struct APIResponse {
    let raw: HTTPClientResponse
    var status: Int { raw.status }
    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(raw.body))) as? [String: Any]) ?? [:] }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    func header(_ name: String) -> String? { raw.header(name) }
    var code: String? { json["code"] as? String }
    /// The `pointer`s of a problem's `errors`.
    var errorPointers: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String } }
    var errorCodes: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String } }
}

extension CurlHTTPClient {
    /// The tests' own client, on threads of its own: the server under test fetches
    /// signing keys on `NIOThreadPool.singleton` (two threads here), and test requests
    /// blocking those threads while the server waits for them would deadlock until a
    /// timeout.
    static let forTests: CurlHTTPClient = {
        let threads = NIOThreadPool(numberOfThreads: 16)
        threads.start()
        return CurlHTTPClient(threads: threads)
    }()
}

/// Calls the test server over real HTTP (libcurl) and mints tokens at the issuer.
struct TestClient: Sendable {
    let server: TestServer
    let http = CurlHTTPClient.forTests

    static func make() async throws -> TestClient {
        TestClient(server: try await TestEnvironment.server.value)
    }

    func request(
        _ method: String, _ path: String, token: String? = nil, json: Any? = nil, body: [UInt8]? = nil,
        contentType: String? = nil, headers: [(name: String, value: String)] = []
    ) async throws -> APIResponse {
        var allHeaders = headers
        if let token { allHeaders.append(("Authorization", "Bearer \(token)")) }
        var payload = body
        if let json {
            payload = [UInt8](try JSONSerialization.data(withJSONObject: json))
            allHeaders.append(("Content-Type", contentType ?? "application/json"))
        } else if let contentType {
            allHeaders.append(("Content-Type", contentType))
        }
        let response = try await http.perform(
            HTTPClientRequest(url: server.baseURL + path, method: method, headers: allHeaders, body: payload))
        return APIResponse(raw: response)
    }

    func get(_ path: String, token: String?, headers: [(name: String, value: String)] = []) async throws -> APIResponse {
        try await request("GET", path, token: token, headers: headers)
    }

    func post(_ path: String, token: String?, json: Any) async throws -> APIResponse {
        try await request("POST", path, token: token, json: json)
    }

    func patch(
        _ path: String, token: String?, json: Any, headers: [(name: String, value: String)] = []
    ) async throws -> APIResponse {
        try await request("PATCH", path, token: token, json: json, contentType: "application/merge-patch+json", headers: headers)
    }

    func delete(_ path: String, token: String?) async throws -> APIResponse {
        try await request("DELETE", path, token: token)
    }
}

/// Tokens from the development issuer.
enum Tokens {
    /// Mints a token at `realm` with `spec` (see dev/issuer.py: claims, alg, kid, header, mode, remove).
    static func mint(realm: String = "millwright", _ spec: [String: Any] = [:]) async throws -> String {
        let response = try await CurlHTTPClient.forTests.perform(
            HTTPClientRequest(
                url: "\(TestEnvironment.issuerBase)/realms/\(realm)/mint", method: "POST",
                headers: [("Content-Type", "application/json")], body: [UInt8](try JSONSerialization.data(withJSONObject: spec))))
        guard response.status == 200,
            let token = (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["token"] as? String
        else { throw TestFailure("the issuer did not mint: \(response.text)") }
        return token
    }

    /// An access token with realm roles and a tenant claim.
    static func user(
        _ roles: [String], tenant: Any? = nil, subject: String = "user-1", alg: String = "RS256", extra: [String: Any] = [:]
    ) async throws -> String {
        var claims: [String: Any] = ["realm_access": ["roles": roles], "sub": subject]
        if let tenant { claims["tenant"] = tenant }
        claims.merge(extra) { _, new in new }
        return try await mint(["claims": claims, "alg": alg])
    }

    static func platformAdmin() async throws -> String { try await user(["platform-admin"]) }
    static func tenantAdmin(_ tenant: String) async throws -> String { try await user(["tenant-admin"], tenant: tenant) }
    static func viewer(_ tenant: String) async throws -> String { try await user(["viewer"], tenant: tenant) }
    static func writer(_ tenant: String) async throws -> String { try await user(["metrics-writer"], tenant: tenant) }
}

/// Fixtures: tenants with unique ids so tests never collide.
enum Fixtures {
    static func uniqueTenantID(_ prefix: String = "t") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates a tenant through the API and returns its id.
    @discardableResult
    static func tenant(_ client: TestClient, id: String = uniqueTenantID(), fields: [String: Any] = [:]) async throws -> String {
        var body: [String: Any] = ["id": id, "name": "Tenant \(id)"]
        body.merge(fields) { _, new in new }
        let response = try await client.post("/api/v1/tenants", token: try await Tokens.platformAdmin(), json: body)
        guard response.status == 201 else { throw TestFailure("tenant not created: \(response.raw.text)") }
        return id
    }

    @discardableResult
    static func device(
        _ client: TestClient, tenant: String, id: String, fields: [String: Any] = [:]
    ) async throws -> [String: Any] {
        var body: [String: Any] = ["id": id]
        body.merge(fields) { _, new in new }
        let response = try await client.post(
            "/api/v1/tenants/\(tenant)/devices", token: try await Tokens.tenantAdmin(tenant), json: body)
        guard response.status == 201 else { throw TestFailure("device not created: \(response.raw.text)") }
        return response.json
    }
}
