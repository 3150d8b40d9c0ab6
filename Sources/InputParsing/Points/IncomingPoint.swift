/// A value as sent, before it is checked against its sensor.
public enum MetricValue: Sendable, Equatable {
    case number(Double)
    case integer(Int64)
    case boolean(Bool)
    case string(String)

    /// The kind a new sensor gets when its first value is this one.
    public var kind: SensorKind {
        switch self {
        case .number: .number
        case .integer: .integer
        case .boolean: .boolean
        case .string: .string
        }
    }
}

/// Where a point was in the request: its index in a JSON body, or its line (and the
/// column of the field) in line protocol. Error answers name it.
public struct PointPosition: Sendable, Equatable {
    public var index: Int?
    public var line: Int?
    public var column: Int?

    public static func index(_ index: Int) -> PointPosition { PointPosition(index: index) }
    public static func line(_ line: Int, column: Int) -> PointPosition { PointPosition(line: line, column: column) }
}

/// One point of an ingest request, parsed but not yet validated.
public struct IncomingPoint: Sendable, Equatable {
    public var device: String
    public var sensor: String
    /// Microseconds since 1970; nil means "now" (the server's time).
    public var time: Int64?
    public var value: MetricValue
    /// The kind a sensor created for this point gets. JSON has one number type, so a
    /// JSON `3` makes a number sensor; line protocol's `3i` makes an integer one.
    public var newSensorKind: SensorKind
    public var position: PointPosition
    /// The JSON pointer of the point (`/points/3`), for JSON bodies.
    public var pointer: String?

    public init(
        device: String, sensor: String, time: Int64?, value: MetricValue, newSensorKind: SensorKind? = nil,
        position: PointPosition, pointer: String? = nil
    ) {
        self.device = device
        self.sensor = sensor
        self.time = time
        self.value = value
        self.newSensorKind = newSensorKind ?? value.kind
        self.position = position
        self.pointer = pointer
    }
}

/// Why one point (or line) was refused.
public struct PointProblem: Sendable, Equatable {
    public var position: PointPosition
    /// Stable code: `unknown_device`, `kind_mismatch`, `invalid_line`, …
    public var code: String
    public var message: String
    /// The JSON pointer of the offending member, for JSON bodies.
    public var pointer: String?

    public init(_ position: PointPosition, _ code: String, _ message: String, pointer: String? = nil) {
        self.position = position
        self.code = code
        self.message = message
        self.pointer = pointer
    }
}

/// Why an ingest request was refused as a whole. Nothing of it was stored.
public struct IngestError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let raw: String
        /// The body is not a well-formed document (400).
        public static let syntax = Code(raw: "syntax")
        /// Points are well-formed but refused (422).
        public static let invalid = Code(raw: "invalid")
        /// A device key wrote for another device (403).
        public static let forbidden = Code(raw: "forbidden")
        /// The writer's queue is full (429).
        public static let backpressure = Code(raw: "backpressure")
        /// The database could not take the points (503).
        public static let unavailable = Code(raw: "unavailable")
        /// More points than a request may carry (413).
        public static let tooManyPoints = Code(raw: "too_many_points")
        public var description: String { raw }
    }

    public var code: Code
    public var message: String
    /// The first problems (at most `maxProblems`), in request order.
    public var problems: [PointProblem]
    /// How many points had problems in all.
    public var problemCount: Int

    public static let maxProblems = 100

    public init(_ code: Code, _ message: String, problems: [PointProblem] = [], problemCount: Int? = nil) {
        self.code = code
        self.message = message
        self.problems = Array(problems.prefix(Self.maxProblems))
        self.problemCount = problemCount ?? problems.count
    }

    public var description: String { "\(code): \(message)" }
}

/// Collects problems, keeping the first `IngestError.maxProblems`.
public struct ProblemList: Sendable {
    public private(set) var problems: [PointProblem] = []
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public mutating func add(_ problem: PointProblem) {
        count += 1
        if problems.count < IngestError.maxProblems { problems.append(problem) }
    }

    public func error(_ code: IngestError.Code, _ message: String) -> IngestError {
        IngestError(code, message, problems: problems, problemCount: count)
    }
}

/// Limits every ingest format shares.
public enum IngestLimits {
    /// Bodies (after decompression) up to 10 MiB.
    public static let maxBodyBytes = 10 << 20
    /// Up to 100,000 points a request.
    public static let maxPoints = 100_000
}
