import DeviceRegistry
import Foundation
import InputParsing
import JSONText

/// A device as the API shows it.
struct DeviceBody {
    var device: Device

    /// The writable fields as JSON, the base a merge patch applies to.
    var editable: JSONValue {
        let f = device.fields
        var object: [String: JSONValue] = [
            "labels": .object(f.labels.mapValues { .string($0) }), "timezone": .string(f.timezone),
            "metadata": JSONValue.parse(Array(f.metadataJSON.utf8)) ?? .object([:]),
            "offline_after_seconds": .integer(Int64(f.offlineAfterSeconds)), "auto_create_sensors": .bool(f.autoCreateSensors),
        ]
        if let name = f.name { object["name"] = .string(name) }
        if let description = f.description { object["description"] = .string(description) }
        if let location = f.location {
            object["location"] = .object(["latitude": .number(location.latitude), "longitude": .number(location.longitude)])
        }
        return .object(object)
    }
}

extension DeviceBody: JSONBodyWriting {
    /// The device's one representation (lists, reads, writes and ETags alike), keys sorted.
    func write(to w: inout JSONWriter) {
        let f = device.fields
        w.beginObject()
        w.key("auto_create_sensors")
        w.bool(f.autoCreateSensors)
        w.key("created_at")
        w.date(device.createdAt)
        w.key("description")
        w.string(f.description)
        w.key("id")
        w.string(device.id)
        w.key("labels")
        w.beginObject()
        for (name, value) in f.labels.sorted(by: { $0.key < $1.key }) {
            w.key(name)
            w.string(value)
        }
        w.endObject()
        w.key("last_seen_at")
        w.date(device.lastSeenAt)
        w.key("location")
        if let location = f.location {
            w.beginObject()
            w.key("latitude")
            w.number(location.latitude)
            w.key("longitude")
            w.number(location.longitude)
            w.endObject()
        } else {
            w.null()
        }
        w.key("metadata")
        w.rawJSON(f.metadataJSON)
        w.key("name")
        w.string(f.name)
        w.key("offline_after_seconds")
        w.integer(f.offlineAfterSeconds)
        w.key("status")
        w.string(device.status.rawValue)
        w.key("timezone")
        w.string(f.timezone)
        w.key("updated_at")
        w.date(device.updatedAt)
        w.key("version")
        w.integer(device.version)
        w.endObject()
    }
}

/// Reads and checks device fields (create, batch and the result of a merge patch).
enum DeviceInput {
    static let readOnly: Set<String> = ["status", "last_seen_at", "created_at", "updated_at", "version"]

    static func validID(_ id: String) -> Bool { Identifier.isValid(id, as: .device) }

    static func readID(_ reader: inout ObjectReader) -> String? {
        guard let id = reader.string("id", required: true, maxLength: 128) else { return nil }
        if !validID(id) { reader.rule("id", "invalid_format", "must match \(Identifier.Kind.device.pattern)") }
        if id == "batch" { reader.rule("id", "reserved", "'batch' names the batch endpoint and cannot be a device id") }
        return id
    }

    static func readFields(_ reader: inout ObjectReader, timeZones: TimeZoneNames) -> DeviceFields {
        var fields = DeviceFields()
        fields.name = reader.string("name", nullable: true, maxLength: 200)
        fields.description = reader.string("description", nullable: true, maxLength: 2000)
        if let labels = reader.object("labels", nullable: true), case .object(let entries) = labels {
            if entries.count > 64 { reader.rule("labels", "too_many", "at most 64 labels") }
            for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
                let pointer = reader.path("labels") + "/" + key
                guard case .string(let text) = value else {
                    reader.syntaxErrors.append(
                        .init(pointer: pointer, code: "invalid_type", message: "expected a string, got \(value.typeName)"))
                    continue
                }
                if key.isEmpty || key.unicodeScalars.count > 128 || text.unicodeScalars.count > 256 || key.contains(":") {
                    reader.ruleErrors.append(
                        .init(
                            pointer: pointer, code: "invalid_label",
                            message: "keys are 1-128 characters without ':', values at most 256"))
                }
                fields.labels[key] = text
            }
        }
        if let timezone = reader.string("timezone", nullable: true, maxLength: 64) {
            if let refusal = timeZones.refusal(timezone) {
                reader.rule("timezone", "invalid_timezone", refusal)
            } else {
                fields.timezone = timezone
            }
        }
        if let location = reader.object("location", nullable: true), case .object = location {
            fields.location = readLocation(location, &reader)
        }
        if let metadata = reader.object("metadata", nullable: true), case .object = metadata {
            let text = metadata.text
            // Measured as stored and read back (jsonb writes numbers out in full), not as sent.
            if max(text.utf8.count, metadata.canonicalLength) > 16 * 1024 {
                reader.rule(
                    "metadata", "too_large", "must be at most 16 KiB as PostgreSQL stores it (numbers written out in full)")
            }
            fields.metadataJSON = text
        }
        if reader.has("offline_after_seconds"), case .null = reader.value("offline_after_seconds") {
        } else if let seconds = reader.integer("offline_after_seconds", in: 1...31_536_000) {
            fields.offlineAfterSeconds = seconds
        }
        if let auto = reader.bool("auto_create_sensors") { fields.autoCreateSensors = auto }
        return fields
    }

    private static func readLocation(_ value: JSONValue, _ parent: inout ObjectReader) -> Location? {
        guard var reader = try? ObjectReader(value, pointer: parent.path("location")) else { return nil }
        let latitude = reader.number("latitude") ?? nil
        let longitude = reader.number("longitude") ?? nil
        if !reader.has("latitude") {
            reader.syntaxErrors.append(.init(pointer: reader.path("latitude"), code: "required", message: "is required"))
        }
        if !reader.has("longitude") {
            reader.syntaxErrors.append(.init(pointer: reader.path("longitude"), code: "required", message: "is required"))
        }
        if let latitude, !(-90...90).contains(latitude) { reader.rule("latitude", "out_of_range", "must be from -90 to 90") }
        if let longitude, !(-180...180).contains(longitude) {
            reader.rule("longitude", "out_of_range", "must be from -180 to 180")
        }
        reader.rejectUnknown()
        parent.absorb(reader)
        guard let latitude, let longitude else { return nil }
        return Location(latitude: latitude, longitude: longitude)
    }
}
