import DeviceRegistry
import InputParsing
import Logging
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization
import Tenancy

/// Group commit for metric points: concurrent requests' batches are queued, merged
/// and written with one binary `COPY` per value kind in one transaction; each request
/// is answered only after the transaction holding its points committed. The same
/// transaction records, per tenant, which sensors it wrote (`point_commits`): what the
/// alert evaluator reads, so that it sees exactly the points that committed; and the
/// points themselves in the live-stream log (`stream_events`), last, so that the log's
/// ordering lock is held only for the commit.
///
/// - A flush starts when `flushPoints` are waiting, or `flushInterval` after the first
///   batch arrived; `flushers` flushes may be in flight at once. A request's points are
///   never split between flushes.
/// - The queue is bounded in points and bytes (in-flight flushes included): `write`
///   refuses with `.backpressure` (429) rather than grow.
/// - A flush that hits a unique violation (re-sent points) is redone with upserts, the
///   last value winning; if that fails too, each request is written alone so that one
///   bad batch fails only its own request.
///
/// Start: run it as a `Service` (the flushers live in `run()`); shut down: graceful
/// shutdown stops taking batches and flushes everything accepted before returning.
public final class MetricWriter: Service, Sendable {
    public struct Configuration: Sendable {
        /// Points accepted but not yet committed, at most. Default 1,000,000.
        public var maxQueuedPoints: Int
        /// Bytes of accepted, uncommitted points, at most. Default 256 MiB.
        public var maxQueuedBytes: Int
        /// A flush starts once this many points wait. Default 20,000.
        public var flushPoints: Int
        /// …or this long after the first waiting batch. Default 5 ms.
        public var flushInterval: Duration
        /// Flushes in flight at once (each on its own connection). Default 2.
        public var flushers: Int

        public init(
            maxQueuedPoints: Int = 1_000_000, maxQueuedBytes: Int = 256 << 20, flushPoints: Int = 20_000,
            flushInterval: Duration = .milliseconds(5), flushers: Int = 2
        ) {
            self.maxQueuedPoints = maxQueuedPoints
            self.maxQueuedBytes = maxQueuedBytes
            self.flushPoints = flushPoints
            self.flushInterval = flushInterval
            self.flushers = flushers
        }
    }

    private struct Pending {
        var batch: PointBatch
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        /// Points in `queue`, not yet taken by a flusher.
        var waitingPoints = 0
        /// Points and bytes accepted and not yet answered (queued or being flushed).
        var acceptedPoints = 0
        var acceptedBytes = 0
        var idleFlushers: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    public let configuration: Configuration
    private let pool: PostgresPool
    private let catalog: any CatalogSource
    private let logger: Logger
    private let state = Mutex(State())

    /// `pool` should be the writer's own: flushes then never wait behind queries.
    public init(configuration: Configuration, pool: PostgresPool, catalog: any CatalogSource, logger: Logger) {
        self.catalog = catalog
        self.configuration = configuration
        self.pool = pool
        self.logger = logger
    }

    /// Points accepted and not yet committed, and their bytes.
    public var queued: (points: Int, bytes: Int) { state.withLock { ($0.acceptedPoints, $0.acceptedBytes) } }

