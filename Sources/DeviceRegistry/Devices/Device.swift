import Foundation
import Postgres

/// Whether a device has reported recently.
public enum DeviceStatus: String, Sendable, CaseIterable {
    /// No point ever arrived.
    case neverSeen = "never_seen"
    /// The last point arrived within `offline_after_seconds`.
    case online
    /// The last point is older than that.
    case offline
}

public struct Location: Sendable, Equatable {
    public var latitude: Double
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// The writable fields of a device.
public struct DeviceFields: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var labels: [String: String] = [:]
    public var timezone: String = "UTC"
    public var location: Location?
    /// A JSON object, as text.
    public var metadataJSON: String = "{}"
    public var offlineAfterSeconds: Int = 300
    public var autoCreateSensors: Bool = true

    public init() {}
}

/// A machine or gateway of one tenant.
public struct Device: Sendable, Equatable {
    public var id: String
    public var fields: DeviceFields
    public var status: DeviceStatus
    public var lastSeenAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    static let columns = """
        id, name, description, labels, timezone, latitude, longitude, metadata, offline_after_seconds,
        auto_create_sensors, last_seen_at, created_at, updated_at, version,
        CASE WHEN last_seen_at IS NULL THEN 'never_seen'
             WHEN now() - last_seen_at <= offline_after_seconds * interval '1 second' THEN 'online'
             ELSE 'offline' END AS status
        """

    public init(
        id: String, fields: DeviceFields, status: DeviceStatus, lastSeenAt: Date?, createdAt: Date, updatedAt: Date,
        version: Int64
    ) {
        self.id = id
        self.fields = fields
        self.status = status
        self.lastSeenAt = lastSeenAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    init(row: PostgresRow) throws {
        id = try row.decode(0)
        fields = DeviceFields()
        fields.name = try row.decode(1, as: String?.self)
        fields.description = try row.decode(2, as: String?.self)
        let labels: String = try row.decode(3)
        fields.labels = (try? JSONSerialization.jsonObject(with: Data(labels.utf8))) as? [String: String] ?? [:]
        fields.timezone = try row.decode(4)
        if let latitude = try row.decode(5, as: Double?.self), let longitude = try row.decode(6, as: Double?.self) {
            fields.location = Location(latitude: latitude, longitude: longitude)
        }
        fields.metadataJSON = try row.decode(7)
        fields.offlineAfterSeconds = try row.decode(8)
        fields.autoCreateSensors = try row.decode(9)
        lastSeenAt = try row.decode(10, as: Date?.self)
        createdAt = try row.decode(11)
        updatedAt = try row.decode(12)
        version = try row.decode(13)
        status = DeviceStatus(rawValue: try row.decode(14)) ?? .neverSeen
    }
}

/// What a device list may be filtered by.
public struct DeviceFilter: Sendable {
    /// Every label must match.
    public var labels: [String: String] = [:]
    public var status: DeviceStatus?

    public init(labels: [String: String] = [:], status: DeviceStatus? = nil) {
        self.labels = labels
        self.status = status
    }
}
