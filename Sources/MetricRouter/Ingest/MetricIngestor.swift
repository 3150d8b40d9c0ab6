import DeviceRegistry
import Foundation
import InputParsing
import Postgres
import Tenancy

/// Validates parsed points against the tenant's catalog, creates sensors where a
/// device allows it, and hands the batch to the writer. A request is atomic: every
/// point is stored, or none is and the error lists the offending ones.
///
/// Start: `MetricIngestor(database:catalog:writer:activity:)`; it holds no resources
/// of its own (the writer and activity services are shut down by their group).
public struct MetricIngestor: Sendable {
    public let database: TenantDatabase
    public let catalog: MetricCatalog
    public let writer: MetricWriter
    public let activity: DeviceActivity

    /// How far in the future a point may be: 10 minutes.
    public static let maxFutureMicros: Int64 = 600_000_000

    public init(database: TenantDatabase, catalog: MetricCatalog, writer: MetricWriter, activity: DeviceActivity) {
        self.database = database
        self.catalog = catalog
        self.writer = writer
        self.activity = activity
    }

    /// Who is writing: a device key may only write its own device's points.
    public struct Writer: Sendable {
        public var onlyDevice: String?
        public var platformAdmin: Bool
        public init(onlyDevice: String?, platformAdmin: Bool) {
            self.onlyDevice = onlyDevice
            self.platformAdmin = platformAdmin
        }
    }

    /// Stores `points` for `tenant`; returns how many were stored. `earlier` are the
    /// problems the parser found in points it could not read: the request then fails,
    /// listing them together with the readable points' problems, in request order.
    public func ingest(
        _ points: [IncomingPoint], tenant: TenantID, writer principal: Writer, earlier: [PointProblem] = [], earlierCount: Int = 0
    ) async throws -> Int {
        if let own = principal.onlyDevice, let other = points.first(where: { $0.device != own }) {
            throw IngestError(.forbidden, "this device key may only write points of device \(own), not \(other.device)")
        }
        guard !points.isEmpty || earlierCount > 0 else { return 0 }
        let now = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        let names = Set(points.map(\.device))
        var snapshot = try await catalog.snapshot(tenant, devices: names.filter(Self.isDeviceID))
        if snapshot.status == .suspended && !principal.platformAdmin {
            throw RegistryError(.tenantSuspended, "tenant \(tenant) is suspended")
        }
        var plan = PointValidator(snapshot: snapshot, now: now).validate(points)
        if !plan.problems.isEmpty || earlierCount > 0 {
            let all = (earlier + plan.problems.problems).sorted { $0.position.sortKey < $1.position.sortKey }
            let count = earlierCount + plan.problems.count
            throw IngestError(.invalid, "\(count) point(s) were refused; nothing was stored", problems: all, problemCount: count)
        }
        if !plan.newSensors.isEmpty {
            let created = try await createSensors(plan.newSensors, tenant: tenant, limit: snapshot.sensorLimitPerDevice)
            for ((device, key), sensor) in created { snapshot.devices[device]?.sensors[key] = sensor }
            // Concurrent requests may have created some with another kind: check again.
            plan = PointValidator(snapshot: snapshot, now: now).validate(points)
            if !plan.problems.isEmpty {
                throw plan.problems.error(.invalid, "\(plan.problems.count) point(s) were refused; nothing was stored")
            }
            // A sensor deleted between its creation and now: nothing to write it to.
            guard plan.newSensors.isEmpty else {
                throw IngestError(.unavailable, "sensors changed while this request was checked; retry it")
            }
        }
        var batch = PointBatch(tenant: tenant, checkedAgainst: snapshot.stamp)
        for point in plan.resolved { batch.append(sensorID: point.sensorID, time: point.time, value: point.value) }
        try await writer.write(batch)
        activity.record(tenant: tenant, devices: names, at: now)
        return batch.count
    }

    struct NewSensor: Hashable {
        var device: String
        var key: String
        var kind: SensorKind
    }

    /// Creates the sensors (existing ones are kept), all or none; 422
    /// `sensor_limit_reached` when a device would pass the tenant's limit.
    private func createSensors(
        _ sensors: [NewSensor: [PointPosition]], tenant: TenantID, limit: Int
    ) async throws -> [((String, String), MetricCatalog.SensorEntry)] {
        let list = sensors.keys.sorted { ($0.device, $0.key) < ($1.device, $1.key) }
        let devices = PostgresTextArray(list.map(\.device))
        let keys = PostgresTextArray(list.map(\.key))
        let kinds = PostgresTextArray(list.map(\.kind.rawValue))
        // Each device once: the lock and the count take an array per device, not per
        // sensor (10 devices × 1,000 new sensors compared 10,000 ids against every sensor
        // of the tenant when its statistics were stale: 23 s per request at 2.4 million sensors).
        let distinctDevices = PostgresTextArray(Set(list.map(\.device)).sorted())
        do {
            return try await database.withTenant(tenant) { db in
                // Creators on one device queue here, so the count below is exact.
                try db.query(
                    "SELECT id FROM millwright.devices WHERE id = ANY(\(distinctDevices)::text[]) ORDER BY id FOR NO KEY UPDATE"
                )
                try db.query(
                    """
                    INSERT INTO millwright.sensors (tenant_id, device_id, key, kind)
                    SELECT current_setting('millwright.tenant_id'), d, k, c
                    FROM unnest(\(devices)::text[], \(keys)::text[], \(kinds)::text[]) AS n (d, k, c)
                    ON CONFLICT (tenant_id, device_id, key) DO NOTHING
                    """)
                let over = try db.query(
                    """
                    SELECT device_id FROM millwright.sensors WHERE device_id = ANY(\(distinctDevices)::text[])
                    GROUP BY device_id HAVING count(*) > \(limit)
                    """
                ).rows.map { try $0.decode(0, as: String.self) }
                guard over.isEmpty else { throw SensorLimit(devices: Set(over)) }
                return try db.query(
                    """
                    SELECT s.device_id, s.key, s.sensor_id, s.kind, s.min, s.max
                    FROM millwright.sensors s JOIN unnest(\(devices)::text[], \(keys)::text[]) AS n (d, k)
                      ON s.device_id = n.d AND s.key = n.k
                    """
                ).rows.map { row in
                    (
                        (try row.decode(0, as: String.self), try row.decode(1, as: String.self)),
                        try MetricCatalog.sensor(row, from: 2)
                    )
                }
            }
        } catch let error as SensorLimit {
            var problems = ProblemList()
            let refused = sensors.filter { error.devices.contains($0.key.device) }
            for (sensor, positions) in refused.sorted(by: { $0.value[0].sortKey < $1.value[0].sortKey }) {
                for position in positions {
                    problems.add(
                        PointProblem(
                            position, "sensor_limit_reached",
                            "device \(sensor.device) has reached the tenant's limit of \(limit) sensors; \(sensor.key) was not created"
                        ))
                }
            }
            throw problems.error(.invalid, "sensors were not created: a device reached the sensor limit; nothing was stored")
        }
    }

    static func isDeviceID(_ id: String) -> Bool { Identifier.isValid(id, as: .device) }

    static func isSensorKey(_ key: String) -> Bool { Identifier.isValid(key, as: .sensor) }
}

extension PointPosition {
    /// Request order: index, or line then column.
    var sortKey: Int { index ?? ((line ?? 0) << 20 | (column ?? 0)) }
}

/// Thrown inside the sensor-creating transaction to roll it back.
struct SensorLimit: Error {
    var devices: Set<String>
}
