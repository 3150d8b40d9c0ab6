/// InfluxDB line protocol, read as InfluxDB 1.x reads it:
/// `measurement[,tag=value…] field=value[,field=value…] [timestamp]`.
///
/// Each field becomes a point of sensor `<measurement>.<field>` on the device named by
/// the tag `deviceTag`. The scanning rules (escapes, quoted strings spanning lines,
/// where whitespace may stand, which numbers and booleans are valid, the timestamp
/// range) follow InfluxDB's own parser, and `Tests/lineprotocol` holds a corpus whose
/// verdicts were recorded from a real `influxd`. Where Millwright differs on purpose
/// (README, "Line protocol"): a request is refused whole; `u` integers are accepted;
/// the device tag is required; text must be UTF-8 without NUL; a string field ends at
/// its closing quote; duplicate fields of different types are a syntax error.
public struct LineProtocolParser {
    public enum Precision: String, Sendable, CaseIterable {
        case ns, us, ms, s

        /// Nanoseconds in one unit of this precision.
        var nanoseconds: Int64 {
            switch self {
            case .ns: 1
            case .us: 1000
            case .ms: 1_000_000
            case .s: 1_000_000_000
            }
        }

        /// Microseconds from a timestamp in this precision, rounded to the nearest;
        /// nil outside InfluxDB's range (1677-09-21 to 2262-04-11).
        func microseconds(_ value: Int64) -> Int64? {
            let (nanos, overflow) = value.multipliedReportingOverflow(by: nanoseconds)
            guard !overflow, nanos >= LineProtocolParser.minNanos, nanos <= LineProtocolParser.maxNanos else { return nil }
            let (q, r) = nanos.quotientAndRemainder(dividingBy: 1000)
            return r >= 500 ? q + 1 : (r <= -500 ? q - 1 : q)
        }
    }

    /// InfluxDB's time range in nanoseconds (`models.MinNanoTime`, `MaxNanoTime`).
    static let minNanos = Int64.min + 2
    static let maxNanos = Int64.max - 1
    /// InfluxDB's limit on the series key (measurement and tags, with a field key).
    static let maxKeyLength = 65535

    public struct Outcome: Sendable {
        public var points: [IncomingPoint]
        /// Problems of meaning (missing device tag, an unsigned value too large for a
        /// sensor); syntax problems are thrown.
        public var problems: [PointProblem]
        public var problemCount: Int
    }

    /// Parses the whole body. Lines that are not line protocol make it a syntax error
    /// (400) listing each such line with the column where parsing stopped.
    public static func parse(_ bytes: [UInt8], precision: Precision, deviceTag: String) throws(IngestError) -> Outcome {
        var points: [IncomingPoint] = []
        var syntax = ProblemList()
        var meaning = ProblemList()
        let tag = Array(deviceTag.utf8)
        var position = 0
        var lineNumber = 1
        while position < bytes.count {
            let (end, innerNewlines) = lineEnd(bytes, from: position)
            var line = Line(bytes: bytes, start: position, end: end, number: lineNumber)
            do {
                try line.parse(precision: precision, deviceTag: tag, into: &points, problems: &meaning)
            } catch let problem {
                syntax.add(problem)
            }
            if points.count > IngestLimits.maxPoints {
                throw IngestError(.tooManyPoints, "a request may carry at most \(IngestLimits.maxPoints) points")
            }
            lineNumber += innerNewlines + 1
            position = end + 1
        }
        if !syntax.isEmpty {
            throw syntax.error(.syntax, "\(syntax.count) line(s) are not valid line protocol")
        }
        return Outcome(points: points, problems: meaning.problems, problemCount: meaning.count)
    }

    /// Where the line starting at `start` ends: the next newline that is neither
    /// escaped nor inside a quoted string field (InfluxDB's `scanLine`); and how many
    /// newlines it passed on the way (escaped or quoted), for the line numbers of errors.
    static func lineEnd(_ bytes: [UInt8], from start: Int) -> (end: Int, newlines: Int) {
        var newlines = 0
        var i = start
        var quoted = false
        var inFields = false
        var equals = 0
        var commas = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == Byte.backslash, i + 2 < bytes.count {
                if bytes[i + 1] == Byte.newline { newlines += 1 }
                i += 2
                continue
            }
            if byte == Byte.space { inFields = true }
            if inFields {
                if !quoted, byte == Byte.equals {
                    i += 1
                    equals += 1
                    continue
                } else if !quoted, byte == Byte.comma {
                    i += 1
                    commas += 1
                    continue
                } else if byte == Byte.quote, equals > commas {
                    i += 1
                    quoted.toggle()
                    continue
                }
            }
            if byte == Byte.newline {
                if !quoted { break }
                newlines += 1
            }
            i += 1
        }
        return (i, newlines)
    }
}

