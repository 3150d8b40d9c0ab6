import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A fixed-size pool of libpq connections, each used from the pool's own threads.
///
/// libpq blocks, so every call runs on a dedicated `NIOThreadPool` with one thread per
/// connection and is awaited from async code: Swift's cooperative pool never blocks.
/// Connections are opened lazily, replaced when they break, and the pool recovers by
/// itself when the database comes back.
///
/// Start: `PostgresPool(configuration:logger:)`; shut down: `shutdown()` closes every
/// connection after the leases in flight are returned.
public final class PostgresPool: Sendable {
    public struct Configuration: Sendable {
        /// libpq connection URI or key=value string.
        public var connectionString: String
        /// Maximum connections (and threads). Default: 2 × cores, at least 4.
        public var size: Int
        /// How long a request waits for a free connection before giving up. Default 10 s.
        public var acquireTimeout: Duration
        /// Shown in `pg_stat_activity`.
        public var applicationName: String

        public init(
            connectionString: String, size: Int = PostgresPool.defaultSize,
            acquireTimeout: Duration = .seconds(10), applicationName: String = "millwright"
        ) {
            self.connectionString = connectionString
            self.size = size
            self.acquireTimeout = acquireTimeout
            self.applicationName = applicationName
        }
    }

    public static var defaultSize: Int { max(4, 2 * NIOCore.System.coreCount) }

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<PostgresConnection?, any Error>)] = []
        var nextWaiterID: UInt64 = 0
        var isShutDown = false
    }

    public let configuration: Configuration
    private let threads: NIOThreadPool
    private let state = Mutex(State())
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: configuration.size)
        threads.start()
    }

    /// Lends a connection to `body`, which runs on a pool thread (it may block).
    /// The connection goes back to the pool afterwards, or is closed if it broke; either
    /// happens on the pool thread, so `PQfinish` never runs on the cooperative pool.
    ///
    /// A connection whose server went away while it sat idle (the database restarted)
    /// is replaced before `body` runs, so no request fails for what happened between
    /// requests; the other idle connections are checked the same way when their turn
    /// comes.
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let leased = try await lease()
        do {
            return try await threads.runIfActive {
                let connection = try self.replacingIfGone(leased)
                defer { self.release(connection) }
                return try body(connection)
            }
        } catch let error as NIOThreadPoolError.ThreadPoolInactive {
            // The threads stopped before `body` ran: only during shutdown.
            release(leased)
            throw Self.mapShutdown(error)
        }
    }

    /// `connection`, or a new one in its slot when its server has gone away. Runs on
    /// the pool thread (it may connect); frees the slot if connecting fails.
    private func replacingIfGone(_ connection: PostgresConnection) throws -> PostgresConnection {
        guard connection.serverHasGoneAway else { return connection }
        connection.close()
        logger.info("a pooled connection's server had gone away; connecting anew")
        do {
            return try PostgresConnection.connect(configuration.connectionString, applicationName: configuration.applicationName)
        } catch {
            slotFreed()
            logger.warning("database connection failed", metadata: ["error": "\(String(reflecting: error))"])
            throw error
        }
    }

    /// Runs `body` inside `BEGIN … COMMIT` on one connection; any error rolls back.
    public func withTransaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withTransaction(prologue: []) { connection, _ in try body(connection) }
    }

    /// Like `withTransaction`, with `prologue` sent together with `BEGIN` in one round
    /// trip; `body` gets the prologue's results.
    public func withTransaction<T: Sendable>(
        prologue: [PostgresQuery], _ body: @escaping @Sendable (PostgresConnection, [PostgresResult]) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try connection.transaction(prologue: prologue) { results in try body(connection, results) }
        }
    }

    /// Runs `queries` as one read-only transaction in a single round trip and lets
    /// `body` turn their results into a value (on the pool thread).
    public func read<T: Sendable>(
        _ queries: [PostgresQuery], _ body: @escaping @Sendable ([PostgresResult]) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            let results: [PostgresResult]
            do {
                results = try connection.pipeline(["BEGIN READ ONLY"] + queries + ["COMMIT"])
            } catch {
                _ = try? connection.execute(unsafeSQL: "ROLLBACK")
                throw error
            }
            return try body(Array(results.dropFirst().dropLast()))
        }
    }

    /// Runs `body` on a connection of its own (a pool of one, shut down afterwards):
    /// for one-off work such as migrations.
    public static func withTemporaryConnection<T: Sendable>(
        _ connectionString: String, applicationName: String, logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let pool = PostgresPool(
            configuration: .init(connectionString: connectionString, size: 1, applicationName: applicationName), logger: logger)
        do {
            let value = try await pool.withConnection(body)
            await pool.shutdown()
            return value
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    /// Connections lent out, connections idle, and callers waiting for one (for metrics).
    public var statistics: (inUse: Int, idle: Int, waiting: Int) {
        state.withLock { ($0.open - $0.idle.count, $0.idle.count, $0.waiters.count) }
    }

    /// Closes idle connections, refuses new leases, and stops the threads.
    public func shutdown() async {
        let (idle, waiters) = state.withLock { state in
            state.isShutDown = true
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: PostgresError(code: .shutDown, message: "pool shut down")) }
        _ = try? await threads.runIfActive { idle.forEach { $0.close() } }
        try? await threads.shutdownGracefully()
    }

    // MARK: Leasing

    private enum LeaseDecision {
        case use(PostgresConnection)
        case open
        case wait
        case shutDown
    }

    private func lease() async throws -> PostgresConnection {
        let decision: LeaseDecision = state.withLock { state in
            if state.isShutDown { return .shutDown }
            if let connection = state.idle.popLast() { return .use(connection) }
            if state.open < configuration.size {
                state.open += 1
                return .open
            }
            return .wait
        }
        switch decision {
        case .use(let connection):
            return connection
        case .shutDown:
            throw PostgresError(code: .shutDown, message: "pool shut down")
        case .open:
            return try await openConnection()
        case .wait:
            return try await waitForConnection()
        }
    }

    private func openConnection() async throws -> PostgresConnection {
        let configuration = self.configuration
        do {
            return try await threads.runIfActive {
                try PostgresConnection.connect(
                    configuration.connectionString, applicationName: configuration.applicationName)
            }
        } catch {
            // The slot was reserved for this connection: hand it to a waiter or free it.
            slotFreed()
            logger.warning("database connection failed", metadata: ["error": "\(String(reflecting: error))"])
            throw Self.mapShutdown(error)
        }
    }

    private func waitForConnection() async throws -> PostgresConnection {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = configuration.acquireTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.expireWaiter(id)
        }
        defer { timer.cancel() }
        let connection: PostgresConnection? = try await withCheckedThrowingContinuation { continuation in
            let shutDown = state.withLock { state in
                if state.isShutDown { return true }
                state.waiters.append((id, continuation))
                return false
            }
            if shutDown { continuation.resume(throwing: PostgresError(code: .shutDown, message: "pool shut down")) }
        }
        // nil: a slot was freed rather than a connection returned; open a new one.
        if let connection { return connection }
        return try await openConnection()
    }

    private func expireWaiter(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<PostgresConnection?, any Error>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        waiter?.resume(
            throwing: PostgresError(code: .unavailable, message: "timed out waiting for a database connection"))
    }

    /// Returns a connection to the pool, or closes it when it broke or the pool is
    /// shutting down.
    private func release(_ connection: PostgresConnection) {
        guard connection.isHealthy else {
            connection.close()
            slotFreed()
            return
        }
        enum Next { case handOver(CheckedContinuation<PostgresConnection?, any Error>), keep, close }
        let next = state.withLock { state -> Next in
            if !state.waiters.isEmpty { return .handOver(state.waiters.removeFirst().continuation) }
            if state.isShutDown {
                state.open -= 1
                return .close
            }
            state.idle.append(connection)
            return .keep
        }
        switch next {
        case .handOver(let waiter): waiter.resume(returning: connection)
        case .close: connection.close()
        case .keep: break
        }
    }

    /// A connection went away: a waiter may open a new one in its place.
    private func slotFreed() {
        let waiter = state.withLock { state -> CheckedContinuation<PostgresConnection?, any Error>? in
            if !state.waiters.isEmpty { return state.waiters.removeFirst().continuation }
            state.open -= 1
            return nil
        }
        waiter?.resume(returning: nil)
    }

    private static func mapShutdown(_ error: any Error) -> any Error {
        if error is NIOThreadPoolError.ThreadPoolInactive {
            return PostgresError(code: .shutDown, message: "pool shut down")
        }
        return error
    }
}

extension PostgresConnection {
    /// Runs `body` after `BEGIN` and `prologue` (sent in one round trip), then commits;
    /// rolls back if anything throws.
    public func transaction<T>(prologue: [PostgresQuery], _ body: ([PostgresResult]) throws -> T) throws -> T {
        do {
            let results = try pipeline(["BEGIN"] + prologue)
            let value = try body(Array(results.dropFirst()))
            try execute(unsafeSQL: "COMMIT")
            return value
        } catch {
            _ = try? execute(unsafeSQL: "ROLLBACK")
            throw error
        }
    }

    /// Runs `body` between `BEGIN` and `COMMIT`, rolling back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(prologue: []) { _ in try body() }
    }
}
