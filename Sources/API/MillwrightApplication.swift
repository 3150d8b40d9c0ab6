import Alerting
import Auth
import DeviceRegistry
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MetricRouter
import Metrics
import Postgres
import Prometheus
import ServiceLifecycle
import Streams
import Tenancy

/// The whole service, assembled: database pool, token verification, device keys and
/// the HTTP server.
///
/// Start: `try await MillwrightApplication(configuration:logger:).run()` (migrations
/// first when configured; it refuses to start with pending migrations). Shut down:
/// SIGTERM/SIGINT, or cancel the task: the server stops taking connections and
/// finishes in-flight requests, then the pool closes.
public struct MillwrightApplication: Sendable {
    public let configuration: MillwrightConfiguration
    public let logger: Logger
    /// Where swift-metrics series land (the process bootstrapped `MetricsSystem` with a
    /// `PrometheusMetricsFactory` on it); with one, `/metrics` is served on its own listener.
    public let metricsRegistry: PrometheusCollectorRegistry?

    public init(configuration: MillwrightConfiguration, logger: Logger, metricsRegistry: PrometheusCollectorRegistry? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.metricsRegistry = metricsRegistry
    }

    /// Bootstraps swift-metrics with Prometheus, once per process; returns the registry.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets["millwright_writer_flush_points"] = [
            10, 100, 1000, 5000, 10_000, 20_000, 50_000, 100_000,
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Applies pending migrations as the schema owner and grants the runtime role.
    /// Returns the versions applied.
    @discardableResult
    public static func migrate(configuration: MillwrightConfiguration, logger: Logger) async throws -> [Int] {
        let migrations = try Migration.load(directory: configuration.migrationsDirectory)
        let runner = MigrationRunner(migrations: migrations, schema: "millwright")
        let runtimeRole = try await withSingleConnection(configuration.databaseURL, logger: logger) { $0.user }
        return try await withSingleConnection(configuration.migrationDatabaseURL, logger: logger) { connection in
            let applied = try runner.apply(on: connection)
            if runtimeRole != connection.user {
                try RoleCheck.grantRuntimePrivileges(to: runtimeRole, on: connection)
            }
            return applied.map(\.version)
        }
    }

    /// Runs `body` on one connection of its own, closed afterwards.
    private static func withSingleConnection<T: Sendable>(
        _ url: String, logger: Logger, _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await PostgresPool.withTemporaryConnection(url, applicationName: "millwright-migrate", logger: logger, body)
    }

