import Foundation
import Synchronization
import Tenancy

/// What a client asks to stream.
public struct StreamRequest: Sendable {
    public var tenant: TenantID
    /// Who asks (`issuer subject`), for the per-principal cap.
    public var principal: String
    public var selection: StreamSelection
    public var policy: OverflowPolicy
    /// When the credential the stream was opened with expires.
    public var expiresAt: Date?
    /// The last event id the client received (`Last-Event-ID`, `resume_from`).
    public var resumeAfter: Int64?
    /// Platform admins may stream a suspended tenant.
    public var mayActWhenSuspended = false

    public init(
        tenant: TenantID, principal: String, selection: StreamSelection, policy: OverflowPolicy, expiresAt: Date?,
        resumeAfter: Int64?, mayActWhenSuspended: Bool = false
    ) {
        self.mayActWhenSuspended = mayActWhenSuspended
        self.tenant = tenant
        self.principal = principal
        self.selection = selection
        self.policy = policy
        self.expiresAt = expiresAt
        self.resumeAfter = resumeAfter
    }
}

/// Why a stream was refused before it opened.
public enum StreamRefusal: Error, Sendable, Equatable {
    case unknownTenant(TenantID)
    /// The tenant is suspended (platform admins still pass).
    case suspended(TenantID)
    case unknownDevice(String)
    case limit(StreamHub.Refusal)
}

extension StreamHub {
    /// Checks the selection against the registry, registers the stream (caps apply)
    /// and returns it. From here on, `next()` gives every event after `resumeAfter` (or
    /// after now), replayed from the log first, then live, each once and in order.
    public func open(_ request: StreamRequest) async throws -> StreamSession {
        var named: Set<String>?
        var labels: [String: String]?
        if case .points(let devices, _, let labelled) = request.selection { (named, labels) = (devices, labelled) }
        let devices = try await StreamDirectory.check(
            request.tenant, mayActWhenSuspended: request.mayActWhenSuspended, devices: named, labels: labels, pool: pool)
        let subscription: Subscription
        do {
            subscription = try await register(
                tenant: request.tenant, principal: request.principal, selection: request.selection, policy: request.policy,
                expiresAt: request.expiresAt, devices: devices)
        } catch let refusal as Refusal {
            throw StreamRefusal.limit(refusal)
        }
        return StreamSession(hub: self, subscription: subscription, resumeAfter: request.resumeAfter)
    }
}

/// One open stream, read by its transport's task: `next()` until it returns nil, then
/// `close()`.
public final class StreamSession: Sendable {
    private struct State {
        /// The newest event id sent: nothing at or below it is sent again.
        var lastSent: Int64
        /// A replay still to read from the log: after `after`, up to `through`; `checkGap`
        /// for a client's resume (horizon and size apply).
        var replay: (after: Int64, through: Int64, checkGap: Bool)?
        var pending: [StreamOutput] = []
        var finished = false
        var replayed = 0
    }

    let hub: StreamHub
    let subscription: Subscription
    private let state: Mutex<State>
    /// Log rows a replay reads at once (and at most about 8 MB of them:
    /// `StreamLog.maxReadBytes`).
    static let replayPage = 16

    init(hub: StreamHub, subscription: Subscription, resumeAfter: Int64?) {
        self.hub = hub
        self.subscription = subscription
        var state = State(lastSent: subscription.registeredAt)
        if let resumeAfter, resumeAfter < subscription.registeredAt {
            state.lastSent = resumeAfter
            state.replay = (resumeAfter, subscription.registeredAt, true)
        }
        self.state = Mutex(state)
    }

    /// The stream's kind (`device`, `tenant`, `alerts`).
    public var kind: String { subscription.selection.kind }

