import Foundation
import InputParsing
import Testing

/// Millwright's line-protocol parser against what a real InfluxDB 1.6.7 answered and
/// stored for each body of `Tests/lineprotocol/corpus.json` (recorded by
/// `record_verdicts.py` into `verdicts.json`). Where Millwright differs on purpose, the
/// body is listed in `differences.json` with the outcome Millwright gives and why;
/// every listed difference must still hold, so the list cannot go stale.
@Suite("Line protocol as InfluxDB reads it")
struct LineProtocolConformanceTests {
    struct Entry: Decodable {
        var name: String
        var precision: String
        var body: String?
        var body_base64: String?

        var bytes: [UInt8] {
            if let body_base64, let data = Data(base64Encoded: body_base64) { return Array(data) }
            return Array((body ?? "").utf8)
        }
    }

    struct Verdict: Decodable {
        struct Field: Decodable {
            var type: String
            var value: JSONScalar
        }
        struct Point: Decodable {
            var measurement: String
            var tags: [String: String]
            var time: JSONScalar
            var fields: [String: Field]
        }
        var name: String
        var status: Int
        var error: String?
        var points: [Point]
    }

    enum JSONScalar: Decodable, Equatable {
        case integer(Int64), number(Double), string(String), bool(Bool)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? c.decode(Int64.self) {
                self = .integer(i)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else {
                self = .string(try c.decode(String.self))
            }
        }
    }

    struct Difference: Decodable {
        /// `syntax` (400), `accepted`, or the code of a 422 problem.
        var millwright: String
        var why: String
    }

    /// What Millwright's parser made of a body, in the verdicts' terms.
    enum Outcome: Equatable, CustomStringConvertible {
        case syntax
        case problem(String)
        case accepted([String])

        var description: String {
            switch self {
            case .syntax: "syntax error (400)"
            case .problem(let code): "problem \(code) (422)"
            case .accepted(let points): "accepted \(points)"
            }
        }
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("lineprotocol")

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: folder.appendingPathComponent(name)))
    }

    struct Recorded: Decodable {
        var recorded_with: String
        var verdicts: [Verdict]
    }

    /// `device|sensor|time|value` lines, sorted; a key written twice keeps its last value.
    static func millwright(_ entry: Entry) -> Outcome {
        let precision = LineProtocolParser.Precision(rawValue: entry.precision)!
        do {
            let outcome = try LineProtocolParser.parse(entry.bytes, precision: precision, deviceTag: "device")
            if let problem = outcome.problems.first { return .problem(problem.code) }
            // The validator's rule for a sensor's first kind: numbers and integers mix,
            // other kinds do not.
            var kinds: [String: SensorKind] = [:]
            for point in outcome.points {
                let sensor = point.device + "|" + point.sensor
                let kind = kinds[sensor] ?? point.newSensorKind
                kinds[sensor] = kind
                if kind != point.value.kind, !(kind.isNumeric && point.value.kind.isNumeric) { return .problem("kind_mismatch") }
            }
            var latest: [String: String] = [:]
            for point in outcome.points {
                let time = point.time.map(String.init) ?? "now"
                let value: String =
                    switch point.value {
                    case .number(let d): "float:\(d == 0 ? 0 : d)"
                    case .integer(let i): "integer:\(i)"
                    case .boolean(let b): "boolean:\(b)"
                    case .string(let s): "string:\(s.debugDescription)"
                    }
                latest["\(point.device)|\(point.sensor)|\(time)"] = value
            }
            return .accepted(latest.map { "\($0.key)|\($0.value)" }.sorted())
        } catch {
            return error.code == .syntax ? .syntax : .problem(error.problems.first?.code ?? "\(error.code)")
        }
    }

    /// What InfluxDB did, as the outcome Millwright must give without a listed difference.
    static func expected(_ verdict: Verdict) -> Outcome {
        guard verdict.status == 204 else { return .syntax }
        if verdict.points.contains(where: { ($0.tags["device"] ?? "").isEmpty }) { return .problem("missing_device_tag") }
        // Millwright keeps microseconds: points a nanosecond apart become one, the later
        // value winning, as a re-sent point does.
        func nanos(_ point: Verdict.Point) -> Int64 { if case .integer(let n) = point.time { n } else { 0 } }
        var latest: [String: String] = [:]
        for point in verdict.points.sorted(by: { nanos($0) < nanos($1) }) {
            let time: String =
                switch point.time {
                case .integer(let nanos):
                    // Millwright keeps microseconds, rounded to the nearest.
                    String(nanos / 1000 + (nanos % 1000 >= 500 ? 1 : (nanos % 1000 <= -500 ? -1 : 0)))
                default: "now"
                }
            for (key, field) in point.fields {
                let value: String =
                    switch (field.type, field.value) {
                    case ("float", .number(let d)): "float:\(d == 0 ? 0 : d)"
                    case ("float", .integer(let i)): "float:\(Double(i))"
                    case ("integer", .integer(let i)): "integer:\(i)"
                    case ("boolean", .bool(let b)): "boolean:\(b)"
                    case ("string", .string(let s)): "string:\(s.debugDescription)"
                    default: "unexpected:\(field)"
                    }
                latest["\(point.tags["device"]!)|\(point.measurement).\(key)|\(time)"] = value
            }
        }
        return .accepted(latest.map { "\($0.key)|\($0.value)" }.sorted())
    }

    @Test("Every corpus body gets InfluxDB's verdict, or the documented difference")
    func corpus() throws {
        let corpus = try Self.load("corpus.json", as: [Entry].self)
        let recorded = try Self.load("verdicts.json", as: Recorded.self)
        let differences = try Self.load("differences.json", as: [String: Difference].self)
        #expect(corpus.count >= 200)
        #expect(recorded.verdicts.map(\.name) == corpus.map(\.name), "verdicts.json is stale: run record_verdicts.py")
        let verdicts = Dictionary(uniqueKeysWithValues: recorded.verdicts.map { ($0.name, $0) })
        for name in differences.keys {
            #expect(verdicts[name] != nil, "differences.json names \(name), which is not in the corpus")
        }
        for entry in corpus {
            guard let verdict = verdicts[entry.name] else { continue }
            let got = Self.millwright(entry)
            if let difference = differences[entry.name] {
                let wanted: Outcome =
                    switch difference.millwright {
                    case "syntax": .syntax
                    case "accepted": Self.expected(verdict)
                    default: .problem(difference.millwright)
                    }
                if difference.millwright == "accepted" {
                    // Accepted where InfluxDB refused: the parse must keep every field.
                    guard case .accepted(let points) = got else {
                        Issue.record("\(entry.name): Millwright gave \(got), differences.json says accepted")
                        continue
                    }
                    #expect(!points.isEmpty, "\(entry.name)")
                    #expect(got != Self.expected(verdict), "\(entry.name) is listed as a difference but matches InfluxDB")
                } else {
                    #expect(got == wanted, "\(entry.name): Millwright gave \(got); differences.json says \(wanted)")
                    #expect(got != Self.expected(verdict), "\(entry.name) is listed as a difference but matches InfluxDB")
                }
                continue
            }
            #expect(
                got == Self.expected(verdict),
                "\(entry.name): InfluxDB \(verdict.status) \(verdict.error ?? "") → expected \(Self.expected(verdict)), Millwright gave \(got)"
            )
        }
    }
}
