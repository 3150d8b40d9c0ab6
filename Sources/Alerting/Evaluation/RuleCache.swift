import Foundation
import Postgres
import Synchronization
import Tenancy

/// Per tenant, kept across rounds: the enabled rules, decoded, and which of them watch
/// each sensor seen so far, as of the tenant's alert target version (bumped by
/// migration 0012's triggers whenever rules, sensors or devices' labels change). A
/// round reads that version (one row); while it stands, it matches only sensors it has
/// not seen, and when it moved, it reads the rules' ids and versions, decodes those not
/// cached in that version, and matches again.
final class RuleCache: Sendable {
    /// A rule watching a sensor: the series is (rule, device, key), key "" for a
    /// device-wide silence rule.
    struct Match: Sendable {
        var rule: UUID
        var device: String
        var key: String
    }

    struct Matches {
        var rules: [UUID: AlertRule]
        var bySensor: [Int64: [Match]]
    }

    private struct Entry {
        var version: Int64
        var matches: Matches
        var used = ContinuousClock.now
    }

    /// A tenant not evaluated for this long (deleted, or quiet) is forgotten.
    static let idleTenant: Duration = .seconds(3600)

    /// Sensors remembered per tenant; past it the tenant's matches start afresh.
    static let maxSensors = 200_000
    /// Sensors remembered in all; past it other tenants' matches start afresh (about
    /// 100 bytes a sensor).
    static let maxSensorsInAll = 1_000_000

    private struct State {
        var entries: [TenantID: Entry] = [:]
        var pruned = ContinuousClock.now
    }

    private let state = Mutex(State())

    /// The tenant's enabled rules and the rules watching each of `sensors` (and of
    /// others seen before), on `db` scoped to the tenant.
    func matches(_ tenant: TenantID, sensors: some Collection<Int64>, on db: PostgresConnection) throws -> Matches {
        let version =
            try db.query(
                "SELECT version FROM millwright.alert_target_versions WHERE tenant_id = \(tenant.rawValue)"
            ).first?.decode(0, as: Int64.self) ?? 0
        let cached = state.withLock { $0.entries[tenant] }
        var entry =
            if let cached, cached.version == version {
                cached
            } else {
                Entry(
                    version: version,
                    matches: Matches(rules: try rules(previous: cached?.matches.rules ?? [:], on: db), bySensor: [:]))
            }
        // A tenant without rules remembers no sensors.
        let unknown = entry.matches.rules.isEmpty ? [] : sensors.filter { entry.matches.bySensor[$0] == nil }
        if !unknown.isEmpty {
            if entry.matches.bySensor.count + unknown.count > Self.maxSensors { entry.matches.bySensor = [:] }
            var found: [Int64: [Match]] = [:]
            for sensor in unknown { found[sensor] = [] }
            for (sensor, match) in try Self.match(unknown, on: db) { found[sensor, default: []].append(match) }
            entry.matches.bySensor.merge(found) { $1 }
        }
        let now = ContinuousClock.now
        entry.used = now
        state.withLock { state in
            if now - state.pruned > .seconds(60) {
                state.entries = state.entries.filter { now - $0.value.used < Self.idleTenant }
                state.pruned = now
            }
            state.entries[tenant] = entry
            if !unknown.isEmpty, state.entries.values.reduce(0, { $0 + $1.matches.bySensor.count }) > Self.maxSensorsInAll {
                for other in state.entries.keys where other != tenant { state.entries[other]?.matches.bySensor = [:] }
            }
        }
        return entry.matches
    }

    /// The tenant's enabled rules, decoding only those not in `previous` in their
    /// current version.
    private func rules(previous: [UUID: AlertRule], on db: PostgresConnection) throws -> [UUID: AlertRule] {
        var versions: [UUID: Int64] = [:]
        for row in try db.query("SELECT id, version FROM millwright.alert_rules WHERE enabled").rows {
            versions[try row.decode(0)] = try row.decode(1)
        }
        var current = previous.filter { versions[$0.key] == $0.value.version }
        let missing = versions.keys.filter { current[$0] == nil }
        guard !missing.isEmpty else { return current }
        let result = try db.query(
            """
            SELECT \(unsafeSQL: RuleStore.columns) FROM millwright.alert_rules
            WHERE id = ANY(\(PostgresArrayLiteral(uuids: missing))::uuid[])
            """)
        for row in result.rows {
            let rule = try RuleStore.rule(from: row)
            current[rule.id] = rule
        }
        return current
    }

    /// Which enabled rules watch each of `sensors`: rules on one device, rules by label
    /// selector, device-wide silence rules, as joins a hash serves (not one join on an
    /// OR). The sensors are a relation of their own, hashed: as `sensor_id = ANY(array)`
    /// on each rule's candidate sensors, 10,000 sensors against 1,000 rules took 0.8 s
    /// while the statistics did not yet know the rules (0.1 s this way).
    private static func match(_ sensors: [Int64], on db: PostgresConnection) throws -> [(Int64, Match)] {
        let result = try db.query(
            """
            WITH c AS MATERIALIZED (
                SELECT s.sensor_id, s.device_id, s.key, s.kind IN ('number', 'integer') AS valued
                FROM unnest(\(PostgresArrayLiteral(sensors.sorted()))::bigint[]) AS u (id)
                JOIN millwright.sensors s ON s.sensor_id = u.id)
            SELECT r.id, c.sensor_id, c.device_id, c.key
            FROM c JOIN millwright.alert_rules r ON r.enabled AND r.device_id = c.device_id AND r.sensor_key = c.key
            WHERE r.condition = 'silence' OR c.valued
            UNION ALL
            SELECT r.id, c.sensor_id, c.device_id, c.key
            FROM c JOIN millwright.devices d ON d.id = c.device_id
            JOIN millwright.alert_rules r ON r.enabled AND r.device_id IS NULL AND r.sensor_key = c.key
            WHERE (r.condition = 'silence' OR c.valued) AND d.labels @> r.selector
            UNION ALL
            SELECT r.id, c.sensor_id, c.device_id, ''
            FROM c JOIN millwright.alert_rules r
              ON r.enabled AND r.condition = 'silence' AND r.sensor_key IS NULL AND r.device_id = c.device_id
            UNION ALL
            SELECT r.id, c.sensor_id, c.device_id, ''
            FROM c JOIN millwright.devices d ON d.id = c.device_id
            JOIN millwright.alert_rules r
              ON r.enabled AND r.condition = 'silence' AND r.sensor_key IS NULL AND r.device_id IS NULL
                 AND d.labels @> r.selector
            """)
        return try result.rows.map { row in
            (try row.decode(1), Match(rule: try row.decode(0), device: try row.decode(2), key: try row.decode(3)))
        }
    }
}
