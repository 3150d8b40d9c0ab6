import Hummingbird
import Logging
import MetricRouter
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle

/// `GET /metrics` in the Prometheus text format, on a listener of its own
/// (`MILLWRIGHT_METRICS_HOST`/`_PORT`, default 127.0.0.1:9464) so that the public port
/// never shows it. Gauges of state (connections, the writer's queue, and through
/// `sampleResources` the pools and the database) are sampled at each scrape; counters
/// and histograms are kept as things happen.
struct MetricsEndpoint: Sendable {
    let registry: PrometheusCollectorRegistry
    let writer: MetricWriter
    let connections: ConnectionCounter
    let host: String
    let port: Int
    let logger: Logger
    /// Samples what the composition root holds (pools, the database) into gauges.
    let sampleResources: @Sendable () async -> Void

    func application() -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            sample()
            await sampleResources()
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

    private func sample() {
        let counts = connections.counts
        Gauge(label: "millwright_http_connections", dimensions: [("state", "open")]).record(counts.open)
        Gauge(label: "millwright_http_connections", dimensions: [("state", "refusing")]).record(counts.answering)
        let queued = writer.queued
        Gauge(label: "millwright_writer_queue_points").record(queued.points)
        Gauge(label: "millwright_writer_queue_bytes").record(queued.bytes)
        Gauge(label: "millwright_writer_queue_capacity_points").record(writer.configuration.maxQueuedPoints)
        Gauge(label: "millwright_writer_queue_capacity_bytes").record(writer.configuration.maxQueuedBytes)
    }
}
