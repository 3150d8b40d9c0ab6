import API
import CurlClient
import Foundation
import Logging
import MetricRouter
import Postgres
import Testing

/// The group-commit writer under pressure: a full queue answers 429, a missing
/// database 503, and SIGTERM loses nothing that was acknowledged.
@Suite("Metric writer", .serialized)
struct WriterTests {
    /// Holds a SHARE lock on `relation` until `release()` cancels the holding session:
    /// writes to it wait, reads do not. (An ACCESS EXCLUSIVE lock here stalled every
    /// other test's reads of the hypertable on TimescaleDB, which open every chunk.)
    struct RelationLock {
        static let applicationName = "millwright-test-lock"
        let task: Task<Void, any Error>

        init(_ relation: String) {
            task = Task {
                let pool = PostgresPool(
                    configuration: .init(
                        connectionString: TestEnvironment.ownerDatabaseURL, size: 1, applicationName: Self.applicationName),
                    logger: Logger(label: "test"))
                _ = try? await pool.withConnection { db in
                    _ = try db.execute(
                        unsafeSQL: "BEGIN; LOCK TABLE \(relation) IN SHARE MODE; SELECT pg_sleep(60); COMMIT")
                }
                await pool.shutdown()
            }
        }

        func release() async throws {
            try await Metrics.asOwner { db in
                _ = try db.query(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = \(Self.applicationName)")
            }
            _ = await task.result
        }
    }

    /// Waits until `count` sessions wait for a lock on `relation`.
    static func waitForBlockedWriters(_ relation: String, count: Int) async throws {
        for _ in 0..<200 {
            let blocked = try await Metrics.asOwner { db in
                try db.query(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = \(relation)::regclass"
                ).first!.decode(0, as: Int.self)
            }
            if blocked >= count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("fewer than \(count) writers ever waited for the lock on \(relation)")
    }

    @Test("A full queue answers 429 with Retry-After; what was accepted is stored once the database moves again")
    func backpressure() async throws {
        var configuration = try await TestEnvironment.ownServerConfiguration
        configuration.writer = MetricWriter.Configuration(maxQueuedPoints: 2000, flushPoints: 1000, flushers: 1)
        let server = try await TestServer.start(configuration)
        defer { server.task.cancel() }
        let client = TestClient(server: server)
        let t = try await Fixtures.tenant(client)
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        // Three days back: a partition (or chunk) no other test writes to, locked below.
        let day = Int(Date().timeIntervalSince1970) / 86_400 * 86_400 - 3 * 86_400 + 3600
        #expect(try await Metrics.lines(client, t, token: writer, "m,device=d1 v=0 \(day)", query: "?precision=s").status == 204)
        let relation = try await Metrics.asOwner { db in
            try db.query("SELECT tableoid::regclass::text FROM millwright_metrics.number_points WHERE tenant_id = \(t)").first!
                .decode(0, as: String.self)
        }
        func batch(_ offset: Int) -> String {
            (0..<1000).map { "m,device=d1 v=\($0) \(day + 1 + offset + $0)" }.joined(separator: "\n")
        }
        let lock = RelationLock(relation)
        try await Task.sleep(for: .milliseconds(300))
        let first = Task { try await Metrics.lines(client, t, token: writer, batch(0), query: "?precision=s") }
        try await Self.waitForBlockedWriters(relation, count: 1)
        let second = Task { try await Metrics.lines(client, t, token: writer, batch(1000), query: "?precision=s") }
        // The second batch is accepted into the queue behind the blocked flush; wait for it.
        try await Task.sleep(for: .milliseconds(1500))
        let refused = try await Metrics.lines(client, t, token: writer, batch(2000), query: "?precision=s")
        #expect(refused.status == 429)
        #expect(refused.code == "writer_busy")
        #expect(refused.header("Retry-After") != nil)
        let influx = try await Metrics.influx(client, t, token: writer, batch(3000), precision: "s")
        #expect(influx.status == 429)
        #expect(influx.json["code"] as? String == "too many requests")
        #expect(influx.header("Retry-After") != nil)
        try await lock.release()
        #expect(try await first.value.status == 204)
        #expect(try await second.value.status == 204)
        #expect(try await Metrics.storedRows(t) == 2001)
    }

    @Test("SIGTERM flushes every accepted point; every acknowledged point is there after a restart")
    func sigtermAndRestart() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let service = try ServiceProcess()
        try await service.start()
        let other = TestClient(server: TestServer(port: service.port, task: Task {}))
        let base = Int(Date().timeIntervalSince1970) - 20_000
        // 24 clients keep writing 500-point batches; SIGTERM lands in the middle.
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for c in 0..<24 {
                group.addTask {
                    var acked = 0
                    for r in 0..<40 {
                        let offset = (c * 40 + r) * 500
                        let body = (0..<500).map { "m,device=d1 v=\($0) \(base + offset / 50)\(String(format: "%03d", $0))" }
                            .joined(separator: "\n")
                        guard let response = try? await Metrics.lines(other, t, token: writer, body, query: "?precision=ms")
                        else {
                            return acked
                        }
                        if response.status == 204 { acked += 500 } else if response.status != 503 { return acked }
                    }
                    return acked
                }
            }
            try await Task.sleep(for: .milliseconds(700))
            service.terminate()
            return try await group.reduce(0, +)
        }
        let status = await service.waitForExit()
        #expect(status == 0)
        #expect(acknowledged > 0)
        let stored = try await Metrics.storedRows(t)
        #expect(stored >= acknowledged)