    /// Queues `batch` and returns once it is committed. Throws `IngestError`
    /// `.backpressure` when the queue is full, `.unavailable` when shutting down, and
    /// the database's error when the write failed (nothing of the batch is stored then).
    public func write(_ batch: PointBatch) async throws {
        guard batch.count > 0 else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Decision {
                case queued(CheckedContinuation<Void, Never>?)
                case full, closed
            }
            let decision = state.withLock { state -> Decision in
                if state.closed { return .closed }
                let limits = configuration
                if state.acceptedPoints > 0,
                    state.acceptedPoints + batch.count > limits.maxQueuedPoints
                        || state.acceptedBytes + batch.bytes > limits.maxQueuedBytes
                {
                    return .full
                }
                state.queue.append(Pending(batch: batch, continuation: continuation))
                state.waitingPoints += batch.count
                state.acceptedPoints += batch.count
                state.acceptedBytes += batch.bytes
                return .queued(state.idleFlushers.popLast())
            }
            switch decision {
            case .queued(let flusher): flusher?.resume()
            case .full:
                Counter(label: "millwright_writer_backpressure_total").increment()
                continuation.resume(throwing: IngestError(.backpressure, "the writer's queue is full; retry shortly"))
            case .closed:
                continuation.resume(throwing: IngestError(.unavailable, "the service is shutting down"))
            }
        }
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, configuration.flushers) {
                group.addTask { await self.flushLoop() }
            }
            group.addTask {
                // Returns on graceful shutdown (or cancellation): then drain and stop.
                try? await gracefulShutdown()
                self.close()
            }
        }
        logger.debug("metric writer stopped")
    }

    /// Stops taking batches; the flushers write what is queued and end.
    func close() {
        let flushers = state.withLock { state in
            state.closed = true
            defer { state.idleFlushers = [] }
            return state.idleFlushers
        }
        flushers.forEach { $0.resume() }
    }

    private func flushLoop() async {
        while true {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if !state.queue.isEmpty || state.closed { return true }
                    state.idleFlushers.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
            let (waiting, closed) = state.withLock { ($0.waitingPoints, $0.closed) }
            if waiting == 0 && closed { return }
            if waiting < configuration.flushPoints && !closed {
                try? await Task.sleep(for: configuration.flushInterval)
            }
            let items = take()
            guard !items.isEmpty else { continue }
            let points = items.reduce(0) { $0 + $1.batch.count }
            let started = ContinuousClock.now
            await flush(items)
            Timer(label: "millwright_writer_flush_duration_seconds").record(duration: ContinuousClock.now - started)
            Recorder(label: "millwright_writer_flush_points", aggregate: true).record(points)
            let bytes = items.reduce(0) { $0 + $1.batch.bytes }
            state.withLock { state in
                state.acceptedPoints -= points
                state.acceptedBytes -= bytes
            }
        }
    }

    /// Whole batches from the head of the queue, up to `flushPoints` (at least one).
    private func take() -> [Pending] {
        state.withLock { state in
            var taken = 0
            var points = 0
            while taken < state.queue.count,
                taken == 0 || points + state.queue[taken].batch.count <= configuration.flushPoints
            {
                points += state.queue[taken].batch.count
                taken += 1
            }
            let items = Array(state.queue[..<taken])
            state.queue.removeFirst(taken)
            state.waitingPoints -= points
            return items
        }
    }

    private func flush(_ items: [Pending]) async {
        let batches = items.map(\.batch)
        do {
            try await pool.withConnection { connection in try self.copy(batches, on: connection) }
            Counter(label: "millwright_writer_flushes_total", dimensions: [("path", "copy")]).increment()
            items.forEach { $0.continuation.resume() }
            return
        } catch let error as PostgresError where error.isUniqueViolation {
            // Re-sent points: redo the whole flush as upserts.
        } catch {
            guard !Self.isUnavailable(error) else {
                Counter(label: "millwright_writer_flushes_total", dimensions: [("path", "failed")]).increment()
                items.forEach { $0.continuation.resume(throwing: error) }
                return
            }
            logger.warning(
                "metric flush failed; writing its requests one by one", metadata: ["error": "\(String(reflecting: error))"])
        }
        do {
            try await pool.withConnection { connection in try self.upsert(batches, on: connection) }
            Counter(label: "millwright_writer_flushes_total", dimensions: [("path", "upsert")]).increment()
            items.forEach { $0.continuation.resume() }
            return
        } catch {
            if Self.isUnavailable(error) {
                items.forEach { $0.continuation.resume(throwing: error) }
                return
            }
        }
        for item in items {
            do {
                try await pool.withConnection { connection in try self.upsert([item.batch], on: connection) }
                item.continuation.resume()
            } catch {
                logger.error("metric batch refused by the database", metadata: ["error": "\(String(reflecting: error))"])
                item.continuation.resume(throwing: error)
            }
        }
    }

    private static func isUnavailable(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.isUnavailable || error.code == .shutDown
    }

    /// The fast path: one binary COPY per kind, one transaction.
    func copy(_ batches: [PointBatch], on connection: PostgresConnection) throws {
        try connection.transaction(prologue: []) { _ in
            let admitted = try admit(batches, on: connection)
            for (kind, body) in PointCopy.bodies(admitted) {
                try connection.copyIn(unsafeSQL: PointCopy.statement(kind), data: body)
            }
            // Last: the stream log's append takes the lock that orders commits.
            let records = PointCopy.commits(admitted) + PointCopy.streamEvents(admitted)
            if !records.isEmpty { _ = try connection.pipeline(records) }
        }
    }

    /// The re-send path: per tenant, its scope and an upsert per kind, one transaction.
    func upsert(_ batches: [PointBatch], on connection: PostgresConnection) throws {
        try connection.transaction(prologue: []) { _ in
            let admitted = try admit(batches, on: connection)
            for batch in admitted where batch.count > 0 {
                _ = try connection.pipeline([TenantDatabase.scope(batch.tenant)] + PointCopy.upserts(batch))
            }
            // Last: the stream log's append takes the lock that orders commits.
            let records = PointCopy.commits(admitted) + PointCopy.streamEvents(admitted)
            if !records.isEmpty { _ = try connection.pipeline(records) }
        }
    }

    /// Takes the flush's shared lock on each of its tenants, so that no tenant, device
    /// or sensor of theirs is deleted until the flush commits (deleting takes the lock
    /// exclusively: migration 0007), and keeps what may still be written: every point of
    /// a batch checked against the tenant's current catalog version; of a batch checked
    /// against an older one, the points whose sensors still exist; nothing of a tenant
    /// deleted (or deleted and created anew) since. Points dropped were acknowledged
    /// or are about to be: their writes are ordered before the delete that removed them.
    func admit(_ batches: [PointBatch], on connection: PostgresConnection) throws -> [PointBatch] {
        let current = try catalog.admit(Set(batches.map(\.tenant)).sorted(), on: connection)
        // Batches checked against an older catalog: which of their sensors still exist,
        // for all their tenants in one round trip.
        var stale: [TenantID: Set<Int64>] = [:]
        for batch in batches {
            guard let now = current[batch.tenant], batch.checkedAgainst != now else { continue }
            stale[batch.tenant, default: []].formUnion(batch.sensorIDs)
        }
        // Sensor ids are unique across tenants, so one set serves every batch.
        let existing = try catalog.existingSensors(stale, on: connection)
        var admitted: [PointBatch] = []
        var dropped = 0
        for batch in batches {
            guard let now = current[batch.tenant],
                batch.checkedAgainst.map({ $0.incarnation == now.incarnation }) ?? true
            else {
                dropped += batch.count
                continue
            }
            guard batch.checkedAgainst != now else {
                admitted.append(batch)
                continue
            }
            let kept = batch.keeping(existing)
            dropped += batch.count - kept.count
            admitted.append(kept)
        }
        if dropped > 0 {
            Counter(label: "millwright_writer_points_dropped_total", dimensions: [("reason", "deleted")])
                .increment(by: dropped)
        }
        return admitted
    }
}
