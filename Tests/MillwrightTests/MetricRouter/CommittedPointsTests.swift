import MetricRouter
import Postgres
import Testing

@Suite("Committed points")
struct CommittedPointsTests {
    @Test("points survive packing, bytea hex text and unpacking exactly, negative times, negative zero and extremes included")
    func roundTrip() throws {
        let points = [
            CommittedPoints.Point(sensor: 1, time: 1_767_225_600_123_456, value: 85.5),
            CommittedPoints.Point(sensor: .max, time: -1, value: -0.0),
            CommittedPoints.Point(sensor: 42, time: .min, value: 9_007_199_254_740_993),
            CommittedPoints.Point(sensor: 7, time: 0, value: .greatestFiniteMagnitude),
        ]
        let text = try #require(CommittedPoints.pack(points).postgresText)
        #expect(text.hasPrefix("\\x00000000000000010006474846222240"))
        #expect(text.count == 2 + points.count * CommittedPoints.pointSize * 2)
        let bytes = try PostgresBytes(postgresText: text).bytes
        let unpacked = try #require(CommittedPoints.unpack(bytes))
        #expect(unpacked == points)
        #expect(unpacked[1].value.sign == .minus)
    }

    @Test("bytes that are not whole points are refused, not read past")
    func partialPoint() {
        #expect(CommittedPoints.unpack([UInt8](repeating: 1, count: 23)) == nil)
        #expect(CommittedPoints.unpack([UInt8](repeating: 1, count: 25)) == nil)
        #expect(CommittedPoints.unpack([]) == [])
    }

    @Test("bytea hex text: upper and lower case read, anything else refused")
    func hexText() throws {
        #expect(try PostgresBytes(postgresText: "\\x00ffAb").bytes == [0, 255, 0xab])
        #expect(PostgresBytes([0, 255, 0x0a]).postgresText == "\\x00ff0a")
        #expect(throws: PostgresError.self) { try PostgresBytes(postgresText: "\\x0") }
        #expect(throws: PostgresError.self) { try PostgresBytes(postgresText: "\\x0g") }
        #expect(throws: PostgresError.self) { try PostgresBytes(postgresText: "00") }
        #expect(throws: PostgresError.self) { try PostgresBytes(postgresText: "") }
    }
}
