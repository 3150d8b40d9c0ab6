import CZlib
import Foundation
import InputParsing
import Postgres
import Testing

/// Line protocol (`/write`), the InfluxDB v2 write API (`/api/v2/write`), gzip bodies
/// and the size limits, over real HTTP.
@Suite("Line protocol and InfluxDB compatibility")
struct LineProtocolTests {
    @Test("Fields become <measurement>.<field> sensors of the device in the tag, typed by their suffix")
    func fieldsAndKinds() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "press-01")
        let seconds = Int(Date().timeIntervalSince1970) - 30
        let body = """
            # a comment, then a blank line

            machine,device=press-01,site=north load=1.5,count=3i,ok=true,state="run \\"A\\"" \(seconds)
            machine,site=north,device=press-01 load=2,count=4u \(seconds + 1)
            """
        let response = try await Metrics.lines(client, t, token: admin, body, query: "?precision=s")
        #expect(response.status == 204)
        let sensors = try await client.get("/api/v1/tenants/\(t)/devices/press-01/sensors", token: admin)
        let kinds = Dictionary(uniqueKeysWithValues: sensors.items.map { ($0["key"] as! String, $0["kind"] as! String) })
        #expect(
            kinds == ["machine.load": "number", "machine.count": "integer", "machine.ok": "boolean", "machine.state": "string"])
        let counts = try await Metrics.points(client, t, device: "press-01", sensor: "machine.count", token: admin)
        #expect(counts.map { $0.1 as? Int } == [3, 4])
        #expect(counts.first?.0 == RFC3339.format(unixMicros: Int64(seconds) * 1_000_000))
        let state = try await Metrics.points(client, t, device: "press-01", sensor: "machine.state", token: admin)
        #expect(state.first?.1 as? String == "run \"A\"")
    }

    @Test("Syntax errors answer 400 with line and column; meaning errors 422; nothing is stored")
    func lineErrors() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let now = Int(Date().timeIntervalSince1970 * 1e9)
        let broken = "m,device=d1 v=1 \(now)\nm,device=d1 v=abc\nm,device=d1\nm,device=d1 v=\"open\n"
        let syntax = try await Metrics.lines(client, t, token: admin, broken)
        #expect(syntax.status == 400)
        #expect(Set(syntax.errorCodes) == ["invalid_line"])
        #expect(syntax.errors.map { $0["line"] as? Int } == [2, 3, 4])
        #expect(syntax.errors.first?["column"] as? Int == 15)  // where "abc" starts
        let meaning = try await Metrics.lines(client, t, token: admin, "m,device=d1 v=1\nm,host=x v=2\nm,device=ghost v=3\n")
        #expect(meaning.status == 422)
        #expect(meaning.errorCodes == ["missing_device_tag", "unknown_device"])
        #expect(meaning.errors.map { $0["line"] as? Int } == [2, 3])
        #expect(try await Metrics.storedRows(t) == 0)
        let badPrecision = try await Metrics.lines(client, t, token: admin, "m,device=d1 v=1", query: "?precision=h")
        #expect(badPrecision.status == 400)
        let customTag = try await Metrics.lines(client, t, token: admin, "m,host=d1 v=1", query: "?device_tag=host")
        #expect(customTag.status == 204)
    }

    @Test("/api/v2/write takes `Token` credentials and answers errors as InfluxDB does")
    func influxV2() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        func write(
            _ body: String, query: String, token: String? = writer, headers: [(String, String)] = []
        ) async throws -> APIResponse {
            var all = headers
            if let token { all.append(("Authorization", "Token \(token)")) }
            return try await client.request(
                "POST", "/api/v2/write\(query)", body: Array(body.utf8), contentType: "text/plain; charset=utf-8", headers: all)
        }
        let ok = try await write("cpu,device=d1 usage=0.5", query: "?org=\(t)&bucket=b&precision=ns")
        #expect(ok.status == 204)
        #expect(try await Metrics.storedRows(t) == 1)

        let invalid = try await write("cpu,device=d1 usage=", query: "?org=\(t)&bucket=b")
        #expect(invalid.status == 400)
        #expect(invalid.json["code"] as? String == "invalid")
        #expect(invalid.json["line"] as? Int == 1)
        #expect(invalid.header("X-Influx-Error")?.isEmpty == false)
        #expect(invalid.header("Content-Type")?.hasPrefix("application/json") == true)

        let unknown = try await write("cpu,device=ghost usage=1", query: "?org=\(t)&bucket=b")
        #expect(unknown.status == 422)
        #expect(unknown.json["code"] as? String == "unprocessable entity")

        let noOrg = try await write("cpu,device=d1 usage=1", query: "?bucket=b")
        #expect(noOrg.status == 400)
        let unauthenticated = try await write("cpu,device=d1 usage=1", query: "?org=\(t)&bucket=b", token: nil)
        #expect(unauthenticated.status == 401)
        #expect(unauthenticated.json["code"] as? String == "unauthorized")
        let outsider = try await write(
            "cpu,device=d1 usage=1", query: "?org=\(t)&bucket=b",
            token: try await Tokens.writer(try await Fixtures.tenant(client)))
        #expect(outsider.status == 404)
        #expect(outsider.json["code"] as? String == "not found")

        let big = [UInt8](repeating: UInt8(ascii: "a"), count: (10 << 20) + 1)
        let tooLarge = try await client.request(
            "POST", "/api/v2/write?org=\(t)&bucket=b", body: big, contentType: "text/plain",
            headers: [("Authorization", "Token \(writer)")])
        #expect(tooLarge.status == 413)
        #expect(tooLarge.json["code"] as? String == "request too large")
        #expect(tooLarge.json["maxLength"] as? Int == 10 << 20)
    }

    @Test("Bodies that once crashed the service answer 400 to a device key, and the service keeps serving")
    func crashRegressions() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "press-01")
        let created = try await client.post("/api/v1/tenants/\(t)/devices/press-01/keys", token: admin, json: ["name": "plc"])
        let key = try #require(created.json["secret"] as? String)
        let v2 = try await Metrics.influx(client, t, token: key, "press,device=press-01 cycles=+5i")
        #expect(v2.status == 400)
        #expect(v2.json["code"] as? String == "invalid")
        let v1 = try await Metrics.lines(client, t, token: key, "press,device=press-01 count=4.2i")
        #expect(v1.status == 400)
        // 120 bytes of gzip that expand to 100,000 unclosed brackets.
        let deep = try gzip(Array(("{\"x\":" + String(repeating: "[", count: 100_000)).utf8))
        #expect(deep.count < 1000)
        let nested = try await client.request(
            "POST", "/api/v1/tenants/\(t)/metrics", token: key, body: deep, contentType: "application/json",
            headers: [("Content-Encoding", "gzip")])
        #expect(nested.status == 400)
        #expect(nested.json["code"] as? String == "malformed_body" || nested.json["code"] as? String == "invalid_body")
        let after = try await Metrics.influx(client, t, token: key, "press,device=press-01 cycles=5i")
        #expect(after.status == 204)
        #expect(try await Metrics.storedRows(t) == 1)
    }

    @Test("gzip bodies are accepted; a gzip bomb gets 413 and corrupt gzip 400")
    func gzipBodies() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let lines = (0..<2000).map { "m,device=d1 v=\($0) \(Int(Date().timeIntervalSince1970) - 3000 + $0)" }.joined(
            separator: "\n")
        let compressed = try gzip(Array(lines.utf8))
        let ok = try await client.request(
            "POST", "/api/v1/tenants/\(t)/write?precision=s", token: admin, body: compressed, contentType: "text/plain",
            headers: [("Content-Encoding", "gzip")])
        #expect(ok.status == 204)
        #expect(try await Metrics.storedRows(t) == 2000)

        let json = try JSONSerialization.data(withJSONObject: ["points": [["device": "d1", "sensor": "j", "value": 1]]])
        let okJSON = try await client.request(
            "POST", "/api/v1/tenants/\(t)/metrics", token: admin, body: try gzip([UInt8](json)), contentType: "application/json",
            headers: [("Content-Encoding", "gzip")])
        #expect(okJSON.status == 200)

        // 64 MiB of zeros compress to ~64 KiB: refused once past 10 MiB of output.
        let bomb = try gzip([UInt8](repeating: 0x30, count: 64 << 20))
        #expect(bomb.count < 1 << 20)
        let refused = try await client.request(
            "POST", "/api/v1/tenants/\(t)/write", token: admin, body: bomb, contentType: "text/plain",
            headers: [("Content-Encoding", "gzip")])
        #expect(refused.status == 413)
        let corrupt = try await client.request(
            "POST", "/api/v1/tenants/\(t)/write", token: admin, body: Array(compressed.prefix(100)), contentType: "text/plain",
            headers: [("Content-Encoding", "gzip")])
        #expect(corrupt.status == 400)
        let unsupported = try await client.request(
            "POST", "/api/v1/tenants/\(t)/write", token: admin, body: compressed, contentType: "text/plain",
            headers: [("Content-Encoding", "br")])
        #expect(unsupported.status == 415)
        #expect(try await Metrics.storedRows(t) == 2001)
    }

    @Test("More than 100,000 points in one request is refused with 413")
    func pointLimit() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let line = "m,device=d1 a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10\n"
        let body = String(repeating: line, count: 10_001)  // 100,010 points
        let response = try await Metrics.lines(client, t, token: admin, body)
        #expect(response.status == 413)
        #expect(response.code == "too_many_points")
    }

    /// gzip with zlib itself (the format the service must read).
    func gzip(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard
            deflateInit2_(
                &stream, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { throw TestFailure("deflateInit2 failed") }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
        var source = input
        let status = source.withUnsafeMutableBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = UInt32(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = UInt32(dst.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw TestFailure("deflate failed: \(status)") }
        return Array(output.prefix(Int(stream.total_out)))
    }
}
