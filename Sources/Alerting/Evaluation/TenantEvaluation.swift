import Foundation
import InputParsing
import MetricRouter
import Postgres
import Tenancy

/// One tenant's part of an evaluation round, in a transaction scoped to the tenant.
struct TenantEvaluation {
    /// A series a rule watches, with the sensors that feed it.
    struct Watched {
        var rule: AlertRule
        var device: String
        /// The rule's sensor key, or "" for a device-wide silence rule.
        var key: String
        var sensors: [Int64] = []
        var machine: SeriesMachine
        var stored: SeriesMachine?

        var id: SeriesID { SeriesID(rule: rule.id, device: device, key: key) }
    }

    struct SeriesID: Hashable {
        var rule: UUID
        var device: String
        var key: String
    }

    let tenant: TenantID
    let now: Int64
    let settings: AlertSettings
    let rules: RuleCache
    let db: PostgresConnection
    private var events = 0

    init(tenant: TenantID, now: Int64, settings: AlertSettings, rules: RuleCache, db: PostgresConnection) {
        self.tenant = tenant
        self.now = now
        self.settings = settings
        self.rules = rules
        self.db = db
    }

    private static let ruleColumns = RuleStore.columns.split(separator: ",").map {
        "r." + $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }.joined(separator: ", ")

    private static let seriesColumns = """
        s.state, \(Micros.of("s.since")), \(Micros.of("s.clear_since")), \(Micros.of("s.last_point_at")), s.alert_id,
        \(Micros.of("s.last_notified_at")), \(Micros.of("s.created_at"))
        """

    // MARK: Points

    /// Evaluates the committed points of `commits`; returns the number of events.
    mutating func points(_ commits: TenantCommits) throws -> Int {
        let matches = try rules.matches(tenant, sensors: commits.newest.keys, on: db)
        var watched: [SeriesID: Watched] = [:]
        for sensor in commits.newest.keys {
            for match in matches.bySensor[sensor] ?? [] {
                guard let rule = matches.rules[match.rule] else { continue }
                let id = SeriesID(rule: rule.id, device: match.device, key: match.key)
                var entry =
                    watched[id]
                    ?? Watched(rule: rule, device: match.device, key: match.key, machine: SeriesMachine(createdAt: now))
                entry.sensors.append(sensor)
                watched[id] = entry
            }
        }
        guard !watched.isEmpty else { return 0 }
        try loadStates(&watched)

        // Points after what each series already saw, up to what committed.
        var valueSensors: [Int64: Int64] = [:]  // sensor -> read points after this time
        var anomalyWindows: [Int: Set<Int64>] = [:]
        for entry in watched.values {
            guard let sensor = entry.sensors.first else { continue }
            // Never before what this round's commits hold: a rule enabled again, or a
            // series quiet for long, does not read back history.
            let after = max(entry.machine.lastPointAt ?? .min, commits.oldest &- 1)
            switch entry.rule.fields.condition {
            case .threshold:
                valueSensors[sensor] = min(valueSensors[sensor] ?? .max, after)
            case .anomaly(let window, _, _):
                valueSensors[sensor] = min(valueSensors[sensor] ?? .max, after)
                anomalyWindows[window, default: []].insert(sensor)
            case .silence:
                break
            }
        }
        let points = try commits.points.map { Self.points($0, after: valueSensors) } ?? readPoints(valueSensors, upTo: commits)
        var scores: [Int: [Int64: [Int64: Score]]] = [:]
        for (window, sensors) in anomalyWindows {
            scores[window] = try readScores(sensors, window: window, after: valueSensors, upTo: commits)
        }

        // In a fixed order (rule, device, key), so that a round's events are recorded alike
        // on every replica; by the rule id's bytes (`uuidString` formats with snprintf).
        let order = watched.keys.map { (rule: Self.orderKey($0.rule), id: $0) }.sorted {
            ($0.rule.0, $0.rule.1, $0.id.device, $0.id.key) < ($1.rule.0, $1.rule.1, $1.id.device, $1.id.key)
        }
        for id in order.map(\.id) {
            guard var entry = watched[id] else { continue }
            let fields = entry.rule.fields
            switch fields.condition {
            case .silence:
                let heard = entry.sensors.compactMap { commits.newest[$0] }.max()
                if let heard, let event = entry.machine.heard(at: heard, resolveForSeconds: fields.resolveForSeconds) {
                    try record(event, &entry)
                }
            case .threshold(_, _, _, let forSeconds):
                for point in points[entry.sensors[0]] ?? [] {
                    let holds = fields.condition.holds(for: point.value)
                    if let event = entry.machine.observe(
                        at: point.time, holds: holds, value: point.value, forSeconds: forSeconds,
                        resolveForSeconds: fields.resolveForSeconds)
                    {
                        try record(event, &entry)
                    }
                }
            case .anomaly(let window, _, _):
                let byTime = scores[window]?[entry.sensors[0]] ?? [:]
                for point in points[entry.sensors[0]] ?? [] {
                    guard let score = byTime[point.time] else { continue }
                    let holds = fields.condition.holds(
                        value: point.value, samples: score.samples, mean: score.mean, deviation: score.deviation)
                    if let event = entry.machine.observe(
                        at: point.time, holds: holds, value: point.value, forSeconds: 0,
                        resolveForSeconds: fields.resolveForSeconds)
                    {
                        try record(event, &entry)
                    }
                }
            }
            watched[id] = entry
        }
        try storeStates(Array(watched.values))
        return events
    }

