import Foundation
import Logging
import MetricRouter
import Postgres
import Tenancy

/// One round of the evaluator, in one transaction that first takes the evaluator's
/// advisory lock (`pg_try_advisory_xact_lock`): whichever replica holds it is the one
/// evaluator for the round, and a replica that dies mid-round releases it with its
/// connection, its round rolled back whole.
///
/// A round takes committed `point_commits` rows, reads the points they name from the
/// tenant-scoped views (only what committed is there), moves each watched series'
/// state machine, records alerts, transitions and deliveries, and stores the new
/// states — all in the transaction that consumed the rows, so each committed point is
/// evaluated exactly once. Each tenant's work runs under a savepoint: a tenant whose
/// evaluation fails is rolled back alone and its rows are put back (up to
/// `maxAttempts` times), and other tenants' rounds go on.
///
/// Every few rounds it also does the clock's work: silence rules, repeats, and the
/// firing gauge's counts.
struct EvaluationRound {
    /// The advisory lock key ("millwright alerts").
    static let lockKey: Int64 = 0x6d77_616c_6572_7473
    static let maxAttempts = 5

    struct Outcome {
        var leader = false
        var commits = 0
        /// Commit time of the oldest row taken (microseconds), for the lag gauge.
        var oldestCommit: Int64?
        var now: Int64 = 0
        var events = 0
        /// Firing alerts by severity (and tenant, when labelled), on clock rounds.
        var firing: [(severity: String, tenant: String?, count: Int)]?
        var failedTenants = 0
    }

    let settings: AlertSettings
    let rules: RuleCache
    let maxCommits: Int
    let clockWork: Bool
    let tenantLabel: Bool
    let logger: Logger

    func run(on db: PostgresConnection) throws -> Outcome {
        let prologue: [PostgresQuery] = [
            "SELECT pg_try_advisory_xact_lock(\(Self.lockKey)), \(unsafeSQL: Micros.now)",
            // A vanished evaluator's transaction ends (and the lock frees) within 5 s. No
            // statement holds the round longer than 10 s, nor waits for a lock (a chunk
            // being compressed, a tenant being deleted) longer than 2 s: that tenant's part
            // is tried again next round. Plans are made for each round's values, so that
            // time bounds prune partitions and chunks (and skip their locks) at plan time.
            """
            SELECT set_config('idle_in_transaction_session_timeout', '5s', true), set_config('statement_timeout', '10s', true),
                   set_config('lock_timeout', '2s', true), set_config('plan_cache_mode', 'force_custom_plan', true)
            """,
        ]
        return try db.transaction(prologue: prologue) { results in
            var outcome = Outcome()
            guard let row = results[0].first, try row.decode(0, as: Bool.self) else { return outcome }
            outcome.leader = true
            outcome.now = try row.decode(1)
            let taken = try db.query(
                """
                SELECT tenant_id, sensor_ids, newest, oldest, \(unsafeSQL: Micros.of("committed_at")), attempts, points
                FROM millwright.take_point_commits(\(maxCommits))
                """)
            var work: [String: TenantCommits] = [:]
            for row in taken.rows {
                let tenant: String = try row.decode(0)
                let ids = try PostgresArrayLiteral.integers(try row.decode(1))
                let newest = try PostgresArrayLiteral.integers(try row.decode(2))
                let committed: Int64 = try row.decode(4)
                var entry = work[tenant] ?? TenantCommits()
                for (id, time) in zip(ids, newest) { entry.newest[id] = max(entry.newest[id] ?? .min, time) }
                entry.oldest = min(entry.oldest, try row.decode(3))
                entry.attempts = max(entry.attempts, try row.decode(5))
                if let packed = try row.bytes(6), entry.points != nil, let points = CommittedPoints.unpack(packed) {
                    for point in points { entry.points?[point.sensor, default: []].append(point) }
                } else {
                    entry.points = nil
                }
                outcome.oldestCommit = min(outcome.oldestCommit ?? committed, committed)
                work[tenant] = entry
            }
            outcome.commits = taken.rowCount
            for (name, commits) in work.sorted(by: { $0.key < $1.key }) {
                guard let tenant = TenantID(name) else { continue }
                do {
                    outcome.events += try isolated(db) {
                        _ = try db.query(TenantDatabase.scope(tenant))
                        var evaluation = TenantEvaluation(
                            tenant: tenant, now: outcome.now, settings: settings, rules: rules, db: db)
                        return try evaluation.points(commits)
                    }
                } catch {
                    outcome.failedTenants += 1
                    try requeue(name, commits, after: error, on: db)
                }
            }
            if clockWork { try clock(&outcome, on: db) }
            return outcome
        }
    }

