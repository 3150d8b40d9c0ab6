import Foundation
import Postgres
import Tenancy

/// Sensors in the database, inside a tenant-scoped transaction the caller opened.
enum SensorStore {
    /// Creates sensors for devices (all or nothing) in one statement.
    static func create(
        _ sensors: [(deviceID: String, key: String, fields: SensorFields)], tenant: TenantID, on db: PostgresConnection
    ) throws -> [Sensor] {
        guard !sensors.isEmpty else { return [] }
        let payload = try JSONSerialization.data(
            withJSONObject: sensors.enumerated().map { n, sensor -> [String: Any] in
                let f = sensor.fields
                return [
                    "n": n, "device_id": sensor.deviceID, "key": sensor.key, "name": f.name ?? NSNull(), "kind": f.kind.rawValue,
                    "unit": f.unit ?? NSNull(), "min": f.min ?? NSNull(), "max": f.max ?? NSNull(),
                    "description": f.description ?? NSNull(),
                ]
            })
        do {
            return try db.query(
                """
                INSERT INTO millwright.sensors (tenant_id, device_id, key, name, kind, unit, min, max, description)
                SELECT \(tenant.rawValue), s.device_id, s.key, s.name, s.kind, s.unit, s.min, s.max, s.description
                FROM jsonb_to_recordset(\(String(decoding: payload, as: UTF8.self))::jsonb) AS s(
                    device_id text, key text, name text, kind text, unit text, min float8, max float8,
                    description text, n bigint)
                ORDER BY s.n
                RETURNING \(unsafeSQL: Sensor.columns)
                """
            ).rows.map(Sensor.init(row:))
        } catch let error as PostgresError where error.isUniqueViolation {
            throw RegistryError(.alreadyExists, "a sensor with this key already exists on the device")
        } catch let error as PostgresError where error.isForeignKeyViolation {
            throw RegistryError(.notFound, "no such device")
        }
    }

    /// The sensor; `forUpdate` locks its row until the transaction ends.
    static func find(device: String, key: String, on db: PostgresConnection, forUpdate: Bool = false) throws -> Sensor? {
        var query = findQuery(device: device, key: key)
        if forUpdate { query.sql += " FOR UPDATE" }
        return try sensor(from: db.query(query))
    }

    /// The statement `find` runs, for pipelining with others.
    static func findQuery(device: String, key: String) -> PostgresQuery {
        "SELECT \(unsafeSQL: Sensor.columns) FROM millwright.sensors WHERE device_id = \(device) AND key = \(key)"
    }

    static func sensor(from result: PostgresResult) throws -> Sensor? {
        try result.first.map(Sensor.init(row:))
    }

    static func list(device: String, after cursor: String?, limit: Int, on db: PostgresConnection) throws -> [Sensor] {
        try sensors(from: db.query(listQuery(device: device, after: cursor, limit: limit)))
    }

    /// The statement `list` runs, for pipelining with others: at most `limit` sensors and
    /// `PageBudget.bytes` of them.
    static func listQuery(device: String, after cursor: String?, limit: Int) -> PostgresQuery {
        let (head, tail) = PageBudget.wrapper(orderBy: "key")
        return """
            \(unsafeSQL: head)
            SELECT \(unsafeSQL: Sensor.columns),
                   (240 + octet_length(to_json(key)::text) + coalesce(octet_length(to_json(name)::text), 0)
                    + coalesce(octet_length(to_json(unit)::text), 0)
                    + coalesce(octet_length(to_json(description)::text), 0)) AS item_bytes
            FROM millwright.sensors
            WHERE device_id = \(device) AND (\(cursor)::text IS NULL OR key > \(cursor))
            ORDER BY key LIMIT \(limit)
            \(unsafeSQL: tail)
            """
    }

    /// A page of sensors from `listQuery`, and whether the byte budget cut it short.
    static func page(from result: PostgresResult) throws -> (sensors: [Sensor], truncated: Bool) {
        (try sensors(from: result), try PageBudget.truncated(result))
    }

    static func sensors(from result: PostgresResult) throws -> [Sensor] {
        try result.rows.map(Sensor.init(row:))
    }

    static func update(device: String, key: String, _ fields: SensorFields, on db: PostgresConnection) throws -> Sensor {
        let result = try db.query(
            """
            UPDATE millwright.sensors SET name = \(fields.name), unit = \(fields.unit), min = \(fields.min),
                max = \(fields.max), description = \(fields.description), updated_at = now(), version = version + 1
            WHERE device_id = \(device) AND key = \(key)
            RETURNING \(unsafeSQL: Sensor.columns)
            """)
        guard let row = result.first else { throw RegistryError(.notFound, "no sensor \(key)") }
        return try Sensor(row: row)
    }

    static func delete(device: String, key: String, on db: PostgresConnection) throws {
        let result = try db.query("DELETE FROM millwright.sensors WHERE device_id = \(device) AND key = \(key)")
        guard result.affectedRows == 1 else { throw RegistryError(.notFound, "no sensor \(key)") }
    }
}
