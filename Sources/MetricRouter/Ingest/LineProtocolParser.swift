import DeviceRegistry

/// InfluxDB line protocol:
/// `measurement[,tag=value…] field=value[,field=value…] [timestamp]`.
///
/// Each field becomes a point of sensor `<measurement>.<field>` on the device named by
/// the tag `deviceTag`. Field values: floats (`1.5`, `-3e2`, `7`), integers (`3i`),
/// unsigned integers (`3u`, stored as integers), booleans (`t`, `true`, `F`, …) and
/// strings (`"run"`). Blank lines and `#` comments are skipped.
public struct LineProtocolParser {
    public enum Precision: String, Sendable, CaseIterable {
        case ns, us, ms, s

        /// Microseconds from a timestamp in this precision, rounded to the nearest.
        func microseconds(_ value: Int64) -> Int64? {
            switch self {
            case .ns:
                let (q, r) = value.quotientAndRemainder(dividingBy: 1000)
                return r >= 500 ? q + 1 : (r <= -500 ? q - 1 : q)
            case .us: return value
            case .ms:
                let (v, o) = value.multipliedReportingOverflow(by: 1000)
                return o ? nil : v
            case .s:
                let (v, o) = value.multipliedReportingOverflow(by: 1_000_000)
                return o ? nil : v
            }
        }
    }

    public struct Outcome: Sendable {
        public var points: [IncomingPoint]
        /// Problems of meaning (missing device tag); syntax problems are thrown.
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
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var line = Line(bytes: bytes, start: lineStart, end: lineEnd, number: lineNumber)
            if lineEnd > lineStart, bytes[lineEnd - 1] == 0x0D { line.end -= 1 }
            do {
                try line.parse(precision: precision, deviceTag: tag, into: &points, problems: &meaning)
            } catch let problem {
                syntax.add(problem)
            }
            if points.count > IngestLimits.maxPoints {
                throw IngestError(.tooManyPoints, "a request may carry at most \(IngestLimits.maxPoints) points")
            }
            lineStart = lineEnd + 1
        }
        if !syntax.isEmpty {
            throw syntax.error(.syntax, "\(syntax.count) line(s) are not valid line protocol")
        }
        return Outcome(points: points, problems: meaning.problems, problemCount: meaning.count)
    }
}

/// One line being parsed; errors carry its number and the 1-based column.
private struct Line {
    let bytes: [UInt8]
    let start: Int
    var end: Int
    let number: Int
    var index: Int

    init(bytes: [UInt8], start: Int, end: Int, number: Int) {
        self.bytes = bytes
        self.start = start
        self.end = end
        self.number = number
        self.index = start
    }

    var peek: UInt8? { index < end ? bytes[index] : nil }

    func error(_ message: String) -> PointProblem {
        PointProblem(.line(number, column: index - start + 1), "invalid_line", message)
    }

