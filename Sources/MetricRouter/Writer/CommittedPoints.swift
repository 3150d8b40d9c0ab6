import Postgres

/// The number and integer points a write transaction committed for one tenant, as
/// `point_commits.points` holds them for the alert evaluator: 24 bytes a point (sensor
/// id, time in microseconds since the epoch, value as a double; big-endian), in the
/// order written. The evaluator evaluates these instead of reading the points back
/// from the point tables.
public enum CommittedPoints {
    public static let pointSize = 24

    public struct Point: Equatable, Sendable {
        public var sensor: Int64
        public var time: Int64
        public var value: Double

        public init(sensor: Int64, time: Int64, value: Double) {
            self.sensor = sensor
            self.time = time
            self.value = value
        }
    }

    /// The number and integer points of `batches`, packed (integers as doubles, as
    /// thresholds compare them).
    static func pack(_ batches: [PointBatch]) -> PostgresBytes {
        var points: [Point] = []
        points.reserveCapacity(batches.reduce(0) { $0 + $1.numbers.count + $1.integers.count })
        for batch in batches {
            let numbers = batch.numbers, integers = batch.integers
            for i in 0..<numbers.count {
                points.append(Point(sensor: numbers.sensorIDs[i], time: numbers.times[i], value: numbers.values[i]))
            }
            for i in 0..<integers.count {
                points.append(Point(sensor: integers.sensorIDs[i], time: integers.times[i], value: Double(integers.values[i])))
            }
        }
        return pack(points)
    }

    public static func pack(_ points: [Point]) -> PostgresBytes {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(points.count * pointSize)
        func put(_ value: UInt64) {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        for point in points {
            put(UInt64(bitPattern: point.sensor))
            put(UInt64(bitPattern: point.time))
            put(point.value.bitPattern)
        }
        return PostgresBytes(bytes)
    }

    /// The points of `bytes`; nil unless it is whole points.
    public static func unpack(_ bytes: [UInt8]) -> [Point]? {
        guard bytes.count % pointSize == 0 else { return nil }
        var points: [Point] = []
        points.reserveCapacity(bytes.count / pointSize)
        var index = bytes.startIndex
        func take() -> UInt64 {
            var value: UInt64 = 0
            for byte in bytes[index..<index + 8] { value = value << 8 | UInt64(byte) }
            index += 8
            return value
        }
        while index < bytes.endIndex {
            let sensor = Int64(bitPattern: take())
            let time = Int64(bitPattern: take())
            points.append(Point(sensor: sensor, time: time, value: Double(bitPattern: take())))
        }
        return points
    }
}
