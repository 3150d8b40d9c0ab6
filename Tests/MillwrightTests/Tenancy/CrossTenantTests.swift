import Foundation
import Testing

/// Every endpoint under another tenant answers 404, exactly as if it did not exist,
/// for that tenant's neighbours: tenant admins, viewers and device keys alike.
@Suite("Cross-tenant isolation over HTTP")
struct CrossTenantTests {
    @Test("Every endpoint under tenant B answers 404 to principals of tenant A")
    func everyEndpoint() async throws {
        let client = try await TestClient.make()
        let a = try await Fixtures.tenant(client)
        let b = try await Fixtures.tenant(client)
        let bAdmin = try await Tokens.tenantAdmin(b)
        try await Fixtures.device(client, tenant: b, id: "press-01")
        #expect(
            try await client.post(
                "/api/v1/tenants/\(b)/devices/press-01/sensors", token: bAdmin, json: ["key": "temp", "kind": "number"]
            ).status == 201)
        let key = try await client.post("/api/v1/tenants/\(b)/devices/press-01/keys", token: bAdmin, json: [:] as [String: Any])
        let keyID = try #require(key.json["id"] as? String)

        try await Fixtures.device(client, tenant: a, id: "gw-1")
        let aKey = try await client.post(
            "/api/v1/tenants/\(a)/devices/gw-1/keys", token: try await Tokens.tenantAdmin(a), json: [:] as [String: Any])
        let aDeviceSecret = try #require(aKey.json["secret"] as? String)

        let principals = [
            ("tenant admin of A", try await Tokens.tenantAdmin(a)),
            ("viewer of A", try await Tokens.viewer(a)),
            ("metrics writer of A", try await Tokens.writer(a)),
            ("device key of A", aDeviceSecret),
        ]
        let device = "/api/v1/tenants/\(b)/devices/press-01"
        let calls: [(String, String, Any?)] = [
            ("GET", "/api/v1/tenants/\(b)", nil),
            ("PATCH", "/api/v1/tenants/\(b)", ["name": "x"]),
            ("DELETE", "/api/v1/tenants/\(b)", nil),
            ("GET", "/api/v1/tenants/\(b)/devices", nil),
            ("POST", "/api/v1/tenants/\(b)/devices", ["id": "new"]),
            ("POST", "/api/v1/tenants/\(b)/devices/batch", ["devices": [["id": "new"]]]),
            ("GET", device, nil),
            ("PATCH", device, ["name": "x"]),
            ("DELETE", device, nil),
            ("GET", device + "/sensors", nil),
            ("POST", device + "/sensors", ["key": "k", "kind": "number"]),
            ("GET", device + "/sensors/temp", nil),
            ("PATCH", device + "/sensors/temp", ["unit": "K"]),
            ("DELETE", device + "/sensors/temp", nil),
            ("GET", device + "/keys", nil),
            ("POST", device + "/keys", [:] as [String: Any]),
            ("DELETE", device + "/keys/\(keyID)", nil),
        ]
        for (who, token) in principals {
            for (method, path, body) in calls {
                let response = try await client.request(
                    method, path, token: token, json: body, contentType: method == "PATCH" ? "application/merge-patch+json" : nil)
                #expect(response.status == 404, "\(who): \(method) \(path) answered \(response.status) \(response.raw.text)")
            }
        }
        // Nothing of B changed.
        let still = try await client.get(device + "/sensors/temp", token: bAdmin)
        #expect(still.status == 200)
        #expect(try await client.get(device + "/keys", token: bAdmin).items.count == 1)
    }

    @Test("Two tenants may use the same device id without seeing each other")
    func sameDeviceIDs() async throws {
        let client = try await TestClient.make()
        let a = try await Fixtures.tenant(client)
        let b = try await Fixtures.tenant(client)
        try await Fixtures.device(client, tenant: a, id: "press-01", fields: ["name": "A's press"])
        try await Fixtures.device(client, tenant: b, id: "press-01", fields: ["name": "B's press"])
        let fromA = try await client.get("/api/v1/tenants/\(a)/devices/press-01", token: try await Tokens.viewer(a))
        let fromB = try await client.get("/api/v1/tenants/\(b)/devices/press-01", token: try await Tokens.viewer(b))
        #expect(fromA.json["name"] as? String == "A's press")
        #expect(fromB.json["name"] as? String == "B's press")
        #expect(try await client.get("/api/v1/tenants/\(a)/devices", token: try await Tokens.viewer(a)).items.count == 1)
    }
}
