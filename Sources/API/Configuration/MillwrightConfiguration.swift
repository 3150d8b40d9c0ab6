import Alerting
import Auth
import Foundation
import InputParsing
import MetricRouter
import Streams

/// Everything the service reads at start. Built from the environment by
/// `MillwrightConfiguration(environment:)`, which names the variable of any bad value.
public struct MillwrightConfiguration: Sendable {
    /// `MILLWRIGHT_DATABASE_URL`: the runtime role (required).
    public var databaseURL: String
    /// `MILLWRIGHT_MIGRATION_DATABASE_URL`: the schema owner, for `migrate` (default: databaseURL).
    public var migrationDatabaseURL: String
    /// `MILLWRIGHT_HOST` (default 127.0.0.1), `MILLWRIGHT_PORT` (default 8080; 0 picks a free port).
    public var host: String
    public var port: Int
    /// `MILLWRIGHT_DB_POOL_SIZE`; nil means the pool's default (2 × cores, at least 4).
    public var poolSize: Int?
    /// `MILLWRIGHT_OIDC_*` and `MILLWRIGHT_TENANT_CLAIM`.
    public var auth: AuthConfiguration
    /// `MILLWRIGHT_MIGRATE_ON_START` (default false).
    public var migrateOnStart: Bool
    /// `MILLWRIGHT_MIGRATIONS_DIR` (default: `Migrations` next to the working directory or the binary).
    public var migrationsDirectory: URL
    /// `MILLWRIGHT_LOG_LEVEL` (default info).
    public var logLevel: String
    /// `MILLWRIGHT_LOG_FORMAT`: `json` (one object per line) or `text`; default json when
    /// standard output is not a terminal.
    public var logFormat: LogFormat = isatty(1) == 1 ? .text : .json

    public enum LogFormat: String, Sendable {
        case json, text
    }
    /// `MILLWRIGHT_WRITER_*`: the metric writer's queue bounds and flushing
    /// (`QUEUE_POINTS` default 1,000,000; `QUEUE_MB` 256; `FLUSH_POINTS` 20,000;
    /// `FLUSH_INTERVAL_MS` 5; `CONNECTIONS` 2, each flushing in parallel).
    public var writer = MetricWriter.Configuration()
    /// `MILLWRIGHT_METRICS_HOST`, `MILLWRIGHT_METRICS_PORT`: the Prometheus listener, apart
    /// from the API (default 127.0.0.1:9464; port 0 picks a free one).
    public var metricsHost = "127.0.0.1"
    public var metricsPort = 9464
    /// `MILLWRIGHT_METRICS_TENANT_LABEL`: add the tenant to the ingest series (default false:
    /// no unbounded label).
    public var metricsTenantLabel = false
    /// `MILLWRIGHT_METRICS_ENABLED` (default true): false records no metrics and opens no
    /// listener (for measuring what instrumentation costs).
    public var metricsEnabled = true
    /// `MILLWRIGHT_TRUSTED_PROXIES`: addresses or CIDRs whose `X-Forwarded-*` headers
    /// count (default none).
    public var trustedProxies = TrustedProxies.none
    /// `MILLWRIGHT_MAINTENANCE_INTERVAL_S` (default 900): how often partitions are made
    /// ahead and each tenant's retention is enforced.
    public var maintenanceInterval: Duration = .seconds(900)
    /// `MILLWRIGHT_HEADER_TIMEOUT_S` (60), `MILLWRIGHT_BODY_TIMEOUT_S` (120),
    /// `MILLWRIGHT_MAX_CONNECTIONS` (4096), `MILLWRIGHT_MAX_CONNECTIONS_PER_CLIENT` (an
    /// eighth of that): see `ConnectionLimits`. The trusted proxies are exempt per client.
    public var connections = ConnectionLimits()
    /// `MILLWRIGHT_WEBHOOK_RETRY_HORIZON_S` (default 86400): how long a notification is
    /// retried; `MILLWRIGHT_PUBLIC_URL`: the service's public base URL, for links in
    /// notifications (default: links are paths).
    public var alerts = AlertSettings()
    /// `MILLWRIGHT_WEBHOOK_TIMEOUT_S` (10), `MILLWRIGHT_WEBHOOK_FIRST_RETRY_S` (5, doubling
    /// up to an hour), `MILLWRIGHT_WEBHOOK_CONCURRENCY` (8) and
    /// `MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE` (default false: webhooks reach only public
    /// addresses).
    public var dispatcher = NotificationDispatcher.Configuration()
    /// Live streams: `MILLWRIGHT_STREAM_MAX_PER_TENANT` (200) and
    /// `MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL` (20) open on one replica,
    /// `MILLWRIGHT_STREAM_QUEUE_POINTS` (10000) a slow stream may have queued,
    /// `MILLWRIGHT_STREAM_KEEPALIVE_S` (15), `MILLWRIGHT_STREAM_REPLAY_S` (900: how long
    /// the stream log keeps events for resuming) and `MILLWRIGHT_STREAM_REPLAY_MAX_EVENTS`
    /// (100000 a resume).
    public var streams = StreamHub.Configuration()
    /// `MILLWRIGHT_STREAM_TICKET_S` (30): how long a stream ticket is valid.
    public var streamTicketLifetime: Duration = .seconds(30)

