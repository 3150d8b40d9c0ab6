import Foundation
import InputParsing

/// Writes JSON straight into bytes, for responses on hot paths where `JSONEncoder`
/// showed up in the profile (~15% of a device read). Keys are written in the order
/// given: callers give them sorted, as `JSONEncoder` with `.sortedKeys` would.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    private var needsComma = false

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String?) {
        separate()
        if let value { appendQuoted(value) } else { appendLiteral("null") }
        needsComma = true
    }

    public mutating func number(_ value: Double?) {
        separate()
        if let value {
            Self.appendNumber(value, to: &bytes)
        } else {
            appendLiteral("null")
        }
        needsComma = true
    }

    public mutating func integer(_ value: some BinaryInteger) {
        separate()
        appendLiteral(String(value))
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        appendLiteral(value ? "true" : "false")
        needsComma = true
    }

    public mutating func date(_ value: Date?) {
        string(value.map(RFC3339.format))
    }

    /// Text that is JSON already (e.g. a `jsonb` column as PostgreSQL prints it).
    public mutating func rawJSON(_ text: String) {
        separate()
        appendLiteral(text)
        needsComma = true
    }

    public mutating func null() {
        separate()
        appendLiteral("null")
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendLiteral(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func appendQuoted(_ text: String) {
        Self.appendString(text, to: &bytes)
    }

    /// `value` as `number(_:)` writes it (whole numbers below 1e15 without a fraction,
    /// `null` when not finite), appended to `bytes`.
    public static func appendNumber(_ value: Double, to bytes: inout [UInt8]) {
        guard value.isFinite else {
            bytes.append(contentsOf: "null".utf8)
            return
        }
        if value == value.rounded(), abs(value) < 1e15 {
            bytes.append(contentsOf: String(Int64(value)).utf8)
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    /// `text` as a quoted JSON string, appended to `bytes`.
    public static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Most text needs no escape: copied whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A response body that writes itself without `JSONEncoder`.
public protocol JSONBodyWriting {
    func write(to writer: inout JSONWriter)
}

extension JSONWriter {
    /// Writes any response value: the service's one way of writing JSON.
    public mutating func value(_ value: some JSONBodyWriting) {
        value.write(to: &self)
    }
}

extension String: JSONBodyWriting {
    public func write(to writer: inout JSONWriter) { writer.string(self) }
}

extension Int: JSONBodyWriting {
    public func write(to writer: inout JSONWriter) { writer.integer(self) }
}

extension Array: JSONBodyWriting where Element: JSONBodyWriting {
    public func write(to writer: inout JSONWriter) {
        writer.beginArray()
        for element in self { element.write(to: &writer) }
        writer.endArray()
    }
}

/// An object with its keys sorted.
extension Dictionary: JSONBodyWriting where Key == String, Value: JSONBodyWriting {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        for (key, value) in sorted(by: { $0.key < $1.key }) {
            writer.key(key)
            value.write(to: &writer)
        }
        writer.endObject()
    }
}
