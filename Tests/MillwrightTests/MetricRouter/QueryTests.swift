import Foundation
import InputParsing
import Postgres
import Testing

/// The query API over stored points: pages and cursors, aggregates, latest values,
/// parameter checking.
@Suite("Metric queries")
struct QueryTests {
    /// A tenant with device d1 whose sensor `v` holds `count` points, one a second,
    /// values 0..<count, starting `start` (µs since 1970).
    func seeded(count: Int, start: Int64) async throws -> (TestClient, String, String) {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let body = (0..<count).map { "m,device=d1 v=\($0) \(start + Int64($0) * 1_000_000)" }.joined(separator: "\n")
        let written = try await Metrics.lines(client, t, token: admin, body, query: "?precision=us")
        guard written.status == 204 else { throw TestFailure("seed failed: \(written.raw.text)") }
        return (client, t, admin)
    }

    static func minuteAligned(minutesAgo: Int64) -> Int64 {
        let now = Int64(Date().timeIntervalSince1970) / 60 * 60
        return (now - minutesAgo * 60) * 1_000_000
    }

    @Test("Points page through a cursor in both orders, inside [from, to)")
    func pages() async throws {
        let start = Self.minuteAligned(minutesAgo: 30)
        let (client, t, admin) = try await seeded(count: 250, start: start)
        let viewer = try await Tokens.viewer(t)
        let from = RFC3339.format(unixMicros: start + 10_000_000)
        let to = RFC3339.format(unixMicros: start + 210_000_000)
        for order in ["asc", "desc"] {
            var seen: [Double] = []
            var cursor: String?
            var pages = 0
            repeat {
                var query = "?from=\(from)&to=\(to)&limit=64&order=\(order)"
                if let cursor { query += "&cursor=\(cursor)" }
                let page = try await client.get("/api/v1/tenants/\(t)/devices/d1/sensors/m.v/points\(query)", token: viewer)
                #expect(page.status == 200)
                seen += (page.json["points"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? Double }
                cursor = page.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            let expected = (10..<210).map(Double.init)
            #expect(seen == (order == "asc" ? expected : expected.reversed()))
            #expect(pages == 4)
        }
        _ = admin
    }

    @Test("Aggregates: every function per bucket, typed; day buckets start at local midnight")
    func aggregates() async throws {
        let start = Self.minuteAligned(minutesAgo: 10)
        let (client, t, admin) = try await seeded(count: 180, start: start)
        try await Metrics.refreshRollup(from: start, to: start + 180_000_000)
        let from = RFC3339.format(unixMicros: start)
        let to = RFC3339.format(unixMicros: start + 180_000_000)
        let response = try await client.get(
            "/api/v1/tenants/\(t)/devices/d1/sensors/m.v/aggregates?from=\(from)&to=\(to)&interval=1m&functions=avg,min,max,sum,count,first,last",
            token: admin)
        #expect(response.status == 200)
        let buckets = response.json["buckets"] as? [[String: Any]] ?? []
        #expect(buckets.count == 3)
        for (i, bucket) in buckets.enumerated() {
            let low = Double(i * 60)
            #expect(bucket["start"] as? String == RFC3339.format(unixMicros: start + Int64(i) * 60_000_000))
            #expect(bucket["count"] as? Int == 60)
            #expect(bucket["min"] as? Double == low)
            #expect(bucket["max"] as? Double == low + 59)
            #expect(bucket["first"] as? Double == low)
            #expect(bucket["last"] as? Double == low + 59)
            #expect(bucket["avg"] as? Double == low + 29.5)
            #expect(bucket["sum"] as? Double == (low * 60 + 1770))
        }

        // An integer sensor keeps integers; a day bucket in Berlin starts at 23:00 or 22:00 UTC.
        let lines = "m,device=d1 n=7i \(start / 1_000_000)\nm,device=d1 n=5i \(start / 1_000_000 + 1)"
        #expect(try await Metrics.lines(client, t, token: admin, lines, query: "?precision=s").status == 204)
        let day = try await client.get(
            "/api/v1/tenants/\(t)/devices/d1/sensors/m.n/aggregates?from=\(RFC3339.format(unixMicros: start - 86_400_000_000))&to=\(to)&interval=1d&functions=sum,max,count&timezone=Europe/Berlin",
            token: admin)
        #expect(day.status == 200)
        let dayBucket = (day.json["buckets"] as? [[String: Any]])?.first
        #expect(dayBucket?["sum"] as? Int == 12)
        #expect(dayBucket?["max"] as? Int == 7)
        let dayStart = dayBucket?["start"] as? String ?? ""
        #expect(dayStart.hasSuffix("T23:00:00Z") || dayStart.hasSuffix("T22:00:00Z"))
    }

    @Test("Latest: one entry per sensor, null where a sensor has no points; unknown device 404")
    func latest() async throws {
        let start = Self.minuteAligned(minutesAgo: 5)
        let (client, t, admin) = try await seeded(count: 20, start: start)
        #expect(
            try await client.post(
                "/api/v1/tenants/\(t)/devices/d1/sensors", token: admin, json: ["key": "idle", "kind": "boolean"]
            ).status == 201)
        let response = try await client.get("/api/v1/tenants/\(t)/devices/d1/latest", token: try await Tokens.viewer(t))
        #expect(response.status == 200)
        let sensors = response.json["sensors"] as? [[String: Any]] ?? []
        #expect(sensors.map { $0["sensor"] as? String } == ["idle", "m.v"])
        #expect(sensors.first?["value"] is NSNull)
        #expect(sensors.last?["value"] as? Double == 19)
        #expect(sensors.last?["time"] as? String == RFC3339.format(unixMicros: start + 19_000_000))
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/ghost/latest", token: admin).status == 404)
    }

    @Test("Bad parameters: 400 naming the parameter; too many buckets and inapplicable functions 422")
    func badParameters() async throws {
        let (client, t, admin) = try await seeded(count: 1, start: Self.minuteAligned(minutesAgo: 1))
        let points = "/api/v1/tenants/\(t)/devices/d1/sensors/m.v/points"
        let aggregates = "/api/v1/tenants/\(t)/devices/d1/sensors/m.v/aggregates"
        let bad: [(String, String)] = [
            (points + "?from=yesterday", "from"), (points + "?limit=0", "limit"), (points + "?limit=10001", "limit"),
            (points + "?order=up", "order"), (points + "?cursor=zzz", "cursor"),
            (points + "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
            (aggregates + "?interval=0s", "interval"), (aggregates + "?interval=1y", "interval"),
            (aggregates + "?functions=median", "functions"), (aggregates + "?timezone=Mars/Olympus", "timezone"),
        ]
        for (path, parameter) in bad {
            let response = try await client.get(path, token: admin)
            #expect(response.status == 400, "\(path)")
            #expect(response.errorPointers == [parameter], "\(path)")
        }
        let tooMany = try await client.get(
            aggregates + "?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&interval=1m", token: admin)
        #expect(tooMany.status == 422)
        #expect(tooMany.errorCodes == ["too_many_buckets"])
        let lines = "m,device=d1 s=\"on\""
        #expect(try await Metrics.lines(client, t, token: admin, lines).status == 204)
        let notNumeric = try await client.get(
            "/api/v1/tenants/\(t)/devices/d1/sensors/m.s/aggregates?functions=avg", token: admin)
        #expect(notNumeric.status == 422)
        #expect(notNumeric.errorCodes == ["unsupported_function"])
        #expect(try await client.get("/api/v1/tenants/\(t)/devices/d1/sensors/ghost/points", token: admin).status == 404)
        let outsider = try await Tokens.viewer(try await Fixtures.tenant(client))
        #expect(try await client.get(points, token: outsider).status == 404)
    }
}

/// Values no tenant can use to break an aggregate that others share.
@Suite("Extreme values")
struct ExtremeValueTests {
    @Test("Numbers beyond 1e300 are refused; the largest accepted ones still sum and average in one minute")
    func extremes() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let minute = (Int64(Date().timeIntervalSince1970) / 60 - 2) * 60_000_000
        func at(_ seconds: Int64) -> String { RFC3339.format(unixMicros: minute + seconds * 1_000_000) }

        for huge in [1.7e308, -1.7e308, 1.0000001e300] {
            let refused = try await Metrics.write(
                client, t, token: admin, [["device": "d1", "sensor": "v", "value": huge, "time": at(1)]])
            #expect(refused.status == 422)
            #expect(refused.errorCodes == ["out_of_range"])
        }
        let line = "m,device=d1 v=1.7e308 \(minute / 1_000_000 + 1)"
        #expect(try await Metrics.lines(client, t, token: admin, line, query: "?precision=s").status == 422)

        let points = (0..<4).map { ["device": "d1", "sensor": "v", "value": 1e300, "time": at(Int64($0))] as [String: Any] }
        #expect(try await Metrics.write(client, t, token: admin, points).status == 200)
        // On TimescaleDB the shared rollup takes them: its refresh does not fail, nor does
        // the refresh policy's own job over its whole window.
        try await Metrics.refreshRollup(from: minute, to: minute + 60_000_000)
        try await Metrics.runRefreshJob()
        let response = try await client.get(
            "/api/v1/tenants/\(t)/devices/d1/sensors/v/aggregates?from=\(at(0))&to=\(at(60))&interval=1m&functions=sum,avg,max",
            token: admin)
        #expect(response.status == 200, "\(response.raw.text)")
        let bucket = (response.json["buckets"] as? [[String: Any]])?.first
        #expect(bucket?["sum"] as? Double == 4e300)
        #expect(bucket?["avg"] as? Double == 1e300)
    }
}
