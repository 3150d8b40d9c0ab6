import Alerting
import Auth
import DeviceRegistry
import HTTPTypes
import Hummingbird
import InputParsing
import MetricRouter
import Metrics
import NIOCore
import NIOHTTP1

/// Every error a request can end in, as the problem its client sees: the one place
/// where errors become HTTP.
///
/// Only `Problem`s reach clients as they are; registry errors become 404/409/412,
/// refused access 404/403, the database's absence 503 with `Retry-After`; anything
/// else is a 500 whose detail goes to the log only.
enum ErrorMapping {
    /// The response for `error` in the route's error format.
    static func response(for error: any Error, format: ErrorFormat, state: RequestState) -> Response {
        let problem = problem(for: error, state: state)
        switch format {
        case .problem: return JSONResponse.problem(problem, requestID: state.requestID)
        case .influx: return InfluxError.response(problem, requestID: state.requestID)
        }
    }

    static func problem(for error: any Error, state: RequestState) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as AccessDenied:
            return error.kind == .notFound ? .notFound(error.message) : .forbidden(error.message)
        case let error as RegistryError:
            return Problem(registryError: error)
        case let error as RuleRefused:
            return Problem.unprocessable(
                error.message, errors: [.init(pointer: error.pointer, code: error.code, message: error.message)])
        case let error as IngestError:
            return Problem(ingestError: error)
        case let error as AuthError:
            Counter(label: "millwright_token_rejections_total", dimensions: [("reason", error.reason)]).increment()
            return Problem(authError: error)
        case let error as any DatabaseFailure where error.meansUnavailable:
            Counter(label: "millwright_database_unavailable_total").increment()
            state.logger.warning("database unavailable", metadata: ["error": "\(String(reflecting: error))"])
            return .databaseUnavailable()
        case is NIOTooManyBytesError:
            return Problem(.contentTooLarge, code: "body_too_large", detail: "the body is larger than this endpoint accepts")
        case let error as any DatabaseFailure where error.meansValueRefused:
            // A value the database refuses (CHECK constraint, bad data) that validation
            // let through: still the client's input, so 422, but worth a look.
            state.logger.warning(
                "database refused a value validation accepted", metadata: ["error": "\(String(reflecting: error))"])
            return Problem.unprocessable("a value is outside what the database accepts", errors: [])
        case let error as HTTPError where error.status == .contentTooLarge:
            return Problem(.contentTooLarge, code: "body_too_large", detail: "the body is larger than this endpoint accepts")
        case let error as HTTPParserError where error == .invalidEOFState:
            // The client went away before its request was complete: nothing can be
            // answered and nothing failed here, so no 5xx (nginx's 499 in the log and metrics).
            state.logger.info("the client closed the connection before its request was complete")
            return Problem(
                HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), code: "client_closed_request",
                detail: "the connection closed before the request was complete")
        case let error as HTTPError where error.status.code < 500:
            return Problem(error.status, code: "bad_request", detail: error.body ?? error.status.reasonPhrase)
        default:
            state.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return .internalError()
        }
    }
}

extension Problem {
    static func unauthenticated() -> Problem {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"millwright\""
        return Problem(.unauthorized, code: "unauthenticated", detail: "a bearer token is required", headers: headers)
    }

    init(registryError error: RegistryError) {
        switch error.code {
        case .notFound: self = .notFound(error.message)
        case .alreadyExists: self.init(.conflict, code: "already_exists", detail: error.message)
        case .deviceLimitReached: self.init(.conflict, code: "device_limit_reached", detail: error.message)
        case .preconditionFailed: self.init(.preconditionFailed, code: "precondition_failed", detail: error.message)
        case .tenantSuspended: self = .forbidden(error.message, code: "tenant_suspended")
        default: self.init(.conflict, code: error.code.raw, detail: error.message)
        }
    }

    init(authError error: AuthError) {
        var headers = HTTPFields()
        if error.kind == .unavailable {
            headers[.retryAfter] = "10"
            self.init(.serviceUnavailable, code: "auth_unavailable", detail: error.message, headers: headers)
        } else {
            let description = error.message.replacingOccurrences(of: "\"", with: "'")
            headers[.wwwAuthenticate] =
                "Bearer realm=\"millwright\", error=\"invalid_token\", error_description=\"\(description)\""
            self.init(.unauthorized, code: "invalid_token", detail: error.message, headers: headers)
        }
    }

    init(ingestError error: IngestError) {
        let errors = error.problems.map { problem in
            FieldError(
                pointer: problem.pointer ?? problem.position.line.map { "line \($0)" } ?? "", code: problem.code,
                message: problem.message, index: problem.position.index, line: problem.position.line,
                column: problem.position.column)
        }
        switch error.code {
        case .syntax:
            self.init(.badRequest, code: "invalid_body", detail: error.message, errors: errors)
            errorCount = error.problemCount
        case .invalid:
            self.init(.unprocessableContent, code: "points_refused", detail: error.message, errors: errors)
            errorCount = error.problemCount
        case .forbidden:
            self = .forbidden(error.message)
        case .tooManyPoints:
            self.init(.contentTooLarge, code: "too_many_points", detail: error.message)
        case .backpressure:
            self.init(.tooManyRequests, code: "writer_busy", detail: error.message, headers: [.retryAfter: "1"])
        default:
            self.init(.serviceUnavailable, code: "unavailable", detail: error.message, headers: [.retryAfter: "5"])
        }
    }

    static func bodyTooLarge(_ limit: Int, decompressed: Bool = false) -> Problem {
        Problem(
            .contentTooLarge, code: "body_too_large",
            detail:
                "the body\(decompressed ? " (decompressed)" : "") is larger than the \(limit / (1 << 20)) MiB this endpoint accepts"
        )
    }
}
