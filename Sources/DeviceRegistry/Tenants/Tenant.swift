import Foundation
import Postgres
import Tenancy

/// A customer company: the namespace of its devices.
public struct Tenant: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case active, suspended
    }

    public var id: String
    public var name: String
    public var status: Status
    public var deviceLimit: Int
    public var retentionDays: Int
    public var sensorLimitPerDevice: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, name, status, version
        case deviceLimit = "device_limit"
        case retentionDays = "retention_days"
        case sensorLimitPerDevice = "sensor_limit_per_device"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    static let columns =
        "id, name, status, device_limit, retention_days, sensor_limit_per_device, created_at, updated_at, version"

    init(row: PostgresRow) throws {
        id = try row.decode(0)
        name = try row.decode(1)
        status = Status(rawValue: try row.decode(2)) ?? .suspended
        deviceLimit = try row.decode(3)
        retentionDays = try row.decode(4)
        sensorLimitPerDevice = try row.decode(5)
        createdAt = try row.decode(6)
        updatedAt = try row.decode(7)
        version = try row.decode(8)
    }
}

/// The writable fields of a tenant.
public struct TenantFields: Sendable, Equatable {
    public var name: String
    public var status: Tenant.Status = .active
    public var deviceLimit: Int = 10_000
    public var retentionDays: Int = 365
    public var sensorLimitPerDevice: Int = 1_000

    public init(name: String) {
        self.name = name
    }
}
