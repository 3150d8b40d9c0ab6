import CurlClient
import Foundation
import InputParsing
import Logging
import Metrics
import NIOPosix
import Postgres
import ServiceLifecycle
import Synchronization

/// Sends queued notifications, at least once each, on every replica.
///
/// A dispatcher claims due deliveries (`FOR UPDATE SKIP LOCKED`, then a lease in
/// `claimed_until`), one per channel at a time and at most a quarter of its slots per
/// tenant, so two replicas never send the same attempt, a slow receiver holds up only
/// its own channel, and one tenant's dead receivers never hold every slot. Each attempt has a
/// timeout and a response cap, runs on the dispatcher's own threads, and is recorded:
/// delivered (2xx); retried with exponential backoff and jitter, or after the
/// receiver's `Retry-After`, until the delivery's horizon; or, on `410 Gone`, failed
/// with the channel disabled. A replica that dies mid-attempt leaves a lease that runs
/// out, and the attempt is made again (the receiver sees the same `Idempotency-Key`).
///
/// Deliveries that ended are kept 30 days (`GET …/deliveries`), then deleted.
///
/// Start: run it as a `Service`; shut down: graceful shutdown stops claiming and waits
/// for the attempts in flight (each bounded by the timeout).
public final class NotificationDispatcher: Service, Sendable {
    public struct Configuration: Sendable {
        /// Attempts in flight at once (and threads). Default 8.
        public var concurrency = 8
        /// Whole-attempt timeout. Default 10 s.
        public var timeout: Duration = .seconds(10)
        /// Response bodies larger than this fail the attempt. Default 64 KiB.
        public var maxResponseBytes = 64 << 10
        /// Let webhooks reach loopback, private and link-local addresses
        /// (MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE; for tests and on-premises receivers).
        public var allowPrivateAddresses = false
        /// The first retry's delay; each next one doubles, up to `maxBackoff`.
        public var firstBackoff: Duration = .seconds(5)
        public var maxBackoff: Duration = .seconds(3600)
        public var pollInterval: Duration = .milliseconds(500)

        public init() {}
    }

    private struct State {
        var busyChannels: Set<UUID> = []
        /// Attempts in flight per tenant.
        var busyTenants: [String: Int] = [:]
        var wake: CheckedContinuation<Void, Never>?
        var woken = false
    }

    let pool: PostgresPool
    let configuration: Configuration
    let logger: Logger
    private let client: CurlHTTPClient
    private let threads: NIOThreadPool
    private let state = Mutex(State())

