import Foundation
import InputParsing
import Postgres
import Testing

/// Ids are checked against their patterns before any statement, and no bound value is
/// cut short at a NUL; time zones are the ones PostgreSQL knows.
@Suite("Ids and time zones")
struct IdentifierTests {
    @Test("A NUL or any other text no id can be is 404 before SQL, and does not alias an existing id")
    func pathIDs() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let base = "/api/v1/tenants/\(t)/devices"

        let patched = try await client.patch("\(base)/d1%00evil", token: admin, json: ["name": "evil"])
        #expect(patched.status == 404)
        #expect(patched.code == "not_found")
        #expect(!patched.raw.text.contains("\\u0000") && !patched.raw.text.contains("evil"))
        #expect(try await client.get("\(base)/d1", token: admin).json["name"] as? String != "evil")

        for path in [
            "\(base)/d1%00x", "\(base)/d1%00x/latest", "\(base)/d1%20x", "\(base)/-d1", "\(base)/d1/sensors/s%00x",
            "\(base)/d1/sensors/.s", "\(base)/d1/keys", "/api/v1/tenants/\(t.uppercased())/devices",
            "/api/v1/tenants/\(t)%00x/devices",
        ] {
            let response = try await client.get(path, token: admin)
            if path.hasSuffix("/keys") {
                #expect(response.status == 200, "\(path)")
                continue
            }
            #expect(response.status == 404, "\(path) \(response.raw.text)")
            #expect(!response.raw.text.contains("\\u0000"), "\(path) echoed a NUL")
        }
        let revoke = try await client.delete("\(base)/d1/keys/not-a-key-id", token: admin)
        #expect(revoke.status == 404)
        #expect(revoke.raw.text.contains(Identifier.Kind.key.pattern.replacingOccurrences(of: "\\", with: "\\\\")))
    }

    @Test("A NUL in a query value is refused, not cut short")
    func queryValues() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1", fields: ["labels": ["line": "3"]])
        let whole = try await client.get("/api/v1/tenants/\(t)/devices?label=line:3", token: admin)
        #expect(whole.items.count == 1)
        let cut = try await client.get("/api/v1/tenants/\(t)/devices?label=line:3%00x", token: admin)
        #expect(cut.status == 422 || cut.status == 400, "\(cut.raw.text)")
        #expect(cut.items.isEmpty)
        // A cursor decoding to a key with NUL is not one this service issued.
        let cursor = Base64URL.encode(Array("kd1\u{0}x".utf8))
        #expect(try await client.get("/api/v1/tenants/\(t)/devices?cursor=\(cursor)", token: admin).status == 400)
    }

    @Test("The libpq binding refuses a NUL in any text value instead of truncating it")
    func binding() async throws {
        let error = await #expect(throws: PostgresError.self) {
            try await Metrics.asOwner { db in
                _ = try db.query("SELECT \("d1\u{0}evil")::text")
            }
        }
        #expect(error?.sqlState == "22021")
        let pipelined = await #expect(throws: PostgresError.self) {
            try await Metrics.asOwner { db in
                _ = try db.pipeline(["SELECT 1", "SELECT \("x\u{0}")::text"])
            }
        }
        #expect(pipelined?.sqlState == "22021")
        let fine = try await Metrics.asOwner { db in try db.query("SELECT \("d1")::text").first?.decode(0, as: String.self) }
        #expect(fine == "d1")
    }

    @Test("Time zones: exactly PostgreSQL's names; POSIX offsets refused, saying why")
    func timeZones() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        let devices = "/api/v1/tenants/\(t)/devices"
        for (index, zone) in ["Asia/Kolkata", "Asia/Calcutta", "Etc/GMT+5", "Europe/Berlin", "UTC"].enumerated() {
            let created = try await client.post(devices, token: admin, json: ["id": "z\(index)", "timezone": zone])
            #expect(created.status == 201, "\(zone): \(created.raw.text)")
            #expect(created.json["timezone"] as? String == zone)
        }
        let nul = try await client.post(devices, token: admin, json: ["id": "bad", "timezone": "Asia/Kolkata\u{0}"])
        #expect(nul.status == 400 && nul.errorCodes == ["invalid_character"])
        for zone in ["Mars/Olympus", "GMT+5", "UTC-03:00", "asia/kolkata"] {
            let refused = try await client.post(devices, token: admin, json: ["id": "bad", "timezone": zone])
            #expect(refused.status == 422, "\(zone): \(refused.raw.text)")
            #expect(refused.errorCodes == ["invalid_timezone"], "\(zone)")
            if zone.hasPrefix("GMT+") || zone.hasPrefix("UTC-") {
                #expect(refused.raw.text.contains("sign reversed"), "\(zone)")
            }
        }
        let patched = try await client.patch(
            "\(devices)/z0", token: admin, json: ["timezone": "GMT+5"], headers: [("If-Match", "*")])
        #expect(patched.status == 422 || patched.status == 428, "\(patched.raw.text)")

        try await Fixtures.device(client, tenant: t, id: "d1")
        #expect(try await Metrics.write(client, t, token: admin, [["device": "d1", "sensor": "v", "value": 1]]).status == 200)
        let aggregates = "/api/v1/tenants/\(t)/devices/d1/sensors/v/aggregates?interval=1d&timezone="
        #expect(try await client.get(aggregates + "Asia/Kolkata", token: admin).status == 200)
        #expect(try await client.get(aggregates + "Etc/GMT%2B5", token: admin).status == 200)
        let posix = try await client.get(aggregates + "GMT%2B5", token: admin)
        #expect(posix.status == 400)
        #expect(posix.raw.text.contains("sign reversed"))
        #expect(try await client.get(aggregates + "Mars/Olympus", token: admin).status == 400)
    }
}
