/// An error from the database layer.
///
/// `description` is safe to show anywhere (no SQL, no values); `debugDescription`
/// carries the server's message, detail and constraint for the log.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. Extensible: new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        /// The database could not be reached or the connection broke.
        public static let unavailable = Code(raw: "unavailable")
        /// The server answered the statement with an error (see `sqlState`).
        public static let server = Code(raw: "server")
        /// A value in a result could not be decoded as the requested type.
        public static let decoding = Code(raw: "decoding")
        /// The pool was shut down.
        public static let shutDown = Code(raw: "shut_down")
        /// The server's answer did not have the expected shape.
        public static let unexpectedResult = Code(raw: "unexpected_result")
        public var description: String { raw }
    }

    public var code: Code
    /// The five-character SQLSTATE, for `.server` errors.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var constraint: String?

    public init(
        code: Code, sqlState: String? = nil, message: String, detail: String? = nil, constraint: String? = nil
    ) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraint = constraint
    }

    public var description: String { "database error (\(code))" }

    public var debugDescription: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", sqlstate \(sqlState)" }
        text += ": \(message)"
        if let detail { text += "; detail: \(detail)" }
        if let constraint { text += "; constraint: \(constraint)" }
        return text + ")"
    }

    /// 23505: a unique constraint was violated.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// 23503: a foreign key was violated.
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    /// 40001 / 40P01: the transaction may succeed if retried.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
    /// The failure is the database's absence, not the statement: class 08 (connection),
    /// 57P01-57P03 (shutting down, cannot connect now) or a broken connection.
    public var isUnavailable: Bool {
        if code == .unavailable { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(sqlState)
    }
}
