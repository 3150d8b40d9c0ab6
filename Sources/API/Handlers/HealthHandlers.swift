import Foundation
import Hummingbird
import NIOCore

/// What `/readyz` reports, from the composition root's check of the database.
enum Readiness: Sendable {
    /// The database answers and its schema is current.
    case ready
    /// The database answers; this many migrations are pending.
    case pending(Int)
    /// The database answers, but its migrations differ from the service's.
    case migrationsDiffer(String)
    /// The database does not answer.
    case unreachable(String)
}

/// `/healthz`, `/readyz` and `/openapi.yaml`: no authentication.
struct HealthHandlers: Sendable {
    /// Checks the database (one connection, one statement).
    let readiness: @Sendable () async -> Readiness
    /// `timescaledb` or `partman`.
    let storageEngine: String
    let openAPIDocument: [UInt8]?

    func routes() -> [Route] {
        [
            Route(.get, "/healthz", access: .anonymous) { _, _ in
                try JSONResponse.make(.ok, ["status": "ok"])
            },
            Route(.get, "/readyz", access: .anonymous) { _, state in try await ready(state) },
            Route(.get, "/openapi.yaml", access: .anonymous) { _, _ in
                guard let openAPIDocument else { throw Problem.notFound("the API description is not installed") }
                var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: openAPIDocument)))
                response.headers[.contentType] = "application/yaml"
                return response
            },
        ]
    }

    private func ready(_ state: RequestState) async throws -> Response {
        switch await readiness() {
        case .ready:
            return try JSONResponse.make(
                .ok, ["status": "ready", "database": "ok", "schema": "current", "storage": storageEngine])
        case .pending(let count):
            return try JSONResponse.make(
                .serviceUnavailable,
                ["status": "not_ready", "database": "ok", "schema": "\(count) migrations pending", "storage": storageEngine],
                headers: [.retryAfter: "5"])
        case .migrationsDiffer(let message):
            state.logger.warning("not ready", metadata: ["error": "\(message)"])
            return try JSONResponse.make(
                .serviceUnavailable, ["status": "not_ready", "database": "ok", "schema": message], headers: [.retryAfter: "5"])
        case .unreachable(let message):
            state.logger.warning("not ready", metadata: ["error": "\(message)"])
            return try JSONResponse.make(
                .serviceUnavailable, ["status": "not_ready", "database": "unreachable", "schema": "unknown"],
                headers: [.retryAfter: "5"])
        }
    }
}
