import Synchronization
import Tenancy

/// Bounds the replica's work on replays: a page of a replay (reading log rows and
/// rendering them) runs only while it holds a slot; at most `capacity` pages run at once,
/// and at most one per tenant. A tenant resuming many streams from far back queues behind
/// itself, while another tenant's replay takes the next free slot; live delivery (the
/// hub's follower) never waits for a slot.
final class ReplaySlots: Sendable {
    private struct Waiter {
        var tenant: TenantID
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var busy: Set<TenantID> = []
        var waiters: [Waiter] = []
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Waits for a slot for `tenant`; `release(tenant)` gives it back.
    func acquire(_ tenant: TenantID) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.busy.count < capacity, !state.busy.contains(tenant) {
                    state.busy.insert(tenant)
                    return true
                }
                state.waiters.append(Waiter(tenant: tenant, continuation: continuation))
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Gives `tenant`'s slot back: the longest waiter whose tenant holds none takes it.
    func release(_ tenant: TenantID) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.busy.remove(tenant)
            guard let index = state.waiters.firstIndex(where: { !state.busy.contains($0.tenant) }) else { return nil }
            let waiter = state.waiters.remove(at: index)
            state.busy.insert(waiter.tenant)
            return waiter.continuation
        }
        next?.resume()
    }

    /// Runs `body` holding a slot of `tenant`.
    func withSlot<T>(_ tenant: TenantID, _ body: () async throws -> T) async rethrows -> T {
        await acquire(tenant)
        defer { release(tenant) }
        return try await body()
    }

    /// Replays waiting for a slot, and slots in use.
    var load: (waiting: Int, running: Int) { state.withLock { ($0.waiters.count, $0.busy.count) } }
}
