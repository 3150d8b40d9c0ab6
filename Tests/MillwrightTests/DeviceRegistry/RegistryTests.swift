import Foundation
import InputParsing
import Testing

/// Tenants, devices, sensors and keys: create, read, change, delete, with the HTTP
/// conventions (Location, ETag, 304, If-Match, 409, 204 then 404, cursors, filters).
@Suite("Registry")
struct RegistryTests {
    @Test("Tenant lifecycle, and deleting a tenant removes everything it owns")
    func tenantLifecycle() async throws {
        let client = try await TestClient.make()
        let platform = try await Tokens.platformAdmin()
        let id = Fixtures.uniqueTenantID()
        let created = try await client.post(
            "/api/v1/tenants", token: platform, json: ["id": id, "name": "Acme", "device_limit": 5, "retention_days": 30])
        #expect(created.status == 201)
        #expect(created.header("Location") == "/api/v1/tenants/\(id)")
        #expect(created.header("ETag") != nil)
        #expect(created.json["device_limit"] as? Int == 5)
        #expect(created.json["retention_days"] as? Int == 30)
        #expect(created.json["status"] as? String == "active")
        #expect(try await client.post("/api/v1/tenants", token: platform, json: ["id": id, "name": "again"]).status == 409)

        try await Fixtures.device(client, tenant: id, id: "d1")
        let patched = try await client.patch(
            "/api/v1/tenants/\(id)", token: platform, json: ["name": "Acme Works", "retention_days": nil as Any? ?? NSNull()])
        #expect(patched.status == 200)
        #expect(patched.json["name"] as? String == "Acme Works")
        #expect(patched.json["retention_days"] as? Int == 365)  // null resets to the default
        #expect(patched.json["version"] as? Int == 2)

        // Pages of the tenant list hold every tenant once.
        var seen: [String] = []
        var cursor: String? = nil
        repeat {
            let page = try await client.get("/api/v1/tenants?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: platform)
            #expect(page.status == 200)
            seen += page.items.compactMap { $0["id"] as? String }
            cursor = page.json["next_cursor"] as? String
        } while cursor != nil
        #expect(seen.contains(id))
        #expect(Set(seen).count == seen.count)
        #expect(seen == seen.sorted())

        #expect(try await client.delete("/api/v1/tenants/\(id)", token: platform).status == 204)
        #expect(try await client.get("/api/v1/tenants/\(id)", token: platform).status == 404)
        #expect(try await client.delete("/api/v1/tenants/\(id)", token: platform).status == 404)
        // Its device went with it: re-creating the tenant starts empty.
        try await Fixtures.tenant(client, id: id)
        #expect(try await client.get("/api/v1/tenants/\(id)/devices", token: platform).items.isEmpty)
    }

    @Test("Device create, read with ETag and 304, merge patch with If-Match, delete")
    func deviceLifecycle() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let base = "/api/v1/tenants/\(t)/devices"
        let created = try await client.post(
            base, token: admin,
            json: [
                "id": "press:01", "name": "Press \"1\"\n\u{1}ü", "labels": ["line": "A", "site": "north"],
                "timezone": "Europe/Berlin",
                "location": ["latitude": 52.5, "longitude": 13.4], "metadata": ["vendor": ["name": "Acme", "year": 2019]],
                "offline_after_seconds": 60, "auto_create_sensors": false,
            ])
        #expect(created.status == 201, "\(created.raw.text)")
        #expect(created.header("Location") == "\(base)/press%3A01")
        #expect(created.json["status"] as? String == "never_seen")
        #expect(created.json["last_seen_at"] is NSNull)
        #expect((created.json["metadata"] as? [String: Any])?["vendor"] != nil)
        #expect(try await client.post(base, token: admin, json: ["id": "press:01"]).status == 409)

        let read = try await client.get("\(base)/press:01", token: admin)
        #expect(read.status == 200)
        // The device read (written directly) and the list (JSONEncoder) say the same thing.
        let listed = try #require(try await client.get(base, token: admin).items.first)
        func canonical(_ object: Any) throws -> Data {
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        }
        #expect(try canonical(read.json) == canonical(listed))
        #expect(try canonical(read.json["metadata"] ?? [:]) == canonical(["vendor": ["name": "Acme", "year": 2019]]))
        #expect(read.json["name"] as? String == "Press \"1\"\n\u{1}ü")
        let etag = try #require(read.header("ETag"))
        #expect(read.header("ETag") == created.header("ETag"))
        let notModified = try await client.get("\(base)/press:01", token: admin, headers: [("If-None-Match", etag)])
        #expect(notModified.status == 304)

        let stale = try await client.patch(
            "\(base)/press:01", token: admin, json: ["name": "x"], headers: [("If-Match", "\"nope\"")])
        #expect(stale.status == 412)
        #expect(stale.code == "precondition_failed")
        let patched = try await client.patch(
            "\(base)/press:01", token: admin,
            json: ["labels": ["site": NSNull(), "zone": "7"], "location": NSNull(), "name": NSNull()],
            headers: [("If-Match", etag)])
        #expect(patched.status == 200, "\(patched.raw.text)")
        #expect(patched.json["labels"] as? [String: String] == ["line": "A", "zone": "7"])
        #expect(patched.json["location"] is NSNull)
        #expect(patched.json["name"] is NSNull)
        #expect(patched.json["timezone"] as? String == "Europe/Berlin")
        #expect(patched.json["version"] as? Int == 2)
        #expect(patched.header("ETag") != etag)
        // The old tag no longer matches.
        #expect(
            try await client.patch("\(base)/press:01", token: admin, json: ["name": "y"], headers: [("If-Match", etag)]).status
                == 412)

