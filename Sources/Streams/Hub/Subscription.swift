import Foundation
import Synchronization
import Tenancy

/// What a stream selects.
public enum StreamSelection: Sendable, Equatable {
    /// Points of these devices (nil: every device of the tenant), of these sensor keys
    /// (nil: every sensor). `labels`, when set, keeps the devices whose labels hold
    /// every pair; the hub refreshes that set while the stream runs.
    case points(devices: Set<String>?, sensors: Set<String>?, labels: [String: String]?)
    /// Alert state changes of the tenant.
    case alerts

    /// The kind, for metrics and caps: `device`, `tenant` or `alerts`.
    public var kind: String {
        switch self {
        case .points(let devices, _, let labels): devices?.count == 1 && labels == nil ? "device" : "tenant"
        case .alerts: "alerts"
        }
    }
}

/// What a slow subscriber gets when its queue is full.
public enum OverflowPolicy: String, Sendable {
    /// The stream ends with a final event saying how many events were dropped.
    case drop
    /// Queued points of a sensor are coalesced to its newest, and the event says how
    /// many were coalesced; the stream ends only if the newest points alone overflow.
    case latest
}

/// One open stream: its selection and bounded queue. The hub offers it rows (never
/// waiting on it); the stream's own task takes them with `StreamSession.next()` and
/// writes them to its socket at whatever pace the peer reads.
final class Subscription: Sendable {
    enum Item: Sendable {
        /// Points (by device, `count` of them) or an alert's JSON.
        case row(id: Int64, name: String, points: [DevicePoints]?, count: Int, data: [UInt8]?)
        /// Rows up to `through` were not offered (the stream registered while the hub
        /// was reading without its tenant): read them from the log.
        case catchUp(through: Int64)
    }

    struct State {
        var devices: Set<String>?
        var queue: [Item] = []
        var head = 0
        var queuedPoints = 0
        var coalesced = 0
        var ended: StreamEnd?
        var waiter: CheckedContinuation<Void, Never>?
        var lastWrite = ContinuousClock.now
        var keepAliveDue = false
    }

    let id: UInt64
    let tenant: TenantID
    /// Who opened it (`issuer subject`), for the per-principal cap.
    let principal: String
    let selection: StreamSelection
    let policy: OverflowPolicy
    let maxQueuedPoints: Int
    let expiresAt: Date?
    /// The hub's position when it registered: rows after it are offered.
    let registeredAt: Int64
    let state: Mutex<State>

    init(
        id: UInt64, tenant: TenantID, principal: String, selection: StreamSelection, policy: OverflowPolicy,
        maxQueuedPoints: Int, expiresAt: Date?, registeredAt: Int64, devices: Set<String>?
    ) {
        self.id = id
        self.tenant = tenant
        self.principal = principal
        self.selection = selection
        self.policy = policy
        self.maxQueuedPoints = maxQueuedPoints
        self.expiresAt = expiresAt
        self.registeredAt = registeredAt
        self.state = Mutex(State(devices: devices))
    }

    var sensors: Set<String>? {
        if case .points(_, let sensors, _) = selection { return sensors }
        return nil
    }

    /// Offers a rendered row; queues what the selection keeps. Never waits.
    func offer(_ row: RenderedRow) {
        guard let (item, points) = select(row) else { return }
        enqueue(item, points: points)
    }

    /// What the selection keeps of `row`, and its number of points.
    func select(_ row: RenderedRow) -> (Item, Int)? {
        let item: Item
        var points = 0
        switch (row.content, selection) {
        case (.points(let byDevice), .points):
            let devices = state.withLock { $0.devices }
            var kept: [DevicePoints] =
                devices.map { devices in devices.compactMap { byDevice[$0] } } ?? Array(byDevice.values)
            if let sensors { kept = kept.compactMap { $0.keeping(sensors) } }
            points = kept.reduce(0) { $0 + $1.count }
            guard points > 0 else { return nil }
            item = .row(id: row.id, name: "points", points: kept, count: points, data: nil)
        case (.alert(let json), .alerts):
            points = 1
            item = .row(id: row.id, name: "alert", points: nil, count: 1, data: json)
        default:
            return nil
        }
        return (item, points)
    }

