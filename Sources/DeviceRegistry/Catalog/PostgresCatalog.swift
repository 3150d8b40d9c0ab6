import Auth
import Foundation
import InputParsing
import Postgres
import Tenancy

extension PostgresRegistry: CatalogSource, SensorProvisioning, LastSeenSink, SeriesLookup {
    // MARK: CatalogSource

    public func catalog(_ tenant: TenantID, devices names: Set<String>) async throws -> CatalogRead {
        var queries = [Self.catalogTenantQuery(tenant)]
        if !names.isEmpty { queries.append(Self.catalogDevicesQuery(names)) }
        return try await database.read(tenant, queries) { results in
            guard let row = results[0].first else { throw RegistryError(.notFound, "no tenant \(tenant)") }
            return CatalogRead(
                stamp: CatalogStamp(incarnation: try row.decode(4), version: try row.decode(3)),
                status: Tenant.Status(stored: try row.decode(0)),
                retentionDays: try row.decode(1), sensorLimitPerDevice: try row.decode(2),
                devices: results.count > 1 ? try Self.catalogDevices(from: results[1]) : [:])
        }
    }

    public func catalogDevices(_ tenant: TenantID, _ names: Set<String>) async throws -> [String: CatalogDevice] {
        guard !names.isEmpty else { return [:] }
        return try await database.read(tenant, [Self.catalogDevicesQuery(names)]) { try Self.catalogDevices(from: $0[0]) }
    }

    public func admit(_ tenants: [TenantID], on connection: PostgresConnection) throws -> [TenantID: CatalogStamp] {
        let rows = try connection.query(
            "SELECT tenant_id, incarnation, version FROM millwright.admit_points(\(PostgresTextArray(tenants.map(\.rawValue)))::text[])"
        )
        var current: [TenantID: CatalogStamp] = [:]
        for row in rows.rows {
            guard let tenant = TenantID(try row.decode(0, as: String.self)) else {
                throw PostgresError(code: .unexpectedResult, message: "admit_points returned a tenant id that cannot be one")
            }
            current[tenant] = CatalogStamp(incarnation: try row.decode(1), version: try row.decode(2))
        }
        return current
    }

