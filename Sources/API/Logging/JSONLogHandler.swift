import Foundation
import InputParsing
import JSONText
import Logging
import Synchronization

/// One JSON object per line on standard output, for Loki, journald or any collector:
/// `{"timestamp": "…Z", "level": "info", "message": "…", "logger": "millwright",
/// "source": "API", …metadata}`. Metadata keys become top-level fields (the ones above
/// win); nested metadata stays nested.
///
/// Start: `LoggingSystem.bootstrap { JSONLogHandler(label: $0) }`, once, at start.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    /// The fields every line has; metadata of the same name does not repeat them.
    static let ownFields: Set<String> = ["timestamp", "level", "message", "logger", "source"]

    /// Lines are written whole, one at a time.
    private static let output = Mutex(())

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        if let error = event.error { fields["error"] = "\(String(reflecting: error))" }
        var line = JSONLine()
        line.field("timestamp", .string(RFC3339.format(unixMicros: Self.nowMillisAsMicros())))
        line.field("level", .string(event.level.rawValue))
        line.field("message", .string(event.message.description))
        line.field("logger", .string(label))
        line.field("source", .string(event.source))
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !Self.ownFields.contains(key) {
            line.field(key, value)
        }
        var bytes = line.finish()
        Self.output.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    /// Milliseconds are enough for log lines and keep them short.
    static func nowMillisAsMicros() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) * 1000
    }
}

/// A JSON object built field by field.
struct JSONLine {
    private var writer = JSONWriter(capacity: 256)

    init() { writer.beginObject() }

    mutating func field(_ key: String, _ value: Logger.Metadata.Value) {
        writer.key(key)
        write(value)
    }

    private mutating func write(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let text): writer.string(text)
        case .stringConvertible(let convertible): writer.string(convertible.description)
        case .array(let values):
            writer.beginArray()
            for value in values { write(value) }
            writer.endArray()
        case .dictionary(let values):
            writer.beginObject()
            for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                writer.key(key)
                write(value)
            }
            writer.endObject()
        }
    }

    mutating func finish() -> [UInt8] {
        writer.endObject()
        return writer.bytes + [0x0A]
    }
}
