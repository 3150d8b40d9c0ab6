import DeviceRegistry
import Hummingbird
import Logging
import MetricRouter
import Metrics
import NIOCore
import Postgres
import Prometheus
import ServiceLifecycle

/// `GET /metrics` in the Prometheus text format, on a listener of its own
/// (`MILLWRIGHT_METRICS_HOST`/`_PORT`, default 127.0.0.1:9464) so that the public port
/// never shows it. Gauges of state (pool connections, the writer's queue) are sampled
/// at each scrape; counters and histograms are kept as things happen.
struct MetricsEndpoint: Sendable {
    let registry: PrometheusCollectorRegistry
    let pools: [(String, PostgresPool)]
    let writer: MetricWriter
    let connections: ConnectionCounter
    let host: String
    let port: Int
    let logger: Logger

    func application() -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            sample()
            await sampleDatabase()
            var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return response
        }
        let logger = self.logger
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                logger.notice(
                    "metrics listening", metadata: ["host": "\(host)", "port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger)
    }

    /// From the database, on one connection (skipped when it is away): devices by status
    /// across tenants, and TimescaleDB's jobs on the points tables, whether each one's
    /// last run succeeded and its failures (the maintenance loop records its own).
    private func sampleDatabase() async {
        guard let pool = pools.first?.1 else { return }
        let sampled = try? await pool.withConnection { connection in
            (try DeviceStore.statusCounts(on: connection), try StorageJobs.timescaleJobs(on: connection))
        }
        guard let (counts, jobs) = sampled else { return }
        for (status, devices) in counts {
            Gauge(label: "millwright_devices", dimensions: [("status", status.rawValue)]).record(devices)
        }
        for job in jobs {
            Gauge(label: "millwright_storage_job_last_run_ok", dimensions: [("storage_job", job.name)])
                .record(job.lastRunOK ? 1 : 0)
            Gauge(label: "millwright_storage_job_failures", dimensions: [("storage_job", job.name)]).record(job.failures)
        }
    }

    private func sample() {
        let counts = connections.counts
        Gauge(label: "millwright_http_connections", dimensions: [("state", "open")]).record(counts.open)
        Gauge(label: "millwright_http_connections", dimensions: [("state", "refusing")]).record(counts.answering)
        for (name, pool) in pools {
            let statistics = pool.statistics
            Gauge(label: "millwright_db_pool_connections", dimensions: [("pool", name), ("state", "in_use")])
                .record(statistics.inUse)
            Gauge(label: "millwright_db_pool_connections", dimensions: [("pool", name), ("state", "idle")])
                .record(statistics.idle)
            Gauge(label: "millwright_db_pool_waiting", dimensions: [("pool", name)]).record(statistics.waiting)
            Gauge(label: "millwright_db_pool_size", dimensions: [("pool", name)]).record(pool.configuration.size)
        }
        let queued = writer.queued
        Gauge(label: "millwright_writer_queue_points").record(queued.points)
        Gauge(label: "millwright_writer_queue_bytes").record(queued.bytes)
        Gauge(label: "millwright_writer_queue_capacity_points").record(writer.configuration.maxQueuedPoints)
        Gauge(label: "millwright_writer_queue_capacity_bytes").record(writer.configuration.maxQueuedBytes)
    }
}
