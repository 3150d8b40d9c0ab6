import Auth
import Foundation
import HTTPTypes
import Hummingbird
import InputParsing
import JSONText
import Logging
import NIOCore
import ServiceLifecycle
import Streams
import Tenancy

/// The live streams' endpoints: tickets, and the streams themselves over SSE (here)
/// and WebSocket (`StreamWebSocket`, same paths and checks).
///
/// A stream is opened with a bearer token, or with a ticket (`?ticket=`) by clients
/// that cannot send a header. Every check (credential, tenant, role, selection, caps)
/// comes before the ticket is used up, so a refused stream leaves the ticket valid.
struct StreamHandlers: Sendable {
    let hub: StreamHub
    let tickets: StreamTickets
    let authenticator: any Authenticating

    static let tickets = "/api/v1/tenants/{tenant}/stream-tickets"
    static let deviceStream = "/api/v1/tenants/{tenant}/devices/{device}/stream"
    static let tenantStream = "/api/v1/tenants/{tenant}/stream"
    static let alertStream = "/api/v1/tenants/{tenant}/alerts/stream"
    static let maxSelected = 100

    func routes() -> [Route] {
        [
            Route(.post, Self.tickets, tenant: .member(.viewer)) { _, _, context in
                guard case .user(let user) = context.principal else {
                    throw Problem.forbidden("device keys may only write metrics")
                }
                let issued: StreamTickets.Issued
                do {
                    issued = try await tickets.issue(in: context, user: user)
                } catch let refusal as StreamRefusal {
                    throw Self.problem(refusal)
                }
                var response = try JSONResponse.make(.created, TicketBody(issued: issued, lifetime: tickets.lifetime))
                response.headers[.cacheControl] = "no-store"
                return response
            },
            Route(stream: Self.deviceStream) { request, state in try await serveEvents(request, &state) },
            Route(stream: Self.tenantStream) { request, state in try await serveEvents(request, &state) },
            Route(stream: Self.alertStream) { request, state in try await serveEvents(request, &state) },
        ]
    }

    // MARK: Opening

    /// What a stream request asks, from its path, query and headers.
    struct Asked: Sendable {
        var tenant: String
        var route: String
        var parameters: [String: String]
        var query: [String: [String]]
        var authorization: String?
        var lastEventID: String?
    }

    /// Checks everything and opens the stream; the ticket, if one was shown, is used up
    /// last. Returns the session and who opened it.
    func open(_ asked: Asked) async throws -> (StreamSession, Principal) {
        let raw = asked.tenant
        var ticket: String?
        let principal: Principal
        if let authorization = asked.authorization {
            principal = try await authenticator.authenticate(authorization)
        } else if let shown = asked.query["ticket"]?.first {
            guard let tenant = TenantID(raw), let holder = try await tickets.peek(shown, tenant: tenant) else {
                throw Self.invalidTicket()
            }
            ticket = shown
            principal = .user(holder.user)
        } else {
            throw Problem.unauthenticated()
        }
        let context = try principal.access(to: raw, requiring: .member(.viewer))
        guard case .user(let user) = principal else { throw Problem.forbidden("device keys may only write metrics") }
        let request = StreamRequest(
            tenant: context.tenant, principal: "\(user.issuer) \(user.subject)", selection: try selection(asked),
            policy: try policy(asked.query), expiresAt: user.expiresAt.map(Date.init(timeIntervalSince1970:)),
            resumeAfter: try resumeAfter(asked), mayActWhenSuspended: context.isPlatformAdmin)
        let session: StreamSession
        do {
            session = try await hub.open(request)
        } catch let refusal as StreamRefusal {
            throw Self.problem(refusal)
        }
        if let ticket {
            guard try await tickets.redeem(ticket, tenant: context.tenant) else {
                session.close()
                throw Self.invalidTicket()
            }
        }
        return (session, principal)
    }

    private func selection(_ asked: Asked) throws(Problem) -> StreamSelection {
        if asked.route == Self.alertStream { return .alerts }
        let sensors = try identifiers(asked.query["sensor"], kind: .sensor, name: "sensor")
        if asked.route == Self.deviceStream {
            return .points(devices: [asked.parameters["device"] ?? ""], sensors: sensors, labels: nil)
        }
        let devices = try identifiers(asked.query["device"], kind: .device, name: "device")
        var labels: [String: String]?
        for raw in asked.query["label"] ?? [] {
            guard let (key, value) = StreamParameters.label(raw) else {
                throw QueryParameters.invalid("label", "must be key:value, like line:3")
            }
            labels = labels ?? [:]
            labels?[key] = value
        }
        if (labels?.count ?? 0) > 10 { throw QueryParameters.invalid("label", "may be given at most 10 times") }
        return .points(devices: devices, sensors: sensors, labels: labels)
    }

    private func identifiers(_ raw: [String]?, kind: Identifier.Kind, name: String) throws(Problem) -> Set<String>? {
        guard let raw, !raw.isEmpty else { return nil }
        guard raw.count <= Self.maxSelected else {
            throw QueryParameters.invalid(name, "may be given at most \(Self.maxSelected) times")
        }
        for value in raw where !Identifier.isValid(value, as: kind) {
            throw QueryParameters.invalid(name, "must be \(kind.rawValue) ids (\(kind.pattern))")
        }
        return Set(raw)
    }