    /// A UUID's 16 bytes as two big-endian integers, which order as its text does.
    private static func orderKey(_ id: UUID) -> (UInt64, UInt64) {
        withUnsafeBytes(of: id.uuid) { bytes in
            (bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, bytes.suffix(8).reduce(0) { $0 << 8 | UInt64($1) })
        }
    }

    struct Point {
        var time: Int64
        var value: Double
    }

    struct Score {
        var samples: Int
        var mean: Double?
        var deviation: Double?
    }

    /// The committed points of `sensors` after each one's bound, oldest first.
    private static func points(_ committed: [Int64: [CommittedPoints.Point]], after sensors: [Int64: Int64]) -> [Int64: [Point]] {
        var points: [Int64: [Point]] = [:]
        for (sensor, bound) in sensors {
            let kept = (committed[sensor] ?? []).filter { $0.time > bound }.sorted { $0.time < $1.time }
            if !kept.isEmpty { points[sensor] = kept.map { Point(time: $0.time, value: $0.value) } }
        }
        return points
    }

    /// The number and integer points of `sensors` after each one's bound, read back
    /// from the point tables, oldest first.
    private func readPoints(_ sensors: [Int64: Int64], upTo commits: TenantCommits) throws -> [Int64: [Point]] {
        guard !sensors.isEmpty else { return [:] }
        let ids = sensors.keys.sorted()
        let after = sensors.values.min() ?? 0
        let upTo = ids.compactMap { commits.newest[$0] }.max() ?? after
        // One index range scan per sensor (tenant, sensor, time): a filter over the whole
        // chunk with the sensor list was 435 ms a round in the benchmark.
        let result = try db.query(
            ("""
            SELECT b.id, \(unsafeSQL: Micros.of("p.time")), p.value
            FROM unnest(\(PostgresArrayLiteral(ids))::bigint[]) AS b (id)
            CROSS JOIN LATERAL (
                SELECT n.time, n.value FROM millwright.number_points n
                WHERE n.sensor_id = b.id AND n.time > $2::timestamptz AND n.time <= $3::timestamptz
                UNION ALL
                SELECT i.time, i.value::double precision FROM millwright.integer_points i
                WHERE i.sensor_id = b.id AND i.time > $2::timestamptz AND i.time <= $3::timestamptz
            ) p
            ORDER BY b.id, p.time
            """ as PostgresQuery).binding(RFC3339.format(unixMicros: after), RFC3339.format(unixMicros: upTo)))
        var points: [Int64: [Point]] = [:]
        for row in result.rows {
            let sensor: Int64 = try row.decode(0)
            let time: Int64 = try row.decode(1)
            guard let bound = sensors[sensor], time > bound else { continue }
            points[sensor, default: []].append(Point(time: time, value: try row.decode(2)))
        }
        return points
    }