    public init(pool: PostgresPool, configuration: Configuration = Configuration(), logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: max(1, configuration.concurrency))
        threads.start()
        self.client = CurlHTTPClient(threads: threads)
    }

    /// Claims at once instead of at the next poll (the local evaluator recorded events).
    public func wake() {
        let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.woken = true
            defer { state.wake = nil }
            return state.wake
        }
        waiting?.resume()
    }

    public func run() async throws {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        // Discarding: a finished attempt leaves nothing behind in the group.
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if ContinuousClock.now - lastPrune >= .seconds(600) {
                    lastPrune = ContinuousClock.now
                    await prune()
                }
                let (inFlight, busy, tenants) = state.withLock {
                    ($0.busyChannels.count, $0.busyChannels, $0.busyTenants)
                }
                var claimed: [Claim] = []
                if inFlight < configuration.concurrency {
                    do {
                        claimed = try await claim(max: configuration.concurrency - inFlight, busy: busy, tenants: tenants)
                    } catch {
                        logger.warning("claiming notifications failed", metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
                for delivery in claimed {
                    state.withLock {
                        $0.busyChannels.insert(delivery.channel)
                        $0.busyTenants[delivery.tenant, default: 0] += 1
                    }
                    group.addTask {
                        await self.attempt(delivery)
                        self.state.withLock {
                            $0.busyChannels.remove(delivery.channel)
                            $0.busyTenants[delivery.tenant, default: 1] -= 1
                            if $0.busyTenants[delivery.tenant] == 0 { $0.busyTenants[delivery.tenant] = nil }
                        }
                        self.wake()
                    }
                }
                if claimed.isEmpty { await sleep() }
            }
        }
        try? await threads.shutdownGracefully()
    }

    /// Deletes deliveries that ended (delivered or failed) more than 30 days ago.
    private func prune() async {
        do {
            let deleted = try await pool.withTransaction(
                prologue: ["SELECT set_config('millwright.alerting', 'on', true)"]
            ) { db, _ in
                try db.query(
                    """
                    DELETE FROM millwright.notification_deliveries
                    WHERE status <> 'pending' AND created_at < now() - interval '30 days'
                    """
                ).affectedRows
            }
            if deleted > 0 { logger.info("old notification deliveries deleted", metadata: ["deliveries": "\(deleted)"]) }
        } catch {
            logger.warning("pruning notification deliveries failed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    private func sleep() async {
        let interval = configuration.pollInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                self.wake()
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.woken {
                        state.woken = false
                        return true
                    }
                    state.wake = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
            state.withLock { $0.woken = false }
            group.cancelAll()
        }
    }

    struct Claim: Sendable {
        var tenant: String
        var id: Int64
        var channel: UUID
        var eventID: String
        var payload: String
        var attempts: Int
        var url: String
        var secret: [UInt8]?
        var channelEnabled: Bool
    }

    /// Attempts one tenant may have in flight on a replica: a quarter of them, so that
    /// one tenant's slow or dead receivers never hold every slot.
    var perTenant: Int { max(1, configuration.concurrency / 4) }

    /// Due deliveries, at most one per channel, none of `busy` channels, and no more for
    /// a tenant than `perTenant` with those in flight (`tenants`); leased for the
    /// timeout and 5 s (a replica that dies mid-attempt delays that delivery so long).
    private func claim(max count: Int, busy: Set<UUID>, tenants: [String: Int]) async throws -> [Claim] {
        let lease = Int(configuration.timeout.components.seconds) + 5
        let busyList = PostgresArrayLiteral(uuids: busy)
        let perTenant = self.perTenant
        let full = PostgresTextArray(tenants.filter { $0.value >= perTenant }.map(\.key).sorted())
        return try await pool.withTransaction(prologue: ["SELECT set_config('millwright.alerting', 'on', true)"]) {
            db, _ in
            let candidates = try db.query(
                """
                SELECT tenant_id, id, channel_id FROM millwright.notification_deliveries
                WHERE status = 'pending' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
                  AND NOT (channel_id = ANY(\(busyList)::uuid[])) AND NOT (tenant_id = ANY(\(full)::text[]))
                ORDER BY next_attempt_at LIMIT \(count * 4)
                FOR UPDATE SKIP LOCKED
                """)
            var channels: Set<UUID> = []
            var taken = tenants
            var keys: [String] = []
            var ids: [Int64] = []
            for row in candidates.rows {
                let tenant: String = try row.decode(0)
                let channel: UUID = try row.decode(2)
                guard ids.count < count, taken[tenant, default: 0] < perTenant, channels.insert(channel).inserted else {
                    continue
                }
                taken[tenant, default: 0] += 1
                keys.append(tenant)
                ids.append(try row.decode(1))
            }
            guard !ids.isEmpty else { return [] }
            let claimed = try db.query(
                """
                UPDATE millwright.notification_deliveries d
                SET claimed_until = now() + \(lease) * interval '1 second', attempts = d.attempts + 1
                FROM millwright.notification_channels c,
                     unnest(\(PostgresTextArray(keys))::text[], \(PostgresArrayLiteral(ids))::bigint[]) AS u (tenant_id, id)
                WHERE d.tenant_id = u.tenant_id AND d.id = u.id AND c.tenant_id = d.tenant_id AND c.id = d.channel_id
                RETURNING d.tenant_id, d.id, d.channel_id, d.event_id, d.payload, d.attempts, c.url, c.secret, c.enabled
                """)
            return try claimed.rows.map { row in
                Claim(
                    tenant: try row.decode(0), id: try row.decode(1), channel: try row.decode(2),
                    eventID: try row.decode(3), payload: try row.decode(4), attempts: try row.decode(5),
                    url: try row.decode(6), secret: try row.decode(7, as: PostgresBytes?.self)?.bytes,
                    channelEnabled: try row.decode(8))
            }
        }
    }

    enum Result {
        case delivered(status: Int)
        case retry(status: Int?, error: String, after: Duration)
        case failed(status: Int?, error: String)
        case gone(status: Int)
    }

    private func attempt(_ delivery: Claim) async {
        let result: Result
        if !delivery.channelEnabled {
            result = .failed(status: nil, error: "the channel is disabled")
        } else {
            result = await send(delivery)
        }
        let outcome: String
        switch result {
        case .delivered: outcome = "delivered"
        case .retry: outcome = "retry"
        case .failed: outcome = "failed"
        case .gone: outcome = "gone"
        }
        Counter(label: "millwright_notification_deliveries_total", dimensions: [("outcome", outcome)]).increment()
        do {
            try await record(result, for: delivery)
        } catch {
            // The lease runs out and the attempt is made again: at least once.
            logger.warning(
                "recording a notification attempt failed", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    private func send(_ delivery: Claim) async -> Result {
        let body = Array(delivery.payload.utf8)
        let timestamp = Int(Date().timeIntervalSince1970)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"), ("User-Agent", "Millwright-Webhooks/1"),
            ("Idempotency-Key", delivery.eventID),
        ]
        headers += WebhookSignature.headers(
            key: delivery.secret, eventID: delivery.eventID, timestamp: timestamp, body: body)
        var request = HTTPClientRequest(
            url: delivery.url, method: "POST", headers: headers, body: body, timeout: configuration.timeout,
            maxResponseBytes: configuration.maxResponseBytes)
        request.publicAddressesOnly = !configuration.allowPrivateAddresses
        do {
            let response = try await client.perform(request)
            switch response.status {
            case 200..<300: return .delivered(status: response.status)
            case 410: return .gone(status: response.status)
            default:
                let wait = Self.retryAfter(response.header("Retry-After")) ?? backoff(delivery.attempts)
                return .retry(status: response.status, error: "the receiver answered \(response.status)", after: wait)
            }
        } catch let error as HTTPClientError where error.code == .addressNotAllowed || error.code == .invalidRequest {
            return .failed(status: nil, error: error.message)
        } catch let error as HTTPClientError {
            return .retry(status: nil, error: error.description, after: backoff(delivery.attempts))
        } catch {
            return .retry(status: nil, error: "\(error)", after: backoff(delivery.attempts))
        }
    }

    /// Exponential backoff with jitter: the n-th retry waits a random time between half
    /// and all of `firstBackoff · 2^(n-1)`, at most `maxBackoff`.
    func backoff(_ attempts: Int) -> Duration {
        let base = configuration.firstBackoff.components.seconds
        let cap = configuration.maxBackoff.components.seconds
        let exponent = min(max(attempts - 1, 0), 30)
        let full = min(cap, base << Int64(exponent))
        let millis = max(1, full * 1000)
        return .milliseconds(Int64.random(in: (millis / 2)...millis))
    }

    /// `Retry-After` as seconds or an HTTP date, at most a day.
    static func retryAfter(_ header: String?) -> Duration? {
        guard let header, let seconds = RetryAfter.seconds(header, now: Int64(Date().timeIntervalSince1970)) else {
            return nil
        }
        return .seconds(seconds)
    }

    private func record(_ result: Result, for delivery: Claim) async throws {
        try await pool.withTransaction(prologue: ["SELECT set_config('millwright.alerting', 'on', true)"]) { db, _ in
            /// Updates this delivery: `$1` and `$2` are its key, `values` follow from `$3`.
            func update(_ assignments: String, _ values: (any PostgresEncodable)?...) throws {
                let binds = [delivery.tenant, String(delivery.id)] + values.map { $0?.postgresText }
                _ = try db.query(
                    PostgresQuery(
                        unsafeSQL: "UPDATE millwright.notification_deliveries SET \(assignments), claimed_until = NULL"
                            // Still pending: a delivery replaced meanwhile (a newer test) stays failed.
                            + " WHERE tenant_id = $1 AND id = $2 AND status = 'pending'", binds: binds))
            }
            switch result {
            case .delivered(let status):
                try update("status = 'delivered', delivered_at = now(), last_status = $3, last_error = NULL", status)
            case .retry(let status, let error, let after):
                let millis = after.components.seconds * 1000 + after.components.attoseconds / 1_000_000_000_000_000
                try update(
                    """
                    last_status = $3, last_error = $4, next_attempt_at = now() + $5 * interval '1 millisecond',
                    status = CASE WHEN now() + $5 * interval '1 millisecond' > expires_at THEN 'failed' ELSE 'pending' END
                    """, status, String(error.prefix(500)), millis)
            case .failed(let status, let error):
                try update("status = 'failed', last_status = $3, last_error = $4", status, String(error.prefix(500)))
            case .gone(let status):
                try update(
                    "status = 'failed', last_status = $3, last_error = 'the receiver answered 410 Gone; the channel is disabled'",
                    status)
                _ = try db.query(
                    """
                    UPDATE millwright.notification_channels SET enabled = false, updated_at = now(), version = version + 1,
                        disabled_reason = 'the receiver answered 410 Gone at '
                            || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    WHERE tenant_id = \(delivery.tenant) AND id = \(delivery.channel)
                    """)
            }
        }
    }
}