    public init(
        databaseURL: String, migrationDatabaseURL: String? = nil, host: String = "127.0.0.1", port: Int = 8080,
        poolSize: Int? = nil, auth: AuthConfiguration, migrateOnStart: Bool = false,
        migrationsDirectory: URL = MillwrightConfiguration.defaultMigrationsDirectory(), logLevel: String = "info"
    ) {
        self.databaseURL = databaseURL
        self.migrationDatabaseURL = migrationDatabaseURL ?? databaseURL
        self.host = host
        self.port = port
        self.poolSize = poolSize
        self.auth = auth
        self.migrateOnStart = migrateOnStart
        self.migrationsDirectory = migrationsDirectory
        self.logLevel = logLevel
    }

    /// `./Migrations`, else `Migrations` beside or above the executable (a build folder
    /// inside a checkout), else `/usr/share/millwright/migrations`.
    public static func defaultMigrationsDirectory() -> URL {
        let fm = FileManager.default
        var candidates = [URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Migrations")]
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory.appendingPathComponent("Migrations"))
            directory.deleteLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: "/usr/share/millwright/migrations"))
        return candidates.first { fm.fileExists(atPath: $0.appendingPathComponent("0001_registry.sql").path) }
            ?? candidates[0]
    }
}

/// A bad configuration value: one line naming the variable and what is allowed.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var problem: String
    public var description: String { "\(variable): \(problem)" }
}

