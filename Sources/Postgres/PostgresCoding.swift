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
        "\\x" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    public init(postgresText text: String) throws(PostgresError) {
        guard text.hasPrefix("\\x"), text.utf8.count % 2 == 0 else { throw .decoding(text, as: "bytea") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2 - 1)
        var iterator = text.utf8.dropFirst(2).makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = hexValue(high), let l = hexValue(low) else { throw .decoding(text, as: "bytea") }
            bytes.append(h << 4 | l)
        }
        self.bytes = bytes
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
    /// Integers as an array literal (`\(PostgresArrayLiteral(ids))::bigint[]`).
    public init(_ integers: some Sequence<Int64>) { self.text = "{" + integers.map(String.init).joined(separator: ",") + "}" }
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
