import DeviceRegistry
import InputParsing
import Postgres

/// Time-bucketed aggregates of one sensor.
///
/// Buckets shorter than a day are aligned to the Unix epoch in UTC; buckets of a day
/// or longer start at midnight in `timezone` (the device's unless the caller names
/// one). With TimescaleDB, number sensors read the 1-minute continuous aggregate
/// whenever the interval is whole minutes and `from`/`to` fall on minute boundaries.
public struct AggregateQuery: Sendable {
    public typealias Function = PointQueries.AggregateFunction

    public var sensor: SeriesTarget
    public var from: Int64
    public var to: Int64
    public var intervalSeconds: Int64
    public var functions: [Function]
    public var timezone: String
    /// Whether `millwright.number_points_1m` exists (TimescaleDB).
    public var continuousAggregateAvailable: Bool

    public init(
        sensor: SeriesTarget, from: Int64, to: Int64, intervalSeconds: Int64, functions: [Function],
        timezone: String, continuousAggregateAvailable: Bool
    ) {
        self.sensor = sensor
        self.from = from
        self.to = to
        self.intervalSeconds = intervalSeconds
        self.functions = functions
        self.timezone = timezone
        self.continuousAggregateAvailable = continuousAggregateAvailable
    }

    /// At most this many buckets per query.
    public static let maxBuckets: Int64 = 10_000

    /// At most this many bytes of buckets per query (`PageBudget`).
    public static let budgetBytes = PageBudget.bytes

    /// Whether this query reads the continuous aggregate.
    public var usesContinuousAggregate: Bool {
        let minute: Int64 = 60_000_000
        return continuousAggregateAvailable && sensor.kind == .number && intervalSeconds % 60 == 0
            && from % minute == 0 && to % minute == 0
    }

    /// The buckets in order, at most `PageBudget.bytes` of them (first and last of a
    /// string sensor are what make buckets large); `buckets(from:)` says when the budget
    /// cut them short.
    ///
    /// `first` and `last` of raw points take the bucket's first and last time and read
    /// that point by its key, so a bucket costs the same memory however many points it holds.
    var query: PostgresQuery {
        let interval = "\(intervalSeconds) seconds"
        let fromText = RFC3339.format(unixMicros: from)
        let toText = RFC3339.format(unixMicros: to)
        let rollup = usesContinuousAggregate
        let timeColumn = rollup ? "bucket" : "time"
        let bucket =
            intervalSeconds >= 86_400
            ? "date_bin($1::interval, \(timeColumn) AT TIME ZONE $2, timestamp '2000-01-01') AT TIME ZONE $2"
            : "date_bin($1::interval, \(timeColumn), timestamptz 'epoch')"
        let source = rollup ? "millwright.number_points_1m" : "millwright.\(sensor.kind.rawValue)_points"
        let inner = rollup ? "sum, count, min, max, first, last, first_time, last_time" : "time, value"
        let grouped = functions.enumerated().map { offset, function in
            "\(rollup ? Self.rollupColumn(function) : column(function)) AS f\(offset)"
        }.joined(separator: ", ")
        let outer = functions.enumerated().map { offset, function in
            switch function {
            case .first where !rollup, .last where !rollup:
                "(SELECT value FROM \(source) WHERE sensor_id = $3 AND time = g.f\(offset)) AS f\(offset)"
            default: "f\(offset)"
            }
        }.joined(separator: ", ")
        let bytes =
            sensor.kind == .string
            ? functions.indices.map { "coalesce(octet_length(f\($0)::text), 4)" }.joined(separator: " + ")
            : "\(functions.count * 24)"
        let (head, tail) = PageBudget.wrapper(orderBy: "start")
        let sql = """
            \(head)
            SELECT v.*, 48 + \(bytes) AS item_bytes FROM (
                SELECT (extract(epoch FROM b) * 1000000)::bigint AS start, \(outer) FROM (
                    SELECT b, \(grouped) FROM (
                        SELECT \(bucket) AS b, \(inner) FROM \(source)
                        WHERE $2::text IS NOT NULL AND sensor_id = $3
                          AND \(timeColumn) >= $4::timestamptz AND \(timeColumn) < $5::timestamptz
                    ) x GROUP BY b
                ) g
            ) v
            \(tail)
            """
        // Every value is a bound parameter; the text varies only by code-chosen parts.
        return PostgresQuery(unsafeSQL: sql, binds: [interval, timezone, String(sensor.sensorID), fromText, toText])
    }

    private func column(_ function: Function) -> String {
        switch function {
        case .avg: "avg(value)::float8"
        case .min: "min(value)"
        case .max: "max(value)"
        case .sum: sensor.kind == .integer ? "sum(value)::bigint" : "sum(value)"
        case .count: "count(*)"
        case .first: "min(time)"
        case .last: "max(time)"
        }
    }

    private static func rollupColumn(_ function: Function) -> String {
        switch function {
        case .avg: "(sum(sum) / nullif(sum(count), 0))::float8"
        case .min: "min(min)"
        case .max: "max(max)"
        case .sum: "sum(sum)"
        case .count: "sum(count)::bigint"
        case .first: "(array_agg(first ORDER BY first_time))[1]"
        case .last: "(array_agg(last ORDER BY last_time DESC))[1]"
        }
    }

    /// The buckets of `query`, and whether the byte budget cut them short.
    func buckets(from result: PostgresResult) throws -> (buckets: [PointQueries.Bucket], truncated: Bool) {
        let buckets = try result.rows.map { row in
            var values: [Function: MetricValue?] = [:]
            for (offset, function) in functions.enumerated() {
                let column = offset + 1
                switch function {
                case .avg: values[function] = try row.decode(column, as: Double?.self).map(MetricValue.number)
                case .count: values[function] = try row.decode(column, as: Int64?.self).map(MetricValue.integer)
                default:
                    values[function] =
                        try row.decode(column, as: String?.self) == nil ? nil : try PointQueries.value(row, column, sensor.kind)
                }
            }
            return PointQueries.Bucket(start: try row.decode(0), values: values)
        }
        return (buckets, try PageBudget.truncated(result))
    }
}