    /// Silence, repeats and the firing counts, for every tenant with rules that need the
    /// clock; and, in every tenant with firing alerts, those whose device is gone or no
    /// longer matches the rule's selector resolved (`AlertStore.resolveOrphaned`).
    private func clock(_ outcome: inout Outcome, on db: PostgresConnection) throws {
        let grouping = tenantLabel ? "severity, tenant_id" : "severity, NULL::text"
        let results = try db.pipeline([
            "SELECT set_config('millwright.alerting', 'on', true)",
            """
            SELECT DISTINCT tenant_id FROM millwright.alert_rules
            WHERE enabled AND (condition = 'silence' OR repeat_every_seconds IS NOT NULL)
            """,
            "SELECT DISTINCT tenant_id FROM millwright.alerts WHERE state = 'firing'",
            "SELECT \(unsafeSQL: grouping), count(*) FROM millwright.alerts WHERE state = 'firing' GROUP BY 1, 2",
            "SELECT set_config('millwright.alerting', '', true)",
        ])
        outcome.firing = try results[3].rows.map { row in
            (try row.decode(0, as: String.self), try row.decode(1, as: String?.self), try row.decode(2, as: Int.self))
        }
        let clocked = Set(try results[1].rows.map { try $0.decode(0, as: String.self) })
        let firing = Set(try results[2].rows.map { try $0.decode(0, as: String.self) })
        for name in clocked.union(firing).sorted() {
            guard let tenant = TenantID(name) else { continue }
            do {
                outcome.events += try isolated(db) {
                    _ = try db.query(TenantDatabase.scope(tenant))
                    if firing.contains(name) { try AlertStore.resolveOrphaned(on: db) }
                    guard clocked.contains(name) else { return 0 }
                    var evaluation = TenantEvaluation(
                        tenant: tenant, now: outcome.now, settings: settings, rules: rules, db: db)
                    return try evaluation.clock()
                }
            } catch {
                outcome.failedTenants += 1
                logger.error(
                    "alert clock work failed for a tenant",
                    metadata: ["tenant": "\(tenant)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    /// Runs `body` under a savepoint, rolled back alone if it throws.
    private func isolated<T>(_ db: PostgresConnection, _ body: () throws -> T) throws -> T {
        _ = try db.execute(unsafeSQL: "SAVEPOINT tenant_round")
        do {
            let value = try body()
            _ = try db.execute(unsafeSQL: "RELEASE SAVEPOINT tenant_round")
            return value
        } catch {
            _ = try db.execute(unsafeSQL: "ROLLBACK TO SAVEPOINT tenant_round")
            throw error
        }
    }

    /// Puts a tenant's rows back for the next round, merged, or drops them after
    /// `maxAttempts` failed rounds.
    private func requeue(_ tenant: String, _ commits: TenantCommits, after error: any Error, on db: PostgresConnection) throws {
        let attempts = commits.attempts + 1
        guard attempts < Self.maxAttempts else {
            logger.error(
                "alert evaluation keeps failing for a tenant; its points are not evaluated",
                metadata: ["tenant": "\(tenant)", "error": "\(String(reflecting: error))"])
            return
        }
        logger.warning(
            "alert evaluation failed for a tenant; retried next round",
            metadata: ["tenant": "\(tenant)", "error": "\(String(reflecting: error))"])
        let ids = commits.newest.keys.sorted()
        _ = try db.query(
            """
            INSERT INTO millwright_metrics.point_commits (tenant_id, sensor_ids, newest, oldest, attempts, points)
            VALUES (\(tenant), \(PostgresArrayLiteral(ids))::bigint[],
                    \(PostgresArrayLiteral(ids.map { commits.newest[$0] ?? 0 }))::bigint[], \(commits.oldest), \(attempts),
                    \(commits.points.map { points in CommittedPoints.pack(points.keys.sorted().flatMap { points[$0] ?? [] }) })::bytea)
            """)
    }
}

/// What committed for one tenant since the last round: each sensor's newest point time,
/// the oldest point time of all, and the number and integer points by sensor (nil when
/// a row did not carry them: then they are read back from the point tables).
struct TenantCommits {
    var newest: [Int64: Int64] = [:]
    var oldest = Int64.max
    var attempts = 0
    var points: [Int64: [CommittedPoints.Point]]? = [:]
}

/// Timestamps as exact microseconds since the epoch, in SQL.
enum Micros {
    static let now = "(extract(epoch FROM now()) * 1000000)::bigint"

    static func of(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000000)::bigint" }

    /// A bigint parameter (microseconds) as a timestamptz.
    static func timestamp(_ parameter: String) -> String {
        "(timestamptz 'epoch' + \(parameter) * interval '1 microsecond')"
    }
}

/// `bigint[]` literals with NULLs (`{1,2,NULL}`).
enum IntegerArray {
    static func literal(_ values: [Int64?]) -> PostgresArrayLiteral {
        PostgresArrayLiteral("{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}")
    }
}
