import Postgres

/// Which metric storage the database has, read once at start.
public struct MetricStorage: Sendable {
    /// `timescaledb` or `partman`.
    public var engine: String
    public var hasContinuousAggregate: Bool

    public init(engine: String, hasContinuousAggregate: Bool) {
        self.engine = engine
        self.hasContinuousAggregate = hasContinuousAggregate
    }

    public static func load(_ connection: PostgresConnection) throws -> MetricStorage {
        let row = try connection.query(
            """
            SELECT (SELECT engine FROM millwright.metric_storage),
                   to_regclass('millwright.number_points_1m') IS NOT NULL
            """
        ).first
        return MetricStorage(
            engine: try row?.decode(0, as: String?.self) ?? "unknown", hasContinuousAggregate: try row?.decode(1) ?? false)
    }

    /// Runs `millwright.maintain_metric_storage()`: partitions made ahead (pg_partman) and
    /// each tenant's `retention_days` enforced, under an advisory lock so that one replica
    /// at a time does the work. Returns the points deleted.
    public static func maintain(on connection: PostgresConnection) throws -> Int64 {
        try connection.query("SELECT millwright.maintain_metric_storage()").first?.decode(0, as: Int64.self) ?? 0
    }
}
