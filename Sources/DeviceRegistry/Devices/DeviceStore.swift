import Foundation
import Postgres
import Tenancy

/// Devices in the database. Every function runs in a tenant-scoped transaction the
/// caller opened; row-level security keeps it inside that tenant.
public enum DeviceStore {
    /// Creates devices (one or many, all or nothing) with one statement, then checks
    /// the tenant's device limit against its count (kept by a trigger); over the limit,
    /// the caller's transaction rolls back.
    static func create(
        _ devices: [(id: String, fields: DeviceFields)], tenant: TenantID, on db: PostgresConnection
    ) throws -> [Device] {
        let created = try insert(devices, tenant: tenant, on: db)
        try checkDeviceLimit(tenant, adding: devices.count, on: db)
        return created
    }

    private static func insert(
        _ devices: [(id: String, fields: DeviceFields)], tenant: TenantID, on db: PostgresConnection
    ) throws -> [Device] {
        let payload = try JSONSerialization.data(
            withJSONObject: devices.enumerated().map { n, device -> [String: Any] in
                let f = device.fields
                return [
                    "n": n, "id": device.id, "name": f.name ?? NSNull(), "description": f.description ?? NSNull(),
                    "labels": f.labels, "timezone": f.timezone,
                    "latitude": f.location?.latitude ?? NSNull(), "longitude": f.location?.longitude ?? NSNull(),
                    "metadata": try JSONSerialization.jsonObject(with: Data(f.metadataJSON.utf8)),
                    "offline_after_seconds": f.offlineAfterSeconds, "auto_create_sensors": f.autoCreateSensors,
                ]
            })
        do {
            let result = try db.query(
                """
                INSERT INTO millwright.devices (tenant_id, id, name, description, labels, timezone, latitude, longitude,
                    metadata, offline_after_seconds, auto_create_sensors)
                SELECT \(tenant.rawValue), d.id, d.name, d.description, d.labels, d.timezone, d.latitude, d.longitude,
                    d.metadata, d.offline_after_seconds, d.auto_create_sensors
                FROM jsonb_to_recordset(\(String(decoding: payload, as: UTF8.self))::jsonb) AS d(
                    id text, name text, description text, labels jsonb, timezone text, latitude float8,
                    longitude float8, metadata jsonb, offline_after_seconds int, auto_create_sensors bool, n bigint)
                ORDER BY d.n
                RETURNING \(unsafeSQL: Device.columns)
                """)
            return try result.rows.map(Device.init(row:))
        } catch let error as PostgresError where error.isUniqueViolation {
            throw RegistryError(.alreadyExists, "a device with this id already exists")
        }
    }

    static func find(_ id: String, on db: PostgresConnection, forUpdate: Bool = false) throws -> Device? {
        var query = findQuery(id)
        if forUpdate { query.sql += " FOR UPDATE" }
        return try device(from: db.query(query))
    }

    /// The statement `find` runs, for pipelining with others.
    static func findQuery(_ id: String) -> PostgresQuery {
        "SELECT \(unsafeSQL: Device.columns) FROM millwright.devices WHERE id = \(id)"
    }

    /// The device in a result of `findQuery`, if any.
    static func device(from result: PostgresResult) throws -> Device? {
        try result.first.map(Device.init(row:))
    }

    /// Devices ordered by id after `cursor`, filtered.
    static func list(filter: DeviceFilter, after cursor: String?, limit: Int, on db: PostgresConnection) throws -> [Device] {
        try devices(from: db.query(listQuery(filter: filter, after: cursor, limit: limit)))
    }

    /// The statement `list` runs, for pipelining with others: at most `limit` devices and
    /// `PageBudget.bytes` of them.
    static func listQuery(filter: DeviceFilter, after cursor: String?, limit: Int) throws -> PostgresQuery {
        let labels = String(decoding: try JSONEncoder().encode(filter.labels), as: UTF8.self)
        let (head, tail) = PageBudget.wrapper(orderBy: "id")
        return """
            \(unsafeSQL: head)
            SELECT * FROM (SELECT \(unsafeSQL: Device.columns), json_bytes AS item_bytes
                           FROM millwright.devices
                           WHERE (\(cursor)::text IS NULL OR id > \(cursor)) AND labels @> \(labels)::jsonb) d
            WHERE \(filter.status?.rawValue)::text IS NULL OR d.status = \(filter.status?.rawValue)
            ORDER BY id LIMIT \(limit)
            \(unsafeSQL: tail)
            """
    }

    /// A page of devices from `listQuery`, and whether the byte budget cut it short.
    static func page(from result: PostgresResult) throws -> (devices: [Device], truncated: Bool) {
        (try devices(from: result), try PageBudget.truncated(result))
    }

    static func devices(from result: PostgresResult) throws -> [Device] {
        try result.rows.map(Device.init(row:))
    }

    static func update(_ id: String, _ fields: DeviceFields, on db: PostgresConnection) throws -> Device {
        let result = try db.query(
            """
            UPDATE millwright.devices SET name = \(fields.name), description = \(fields.description),
                labels = \(String(decoding: try JSONEncoder().encode(fields.labels), as: UTF8.self))::jsonb,
                timezone = \(fields.timezone), latitude = \(fields.location?.latitude),
                longitude = \(fields.location?.longitude), metadata = \(fields.metadataJSON)::jsonb,
                offline_after_seconds = \(fields.offlineAfterSeconds), auto_create_sensors = \(fields.autoCreateSensors),
                updated_at = now(), version = version + 1
            WHERE id = \(id)
            RETURNING \(unsafeSQL: Device.columns)
            """)
        guard let row = result.first else { throw RegistryError(.notFound, "no device \(id)") }
        return try Device(row: row)
    }

    /// Devices by status across every tenant (totals only, never a tenant's id), through
    /// `millwright.device_status_counts()`, which scopes itself to each tenant in turn.
    public static func statusCounts(on connection: PostgresConnection) throws -> [DeviceStatus: Int] {
        var counts: [DeviceStatus: Int] = [:]
        for row in try connection.query("SELECT status, devices FROM millwright.device_status_counts()").rows {
            if let status = DeviceStatus(rawValue: try row.decode(0, as: String.self)) {
                counts[status] = try row.decode(1, as: Int.self)
            }
        }
        return counts
    }

    /// Deletes the device with its sensors and keys.
    static func delete(_ id: String, on db: PostgresConnection) throws {
        let result = try db.query("DELETE FROM millwright.devices WHERE id = \(id)")
        guard result.affectedRows == 1 else { throw RegistryError(.notFound, "no device \(id)") }
    }

    private static func checkDeviceLimit(_ tenant: TenantID, adding count: Int, on db: PostgresConnection) throws {
        let row = try db.query(
            """
            SELECT c.devices, t.device_limit FROM millwright.tenant_device_counts c
            JOIN millwright.tenants t ON t.id = c.tenant_id WHERE c.tenant_id = \(tenant.rawValue)
            """
        ).first
        guard let row else { throw RegistryError(.notFound, "no tenant \(tenant)") }
        let devices: Int = try row.decode(0)
        let limit: Int = try row.decode(1)
        guard devices <= limit else {
            throw RegistryError(
                .deviceLimitReached, "the tenant may have \(limit) devices; it has \(devices - count) and this adds \(count)")
        }
    }
}