    mutating func parse(
        precision: LineProtocolParser.Precision, deviceTag: [UInt8], into points: inout [IncomingPoint],
        problems: inout ProblemList
    ) throws(PointProblem) {
        while let byte = peek, byte == 0x20 || byte == 0x09 { index += 1 }
        guard let first = peek, first != UInt8(ascii: "#") else { return }  // blank or comment
        guard first != 0x2C else { throw error("the measurement name is missing") }
        let measurement = try token(stops: [0x2C, 0x20], what: "measurement")
        guard !measurement.isEmpty else { throw error("the measurement name is missing") }
        var device: String?
        while peek == 0x2C {
            index += 1
            let key = try token(stops: [0x3D], what: "tag key")
            guard peek == 0x3D, !key.isEmpty else { throw error("a tag needs key=value") }
            index += 1
            let value = try token(stops: [0x2C, 0x20], what: "tag value")
            guard !value.isEmpty else { throw error("a tag value is empty") }
            if Array(key.utf8) == deviceTag { device = value }
        }
        guard peek == 0x20 else { throw error("expected a space before the fields") }
        while peek == 0x20 { index += 1 }
        var fields: [(key: String, value: MetricValue, column: Int)] = []
        repeat {
            if peek == 0x2C { index += 1 }
            let column = index - start + 1
            let key = try token(stops: [0x3D], what: "field key")
            guard peek == 0x3D, !key.isEmpty else { throw error("a field needs key=value") }
            index += 1
            fields.append((key, try fieldValue(), column))
        } while peek == 0x2C
        var time: Int64?
        if peek == 0x20 {
            while peek == 0x20 { index += 1 }
            if peek != nil {
                let digitsStart = index
                if peek == UInt8(ascii: "-") { index += 1 }
                while let d = peek, d >= 0x30, d <= 0x39 { index += 1 }
                guard let raw = JSONPointsParser.int64(bytes, digitsStart..<index), index > digitsStart,
                    let micros = precision.microseconds(raw)
                else { throw error("the timestamp must be an integer in \(precision.rawValue)") }
                time = micros
                while let byte = peek, byte == 0x20 || byte == 0x09 { index += 1 }
            }
        }
        guard peek == nil else { throw error("unexpected text after the fields") }
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

    /// Bytes up to an unescaped stop byte (or a space, which always ends a token),
    /// with backslash escapes removed.
    mutating func token(stops: [UInt8], what: String) throws(PointProblem) -> String {
        var out: [UInt8] = []
        while let byte = peek {
            if byte == UInt8(ascii: "\\"), index + 1 < end {
                let next = bytes[index + 1]
                if next == 0x2C || next == 0x3D || next == 0x20 || next == UInt8(ascii: "\\") || next == UInt8(ascii: "\"") {
                    out.append(next)
                    index += 2
                    continue
                }
            }
            if stops.contains(byte) || byte == 0x20 { break }
            out.append(byte)
            index += 1
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw error("the \(what) is not valid UTF-8") }
        return text
    }

    mutating func fieldValue() throws(PointProblem) -> MetricValue {
        guard let first = peek else { throw error("a field value is missing") }
        if first == UInt8(ascii: "\"") {
            index += 1
            var out: [UInt8] = []
            while let byte = peek {
                if byte == UInt8(ascii: "\\"), index + 1 < end,
                    bytes[index + 1] == UInt8(ascii: "\"") || bytes[index + 1] == UInt8(ascii: "\\")
                {
                    out.append(bytes[index + 1])
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    guard let text = String(validating: out, as: UTF8.self) else {
                        throw error("a string field is not valid UTF-8")
                    }
                    return .string(text)
                }
                out.append(byte)
                index += 1
            }
            throw error("a string field is not terminated")
        }
        let valueStart = index
        while let byte = peek, byte != 0x2C, byte != 0x20 { index += 1 }
        let raw = bytes[valueStart..<index]
        if let flag = Self.boolean(raw) { return .boolean(flag) }
        if let last = raw.last, last == UInt8(ascii: "i") || last == UInt8(ascii: "u") {
            guard raw.count > 1, let value = JSONPointsParser.int64(bytes, valueStart..<index - 1),
                last == UInt8(ascii: "i") || value >= 0, Self.isInteger(raw.dropLast())
            else {
                index = valueStart
                throw error("invalid integer field value \(String(decoding: raw, as: UTF8.self))")
            }
            return .integer(value)
        }
        guard Self.isFloat(raw), let value = JSONPointsParser.double(bytes, valueStart..<index) else {
            index = valueStart
            throw error("invalid field value \(String(decoding: raw, as: UTF8.self))")
        }
        return .number(value)
    }

    /// `t`, `T`, `true`, `True`, `TRUE` and the same for false.
    static func boolean(_ raw: ArraySlice<UInt8>) -> Bool? {
        guard let first = raw.first, first | 0x20 == UInt8(ascii: "t") || first | 0x20 == UInt8(ascii: "f") else { return nil }
        switch String(decoding: raw, as: UTF8.self) {
        case "t", "T", "true", "True", "TRUE": return true
        case "f", "F", "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// An optional minus and digits only.
    static func isInteger(_ raw: ArraySlice<UInt8>) -> Bool {
        let digits = raw.first == UInt8(ascii: "-") ? raw.dropFirst() : raw
        return !digits.isEmpty && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Line protocol floats: digits with an optional sign, fraction and exponent
    /// (no `nan`, `inf` or hex, which strtod would take).
    static func isFloat(_ raw: ArraySlice<UInt8>) -> Bool {
        var sawDigit = false
        var previous: UInt8 = 0
        var atStart = true
        for byte in raw {
            switch byte {
            case 0x30...0x39: sawDigit = true
            case UInt8(ascii: "-"), UInt8(ascii: "+"):
                guard atStart || previous | 0x20 == UInt8(ascii: "e") else { return false }
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): break
            default: return false
            }
            previous = byte
            atStart = false
        }
        return sawDigit
    }
}

extension PointProblem: Error {}
