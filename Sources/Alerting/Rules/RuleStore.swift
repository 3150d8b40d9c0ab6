import DeviceRegistry
import Foundation
import Postgres
import Tenancy

/// Alert rules in the database; every function runs in a tenant-scoped transaction the
/// caller opened.
enum RuleStore {
    static let columns = """
        id, name, description, severity, enabled, labels, channels, device_id, selector, sensor_key, condition, operator,
        low, high, for_seconds, window_seconds, z_threshold, min_samples, resolve_for_seconds, repeat_every_seconds,
        created_at, updated_at, version
        """

    static func create(_ fields: RuleFields, tenant: TenantID, on db: PostgresConnection) throws -> AlertRule {
        try check(fields, on: db)
        let c = Columns(fields)
        let result = try db.query(
            """
            INSERT INTO millwright.alert_rules (tenant_id, name, description, severity, enabled, labels, channels, device_id,
                selector, sensor_key, condition, operator, low, high, for_seconds, window_seconds, z_threshold, min_samples,
                resolve_for_seconds, repeat_every_seconds)
            VALUES (\(tenant.rawValue), \(fields.name), \(fields.description), \(fields.severity.rawValue), \(fields.enabled),
                \(c.labels)::jsonb, \(c.channels)::uuid[], \(c.device), \(c.selector)::jsonb, \(fields.sensorKey),
                \(fields.condition.kind), \(c.op), \(c.low), \(c.high), \(c.forSeconds), \(c.window), \(c.z), \(c.minSamples),
                \(fields.resolveForSeconds), \(fields.repeatEverySeconds))
            RETURNING \(unsafeSQL: columns)
            """)
        let row = try db.query(
            """
            SELECT c.rules, t.alert_rule_limit FROM millwright.tenant_alert_rule_counts c
            JOIN millwright.tenants t ON t.id = c.tenant_id WHERE c.tenant_id = \(tenant.rawValue)
            """
        ).first
        if let row {
            let (rules, limit): (Int, Int) = (try row.decode(0), try row.decode(1))
            guard rules <= limit else {
                throw RegistryError(.alertRuleLimitReached, "the tenant may have \(limit) alert rules")
            }
        }
        guard let created = result.first else { throw RegistryError(.notFound, "the rule was not created") }
        return try rule(from: created)
    }

    static func findQuery(_ id: UUID) -> PostgresQuery {
        "SELECT \(unsafeSQL: columns) FROM millwright.alert_rules WHERE id = \(id)"
    }

    static func listQuery(after cursor: UUID?, limit: Int) -> PostgresQuery {
        """
        SELECT \(unsafeSQL: columns) FROM millwright.alert_rules
        WHERE \(cursor)::uuid IS NULL OR id > \(cursor)::uuid ORDER BY id LIMIT \(limit)
        """
    }

    static func find(_ id: UUID, on db: PostgresConnection, forUpdate: Bool) throws -> AlertRule? {
        var query = findQuery(id)
        if forUpdate { query.sql += " FOR UPDATE" }
        return try db.query(query).first.map(rule(from:))
    }

    static func update(
        _ id: UUID, from current: AlertRule, to fields: RuleFields, on db: PostgresConnection
    ) throws
        -> AlertRule
    {
        try check(fields, on: db)
        let restart =
            !fields.enabled || fields.target != current.fields.target || fields.sensorKey != current.fields.sensorKey
            || fields.condition != current.fields.condition
        if restart {
            try AlertStore.resolveFiring(rule: id, reason: fields.enabled ? "rule_changed" : "rule_disabled", on: db)
            _ = try db.query("DELETE FROM millwright.alert_series WHERE rule_id = \(id)")
        }
        let c = Columns(fields)
        let result = try db.query(
            """
            UPDATE millwright.alert_rules SET name = \(fields.name), description = \(fields.description),
                severity = \(fields.severity.rawValue), enabled = \(fields.enabled), labels = \(c.labels)::jsonb,
                channels = \(c.channels)::uuid[], device_id = \(c.device), selector = \(c.selector)::jsonb,
                sensor_key = \(fields.sensorKey), condition = \(fields.condition.kind), operator = \(c.op), low = \(c.low),
                high = \(c.high), for_seconds = \(c.forSeconds), window_seconds = \(c.window), z_threshold = \(c.z),
                min_samples = \(c.minSamples), resolve_for_seconds = \(fields.resolveForSeconds),
                repeat_every_seconds = \(fields.repeatEverySeconds), updated_at = now(), version = version + 1
            WHERE id = \(id)
            RETURNING \(unsafeSQL: columns)
            """)
        guard let row = result.first else { throw RegistryError(.notFound, "no alert rule \(id)") }
        return try rule(from: row)
    }

    static func delete(_ id: UUID, on db: PostgresConnection) throws {
        try AlertStore.resolveFiring(rule: id, reason: "rule_deleted", on: db)
        let result = try db.query("DELETE FROM millwright.alert_rules WHERE id = \(id)")
        guard result.affectedRows == 1 else { throw RegistryError(.notFound, "no alert rule \(id)") }
    }

