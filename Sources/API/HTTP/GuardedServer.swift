import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The server's connections: HTTP/1.1 with the WebSocket upgrade of the stream paths,
/// each connection counted and timed from the moment it is accepted
/// (`ConnectionAdmission` first in its pipeline), whatever it turns into.
struct GuardedChannel<Inner: ServerChildChannel>: ServerChildChannel {
    let inner: Inner
    let limits: ConnectionLimits
    let counter: ConnectionCounter

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Inner.Value> {
        let admission = ConnectionAdmission(limits: limits, counter: counter)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(admission, position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Inner.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    typealias WebSocketUpgrade = ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>

    /// HTTP/1.1 and WebSocket, within `limits`. `shouldUpgrade` learns whether the
    /// connection is past the limits: the upgrade pipeline cannot answer the 503 that
    /// `ConnectionGuard` gives HTTP requests (a refused upgrade is an empty 400).
    static func guarded(
        limits: ConnectionLimits, counter: ConnectionCounter, webSocket: WebSocketServerConfiguration,
        shouldUpgrade: @escaping @Sendable (HTTPRequest, ConnectionCounter.Admission?) async -> WebSocketUpgrade
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    configuration: .init(
                        http1: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits)]), ws: webSocket),
                    shouldUpgrade: { head, channel, _ in
                        let refusal = try? await channel.eventLoop.submit {
                            try channel.pipeline.syncOperations.handler(type: ConnectionAdmission.self).refusal
                        }.get()
                        let result = await shouldUpgrade(head, refusal)
                        if case .upgrade = result, refusal == nil {
                            // Its head is read: the first-head timer stops. (A refused
                            // connection keeps it: it is closed within its two seconds.)
                            channel.eventLoop.execute {
                                (try? channel.pipeline.syncOperations.handler(type: ConnectionAdmission.self))?.upgraded()
                            }
                        }
                        return result
                    }),
                limits: limits, counter: counter)
        }
    }
}