    private func policy(_ query: [String: [String]]) throws(Problem) -> OverflowPolicy {
        guard let raw = query["policy"]?.first else { return .drop }
        guard let policy = OverflowPolicy(rawValue: raw) else {
            throw QueryParameters.invalid("policy", "must be drop or latest")
        }
        return policy
    }

    /// `Last-Event-ID` (SSE), or `resume_from` (either transport).
    private func resumeAfter(_ asked: Asked) throws(Problem) -> Int64? {
        let name = asked.lastEventID == nil ? "resume_from" : "Last-Event-ID"
        guard let raw = asked.lastEventID ?? asked.query["resume_from"]?.first else { return nil }
        guard let id = StreamParameters.eventID(raw) else {
            throw QueryParameters.invalid(name, "must be an event id this service sent (a whole number)")
        }
        return id
    }

    static func invalidTicket() -> Problem {
        Problem(
            .unauthorized, code: "invalid_ticket",
            detail: "the stream ticket is unknown, expired, already used, or for another tenant; ask for a new one")
    }

    static func problem(_ refusal: StreamRefusal) -> Problem {
        switch refusal {
        case .unknownTenant(let tenant):
            return .notFound("no tenant \(tenant)")
        case .suspended(let tenant):
            return .forbidden("tenant \(tenant) is suspended", code: "tenant_suspended")
        case .unknownDevice(let device):
            return .notFound("no device \(device)")
        case .limit(.tenantLimit(let limit)):
            return Problem(
                .tooManyRequests, code: "stream_limit",
                detail:
                    "this tenant has \(limit) streams open here, its limit (MILLWRIGHT_STREAM_MAX_PER_TENANT); close one first",
                headers: [.retryAfter: "10"])
        case .limit(.principalLimit(let limit)):
            return Problem(
                .tooManyRequests, code: "stream_limit",
                detail:
                    "you have \(limit) streams open here, the limit per user (MILLWRIGHT_STREAM_MAX_PER_PRINCIPAL); close one first",
                headers: [.retryAfter: "10"])
        case .limit(.shuttingDown):
            return Problem(
                .serviceUnavailable, code: "shutting_down", detail: "the service is shutting down; reconnect shortly",
                headers: [.retryAfter: "1"])
        }
    }

    // MARK: Server-Sent Events

    private func serveEvents(_ request: Request, _ state: inout RequestState) async throws -> Response {
        // The WebSocket upgrade happens before routing, on a connection's first request
        // only; hummingbird-websocket answers a later `Upgrade: websocket` with a 307 to
        // itself on a new connection. Any other spelling gets an answer, never events.
        if request.headers[.upgrade]?.lowercased() == "websocket" {
            throw Problem(
                .badRequest, code: "upgrade_not_first",
                detail: "a WebSocket upgrade must be the first request on its connection; open a new connection")
        }
        // HEAD would open a stream whose body never runs.
        guard request.method == .get else {
            throw Problem(
                .methodNotAllowed, code: "method_not_allowed", detail: "a stream is opened with GET",
                headers: [.allow: "GET"])
        }
        var query: [String: [String]] = [:]
        for (name, value) in request.uri.queryParameters { query[String(name), default: []].append(String(value)) }
        let asked = Asked(
            tenant: state.parameter("tenant"), route: state.route, parameters: state.parameters, query: query,
            authorization: request.headers[.authorization], lastEventID: request.headers[.lastEventID])
        let (session, principal) = try await open(asked)
        state.principal = principal
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        // NGINX: do not buffer this response.
        headers[.xAccelBuffering] = "no"
        let logger = state.logger
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { session.close() }
                try await withGracefulShutdownHandler {
                    try await writer.write(ByteBuffer(string: "retry: 2000\n: stream open\n\n"))
                    session.wrote()
                    while let output = try await session.next() {
                        try await writer.write(Self.sse(output))
                        session.wrote()
                    }
                } onGracefulShutdown: {
                    session.shutDown()
                }
                logger.debug("stream ended")
                try await writer.finish(nil)
            })
    }

    static func sse(_ output: StreamOutput) -> ByteBuffer {
        var buffer = ByteBuffer()
        switch output {
        case .event(let id, let name, let data):
            buffer.writeString("id: \(id)\nevent: \(name)\ndata: ")
            buffer.writeBytes(data)
            buffer.writeString("\n\n")
        case .keepAlive:
            buffer.writeString(": keep-alive\n\n")
        case .end(let end):
            buffer.writeString("event: end\ndata: ")
            buffer.writeBytes(end.json)
            buffer.writeString("\n\n")
        }
        return buffer
    }
}

/// The answer to a ticket request.
struct TicketBody: JSONBodyWriting {
    var issued: StreamTickets.Issued
    var lifetime: Duration

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("expires_at")
        w.date(issued.expiresAt)
        w.key("expires_in")
        w.integer(lifetime.components.seconds)
        w.key("ticket")
        w.string(issued.ticket)
        w.endObject()
    }
}

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let xAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
