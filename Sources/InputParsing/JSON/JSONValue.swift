import Foundation

/// Any JSON document, decoded without loss of type: integers stay integers, `true`
/// never becomes `1`.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses a request body; nil when it is not JSON or nests deeper than `maxDepth`
    /// (decoding recurses once per level, as do `merging` and `pointerToNUL`).
    public static func parse(_ bytes: [UInt8], maxDepth: Int = JSONDepth.defaultLimit) -> JSONValue? {
        guard JSONDepth.isWithin(bytes, limit: maxDepth) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Serialized compactly with sorted keys.
    public var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("null".utf8), as: UTF8.self)
    }

    /// The JSON pointer of the first string or key holding U+0000, if any.
    public func pointerToNUL(at pointer: String = "") -> String? {
        switch self {
        case .string(let text):
            return text.utf8.contains(0) ? pointer : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = item.pointerToNUL(at: "\(pointer)/\(index)") { return found }
            }
            return nil
        case .object(let fields):
            for (key, item) in fields.sorted(by: { $0.key < $1.key }) {
                let escaped = key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                if key.utf8.contains(0) { return "\(pointer)/\(escaped)" }
                if let found = item.pointerToNUL(at: "\(pointer)/\(escaped)") { return found }
            }
            return nil
        default:
            return nil
        }
    }

    /// RFC 7396 JSON merge patch of `patch` onto `self`.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var target: [String: JSONValue] = if case .object(let current) = self { current } else { [:] }
        for (key, change) in changes {
            if change == .null {
                target.removeValue(forKey: key)
            } else {
                target[key] = (target[key] ?? .null).merging(patch: change)
            }
        }
        return .object(target)
    }
}