        #expect(try await client.delete("\(base)/press:01", token: admin).status == 204)
        #expect(try await client.get("\(base)/press:01", token: admin).status == 404)
        #expect(try await client.delete("\(base)/press:01", token: admin).status == 404)
    }

    @Test("Device lists page with cursors and filter by labels and status")
    func deviceLists() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        for index in 0..<7 {
            try await Fixtures.device(
                client, tenant: t, id: "dev-\(index)", fields: ["labels": ["line": index % 2 == 0 ? "A" : "B", "site": "x"]])
        }
        var ids: [String] = []
        var cursor: String? = nil
        repeat {
            let page = try await client.get(
                "/api/v1/tenants/\(t)/devices?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""), token: admin)
            #expect(page.items.count <= 3)
            ids += page.items.compactMap { $0["id"] as? String }
            cursor = page.json["next_cursor"] as? String
        } while cursor != nil
        #expect(ids == (0..<7).map { "dev-\($0)" })

        let lineA = try await client.get("/api/v1/tenants/\(t)/devices?label=line:A&label=site:x", token: admin)
        #expect(lineA.items.compactMap { $0["id"] as? String } == ["dev-0", "dev-2", "dev-4", "dev-6"])
        let none = try await client.get("/api/v1/tenants/\(t)/devices?label=line:A&label=site:y", token: admin)
        #expect(none.items.isEmpty)
        let neverSeen = try await client.get("/api/v1/tenants/\(t)/devices?status=never_seen", token: admin)
        #expect(neverSeen.items.count == 7)
        let online = try await client.get("/api/v1/tenants/\(t)/devices?status=online", token: admin)
        #expect(online.items.isEmpty)
    }

    @Test("The device limit is enforced, for single and batch creation")
    func deviceLimit() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client, fields: ["device_limit": 2])
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "a")
        let batch = try await client.post(
            "/api/v1/tenants/\(t)/devices/batch", token: admin, json: ["devices": [["id": "b"], ["id": "c"]]])
        #expect(batch.status == 409)
        #expect(batch.code == "device_limit_reached")
        try await Fixtures.device(client, tenant: t, id: "b")
        let third = try await client.post("/api/v1/tenants/\(t)/devices", token: admin, json: ["id": "c"])
        #expect(third.status == 409)
        #expect(third.code == "device_limit_reached")
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/c", token: admin).status == 404)
        // Deleting one makes room for one.
        #expect(try await client.delete("/api/v1/tenants/\(t)/devices/a", token: admin).status == 204)
        #expect(try await client.post("/api/v1/tenants/\(t)/devices", token: admin, json: ["id": "c"]).status == 201)
        #expect(try await client.post("/api/v1/tenants/\(t)/devices", token: admin, json: ["id": "d"]).status == 409)
    }

    @Test("Concurrent creates never exceed the device limit")
    func deviceLimitUnderConcurrency() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client, fields: ["device_limit": 5])
        let admin = try await Tokens.tenantAdmin(t)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await client.post("/api/v1/tenants/\(t)/devices", token: admin, json: ["id": "c\(index)"]).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 201 }.count == 5)
        #expect(statuses.filter { $0 == 409 }.count == 7)
        #expect(try await client.get("/api/v1/tenants/\(t)/devices", token: admin).items.count == 5)
    }

    @Test("Batch creation is all or nothing")
    func batch() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let url = "/api/v1/tenants/\(t)/devices/batch"
        let ok = try await client.post(
            url, token: admin,
            json: [
                "devices": [
                    [
                        "id": "m1",
                        "sensors": [["key": "temp", "kind": "number", "min": 0, "max": 100], ["key": "on", "kind": "boolean"]],
                    ],
                    ["id": "m2", "labels": ["line": "B"]],
                ]
            ])
        #expect(ok.status == 201, "\(ok.raw.text)")
        #expect((ok.json["devices"] as? [[String: Any]])?.count == 2)
        let sensors = try await client.get("/api/v1/tenants/\(t)/devices/m1/sensors", token: admin)
        #expect(sensors.items.compactMap { $0["key"] as? String } == ["on", "temp"])

        // One existing id fails the whole batch: m3 is not created.
        let conflict = try await client.post(url, token: admin, json: ["devices": [["id": "m3"], ["id": "m1"]]])
        #expect(conflict.status == 409)
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/m3", token: admin).status == 404)

        // One invalid sensor fails the whole batch, with a pointer to it.
        let invalid = try await client.post(
            url, token: admin,
            json: [
                "devices": [
                    ["id": "m4"], ["id": "m5", "sensors": [["key": "x", "kind": "boolean", "min": 1]]], ["id": "m4"],
                ]
            ])
        #expect(invalid.status == 422)
        #expect(invalid.errorPointers.contains("/devices/1/sensors/0/min"))
        #expect(invalid.errorPointers.contains("/devices/2/id"))
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/m4", token: admin).status == 404)
        let tooMany = try await client.post(url, token: admin, json: ["devices": (0..<1001).map { ["id": "n\($0)"] }])
        #expect(tooMany.status == 422)
    }

    @Test("Sensors: create, kind is immutable, range rules, merge patch, delete")
    func sensors() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let base = "/api/v1/tenants/\(t)/devices/d1/sensors"
        let created = try await client.post(
            base, token: admin, json: ["key": "temp.c", "kind": "number", "unit": "°C", "min": -20, "max": 200])
        #expect(created.status == 201, "\(created.raw.text)")
        #expect(created.header("Location") == "\(base)/temp.c")
        #expect(created.json["min"] as? Double == -20)
        #expect(try await client.post(base, token: admin, json: ["key": "temp.c", "kind": "number"]).status == 409)
        #expect(
            try await client.post(
                "/api/v1/tenants/\(t)/devices/nope/sensors", token: admin, json: ["key": "k", "kind": "number"]
            ).status == 404)

        let changeKind = try await client.patch("\(base)/temp.c", token: admin, json: ["kind": "string"])
        #expect(changeKind.status == 422)
        #expect(changeKind.errorCodes.contains("immutable"))
        let badRange = try await client.patch("\(base)/temp.c", token: admin, json: ["min": 300])
        #expect(badRange.status == 422)
        let patched = try await client.patch("\(base)/temp.c", token: admin, json: ["max": NSNull(), "unit": "K"])
        #expect(patched.status == 200)
        #expect(patched.json["max"] is NSNull)
        #expect(patched.json["unit"] as? String == "K")
        #expect(patched.json["kind"] as? String == "number")

        #expect(try await client.delete("\(base)/temp.c", token: admin).status == 204)
        #expect(try await client.get("\(base)/temp.c", token: admin).status == 404)
    }

    @Test("Device keys: the secret is shown once, works as a credential, and stops working when revoked or expired")
    func deviceKeys() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let base = "/api/v1/tenants/\(t)/devices/d1/keys"
        let created = try await client.post(base, token: admin, json: ["name": "plc"])
        #expect(created.status == 201)
        let secret = try #require(created.json["secret"] as? String)
        let id = try #require(created.json["id"] as? String)
        let listed = try await client.get(base, token: admin)
        #expect(listed.items.count == 1)
        #expect(listed.items[0]["secret"] == nil)
        #expect(listed.items[0]["id"] as? String == id)

        // The key authenticates (as the device: 403 outside metric writes, not 401).
        #expect(try await client.get("/api/v1/tenants/\(t)/devices", token: secret).status == 403)
        // A wrong secret for the same key id is 401.
        let forged = String(secret.dropLast(4)) + "AAAA"
        #expect(try await client.get("/api/v1/tenants/\(t)/devices", token: forged).status == 401)

        #expect(try await client.delete("\(base)/\(id)", token: admin).status == 204)
        #expect(try await client.delete("\(base)/\(id)", token: admin).status == 404)
        #expect(try await client.get(base, token: admin).items.isEmpty)
        let revoked = try await client.get("/api/v1/tenants/\(t)/devices", token: secret)
        #expect(revoked.status == 401)

        let soon = RFC3339Format.string(Date().addingTimeInterval(4))
        let expiring = try await client.post(base, token: admin, json: ["expires_at": soon])
        #expect(expiring.status == 201)
        let expiringSecret = try #require(expiring.json["secret"] as? String)
        #expect(try await client.get("/api/v1/tenants/\(t)/devices", token: expiringSecret).status == 403)
        try await Task.sleep(for: .seconds(4.5))
        #expect(try await client.get("/api/v1/tenants/\(t)/devices", token: expiringSecret).status == 401)

        let past = try await client.post(base, token: admin, json: ["expires_at": "2020-01-01T00:00:00Z"])
        #expect(past.status == 422)
    }
}

enum RFC3339Format {
    static func string(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
