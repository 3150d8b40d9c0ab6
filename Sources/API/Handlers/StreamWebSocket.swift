import Auth
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import JSONText
import Logging
import NIOCore
import ServiceLifecycle
import Streams

/// The live streams over WebSocket: the same paths, checks and events as the SSE
/// streams. A request that asks for the upgrade on a stream path is checked first
/// (bearer token or ticket, tenant, role, selection, caps) by the same code as SSE.
///
/// Each event is one text message: `{"data":{…},"id":"42","type":"points"}`; the
/// final one has `"type":"end"`, then the server closes (1001 when shutting down,
/// 1000 otherwise). Keep-alives are WebSocket pings. What the client sends is read
/// and ignored (at most 4 KiB a message).
///
/// A refused stream is upgraded all the same, to say why: one message
/// `{"data":<problem+json>,"type":"error"}`, then close code 4000 + the HTTP status
/// (4400, 4401, 4403, 4404, 4429, 4503).
struct StreamWebSocket: Sendable {
    let handlers: StreamHandlers
    let routes: RouteTable
    let logger: Logger

    typealias Upgrade = ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>

    /// `refusal`: the connection is past the connection limits; it is refused before
    /// anything else is checked.
    func shouldUpgrade(_ head: HTTPRequest, refusal: ConnectionCounter.Admission?) async -> Upgrade {
        guard head.method == .get, let target = head.path else { return .dontUpgrade }
        let uri = URI(target)
        let requestID = RequestIdentity.id(from: head.headerFields[.requestID])
        let resolved = routes.resolve(method: .get, path: uri.path)
        // A stream path with an identifier nothing can have: refused as SSE would be (404),
        // not with the empty 400 of a declined upgrade.
        if case .invalidIdentifier(let kind) = resolved, uri.path.hasSuffix("/stream") {
            return refused(Problem.invalidIdentifier(kind), route: "-", requestID: requestID)
        }
        guard case .found(let route, let parameters) = resolved, case .stream = route.body else { return .dontUpgrade }
        if let refusal { return refused(Problem.tooManyConnections(refusal), route: route.template, requestID: requestID) }
        var query: [String: [String]] = [:]
        for (name, value) in uri.queryParameters { query[String(name), default: []].append(String(value)) }
        let asked = StreamHandlers.Asked(
            tenant: parameters["tenant"] ?? "", route: route.template, parameters: parameters, query: query,
            authorization: head.headerFields[.authorization], lastEventID: nil)
        let opened: (StreamSession, Principal)
        do {
            opened = try await handlers.open(asked)
        } catch {
            // A failed upgrade can only answer an empty 400, and browsers show WebSocket
            // clients no HTTP status anyway: the refusal is the first and last message.
            let state = RequestState(
                requestID: requestID, principal: nil, parameters: parameters, route: route.template, logger: logger)
            return refused(ErrorMapping.problem(for: error, state: state), route: route.template, requestID: requestID)
        }
        let (session, principal) = opened
        logger.info(
            "websocket stream opened",
            metadata: [
                "route": "\(route.template)", "tenant": "\(asked.tenant)", "principal": "\(principal.subject)",
                "kind": "\(session.kind)",
            ])
        let logger = self.logger
        return .upgrade([:]) { inbound, outbound, _ in
            defer { session.close() }
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for try await _ in inbound.messages(maxSize: 4096) {}
                        } catch {}
                        session.stop()
                    }
                    group.addTask {
                        do {
                            while let output = try await session.next() {
                                try await Self.send(output, to: outbound)
                                session.wrote()
                            }
                        } catch {
                            session.stop()
                        }
                    }
                    await group.waitForAll()
                }
            } onGracefulShutdown: {
                session.shutDown()
            }
            logger.info("websocket stream closed", metadata: ["route": "\(route.template)", "tenant": "\(asked.tenant)"])
        }
    }

    /// Upgrades to say why the stream is refused: one `error` message, then close code
    /// 4000 + the problem's status.
    private func refused(_ problem: Problem, route: String, requestID: String) -> Upgrade {
        logger.info(
            "websocket stream refused",
            metadata: ["route": "\(route)", "status": "\(problem.status.code)", "code": "\(problem.code)"])
        return .upgrade([:]) { _, outbound, _ in
            var writer = JSONWriter()
            problem.write(to: &writer, requestID: requestID)
            try await outbound.write(.text(Self.message(type: "error", id: nil, data: writer.bytes)))
            try await outbound.close(.unknown(UInt16(4000 + Int(problem.status.code))), reason: problem.code)
        }
    }

    static func send(_ output: StreamOutput, to outbound: WebSocketOutboundWriter) async throws {
        switch output {
        case .event(let id, let name, let data):
            try await outbound.write(.text(message(type: name, id: id, data: data)))
        case .keepAlive:
            // Pings keep the connection alive (WebSocketServerConfiguration.autoPing).
            break
        case .end(let end):
            guard end != .clientClosed else { return }
            try await outbound.write(.text(message(type: "end", id: nil, data: end.json)))
            try await outbound.close(end == .shutdown ? .goingAway : .normalClosure, reason: end.reason)
        }
    }

    static func message(type: String, id: Int64?, data: [UInt8]) -> String {
        var text = "{\"data\":"
        text += String(decoding: data, as: UTF8.self)
        if let id { text += ",\"id\":\"\(id)\"" }
        text += ",\"type\":\"\(type)\"}"
        return text
    }
}
