import Gzip
import InputParsing
import MetricRouter
import Postgres
import Testing

/// The ingest parsers and gzip on their own: no I/O.
@Suite("Ingest parsing")
struct IngestParsingTests {
    func lines(_ text: String, precision: LineProtocolParser.Precision = .ns) throws -> [IncomingPoint] {
        try LineProtocolParser.parse(Array(text.utf8), precision: precision, deviceTag: "device").points
    }

    @Test("Line protocol: escapes, every value form, precisions")
    func lineProtocol() throws {
        let points = try lines(#"my\ m\,x,device=a\ b,z=1 f\=1=1.5e3,i=-3i,u=7u,t=T,s="a \"q\" \\ b" 1732269600123456789"#)
        #expect(points.map(\.sensor) == ["my m,x.f=1", "my m,x.i", "my m,x.u", "my m,x.t", "my m,x.s"])
        #expect(points.allSatisfy { $0.device == "a b" })
        #expect(points.map(\.value) == [.number(1500), .integer(-3), .integer(7), .boolean(true), .string(#"a "q" \ b"#)])
        #expect(points[0].time == 1_732_269_600_123_457)  // ns rounded to µs
        #expect(try lines("m,device=d v=1 1732269600", precision: .s)[0].time == 1_732_269_600_000_000)
        #expect(try lines("m,device=d v=1 1732269600123", precision: .ms)[0].time == 1_732_269_600_123_000)
        #expect(try lines("m,device=d v=1")[0].time == nil)
    }

    @Test("Line protocol: what is not valid, with line and column")
    func lineProtocolErrors() {
        let bad = [
            "m,device=d", "m,device=d v=", "m,device=d v=1x", "m,device=d v=nan", "m,device=d v=1 12ab", ",device=d v=1",
            "m,device=d v=\"open", "m,device=d =1", "m,device v=1", "m,device=d v=-1u",
        ]
        for (number, line) in bad.enumerated() {
            let text = String(repeating: "# comment\n", count: number) + line
            #expect(throws: IngestError.self, "\(line)") {
                try LineProtocolParser.parse(Array(text.utf8), precision: .ns, deviceTag: "device")
            }
            do {
                _ = try LineProtocolParser.parse(Array(text.utf8), precision: .ns, deviceTag: "device")
            } catch {
                #expect(error.problems.first?.position.line == number + 1, "\(line)")
                #expect(error.problems.first?.code == "invalid_line")
            }
        }
    }

