import Foundation

/// Reads `{"points": [{"device": …, "sensor": …, "time": …, "value": …}, …]}` straight
/// from the body's bytes, without building a general JSON tree: ingest bodies hold up
/// to 100,000 points and this is the hot path.
///
/// Malformed JSON or a body of the wrong shape is a syntax error (400, one problem);
/// a well-formed point with a missing, unknown or mistyped member is a problem of that
/// point (422), reported with its index and JSON pointer.
public struct JSONPointsParser {
    private let bytes: [UInt8]
    private var index = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The points, or problems of individual points (`problems` non-empty → 422).
    public struct Outcome: Sendable {
        public var points: [IncomingPoint]
        public var problems: [PointProblem]
        public var problemCount: Int
    }

    public static func parse(_ bytes: [UInt8]) throws(IngestError) -> Outcome {
        var parser = JSONPointsParser(bytes)
        return try parser.document()
    }

    private enum Scalar {
        case null, bool(Bool), integer(Int64), number(Double), string(String), composite(String)
        var typeName: String {
            switch self {
            case .null: "null"
            case .bool: "boolean"
            case .integer, .number: "number"
            case .string: "string"
            case .composite(let name): name
            }
        }
    }

    private mutating func document() throws(IngestError) -> Outcome {
        var points: [IncomingPoint] = []
        var problems = ProblemList()
        var sawPoints = false
        try expect(UInt8(ascii: "{"), "the body must be a JSON object with a \"points\" array")
        try members { (parser, key) throws(IngestError) in
            guard key == "points" else {
                try parser.skipValue()
                return
            }
            sawPoints = true
            parser.skipWhitespace()
            guard parser.peek == UInt8(ascii: "[") else {
                throw parser.syntax("\"points\" must be an array")
            }
            parser.index += 1
            var position = 0
            try parser.elements { (parser) throws(IngestError) in
                if position >= IngestLimits.maxPoints {
                    throw IngestError(.tooManyPoints, "a request may carry at most \(IngestLimits.maxPoints) points")
                }
                if let point = try parser.point(position, problems: &problems) { points.append(point) }
                position += 1
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw syntax("unexpected data after the JSON object") }
        guard sawPoints else { throw syntax("the body must have a \"points\" array") }
        return Outcome(points: points, problems: problems.problems, problemCount: problems.count)
    }

    /// One element of `points`; nil when it has problems (recorded in `problems`).
    private mutating func point(_ position: Int, problems: inout ProblemList) throws(IngestError) -> IncomingPoint? {
        let pointer = "/points/\(position)"
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else {
            let found = try scalar()
            problems.add(
                PointProblem(
                    .index(position), "invalid_point", "a point must be an object, not \(found.typeName)", pointer: pointer))
            return nil
        }
        index += 1
        var device: String?
        var sensor: String?
        var time: Int64?
        var value: Scalar?
        var firstProblem: PointProblem?
        func problem(_ code: String, _ message: String, _ member: String) {
            if firstProblem == nil {
                firstProblem = PointProblem(.index(position), code, message, pointer: "\(pointer)/\(member)")
            }
        }
        try members { (parser, key) throws(IngestError) in
            let found = try parser.scalar()
            switch key {
            case "device", "sensor":
                guard case .string(let text) = found else {
                    problem("invalid_value", "\(key) must be a string, not \(found.typeName)", key)
                    return
                }
                if key == "device" { device = text } else { sensor = text }
            case "time":
                guard case .string(let text) = found else {
                    if case .null = found { return }
                    problem("invalid_time", "time must be an RFC 3339 string, not \(found.typeName)", key)
                    return
                }
                guard let micros = RFC3339.parseMicroseconds(text) else {
                    problem("invalid_time", "time must be RFC 3339, like 2026-11-22T10:00:00.123Z", key)
                    return
                }
                time = micros
            case "value":
                value = found
            default:
                problem("unknown_field", "a point has device, sensor, time and value; not \(key)", key)
            }
        }
        if firstProblem == nil {
            if device == nil { problem("missing_field", "device is required", "device") }
            if sensor == nil { problem("missing_field", "sensor is required", "sensor") }
            if value == nil { problem("missing_field", "value is required", "value") }
        }
        var metric: MetricValue?
        var newKind = SensorKind.number
        switch value {
        case .integer(let integer)?: metric = .integer(integer)
        case .number(let number)?: metric = .number(number)
        case .bool(let flag)?:
            metric = .boolean(flag)
            newKind = .boolean
        case .string(let text)?:
            metric = .string(text)
            newKind = .string
        case let other?:
            problem("invalid_value", "value must be a number, boolean or string, not \(other.typeName)", "value")
        case nil: break
        }
        if let firstProblem {
            problems.add(firstProblem)
            return nil
        }
        guard let device, let sensor, let metric else { return nil }
        return IncomingPoint(
            device: device, sensor: sensor, time: time, value: metric, newSensorKind: newKind, position: .index(position),
            pointer: pointer)
    }

    // MARK: Structure

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws(IngestError) {
        skipWhitespace()
        guard peek == byte else { throw syntax(message) }
        index += 1
    }

    /// The members of an object whose `{` was consumed; `body` must consume each value.
    private mutating func members(_ body: (inout JSONPointsParser, String) throws(IngestError) -> Void) throws(IngestError) {
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw syntax("expected a member name in quotes") }
            let key = try string()
            try expect(UInt8(ascii: ":"), "expected ':' after a member name")
            try body(&self, key)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ",")?: index += 1
            case UInt8(ascii: "}")?:
                index += 1
                return
            default: throw syntax("expected ',' or '}' in an object")
            }
        }
    }

    /// The elements of an array whose `[` was consumed; `body` must consume each value.
    private mutating func elements(_ body: (inout JSONPointsParser) throws(IngestError) -> Void) throws(IngestError) {
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            try body(&self)
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ",")?: index += 1
            case UInt8(ascii: "]")?:
                index += 1
                return
            default: throw syntax("expected ',' or ']' in an array")
            }
        }
    }

    private mutating func skipValue() throws(IngestError) { _ = try scalar() }

    /// Deepest nesting of arrays and objects inside one value the parser skips (an
    /// unknown member, or a point's value of the wrong type).
    public static let maxDepth = 64

    /// A value; objects and arrays are checked and skipped.
    private mutating func scalar() throws(IngestError) -> Scalar {
        skipWhitespace()
        guard let byte = peek else { throw syntax("unexpected end of the body") }
        switch byte {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            try skipComposite()
            return .composite("object")
        case UInt8(ascii: "["):
            try skipComposite()
            return .composite("array")
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    /// Checks and skips the object or array that opens at `index`, with a stack of its
    /// own instead of recursion: no body can exhaust the thread's stack.
    private mutating func skipComposite() throws(IngestError) {
        var closers: [UInt8] = []
        func open(_ parser: inout JSONPointsParser) throws(IngestError) {
            closers.append(parser.bytes[parser.index] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
            parser.index += 1
            guard closers.count <= Self.maxDepth else {
                throw parser.syntax("arrays and objects nest deeper than \(Self.maxDepth) levels")
            }
        }
        try open(&self)
        var expectValue = true  // after an opening or a comma; false after a value
        while let closer = closers.last {
            skipWhitespace()
            guard let byte = peek else { throw syntax("unexpected end of the body") }
            if !expectValue {
                if byte == closer {
                    index += 1
                    closers.removeLast()
                } else if byte == UInt8(ascii: ",") {
                    index += 1
                    expectValue = true
                    skipWhitespace()
                    if peek == UInt8(ascii: "]") || peek == UInt8(ascii: "}") { throw syntax("a value is missing after ','") }
                } else {
                    throw syntax(
                        closer == UInt8(ascii: "}") ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array")
                }
                continue
            }
            if byte == closer {
                index += 1  // an empty array or object (a closer after a comma was refused above)
                closers.removeLast()
                expectValue = false
                continue
            }
            if closer == UInt8(ascii: "}") {
                guard byte == UInt8(ascii: "\"") else { throw syntax("expected a member name in quotes") }
                _ = try string()
                try expect(UInt8(ascii: ":"), "expected ':' after a member name")
                skipWhitespace()
            }
            guard let first = peek else { throw syntax("unexpected end of the body") }
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                try open(&self)
                expectValue = true
            } else {
                _ = try scalar()
                expectValue = false
            }
        }
    }

    private mutating func literal(_ word: StaticString, _ value: Scalar) throws(IngestError) -> Scalar {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw syntax("unexpected end of the body") }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw syntax("invalid literal") }
        index += count
        return value
    }

    private mutating func number() throws(IngestError) -> Scalar {
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, first >= 0x30, first <= 0x39 else { throw syntax("invalid value") }
        if first == 0x30 {
            index += 1
        } else {
            while let d = peek, d >= 0x30, d <= 0x39 { index += 1 }
        }
        var isInteger = true
        if peek == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard let d = peek, d >= 0x30, d <= 0x39 else { throw syntax("invalid number") }
            while let d = peek, d >= 0x30, d <= 0x39 { index += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard let d = peek, d >= 0x30, d <= 0x39 else { throw syntax("invalid number") }
            while let d = peek, d >= 0x30, d <= 0x39 { index += 1 }
        }
        if isInteger, let integer = DecimalText.int64(bytes, start..<index) { return .integer(integer) }
        // The grammar above was checked, so strtod reads it all (NaN would be refused later).
        return .number(DecimalText.double(bytes, start..<index) ?? .nan)
    }

    private mutating func string() throws(IngestError) -> String {
        index += 1  // the opening quote
        let start = index
        var hasEscape = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let end = index
                index += 1
                if !hasEscape {
                    guard let text = String(validating: bytes[start..<end], as: UTF8.self) else {
                        throw syntax("a string is not valid UTF-8")
                    }
                    return text
                }
                return try unescape(start..<end)
            }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                index += 2
                continue
            }
            if byte < 0x20 { throw syntax("control characters must be escaped in strings") }
            index += 1
        }
        throw syntax("a string is not terminated")
    }

    private func unescape(_ range: Range<Int>) throws(IngestError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= range.upperBound else { return nil }
            var value: UInt32 = 0
            for j in at..<at + 4 {
                guard let digit = Int(String(UnicodeScalar(bytes[j])), radix: 16) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while i < range.upperBound {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < range.upperBound else { throw syntax("invalid escape in a string") }
            let escaped = bytes[i + 1]
            i += 2
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4(i) else { throw syntax("invalid \\u escape in a string") }
                i += 4
                if (0xD800..<0xDC00).contains(code) {
                    guard i + 1 < range.upperBound, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                        let low = hex4(i + 2), (0xDC00..<0xE000).contains(low)
                    else { throw syntax("unpaired surrogate in a string") }
                    i += 6
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(code) {
                    throw syntax("unpaired surrogate in a string")
                }
                guard let scalar = Unicode.Scalar(code) else { throw syntax("invalid \\u escape in a string") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw syntax("invalid escape in a string")
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw syntax("a string is not valid UTF-8") }
        return text
    }

    private func syntax(_ message: String) -> IngestError {
        let position = min(index, bytes.count)
        return IngestError(
            .syntax, "the body is not valid: \(message)",
            problems: [
                PointProblem(PointPosition(column: position + 1), "malformed_json", "\(message) (at byte \(position + 1))")
            ])
    }
}
