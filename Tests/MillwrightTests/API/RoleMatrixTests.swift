import Foundation
import Testing

/// Who may do what inside a tenant: 403 when authenticated but not allowed.
@Suite("Roles")
struct RoleMatrixTests {
    @Test("viewer and metrics-writer read; tenant-admin manages; device keys only write metrics")
    func matrix() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let admin = try await Tokens.tenantAdmin(t)
        let key = try await client.post("/api/v1/tenants/\(t)/devices/d1/keys", token: admin, json: [:] as [String: Any])
        let deviceSecret = try #require(key.json["secret"] as? String)
        let base = "/api/v1/tenants/\(t)"

        let reads = [base, base + "/devices", base + "/devices/d1", base + "/devices/d1/sensors"]
        for (who, token) in [("viewer", try await Tokens.viewer(t)), ("writer", try await Tokens.writer(t))] {
            for path in reads {
                #expect(try await client.get(path, token: token).status == 200, "\(who) GET \(path)")
            }
            #expect(try await client.get(base + "/devices/d1/keys", token: token).status == 403, "\(who) lists keys")
            #expect(try await client.post(base + "/devices", token: token, json: ["id": "x"]).status == 403, "\(who) creates")
            #expect(
                try await client.patch(base + "/devices/d1", token: token, json: ["name": "x"]).status == 403, "\(who) patches")
            #expect(try await client.delete(base + "/devices/d1", token: token).status == 403, "\(who) deletes")
            #expect(try await client.get("/api/v1/tenants", token: token).status == 403, "\(who) lists tenants")
        }
        for path in reads + [base + "/devices/d1/keys"] {
            let response = try await client.get(path, token: deviceSecret)
            #expect(response.status == 403, "device key GET \(path)")
        }
        #expect(try await client.post(base + "/devices", token: deviceSecret, json: ["id": "x"]).status == 403)

        // A tenant admin manages its tenant but not the platform.
        #expect(try await client.get("/api/v1/tenants", token: admin).status == 403)
        #expect(try await client.post("/api/v1/tenants", token: admin, json: ["id": "zz-\(t)", "name": "n"]).status == 403)
        #expect(try await client.patch(base, token: admin, json: ["device_limit": 5]).status == 403)
        #expect(try await client.delete(base, token: admin).status == 403)

        // A user without any Millwright role but with the tenant claim is refused.
        let nobody = try await Tokens.user(["offline_access"], tenant: t)
        #expect(try await client.get(base + "/devices", token: nobody).status == 403)

        // A platform admin acts in every tenant without a tenant claim.
        let platform = try await Tokens.platformAdmin()
        #expect(try await client.get(base + "/devices/d1", token: platform).status == 200)
        #expect(try await client.post(base + "/devices", token: platform, json: ["id": "by-platform"]).status == 201)
    }

    @Test("A suspended tenant's requests get 403 tenant_suspended")
    func suspended() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let platform = try await Tokens.platformAdmin()
        let suspend = try await client.patch("/api/v1/tenants/\(t)", token: platform, json: ["status": "suspended"])
        #expect(suspend.status == 200)
        #expect(suspend.json["status"] as? String == "suspended")
        let admin = try await Tokens.tenantAdmin(t)
        for path in ["/api/v1/tenants/\(t)", "/api/v1/tenants/\(t)/devices", "/api/v1/tenants/\(t)/devices/d1"] {
            let response = try await client.get(path, token: admin)
            #expect(response.status == 403, "\(path)")
            #expect(response.code == "tenant_suspended", "\(path)")
        }
        // The platform admin still sees it, and can reactivate it.
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/d1", token: platform).status == 200)
        #expect(try await client.patch("/api/v1/tenants/\(t)", token: platform, json: ["status": "active"]).status == 200)
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/d1", token: admin).status == 200)
    }
}
