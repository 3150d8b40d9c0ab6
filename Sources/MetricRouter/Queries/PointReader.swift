import Auth
import DeviceRegistry
import Postgres
import Tenancy

/// Reading points back, as the query API calls it: the series of a sensor (from the
/// registry), its raw points, time-bucketed aggregates, and the latest point of each
/// sensor of a device.
public protocol PointReading: Sendable {
    /// Whether aggregates may read the 1-minute continuous aggregate (TimescaleDB).
    var hasContinuousAggregate: Bool { get }
    /// The sensor's series; 404 without it, 403 in a suspended tenant.
    func series(device: String, sensor: String, in context: TenantContext) async throws -> SeriesTarget
    /// Points in `[from, to)` after `cursor` in the given order: `limit + 1` at most, so
    /// that the caller knows whether a next page exists, and fewer when the page budget
    /// is reached (`truncated`).
    func points(
        _ series: SeriesTarget, from: Int64, to: Int64, after cursor: Int64?, descending: Bool, limit: Int,
        in context: TenantContext
    ) async throws -> (points: [PointQueries.StoredPoint], truncated: Bool)
    func aggregate(
        _ query: AggregateQuery, in context: TenantContext
    ) async throws
        -> (buckets: [PointQueries.Bucket], truncated: Bool)
    /// A page of the device's sensors in key order with the latest point of each.
    func latest(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [PointQueries.Latest], truncated: Bool)
}

/// Point queries on PostgreSQL: through the tenant-scoped views, in read-only
/// transactions; the registry finds the series.
///
/// Start: `PostgresPointReader(database:registry:storage:)`; it holds no resources.
public struct PostgresPointReader: PointReading {
    let database: TenantDatabase
    let registry: any SeriesLookup
    let storage: MetricStorage

    public init(database: TenantDatabase, registry: any SeriesLookup, storage: MetricStorage) {
        self.database = database
        self.registry = registry
        self.storage = storage
    }

    public var hasContinuousAggregate: Bool { storage.hasContinuousAggregate }

    public func series(device: String, sensor: String, in context: TenantContext) async throws -> SeriesTarget {
        try await registry.series(device: device, key: sensor, in: context)
    }

    public func points(
        _ series: SeriesTarget, from: Int64, to: Int64, after cursor: Int64?, descending: Bool, limit: Int,
        in context: TenantContext
    ) async throws -> (points: [PointQueries.StoredPoint], truncated: Bool) {
        let query = PointQueries.pointsQuery(series, from: from, to: to, after: cursor, descending: descending, limit: limit)
        return try await database.read(context.tenant, [query]) { results in
            try PointQueries.points(from: results[0], kind: series.kind)
        }
    }

    public func aggregate(
        _ query: AggregateQuery, in context: TenantContext
    ) async throws
        -> (buckets: [PointQueries.Bucket], truncated: Bool)
    {
        try await database.read(context.tenant, [query.query]) { results in try query.buckets(from: results[0]) }
    }

    public func latest(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [PointQueries.Latest], truncated: Bool)
    {
        let (sensors, sensorsTruncated) = try await registry.sensors(device: device, after: cursor, limit: limit, in: context)
        guard !sensors.isEmpty else { return ([], sensorsTruncated) }
        let (latest, truncated) = try await database.read(context.tenant, [PointQueries.latestQuery(sensors)]) { results in
            try PointQueries.latest(from: results[0])
        }
        return (latest, sensorsTruncated || truncated)
    }
}
