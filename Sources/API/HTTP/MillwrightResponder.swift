import Auth
import DeviceRegistry
import Foundation
import HTTPTypes
import Hummingbird
import InputParsing
import Logging
import MetricRouter
import Metrics
import NIOCore
import NIOHTTP1
import OpenSSLSupport
import Postgres

/// The service's single responder: request id, routing (404/405), authentication,
/// the handler, and the translation of every error into problem+json.
///
/// Only `Problem`s reach clients as they are; registry errors become 404/409/412;
/// the database's absence becomes 503 with `Retry-After`; anything else is a 500
/// whose detail goes to the log only.
struct MillwrightResponder: HTTPResponder {
    typealias Context = MillwrightRequestContext

    let routes: RouteTable
    let authenticator: Authenticator
    let logger: Logger
    var trustedProxies = TrustedProxies.none

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = Self.requestID(from: request.headers[.requestID])
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(requestID)"
        var state = RequestState(requestID: requestID, principal: nil, parameters: [:], route: "-", logger: logger)
        var response: Response
        do {
            response = try await route(request, &state)
        } catch {
            response = Self.errorResponse(error, state: state)
        }
        response.headers[.requestID] = requestID
        let peer = context.clientAddress
        if let location = response.headers[.location], location.hasPrefix("/"), let base = publicBase(request, peer: peer) {
            response.headers[.location] = base + location
        }
        if request.method == .head { response.body = ResponseBody() }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var line: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "route": "\(state.route)", "status": "\(response.status.code)",
            "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
            "client": "\(trustedProxies.client(peer: peer, forwardedFor: request.headers[.xForwardedFor]))",
            "bytes_in": "\(request.headers[.contentLength] ?? "0")",
            "bytes_out": "\(response.body.contentLength.map(String.init) ?? "-")",
            "principal_kind": "\(state.principal?.kind ?? "-")", "principal": "\(state.principal?.subject ?? "-")",
        ]
        if let tenant = state.parameters["tenant"] { line["tenant"] = "\(tenant)" }
        state.logger.info("request", metadata: line)
        // Labelled by route template and status class only: bounded, whatever the paths.
        // Clients choose methods; the label keeps to the ones HTTP defines.
        let method = Self.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "OTHER"
        Counter(
            label: "millwright_http_requests_total",
            dimensions: [("route", state.route), ("method", method), ("status_class", "\(response.status.code / 100)xx")]
        ).increment()
        Timer(label: "millwright_http_request_duration_seconds", dimensions: [("route", state.route), ("method", method)])
            .record(duration: elapsed)
        return response
    }

    private func route(_ request: Request, _ state: inout RequestState) async throws -> Response {
        switch routes.resolve(method: request.method, path: request.uri.path) {
        case .notFound:
            throw Problem.notFound("no route for \(request.uri.path)")
        case .invalidIdentifier(let kind):
            // Nothing can have that id, so nothing is looked up; the id is not echoed.
            throw Problem.notFound("no \(kind.rawValue) has that id: \(kind.rawValue) ids match \(kind.pattern)")
        case .methodNotAllowed(let allowed):
            var headers = HTTPFields()
            headers[.allow] = Set(allowed.map(\.rawValue) + (allowed.contains(.get) ? ["HEAD"] : [])).sorted().joined(
                separator: ", ")
            throw Problem(
                .methodNotAllowed, code: "method_not_allowed", detail: "\(request.method.rawValue) is not allowed here",
                headers: headers)
        case .found(let route, let parameters):
            state.route = route.template
            state.parameters = parameters
            if route.authenticated {
                state.principal = try await authenticator.authenticate(request.headers[.authorization])
            }
            return try await route.handler(request, state)
        }
    }

    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// `https://public.host` from a trusted proxy's `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`, for absolute `Location` headers; nil otherwise.
    func publicBase(_ request: Request, peer: String) -> String? {
        guard trustedProxies.trusts(peer) else { return nil }
        return TrustedProxies.publicBase(
            proto: request.headers[.xForwardedProto], host: request.headers[.xForwardedHost] ?? request.head.authority)
    }

    /// Keeps a sane client-sent id (1-128 of `[A-Za-z0-9._:-]`), else makes one.
    static func requestID(from header: String?) -> String {
        if let header, RequestID.isAcceptable(header) { return header }
        let bytes = (try? CryptoPrimitives.randomBytes(12)) ?? Array(UUID().uuidString.utf8.prefix(12))
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(24)
        for byte in bytes { text += [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]] }
        return String(decoding: text, as: UTF8.self)
    }

    static func errorResponse(_ error: any Error, state: RequestState) -> Response {
        JSONResponse.problem(problem(for: error, state: state), requestID: state.requestID)
    }

    static func problem(for error: any Error, state: RequestState) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as RegistryError:
            return Problem(registryError: error)
        case let error as IngestError:
            return Problem(ingestError: error)
        case let error as AuthError:
            Counter(label: "millwright_token_rejections_total", dimensions: [("reason", error.reason)]).increment()
            return Problem(authError: error)
        case let error as PostgresError where error.isUnavailable || error.code == .shutDown:
            Counter(label: "millwright_database_unavailable_total").increment()
            state.logger.warning("database unavailable", metadata: ["error": "\(String(reflecting: error))"])
            return .databaseUnavailable()
        case is NIOTooManyBytesError:
            return Problem(.contentTooLarge, code: "body_too_large", detail: "the body is larger than this endpoint accepts")
        case let error as PostgresError where error.sqlState == "23514" || error.sqlState?.hasPrefix("22") == true:
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
}