    /// Runs until shut down.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        if configuration.migrateOnStart {
            let applied = try await Self.migrate(configuration: configuration, logger: logger)
            if !applied.isEmpty { logger.notice("migrations applied", metadata: ["versions": "\(applied)"]) }
        }
        let pool = PostgresPool(
            configuration: .init(
                connectionString: configuration.databaseURL, size: configuration.poolSize ?? PostgresPool.defaultSize),
            logger: logger)
        let migrations = try Migration.load(directory: configuration.migrationsDirectory)
        let runner = MigrationRunner(migrations: migrations, schema: "millwright")
        let storage: MetricStorage
        let timeZones: TimeZoneNames
        do {
            try await checkDatabase(pool: pool, runner: runner)
            storage = try await pool.withConnection { try MetricStorage.load($0) }
            timeZones = try await pool.withConnection { try TimeZoneNames.load($0) }
        } catch {
            await pool.shutdown()
            throw error
        }
        logger.notice(
            "metric storage",
            metadata: ["engine": "\(storage.engine)", "continuous_aggregates": "\(storage.hasContinuousAggregate)"])

        let database = TenantDatabase(pool: pool)
        let registry = PostgresRegistry(database: database)
        let keys = JWKSCache(configuration: configuration.auth, logger: logger)
        let authenticator = Authenticator(
            tokens: TokenVerifier(configuration: configuration.auth, keys: keys),
            deviceKeys: DeviceKeyAuthenticator(store: PostgresDeviceKeyStore(database: database)))
        // The writer has connections of its own: flushes never queue behind queries.
        let writerPool = PostgresPool(
            configuration: .init(
                connectionString: configuration.databaseURL, size: configuration.writer.flushers,
                applicationName: "millwright-writer"),
            logger: logger)
        let writer = MetricWriter(configuration: configuration.writer, pool: writerPool, catalog: registry, logger: logger)
        let activity = DeviceActivity(sink: registry, logger: logger)
        let ingestor = MetricIngestor(
            catalog: MetricCatalog(source: registry), provisioning: registry, writer: writer, activity: activity)
        let alerting = PostgresAlerting(database: database, settings: configuration.alerts)
        // The stream hub has connections of its own: one follows the log (waiting for its
        // notifications), the other replays and names sensors.
        let streamPool = PostgresPool(
            configuration: .init(connectionString: configuration.databaseURL, size: 3, applicationName: "millwright-streams"),
            logger: logger)
        let hub = StreamHub(configuration: configuration.streams, pool: streamPool, logger: logger)
        let streams = StreamHandlers(
            hub: hub, tickets: StreamTickets(database: database, lifetime: configuration.streamTicketLifetime),
            authenticator: authenticator)
        let routes = Self.routes(
            APIServices(
                tenants: registry, devices: registry, sensors: registry, keys: registry, ingestor: ingestor,
                points: PostgresPointReader(database: database, registry: registry, storage: storage),
                alertRules: alerting, channels: alerting, alerts: alerting,
                webhookAllowPrivate: configuration.dispatcher.allowPrivateAddresses, timeZones: timeZones,
                readiness: { await Self.readiness(pool: pool, runner: runner) }, storageEngine: storage.engine,
                openAPIDocument: Self.openAPIDocument(configuration), metricsTenantLabel: configuration.metricsTenantLabel,
                streams: streams))
        // Alerting has connections of its own: the evaluator's round and the dispatcher's
        // claims never wait behind requests, nor requests behind them.
        let alertPool = PostgresPool(
            configuration: .init(connectionString: configuration.databaseURL, size: 2, applicationName: "millwright-alerts"),
            logger: logger)
        let dispatcher = NotificationDispatcher(pool: alertPool, configuration: configuration.dispatcher, logger: logger)
        var evaluatorConfiguration = AlertEvaluator.Configuration()
        evaluatorConfiguration.tenantLabel = configuration.metricsTenantLabel
        let evaluator = AlertEvaluator(
            pool: alertPool, settings: configuration.alerts, configuration: evaluatorConfiguration, logger: logger,
            onEvents: { dispatcher.wake() })

        var services: [any Service] = [
            PoolService(pool: pool), PoolService(pool: writerPool), PoolService(pool: alertPool), PoolService(pool: streamPool),
            MaintenanceService(pool: pool, interval: configuration.maintenanceInterval, logger: logger),
            activity, writer, KeyRefreshService(keys: keys), evaluator, dispatcher, hub,
        ]
        let connectionCounter = ConnectionCounter()
        if let metricsRegistry {
            Gauge(label: "millwright_build_info", dimensions: [("version", MillwrightApplication.version)]).record(1)
            services.append(
                MetricsEndpoint(
                    registry: metricsRegistry, writer: writer, connections: connectionCounter,
                    host: configuration.metricsHost, port: configuration.metricsPort, logger: logger,
                    sampleResources: {
                        await Self.sample(pools: [
                            ("api", pool), ("writer", writerPool), ("alerts", alertPool), ("streams", streamPool),
                        ])
                    }
                ).application())
        }
        let connectionLimits = {
            var limits = configuration.connections
            limits.exempt = configuration.trustedProxies
            return limits
        }()
        let webSockets = StreamWebSocket(handlers: streams, routes: routes, logger: logger)
        let app = Application(
            responder: MillwrightResponder(
                routes: routes, authenticator: authenticator, logger: logger, trustedProxies: configuration.trustedProxies),
            // HTTP/1.1, and the WebSocket upgrade of the stream paths (pings keep streams alive).
            server: .guarded(
                limits: connectionLimits, counter: connectionCounter,
                webSocket: .init(maxFrameSize: 1 << 16, autoPing: .enabled(timePeriod: configuration.streams.keepAlive)),
                shouldUpgrade: { head, refusal in await webSockets.shouldUpgrade(head, refusal: refusal) }),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            // Shut down in reverse: the server finishes its requests, then the writer
            // flushes what it accepted, then devices' last_seen_at, then the pools close.
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
                await onServerRunning(port)
            },
            logger: logger)
        // SIGTERM ends the live streams first (each with its final event), then the
        // server drains its requests and the services above stop in reverse.
        let group = ServiceGroup(
            configuration: .init(
                services: [app, StreamDrain(hub: hub)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Refuses pending or changed migrations; warns about a privileged runtime role.
    private func checkDatabase(pool: PostgresPool, runner: MigrationRunner) async throws {
        let (pending, role) = try await pool.withConnection { connection in
            (try runner.pending(on: connection).map(\.version), try RoleCheck.current(on: connection, schema: "millwright"))
        }
        guard pending.isEmpty else {
            throw MigrationError(
                "migrations \(pending) are pending: run `millwright migrate` or set MILLWRIGHT_MIGRATE_ON_START=true")
        }
        if let role, role.isPrivileged {
            logger.warning(
                "THE DATABASE ROLE OF MILLWRIGHT_DATABASE_URL IS PRIVILEGED: row-level security does not protect tenants from each other with it. Use a role that is not a superuser, has no BYPASSRLS and does not own the schema.",
                metadata: [
                    "superuser": "\(role.superuser)", "bypassrls": "\(role.bypassesRowSecurity)",
                    "owns_schema": "\(role.ownsSchema)",
                ])
        }
    }

    /// What `/readyz` says: whether the database answers and its migrations are applied.
    private static func readiness(pool: PostgresPool, runner: MigrationRunner) async -> Readiness {
        do {
            let pending = try await pool.withConnection { try runner.pending(on: $0).count }
            return pending == 0 ? .ready : .pending(pending)
        } catch let error as MigrationError {
            return .migrationsDiffer("\(error)")
        } catch {
            return .unreachable(String(reflecting: error))
        }
    }

    /// At each scrape: the pools' connections, and from the database on one connection
    /// (skipped when it is away) devices by status across tenants and TimescaleDB's jobs
    /// on the points tables (the maintenance loop records its own).
    private static func sample(pools: [(String, PostgresPool)]) async {
        for (name, pool) in pools {
            let statistics = pool.statistics
            Gauge(label: "millwright_db_pool_connections", dimensions: [("pool", name), ("state", "in_use")])
                .record(statistics.inUse)
            Gauge(label: "millwright_db_pool_connections", dimensions: [("pool", name), ("state", "idle")])
                .record(statistics.idle)
            Gauge(label: "millwright_db_pool_waiting", dimensions: [("pool", name)]).record(statistics.waiting)
            Gauge(label: "millwright_db_pool_size", dimensions: [("pool", name)]).record(pool.configuration.size)
        }
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

    /// `openapi.yaml` beside the migrations folder, if present.
    private static func openAPIDocument(_ configuration: MillwrightConfiguration) -> [UInt8]? {
        let file = configuration.migrationsDirectory.deletingLastPathComponent().appendingPathComponent("openapi.yaml")
        return FileManager.default.contents(atPath: file.path).map { [UInt8]($0) }
    }
}

extension MillwrightApplication {
    /// The version reported by `--version` and `millwright_build_info`.
    public static let version = "0.2.0"
}

/// Closes the pool when the service group shuts down (after the server stopped).
struct PoolService: Service {
    let pool: PostgresPool

    func run() async throws {
        try? await gracefulShutdown()
        await pool.shutdown()
    }
}

/// On graceful shutdown, before the server stops: ends every live stream with its final
/// event and waits (at most 5 s) for their connections to finish, so that the server's
/// own drain is not held by streams that would never end.
struct StreamDrain: Service {
    let hub: StreamHub

    func run() async throws {
        try? await gracefulShutdown()
        await hub.drain(within: .seconds(5))
    }
}

/// Loads signing keys at start and refreshes them every 10 minutes, so that key
/// rotation is picked up without waiting for an unknown `kid`.
struct KeyRefreshService: Service {
    let keys: JWKSCache

    func run() async throws {
        await keys.refreshAll()
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(600)) }
            } catch {
                return
            }
            await keys.refreshAll()
        }
    }
}
