/// A SQL statement with its parameters bound as `$1`, `$2`, ...
///
/// Values interpolated into a `PostgresQuery` literal become bound parameters; they
/// are never pasted into the SQL text. Only `\(unsafeSQL:)` pastes text, for
/// identifiers the code itself chose.
///
///     let query: PostgresQuery = "SELECT name FROM devices WHERE id = \(deviceID)"
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation {
    public var sql: String
    public var binds: [String?]

    public init(unsafeSQL sql: String, binds: [String?] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// Refuses a bound value holding NUL before anything is sent: libpq takes C strings,
    /// so the value would silently end at the NUL (`d1\0evil` would be `d1`).
    /// PostgreSQL's text cannot hold NUL either; the error is its own for that, 22021.
    func checkBinds() throws(PostgresError) {
        for (index, bind) in binds.enumerated() where bind?.utf8.contains(0) == true {
            throw PostgresError(
                code: .server, sqlState: "22021", message: "parameter $\(index + 1) contains NUL (0x00), which text cannot hold")
        }
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value as the next parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        /// Binds an optional value; `nil` is SQL NULL.
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }

        /// Pastes SQL text as is. Only for text the code chose, never for input.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            sql += text
        }
    }
}

extension PostgresQuery {
    /// The statement with `values` bound after its interpolated ones, as `$n` (n counting
    /// on from them), for a value the statement refers to more than once.
    public func binding(_ values: (any PostgresEncodable)?...) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: binds + values.map { $0?.postgresText })
    }
}