    /// What only the database knows: the device exists, the sensor (where it exists) has
    /// numbers, the channels are the tenant's. One round trip.
    private static func check(_ fields: RuleFields, on db: PostgresConnection) throws {
        let c = Columns(fields)
        let numeric = fields.condition.kind != "silence"
        let results = try db.pipeline([
            "SELECT count(*) FROM millwright.devices WHERE id = \(c.device)",
            """
            SELECT s.device_id, s.kind FROM millwright.sensors s JOIN millwright.devices d ON d.id = s.device_id
            WHERE \(numeric) AND s.key = \(fields.sensorKey) AND s.kind NOT IN ('number', 'integer')
              AND (d.id = \(c.device) OR (\(c.device)::text IS NULL AND d.labels @> \(c.selector)::jsonb))
            ORDER BY s.device_id LIMIT 1
            """,
            "SELECT id FROM millwright.notification_channels WHERE id = ANY(\(c.channels)::uuid[])",
        ])
        if c.device != nil, try results[0].first?.decode(0, as: Int.self) == 0 {
            throw RuleRefused(pointer: "/device", code: "unknown_device", message: "the tenant has no such device")
        }
        if let row = results[1].first {
            let (device, kind): (String, String) = (try row.decode(0), try row.decode(1))
            throw RuleRefused(
                pointer: "/sensor", code: "invalid_sensor_kind",
                message:
                    "\(fields.condition.kind) rules need a number or integer sensor; \(device)/\(fields.sensorKey ?? "") is \(kind)"
            )
        }
        let known = Set(try results[2].rows.map { try $0.decode(0, as: UUID.self) })
        for (index, channel) in fields.channels.enumerated() where !known.contains(channel) {
            throw RuleRefused(
                pointer: "/channels/\(index)", code: "unknown_channel", message: "the tenant has no channel \(channel)")
        }
    }

    static func rule(from row: PostgresRow) throws -> AlertRule {
        let condition: Condition
        switch try row.decode(10, as: String.self) {
        case "threshold":
            let op = Condition.Operator(rawValue: try row.decode(11, as: String?.self) ?? "") ?? .above
            condition = .threshold(op, low: try row.decode(12), high: try row.decode(13), forSeconds: try row.decode(14))
        case "anomaly":
            condition = .anomaly(
                windowSeconds: try row.decode(15), threshold: try row.decode(16), minSamples: try row.decode(17))
        default:
            condition = .silence(forSeconds: try row.decode(14))
        }
        let target: RuleTarget
        if let device = try row.decode(7, as: String?.self) {
            target = .device(device)
        } else {
            target = .selector(try JSONText.labels(try row.decode(8, as: String?.self) ?? "{}"))
        }
        var fields = RuleFields(
            name: try row.decode(1), target: target, sensorKey: try row.decode(9), condition: condition)
        fields.description = try row.decode(2)
        fields.severity = Severity(rawValue: try row.decode(3)) ?? .critical
        fields.enabled = try row.decode(4)
        fields.labels = try JSONText.labels(try row.decode(5))
        fields.channels = try JSONText.uuids(try row.decode(6))
        fields.resolveForSeconds = try row.decode(18)
        fields.repeatEverySeconds = try row.decode(19)
        return AlertRule(
            id: try row.decode(0), fields: fields, createdAt: try row.decode(20), updatedAt: try row.decode(21),
            version: try row.decode(22))
    }

    /// A rule's fields as the table's columns.
    struct Columns {
        var labels: String
        var channels: PostgresArrayLiteral
        var device: String?
        var selector: String?
        var op: String?
        var low: Double?
        var high: Double?
        var forSeconds = 0
        var window: Int?
        var z: Double?
        var minSamples: Int?

        init(_ fields: RuleFields) {
            labels = JSONText.object(fields.labels)
            channels = PostgresArrayLiteral(uuids: fields.channels)
            switch fields.target {
            case .device(let id): device = id
            case .selector(let labels): selector = JSONText.object(labels)
            }
            switch fields.condition {
            case .threshold(let op, let low, let high, let seconds):
                (self.op, self.low, self.high, forSeconds) = (op.rawValue, low, high, seconds)
            case .anomaly(let windowSeconds, let threshold, let minSamples):
                (window, z, self.minSamples) = (windowSeconds, threshold, minSamples)
            case .silence(let seconds):
                forSeconds = seconds
            }
        }
    }
}

/// JSON and array text as the alert tables store them.
enum JSONText {
    static func object(_ labels: [String: String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: labels, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func labels(_ text: String) throws -> [String: String] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
        return object.compactMapValues { $0 as? String }
    }

    /// A `uuid[]` in PostgreSQL's text form (`{a,b}`).
    static func uuids(_ text: String) throws -> [UUID] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").compactMap {
            UUID(uuidString: String($0))
        }
    }
}
