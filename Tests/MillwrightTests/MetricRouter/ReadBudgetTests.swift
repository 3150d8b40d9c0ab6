import Foundation
import InputParsing
import Postgres
import Testing

/// Reading back is bounded in bytes, not only in items: a page stops once its items
/// reach `PageBudget.bytes` (plus the item that crossed it), and the cursor goes on from
/// there; aggregates past the budget are refused.
@Suite("Read budgets")
struct ReadBudgetTests {
    /// The most a page's body may take: the budget, one item past it, the envelope.
    static let pageBound = PageBudget.bytes + 512 * 1024

    /// Follows `next_cursor` from `path` (which has a `?`) and returns every page's body.
    static func pages(_ client: TestClient, _ path: String, token: String) async throws -> [APIResponse] {
        var pages: [APIResponse] = []
        var cursor: String?
        repeat {
            let url = path + (cursor.map { "&cursor=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! } ?? "")
            let page = try await client.get(url, token: token)
            try #require(page.status == 200, "\(page.raw.text.prefix(300))")
            pages.append(page)
            cursor = page.json["next_cursor"] as? String
        } while cursor != nil && pages.count < 100
        return pages
    }

    @Test("A list of devices with metadata and labels at their caps pages by bytes; every device comes once")
    func heavyDevices() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        // Each device: 64 labels of 256 control characters (6 bytes each in JSON) and
        // metadata near 16 KiB, about 120 KB as JSON.
        let escaped = String(repeating: "\u{1}", count: 256)
        let labels = Dictionary(uniqueKeysWithValues: (0..<64).map { ("label-\($0)", escaped) })
        let metadata = ["notes": String(repeating: "m", count: 16_000)]
        let ids = (0..<48).map { String(format: "dev-%03d", $0) }
        for id in ids {
            try await Fixtures.device(client, tenant: tenant, id: id, fields: ["labels": labels, "metadata": metadata])
        }
        let viewer = try await Tokens.viewer(tenant)
        let pages = try await Self.pages(client, "/api/v1/tenants/\(tenant)/devices?limit=1000", token: viewer)
        #expect(pages.count >= 2, "48 devices of about 120 KB do not fit one 4 MiB page")
        for page in pages {
            #expect(page.raw.body.count <= Self.pageBound, "a page of \(page.raw.body.count) bytes")
            #expect(!page.items.isEmpty)
        }
        #expect(pages.flatMap { $0.items.compactMap { $0["id"] as? String } } == ids, "every device once, in order")
        let first = try #require(pages.first?.items.first)
        #expect((first["labels"] as? [String: String])?["label-0"] == escaped)
    }

    @Test("Long strings page raw points, the latest points and refuse aggregates past the budget")
    func longStrings() async throws {
        let client = try await TestClient.make()
        let tenant = try await Fixtures.tenant(client)
        try await Fixtures.device(client, tenant: tenant, id: "logger")
        let writer = try await Tokens.writer(tenant)
        let start = Date().addingTimeInterval(-600)
        // 72 points of 64 KiB on one sensor, one second apart, each a different string;
        // and the same strings as the latest point of 72 sensors.
        let strings = (0..<72).map { String(format: "%02d", $0) + String(repeating: "x", count: 65_534) }
        for chunk in stride(from: 0, to: 72, by: 24) {
            let points: [[String: Any]] = (chunk..<chunk + 24).flatMap { i -> [[String: Any]] in
                let time = RFC3339.format(start.addingTimeInterval(Double(i)))
                return [
                    ["device": "logger", "sensor": "log", "time": time, "value": strings[i]],
                    ["device": "logger", "sensor": String(format: "line-%02d", i), "time": time, "value": strings[i]],
                ]
            }
            let response = try await Metrics.write(client, tenant, token: writer, points)
            try #require(response.status == 200, "\(response.raw.text.prefix(300))")
        }
        let viewer = try await Tokens.viewer(tenant)
        let from = RFC3339.format(start.addingTimeInterval(-1))
        let to = RFC3339.format(start.addingTimeInterval(100))
        let range = "from=\(from)&to=\(to)".replacingOccurrences(of: "+", with: "%2B")

        let base = "/api/v1/tenants/\(tenant)/devices/logger"
        let points = try await Self.pages(client, "\(base)/sensors/log/points?limit=10000&\(range)", token: viewer)
        #expect(points.count >= 2)
        for page in points { #expect(page.raw.body.count <= Self.pageBound, "a page of \(page.raw.body.count) bytes") }
        let values = points.flatMap { ($0.json["points"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String } }
        #expect(values == strings, "every point once, in time order")

        let latest = try await Self.pages(client, "\(base)/latest?limit=1000", token: viewer)
        #expect(latest.count >= 2)
        for page in latest { #expect(page.raw.body.count <= Self.pageBound, "a page of \(page.raw.body.count) bytes") }
        let sensors = latest.flatMap { ($0.json["sensors"] as? [[String: Any]] ?? []).compactMap { $0["sensor"] as? String } }
        #expect(sensors == ["line-00"] + (1..<72).map { String(format: "line-%02d", $0) } + ["log"])

        let perSecond = try await client.get(
            "\(base)/sensors/log/aggregates?interval=1s&functions=first,last&\(range)", token: viewer)
        #expect(perSecond.status == 422)
        #expect(perSecond.errorCodes == ["response_too_large"])
        let whole = try await client.get(
            "\(base)/sensors/log/aggregates?interval=1h&functions=first,last,count&\(range)", token: viewer)
        try #require(whole.status == 200, "\(whole.raw.text.prefix(300))")
        let buckets = whole.json["buckets"] as? [[String: Any]] ?? []
        let counted = buckets.compactMap { ($0["count"] as? NSNumber)?.intValue }.reduce(0, +)
        #expect(counted == 72)
        #expect((buckets.first?["first"] as? String)?.prefix(2) == "00")
        #expect((buckets.last?["last"] as? String)?.prefix(2) == "71")
    }
}
