import Foundation
import InputParsing

/// Reads the fields of a JSON object, collecting every problem with a JSON pointer:
/// wrong types and unknown fields (400) apart from values that break a rule (422).
///
///     var reader = try ObjectReader(body, pointer: "")
///     let name = reader.string("name", required: true)
///     try reader.finish()   // throws the collected problems, if any
struct ObjectReader {
    private let fields: [String: JSONValue]
    private let pointer: String
    private var consumed: Set<String> = []
    /// Shape problems (400).
    var syntaxErrors: [Problem.FieldError] = []
    /// Rule problems (422).
    var ruleErrors: [Problem.FieldError] = []

    init(_ value: JSONValue, pointer: String = "") throws(Problem) {
        guard case .object(let fields) = value else {
            throw Problem.badRequest(
                "invalid_type", "the body must be a JSON object",
                errors: [.init(pointer: pointer, code: "invalid_type", message: "expected an object, got \(value.typeName)")])
        }
        self.fields = fields
        self.pointer = pointer
    }

    func path(_ key: String) -> String {
        pointer + "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    mutating func typeError(_ key: String, expected: String, got value: JSONValue) {
        syntaxErrors.append(
            .init(pointer: path(key), code: "invalid_type", message: "expected \(expected), got \(value.typeName)"))
    }

    mutating func rule(_ key: String, _ code: String, _ message: String) {
        ruleErrors.append(.init(pointer: path(key), code: code, message: message))
    }

    func has(_ key: String) -> Bool { fields[key] != nil }

    /// The raw value of a field, marked as read.
    mutating func value(_ key: String, required: Bool = false) -> JSONValue? {
        consumed.insert(key)
        guard let value = fields[key] else {
            if required { syntaxErrors.append(.init(pointer: path(key), code: "required", message: "is required")) }
            return nil
        }
        return value
    }

    /// A string (null counts as absent when `nullable`).
    mutating func string(_ key: String, required: Bool = false, nullable: Bool = false, maxLength: Int = 1000) -> String? {
        guard let value = value(key, required: required) else { return nil }
        switch value {
        case .string(let text):
            // Counted in code points, as PostgreSQL's length() counts.
            if text.unicodeScalars.count > maxLength { rule(key, "too_long", "must be at most \(maxLength) characters") }
            return text
        case .null where nullable: return nil
        default:
            typeError(key, expected: nullable ? "a string or null" : "a string", got: value)
            return nil
        }
    }

    mutating func integer(_ key: String, required: Bool = false, in range: ClosedRange<Int>) -> Int? {
        guard let value = value(key, required: required) else { return nil }
        let number: Int? =
            switch value {
            case .integer(let n): Int(exactly: n)
            case .number(let d) where d.rounded() == d && abs(d) < 1e15: Int(d)
            default: nil
            }
        guard let number else {
            typeError(key, expected: "an integer", got: value)
            return nil
        }
        if !range.contains(number) {
            rule(key, "out_of_range", "must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    mutating func number(_ key: String, nullable: Bool = false) -> Double?? {
        guard let value = value(key) else { return nil }
        switch value {
        case .integer(let n): return .some(Double(n))
        case .number(let d): return .some(d)
        case .null where nullable: return .some(nil)
        default:
            typeError(key, expected: nullable ? "a number or null" : "a number", got: value)
            return nil
        }
    }

    mutating func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else {
            typeError(key, expected: "a boolean", got: value)
            return nil
        }
        return flag
    }

    mutating func object(_ key: String, nullable: Bool = false) -> JSONValue? {
        guard let value = value(key) else { return nil }
        switch value {
        case .object: return value
        case .null where nullable: return value
        default:
            typeError(key, expected: nullable ? "an object or null" : "an object", got: value)
            return nil
        }
    }

    /// Records every field nobody read as unknown.
    mutating func rejectUnknown(readOnly: Set<String> = []) {
        for key in fields.keys.sorted() where !consumed.contains(key) {
            if readOnly.contains(key) {
                syntaxErrors.append(.init(pointer: path(key), code: "read_only", message: "cannot be set"))
            } else {
                syntaxErrors.append(.init(pointer: path(key), code: "unknown_field", message: "is not a known field"))
            }
        }
    }

    /// Folds a nested reader's problems into this one.
    mutating func absorb(_ other: ObjectReader) {
        syntaxErrors += other.syntaxErrors
        ruleErrors += other.ruleErrors
    }

    /// Throws 400 for shape problems, else 422 for rule problems.
    func finish() throws(Problem) {
        if !syntaxErrors.isEmpty {
            throw Problem.badRequest(
                "invalid_body", "the body has fields of the wrong type or unknown fields", errors: syntaxErrors)
        }
        if !ruleErrors.isEmpty {
            throw Problem.unprocessable("the body breaks validation rules", errors: ruleErrors)
        }
    }
}