enum Byte {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let minus = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let hash = UInt8(ascii: "#")
}

/// One line being parsed; errors carry its number and the 1-based column.
private struct Line {
    let bytes: [UInt8]
    let start: Int
    let end: Int
    let number: Int

    /// The byte at `i`, or 0 outside the line (never read past either end).
    func at(_ i: Int) -> UInt8 { i >= start && i < end ? bytes[i] : 0 }

    func error(_ index: Int, _ message: String) -> PointProblem {
        PointProblem(.line(number, column: max(index, start) - start + 1), "invalid_line", message)
    }

    /// Spaces, tabs and NUL, as InfluxDB's `skipWhitespace` skips them.
    func skipWhitespace(_ from: Int) -> Int {
        var i = from
        while i < end, bytes[i] == Byte.space || bytes[i] == Byte.tab || bytes[i] == 0 { i += 1 }
        return i
    }

    struct Tag {
        var key: Range<Int>
        var value: Range<Int>
    }

    mutating func parse(
        precision: LineProtocolParser.Precision, deviceTag: [UInt8], into points: inout [IncomingPoint],
        problems: inout ProblemList
    ) throws(PointProblem) {
        let keyStart = skipWhitespace(start)
        guard keyStart < end, bytes[keyStart] != Byte.hash else { return }  // blank or comment
        let (keyEnd, measurementEnd, tags) = try scanKey(keyStart)
        guard keyEnd - keyStart <= LineProtocolParser.maxKeyLength else {
            throw error(keyEnd, "max key length exceeded: \(keyEnd - keyStart) > \(LineProtocolParser.maxKeyLength)")
        }
        let fieldsStart = skipWhitespace(keyEnd)
        let fieldsEnd = try scanFields(fieldsStart)
        let time = try scanTime(fieldsEnd, precision: precision)

        let measurement = try text(unescapeKey(keyStart..<measurementEnd), at: keyStart, "the measurement")
        var device: String?
        for tag in tags where unescapeTag(tag.key) == deviceTag {
            device = try text(
                unescapeTag(tag.value), at: tag.value.lowerBound, "the \(String(decoding: deviceTag, as: UTF8.self)) tag")
        }
        let fields = try fieldValues(fieldsStart..<fieldsEnd, keyLength: fieldsStart - keyStart, problems: &problems)
        guard let device else {
            problems.add(
                PointProblem(
                    .line(number, column: 1), "missing_device_tag",
                    "the line has no \(String(decoding: deviceTag, as: UTF8.self)) tag naming its device"))
            return
        }
        for field in fields {
            points.append(
                IncomingPoint(
                    device: device, sensor: "\(measurement).\(field.key)", time: time, value: field.value,
                    position: .line(number, column: field.column)))
        }
    }

    // MARK: The key: measurement and tags

    /// Scans the measurement and tags (InfluxDB's `scanKey`): the index of the space
    /// before the fields, where the measurement ends, and the tags' raw ranges.
    func scanKey(_ keyStart: Int) throws(PointProblem) -> (Int, Int, [Tag]) {
        var i = keyStart
        guard i < end, bytes[i] != Byte.comma else { throw error(i, "missing measurement") }
        var hasTags = false
        while true {
            i += 1
            guard i < end else { throw error(i, "missing fields") }
            if bytes[i - 1] == Byte.backslash { continue }
            if bytes[i] == Byte.comma {
                hasTags = true
                break
            }
            if bytes[i] == Byte.space { break }
        }
        let measurementEnd = i
        var tags: [Tag] = []
        // Raw tag keys seen, once a line has more tags than are cheap to compare pairwise.
        var seen: Set<ArraySlice<UInt8>> = []
        guard hasTags else { return (i, measurementEnd, tags) }
        i += 1
        while true {
            let keyStart = i
            guard i < end, bytes[i] != Byte.space, bytes[i] != Byte.comma, bytes[i] != Byte.equals else {
                throw error(i, "missing tag key")
            }
            while true {
                i += 1
                guard i < end, !((bytes[i] == Byte.space || bytes[i] == Byte.comma) && bytes[i - 1] != Byte.backslash) else {
                    throw error(i, "missing tag value")
                }
                if bytes[i] == Byte.equals, bytes[i - 1] != Byte.backslash { break }
            }
            let keyEnd = i
            i += 1
            let valueStart = i
            guard i < end, bytes[i] != Byte.comma, bytes[i] != Byte.space else { throw error(i, "missing tag value") }
            var last = false
            while true {
                i += 1
                guard i < end else { throw error(i, "missing fields") }
                guard !(bytes[i] == Byte.equals && bytes[i - 1] != Byte.backslash) else {
                    throw error(i, "invalid tag format: '=' in a tag value must be escaped")
                }
                if bytes[i] == Byte.comma, bytes[i - 1] != Byte.backslash { break }
                if bytes[i] == Byte.space, bytes[i - 1] != Byte.backslash {
                    last = true
                    break
                }
            }
            let tag = Tag(key: keyStart..<keyEnd, value: valueStart..<i)
            let duplicate: Bool
            if tags.count < 16 {
                duplicate = tags.contains(where: { bytes[$0.key] == bytes[tag.key] })
            } else {
                if seen.isEmpty { seen = Set(tags.map { bytes[$0.key] }) }
                duplicate = !seen.insert(bytes[tag.key]).inserted
            }
            if duplicate {
                throw error(keyStart, "duplicate tags: \(String(decoding: bytes[tag.key], as: UTF8.self)) appears twice")
            }
            tags.append(tag)
            if last { return (i, measurementEnd, tags) }
            i += 1
        }
    }

