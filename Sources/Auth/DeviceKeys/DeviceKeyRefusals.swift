import Synchronization

/// Device keys recently found not to exist, so that repeating one costs no database
/// round trip. Bounded: past `capacity` entries
/// the expired ones go, and if that is not enough, all of them (a flood of distinct
/// guesses then costs lookups, which `KeyLookupLimiter` keeps from crowding out others).
///
/// Start: `DeviceKeyRefusals()`; nothing to shut down.
final class DeviceKeyRefusals: Sendable {
    let capacity: Int
    let lifetime: Duration
    private let entries = Mutex<[String: (until: ContinuousClock.Instant, error: AuthError)]>([:])

    init(capacity: Int = 10_000, lifetime: Duration = .seconds(60)) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    private static func key(_ tenant: String, _ keyID: String) -> String { tenant + "/" + keyID }

    /// The refusal remembered for this key, if it is still fresh.
    func refusal(tenant: String, keyID: String, now: ContinuousClock.Instant = .now) -> AuthError? {
        entries.withLock { entries in
            guard let entry = entries[Self.key(tenant, keyID)], entry.until > now else { return nil }
            return entry.error
        }
    }

    func remember(_ error: AuthError, tenant: String, keyID: String, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.until > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[Self.key(tenant, keyID)] = (now + lifetime, error)
        }
    }
}

/// At most `limit` device-key lookups in flight, the rest waiting in order, and at most
/// `maxWaiting` waiting (more are told to retry): a flood of guesses queues on itself
/// instead of on the database connections every tenant's requests use.
final class KeyLookupLimiter: Sendable {
    private struct State {
        var inFlight = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    let maxWaiting: Int
    private let state = Mutex(State())

    init(limit: Int = 2, maxWaiting: Int = 1000) {
        self.limit = limit
        self.maxWaiting = maxWaiting
    }

    /// Runs `body` once a slot is free; throws `.unavailable` when too many wait already.
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let admitted = state.withLock { state -> Bool? in
            if state.inFlight < limit {
                state.inFlight += 1
                return true
            }
            return state.waiting.count < maxWaiting ? false : nil
        }
        guard let admitted else {
            throw AuthError(kind: .unavailable, reason: "key_checks_busy", message: "device keys cannot be checked right now")
        }
        if !admitted {
            await withCheckedContinuation { continuation in
                // The slot may have been freed between the check above and now.
                let resumeNow = state.withLock { state -> Bool in
                    if state.inFlight < limit {
                        state.inFlight += 1
                        return true
                    }
                    state.waiting.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        defer { release() }
        return try await body()
    }

    /// Hands the slot to the next waiter, or frees it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.inFlight -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
