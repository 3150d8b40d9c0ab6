import HTTPTypes
import InputParsing
import NIOCore
import NIOHTTPTypes
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Connection limits the service keeps by itself, NGINX or not (the defaults are NGINX's
/// where it has one).
public struct ConnectionLimits: Sendable, Equatable {
    /// Time to receive a request's head, counted from the connection's opening or the end
    /// of the previous response: slow headers and idle keep-alive connections both end
    /// here (NGINX: `client_header_timeout` 60 s, `keepalive_timeout` 75 s).
    public var headerTimeout: Duration = .seconds(60)
    /// Time to receive a whole body after its head (NGINX limits each read to 60 s;
    /// this bounds the whole body, so a trickle cannot hold a connection).
    public var bodyTimeout: Duration = .seconds(120)
    /// Open connections at most; past it, a request is answered 503 with `Retry-After`
    /// and its connection closed (one that sends no head within 2 s is just closed; past
    /// 64 such connections waiting for their answer, the next are closed at once, so
    /// that the descriptors the default leaves free are never used up).
    public var maxConnections: Int = Self.defaultMaxConnections()
    /// Open connections from one client address at most, so that one client cannot hold
    /// every connection while others are refused; nil means an eighth of `maxConnections`
    /// (at least 16). Connections from `exempt` addresses (the trusted proxies, which carry
    /// everyone's requests) count only against `maxConnections`.
    public var maxConnectionsPerClient: Int?
    public var exempt = TrustedProxies.none

    public init() {}

    /// `maxConnectionsPerClient`, or its default.
    public var perClientLimit: Int { maxConnectionsPerClient ?? max(16, maxConnections / 8) }

    /// 4096, or fewer when the process may open fewer files: what the file-descriptor
    /// limit allows less 128 for the database, logs and the rest, so that accepting never
    /// fails for want of a descriptor.
    public static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 4096 }
        return max(16, min(4096, Int(clamping: limit.rlim_cur) - 128))
    }
}

/// Counts open connections across the server, and per client address.
final class ConnectionCounter: Sendable {
    enum Admission {
        case admitted
        case serverFull
        case clientFull
    }

    private let open = Atomic<Int>(0)
    /// Connections refused but kept up to two seconds for their 503: at most
    /// `maxAnswered` at once; past that a refused connection is closed at once, so
    /// that refusals never take the descriptors left for the database and the rest.
    private let answering = Atomic<Int>(0)
    static let maxAnswered = 64
    /// Open connections by client address; an address leaves when its count reaches 0,
    /// so the table never holds more entries than there are connections.
    private let byClient = Mutex<[String: Int]>([:])

    /// Counts one more for `client` (nil: not counted per client); nothing is counted
    /// unless it is admitted.
    func admit(client: String?, limits: ConnectionLimits) -> Admission {
        if let client {
            let admitted = byClient.withLock { counts in
                guard counts[client, default: 0] < limits.perClientLimit else { return false }
                counts[client, default: 0] += 1
                return true
            }
            guard admitted else { return .clientFull }
        }
        while true {
            let current = open.load(ordering: .relaxed)
            guard current < limits.maxConnections else {
                if let client { leave(client: client, total: false) }
                return .serverFull
            }
            if open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged {
                return .admitted
            }
        }
    }

    /// Whether a refused connection may stay for its answer (then `answered()` when it goes).
    func mayAnswer() -> Bool {
        if answering.add(1, ordering: .relaxed).newValue <= Self.maxAnswered { return true }
        answering.subtract(1, ordering: .relaxed)
        return false
    }

    func answered() { answering.subtract(1, ordering: .relaxed) }

    /// Connections admitted, and refused ones waiting for their answer (for the metrics endpoint).
    var counts: (open: Int, answering: Int) { (open.load(ordering: .relaxed), answering.load(ordering: .relaxed)) }

    func leave(client: String?, total: Bool = true) {
        if total { open.subtract(1, ordering: .relaxed) }
        guard let client else { return }
        byClient.withLock { counts in
            let left = counts[client, default: 1] - 1
            counts[client] = left > 0 ? left : nil
        }
    }
}

