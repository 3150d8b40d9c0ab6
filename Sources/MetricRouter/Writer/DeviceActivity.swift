import DeviceRegistry
import Logging
import ServiceLifecycle
import Synchronization
import Tenancy

/// Keeps devices' `last_seen_at` from ingestion without an UPDATE per point or per
/// request: committed writes are noted in memory and written once a second, one
/// UPDATE per tenant, only ever moving forward. A tenant whose devices are locked for
/// more than a second (a long delete) is noted again for the next round instead of
/// keeping the other tenants waiting.
///
/// Start: run it as a `Service`; shut down: graceful shutdown writes what is noted.
public final class DeviceActivity: Service, Sendable {
    private let sink: any LastSeenSink
    private let logger: Logger
    private let interval: Duration
    /// tenant → device → latest moment seen (µs since 1970).
    private let seen = Mutex<[TenantID: [String: Int64]]>([:])

    public init(sink: any LastSeenSink, logger: Logger, interval: Duration = .seconds(1)) {
        self.sink = sink
        self.logger = logger
        self.interval = interval
    }

    /// Notes that `devices` of `tenant` were heard from at `time`.
    public func record(tenant: TenantID, devices: Set<String>, at time: Int64) {
        seen.withLock { seen in
            for device in devices where seen[tenant]?[device] ?? .min < time {
                seen[tenant, default: [:]][device] = time
            }
        }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            await flush()
        }
        await flush()
    }

    /// Writes what was noted since the last flush.
    public func flush() async {
        let pending = seen.withLock { seen in
            defer { seen = [:] }
            return seen
        }
        for (tenant, devices) in pending {
            do {
                if try await !sink.markSeen(devices, tenant: tenant) {
                    seen.withLock { seen in
                        for (device, time) in devices where seen[tenant]?[device] ?? .min < time {
                            seen[tenant, default: [:]][device] = time
                        }
                    }
                }
            } catch {
                // Not worth failing anything for: the next write notes the device again.
                logger.warning("could not update devices' last_seen_at", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }
}