extension MillwrightConfiguration {
    /// Reads and validates every `MILLWRIGHT_*` variable.
    public init(environment: [String: String]) throws(ConfigurationError) {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func required(_ name: String, _ what: String) throws(ConfigurationError) -> String {
            guard let raw = value(name) else { throw ConfigurationError(variable: name, problem: "is required: \(what)") }
            return raw
        }
        func integer(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let raw = value(name) else { return fallback }
            guard let number = Int(raw), range.contains(number) else {
                throw ConfigurationError(
                    variable: name,
                    problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
            }
            return number
        }
        func flag(_ name: String) throws(ConfigurationError) -> Bool {
            guard let raw = value(name)?.lowercased() else { return false }
            switch raw {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw ConfigurationError(variable: name, problem: "must be true or false, got '\(raw)'")
            }
        }
        func databaseURI(_ name: String, _ raw: String) throws(ConfigurationError) -> String {
            guard raw.hasPrefix("postgres://") || raw.hasPrefix("postgresql://") || raw.contains("=") else {
                throw ConfigurationError(
                    variable: name, problem: "must be a libpq URI (postgresql://user@host:port/db) or key=value string")
            }
            return raw
        }

        let database = try databaseURI(
            "MILLWRIGHT_DATABASE_URL", try required("MILLWRIGHT_DATABASE_URL", "the runtime role's libpq URI"))
        let migration = try value("MILLWRIGHT_MIGRATION_DATABASE_URL").map { raw throws(ConfigurationError) in
            try databaseURI("MILLWRIGHT_MIGRATION_DATABASE_URL", raw)
        }
        let allowHTTP = try flag("MILLWRIGHT_OIDC_ALLOW_HTTP")
        let issuers = try required("MILLWRIGHT_OIDC_ISSUERS", "comma-separated trusted issuer URLs")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for issuer in issuers {
            guard let url = URL(string: issuer), let scheme = url.scheme, url.host != nil,
                scheme == "https" || (scheme == "http" && allowHTTP)
            else {
                throw ConfigurationError(
                    variable: "MILLWRIGHT_OIDC_ISSUERS",
                    problem: "'\(issuer)' is not an https URL (http only with MILLWRIGHT_OIDC_ALLOW_HTTP=true)")
            }
        }
        guard !issuers.isEmpty else {
            throw ConfigurationError(variable: "MILLWRIGHT_OIDC_ISSUERS", problem: "names no issuer")
        }
        var auth = AuthConfiguration(
            issuers: issuers, audience: value("MILLWRIGHT_OIDC_AUDIENCE"), clientID: value("MILLWRIGHT_OIDC_CLIENT_ID"),
            tenantClaim: value("MILLWRIGHT_TENANT_CLAIM") ?? "tenant", allowHTTP: allowHTTP)
        auth.leeway = 60
        let level = value("MILLWRIGHT_LOG_LEVEL")?.lowercased() ?? "info"
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(level) else {
            throw ConfigurationError(
                variable: "MILLWRIGHT_LOG_LEVEL", problem: "must be one of \(levels.joined(separator: ", ")), got '\(level)'")
        }
        self.init(
            databaseURL: database, migrationDatabaseURL: migration,
            host: value("MILLWRIGHT_HOST") ?? "127.0.0.1",
            port: try integer("MILLWRIGHT_PORT", default: 8080, in: 0...65535),
            poolSize: value("MILLWRIGHT_DB_POOL_SIZE") == nil
                ? nil : try integer("MILLWRIGHT_DB_POOL_SIZE", default: 0, in: 1...512),
            auth: auth, migrateOnStart: try flag("MILLWRIGHT_MIGRATE_ON_START"),
            migrationsDirectory: value("MILLWRIGHT_MIGRATIONS_DIR").map { URL(fileURLWithPath: $0) }
                ?? Self.defaultMigrationsDirectory(),
            logLevel: level)
        writer = MetricWriter.Configuration(
            maxQueuedPoints: try integer("MILLWRIGHT_WRITER_QUEUE_POINTS", default: 1_000_000, in: 100_000...100_000_000),
            maxQueuedBytes: try integer("MILLWRIGHT_WRITER_QUEUE_MB", default: 256, in: 16...65_536) << 20,
            flushPoints: try integer("MILLWRIGHT_WRITER_FLUSH_POINTS", default: 20_000, in: 1...1_000_000),
            flushInterval: .milliseconds(try integer("MILLWRIGHT_WRITER_FLUSH_INTERVAL_MS", default: 5, in: 0...10_000)),
            flushers: try integer("MILLWRIGHT_WRITER_CONNECTIONS", default: 2, in: 1...64))
        maintenanceInterval = .seconds(try integer("MILLWRIGHT_MAINTENANCE_INTERVAL_S", default: 900, in: 10...86_400))
        connections.headerTimeout = .seconds(try integer("MILLWRIGHT_HEADER_TIMEOUT_S", default: 60, in: 1...3600))
        connections.bodyTimeout = .seconds(try integer("MILLWRIGHT_BODY_TIMEOUT_S", default: 120, in: 1...3600))
        connections.maxConnections = try integer(
            "MILLWRIGHT_MAX_CONNECTIONS", default: ConnectionLimits.defaultMaxConnections(), in: 1...1_000_000)
        if value("MILLWRIGHT_MAX_CONNECTIONS_PER_CLIENT") != nil {
            connections.maxConnectionsPerClient = try integer(
                "MILLWRIGHT_MAX_CONNECTIONS_PER_CLIENT", default: connections.perClientLimit, in: 1...1_000_000)
        }
        metricsHost = value("MILLWRIGHT_METRICS_HOST") ?? "127.0.0.1"
        metricsPort = try integer("MILLWRIGHT_METRICS_PORT", default: 9464, in: 0...65535)
        metricsTenantLabel = try flag("MILLWRIGHT_METRICS_TENANT_LABEL")
        metricsEnabled = value("MILLWRIGHT_METRICS_ENABLED") == nil ? true : try flag("MILLWRIGHT_METRICS_ENABLED")
        if let raw = value("MILLWRIGHT_TRUSTED_PROXIES") {
            guard let proxies = TrustedProxies(raw) else {
                throw ConfigurationError(
                    variable: "MILLWRIGHT_TRUSTED_PROXIES",
                    problem: "must be comma-separated IP addresses or CIDRs (10.0.0.5, 192.168.0.0/16, ::1), got '\(raw)'")
            }
            trustedProxies = proxies
        }
        alerts.retryHorizonSeconds = try integer("MILLWRIGHT_WEBHOOK_RETRY_HORIZON_S", default: 86_400, in: 60...2_592_000)
        if let raw = value("MILLWRIGHT_PUBLIC_URL") {
            guard let url = URLComponents(string: raw), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigurationError(variable: "MILLWRIGHT_PUBLIC_URL", problem: "must be an http(s) URL, got '\(raw)'")
            }
            alerts.publicURL = raw
        }
        dispatcher.timeout = .seconds(try integer("MILLWRIGHT_WEBHOOK_TIMEOUT_S", default: 10, in: 1...120))
        dispatcher.firstBackoff = .seconds(try integer("MILLWRIGHT_WEBHOOK_FIRST_RETRY_S", default: 5, in: 1...3600))
        dispatcher.concurrency = try integer("MILLWRIGHT_WEBHOOK_CONCURRENCY", default: 8, in: 1...256)
        dispatcher.allowPrivateAddresses = try flag("MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE")
        streams.maxStreamsPerTenant = try integer("MILLWRIGHT_STREAM_MAX_PER_TENANT", default: 200, in: 1...100_000)
        streams.maxStreamsPerPrincipal = try integer("MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL", default: 20, in: 1...100_000)
        streams.maxQueuedPoints = try integer("MILLWRIGHT_STREAM_QUEUE_POINTS", default: 10_000, in: 10...1_000_000)
        streams.keepAlive = .seconds(try integer("MILLWRIGHT_STREAM_KEEPALIVE_S", default: 15, in: 1...300))
        streams.replayHorizon = .seconds(try integer("MILLWRIGHT_STREAM_REPLAY_S", default: 900, in: 10...86_400))
        streams.maxReplayEvents = try integer("MILLWRIGHT_STREAM_REPLAY_MAX_EVENTS", default: 100_000, in: 1...10_000_000)
        streamTicketLifetime = .seconds(try integer("MILLWRIGHT_STREAM_TICKET_S", default: 30, in: 1...300))
        if let raw = value("MILLWRIGHT_LOG_FORMAT") {
            guard let format = LogFormat(rawValue: raw.lowercased()) else {
                throw ConfigurationError(variable: "MILLWRIGHT_LOG_FORMAT", problem: "must be json or text, got '\(raw)'")
            }
            logFormat = format
        }
    }
}
