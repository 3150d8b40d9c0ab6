import Auth
import Foundation
import Tenancy

// The registry's use cases, as the API calls them. Each operation takes the
// `TenantContext` the router decided (or, for platform operations, a tenant id a
// platform admin named), checks the tenant's status where it reads or writes inside
// the tenant, and returns domain values. `PostgresRegistry` implements all of them
// with one round trip where the use case allows it; tests of the HTTP layer use
// implementations of their own.

/// Tenants themselves: platform admins create, list, change and delete them; members
/// read their own.
public protocol TenantDirectory: Sendable {
    func createTenant(_ id: TenantID, _ fields: TenantFields) async throws -> Tenant
    /// Tenants in id order after `cursor`, at most `limit`.
    func tenants(after cursor: String?, limit: Int) async throws -> [Tenant]
    func tenant(in context: TenantContext) async throws -> Tenant
    /// Changes the tenant to what `change` makes of it, with its row locked meanwhile
    /// (`change` checks preconditions and may throw to leave it as it was).
    func updateTenant(_ id: TenantID, _ change: @escaping @Sendable (Tenant) throws -> TenantFields) async throws -> Tenant
    /// Deletes the tenant and everything it owns.
    func deleteTenant(_ id: TenantID) async throws
}

/// A device to create, with the sensors it starts with.
public struct NewDevice: Sendable {
    public var id: String
    public var fields: DeviceFields
    public var sensors: [(key: String, fields: SensorFields)]

    public init(id: String, fields: DeviceFields, sensors: [(key: String, fields: SensorFields)] = []) {
        self.id = id
        self.fields = fields
        self.sensors = sensors
    }
}

/// A tenant's devices.
public protocol DeviceDirectory: Sendable {
    /// Creates the devices with their sensors, all or none, within the tenant's device limit.
    func createDevices(_ devices: [NewDevice], in context: TenantContext) async throws -> [Device]
    /// A page of devices in id order after `cursor`: at most `limit`, fewer when their
    /// bytes reach the page budget (`truncated`).
    func devices(
        _ filter: DeviceFilter, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (devices: [Device], truncated: Bool)
    func device(_ id: String, in context: TenantContext) async throws -> Device
    /// Changes the device to what `change` makes of it, with its row locked meanwhile.
    func updateDevice(
        _ id: String, in context: TenantContext, _ change: @escaping @Sendable (Device) throws -> DeviceFields
    )
        async throws -> Device
    /// Deletes the device with its sensors, keys and points.
    func deleteDevice(_ id: String, in context: TenantContext) async throws
}

/// The sensors of a tenant's devices.
public protocol SensorDirectory: Sendable {
    func createSensor(device: String, key: String, _ fields: SensorFields, in context: TenantContext) async throws -> Sensor
    /// A page of the device's sensors in key order after `cursor` (404 without the device).
    func sensors(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [Sensor], truncated: Bool)
    func sensor(device: String, key: String, in context: TenantContext) async throws -> Sensor
    /// Changes the sensor to what `change` makes of it, with its row locked meanwhile.
    func updateSensor(
        device: String, key: String, in context: TenantContext, _ change: @escaping @Sendable (Sensor) throws -> SensorFields
    ) async throws -> Sensor
    func deleteSensor(device: String, key: String, in context: TenantContext) async throws
}

/// The keys of a tenant's devices.
public protocol KeyDirectory: Sendable {
    /// A new key; the credential carries the secret, which is not stored.
    func createKey(
        device: String, name: String?, expiresAt: Date?, in context: TenantContext
    ) async throws
        -> (DeviceKey, DeviceKeyCredential)
    /// The device's keys that are not revoked, in id order after `cursor` (404 without the device).
    func keys(device: String, after cursor: String?, limit: Int, in context: TenantContext) async throws -> [DeviceKey]
    func revokeKey(device: String, id: String, in context: TenantContext) async throws
}
