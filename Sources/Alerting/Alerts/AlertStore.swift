import DeviceRegistry
import Foundation
import Postgres
import Tenancy

/// Alerts and their transitions in the database (tenant-scoped transactions).
enum AlertStore {
    static let columns = """
        id, rule_id, rule_name, condition, device_id, sensor_key, severity, state, started_at, value, value_at,
        resolved_at, resolved_value, acknowledged_by, acknowledged_at, created_at, updated_at
        """

    static func listQuery(_ filter: AlertFilter, before cursor: Int64?, limit: Int) -> PostgresQuery {
        """
        SELECT \(unsafeSQL: columns) FROM millwright.alerts
        WHERE (\(cursor)::bigint IS NULL OR id < \(cursor)::bigint)
          AND (\(filter.state?.rawValue)::text IS NULL OR state = \(filter.state?.rawValue))
          AND (\(filter.severity?.rawValue)::text IS NULL OR severity = \(filter.severity?.rawValue))
          AND (\(filter.device)::text IS NULL OR device_id = \(filter.device))
          AND (\(filter.rule)::uuid IS NULL OR rule_id = \(filter.rule)::uuid)
          AND (\(filter.from)::timestamptz IS NULL OR started_at >= \(filter.from)::timestamptz)
          AND (\(filter.to)::timestamptz IS NULL OR started_at < \(filter.to)::timestamptz)
        ORDER BY id DESC LIMIT \(limit)
        """
    }

    static func findQuery(_ id: Int64) -> PostgresQuery {
        "SELECT \(unsafeSQL: columns) FROM millwright.alerts WHERE id = \(id)"
    }

    static func transitionsQuery(_ id: Int64) -> PostgresQuery {
        "SELECT state, at, value, reason, recorded_at FROM millwright.alert_transitions WHERE alert_id = \(id) ORDER BY seq"
    }

    static func acknowledgeQuery(_ id: Int64, by who: String) -> PostgresQuery {
        """
        UPDATE millwright.alerts SET acknowledged_by = coalesce(acknowledged_by, \(who)),
            acknowledged_at = coalesce(acknowledged_at, now()),
            updated_at = CASE WHEN acknowledged_at IS NULL THEN now() ELSE updated_at END
        WHERE id = \(id)
        RETURNING \(unsafeSQL: columns)
        """
    }

    static func alert(from row: PostgresRow) throws -> Alert {
        Alert(
            id: try row.decode(0), ruleID: try row.decode(1), ruleName: try row.decode(2), condition: try row.decode(3),
            deviceID: try row.decode(4), sensorKey: try row.decode(5),
            severity: Severity(rawValue: try row.decode(6)) ?? .critical,
            state: Alert.State(rawValue: try row.decode(7)) ?? .firing, startedAt: try row.decode(8),
            value: try row.decode(9), valueAt: try row.decode(10), resolvedAt: try row.decode(11),
            resolvedValue: try row.decode(12), acknowledgedBy: try row.decode(13), acknowledgedAt: try row.decode(14),
            createdAt: try row.decode(15), updatedAt: try row.decode(16))
    }

    static func transition(from row: PostgresRow) throws -> Alert.Transition {
        Alert.Transition(
            state: try row.decode(0), at: try row.decode(1), value: try row.decode(2), reason: try row.decode(3),
            recordedAt: try row.decode(4))
    }

    /// Resolves the rule's firing alerts without notifying (the rule went away or changed).
    static func resolveFiring(rule: UUID, reason: String, on db: PostgresConnection) throws {
        _ = try db.query(
            """
            WITH closed AS (
                UPDATE millwright.alerts SET state = 'resolved', resolved_at = now(), updated_at = now()
                WHERE rule_id = \(rule) AND state = 'firing' RETURNING tenant_id, id)
            INSERT INTO millwright.alert_transitions (tenant_id, alert_id, seq, state, at, reason)
            SELECT c.tenant_id, c.id,
                   (SELECT coalesce(max(t.seq), 0) + 1 FROM millwright.alert_transitions t WHERE t.alert_id = c.id),
                   'resolved', now(), \(reason)
            FROM closed c
            """)
    }

    /// Resolves the tenant's firing alerts whose device (or sensor) was deleted, or whose
    /// device no longer matches its rule's selector: no point will come to resolve them. Without notifying, as a
    /// rule change resolves them; their series are forgotten, so a device relabelled back
    /// starts afresh. Runs scoped to the tenant (devices are only visible so).
    static func resolveOrphaned(on db: PostgresConnection) throws {
        _ = try db.query(
            """
            WITH candidates AS (
                SELECT a.tenant_id, a.id,
                       CASE WHEN d.id IS NULL THEN 'device_deleted'
                            WHEN r.device_id IS NULL AND NOT d.labels @> r.selector THEN 'device_relabelled'
                            WHEN a.sensor_key <> '' AND NOT EXISTS (
                                SELECT 1 FROM millwright.sensors s WHERE s.tenant_id = a.tenant_id
                                AND s.device_id = a.device_id AND s.key = a.sensor_key) THEN 'sensor_deleted'
                       END AS reason
                FROM millwright.alerts a
                JOIN millwright.alert_rules r ON r.tenant_id = a.tenant_id AND r.id = a.rule_id
                LEFT JOIN millwright.devices d ON d.tenant_id = a.tenant_id AND d.id = a.device_id
                WHERE a.state = 'firing'),
            stale AS (SELECT * FROM candidates WHERE reason IS NOT NULL),
            closed AS (
                UPDATE millwright.alerts a SET state = 'resolved', resolved_at = now(), updated_at = now()
                FROM stale WHERE a.tenant_id = stale.tenant_id AND a.id = stale.id AND a.state = 'firing'
                RETURNING a.tenant_id, a.id, a.rule_id, a.device_id, a.sensor_key, stale.reason),
            forgotten AS (
                DELETE FROM millwright.alert_series s USING closed c
                WHERE s.tenant_id = c.tenant_id AND s.rule_id = c.rule_id AND s.device_id = c.device_id
                  AND s.sensor_key = c.sensor_key)
            INSERT INTO millwright.alert_transitions (tenant_id, alert_id, seq, state, at, reason)
            SELECT c.tenant_id, c.id,
                   (SELECT coalesce(max(t.seq), 0) + 1 FROM millwright.alert_transitions t WHERE t.alert_id = c.id),
                   'resolved', now(), c.reason
            FROM closed c
            """)
    }

    /// Each point of the sensor in [from, to) with its window's statistics.
    static func anomaliesQuery(
        device: String, sensor: String, from: Date, to: Date, windowSeconds: Int, limit: Int
    ) -> PostgresQuery {
        """
        SELECT a.at, a.value, a.samples, a.mean, a.deviation
        FROM millwright.sensors s,
             millwright.anomaly_scores(ARRAY[s.sensor_id], \(from.addingTimeInterval(-Double(windowSeconds)))::timestamptz,
                                       \(from)::timestamptz, \(to)::timestamptz, \(windowSeconds) * interval '1 second') a
        WHERE s.device_id = \(device) AND s.key = \(sensor)
        ORDER BY a.at LIMIT \(limit)
        """
    }

    static func sensorQuery(device: String, sensor: String) -> PostgresQuery {
        "SELECT kind FROM millwright.sensors WHERE device_id = \(device) AND key = \(sensor)"
    }
}
