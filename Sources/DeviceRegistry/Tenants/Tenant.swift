import Auth
import Foundation
import Postgres
import Tenancy

/// A customer company: the namespace of its devices.
public struct Tenant: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case active, suspended
    }

    public var id: String
    public var name: String
    public var status: Status
    public var deviceLimit: Int
    public var retentionDays: Int
    public var sensorLimitPerDevice: Int
    public var alertRuleLimit: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    static let columns =
        "id, name, status, device_limit, retention_days, sensor_limit_per_device, created_at, updated_at, version, alert_rule_limit"

    public init(
        id: String, name: String, status: Status, deviceLimit: Int, retentionDays: Int, sensorLimitPerDevice: Int,
        alertRuleLimit: Int = 1_000, createdAt: Date, updatedAt: Date, version: Int64
    ) {
        self.id = id
        self.name = name
        self.status = status
        self.deviceLimit = deviceLimit
        self.retentionDays = retentionDays
        self.sensorLimitPerDevice = sensorLimitPerDevice
        self.alertRuleLimit = alertRuleLimit
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    init(row: PostgresRow) throws {
        id = try row.decode(0)
        name = try row.decode(1)
        status = Status(stored: try row.decode(2))
        deviceLimit = try row.decode(3)
        retentionDays = try row.decode(4)
        sensorLimitPerDevice = try row.decode(5)
        createdAt = try row.decode(6)
        updatedAt = try row.decode(7)
        version = try row.decode(8)
        alertRuleLimit = try row.decode(9)
    }
}

/// The writable fields of a tenant.
public struct TenantFields: Sendable, Equatable {
    public var name: String
    public var status: Tenant.Status = .active
    public var deviceLimit: Int = 10_000
    public var retentionDays: Int = 365
    public var sensorLimitPerDevice: Int = 1_000
    public var alertRuleLimit: Int = 1_000

    public init(name: String) {
        self.name = name
    }
}

extension Tenant.Status {
    /// A status as stored; one this build does not know fails closed, as suspended.
    init(stored text: String) {
        self = Tenant.Status(rawValue: text) ?? .suspended
    }

    /// Refuses `context` in a tenant with this status: a suspended tenant is closed to
    /// all but platform admins. Every tenant-scoped operation (registry and ingestion)
    /// checks suspension here and nowhere else.
    public func admit(_ context: TenantContext) throws(RegistryError) {
        guard self == .active || context.isPlatformAdmin else {
            throw RegistryError(.tenantSuspended, "tenant \(context.tenant) is suspended")
        }
    }
}
