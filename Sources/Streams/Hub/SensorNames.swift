import Postgres
import Synchronization
import Tenancy

/// Sensor ids to their device and key, for the points of the stream log (which holds
/// ids only). A sensor id names one sensor for ever, so a name once read stays true;
/// a sensor deleted since has none. Bounded: forgets everything past a million names.
final class SensorNames: Sendable {
    struct Name: Sendable {
        var device: String
        var key: String
        /// Its points' JSON up to the time (`PointFragment.prefix`).
        var prefix: [UInt8]

        init(device: String, key: String) {
            self.device = device
            self.key = key
            self.prefix = PointFragment.prefix(device: device, key: key)
        }
    }

    static let maxNames = 1_000_000
    private let pool: PostgresPool
    private let known = Mutex<[Int64: Name]>([:])

    init(pool: PostgresPool) {
        self.pool = pool
    }

    /// The names of `sensors` of `tenant` that exist.
    func names(_ sensors: Set<Int64>, tenant: TenantID) async throws -> [Int64: Name] {
        var found: [Int64: Name] = [:]
        var missing: [Int64] = []
        known.withLock { known in
            for sensor in sensors {
                if let name = known[sensor] { found[sensor] = name } else { missing.append(sensor) }
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
        known.withLock { known in
            if known.count + read.count > Self.maxNames { known = [:] }
            for (sensor, name) in read { known[sensor] = name }
        }
        for (sensor, name) in read { found[sensor] = name }
        return found
    }
}