    public func existingSensors(_ ids: [TenantID: Set<Int64>], on connection: PostgresConnection) throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let results = try connection.pipeline(
            ids.sorted { $0.key < $1.key }.flatMap { tenant, ids -> [PostgresQuery] in
                let list = PostgresArrayLiteral(ids.sorted())
                return [
                    TenantDatabase.scope(tenant),
                    "SELECT sensor_id FROM millwright.sensors WHERE sensor_id = ANY(\(list)::bigint[])",
                ]
            })
        var existing: Set<Int64> = []
        for result in results.enumerated() where result.offset % 2 == 1 {
            existing.formUnion(try result.element.rows.map { try $0.decode(0, as: Int64.self) })
        }
        return existing
    }

    static func catalogTenantQuery(_ tenant: TenantID) -> PostgresQuery {
        """
        SELECT t.status, t.retention_days, t.sensor_limit_per_device,
               coalesce((SELECT v.version FROM millwright.tenant_catalog_versions v WHERE v.tenant_id = t.id), 0),
               (extract(epoch FROM t.created_at) * 1000000)::bigint
        FROM millwright.tenants t WHERE t.id = \(tenant.rawValue)
        """
    }

    static func catalogDevicesQuery(_ names: Set<String>) -> PostgresQuery {
        """
        SELECT d.id, d.auto_create_sensors, d.timezone, s.key, s.sensor_id, s.kind, s.min, s.max
        FROM millwright.devices d
        LEFT JOIN millwright.sensors s ON s.tenant_id = d.tenant_id AND s.device_id = d.id
        WHERE d.id = ANY(\(PostgresTextArray(names.sorted()))::text[])
        """
    }

    static func catalogDevices(from result: PostgresResult) throws -> [String: CatalogDevice] {
        var devices: [String: CatalogDevice] = [:]
        for row in result.rows {
            let id = try row.decode(0, as: String.self)
            var device =
                try devices[id] ?? CatalogDevice(autoCreateSensors: try row.decode(1), sensors: [:], timezone: try row.decode(2))
            if let key = try row.decode(3, as: String?.self) {
                device.sensors[key] = try catalogSensor(row, from: 4)
            }
            devices[id] = device
        }
        return devices
    }

    /// A sensor from columns `sensor_id, kind, min, max` starting at `column`.
    static func catalogSensor(_ row: PostgresRow, from column: Int) throws -> CatalogSensor {
        CatalogSensor(
            id: try row.decode(column), kind: try sensorKind(row, column + 1), min: try row.decode(column + 2, as: Double?.self),
            max: try row.decode(column + 3, as: Double?.self))
    }

    static func sensorKind(_ row: PostgresRow, _ column: Int) throws -> SensorKind {
        let text = try row.decode(column, as: String.self)
        guard let kind = SensorKind(rawValue: text) else {
            throw PostgresError(code: .unexpectedResult, message: "unknown sensor kind \(text)")
        }
        return kind
    }

    // MARK: SensorProvisioning

    public func provision(
        _ sensors: [SensorRequest], tenant: TenantID, limit: Int
    ) async throws
        -> [(device: String, key: String, sensor: CatalogSensor)]
    {
        let list = sensors.sorted { ($0.device, $0.key) < ($1.device, $1.key) }
        let devices = PostgresTextArray(list.map(\.device))
        let keys = PostgresTextArray(list.map(\.key))
        let kinds = PostgresTextArray(list.map(\.kind.rawValue))
        // Each device once: the lock and the count take an array per device, not per
        // sensor (10 devices × 1,000 new sensors compared 10,000 ids against every sensor
        // of the tenant when its statistics were stale: 23 s per request at 2.4 million sensors).
        let distinctDevices = PostgresTextArray(Set(list.map(\.device)).sorted())
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
            // Thrown inside the transaction, so that it rolls back.
            guard over.isEmpty else { throw SensorLimitReached(devices: Set(over)) }
            return try db.query(
                """
                SELECT s.device_id, s.key, s.sensor_id, s.kind, s.min, s.max
                FROM millwright.sensors s JOIN unnest(\(devices)::text[], \(keys)::text[]) AS n (d, k)
                  ON s.device_id = n.d AND s.key = n.k
                """
            ).rows.map { row in
                (try row.decode(0, as: String.self), try row.decode(1, as: String.self), try Self.catalogSensor(row, from: 2))
            }
        }
    }

    // MARK: LastSeenSink

    public func markSeen(_ devices: [String: Int64], tenant: TenantID) async throws -> Bool {
        let names = devices.keys.sorted()
        let times = names.map { RFC3339.format(unixMicros: devices[$0] ?? 0) }
        do {
            // Devices locked for longer (being deleted, or changed in a long transaction)
            // are left for the next round: the tenants after this one are not kept
            // waiting, and no pool connection waits on them.
            try await database.withTenant(tenant, prologue: ["SET LOCAL lock_timeout = '1s'"]) { db, _ in
                _ = try db.query(
                    """
                    UPDATE millwright.devices d SET last_seen_at = s.seen
                    FROM unnest(\(PostgresTextArray(names))::text[], \(PostgresTextArray(times))::timestamptz[]) AS s (id, seen)
                    WHERE d.id = s.id AND (d.last_seen_at IS NULL OR d.last_seen_at < s.seen)
                    """)
            }
            return true
        } catch let error as PostgresError where error.sqlState == "55P03" {  // lock_not_available
            return false
        }
    }

    // MARK: SeriesLookup

    public func series(device: String, key: String, in context: TenantContext) async throws -> SeriesTarget {
        let query: PostgresQuery = """
            SELECT s.sensor_id, s.kind, d.timezone FROM millwright.sensors s
            JOIN millwright.devices d ON d.tenant_id = s.tenant_id AND d.id = s.device_id
            WHERE s.device_id = \(device) AND s.key = \(key)
            """
        return try await database.readActiveTenant(context, [query]) { results in
            guard let row = results[0].first else { throw RegistryError(.notFound, "device \(device) has no sensor \(key)") }
            return SeriesTarget(sensorID: try row.decode(0), kind: try Self.sensorKind(row, 1), deviceTimezone: try row.decode(2))
        }
    }
}
