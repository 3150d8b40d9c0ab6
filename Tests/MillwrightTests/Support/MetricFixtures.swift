import Foundation
import InputParsing
import Logging
import Postgres

/// Helpers for metric tests: writing through the API and counting stored rows as
/// the schema owner (the runtime role cannot read the metric tables).
enum Metrics {
    static func write(
        _ client: TestClient, _ tenant: String, token: String?, _ points: [[String: Any]]
    ) async throws -> APIResponse {
        try await client.post("/api/v1/tenants/\(tenant)/metrics", token: token, json: ["points": points])
    }

    static func lines(
        _ client: TestClient, _ tenant: String, token: String, _ body: String, query: String = "",
        headers: [(name: String, value: String)] = []
    ) async throws -> APIResponse {
        try await client.request(
            "POST", "/api/v1/tenants/\(tenant)/write\(query)", token: token, body: Array(body.utf8), contentType: "text/plain",
            headers: headers)
    }

    /// The InfluxDB v2 write API with `Token` credentials.
    static func influx(
        _ client: TestClient, _ tenant: String, token: String, _ body: String, precision: String = "ns"
    ) async throws -> APIResponse {
        try await client.request(
            "POST", "/api/v2/write?org=\(tenant)&bucket=b&precision=\(precision)", body: Array(body.utf8),
            contentType: "text/plain", headers: [("Authorization", "Token \(token)")])
    }

    /// On TimescaleDB, materializes the 1-minute continuous aggregate over
    /// [`from`, `to`) (µs), as its policy does every minute; nothing on pg_partman. Points
    /// written behind the aggregate's watermark (another test's refresh moved it) show in
    /// whole-minute aggregates only after such a refresh. Throws if the refresh fails.
    static func refreshRollup(from: Int64, to: Int64) async throws {
        try await asOwner { db in
            let engine = try db.query("SELECT engine FROM millwright.metric_storage").first!.decode(0, as: String.self)
            guard engine == "timescaledb" else { return }
            _ = try db.query(
                "CALL refresh_continuous_aggregate('millwright_metrics.number_points_1m', \(RFC3339.format(unixMicros: from))::timestamptz, \(RFC3339.format(unixMicros: to))::timestamptz)"
            )
        }
    }

    /// On TimescaleDB, runs the continuous aggregate's refresh job itself (its policy's
    /// window), in this session rather than the scheduler's; nothing on pg_partman.
    /// Throws if the job fails.
    static func runRefreshJob() async throws {
        try await asOwner { db in
            let engine = try db.query("SELECT engine FROM millwright.metric_storage").first!.decode(0, as: String.self)
            guard engine == "timescaledb" else { return }
            let job = try db.query(
                """
                SELECT job_id FROM timescaledb_information.jobs
                WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = 'number_points_1m'
                """
            ).first!.decode(0, as: Int.self)
            _ = try db.query("CALL run_job(\(job))")
        }
    }

    /// An RFC 3339 time `seconds` from now.
    static func time(_ seconds: Double = 0) -> String {
        RFC3339.format(Date().addingTimeInterval(seconds))
    }

    /// Rows stored for `tenant` across the four kind tables, read as the owner.
    static func storedRows(_ tenant: String) async throws -> Int {
        try await asOwner { db in
            try db.query(
                """
                SELECT (SELECT count(*) FROM millwright_metrics.number_points WHERE tenant_id = \(tenant))
                     + (SELECT count(*) FROM millwright_metrics.integer_points WHERE tenant_id = \(tenant))
                     + (SELECT count(*) FROM millwright_metrics.boolean_points WHERE tenant_id = \(tenant))
                     + (SELECT count(*) FROM millwright_metrics.string_points WHERE tenant_id = \(tenant))
                """
            ).first!.decode(0, as: Int.self)
        }
    }

    /// Runs `body` on a connection of the schema owner.
    static func asOwner<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await PostgresPool.withTemporaryConnection(
            TestEnvironment.ownerDatabaseURL, applicationName: "millwright-test", logger: Logger(label: "test"), body)
    }

    /// The points of a sensor as the query API returns them: (time, value).
    static func points(
        _ client: TestClient, _ tenant: String, device: String, sensor: String, token: String, query: String = ""
    ) async throws -> [(String, Any)] {
        let response = try await client.get(
            "/api/v1/tenants/\(tenant)/devices/\(device)/sensors/\(sensor)/points\(query)", token: token)
        guard response.status == 200 else { throw TestFailure("points: \(response.status) \(response.raw.text)") }
        return (response.json["points"] as? [[String: Any]] ?? []).map { ($0["time"] as? String ?? "", $0["value"] as Any) }
    }
}

extension APIResponse {
    /// The `errors` entries of a problem.
    var errors: [[String: Any]] { json["errors"] as? [[String: Any]] ?? [] }
}