/// Counts one connection against `ConnectionLimits` for its whole life, from the
/// moment it is accepted: the first handler of every connection, on raw bytes, so that
/// it stays in place whether the connection then speaks HTTP or, upgraded, WebSocket.
/// Until the first request's head has been read (`handOver` by `ConnectionGuard`, or
/// `upgraded`), it also closes a connection that sends no head in time. Runs on the
/// connection's event loop only.
final class ConnectionAdmission: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limits: ConnectionLimits
    private let counter: ConnectionCounter
    private var admitted = false
    /// Refused and allowed to wait for its 503 (counted in `ConnectionCounter.answering`).
    private var answering = false
    private(set) var refusal: ConnectionCounter.Admission?
    /// The peer's address when it counts per client.
    private var client: String?
    private var firstHead: Scheduled<Void>?

    init(limits: ConnectionLimits, counter: ConnectionCounter) {
        self.limits = limits
        self.counter = counter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let address = context.channel.remoteAddress?.ipAddress, !limits.exempt.trusts(address) {
            client = address
        }
        let admission = counter.admit(client: client, limits: limits)
        admitted = admission == .admitted
        refusal = admitted ? nil : admission
        let timeout: Duration
        if admitted {
            timeout = limits.headerTimeout
        } else if counter.mayAnswer() {
            // A connection past a limit holds a descriptor only briefly: two seconds to
            // send the head that gets its 503.
            answering = true
            timeout = min(limits.headerTimeout, .seconds(2))
        } else {
            context.close(promise: nil)
            return
        }
        firstHead = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        firstHead?.cancel()
        if admitted {
            admitted = false
            counter.leave(client: client)
        }
        if answering {
            answering = false
            counter.answered()
        }
    }

    /// The first head arrived and `ConnectionGuard` times the connection from here:
    /// whether it is refused.
    func handOver() -> ConnectionCounter.Admission? {
        firstHead?.cancel()
        firstHead = nil
        return refusal
    }

    /// The connection became a WebSocket: no more heads to wait for.
    func upgraded() {
        firstHead?.cancel()
        firstHead = nil
    }
}

/// Enforces `ConnectionLimits` on an HTTP connection, between the HTTP codec and the
/// server: closes it when a head or a body takes too long, and answers 503 on a
/// connection over the limit (`ConnectionAdmission`, first in the pipeline, counts it
/// and times its first head). Runs on the connection's event loop only.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private var refusing: ConnectionCounter.Admission?
    private var deadline: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added when the first head has been read (the pipeline decides first whether the
        // request upgrades); until then the admission timed it.
        let admission = try? context.pipeline.syncOperations.handler(type: ConnectionAdmission.self)
        refusing = admission?.handOver()
        arm(limits.headerTimeout, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let refusal = refusing {
            if case .head = part { refuse(refusal, context: context) }
            return
        }
        switch part {
        case .head: arm(limits.bodyTimeout, context: context)
        case .end: deadline?.cancel()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The response is done: the next request's head has its own time.
        if case .end = unwrapOutboundIn(data) { arm(limits.headerTimeout, context: context) }
        context.write(data, promise: promise)
    }

    private func arm(_ timeout: Duration, context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            context.close(promise: nil)
        }
    }

    /// 503 with `Retry-After`, then the connection closes.
    private func refuse(_ refusal: ConnectionCounter.Admission, context: ChannelHandlerContext) {
        refusing = nil  // once
        let body =
            #"{"type":"https://millwright.dev/problems/too-many-connections","title":"Service Unavailable","status":503,"code":"too_many_connections","detail":""#
            + Problem.tooManyConnections(refusal).detail + #""}"#
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        let head = HTTPResponse(
            status: .serviceUnavailable,
            headerFields: [
                .contentType: "application/problem+json", .contentLength: String(body.utf8.count), .retryAfter: "1",
                .connection: "close",
            ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
