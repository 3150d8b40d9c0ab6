internal import CLibPQ

/// The rows of one statement's result. Owns its `PGresult` and frees it in `deinit`.
public final class PostgresResult {
    private let handle: OpaquePointer

    /// Takes ownership of a `PGresult`; it is freed when this object goes away.
    init(takingOwnership handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQclear(handle)
    }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }

    /// Rows affected by INSERT/UPDATE/DELETE, or 0.
    public var affectedRows: Int {
        guard let text = PQcmdTuples(handle) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    public var rows: [PostgresRow] { (0..<rowCount).map { PostgresRow(result: self, index: $0) } }

    public var first: PostgresRow? { rowCount > 0 ? PostgresRow(result: self, index: 0) : nil }

    func isNull(row: Int, column: Int) -> Bool {
        PQgetisnull(handle, Int32(row), Int32(column)) == 1
    }

    func text(row: Int, column: Int) -> String {
        String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// The value's text as libpq holds it, without making a `String` of it.
    func withText<R>(row: Int, column: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
        return PQgetvalue(handle, Int32(row), Int32(column)).withMemoryRebound(to: UInt8.self, capacity: length) {
            body(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}

/// One row of a `PostgresResult`.
public struct PostgresRow {
    let result: PostgresResult
    let index: Int

    /// Decodes column `column` (0-based) as `T`; NULL is an error.
    public func decode<T: PostgresDecodable>(_ column: Int, as: T.Type = T.self) throws(PostgresError) -> T {
        guard column < result.columnCount else {
            throw PostgresError(code: .unexpectedResult, message: "no column \(column)")
        }
        guard !result.isNull(row: index, column: column) else {
            throw PostgresError(code: .decoding, message: "column \(column) is NULL")
        }
        return try T(postgresText: result.text(row: index, column: column))
    }

    /// Decodes column `column` as `T`, or nil when it is NULL.
    public func decode<T: PostgresDecodable>(_ column: Int, as: T?.Type = T?.self) throws(PostgresError) -> T? {
        guard column < result.columnCount else {
            throw PostgresError(code: .unexpectedResult, message: "no column \(column)")
        }
        if result.isNull(row: index, column: column) { return nil }
        return try T(postgresText: result.text(row: index, column: column))
    }

    /// Column `column` as bytea's bytes, or nil when it is NULL: decoded straight from
    /// libpq's buffer (large payloads skip the `String` that `decode` makes first).
    public func bytes(_ column: Int) throws(PostgresError) -> [UInt8]? {
        guard column < result.columnCount else {
            throw PostgresError(code: .unexpectedResult, message: "no column \(column)")
        }
        if result.isNull(row: index, column: column) { return nil }
        guard let bytes = result.withText(row: index, column: column, { PostgresBytes.decodeHex($0) }) else {
            throw PostgresError(code: .decoding, message: "column \(column) is not bytea")
        }
        return bytes
    }
}
