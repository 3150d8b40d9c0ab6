internal import CLibPQ

extension PostgresConnection {
    /// Runs `COPY … FROM STDIN` and streams `data` to it; returns the rows copied.
    /// `data` must already be in the format the statement names (see `PostgresBinaryCopy`).
    /// Blocking. A failure (a unique violation, say) aborts the surrounding transaction.
    @discardableResult
    public func copyIn(unsafeSQL sql: String, data: [UInt8]) throws(PostgresError) -> Int {
        guard let started = PQexec(handle, sql) else {
            throw PostgresError(code: .unavailable, message: lastErrorMessage)
        }
        let startResult = PostgresResult(takingOwnership: started)
        guard PQresultStatus(started) == PGRES_COPY_IN else {
            if PQresultStatus(started) == PGRES_FATAL_ERROR { throw serverError(started) }
            throw PostgresError(code: .unexpectedResult, message: "COPY did not start (\(startResult.rowCount))")
        }
        let chunk = 1 << 20
        var offset = 0
        var sendFailed = false
        data.withUnsafeBufferPointer { buffer in
            while offset < buffer.count, !sendFailed {
                let length = min(chunk, buffer.count - offset)
                let sent = buffer.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: length) {
                    PQputCopyData(handle, $0, Int32(length))
                }
                sendFailed = sent != 1
                offset += length
            }
        }
        let ended = sendFailed ? PQputCopyEnd(handle, "client failed to send data") : PQputCopyEnd(handle, nil)
        var copied = 0
        var failure: PostgresError?
        while let raw = PQgetResult(handle) {
            let result = PostgresResult(takingOwnership: raw)
            switch PQresultStatus(raw) {
            case PGRES_COMMAND_OK: copied = result.affectedRows
            default: if failure == nil { failure = serverError(raw) }
            }
        }
        if let failure { throw failure }
        if sendFailed || ended != 1 { throw PostgresError(code: .unavailable, message: lastErrorMessage) }
        return copied
    }
}

/// Builds the body of `COPY … FROM STDIN (FORMAT binary)`: no text formatting or
/// parsing of numbers and timestamps on either side.
///
/// Use: `var copy = PostgresBinaryCopy(); copy.beginRow(fields: 4); copy.text(…) …; copy.finish()`.
public struct PostgresBinaryCopy: Sendable {
    public private(set) var bytes: [UInt8]
    /// Microseconds from the Unix epoch to PostgreSQL's epoch (2000-01-01).
    static let postgresEpochMicros: Int64 = 946_684_800_000_000

    public init(reservingCapacity capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity + 21)
        bytes += Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]  // signature
        bytes += [0, 0, 0, 0, 0, 0, 0, 0]  // flags, header extension length
    }

    public mutating func beginRow(fields: Int16) { append(UInt16(bitPattern: fields)) }

    public mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            append(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func int8(_ value: Int64) {
        append(UInt32(8))
        append(UInt64(bitPattern: value))
    }

    public mutating func float8(_ value: Double) {
        append(UInt32(8))
        append(value.bitPattern)
    }

    public mutating func bool(_ value: Bool) {
        append(UInt32(1))
        bytes.append(value ? 1 : 0)
    }

    /// A `timestamptz` given as microseconds since the Unix epoch.
    public mutating func timestamp(unixMicros: Int64) {
        append(UInt32(8))
        append(UInt64(bitPattern: unixMicros &- Self.postgresEpochMicros))
    }

    /// Appends the trailer; the bytes are then ready for `copyIn`.
    public mutating func finish() { append(UInt16(0xFFFF)) }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
