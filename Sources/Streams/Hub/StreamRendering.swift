import Foundation
import InputParsing
import JSONText
import MetricRouter

/// One point of a log row as subscribers receive it, rendered once per row and
/// shared by every subscriber it matches:
/// `{"device":"press-1","sensor":"temp","time":"2026-12-03T08:00:00.000000Z","value":21.5}`.
struct PointFragment: Sendable {
    var sensor: Int64
    var key: String
    var json: [UInt8]

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

    static func render(prefix: [UInt8], time: Int64, value: MetricValue) -> [UInt8] {
        var bytes = prefix
        bytes.reserveCapacity(prefix.count + 48)
        bytes.append(contentsOf: RFC3339.format(unixMicros: time).utf8)
        bytes.append(contentsOf: "\",\"value\":".utf8)
        switch value {
        case .number(let v):
            var w = JSONWriter(capacity: 24)
            w.number(v)
            bytes.append(contentsOf: w.bytes)
        case .integer(let v): bytes.append(contentsOf: String(v).utf8)
        case .boolean(let v): bytes.append(contentsOf: (v ? "true" : "false").utf8)
        case .string(let v):
            var w = JSONWriter(capacity: v.utf8.count + 2)
            w.string(v)
            bytes.append(contentsOf: w.bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// A log row made ready for subscribers: its points by device, or an alert's JSON.
struct RenderedRow: Sendable {
    enum Content: Sendable {
        case points([String: [PointFragment]])
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
    static func points(_ fragments: [PointFragment], coalesced: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fragments.reduce(32) { $0 + $1.json.count + 1 })
        if coalesced > 0 {
            bytes.append(contentsOf: "{\"coalesced\":\(coalesced),\"points\":[".utf8)
        } else {
            bytes.append(contentsOf: "{\"points\":[".utf8)
        }
        for (index, fragment) in fragments.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: fragment.json)
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