        let restarted = try ServiceProcess()
        try await restarted.start()
        let again = TestClient(server: TestServer(port: restarted.port, task: Task {}))
        let read = try await again.get(
            "/api/v1/tenants/\(t)/devices/d1/sensors/m.v/points?from=2000-01-01T00:00:00Z&limit=10",
            token: try await Tokens.viewer(t))
        #expect(read.status == 200)
        #expect((read.json["points"] as? [Any])?.count == 10)
        restarted.terminate()
        #expect(await restarted.waitForExit() == 0)
    }

    @Test("With the database away, ingest answers 503 with Retry-After and stores nothing")
    func databaseAway() async throws {
        let (server, proxy) = try await DatabaseOutageTests.Proxy.serverBehindProxy()
        defer { proxy.stop() }
        defer { server.task.cancel() }
        let client = TestClient(server: server)
        let t = try await Fixtures.tenant(client)
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        #expect(try await Metrics.lines(client, t, token: writer, "m,device=d1 v=1").status == 204)
        proxy.stop()
        let json = try await Metrics.write(client, t, token: writer, [["device": "d1", "sensor": "m.v", "value": 2]])
        #expect(json.status == 503)
        #expect(json.header("Retry-After") != nil)
        let influx = try await Metrics.influx(client, t, token: writer, "m,device=d1 v=3")
        #expect(influx.status == 503)
        #expect(influx.json["code"] as? String == "unavailable")
        try proxy.start()
        var recovered = 0
        for _ in 0..<50 where recovered != 204 {
            recovered = try await Metrics.lines(client, t, token: writer, "m,device=d1 v=4").status
            if recovered != 204 { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(recovered == 204)
        #expect(try await Metrics.storedRows(t) == 2)
    }
}

/// The real `millwright` binary, started with the test database and issuer.
final class ServiceProcess: @unchecked Sendable {
    // @unchecked: driven from one test task.
    let port = TestEnvironment.freePort()
    let metricsPort = TestEnvironment.freePort()
    private let process = Process()

    init(environment: [String: String] = [:]) throws {
        let root = TestEnvironment.migrationsDirectory.deletingLastPathComponent()
        let binary =
            ProcessInfo.processInfo.environment["MILLWRIGHT_TEST_BINARY"]
            ?? root.appendingPathComponent(".build/debug/millwright").path
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve"]
        process.environment = [
            "MILLWRIGHT_DATABASE_URL": TestEnvironment.runtimeDatabaseURL,
            "MILLWRIGHT_MIGRATION_DATABASE_URL": TestEnvironment.ownerDatabaseURL,
            "MILLWRIGHT_OIDC_ISSUERS": TestEnvironment.issuer, "MILLWRIGHT_OIDC_ALLOW_HTTP": "true",
            "MILLWRIGHT_OIDC_AUDIENCE": TestEnvironment.audience, "MILLWRIGHT_OIDC_CLIENT_ID": TestEnvironment.clientID,
            "MILLWRIGHT_PORT": String(port), "MILLWRIGHT_MIGRATIONS_DIR": TestEnvironment.migrationsDirectory.path,
            "MILLWRIGHT_LOG_LEVEL": "warning", "MILLWRIGHT_METRICS_PORT": String(metricsPort),
            // Alerting as every other replica in the tests has it (TestEnvironment.configuration):
            // any replica may send another test's webhook.
            "MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE": "true", "MILLWRIGHT_WEBHOOK_FIRST_RETRY_S": "1",
            "MILLWRIGHT_PUBLIC_URL": "https://millwright.example",
        ].merging(environment) { _, new in new }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        // Logs go to stdout, start-up failures to stderr: both kept.
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
    }

    private let logPath = FileManager.default.temporaryDirectory.appendingPathComponent(
        "millwright-service-\(UUID().uuidString).log"
    ).path

    func start() async throws {
        try process.run()
        for _ in 0..<300 where process.isRunning {
            let health = try? await CurlHTTPClient.forTests.perform(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz", method: "GET", headers: [], body: nil))
            if health?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw TestFailure("the service binary did not start on port \(port): \(log.suffix(2000))")
    }

    func terminate() { kill(process.processIdentifier, SIGTERM) }

    /// The value of one series (name with its labels, as exposed) on the metrics listener.
    func gauge(_ series: String) async throws -> Double? {
        let response = try await CurlHTTPClient.forTests.perform(
            HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics", method: "GET", headers: [], body: nil))
        let line = response.text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// What the service logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func waitForExit() async -> Int32 {
        for _ in 0..<300 where process.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
