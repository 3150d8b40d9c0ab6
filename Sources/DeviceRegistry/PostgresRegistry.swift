import Auth
import Foundation
import Postgres
import Tenancy

/// The registry on PostgreSQL: every use case of `TenantDirectory`, `DeviceDirectory`,
/// `SensorDirectory` and `KeyDirectory`, each in one transaction scoped by row-level
/// security. Reads send the tenant's status check and their statements in one round
/// trip.
///
/// Start: `PostgresRegistry(database:)`; it holds no resources of its own.
public struct PostgresRegistry: TenantDirectory, DeviceDirectory, SensorDirectory, KeyDirectory {
    let database: TenantDatabase

    public init(database: TenantDatabase) {
        self.database = database
    }

    // MARK: Tenants

    public func createTenant(_ id: TenantID, _ fields: TenantFields) async throws -> Tenant {
        try await database.withPlatform { db in try TenantStore.create(id, fields, on: db) }
    }

    public func tenants(after cursor: String?, limit: Int) async throws -> [Tenant] {
        try await database.withPlatform { db in try TenantStore.list(after: cursor, limit: limit, on: db) }
    }

    public func tenant(in context: TenantContext) async throws -> Tenant {
        // A tenant-scoped session sees its own row.
        try await database.readActiveTenant(context, [TenantStore.findQuery(context.tenant)]) { results in
            guard let tenant = try TenantStore.tenant(from: results[0]) else {
                throw RegistryError(.notFound, "no tenant \(context.tenant)")
            }
            return tenant
        }
    }

    public func updateTenant(
        _ id: TenantID, _ change: @escaping @Sendable (Tenant) throws -> TenantFields
    ) async throws
        -> Tenant
    {
        try await database.withPlatform { db in
            guard let current = try TenantStore.find(id, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no tenant \(id)")
            }
            return try TenantStore.update(id, try change(current), on: db)
        }
    }

    public func deleteTenant(_ id: TenantID) async throws {
        try await database.withPlatform { db in try TenantStore.delete(id, on: db) }
    }

    // MARK: Devices

    public func createDevices(_ devices: [NewDevice], in context: TenantContext) async throws -> [Device] {
        let tenant = context.tenant
        return try await database.withActiveTenant(context) { db in
            let created = try DeviceStore.create(devices.map { ($0.id, $0.fields) }, tenant: tenant, on: db)
            let sensors = devices.flatMap { device in device.sensors.map { (device.id, $0.key, $0.fields) } }
            _ = try SensorStore.create(sensors, tenant: tenant, on: db)
            return created
        }
    }

    public func devices(
        _ filter: DeviceFilter, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (devices: [Device], truncated: Bool)
    {
        let query = try DeviceStore.listQuery(filter: filter, after: cursor, limit: limit)
        return try await database.readActiveTenant(context, [query]) { results in try DeviceStore.page(from: results[0]) }
    }

    public func device(_ id: String, in context: TenantContext) async throws -> Device {
        try await database.readActiveTenant(context, [DeviceStore.findQuery(id)]) { results in
            guard let device = try DeviceStore.device(from: results[0]) else { throw RegistryError(.notFound, "no device \(id)") }
            return device
        }
    }

    public func updateDevice(
        _ id: String, in context: TenantContext, _ change: @escaping @Sendable (Device) throws -> DeviceFields
    ) async throws -> Device {
        try await database.withActiveTenant(context) { db in
            guard let current = try DeviceStore.find(id, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no device \(id)")
            }
            return try DeviceStore.update(id, try change(current), on: db)
        }
    }

    public func deleteDevice(_ id: String, in context: TenantContext) async throws {
        try await database.withActiveTenant(context) { db in try DeviceStore.delete(id, on: db) }
    }

    // MARK: Sensors

    public func createSensor(
        device: String, key: String, _ fields: SensorFields, in context: TenantContext
    ) async throws
        -> Sensor
    {
        let tenant = context.tenant
        // A missing device fails the insert's foreign key: 404.
        return try await database.withActiveTenant(context) { db in
            try SensorStore.create([(device, key, fields)], tenant: tenant, on: db)[0]
        }
    }

    public func sensors(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [Sensor], truncated: Bool)
    {
        let queries = [DeviceStore.findQuery(device), SensorStore.listQuery(device: device, after: cursor, limit: limit)]
        return try await database.readActiveTenant(context, queries) { results in
            guard try DeviceStore.device(from: results[0]) != nil else { throw RegistryError(.notFound, "no device \(device)") }
            return try SensorStore.page(from: results[1])
        }
    }

    public func sensor(device: String, key: String, in context: TenantContext) async throws -> Sensor {
        try await database.readActiveTenant(context, [SensorStore.findQuery(device: device, key: key)]) { results in
            guard let sensor = try SensorStore.sensor(from: results[0]) else {
                throw RegistryError(.notFound, "no sensor \(key) on device \(device)")
            }
            return sensor
        }
    }

    public func updateSensor(
        device: String, key: String, in context: TenantContext, _ change: @escaping @Sendable (Sensor) throws -> SensorFields
    ) async throws -> Sensor {
        try await database.withActiveTenant(context) { db in
            guard let current = try SensorStore.find(device: device, key: key, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no sensor \(key) on device \(device)")
            }
            return try SensorStore.update(device: device, key: key, try change(current), on: db)
        }
    }

    public func deleteSensor(device: String, key: String, in context: TenantContext) async throws {
        try await database.withActiveTenant(context) { db in try SensorStore.delete(device: device, key: key, on: db) }
    }

    // MARK: Keys

    public func createKey(
        device: String, name: String?, expiresAt: Date?, in context: TenantContext
    ) async throws
        -> (DeviceKey, DeviceKeyCredential)
    {
        let tenant = context.tenant
        return try await database.withActiveTenant(context) { db in
            try DeviceKeyStoreSQL.create(device: device, name: name, expiresAt: expiresAt, tenant: tenant, on: db)
        }
    }

    public func keys(device: String, after cursor: String?, limit: Int, in context: TenantContext) async throws -> [DeviceKey] {
        let queries = [DeviceStore.findQuery(device), DeviceKeyStoreSQL.listQuery(device: device, after: cursor, limit: limit)]
        return try await database.readActiveTenant(context, queries) { results in
            guard try DeviceStore.device(from: results[0]) != nil else { throw RegistryError(.notFound, "no device \(device)") }
            return try results[1].rows.map(DeviceKey.init(row:))
        }
    }

    public func revokeKey(device: String, id: String, in context: TenantContext) async throws {
        try await database.withActiveTenant(context) { db in try DeviceKeyStoreSQL.revoke(device: device, id: id, on: db) }
    }
}
