import Foundation
import Testing

/// Every class of bad input gets a problem+json answer with a stable code, never a 5xx.
@Suite("Bad input")
struct BadInputTests {
    func expectProblem(_ response: APIResponse, _ status: Int, _ code: String, _ comment: Comment = "") {
        #expect(response.status == status, "\(comment) \(response.raw.text)")
        #expect(response.code == code, "\(comment) \(response.raw.text)")
        #expect(response.header("Content-Type") == "application/problem+json", comment)
        #expect(response.json["status"] as? Int == status, comment)
        #expect(response.json["title"] is String && response.json["detail"] is String && response.json["type"] is String, comment)
    }

    @Test("Malformed JSON, wrong types and unknown fields are 400 and name the fields")
    func syntax() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let url = "/api/v1/tenants/\(t)/devices"
        for body in ["{", "{\"id\": }", "", "nul", "[1,2"] {
            expectProblem(
                try await client.request("POST", url, token: admin, body: Array(body.utf8), contentType: "application/json"), 400,
                "malformed_json", "\(body)")
        }
        let notObject = try await client.request("POST", url, token: admin, json: [1, 2])
        expectProblem(notObject, 400, "invalid_type")

        let wrongTypes = try await client.post(
            url, token: admin,
            json: [
                "id": 5, "labels": ["a": 1], "offline_after_seconds": "soon", "auto_create_sensors": "yes",
                "location": ["latitude": "n", "longitude": 1],
            ])
        expectProblem(wrongTypes, 400, "invalid_body")
        #expect(
            Set(wrongTypes.errorPointers) == [
                "/id", "/labels/a", "/offline_after_seconds", "/auto_create_sensors", "/location/latitude",
            ])
        #expect(Set(wrongTypes.errorCodes) == ["invalid_type"])

        let unknown = try await client.post(url, token: admin, json: ["id": "d", "colour": "red", "status": "online"])
        expectProblem(unknown, 400, "invalid_body")
        #expect(unknown.errorPointers == ["/colour", "/status"])
        #expect(unknown.errorCodes == ["unknown_field", "read_only"])
        #expect(try await client.post(url, token: admin, json: [:] as [String: Any]).errorCodes == ["required"])
    }

    @Test("Nesting past 64 levels is 400 before any decoder recurses; 100,000 levels too")
    func nesting() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let url = "/api/v1/tenants/\(t)/devices"
        func metadata(_ depth: Int) -> String {
            "{\"id\": \"n\(depth)\", \"metadata\": " + String(repeating: "[", count: depth - 1) + "1"
                + String(repeating: "]", count: depth - 1) + "}"
        }
        let deep = try await client.request(
            "POST", url, token: admin, body: Array(metadata(100_000).utf8), contentType: "application/json")
        expectProblem(deep, 400, "malformed_json")
        let unclosed = try await client.request(
            "POST", url, token: admin, body: Array(("{\"metadata\":" + String(repeating: "{\"a\":", count: 100_000)).utf8),
            contentType: "application/json")
        expectProblem(unclosed, 400, "malformed_json")
        expectProblem(
            try await client.request("POST", url, token: admin, body: Array(metadata(65).utf8), contentType: "application/json"),
            400, "malformed_json")
        let fine = try await client.request(
            "POST", url, token: admin, body: Array(metadata(64).utf8), contentType: "application/json")
        // Read in full: refused only because metadata must be an object.
        #expect(fine.status == 400 && fine.code == "invalid_body", "\(fine.raw.text)")
        let object =
            "{\"id\": \"obj\", \"metadata\": " + String(repeating: "{\"a\":", count: 63) + "1"
            + String(repeating: "}", count: 63) + "}"
        #expect(
            try await client.request("POST", url, token: admin, body: Array(object.utf8), contentType: "application/json").status
                == 201)
    }

    @Test("Metadata is measured as PostgreSQL stores it: 16 KiB of 1e308 would read back as 700 KB")
    func metadataCanonicalSize() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let url = "/api/v1/tenants/\(t)/devices"
        let numbers = "[" + Array(repeating: "1e308", count: 2700).joined(separator: ",") + "]"
        #expect(numbers.utf8.count < 16 * 1024)
        let body = "{\"id\": \"big\", \"metadata\": {\"n\": \(numbers)}}"
        let refused = try await client.request("POST", url, token: admin, body: Array(body.utf8), contentType: "application/json")
        expectProblem(refused, 422, "validation_failed")
        #expect(refused.errorPointers == ["/metadata"] && refused.errorCodes == ["too_large"])
        // What fits reads back within the bound: 50 numbers of 309 digits.
        let fits = "[" + Array(repeating: "1e308", count: 50).joined(separator: ",") + "]"
        let created = try await client.request(
            "POST", url, token: admin, body: Array("{\"id\": \"ok\", \"metadata\": {\"n\": \(fits)}}".utf8),
            contentType: "application/json")
        #expect(created.status == 201)
        let read = try await client.get("\(url)/ok", token: admin)
        #expect(read.raw.body.count < 16 * 1024 + 1024, "\(read.raw.body.count)")
    }

    @Test("Values that break a rule are 422 with a pointer and code each")
    func semantics() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let response = try await client.post(
            "/api/v1/tenants/\(t)/devices", token: admin,
            json: [
                "id": "-bad", "timezone": "Mars/Olympus", "location": ["latitude": 91, "longitude": -181],
                "offline_after_seconds": 0, "labels": Dictionary(uniqueKeysWithValues: (0..<65).map { ("k\($0)", "v") }),
                "metadata": ["blob": String(repeating: "x", count: 17_000)],
            ])
        expectProblem(response, 422, "validation_failed")
        #expect(
            Set(response.errorPointers) == [
                "/id", "/timezone", "/location/latitude", "/location/longitude", "/offline_after_seconds", "/labels", "/metadata",
            ])
        let tenant = try await client.post(
            "/api/v1/tenants", token: try await Tokens.platformAdmin(), json: ["id": "Not_A_Slug", "name": ""])
        expectProblem(tenant, 422, "validation_failed")
        #expect(Set(tenant.errorPointers) == ["/id", "/name"])
        let sensor = try await client.post("/api/v1/tenants/\(t)/devices", token: admin, json: ["id": "ok"])
        #expect(sensor.status == 201)
        let badSensor = try await client.post(
            "/api/v1/tenants/\(t)/devices/ok/sensors", token: admin, json: ["key": ".x", "kind": "text", "min": 5, "max": 1])
        expectProblem(badSensor, 422, "validation_failed")
        #expect(Set(badSensor.errorPointers) == ["/key", "/kind", "/min"])
    }

    @Test("Too large bodies are 413, other content types 415")
    func transport() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let url = "/api/v1/tenants/\(t)/devices"
        let big = [UInt8]("{\"id\": \"d\", \"description\": \"\(String(repeating: "x", count: 1 << 20))\"}".utf8)
        expectProblem(
            try await client.request("POST", url, token: admin, body: big, contentType: "application/json"), 413, "body_too_large"
        )
        expectProblem(
            try await client.request(
                "POST", url, token: admin, body: Array("id=d".utf8), contentType: "application/x-www-form-urlencoded"), 415,
            "unsupported_media_type")
        expectProblem(try await client.request("POST", url, token: admin, body: Array("{}".utf8)), 415, "unsupported_media_type")
        // PATCH takes merge-patch+json (and plain JSON), nothing else.
        try await Fixtures.device(client, tenant: t, id: "d1")
        expectProblem(
            try await client.request("PATCH", url + "/d1", token: admin, body: Array("{}".utf8), contentType: "text/plain"), 415,
            "unsupported_media_type")
        #expect(try await client.request("PATCH", url + "/d1", token: admin, json: ["name": "n"]).status == 200)
    }

    @Test("Unknown routes are 404, wrong methods 405 with Allow, bad list parameters 400")
    func routing() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        expectProblem(try await client.get("/api/v1/nothing", token: admin), 404, "not_found")
        expectProblem(try await client.get("/", token: nil), 404, "not_found")
        let wrong = try await client.request("PUT", "/api/v1/tenants/\(t)/devices", token: admin, json: [:] as [String: Any])
        expectProblem(wrong, 405, "method_not_allowed")
        #expect(wrong.header("Allow") == "GET, HEAD, POST")
        let url = "/api/v1/tenants/\(t)/devices"
        for query in ["limit=0", "limit=1001", "limit=ten", "cursor=%%%", "cursor=abc", "status=sleeping", "label=nocolon"] {
            expectProblem(try await client.get("\(url)?\(query)", token: admin), 400, "invalid_parameter", "\(query)")
        }
        // An invalid tenant slug is simply a tenant that does not exist.
        expectProblem(try await client.get("/api/v1/tenants/NOT_VALID/devices", token: admin), 404, "not_found")
    }

    @Test("Every response carries X-Request-ID: a sane one is kept, anything else replaced")
    func requestID() async throws {
        let client = try await TestClient.make()
        let kept = try await client.get("/healthz", token: nil, headers: [("X-Request-ID", "abc-123.x")])
        #expect(kept.header("X-Request-ID") == "abc-123.x")
        let replaced = try await client.get("/healthz", token: nil, headers: [("X-Request-ID", "bad id with spaces")])
        let generated = try #require(replaced.header("X-Request-ID"))
        #expect(generated != "bad id with spaces" && generated.count >= 16)
        let problem = try await client.get("/api/v1/tenants", token: nil)
        #expect(problem.header("X-Request-ID") == problem.json["request_id"] as? String)
    }

    @Test("healthz, readyz and the API description need no token")
    func operations() async throws {
        let client = try await TestClient.make()
        #expect(try await client.get("/healthz", token: nil).json["status"] as? String == "ok")
        let ready = try await client.get("/readyz", token: nil)
        #expect(ready.status == 200)
        #expect(ready.json["schema"] as? String == "current")
        let spec = try await client.get("/openapi.yaml", token: nil)
        #expect(spec.status == 200)
        #expect(spec.raw.text.hasPrefix("openapi: 3"))
    }
}
