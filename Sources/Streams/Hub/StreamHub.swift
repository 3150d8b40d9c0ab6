import Foundation
import InputParsing
import Logging
import MetricRouter
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization
import Tenancy

/// Each replica's half of the live streams: it follows the stream log (LISTEN for a
/// wake-up, then reads the rows after its position; at least once a second without
/// one), renders each row once, and offers it to the streams open here. A stream
/// that registers gets every row after the hub's position at that moment; what came
/// before, it replays from the log itself (`StreamSession`).
///
/// Start: run it as a `Service`; shut down: graceful shutdown ends every stream with a
/// `shutdown` event and refuses new ones.
public final class StreamHub: Service, Sendable {
    public struct Configuration: Sendable {
        /// Streams open at once on this replica, per tenant and per principal.
        public var maxStreamsPerTenant = 200
        public var maxStreamsPerPrincipal = 20
        /// Points a stream may have queued before it is dropped (or coalesced).
        public var maxQueuedPoints = 10_000
        /// Idle streams get a keep-alive this often.
        public var keepAlive: Duration = .seconds(15)
        /// How long the log keeps rows, and the most rows a resume replays.
        public var replayHorizon: Duration = .seconds(900)
        public var maxReplayEvents = 100_000
        /// Devices selected by label are looked up again this often.
        public var labelRefresh: Duration = .seconds(10)
        /// Replay pages read and rendered at once on this replica (at most one per
        /// tenant): `ReplaySlots`.
        public var replayConcurrency = 2

        public init() {}
    }

    /// Why a stream may not open.
    public enum Refusal: Error, Sendable, Equatable {
        case tenantLimit(Int)
        case principalLimit(Int)
        case shuttingDown
    }

    struct State {
        var cursor: Int64 = 0
        var started = false
        var closed = false
        var nextID: UInt64 = 0
        var byTenant: [TenantID: [UInt64: Subscription]] = [:]
        var perPrincipal: [String: Int] = [:]
        /// Open streams by kind (`StreamSelection.kind`), for the gauge.
        var byKind: [String: Int] = [:]
        var startWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public let configuration: Configuration
    let pool: PostgresPool
    let logger: Logger
    let names: SensorNames
    let replaySlots: ReplaySlots
    let state = Mutex(State())

    /// `pool` should be the hub's own (one connection waits for notifications).
    public init(configuration: Configuration, pool: PostgresPool, logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.logger = logger
        self.names = SensorNames(pool: pool)
        self.replaySlots = ReplaySlots(capacity: configuration.replayConcurrency)
    }

    // MARK: Registering

    func register(
        tenant: TenantID, principal: String, selection: StreamSelection, policy: OverflowPolicy, expiresAt: Date?,
        devices: Set<String>?
    ) async throws -> Subscription {
        await waitUntilStarted()
        let kind = selection.kind
        // The gauge is set under the lock, so that two changes cannot record out of order.
        return try state.withLock { state throws(Refusal) -> Subscription in
            if state.closed { throw .shuttingDown }
            let inTenant = state.byTenant[tenant]?.count ?? 0
            if inTenant >= configuration.maxStreamsPerTenant { throw .tenantLimit(configuration.maxStreamsPerTenant) }
            if state.perPrincipal[principal, default: 0] >= configuration.maxStreamsPerPrincipal {
                throw .principalLimit(configuration.maxStreamsPerPrincipal)
            }
            state.nextID += 1
            let subscription = Subscription(
                id: state.nextID, tenant: tenant, principal: principal, selection: selection, policy: policy,
                maxQueuedPoints: configuration.maxQueuedPoints, expiresAt: expiresAt, registeredAt: state.cursor,
                devices: devices)
            state.byTenant[tenant, default: [:]][subscription.id] = subscription
            state.perPrincipal[principal, default: 0] += 1
            state.byKind[kind, default: 0] += 1
            StreamMetrics.open(kind, state.byKind[kind, default: 0])
            return subscription
        }
    }

    func unregister(_ subscription: Subscription) {
        let kind = subscription.selection.kind
        state.withLock { state in
            guard state.byTenant[subscription.tenant]?.removeValue(forKey: subscription.id) != nil else { return }
            if state.byTenant[subscription.tenant]?.isEmpty == true { state.byTenant[subscription.tenant] = nil }
            state.perPrincipal[subscription.principal, default: 1] -= 1
            if state.perPrincipal[subscription.principal] == 0 { state.perPrincipal[subscription.principal] = nil }
            state.byKind[kind, default: 1] -= 1
            StreamMetrics.open(kind, state.byKind[kind, default: 0])
        }
    }

    /// Streams open on this replica.
    public var openStreams: Int { state.withLock { $0.byTenant.values.reduce(0) { $0 + $1.count } } }

