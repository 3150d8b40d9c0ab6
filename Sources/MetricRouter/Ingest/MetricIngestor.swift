import Auth
import DeviceRegistry
import Foundation
import InputParsing
import Tenancy

/// Validates parsed points against the tenant's catalog, creates sensors where a
/// device allows it, and hands the batch to the writer. A request is atomic: every
/// point is stored, or none is and the error lists the offending ones.
///
/// Start: `MetricIngestor(catalog:provisioning:writer:activity:)`; it holds no resources
/// of its own (the writer and activity services are shut down by their group).
public struct MetricIngestor: Sendable {
    public let catalog: MetricCatalog
    public let provisioning: any SensorProvisioning
    public let writer: MetricWriter
    public let activity: DeviceActivity

    /// How far in the future a point may be: 10 minutes.
    public static let maxFutureMicros: Int64 = 600_000_000

    public init(
        catalog: MetricCatalog, provisioning: any SensorProvisioning, writer: MetricWriter, activity: DeviceActivity
    ) {
        self.catalog = catalog
        self.provisioning = provisioning
        self.writer = writer
        self.activity = activity
    }

    /// Stores `points` for the context's tenant (a device key: its own device only); returns how many were stored. `earlier` are the
    /// problems the parser found in points it could not read: the request then fails,
    /// listing them together with the readable points' problems, in request order.
    public func ingest(
        _ points: [IncomingPoint], in context: TenantContext, earlier: [PointProblem] = [], earlierCount: Int = 0
    ) async throws -> Int {
        let tenant = context.tenant
        if let own = context.onlyDevice, let other = points.first(where: { $0.device != own }) {
            throw IngestError(.forbidden, "this device key may only write points of device \(own), not \(other.device)")
        }
        guard !points.isEmpty || earlierCount > 0 else { return 0 }
        let now = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        let names = Set(points.map(\.device))
        var snapshot = try await catalog.snapshot(tenant, devices: names.filter(Self.isDeviceID))
        try snapshot.status.admit(context)
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
        do {
            return try await provisioning.provision(
                sensors.keys.map { SensorRequest(device: $0.device, key: $0.key, kind: $0.kind) }, tenant: tenant, limit: limit
            ).map { (($0.device, $0.key), $0.sensor) }
        } catch let error as SensorLimitReached {
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
