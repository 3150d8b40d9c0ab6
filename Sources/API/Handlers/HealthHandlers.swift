import Foundation
import Hummingbird
import MetricRouter
import NIOCore
import Postgres

/// `/healthz`, `/readyz` and `/openapi.yaml`: no authentication.
struct HealthHandlers: Sendable {
    let pool: PostgresPool
    let runner: MigrationRunner
    let storage: MetricStorage
    let openAPIDocument: [UInt8]?

    func routes() -> [Route] {
        [
            Route(.get, "/healthz", authenticated: false) { _, _ in
                try JSONResponse.make(.ok, ["status": "ok"])
            },
            Route(.get, "/readyz", authenticated: false) { _, state in try await ready(state) },
            Route(.get, "/openapi.yaml", authenticated: false) { _, _ in
                guard let openAPIDocument else { throw Problem.notFound("the API description is not installed") }
                var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: openAPIDocument)))
                response.headers[.contentType] = "application/yaml"
                return response
            },
        ]
    }

    private func ready(_ state: RequestState) async throws -> Response {
        let runner = self.runner
        let pending: Result<Int, any Error>
        do {
            pending = .success(try await pool.withConnection { try runner.pending(on: $0).count })
        } catch {
            pending = .failure(error)
        }
        switch pending {
        case .success(0):
            return try JSONResponse.make(
                .ok, ["status": "ready", "database": "ok", "schema": "current", "storage": storage.engine])
        case .success(let count):
            return try JSONResponse.make(
                .serviceUnavailable,
                ["status": "not_ready", "database": "ok", "schema": "\(count) migrations pending", "storage": storage.engine],
                headers: [.retryAfter: "5"])
        case .failure(let error):
            state.logger.warning("not ready", metadata: ["error": "\(String(reflecting: error))"])
            let schema = error is MigrationError ? "\(error)" : "unknown"
            return try JSONResponse.make(
                .serviceUnavailable,
                ["status": "not_ready", "database": error is MigrationError ? "ok" : "unreachable", "schema": schema],
                headers: [.retryAfter: "5"])
        }
    }
}
