import Logging
import Metrics
import Postgres
import ServiceLifecycle

/// Runs `millwright.maintain_metric_storage()` at start and then every `interval`:
/// partitions made ahead (pg_partman) and each tenant's retention enforced. The
/// function takes an advisory lock, so one replica at a time does the work.
///
/// Start: run it as a `Service`; shut down: graceful shutdown ends the loop.
public struct MaintenanceService: Service {
    let pool: PostgresPool
    let interval: Duration
    let logger: Logger

    public init(pool: PostgresPool, interval: Duration, logger: Logger) {
        self.pool = pool
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // Reported like TimescaleDB's jobs (`millwright_storage_job_*`, storage_job="maintenance").
        let lastRunOK = Gauge(label: "millwright_storage_job_last_run_ok", dimensions: [("storage_job", "maintenance")])
        let failuresGauge = Gauge(label: "millwright_storage_job_failures", dimensions: [("storage_job", "maintenance")])
        var failures = 0
        failuresGauge.record(0)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let deleted = try await pool.withConnection { connection in
                    try MetricStorage.maintain(on: connection)
                }
                if deleted > 0 { logger.info("retention enforced", metadata: ["points_deleted": "\(deleted)"]) }
                lastRunOK.record(1)
            } catch {
                logger.warning("metric storage maintenance failed", metadata: ["error": "\(String(reflecting: error))"])
                failures += 1
                failuresGauge.record(failures)
                lastRunOK.record(0)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
