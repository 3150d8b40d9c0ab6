import Auth
import InputParsing
import Postgres
import Tenancy

// What the metric router may know of the registry, as narrow protocols the registry
// implements (`PostgresRegistry`): the router never reads or writes a registry table
// itself. Ingestion validates against the catalog, creates sensors on devices that
// allow it and reports when devices were heard from; queries find a series' sensor.

/// Which incarnation of a tenant (its row's `created_at`, in microseconds) and which
/// version of its catalog (`millwright.tenant_catalog_versions`) something was read at.
public struct CatalogStamp: Sendable, Hashable {
    public var incarnation: Int64
    public var version: Int64

    public init(incarnation: Int64, version: Int64) {
        self.incarnation = incarnation
        self.version = version
    }
}

/// A sensor as ingestion validates against it.
public struct CatalogSensor: Sendable, Equatable {
    public var id: Int64
    public var kind: SensorKind
    public var min: Double?
    public var max: Double?

    public init(id: Int64, kind: SensorKind, min: Double? = nil, max: Double? = nil) {
        self.id = id
        self.kind = kind
        self.min = min
        self.max = max
    }
}

/// A device as ingestion validates against it.
public struct CatalogDevice: Sendable {
    public var autoCreateSensors: Bool
    public var sensors: [String: CatalogSensor]
    public var timezone: String

    public init(autoCreateSensors: Bool, sensors: [String: CatalogSensor], timezone: String) {
        self.autoCreateSensors = autoCreateSensors
        self.sensors = sensors
        self.timezone = timezone
    }
}

/// A tenant's ingestion settings, the stamp they were read at, and devices asked for.
public struct CatalogRead: Sendable {
    public var stamp: CatalogStamp
    public var status: Tenant.Status
    public var retentionDays: Int
    public var sensorLimitPerDevice: Int
    public var devices: [String: CatalogDevice]

    public init(
        stamp: CatalogStamp, status: Tenant.Status, retentionDays: Int, sensorLimitPerDevice: Int,
        devices: [String: CatalogDevice]
    ) {
        self.stamp = stamp
        self.status = status
        self.retentionDays = retentionDays
        self.sensorLimitPerDevice = sensorLimitPerDevice
        self.devices = devices
    }
}

/// Where ingestion's catalog comes from, and what the writer checks before it stores.
public protocol CatalogSource: Sendable {
    /// The tenant's settings and stamp, with the named devices that exist (one round
    /// trip); `RegistryError.notFound` without the tenant.
    func catalog(_ tenant: TenantID, devices: Set<String>) async throws -> CatalogRead
    /// Just the named devices that exist.
    func catalogDevices(_ tenant: TenantID, _ devices: Set<String>) async throws -> [String: CatalogDevice]
    /// On the writer's connection, inside its transaction: takes the shared admission
    /// lock of each tenant (deletes take it exclusively) and returns each existing
    /// tenant's current stamp.
    func admit(_ tenants: [TenantID], on connection: PostgresConnection) throws -> [TenantID: CatalogStamp]
    /// On the writer's connection: which of the sensor ids still exist, per tenant, in
    /// one round trip.
    func existingSensors(_ ids: [TenantID: Set<Int64>], on connection: PostgresConnection) throws -> Set<Int64>
}

/// A sensor ingestion wants created (a device with `auto_create_sensors`).
public struct SensorRequest: Sendable, Hashable {
    public var device: String
    public var key: String
    public var kind: SensorKind

    public init(device: String, key: String, kind: SensorKind) {
        self.device = device
        self.key = key
        self.kind = kind
    }
}

/// Devices that would pass the tenant's sensor limit; nothing was created.
public struct SensorLimitReached: Error, Sendable {
    public var devices: Set<String>
}

/// Creates sensors for ingestion.
public protocol SensorProvisioning: Sendable {
    /// Creates the sensors that do not exist yet (existing ones are kept, whatever
    /// their kind), all or none, and returns every requested sensor as it now is;
    /// `SensorLimitReached` when a device would pass `limit` sensors.
    func provision(
        _ sensors: [SensorRequest], tenant: TenantID, limit: Int
    ) async throws
        -> [(device: String, key: String, sensor: CatalogSensor)]
}

/// Where ingestion reports when devices were heard from.
public protocol LastSeenSink: Sendable {
    /// Moves each device's `last_seen_at` forward to the given moment (µs since 1970),
    /// never back. Returns false, having written nothing, rather than wait long for a
    /// device row another transaction holds: the caller tries again later.
    func markSeen(_ devices: [String: Int64], tenant: TenantID) async throws -> Bool
}

/// A sensor's series, as point queries need it.
public struct SeriesTarget: Sendable, Equatable {
    public var sensorID: Int64
    public var kind: SensorKind
    public var deviceTimezone: String

    public init(sensorID: Int64, kind: SensorKind, deviceTimezone: String) {
        self.sensorID = sensorID
        self.kind = kind
        self.deviceTimezone = deviceTimezone
    }
}

/// What point queries read of the registry: the series of one sensor, and a page of
/// a device's sensors (for their latest points).
public protocol SeriesLookup: Sendable {
    /// The sensor's series (checks the tenant's status); 404 without it.
    func series(device: String, key: String, in context: TenantContext) async throws -> SeriesTarget
    func sensors(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [Sensor], truncated: Bool)
}
