import API
import Auth
import CurlClient
import Foundation
import Logging
import Postgres

/// The real parts the integration tests talk to, found through environment variables
/// that `scripts/test.sh` sets: a PostgreSQL with the owner and runtime roles, and the
/// development OIDC issuer. One Millwright server is started per test process, on a
/// free port, and shared; tests keep apart by using tenants of their own.
enum TestEnvironment {
    static func variable(_ name: String) -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            fatalError("\(name) is not set: run the tests with scripts/test.sh, which starts PostgreSQL and the issuer")
        }
        return value
    }

    static var runtimeDatabaseURL: String { variable("MILLWRIGHT_TEST_DATABASE_URL") }
    static var ownerDatabaseURL: String { variable("MILLWRIGHT_TEST_OWNER_DATABASE_URL") }
    static var issuerBase: String { variable("MILLWRIGHT_TEST_ISSUER_BASE") }

    /// The main trusted realm, a second trusted realm, one trusted but unreachable.
    static var issuer: String { issuerBase + "/realms/millwright" }
    static var secondIssuer: String { issuerBase + "/realms/second" }
    static let unreachableIssuer = "http://127.0.0.1:9/realms/down"
    /// A realm the issuer serves but Millwright does not trust.
    static var untrustedIssuer: String { issuerBase + "/realms/untrusted" }

    static let audience = "millwright"
    static let clientID = "millwright"

    static var configuration: MillwrightConfiguration {
        var auth = AuthConfiguration(
            issuers: [issuer, secondIssuer, unreachableIssuer], audience: audience, clientID: clientID,
            tenantClaim: "tenant", allowHTTP: true)
        auth.retryInterval = .milliseconds(100)
        auth.fetchTimeout = .seconds(2)
        var configuration = MillwrightConfiguration(
            databaseURL: runtimeDatabaseURL, migrationDatabaseURL: ownerDatabaseURL, host: "127.0.0.1", port: 0,
            poolSize: 8, auth: auth, migrateOnStart: true, migrationsDirectory: migrationsDirectory, logLevel: "warning")
        // Webhooks go to the test's own receiver on 127.0.0.1, and are retried soon.
        configuration.dispatcher.allowPrivateAddresses = true
        configuration.dispatcher.firstBackoff = .seconds(1)
        configuration.alerts.publicURL = "https://millwright.example"
        return configuration
    }

    static var migrationsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Migrations")
    }

    /// A port the kernel just handed out and that is free again (bind to 0, close).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 ? getsockname(fd, raw, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The shared server, started on first use; it applies the migrations.
    static let server = Task<TestServer, any Error> { try await TestServer.start(configuration) }

    /// For servers of a test's own: the shared server has migrated already.
    static var ownServerConfiguration: MillwrightConfiguration {
        get async throws {
            _ = try await server.value
            var configuration = configuration
            configuration.migrateOnStart = false
            return configuration
        }
    }
}

/// A Millwright server running inside the test process.
struct TestServer: Sendable {
    let port: Int
    let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func start(_ configuration: MillwrightConfiguration) async throws -> TestServer {
        var logger = Logger(label: "millwright-test")
        logger.logLevel = .warning
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let task = Task {
            try await MillwrightApplication(configuration: configuration, logger: logger).run { port in
                continuation.yield(port)
            }
        }
        let waiter = Task {
            for await port in stream { return port }
            return 0
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(60))
            continuation.finish()
        }
        let port = await waiter.value
        timeout.cancel()
        guard port > 0 else {
            // What the database was doing, to tell a lock wait from anything else.
            let sessions = try? await Metrics.asOwner { db in
                try db.query(
                    """
                    SELECT string_agg(format('%s %s %s/%s: %s', pid, usename, wait_event_type, wait_event, left(query, 120)), '; ')
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """
                ).first?.decode(0, as: String?.self)
            }
            task.cancel()
            throw TestFailure(
                "the server did not start: \(String(describing: try? await task.value)); sessions: \(String(describing: sessions))"
            )
        }
        return TestServer(port: port, task: task)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
