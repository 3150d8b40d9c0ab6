internal import CLibPQ
import Foundation

/// One libpq connection. Every method blocks the calling thread on the network, so
/// a connection is only ever used from a `PostgresPool` lease, which runs it on the
/// pool's own threads, never on Swift's cooperative pool.
///
/// Start: `PostgresPool.withConnection`; shut down: the pool closes it (`PQfinish` in
/// `deinit`).
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked: a PGconn is not thread-safe; the pool lends each connection to one
    // holder at a time, so it is never used by two threads at once.
    let handle: OpaquePointer
    /// Statements prepared on this connection, by SQL text: each is parsed and planned
    /// once per connection instead of on every call.
    private var preparedNames: [String: String] = [:]
    static let maxPreparedStatements = 512

    private init(takingOwnership handle: OpaquePointer) {
        self.handle = handle
    }

    /// False once `close()` ran.
    private var isOpen = true

    deinit {
        if isOpen { PQfinish(handle) }
    }

    /// Ends the session (`PQfinish` writes to the socket: call it on a pool thread).
    /// The connection cannot be used afterwards.
    func close() {
        guard isOpen else { return }
        isOpen = false
        PQfinish(handle)
    }

    /// Connects with a libpq connection string or URI. Blocking.
    ///
    /// The session is put into UTC with ISO dates so that timestamps read back as
    /// RFC 3339 text.
    static func connect(_ conninfo: String, applicationName: String) throws(PostgresError) -> PostgresConnection {
        let keys = ["dbname", "application_name", "options", "connect_timeout"]
        let values = [conninfo, applicationName, "-c TimeZone=UTC -c DateStyle=ISO,YMD -c client_encoding=UTF8", "5"]
        let raw: OpaquePointer? = withCStrings(keys) { keyPointers in
            withCStrings(values) { valuePointers in
                // expand_dbname=1: "dbname" may hold a whole connection string or URI.
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let raw else {
            throw PostgresError(code: .unavailable, message: "out of memory creating a connection")
        }
        let connection = PostgresConnection(takingOwnership: raw)
        guard PQstatus(raw) == CONNECTION_OK else {
            throw PostgresError(code: .unavailable, message: connection.lastErrorMessage)
        }
        // NOTICEs ("relation already exists, skipping") would go to stderr: drop them.
        _ = PQsetNoticeProcessor(raw, { _, _ in }, nil)
        return connection
    }

    /// Whether the connection is still usable.
    public var isHealthy: Bool {
        isOpen && PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// Whether the server has closed this idle connection since it was last used (a
    /// restart, a terminated backend, a proxy gone). An idle connection is sent nothing
    /// (a session that LISTENs stops before it goes back: `stopListening`), so anything readable on its socket is the server's
    /// goodbye: a FATAL notice, the end of the stream. One `poll` that does not wait.
    /// A partition that sends nothing is not found this way.
    public var serverHasGoneAway: Bool {
        guard isOpen, PQstatus(handle) == CONNECTION_OK else { return true }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// The name of the role this session runs as.
    public var user: String { String(cString: PQuser(handle)) }

    var lastErrorMessage: String {
        guard let text = PQerrorMessage(handle) else { return "unknown error" }
        return String(cString: text).trimmingTrailingWhitespace()
    }

    /// Runs one statement with bound parameters (extended protocol, text format).
    @discardableResult
    public func query(_ query: PostgresQuery) throws(PostgresError) -> PostgresResult {
        try query.checkBinds()
        let count = Int32(query.binds.count)
        let name = try preparedName(for: query)
        let raw: OpaquePointer? = withOptionalCStrings(query.binds) { values in
            if let name { return PQexecPrepared(handle, name, count, values, nil, nil, 0) }
            return PQexecParams(handle, query.sql, count, nil, values, nil, nil, 0)
        }
        return try check(raw)
    }

    /// The name of `query`'s prepared statement, preparing it on first use; nil once
    /// this connection holds as many as it keeps (then the statement runs unprepared).
    func preparedName(for query: PostgresQuery) throws(PostgresError) -> String? {
        if let name = preparedNames[query.sql] { return name }
        guard preparedNames.count < Self.maxPreparedStatements else { return nil }
        let name = "mw\(preparedNames.count)"
        _ = try check(PQprepare(handle, name, query.sql, Int32(query.binds.count), nil))
        preparedNames[query.sql] = name
        return name
    }

    /// Runs one or more statements without parameters (simple protocol), e.g. a
    /// migration file.
    @discardableResult
    public func execute(unsafeSQL sql: String) throws(PostgresError) -> PostgresResult {
        try check(PQexec(handle, sql))
    }

    private func check(_ raw: OpaquePointer?) throws(PostgresError) -> PostgresResult {
        guard let raw else {
            throw PostgresError(code: .unavailable, message: lastErrorMessage)
        }
        let result = PostgresResult(takingOwnership: raw)
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        default:
            throw serverError(raw)
        }
    }

    func serverError(_ raw: OpaquePointer) -> PostgresError {
        func field(_ code: Unicode.Scalar) -> String? {
            guard let text = PQresultErrorField(raw, Int32(UInt8(ascii: code))) else { return nil }
            return String(cString: text)
        }
        let message = field("M") ?? lastErrorMessage
        guard PQstatus(handle) == CONNECTION_OK, let sqlState = field("C") else {
            return PostgresError(code: .unavailable, sqlState: field("C"), message: message)
        }
        return PostgresError(
            code: .server, sqlState: sqlState, message: message, detail: field("D"), constraint: field("n"))
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = self
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}

/// Lends a NULL-terminated array of C strings for the duration of `body`.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    withOptionalCStrings(strings.map { Optional($0) }) { pointers in
        body(pointers + [nil])
    }
}

/// Lends C strings (nil stays a NULL pointer) for the duration of `body`.
func withOptionalCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) })
}