    @Test("Inputs that crashed the service are syntax errors (regressions)")
    func crashRegressions() throws {
        // A sign or a dot before an `i` suffix once reached `byte - 0x30` on a byte below '0'.
        for line in ["press,device=press-01 cycles=+5i", "m,device=d count=4.2i", "m,device=d c=-+1i", "m,device=d c=1-i"] {
            #expect(throws: IngestError.self, "\(line)") {
                try LineProtocolParser.parse(Array(line.utf8), precision: .ns, deviceTag: "device")
            }
        }
        #expect(DecimalText.int64(Array("+5".utf8), 0..<2) == nil)
        #expect(DecimalText.int64(Array("-9223372036854775808".utf8), 0..<20) == Int64.min)
        #expect(DecimalText.int64(Array("9223372036854775808".utf8), 0..<19) == nil)
        #expect(DecimalText.int64(Array("12".utf8), 0..<3) == nil)  // a range past the end
        // Unclosed and closed nesting 100,000 deep, at the top and inside a point's value,
        // once recursed once per level until the stack ran out.
        let deep = 100_000
        for body in [
            "{\"x\":" + String(repeating: "[", count: deep),
            "{\"x\":" + String(repeating: "[", count: deep) + String(repeating: "]", count: deep) + ",\"points\":[]}",
            "{\"points\":[{\"device\":\"d\",\"sensor\":\"s\",\"value\":" + String(repeating: "{\"a\":", count: deep),
        ] {
            do {
                _ = try JSONPointsParser.parse(Array(body.utf8))
                Issue.record("nesting \(deep) deep was accepted")
            } catch {
                #expect(error.code == .syntax)
            }
        }
        // Found by the fuzzer: an exponent past a Double's range is read as infinity (the
        // validator refuses it, 422), not as a syntax error.
        let huge = try JSONPointsParser.parse(
            Array(#"{"points": [{"device": "d1", "sensor": "s", "value": 12e345678901234567}]}"#.utf8))
        #expect(huge.points.first?.value == .number(.infinity))
        // Nesting up to the limit is read and skipped.
        let limit = JSONPointsParser.maxDepth - 1
        let nested =
            "{\"x\":" + String(repeating: "[{\"k\":", count: limit / 2) + "1" + String(repeating: "}]", count: limit / 2)
            + ",\"points\":[{\"device\":\"d\",\"sensor\":\"s\",\"value\":1,\"meta\":[[],{},[{}]]}]}"
        let parsed = try JSONPointsParser.parse(Array(nested.utf8))
        #expect(parsed.points.isEmpty && parsed.problems.first?.code == "unknown_field")
    }

    @Test("Lines with thousands of tags or fields: duplicates still found, a line never exceeds the point limit")
    func wideLines() throws {
        let tags = (0..<5_000).map { "t\($0)=v" }.joined(separator: ",")
        let wide = try lines("m,device=d,\(tags) f=1")
        #expect(wide.count == 1)
        #expect(throws: IngestError.self) { try lines("m,device=d,\(tags),t4999=w f=1") }
        let fields = (0..<20_000).map { "f\($0)=\($0)i" }.joined(separator: ",")
        let many = try lines("m,device=d \(fields),f7=8i")
        #expect(many.count == 20_000)
        #expect(many[7].value == .integer(8))  // the last value of a key given twice
        #expect(throws: IngestError.self) { try lines("m,device=d \(fields),f7=\"x\"") }
        let tooMany = (0...IngestLimits.maxPoints).map { "f\($0)=1" }.joined(separator: ",")
        #expect(throws: IngestError.self) { try lines("m,device=d \(tooMany)") }
        // RFC 3339 times before year 1 (found by the fuzzer: an offset moved 0000-01-01
        // before year 1, which formatted as garbage), and cursors outside the range.
        #expect(RFC3339.parseMicroseconds("0000-01-01T00:00:00+23:59") == nil)
        #expect(RFC3339.parseMicroseconds("0001-01-01T00:00:00Z") == RFC3339.range.lowerBound)
        #expect(RFC3339.parseMicroseconds("9999-12-31T23:59:59.999999Z") == RFC3339.range.upperBound)
        #expect(Cursor.decodeTime(Cursor.encode("t", String(Int64.max))) == nil)
        #expect(Cursor.decodeTime(Cursor.encode("t", "1732269600000000")) == 1_732_269_600_000_000)
    }

    @Test("JSON points: escapes and surrogates, integers kept apart from numbers, syntax errors")
    func jsonPoints() throws {
        let body =
            #"{"x": [1, {"y": null}], "points": [{"device": "d\u00e9", "sensor": "s\ud83d\ude00", "value": 12345678901234567}, {"device": "d", "sensor": "s", "value": -0.5e-3, "time": null}]}"#
        let parsed = try JSONPointsParser.parse(Array(body.utf8))
        #expect(parsed.problems.isEmpty)
        #expect(parsed.points.map(\.device) == ["dé", "d"])
        #expect(parsed.points[0].sensor == "s😀")
        #expect(parsed.points.map(\.value) == [.integer(12_345_678_901_234_567), .number(-0.0005)])
        for broken in [
            #"{"points": [}"#, #"{"points": [1,]}"#, #"{"points": "x"}"#, #"[]"#, #"{"points": []} x"#,
            #"{"points": [{"device": "\ud800"}]}"#, "{\"points\": [\"a\nb\"]}", #"{"points": [01]}"#,
        ] {
            #expect(throws: IngestError.self, "\(broken)") { try JSONPointsParser.parse(Array(broken.utf8)) }
        }
    }

    @Test("Timestamps format by hand and parse back exactly, before 1970, on leap days, to the microsecond")
    func timestampFormatting() {
        #expect(RFC3339.format(unixMicros: 951_782_400_000_001) == "2000-02-29T00:00:00.000001Z")
        #expect(RFC3339.format(unixMicros: -1) == "1969-12-31T23:59:59.999999Z")
        #expect(RFC3339.format(unixMicros: 1_795_417_260_120_000) == "2026-11-23T07:01:00.12Z")
        #expect(RFC3339.format(unixMicros: 253_402_300_799_000_000) == "9999-12-31T23:59:59Z")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let micros = Int64.random(in: -2_208_988_800_000_000...4_102_444_800_000_000, using: &generator)
            #expect(RFC3339.parseMicroseconds(RFC3339.format(unixMicros: micros)) == micros)
        }
    }

    @Test("gzip: round trip through zlib's own output, the cap, corrupt input")
    func gzip() throws {
        // "hello\n" compressed by gzip(1).
        let member: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20,
            0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
        ]
        #expect(try Gzip.decompress(member, limit: 100) == Array("hello\n".utf8))
        #expect(try Gzip.decompress(member + member, limit: 100) == Array("hello\nhello\n".utf8))  // concatenated members
        #expect(throws: Gzip.Error(kind: .tooLarge)) { try Gzip.decompress(member, limit: 5) }
        #expect(throws: Gzip.Error(kind: .corrupt)) { try Gzip.decompress(Array(member.prefix(15)), limit: 100) }
        #expect(throws: Gzip.Error(kind: .corrupt)) { try Gzip.decompress(Array("plain".utf8), limit: 100) }
    }
}
