import API
import ArgumentParser
import Foundation
import Logging

/// `millwright [serve]`, `millwright migrate`.
@main
struct Millwright: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "millwright",
        abstract:
            "Multi-tenant backend for connected machines: devices, sensors and their metrics, behind Keycloak identities.",
        discussion: """
            Configuration comes from environment variables:
              MILLWRIGHT_DATABASE_URL            libpq URI of the runtime role (required)
              MILLWRIGHT_MIGRATION_DATABASE_URL  URI of the schema owner, for migrate (default: MILLWRIGHT_DATABASE_URL)
              MILLWRIGHT_HOST, MILLWRIGHT_PORT   listen address (default 127.0.0.1, 8080)
              MILLWRIGHT_TRUSTED_PROXIES         proxies (addresses, CIDRs) whose X-Forwarded-* headers count (default none)
              MILLWRIGHT_METRICS_HOST, MILLWRIGHT_METRICS_PORT  Prometheus /metrics listener (default 127.0.0.1, 9464)
              MILLWRIGHT_METRICS_TENANT_LABEL    add the tenant to the ingest series (default false)
              MILLWRIGHT_METRICS_ENABLED         record metrics and serve them (default true)
              MILLWRIGHT_DB_POOL_SIZE            database connections (default 2 x cores, at least 4)
              MILLWRIGHT_OIDC_ISSUERS            comma-separated trusted issuer URLs (required)
              MILLWRIGHT_OIDC_AUDIENCE           when set, aud must contain it or azp equal it
              MILLWRIGHT_OIDC_CLIENT_ID          client whose resource_access roles also count
              MILLWRIGHT_TENANT_CLAIM            claim naming the tenant (default tenant)
              MILLWRIGHT_OIDC_ALLOW_HTTP         allow http:// issuers, development only (default false)
              MILLWRIGHT_MIGRATE_ON_START        apply pending migrations at start (default false)
              MILLWRIGHT_MIGRATIONS_DIR          folder of NNNN_name.sql files (default: ./Migrations)
              MILLWRIGHT_LOG_LEVEL               trace|debug|info|notice|warning|error|critical (default info)
              MILLWRIGHT_LOG_FORMAT              json (one object per line) or text (default json unless stdout is a terminal)
              MILLWRIGHT_WRITER_QUEUE_POINTS     metric points accepted but not yet committed, at most (default 1000000)
              MILLWRIGHT_WRITER_QUEUE_MB         their memory, at most (default 256)
              MILLWRIGHT_WRITER_FLUSH_POINTS     a database write starts once this many points wait (default 20000)
              MILLWRIGHT_WRITER_FLUSH_INTERVAL_MS  ...or this long after the first (default 5)
              MILLWRIGHT_WRITER_CONNECTIONS      the writer's own connections, flushes in flight (default 2)
              MILLWRIGHT_MAINTENANCE_INTERVAL_S  partition upkeep and per-tenant retention, every (default 900)
              MILLWRIGHT_HEADER_TIMEOUT_S        a request's head must arrive within, also between requests (default 60)
              MILLWRIGHT_BODY_TIMEOUT_S          a request's whole body must arrive within (default 120)
              MILLWRIGHT_MAX_CONNECTIONS         open connections at most; past it 503 (default 4096)
              MILLWRIGHT_MAX_CONNECTIONS_PER_CLIENT  from one address, trusted proxies exempt (default an eighth)
              MILLWRIGHT_PUBLIC_URL              public base URL, for links in alert notifications (default: paths)
              MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE   webhooks may reach loopback and private addresses (default false)
              MILLWRIGHT_WEBHOOK_TIMEOUT_S       each webhook attempt's timeout (default 10)
              MILLWRIGHT_WEBHOOK_FIRST_RETRY_S   the first retry's delay, doubling up to an hour (default 5)
              MILLWRIGHT_WEBHOOK_RETRY_HORIZON_S how long a notification is retried (default 86400)
              MILLWRIGHT_WEBHOOK_CONCURRENCY     webhook attempts in flight (default 8)
              MILLWRIGHT_STREAM_MAX_PER_TENANT   live streams open on this replica per tenant (default 200)
              MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL  …and per user (default 20)
              MILLWRIGHT_STREAM_QUEUE_POINTS     points a slow stream may have queued (default 10000)
              MILLWRIGHT_STREAM_KEEPALIVE_S      keep-alive on idle streams (default 15)
              MILLWRIGHT_STREAM_REPLAY_S         how long events are kept for resuming (default 900)
              MILLWRIGHT_STREAM_REPLAY_MAX_EVENTS  events one resume replays at most (default 100000)
              MILLWRIGHT_STREAM_TICKET_S         how long a stream ticket is valid (default 30)
            """,
        version: MillwrightVersion.current,
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self)
}

enum MillwrightVersion {
    static let current = MillwrightApplication.version
}

/// Reads the configuration or exits with one line naming the bad variable.
func loadConfiguration() throws -> MillwrightConfiguration {
    do {
        return try MillwrightConfiguration(environment: ProcessInfo.processInfo.environment)
    } catch {
        FileHandle.standardError.write(Data("millwright: configuration error: \(error)\n".utf8))
        throw ExitCode(78)  // EX_CONFIG
    }
}

func makeLogger(_ configuration: MillwrightConfiguration) -> Logger {
    switch configuration.logFormat {
    case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
    case .text: LoggingSystem.bootstrap { StreamLogHandler.standardOutput(label: $0) }
    }
    var logger = Logger(label: "millwright")
    logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
    return logger
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTP API (the default).")

    func run() async throws {
        let configuration = try loadConfiguration()
        let logger = makeLogger(configuration)
        let registry = configuration.metricsEnabled ? MillwrightApplication.bootstrapMetrics() : nil
        do {
            try await MillwrightApplication(configuration: configuration, logger: logger, metricsRegistry: registry).run()
        } catch {
            logger.critical("millwright stopped", metadata: ["error": "\(String(reflecting: error))"])
            throw ExitCode.failure
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending migrations as the schema owner and grant the runtime role its privileges.")

    func run() async throws {
        let configuration = try loadConfiguration()
        let logger = makeLogger(configuration)
        do {
            let applied = try await MillwrightApplication.migrate(configuration: configuration, logger: logger)
            print(
                applied.isEmpty ? "schema is current" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
        } catch {
            FileHandle.standardError.write(Data("millwright: migrate failed: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