    // MARK: Fields

    /// Checks the field set's shape and each unquoted value (InfluxDB's `scanFields`);
    /// returns where the fields end.
    func scanFields(_ fieldsStart: Int) throws(PointProblem) -> Int {
        var i = fieldsStart
        var quoted = false
        var equals = 0
        var commas = 0
        while i < end {
            let byte = bytes[i]
            if byte == Byte.backslash, i + 1 < end {
                i += 2
                continue
            }
            if byte == Byte.quote, equals > commas {
                quoted.toggle()
                i += 1
                continue
            }
            if byte == Byte.equals, !quoted {
                equals += 1
                if at(i - 1) == Byte.space || at(i - 1) == Byte.comma || i == fieldsStart, at(i - 2) != Byte.backslash {
                    throw error(i, "missing field key")
                }
                guard i + 1 < end, bytes[i + 1] != Byte.comma, bytes[i + 1] != Byte.space else {
                    throw error(i + 1, "missing field value")
                }
                let next = bytes[i + 1]
                if (next >= 0x30 && next <= 0x39) || next == Byte.dot || next == Byte.minus || next == UInt8(ascii: "N")
                    || next == UInt8(ascii: "n")
                {
                    i = try scanNumber(i + 1)
                    continue
                }
                if next != Byte.quote {
                    i = try scanBoolean(i + 1)
                    continue
                }
            }
            if byte == Byte.comma, !quoted { commas += 1 }
            if byte == Byte.space, !quoted { break }
            i += 1
        }
        if quoted { throw error(i, "unbalanced quotes: a string field is not closed") }
        if equals == 0 || commas != equals - 1 { throw error(i, "invalid field format") }
        return i
    }