    /// The next output, waiting for it; nil once the final event was given.
    public func next() async throws -> StreamOutput? {
        while true {
            enum Step {
                case output(StreamOutput)
                case replay(after: Int64, through: Int64, checkGap: Bool)
                case wait
                case finished
            }
            let step = state.withLock { state -> Step in
                if state.finished { return .finished }
                if !state.pending.isEmpty {
                    let output = state.pending.removeFirst()
                    if case .event(let id, _, _) = output { state.lastSent = max(state.lastSent, id) }
                    return .output(output)
                }
                if let replay = state.replay {
                    return .replay(after: replay.after, through: replay.through, checkGap: replay.checkGap)
                }
                return .wait
            }
            switch step {
            case .finished:
                return nil
            case .output(let output):
                if case .event = output { StreamMetrics.sent(kind) }
                return output
            case .replay(let after, let through, let checkGap):
                // An ended stream (shutdown, expiry) says so now, not after its replay.
                if subscription.hasEnded {
                    state.withLock { $0.replay = nil }
                    continue
                }
                try await readReplay(after: after, through: through, checkGap: checkGap)
            case .wait:
                switch await subscription.next() {
                case .item(.row(let id, let name, let points, _, let data), let coalesced):
                    let output = StreamOutput.event(
                        id: id, name: name, data: points.map { StreamEvents.points($0, coalesced: coalesced) } ?? data ?? [])
                    state.withLock { state in
                        if id > state.lastSent { state.pending.append(output) }
                    }
                case .item(.catchUp(let through), _):
                    state.withLock { state in
                        if through > state.lastSent { state.replay = (state.lastSent, through, false) }
                    }
                case .keepAlive:
                    return .keepAlive
                case .end(let reason):
                    state.withLock { $0.finished = true }
                    return .end(reason)
                }
            }
        }
    }

    /// Reads one page of the replay into `pending`, holding one of the hub's replay slots.
    private func readReplay(after: Int64, through: Int64, checkGap: Bool) async throws {
        try await hub.replaySlots.withSlot(subscription.tenant) {
            // Ended while it waited: the end is said at once, nothing more is read.
            guard !subscription.hasEnded else { return }
            try await readReplayPage(after: after, through: through, checkGap: checkGap)
        }
    }

    private func readReplayPage(after: Int64, through: Int64, checkGap: Bool) async throws {
        var after = after
        var gap: StreamOutput?
        let tenant = subscription.tenant
        if checkGap {
            let resumeAfter = after
            let start = try await hub.pool.withConnection { connection in
                try StreamLog.replayStart(
                    tenant, after: resumeAfter, through: through, maxEvents: self.hub.configuration.maxReplayEvents,
                    on: connection)
            }
            if let reason = start.gap {
                gap = StreamEvents.gap(after: after, resumedAfter: start.start, reason: reason)
                after = start.start
            }
        }
        let from = after
        let rows = try await hub.pool.withConnection { connection in
            try StreamLog.replay(tenant, after: from, through: through, limit: Self.replayPage, on: connection)
        }
        var outputs: [StreamOutput] = gap.map { [$0] } ?? []
        for row in rows {
            guard let (item, _) = subscription.select(await hub.render(row)),
                case .row(let id, let name, let points, _, let data) = item
            else { continue }
            outputs.append(.event(id: id, name: name, data: points.map { StreamEvents.points($0) } ?? data ?? []))
        }
        // A page with rows may be followed by more (a page is also cut short by its bytes).
        let next = rows.last.map(\.id).flatMap { $0 < through ? $0 : nil }
        state.withLock { state in
            state.pending += outputs
            state.replayed += outputs.count
            if let next {
                state.replay = (next, through, false)
            } else {
                state.replay = nil
                if checkGap || state.replayed > 0 { StreamMetrics.replayed(state.replayed) }
                state.replayed = 0
            }
        }
    }

    /// Unregisters the stream (its caps free up).
    public func close() {
        hub.unregister(subscription)
    }

    /// Ends the stream with a `shutdown` event (the service is stopping).
    public func shutDown() {
        subscription.end(.shutdown)
    }

    /// Ends the stream because its client went away (nothing more is sent).
    public func stop() {
        subscription.end(.clientClosed)
    }

    /// The transport wrote something (keep-alives restart).
    public func wrote() {
        subscription.wrote()
    }
}
