import Logging
import Metrics
import Postgres
import ServiceLifecycle

/// Runs evaluation rounds on every replica; the advisory lock each round takes makes
/// exactly one of them the evaluator at a time. The evaluator pauses `interval` after a
/// round, or `pacing` times as long as the round took if that is longer (up to
/// `maxPause`), so that evaluation takes at most a fixed share of a core from the
/// writes it evaluates: under heavy ingest, rounds take more commits each and cost less
/// per point (their statements are per sensor, not per point). It goes at once again
/// while a full round's rows are waiting. A replica that did not get the lock tries
/// again after `standbyInterval`, so it takes over within that time once the
/// evaluator's connection is gone.
///
/// Start: run it as a `Service`; shut down: graceful shutdown ends the loop after the
/// round in flight (whose transaction commits or rolls back whole).
public struct AlertEvaluator: Service {
    public struct Configuration: Sendable {
        public var interval: Duration = .milliseconds(200)
        public var pacing = 3
        public var maxPause: Duration = .seconds(1)
        public var standbyInterval: Duration = .seconds(2)
        /// Clock work (silence, repeats, the firing gauge) at most this often.
        public var clockInterval: Duration = .seconds(1)
        /// `point_commits` rows one round takes at most.
        public var maxCommitsPerRound = 500
        /// Adds the tenant to the firing gauge (MILLWRIGHT_METRICS_TENANT_LABEL).
        public var tenantLabel = false

        public init() {}
    }

    let pool: PostgresPool
    let settings: AlertSettings
    let configuration: Configuration
    let logger: Logger
    /// Called after a round that recorded events (wakes the local dispatcher).
    let onEvents: @Sendable () -> Void

    public init(
        pool: PostgresPool, settings: AlertSettings, configuration: Configuration = Configuration(), logger: Logger,
        onEvents: @escaping @Sendable () -> Void = {}
    ) {
        self.pool = pool
        self.settings = settings
        self.configuration = configuration
        self.logger = logger
        self.onEvents = onEvents
    }

    public func run() async throws {
        let rules = RuleCache()
        let leaderGauge = Gauge(label: "millwright_alert_evaluator_leader")
        let lagGauge = Gauge(label: "millwright_alert_evaluator_lag_seconds")
        var firingSeries: Set<[String]> = []
        var lastClock = ContinuousClock.now - configuration.clockInterval
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let clockDue = ContinuousClock.now - lastClock >= configuration.clockInterval
            let round = EvaluationRound(
                settings: settings, rules: rules, maxCommits: configuration.maxCommitsPerRound, clockWork: clockDue,
                tenantLabel: configuration.tenantLabel, logger: logger)
            var pause = configuration.interval
            do {
                let started = ContinuousClock.now
                let outcome = try await pool.withConnection { db in try round.run(on: db) }
                leaderGauge.record(outcome.leader ? 1 : 0)
                if outcome.leader {
                    if clockDue { lastClock = started }
                    let took = ContinuousClock.now - started
                    Timer(label: "millwright_alert_evaluator_round_seconds").record(duration: took)
                    pause = max(pause, min(took * configuration.pacing, configuration.maxPause))
                    if let oldest = outcome.oldestCommit {
                        lagGauge.record(Double(outcome.now - oldest) / 1_000_000)
                    } else {
                        lagGauge.record(0)
                    }
                    if outcome.events > 0 {
                        Counter(label: "millwright_alert_events_total").increment(by: outcome.events)
                        onEvents()
                    }
                    if let firing = outcome.firing { firingSeries = record(firing, replacing: firingSeries) }
                    if outcome.commits >= configuration.maxCommitsPerRound { pause = .zero }
                } else {
                    pause = configuration.standbyInterval
                }
            } catch {
                logger.warning("alert evaluation round failed", metadata: ["error": "\(String(reflecting: error))"])
                pause = configuration.standbyInterval
            }
            if pause > .zero {
                let wait = pause
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
        }
    }

    /// Sets `millwright_alerts_firing` per severity (and tenant); series that no longer
    /// have firing alerts go to 0.
    private func record(
        _ firing: [(severity: String, tenant: String?, count: Int)], replacing previous: Set<[String]>
    )
        -> Set<[String]>
    {
        var seen: Set<[String]> = []
        for severity in Severity.allCases where !configuration.tenantLabel {
            seen.insert([severity.rawValue])
        }
        var counts: [[String]: Int] = [:]
        for entry in firing {
            let key = [entry.severity] + (entry.tenant.map { [$0] } ?? [])
            counts[key] = entry.count
            seen.insert(key)
        }
        for key in seen.union(previous) {
            var dimensions = [("severity", key[0])]
            if key.count > 1 { dimensions.append(("tenant", key[1])) }
            Gauge(label: "millwright_alerts_firing", dimensions: dimensions).record(counts[key] ?? 0)
        }
        return seen
    }
}