    /// A number's extent, checked as InfluxDB's `scanNumber` checks it (`u` integers
    /// accepted, as InfluxDB 2 accepts them).
    func scanNumber(_ numberStart: Int) throws(PointProblem) -> Int {
        var i = numberStart
        var isInt = false
        var isUnsigned = false
        var decimal = false
        var scientific = false
        if i < end, bytes[i] == Byte.minus {
            i += 1
            if i == end { throw error(i, "invalid number") }
        }
        while i < end {
            let byte = bytes[i]
            if byte == Byte.comma || byte == Byte.space { break }
            if i > numberStart, !(isInt || isUnsigned) {
                if byte == UInt8(ascii: "i") {
                    isInt = true
                    i += 1
                    continue
                }
                if byte == UInt8(ascii: "u") {
                    isUnsigned = true
                    i += 1
                    continue
                }
            }
            if byte == Byte.dot {
                if decimal { throw error(i, "invalid number") }
                decimal = true
            }
            if i > numberStart, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                scientific = true
                i += 1
                continue
            }
            if byte == UInt8(ascii: "+") || byte == Byte.minus, at(i - 1) == UInt8(ascii: "e") || at(i - 1) == UInt8(ascii: "E") {
                i += 1
                continue
            }
            guard (byte >= 0x30 && byte <= 0x39) || byte == Byte.dot else { throw error(i, "invalid number") }
            i += 1
        }
        if (isInt || isUnsigned) && (decimal || scientific) { throw error(numberStart, "invalid number") }
        var digits = i - numberStart
        if isInt || isUnsigned { digits -= 1 }
        if decimal { digits -= 1 }
        if bytes[numberStart] == Byte.minus { digits -= 1 }
        guard digits > 0 else { throw error(numberStart, "invalid number") }
        if isInt || isUnsigned {
            guard bytes[i - 1] == UInt8(ascii: isInt ? "i" : "u") else { throw error(numberStart, "invalid number") }
            if isUnsigned, bytes[numberStart] == Byte.minus { throw error(numberStart, "invalid number") }
            let valid =
                isInt
                ? DecimalText.int64(bytes, numberStart..<i - 1) != nil : DecimalText.uint64(bytes, numberStart..<i - 1) != nil
            guard valid else {
                throw error(
                    numberStart,
                    "unable to parse \(isInt ? "integer" : "unsigned") \(String(decoding: bytes[numberStart..<i - 1], as: UTF8.self)): value out of range"
                )
            }
        } else {
            guard let value = DecimalText.double(bytes, numberStart..<i), value.isFinite else {
                throw error(numberStart, "invalid float")
            }
        }
        return i
    }

    /// `t`, `T`, `true`, `True`, `TRUE` and the same for false (InfluxDB's `scanBoolean`).
    func scanBoolean(_ valueStart: Int) throws(PointProblem) -> Int {
        var i = valueStart
        while i < end, bytes[i] != Byte.comma, bytes[i] != Byte.space { i += 1 }
        guard Self.boolean(bytes[valueStart..<i]) != nil else { throw error(valueStart, "invalid boolean") }
        return i
    }

    static func boolean(_ raw: ArraySlice<UInt8>) -> Bool? {
        switch String(decoding: raw, as: UTF8.self) {
        case "t", "T", "true", "True", "TRUE": true
        case "f", "F", "false", "False", "FALSE": false
        default: nil
        }
    }

    /// The fields of a line whose shape `scanFields` checked, in order of first
    /// appearance; a key given twice keeps its last value, as in InfluxDB.
    func fieldValues(
        _ range: Range<Int>, keyLength: Int, problems: inout ProblemList
    ) throws(PointProblem) -> [(key: String, value: MetricValue, column: Int)] {
        var fields: [(key: String, value: MetricValue, column: Int)] = []
        // Keys seen, once a line has more fields than are cheap to compare in turn.
        var indexOfKey: [String: Int] = [:]
        var f = range.lowerBound
        while f < range.upperBound {
            var k = f
            while k < range.upperBound, !(bytes[k] == Byte.equals && (k == range.lowerBound || bytes[k - 1] != Byte.backslash)) {
                k += 1
            }
            guard keyLength + 4 + (k - f) <= LineProtocolParser.maxKeyLength else {
                throw error(f, "max key length exceeded")
            }
            var v = k + 1
            var quoted = false
            while v < range.upperBound {
                if bytes[v] == Byte.backslash, v + 1 < range.upperBound,
                    bytes[v + 1] == Byte.quote || bytes[v + 1] == Byte.backslash
                {
                    v += 2
                    continue
                }
                if bytes[v] == Byte.quote {
                    quoted.toggle()
                } else if bytes[v] == Byte.comma, !quoted {
                    break
                }
                v += 1
            }
            defer { f = v + 1 }
            guard k + 1 < v else { continue }
            let key = try text(unescapeKey(f..<k), at: f, "a field key")
            guard !key.isEmpty, let value = try fieldValue(k + 1..<v, problems: &problems) else { continue }
            let column = f - start + 1
            if fields.count == 16, indexOfKey.isEmpty {
                for (index, field) in fields.enumerated() { indexOfKey[field.key] = index }
            }
            let existing = fields.count < 16 ? fields.firstIndex(where: { $0.key == key }) : indexOfKey[key]
            if let existing {
                guard fields[existing].value.kind == value.kind else {
                    throw error(f, "field type conflict: \(key) has values of two types")
                }
                fields[existing].value = value
            } else {
                // One line cannot carry more points than a whole request may.
                guard fields.count < IngestLimits.maxPoints else {
                    throw error(f, "a line has more fields than a request may carry points")
                }
                if fields.count >= 16 { indexOfKey[key] = fields.count }
                fields.append((key, value, column))
            }
        }
        return fields
    }

    /// One value whose extent and shape were checked; nil when it is refused as a
    /// problem of meaning (recorded in `problems`).
    func fieldValue(_ range: Range<Int>, problems: inout ProblemList) throws(PointProblem) -> MetricValue? {
        let first = bytes[range.lowerBound]
        let last = bytes[range.upperBound - 1]
        if first == Byte.quote {
            return .string(try stringField(range))
        }
        if first == Byte.minus || first == Byte.dot || (first >= 0x30 && first <= 0x39) {
            if last == UInt8(ascii: "i") {
                guard let value = DecimalText.int64(bytes, range.lowerBound..<range.upperBound - 1) else {
                    throw error(range.lowerBound, "invalid integer")
                }
                return .integer(value)
            }
            if last == UInt8(ascii: "u") {
                guard let value = DecimalText.uint64(bytes, range.lowerBound..<range.upperBound - 1) else {
                    throw error(range.lowerBound, "invalid unsigned integer")
                }
                guard let signed = Int64(exactly: value) else {
                    problems.add(
                        PointProblem(
                            .line(number, column: range.lowerBound - start + 1), "out_of_range",
                            "unsigned values above 9223372036854775807 do not fit an integer sensor"))
                    return nil
                }
                return .integer(signed)
            }
            guard let value = DecimalText.double(bytes, range), value.isFinite else {
                throw error(range.lowerBound, "invalid float")
            }
            return .number(value)
        }
        guard let flag = Self.boolean(bytes[range]) else { throw error(range.lowerBound, "invalid boolean") }
        return .boolean(flag)
    }

    /// A quoted string field: `\"` and `\\` unescaped, every other byte kept. Text after
    /// the closing quote is refused (InfluxDB 1.x would keep a mangled value).
    func stringField(_ range: Range<Int>) throws(PointProblem) -> String {
        var out: [UInt8] = []
        var i = range.lowerBound + 1
        while i < range.upperBound {
            let byte = bytes[i]
            if byte == Byte.backslash, i + 1 < range.upperBound, bytes[i + 1] == Byte.quote || bytes[i + 1] == Byte.backslash {
                out.append(bytes[i + 1])
                i += 2
                continue
            }
            if byte == Byte.quote {
                guard i == range.upperBound - 1 else { throw error(i + 1, "text after the closing quote of a string field") }
                return try text(out, at: range.lowerBound, "a string field")
            }
            out.append(byte)
            i += 1
        }
        throw error(range.upperBound, "unbalanced quotes: a string field is not closed")
    }

    // MARK: Timestamp

    /// The optional timestamp after the fields (InfluxDB's `scanTime`), in microseconds.
    func scanTime(_ from: Int, precision: LineProtocolParser.Precision) throws(PointProblem) -> Int64? {
        let timeStart = skipWhitespace(from)
        var i = timeStart
        while i < end {
            let byte = bytes[i]
            if byte == Byte.space || byte == Byte.newline { break }
            if i == timeStart, byte == Byte.minus {
                i += 1
                continue
            }
            guard byte >= 0x30 && byte <= 0x39 else { throw error(i, "bad timestamp") }
            i += 1
        }
        guard i > timeStart else { return nil }
        guard let value = DecimalText.int64(bytes, timeStart..<i) else {
            throw error(timeStart, "the timestamp is not an integer that fits 64 bits")
        }
        guard let micros = precision.microseconds(value) else {
            throw error(
                timeStart, "time outside range: InfluxDB keeps 1677-09-21 to 2262-04-11 (precision \(precision.rawValue))")
        }
        for j in i..<end where bytes[j] != Byte.space {
            throw error(j, "point is invalid: unexpected text after the timestamp")
        }
        return micros
    }

    // MARK: Escapes and text

    /// Measurement names and field keys: `\,` `\"` `\ ` `\=` lose their backslash.
    func unescapeKey(_ range: Range<Int>) -> [UInt8] {
        unescape(range) { $0 == Byte.comma || $0 == Byte.quote || $0 == Byte.space || $0 == Byte.equals }
    }

    /// Tag keys and values: `\,` `\ ` `\=` lose their backslash.
    func unescapeTag(_ range: Range<Int>) -> [UInt8] {
        unescape(range) { $0 == Byte.comma || $0 == Byte.space || $0 == Byte.equals }
    }

    func unescape(_ range: Range<Int>, _ escapable: (UInt8) -> Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            if bytes[i] == Byte.backslash, i + 1 < range.upperBound, escapable(bytes[i + 1]) {
                out.append(bytes[i + 1])
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// Text that PostgreSQL can store: valid UTF-8 without NUL.
    func text(_ raw: [UInt8], at index: Int, _ what: String) throws(PointProblem) -> String {
        guard !raw.contains(0) else { throw error(index, "\(what) contains NUL, which text may not hold") }
        guard let text = String(validating: raw, as: UTF8.self) else { throw error(index, "\(what) is not valid UTF-8") }
        return text
    }
}

extension PointProblem: Error {}
