import DeviceRegistry
import InputParsing
import Synchronization
import Tenancy

/// What ingestion validates against, per tenant, in memory: devices with their
/// sensors (id, kind, range). A request costs one small read (the tenant's status,
/// retention, sensor limit and catalog version) plus, on a miss, one read of the
/// devices it names; per-point round trips never happen.
///
/// Freshness: `millwright.tenant_catalog_versions` is bumped by triggers whenever a
/// sensor or a device's `auto_create_sensors` changes or a device goes away, on any
/// replica. A request that sees a version other than the cached one drops the
/// tenant's cache and reloads the devices it needs. The version is per incarnation of
/// the tenant (its row starts again at 0 when a tenant is deleted and created anew), so
/// the cache is keyed by the tenant's `created_at` as well as its id: a re-created
/// tenant never sees its predecessor's devices and sensor ids.
public final class MetricCatalog: Sendable {
    public typealias SensorEntry = CatalogSensor
    public typealias DeviceEntry = CatalogDevice

    /// The tenant's settings and the devices a request asked for.
    public struct Snapshot: Sendable {
        /// What the snapshot was read at: the writer compares it when it stores the points.
        public var stamp: CatalogStamp
        public var status: Tenant.Status
        public var retentionDays: Int
        public var sensorLimitPerDevice: Int
        public var devices: [String: DeviceEntry]
    }

    private struct TenantEntry {
        /// The tenant row's `created_at`, in microseconds: which incarnation this is.
        var incarnation: Int64
        var version: Int64
        var devices: [String: DeviceEntry]
        /// Devices plus their sensors: what this entry costs (about 150 bytes each).
        var size: Int

        init(incarnation: Int64, version: Int64, devices: [String: DeviceEntry] = [:]) {
            self.incarnation = incarnation
            self.version = version
            self.devices = devices
            self.size = devices.values.reduce(devices.count) { $0 + $1.sensors.count }
        }
    }

    /// How much is cached, in devices plus sensors: per tenant before the tenant's cache
    /// starts afresh, and in all before the other tenants' caches are dropped. The
    /// defaults bound the catalog near 30 MB per tenant and 150 MB in all.
    public struct Limits: Sendable {
        public var perTenant: Int
        public var total: Int

        public init(perTenant: Int = 200_000, total: Int = 1_000_000) {
            self.perTenant = perTenant
            self.total = total
        }
    }

    private let source: any CatalogSource
    private let limits: Limits
    private let tenants = Mutex<[String: TenantEntry]>([:])

    public init(source: any CatalogSource, limits: Limits = Limits()) {
        self.source = source
        self.limits = limits
    }

    /// Devices plus sensors cached, per tenant (for tests and metrics).
    public var cachedSizes: [String: Int] { tenants.withLock { $0.mapValues(\.size) } }

    /// The tenant's settings and the named devices (absent ones are unknown);
    /// RegistryError `.notFound` when the tenant does not exist.
    public func snapshot(_ tenant: TenantID, devices names: Set<String>) async throws -> Snapshot {
        let cached = tenants.withLock { $0[tenant.rawValue] }
        let missing = names.filter { cached?.devices[$0] == nil }
        let read = try await source.catalog(tenant, devices: missing)
        let (version, incarnation, loaded) = (read.stamp.version, read.stamp.incarnation, read.devices)
        var entry = cached ?? TenantEntry(incarnation: incarnation, version: version)
        var fresh = loaded
        if entry.version != version || entry.incarnation != incarnation {
            // Something changed: keep only what was just read, reload the rest.
            entry = TenantEntry(incarnation: incarnation, version: version)
            let stale = names.subtracting(missing)
            if !stale.isEmpty {
                let reloaded = try await source.catalogDevices(tenant, stale)
                fresh.merge(reloaded) { _, new in new }
            }
        }
        // The usual request changes nothing: then the cached devices are neither copied
        // nor stored again (this runs on every ingest request).
        var served = entry.devices
        if entry.version != cached?.version || entry.incarnation != cached?.incarnation || !fresh.isEmpty {
            for (name, device) in fresh {
                entry.size += 1 + device.sensors.count - (entry.devices[name].map { 1 + $0.sensors.count } ?? 0)
                entry.devices[name] = device
            }
            served = entry.devices
            if entry.size > limits.perTenant {
                entry = TenantEntry(incarnation: incarnation, version: version, devices: fresh)
                // What one request named may alone be more than a tenant may keep.
                if entry.size > limits.perTenant { entry = TenantEntry(incarnation: incarnation, version: version) }
            }
            let result = entry
            let limits = self.limits
            tenants.withLock { tenants in
                // Another request may have stored a newer version meanwhile: keep the newer.
                if let current = tenants[tenant.rawValue], current.incarnation == result.incarnation,
                    current.version > result.version
                {
                    return
                }
                tenants[tenant.rawValue] = result
                // Past the total, the other tenants start afresh (they reload what they use).
                let total = tenants.values.reduce(0) { $0 + $1.size }
                if total > limits.total { tenants = [tenant.rawValue: result] }
            }
        }
        // Everything the request named, whatever the cache kept of it.
        var devices: [String: DeviceEntry] = [:]
        for name in names { devices[name] = served[name] }
        return Snapshot(
            stamp: read.stamp, status: read.status, retentionDays: read.retentionDays,
            sensorLimitPerDevice: read.sensorLimitPerDevice, devices: devices)
    }
}
