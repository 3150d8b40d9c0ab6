import Foundation
import InputParsing
import Postgres

/// The writable fields of a sensor.
public struct SensorFields: Sendable, Equatable {
    public var name: String?
    public var kind: SensorKind
    public var unit: String?
    public var min: Double?
    public var max: Double?
    public var description: String?

    public init(kind: SensorKind) {
        self.kind = kind
    }
}

/// One measured quantity of a device, keyed inside the device.
public struct Sensor: Sendable, Equatable {
    public var deviceID: String
    public var key: String
    /// Compact id used by metric rows.
    public var sensorID: Int64
    public var fields: SensorFields
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    static let columns = "device_id, key, sensor_id, name, kind, unit, min, max, description, created_at, updated_at, version"

    public init(
        deviceID: String, key: String, sensorID: Int64, fields: SensorFields, createdAt: Date, updatedAt: Date, version: Int64
    ) {
        self.deviceID = deviceID
        self.key = key
        self.sensorID = sensorID
        self.fields = fields
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    init(row: PostgresRow) throws {
        deviceID = try row.decode(0)
        key = try row.decode(1)
        sensorID = try row.decode(2)
        fields = SensorFields(kind: SensorKind(rawValue: try row.decode(4)) ?? .number)
        fields.name = try row.decode(3, as: String?.self)
        fields.unit = try row.decode(5, as: String?.self)
        fields.min = try row.decode(6, as: Double?.self)
        fields.max = try row.decode(7, as: Double?.self)
        fields.description = try row.decode(8, as: String?.self)
        createdAt = try row.decode(9)
        updatedAt = try row.decode(10)
        version = try row.decode(11)
    }
}