    /// z-score statistics of each point of `sensors` in the range, by sensor and time.
    private func readScores(
        _ sensors: Set<Int64>, window: Int, after: [Int64: Int64], upTo commits: TenantCommits
    ) throws -> [Int64: [Int64: Score]] {
        let ids = sensors.sorted()
        let from = (ids.compactMap { after[$0] }.min() ?? 0) &+ 1
        let to = (ids.compactMap { commits.newest[$0] }.max() ?? from) &+ 1
        let result = try db.query(
            ("""
            SELECT sensor_id, \(unsafeSQL: Micros.of("at")), samples, mean, deviation
            FROM millwright.anomaly_scores(\(PostgresArrayLiteral(ids))::bigint[], $2::timestamptz, $3::timestamptz,
                                           $4::timestamptz, $5 * interval '1 second')
            """ as PostgresQuery).binding(
                RFC3339.format(unixMicros: from &- Int64(window) * 1_000_000), RFC3339.format(unixMicros: from),
                RFC3339.format(unixMicros: to), window))
        var scores: [Int64: [Int64: Score]] = [:]
        for row in result.rows {
            scores[try row.decode(0), default: [:]][try row.decode(1)] = Score(
                samples: try row.decode(2), mean: try row.decode(3), deviation: try row.decode(4))
        }
        return scores
    }

    // MARK: Clock

    /// Silence rules' series (made for every device they cover) and repeats that are due.
    mutating func clock() throws -> Int {
        let status = try db.query("SELECT status FROM millwright.tenants WHERE id = \(tenant.rawValue)")
        guard try status.first?.decode(0, as: String.self) == "active" else { return 0 }
        _ = try db.query(
            """
            INSERT INTO millwright.alert_series (tenant_id, rule_id, device_id, sensor_key, state)
            SELECT r.tenant_id, r.id, d.id, coalesce(r.sensor_key, ''), 'inactive'
            FROM millwright.alert_rules r JOIN millwright.devices d
              ON r.device_id = d.id OR (r.device_id IS NULL AND d.labels @> r.selector)
            WHERE r.enabled AND r.condition = 'silence'
            ON CONFLICT DO NOTHING
            """)
        let due = try db.query(
            """
            SELECT \(unsafeSQL: Self.ruleColumns), s.device_id, s.sensor_key, \(unsafeSQL: Self.seriesColumns)
            FROM millwright.alert_series s JOIN millwright.alert_rules r ON r.id = s.rule_id
            WHERE r.enabled AND (
                (r.condition = 'silence' AND (s.state <> 'firing' OR s.clear_since IS NOT NULL)
                 AND coalesce(s.last_point_at, s.created_at)
                     <= now() - (r.for_seconds + \(unsafeSQL: Self.silenceSlackSQL)) * interval '1 second')
                OR (s.state = 'firing' AND r.repeat_every_seconds IS NOT NULL
                    AND coalesce(s.last_notified_at, '-infinity') <= now() - r.repeat_every_seconds * interval '1 second'))
            ORDER BY s.rule_id, s.device_id, s.sensor_key
            FOR UPDATE OF s
            """)
        var changed: [Watched] = []
        for row in due.rows {
            let rule = try RuleStore.rule(from: row)
            var machine = try Self.machine(from: row, at: 25)
            let stored = machine
            var entry = Watched(rule: rule, device: try row.decode(23), key: try row.decode(24), machine: machine)
            entry.stored = stored
            if case .silence(let seconds) = rule.fields.condition,
                let event = entry.machine.checkSilence(now: now, forSeconds: seconds + Self.silenceSlack(seconds))
            {
                try record(event, &entry)
            }
            machine = entry.machine
            if let event = entry.machine.checkRepeat(now: now, everySeconds: rule.fields.repeatEverySeconds) {
                try record(event, &entry)
            }
            changed.append(entry)
        }
        try storeStates(changed)
        return events
    }

    // MARK: State

    private func loadStates(_ watched: inout [SeriesID: Watched]) throws {
        let ids = Array(watched.keys)
        let result = try db.query(
            """
            SELECT s.rule_id, s.device_id, s.sensor_key, \(unsafeSQL: Self.seriesColumns)
            FROM millwright.alert_series s
            JOIN unnest(\(PostgresArrayLiteral(uuids: ids.map(\.rule)))::uuid[], \(PostgresTextArray(ids.map(\.device)))::text[],
                        \(PostgresTextArray(ids.map(\.key)))::text[]) AS u (rule_id, device_id, sensor_key)
              ON s.rule_id = u.rule_id AND s.device_id = u.device_id AND s.sensor_key = u.sensor_key
            FOR UPDATE OF s
            """)
        for row in result.rows {
            let id = SeriesID(rule: try row.decode(0), device: try row.decode(1), key: try row.decode(2))
            let machine = try Self.machine(from: row, at: 3)
            watched[id]?.machine = machine
            watched[id]?.stored = machine
        }
    }

