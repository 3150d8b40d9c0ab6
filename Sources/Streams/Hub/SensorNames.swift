import Postgres
import Synchronization
import Tenancy

/// Sensor ids to their device and key, for the points of the stream log (which holds
/// ids only). A sensor id names one sensor for ever, so a name once read stays true;
/// a sensor deleted since has none. Bounded: forgets everything past a million names.
final class SensorNames: Sendable {
    final class Name: Sendable {
        let device: String
        let key: String
        /// Its points' JSON up to the time (`DevicePoints.prefix`).
        let prefix: [UInt8]

        init(device: String, key: String) {
            self.device = device
            self.key = key
            self.prefix = DevicePoints.prefix(device: device, key: key)
        }
    }

    static let maxNames = 1_000_000
    private let pool: PostgresPool
    private let known = Mutex<[Int64: Name]>([:])

    init(pool: PostgresPool) {
        self.pool = pool
    }

    /// The name of each of `sensors` of `tenant`, in order: nil for a sensor that does
    /// not exist (deleted since). One dictionary lookup a point when all are known.
    func names(of sensors: [Int64], tenant: TenantID) async throws -> [Name?] {
        var missing: Set<Int64> = []
        var found = known.withLock { known in
            sensors.map { sensor in
                let name = known[sensor]
                if name == nil { missing.insert(sensor) }
                return name
            }
        }
        guard !missing.isEmpty else { return found }
        let read = try await pool.read(
            [
                TenantDatabase.scope(tenant),
                """
                SELECT sensor_id, device_id, key FROM millwright.sensors
                WHERE tenant_id = \(tenant.rawValue) AND sensor_id = ANY(\(PostgresArrayLiteral(missing.sorted()))::bigint[])
                """,
            ]
        ) { results in
            try results[1].rows.map { row in
                (try row.decode(0, as: Int64.self), Name(device: try row.decode(1), key: try row.decode(2)))
            }
        }
        let byID = Dictionary(read, uniquingKeysWith: { first, _ in first })
        known.withLock { known in
            if known.count + byID.count > Self.maxNames { known = [:] }
            known.merge(byID) { _, new in new }
        }
        for index in found.indices where found[index] == nil {
            found[index] = byID[sensors[index]]
        }
        return found
    }
}
