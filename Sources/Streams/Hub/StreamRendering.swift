import Foundation
import InputParsing
import JSONText
import MetricRouter

/// One device's points of one log row as subscribers receive them, rendered once per
/// row and shared by every stream that selects the device: the points' JSON objects
/// joined by commas,
/// `{"device":"press-1","sensor":"temp","time":"2026-12-03T08:00:00.000000Z","value":21.5},…`,
/// and where each one ends (for streams that keep some sensors, and for coalescing).
struct DevicePoints: Sendable {
    struct Point: Sendable {
        var sensor: Int64
        var key: String
        /// Where its JSON ends in `json`.
        var end: Int
    }

    private(set) var json: [UInt8] = []
    private(set) var points: [Point] = []

    var count: Int { points.count }

    /// What every point of one sensor starts with, `{"device":…,"sensor":…,"time":"`:
    /// written once per sensor (`SensorNames` keeps it).
    static func prefix(device: String, key: String) -> [UInt8] {
        var w = JSONWriter(capacity: 64)
        w.beginObject()
        w.key("device")
        w.string(device)
        w.key("sensor")
        w.string(key)
        w.key("time")
        return w.bytes + Array("\"".utf8)
    }

    /// Appends one point: `prefix` (the sensor's), `time` (RFC 3339) and the value.
    mutating func append(sensor: Int64, key: String, prefix: [UInt8], time: [UInt8], value: MetricValue) {
        if !json.isEmpty { json.append(UInt8(ascii: ",")) }
        json.append(contentsOf: prefix)
        json.append(contentsOf: time)
        json.append(contentsOf: "\",\"value\":".utf8)
        switch value {
        case .number(let v): JSONWriter.appendNumber(v, to: &json)
        case .integer(let v): json.append(contentsOf: String(v).utf8)
        case .boolean(let v): json.append(contentsOf: (v ? "true" : "false").utf8)
        case .string(let v): JSONWriter.appendString(v, to: &json)
        }
        json.append(UInt8(ascii: "}"))
        points.append(Point(sensor: sensor, key: key, end: json.count))
    }

    /// Appends a point already rendered (its JSON object).
    mutating func append(sensor: Int64, key: String, json object: ArraySlice<UInt8>) {
        if !json.isEmpty { json.append(UInt8(ascii: ",")) }
        json.append(contentsOf: object)
        points.append(Point(sensor: sensor, key: key, end: json.count))
    }

    /// Appends every point of `other`.
    mutating func append(contentsOf other: DevicePoints) {
        guard !other.points.isEmpty else { return }
        if json.isEmpty {
            self = other
            return
        }
        json.append(UInt8(ascii: ","))
        let offset = json.count
        json.append(contentsOf: other.json)
        points.append(contentsOf: other.points.map { Point(sensor: $0.sensor, key: $0.key, end: $0.end + offset) })
    }

    /// Point `index`'s JSON object.
    func object(_ index: Int) -> ArraySlice<UInt8> {
        json[(index == 0 ? 0 : points[index - 1].end + 1)..<points[index].end]
    }

    /// The points of these sensor keys (nil: none is).
    func keeping(_ keys: Set<String>) -> DevicePoints? {
        var kept = DevicePoints()
        for (index, point) in points.enumerated() where keys.contains(point.key) {
            kept.append(sensor: point.sensor, key: point.key, json: object(index))
        }
        return kept.points.isEmpty ? nil : kept
    }
}

/// A log row made ready for subscribers: its points by device, or an alert's JSON.
struct RenderedRow: Sendable {
    enum Content: Sendable {
        case points([String: DevicePoints])
        case alert([UInt8])
        /// A row whose payload could not be read (logged once by the hub).
        case unreadable
    }

    var id: Int64
    var content: Content
}

/// What a stream hands its transport (SSE or WebSocket) to send.
public enum StreamOutput: Sendable, Equatable {
    /// An event: its id, name (`points`, `alert`, `gap`) and JSON data.
    case event(id: Int64, name: String, data: [UInt8])
    /// Nothing happened for the keep-alive interval.
    case keepAlive
    /// The stream's last event (`end`, saying why), then the transport closes.
    case end(StreamEnd)
}

/// Why a stream ended, as its final event says.
public enum StreamEnd: Sendable, Equatable {
    /// The subscriber did not keep up: its queue overflowed and `dropped` events were
    /// discarded.
    case slowConsumer(dropped: Int)
    /// The token (or the token behind the ticket) the stream was opened with expired.
    case tokenExpired
    /// The service is shutting down.
    case shutdown
    /// The client closed the stream.
    case clientClosed

    /// The final event's `reason`.
    public var reason: String {
        switch self {
        case .slowConsumer: "slow_consumer"
        case .tokenExpired: "token_expired"
        case .shutdown: "shutdown"
        case .clientClosed: "client_closed"
        }
    }

    /// The final event's data.
    public var json: [UInt8] {
        var w = JSONWriter(capacity: 96)
        w.beginObject()
        if case .slowConsumer(let dropped) = self {
            w.key("dropped")
            w.integer(dropped)
        }
        w.key("reason")
        w.string(reason)
        switch self {
        case .slowConsumer:
            w.key("detail")
            w.string("the client read more slowly than its events arrived; reconnect with the last event id to resume")
        case .tokenExpired:
            w.key("detail")
            w.string("the token the stream was opened with has expired; open it again with a fresh one")
        case .shutdown:
            w.key("detail")
            w.string("the service is restarting; reconnect with the last event id to resume")
        case .clientClosed:
            w.key("detail")
            w.string("the client closed the stream")
        }
        w.endObject()
        return w.bytes
    }
}

enum StreamEvents {
    static func points(_ devices: [DevicePoints], coalesced: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(devices.reduce(32) { $0 + $1.json.count + 1 })
        if coalesced > 0 {
            bytes.append(contentsOf: "{\"coalesced\":\(coalesced),\"points\":[".utf8)
        } else {
            bytes.append(contentsOf: "{\"points\":[".utf8)
        }
        var first = true
        for device in devices where device.count > 0 {
            if !first { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: device.json)
            first = false
        }
        bytes.append(contentsOf: "]}".utf8)
        return bytes
    }

    /// Events after `after` up to `resumedAfter` could not be replayed.
    static func gap(after: Int64, resumedAfter: Int64, reason: String) -> StreamOutput {
        var w = JSONWriter(capacity: 160)
        w.beginObject()
        w.key("after")
        w.string(String(after))
        w.key("detail")
        w.string(
            reason == "horizon"
                ? "events after \(after) are older than the replay horizon and were not replayed"
                : "more events followed \(after) than a replay holds; the oldest were not replayed")
        w.key("reason")
        w.string(reason)
        w.key("resumed_after")
        w.string(String(resumedAfter))
        w.endObject()
        return .event(id: resumedAfter, name: "gap", data: w.bytes)
    }
}