    private func waitUntilStarted() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.started || state.closed { return true }
                state.startWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    // MARK: Running

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow() }
            group.addTask { await self.clock() }
            // Returns only on this service's own graceful shutdown (or cancellation), even
            // when `StreamDrain` closed the hub earlier: a service group takes a service
            // that returns before then for a failure.
            try? await gracefulShutdown()
            self.close()
            group.cancelAll()
        }
    }

    /// Ends every stream with `shutdown` and refuses new ones.
    func close() {
        let (subscriptions, waiters) = state.withLock { state in
            state.closed = true
            defer { state.startWaiters = [] }
            return (state.byTenant.values.flatMap(\.values), state.startWaiters)
        }
        waiters.forEach { $0.resume() }
        subscriptions.forEach { $0.end(.shutdown) }
    }

    /// Ends every stream (`close`) and waits until their transports finished, at most
    /// `timeout`.
    public func drain(within timeout: Duration) async {
        close()
        let deadline = ContinuousClock.now + timeout
        while openStreams > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private var isClosed: Bool { state.withLock { $0.closed } }

    /// Follows the log until shut down.
    private func follow() async {
        while !isClosed {
            do {
                let newest = try await pool.withConnection { try StreamLog.newestID(on: $0) }
                let waiters = state.withLock { state in
                    state.cursor = newest
                    state.started = true
                    defer { state.startWaiters = [] }
                    return state.startWaiters
                }
                waiters.forEach { $0.resume() }
                break
            } catch {
                logger.warning("stream log unreadable; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        while !isClosed && !Task.isCancelled {
            do {
                try await followOnce()
            } catch {
                logger.warning("following the stream log failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Reads the rows after the position (waiting up to a second for a notification
    /// when there are none) and offers them.
    private func followOnce() async throws {
        let (cursor, tenants) = state.withLock { ($0.cursor, Set($0.byTenant.keys)) }
        let rows = try await pool.withConnection { connection -> [StreamEvent] in
            try connection.execute(unsafeSQL: "LISTEN millwright_streams")
            defer { try? connection.stopListening() }
            // 64 rows at most a read (a row is one write's points, up to about 0.5 MB);
            // the next read follows at once while rows keep coming.
            var rows = try StreamLog.follow(after: cursor, payloadsOf: tenants, limit: 64, on: connection)
            if rows.isEmpty, try connection.waitForNotifications(timeout: .seconds(1)) {
                rows = try StreamLog.follow(after: cursor, payloadsOf: tenants, limit: 64, on: connection)
            }
            return rows
        }
        guard let last = rows.last?.id else { return }
        var rendered: [TenantID: [RenderedRow]] = [:]
        for row in rows where row.payload != nil {
            rendered[row.tenant, default: []].append(await render(row))
        }
        let offered = state.withLock { state -> [(Subscription, [RenderedRow])] in
            state.cursor = last
            var offers: [(Subscription, [RenderedRow])] = []
            for (tenant, subscriptions) in state.byTenant {
                if tenants.contains(tenant) {
                    guard let mine = rendered[tenant] else { continue }
                    for subscription in subscriptions.values {
                        offers.append((subscription, mine.filter { $0.id > subscription.registeredAt }))
                    }
                } else {
                    // Registered while this read ran without its tenant: it reads these
                    // rows from the log itself.
                    for subscription in subscriptions.values {
                        subscription.enqueue(.catchUp(through: last), points: 0)
                    }
                }
            }
            return offers
        }
        for (subscription, rows) in offered {
            for row in rows { subscription.offer(row) }
        }
    }

    /// Decodes a row and names its points.
    func render(_ row: StreamEvent) async -> RenderedRow {
        guard let payload = row.payload else { return RenderedRow(id: row.id, content: .unreadable) }
        switch row.kind {
        case .alert:
            return RenderedRow(id: row.id, content: .alert(payload))
        case .points:
            guard let points = StreamedPoints.unpack(payload) else {
                logger.error("a stream log row holds no whole points", metadata: ["id": "\(row.id)"])
                return RenderedRow(id: row.id, content: .unreadable)
            }
            let named: [SensorNames.Name?]
            do {
                named = try await names.names(of: points.map(\.sensor), tenant: row.tenant)
            } catch {
                logger.warning("sensor names unreadable", metadata: ["error": "\(String(reflecting: error))"])
                named = []
            }
            // A write's points come device by device, and a line's share one time: each
            // run of one device is rendered into one buffer, each time formatted once.
            var byDevice: [String: DevicePoints] = [:]
            var run = DevicePoints()
            var runDevice: String?
            var lastTime: Int64?
            var time: [UInt8] = []
            for (point, name) in zip(points, named) {
                // A sensor deleted since has no name: its point is not streamed.
                guard let name else { continue }
                if name.device != runDevice {
                    if let runDevice { byDevice[runDevice, default: DevicePoints()].append(contentsOf: run) }
                    runDevice = name.device
                    run = DevicePoints()
                }
                if point.time != lastTime {
                    lastTime = point.time
                    time = Array(RFC3339.format(unixMicros: point.time).utf8)
                }
                run.append(sensor: point.sensor, key: name.key, prefix: name.prefix, time: time, value: point.value)
            }
            if let runDevice { byDevice[runDevice, default: DevicePoints()].append(contentsOf: run) }
            return RenderedRow(id: row.id, content: .points(byDevice))
        }
    }

    /// Every second: keep-alives, token expiry, label selections, and (every minute)
    /// purging the log past the horizon.
    private func clock() async {
        var ticks = 0
        while !isClosed && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            ticks += 1
            let subscriptions = state.withLock { $0.byTenant.values.flatMap(\.values) }
            let now = ContinuousClock.now
            let wallClock = Date()
            for subscription in subscriptions {
                subscription.tick(now: now, wallClock: wallClock, keepAlive: configuration.keepAlive)
            }
            if ticks % max(1, Int(configuration.labelRefresh.components.seconds)) == 0 {
                await refreshLabels(subscriptions)
            }
            if ticks % 60 == 1 {
                do {
                    try await pool.withConnection { try StreamLog.purge(keeping: self.configuration.replayHorizon, on: $0) }
                } catch {
                    logger.warning("purging the stream log failed", metadata: ["error": "\(String(reflecting: error))"])
                }
            }
        }
    }

    private func refreshLabels(_ subscriptions: [Subscription]) async {
        for subscription in subscriptions {
            guard case .points(let devices, _, let labels?) = subscription.selection else { continue }
            if let matching = try? await StreamDirectory.devices(
                in: subscription.tenant, among: devices, labelled: labels, pool: pool)
            {
                subscription.replaceDevices(matching)
            }
        }
    }
}