    func enqueue(_ item: Item, points: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.ended == nil else { return nil }
            // One row is always taken, however large: the bound is on what waits behind it.
            if state.queuedPoints > 0, state.queuedPoints + points > maxQueuedPoints {
                if policy == .latest, case .points = selection, coalesce(&state, adding: item) {
                    // Coalesced within bounds.
                } else {
                    let dropped = state.queue.count - state.head + 1
                    state.queue = []
                    state.head = 0
                    state.queuedPoints = 0
                    state.ended = .slowConsumer(dropped: dropped)
                    StreamMetrics.dropped(dropped, reason: "slow_consumer")
                }
            } else {
                state.queue.append(item)
                state.queuedPoints += points
            }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Replaces the queued point rows and `item` by one row with each sensor's newest
    /// point; false when even that does not fit.
    private func coalesce(_ state: inout State, adding item: Item) -> Bool {
        var newest: [Int64: (key: String, json: ArraySlice<UInt8>)] = [:]
        var order: [Int64] = []
        var total = 0
        var newestID: Int64 = 0
        var kept: [Item] = []
        for queued in state.queue[state.head...] + [item] {
            guard case .row(let id, "points", let devices?, _, _) = queued else {
                kept.append(queued)
                continue
            }
            newestID = max(newestID, id)
            for device in devices {
                for (index, point) in device.points.enumerated() {
                    total += 1
                    if newest.updateValue((point.key, device.object(index)), forKey: point.sensor) == nil {
                        order.append(point.sensor)
                    }
                }
            }
        }
        guard newest.count <= maxQueuedPoints else { return false }
        var merged = DevicePoints()
        for sensor in order {
            guard let point = newest[sensor] else { continue }
            merged.append(sensor: sensor, key: point.key, json: point.json)
        }
        state.coalesced += total - merged.count
        StreamMetrics.dropped(total - merged.count, reason: "coalesced")
        kept.append(.row(id: newestID, name: "points", points: [merged], count: merged.count, data: nil))
        state.queue = kept
        state.head = 0
        state.queuedPoints = merged.count
        return true
    }

    var hasEnded: Bool { state.withLock { $0.ended != nil } }

    /// Ends the stream (its final event says why); later rows are ignored.
    func end(_ reason: StreamEnd) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.ended == nil else { return nil }
            state.ended = reason
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Called by the hub's clock: asks for a keep-alive when nothing was written for
    /// `interval`, and ends an expired stream.
    func tick(now: ContinuousClock.Instant, wallClock: Date, keepAlive interval: Duration) {
        if let expiresAt, expiresAt <= wallClock {
            end(.tokenExpired)
            return
        }
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.ended == nil, !state.keepAliveDue, now - state.lastWrite >= interval else { return nil }
            state.keepAliveDue = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    enum Next {
        case item(Item, coalesced: Int)
        case keepAlive
        case end(StreamEnd)
    }

    /// The next thing to send, waiting for it.
    func next() async -> Next {
        while true {
            let next: Next? = state.withLock { state in
                if let ended = state.ended { return .end(ended) }
                if state.head < state.queue.count {
                    let item = state.queue[state.head]
                    state.head += 1
                    if case .row(_, _, _, let count, _) = item { state.queuedPoints -= count }
                    if state.head == state.queue.count {
                        state.queue.removeAll(keepingCapacity: state.queue.count < 64)
                        state.head = 0
                    }
                    defer { state.coalesced = 0 }
                    return .item(item, coalesced: state.coalesced)
                }
                if state.keepAliveDue {
                    state.keepAliveDue = false
                    return .keepAlive
                }
                return nil
            }
            if let next { return next }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if state.ended != nil || state.head < state.queue.count || state.keepAliveDue { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// The transport wrote something: the keep-alive clock starts again.
    func wrote() {
        state.withLock { $0.lastWrite = .now }
    }

    func replaceDevices(_ devices: Set<String>) {
        state.withLock { $0.devices = devices }
    }
}
