import DeviceRegistry
import InputParsing
import Postgres

/// The statements behind the query API and the decoding of their rows. They read
/// only through the tenant-scoped views (`millwright.*_points`), so they run inside
/// a tenant-scoped read transaction and cannot see another tenant's points.
public enum PointQueries {
    /// A point read back; the value keeps its kind.
    public struct StoredPoint: Sendable, Equatable {
        public var time: Int64
        public var value: MetricValue

        public init(time: Int64, value: MetricValue) {
            self.time = time
            self.value = value
        }
    }

    /// One time bucket of an aggregate query; absent functions are nil.
    public struct Bucket: Sendable {
        public var start: Int64
        public var values: [AggregateFunction: MetricValue?]

        public init(start: Int64, values: [AggregateFunction: MetricValue?]) {
            self.start = start
            self.values = values
        }
    }

    public enum AggregateFunction: String, Sendable, CaseIterable, Hashable {
        case avg, min, max, sum, count, first, last

        /// Whether the function applies to a kind (all take count, first and last).
        public func applies(to kind: SensorKind) -> Bool {
            switch self {
            case .count, .first, .last: true
            case .min, .max, .avg, .sum: kind.isNumeric
            }
        }
    }

    /// Raw points in `[from, to)`, after `cursor` (exclusive) in the given order;
    /// `limit + 1` rows so that the caller knows whether a next page exists, and at most
    /// `PageBudget.bytes` of them (strings are what make points large).
    static func pointsQuery(
        _ sensor: SeriesTarget, from: Int64, to: Int64, after cursor: Int64?, descending: Bool, limit: Int
    ) -> PostgresQuery {
        let view = "millwright.\(sensor.kind.rawValue)_points"
        let fromText = RFC3339.format(unixMicros: from)
        let toText = RFC3339.format(unixMicros: to)
        let cursorText = cursor.map { RFC3339.format(unixMicros: $0) }
        let (head, tail) = PageBudget.wrapper(orderBy: descending ? "t DESC" : "t")
        let bytes = sensor.kind == .string ? "56 + octet_length(value)" : "64"
        return """
            \(unsafeSQL: head)
            SELECT (extract(epoch FROM time) * 1000000)::bigint AS t, value, \(unsafeSQL: bytes) AS item_bytes
            FROM \(unsafeSQL: view)
            WHERE sensor_id = \(sensor.sensorID) AND time >= \(fromText)::timestamptz AND time < \(toText)::timestamptz
              AND (\(cursorText)::timestamptz IS NULL OR time \(unsafeSQL: descending ? "<" : ">") \(cursorText)::timestamptz)
            ORDER BY time \(unsafeSQL: descending ? "DESC" : "ASC") LIMIT \(limit + 1)
            \(unsafeSQL: tail)
            """
    }

    /// Points from `pointsQuery`, and whether the byte budget cut them short.
    static func points(from result: PostgresResult, kind: SensorKind) throws -> (points: [StoredPoint], truncated: Bool) {
        let points = try result.rows.map { row in
            StoredPoint(time: try row.decode(0), value: try value(row, 1, kind))
        }
        return (points, try PageBudget.truncated(result))
    }

    /// The latest point of each of `sensors` (a page of a device's sensors, in key
    /// order; one index probe each), sensors without points included with nil: at most
    /// `PageBudget.bytes` of them.
    static func latestQuery(_ sensors: [Sensor]) -> PostgresQuery {
        let keys = PostgresTextArray(sensors.map(\.key))
        let ids = PostgresArrayLiteral(sensors.map(\.sensorID))
        let kinds = PostgresTextArray(sensors.map(\.fields.kind.rawValue))
        let (head, tail) = PageBudget.wrapper(orderBy: "n")
        return """
            \(unsafeSQL: head)
            SELECT s.key, s.kind, (extract(epoch FROM p.time) * 1000000)::bigint, p.value::text,
                   128 + octet_length(to_json(s.key)::text) + coalesce(octet_length(p.value), 0) AS item_bytes, s.n
            FROM unnest(\(keys)::text[], \(ids)::bigint[], \(kinds)::text[]) WITH ORDINALITY AS s (key, sensor_id, kind, n)
            LEFT JOIN LATERAL (
                SELECT time, value::text FROM millwright.number_points WHERE s.kind = 'number' AND sensor_id = s.sensor_id
                ORDER BY time DESC LIMIT 1) n ON true
            LEFT JOIN LATERAL (
                SELECT time, value::text FROM millwright.integer_points WHERE s.kind = 'integer' AND sensor_id = s.sensor_id
                ORDER BY time DESC LIMIT 1) i ON true
            LEFT JOIN LATERAL (
                SELECT time, value::text FROM millwright.boolean_points WHERE s.kind = 'boolean' AND sensor_id = s.sensor_id
                ORDER BY time DESC LIMIT 1) b ON true
            LEFT JOIN LATERAL (
                SELECT time, value FROM millwright.string_points WHERE s.kind = 'string' AND sensor_id = s.sensor_id
                ORDER BY time DESC LIMIT 1) t ON true
            CROSS JOIN LATERAL (SELECT coalesce(n.time, i.time, b.time, t.time) AS time,
                                       coalesce(n.value, i.value, b.value, t.value) AS value) p
            ORDER BY s.n
            \(unsafeSQL: tail)
            """
    }

    public struct Latest: Sendable {
        public var sensor: String
        public var kind: SensorKind
        public var point: StoredPoint?

        public init(sensor: String, kind: SensorKind, point: StoredPoint?) {
            self.sensor = sensor
            self.kind = kind
            self.point = point
        }
    }

    /// Sensors from `latestQuery`, and whether the byte budget cut them short.
    static func latest(from result: PostgresResult) throws -> (sensors: [Latest], truncated: Bool) {
        let sensors = try result.rows.map { row in
            let kindText = try row.decode(1, as: String.self)
            guard let kind = SensorKind(rawValue: kindText) else {
                throw PostgresError(code: .unexpectedResult, message: "unknown sensor kind \(kindText)")
            }
            var point: StoredPoint?
            if let time = try row.decode(2, as: Int64?.self) {
                point = StoredPoint(time: time, value: try value(row, 3, kind))
            }
            return Latest(sensor: try row.decode(0), kind: kind, point: point)
        }
        return (sensors, try PageBudget.truncated(result))
    }

    static func value(_ row: PostgresRow, _ column: Int, _ kind: SensorKind) throws -> MetricValue {
        switch kind {
        case .number: .number(try row.decode(column))
        case .integer: .integer(try row.decode(column))
        case .boolean: .boolean(try row.decode(column))
        case .string: .string(try row.decode(column))
        }
    }
}