    private static func machine(from row: PostgresRow, at start: Int) throws -> SeriesMachine {
        var machine = SeriesMachine(createdAt: try row.decode(start + 6))
        machine.state = SeriesMachine.State(rawValue: try row.decode(start)) ?? .inactive
        machine.since = try row.decode(start + 1)
        machine.clearSince = try row.decode(start + 2)
        machine.lastPointAt = try row.decode(start + 3)
        machine.alertID = try row.decode(start + 4)
        machine.lastNotifiedAt = try row.decode(start + 5)
        return machine
    }

    /// Whether a series' state must be written. A new series with a point, a
    /// transition, or any change while an alert is pending or firing, always; an
    /// inactive series' newest point time only once it moved on by a minute (for
    /// silence, a tenth of `for`, at least a second): points arrive all the time, and
    /// writing every watched series on every round would cost ingest more than
    /// evaluation does. So for an inactive series a late point less than that older
    /// than the newest may still be evaluated; a silence alert fires between `for` and
    /// `for` + its slack after the last point (the clock waits for the slack, so it
    /// never fires early).
    static func mustStore(_ entry: Watched) -> Bool {
        guard let stored = entry.stored else {
            return entry.machine.state != .inactive || entry.machine.lastPointAt != nil
                || entry.rule.fields.condition.kind == "silence"
        }
        var before = stored
        var after = entry.machine
        before.lastPointAt = nil
        after.lastPointAt = nil
        if before != after { return true }
        guard let newest = entry.machine.lastPointAt else { return false }
        if entry.machine.state != .inactive { return newest != stored.lastPointAt }
        let slack: Int64 =
            if case .silence(let seconds) = entry.rule.fields.condition { Int64(silenceSlack(seconds)) } else { 60 }
        return SeriesMachine.elapsed(stored.lastPointAt ?? .min, newest) >= slack * 1_000_000
    }

    /// How late a silence alert may fire: a tenth of `for`, from 1 s to 60 s.
    static func silenceSlack(_ seconds: Int) -> Int { min(60, max(1, seconds / 10)) }
    static let silenceSlackSQL = "least(60, greatest(1, r.for_seconds / 10))"

    /// Writes the series that must be (`mustStore`), in one statement.
    private func storeStates(_ series: [Watched]) throws {
        let changed = series.filter(Self.mustStore)
        guard !changed.isEmpty else { return }
        func times(_ value: (SeriesMachine) -> Int64?) -> PostgresArrayLiteral {
            IntegerArray.literal(changed.map { value($0.machine) })
        }
        _ = try db.query(
            """
            INSERT INTO millwright.alert_series AS s (tenant_id, rule_id, device_id, sensor_key, state, since, clear_since,
                last_point_at, alert_id, last_notified_at)
            SELECT \(tenant.rawValue), u.r, u.d, u.k, u.st, \(unsafeSQL: Micros.timestamp("u.since")),
                   \(unsafeSQL: Micros.timestamp("u.clear")), \(unsafeSQL: Micros.timestamp("u.last")), u.alert,
                   \(unsafeSQL: Micros.timestamp("u.notified"))
            FROM unnest(\(PostgresArrayLiteral(uuids: changed.map(\.rule.id)))::uuid[], \(PostgresTextArray(changed.map(\.device)))::text[],
                        \(PostgresTextArray(changed.map(\.key)))::text[],
                        \(PostgresTextArray(changed.map(\.machine.state.rawValue)))::text[],
                        \(times(\.since))::bigint[], \(times(\.clearSince))::bigint[], \(times(\.lastPointAt))::bigint[],
                        \(times(\.alertID))::bigint[], \(times(\.lastNotifiedAt))::bigint[])
                 AS u (r, d, k, st, since, clear, last, alert, notified)
            ON CONFLICT (tenant_id, rule_id, device_id, sensor_key) DO UPDATE SET state = excluded.state,
                since = excluded.since, clear_since = excluded.clear_since, last_point_at = excluded.last_point_at,
                alert_id = excluded.alert_id, last_notified_at = excluded.last_notified_at
            """)
    }

    // MARK: Events

