import InputParsing
import Postgres

/// The points a write transaction committed for one tenant, as the live-stream log
/// (`stream_events.payload`) holds them: every kind, in the order written. Each point
/// is its sensor id and time in microseconds (8 bytes each, big-endian), a kind byte,
/// then the value: 8 bytes for a number (IEEE 754) or an integer, 1 for a boolean,
/// and for a string a 4-byte length and its UTF-8.
public enum StreamedPoints {
    public struct Point: Equatable, Sendable {
        public var sensor: Int64
        public var time: Int64
        public var value: MetricValue

        public init(sensor: Int64, time: Int64, value: MetricValue) {
            self.sensor = sensor
            self.time = time
            self.value = value
        }
    }

    private enum Kind: UInt8 {
        case number = 1, integer, boolean, string
    }

    /// The points of `batches`, packed.
    static func pack(_ batches: [PointBatch]) -> PostgresBytes {
        var packer = Packer(capacity: batches.reduce(0) { $0 + $1.bytes + $1.count })
        for batch in batches {
            let n = batch.numbers, i = batch.integers, b = batch.booleans, s = batch.strings
            for k in 0..<n.count { packer.append(n.sensorIDs[k], n.times[k], .number(n.values[k])) }
            for k in 0..<i.count { packer.append(i.sensorIDs[k], i.times[k], .integer(i.values[k])) }
            for k in 0..<b.count { packer.append(b.sensorIDs[k], b.times[k], .boolean(b.values[k])) }
            for k in 0..<s.count { packer.append(s.sensorIDs[k], s.times[k], .string(s.values[k])) }
        }
        return PostgresBytes(packer.bytes)
    }

    /// Packs `points` (for tests and tools; the writer packs its batches).
    public static func pack(_ points: [Point]) -> PostgresBytes {
        var packer = Packer(capacity: points.count * 25)
        for point in points { packer.append(point.sensor, point.time, point.value) }
        return PostgresBytes(packer.bytes)
    }

    private struct Packer {
        var bytes: [UInt8] = []

        init(capacity: Int) {
            bytes.reserveCapacity(capacity)
        }

        mutating func put(_ value: UInt64, bytes count: Int = 8) {
            for shift in stride(from: (count - 1) * 8, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }

        mutating func append(_ sensor: Int64, _ time: Int64, _ value: MetricValue) {
            put(UInt64(bitPattern: sensor))
            put(UInt64(bitPattern: time))
            switch value {
            case .number(let v):
                bytes.append(Kind.number.rawValue)
                put(v.bitPattern)
            case .integer(let v):
                bytes.append(Kind.integer.rawValue)
                put(UInt64(bitPattern: v))
            case .boolean(let v):
                bytes.append(Kind.boolean.rawValue)
                bytes.append(v ? 1 : 0)
            case .string(let v):
                bytes.append(Kind.string.rawValue)
                let utf8 = Array(v.utf8)
                // Strings are bounded far below 4 GiB by the request limits.
                let length = min(utf8.count, Int(UInt32.max))
                put(UInt64(length), bytes: 4)
                bytes.append(contentsOf: utf8.prefix(length))
            }
        }
    }

    /// The points of `bytes`; nil unless it is whole points.
    public static func unpack(_ bytes: [UInt8]) -> [Point]? {
        var points: [Point] = []
        var index = 0
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, bytes.count - index >= count else { return nil }
            defer { index += count }
            return bytes[index..<index + count]
        }
        func integer(_ count: Int) -> UInt64? {
            guard let slice = take(count) else { return nil }
            return slice.reduce(0) { $0 << 8 | UInt64($1) }
        }
        while index < bytes.count {
            guard let sensor = integer(8), let time = integer(8), let rawKind = integer(1),
                let kind = Kind(rawValue: UInt8(truncatingIfNeeded: rawKind))
            else { return nil }
            let value: MetricValue
            switch kind {
            case .number:
                guard let bits = integer(8) else { return nil }
                value = .number(Double(bitPattern: bits))
            case .integer:
                guard let bits = integer(8) else { return nil }
                value = .integer(Int64(bitPattern: bits))
            case .boolean:
                guard let byte = integer(1) else { return nil }
                value = .boolean(byte != 0)
            case .string:
                guard let length = integer(4), let text = take(Int(length)) else { return nil }
                value = .string(String(decoding: text, as: UTF8.self))
            }
            points.append(Point(sensor: Int64(bitPattern: sensor), time: Int64(bitPattern: time), value: value))
        }
        return points
    }
}
