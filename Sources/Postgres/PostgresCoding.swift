import Foundation
import InputParsing

/// A value that can be bound as a query parameter, in PostgreSQL's text format.
public protocol PostgresEncodable: Sendable {
    var postgresText: String? { get }
}

/// A value that can be read from a result column in PostgreSQL's text format.
public protocol PostgresDecodable {
    init(postgresText text: String) throws(PostgresError)
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { self }
    public init(postgresText text: String) { self = text }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws(PostgresError) {
        guard let value = Int(text) else { throw .decoding(text, as: "Int") }
        self = value
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { String(self) }
    public init(postgresText text: String) throws(PostgresError) {
        guard let value = Int64(text) else { throw .decoding(text, as: "Int64") }
        self = value
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        return "\(self)"
    }
    public init(postgresText text: String) throws(PostgresError) {
        switch text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(text) else { throw .decoding(text, as: "Double") }
            self = value
        }
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { self ? "t" : "f" }
    public init(postgresText text: String) throws(PostgresError) {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw .decoding(text, as: "Bool")
        }
    }
}

/// Timestamps travel as RFC 3339 text in UTC, which `timestamptz` reads and, with the
/// connection's `DateStyle=ISO` and `TimeZone=UTC`, also writes.
extension Date: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { RFC3339.format(self) }
    public init(postgresText text: String) throws(PostgresError) {
        guard let date = RFC3339.parse(text) else { throw .decoding(text, as: "Date") }
        self = date
    }
}

/// Binary data as `bytea` hex text (`\x0a1b...`).
public struct PostgresBytes: PostgresEncodable, PostgresDecodable, Equatable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresText: String? {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 2 + bytes.count * 2) { text in
            text[0] = UInt8(ascii: "\\")
            text[1] = UInt8(ascii: "x")
            var at = 2
            for byte in bytes {
                text[at] = digits[Int(byte >> 4)]
                text[at + 1] = digits[Int(byte & 0x0f)]
                at += 2
            }
            return at
        }
    }

    public init(postgresText text: String) throws(PostgresError) {
        var text = text
        guard let bytes = text.withUTF8({ Self.decodeHex($0) }) else { throw .decoding(text, as: "bytea") }
        self.bytes = bytes
    }

    /// bytea's hex text (`\x…`) decoded; nil when it is not that.
    static func decodeHex(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard utf8.count >= 2, utf8.count % 2 == 0, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x") else {
            return nil
        }
        let count = utf8.count / 2 - 1
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                guard let high = hexValue(utf8[2 + 2 * index]), let low = hexValue(utf8[3 + 2 * index]) else {
                    valid = false
                    initialized = index
                    return
                }
                buffer[index] = high << 4 | low
            }
            initialized = count
        }
        return valid ? bytes : nil
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// A text array bound as a PostgreSQL array literal (`\(array)::text[]`).
public struct PostgresTextArray: PostgresEncodable {
    public var values: [String]
    public init(_ values: [String]) { self.values = values }
    public var postgresText: String? {
        "{"
            + values.map { value in
                "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }.joined(separator: ",") + "}"
    }
}

/// An array already in PostgreSQL's text form (`{1,2,3}`), bound as one parameter.
public struct PostgresArrayLiteral: PostgresEncodable {
    public let text: String
    public init(_ text: String) { self.text = text }
    /// Integers as an array literal (`\(PostgresArrayLiteral(ids))::bigint[]`), written
    /// digit by digit (the evaluator's and the writer's arrays hold 10,000s of them).
    public init(_ integers: some Sequence<Int64>) {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(integers.underestimatedCount * 12 + 2)
        var digits = [UInt8](repeating: 0, count: 20)
        for (index, value) in integers.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            var rest = value.magnitude
            var count = 0
            repeat {
                digits[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            while count > 0 {
                count -= 1
                bytes.append(digits[count])
            }
        }
        bytes.append(UInt8(ascii: "}"))
        self.text = String(decoding: bytes, as: UTF8.self)
    }

    /// The integers of a `bigint[]` as PostgreSQL writes it (`{1,-2,3}`), without NULLs.
    public static func integers(_ text: String) throws(PostgresError) -> [Int64] {
        var text = text
        let parsed = text.withUTF8 { utf8 -> [Int64]? in
            guard utf8.count >= 2, utf8[0] == UInt8(ascii: "{"), utf8[utf8.count - 1] == UInt8(ascii: "}") else { return nil }
            var values: [Int64] = []
            guard utf8.count > 2 else { return values }
            values.reserveCapacity(utf8.count / 8)
            var at = 1
            let end = utf8.count - 1
            while at < end {
                let negative = utf8[at] == UInt8(ascii: "-")
                if negative { at += 1 }
                var magnitude: UInt64 = 0
                let start = at
                while at < end, utf8[at] != UInt8(ascii: ",") {
                    let digit = utf8[at] &- UInt8(ascii: "0")
                    guard digit < 10 else { return nil }
                    let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, carry) = times10.addingReportingOverflow(UInt64(digit))
                    guard !overflow, !carry else { return nil }
                    magnitude = sum
                    at += 1
                }
                guard at > start else { return nil }
                if negative {
                    guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
                    values.append(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))
                } else {
                    guard magnitude <= UInt64(Int64.max) else { return nil }
                    values.append(Int64(magnitude))
                }
                if at < end {
                    at += 1  // the comma
                    guard at < end else { return nil }
                }
            }
            return values
        }
        guard let parsed else { throw .decoding(text, as: "bigint[]") }
        return parsed
    }
    /// UUIDs as an array literal (`\(PostgresArrayLiteral(uuids: ids))::uuid[]`).
    public init(uuids: some Sequence<UUID>) {
        self.text = "{" + uuids.map { $0.uuidString.lowercased() }.joined(separator: ",") + "}"
    }
    public var postgresText: String? { text }
}

extension PostgresError {
    static func decoding(_ text: String, as type: String) -> PostgresError {
        PostgresError(code: .decoding, message: "cannot decode \(text.prefix(64)) as \(type)")
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String? { uuidString.lowercased() }
    public init(postgresText text: String) throws(PostgresError) {
        guard let value = UUID(uuidString: text) else { throw .decoding(text, as: "UUID") }
        self = value
    }
}