    /// Records an event of `entry`: the alert and its transition, and a delivery on
    /// each of the rule's enabled channels.
    private mutating func record(_ event: SeriesMachine.Event, _ entry: inout Watched) throws {
        let fields = entry.rule.fields
        let alertID: Int64
        let seq: Int
        let state: String
        let at: Int64
        let value: Double?
        var startedAt: Int64?
        switch event {
        case .fire(let started, let time, let reading):
            let row = try db.query(
                ("""
                WITH a AS (
                    INSERT INTO millwright.alerts (tenant_id, rule_id, rule_name, condition, device_id, sensor_key, severity,
                        state, started_at, value, value_at)
                    VALUES (\(tenant.rawValue), \(entry.rule.id), \(fields.name), \(fields.condition.kind), \(entry.device),
                        \(entry.key), \(fields.severity.rawValue), 'firing', \(unsafeSQL: Micros.timestamp("$8")), $9,
                        \(unsafeSQL: Micros.timestamp("$10")))
                    RETURNING id),
                t AS (
                    INSERT INTO millwright.alert_transitions (tenant_id, alert_id, seq, state, at, value)
                    SELECT $1, id, 1, 'firing', \(unsafeSQL: Micros.timestamp("$10")), $9 FROM a)
                SELECT id FROM a
                """ as PostgresQuery).binding(started, reading, time)
            ).first
            guard let row else { return }
            alertID = try row.decode(0)
            (seq, state, at, value, startedAt) = (1, "firing", time, reading, started)
            entry.machine.alertID = alertID
            entry.machine.lastNotifiedAt = now
        case .resolve(let time, let reading):
            guard let id = entry.machine.alertID else { return }
            let row = try db.query(
                ("""
                WITH a AS (
                    UPDATE millwright.alerts SET state = 'resolved', resolved_at = \(unsafeSQL: Micros.timestamp("$2")),
                        resolved_value = $3, updated_at = now()
                    WHERE id = $1 AND state = 'firing' RETURNING id, started_at)
                INSERT INTO millwright.alert_transitions (tenant_id, alert_id, seq, state, at, value)
                SELECT tenant_id, alert_id, seq, 'resolved', \(unsafeSQL: Micros.timestamp("$2")), $3 FROM (
                    SELECT $4::text AS tenant_id, a.id AS alert_id,
                           (SELECT coalesce(max(t.seq), 0) + 1 FROM millwright.alert_transitions t WHERE t.alert_id = a.id) AS seq
                    FROM a) n
                RETURNING seq, (SELECT \(unsafeSQL: Micros.of("started_at")) FROM a)
                """ as PostgresQuery).binding(id, time, reading, tenant.rawValue)
            ).first
            entry.machine.alertID = nil
            guard let row else { return }
            alertID = id
            (seq, state, at, value) = (try row.decode(0), "resolved", time, reading)
            startedAt = try row.decode(1)
        case .repeatNotice(let time):
            guard let id = entry.machine.alertID else { return }
            let row = try db.query(
                ("""
                INSERT INTO millwright.alert_transitions (tenant_id, alert_id, seq, state, at)
                SELECT a.tenant_id, a.id, (SELECT coalesce(max(t.seq), 0) + 1 FROM millwright.alert_transitions t
                                           WHERE t.alert_id = a.id), 'repeat', \(unsafeSQL: Micros.timestamp("$2"))
                FROM millwright.alerts a WHERE a.id = $1 AND a.state = 'firing'
                RETURNING seq, (SELECT \(unsafeSQL: Micros.of("started_at")) FROM millwright.alerts WHERE id = $1)
                """ as PostgresQuery).binding(id, time)
            ).first
            guard let row else { return }
            alertID = id
            (seq, state, at, value) = (try row.decode(0), "firing", time, nil)
            startedAt = try row.decode(1)
        }
        events += 1
        let eventName: String =
            switch event {
            case .fire: "firing"
            case .resolve: "resolved"
            case .repeatNotice: "repeat"
            }
        let eventID = "alert-\(alertID)-\(seq)"
        let payload = NotificationPayload(
            event: eventName, eventID: eventID, tenant: tenant.rawValue, alertID: alertID, ruleID: entry.rule.id,
            ruleName: fields.name, condition: fields.condition.kind, severity: fields.severity.rawValue, state: state,
            device: entry.device, sensor: entry.key, value: value, time: Self.date(at),
            startedAt: startedAt.map(Self.date), link: settings.link(tenant: tenant.rawValue, alert: alertID))
        _ = try ChannelStore.enqueue(
            channels: fields.channels, alert: alertID, eventID: eventID, event: eventName, payload: payload,
            horizonSeconds: settings.retryHorizonSeconds, tenant: tenant, on: db)
    }

    static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }
}
