import Postgres

/// The time zone names PostgreSQL knows (`pg_timezone_names`: canonical and link names,
/// `Asia/Kolkata` and `Asia/Calcutta` alike), read once at start. PostgreSQL computes
/// the local-time buckets, so its list, not Foundation's (ICU's), decides which names
/// devices and queries may use.
///
/// Start: `try TimeZoneNames.load(connection)`; nothing to shut down.
public struct TimeZoneNames: Sendable {
    let names: Set<String>

    public init(_ names: some Sequence<String>) {
        self.names = Set(names)
    }

    /// Reads the list from the server.
    public static func load(_ connection: PostgresConnection) throws(PostgresError) -> TimeZoneNames {
        let result = try connection.query("SELECT name FROM pg_timezone_names")
        var names: [String] = []
        for row in result.rows { names.append(try row.decode(0, as: String.self)) }
        return TimeZoneNames(names)
    }

    /// Why a name is refused, for the client; nil when it is accepted.
    public func refusal(_ name: String) -> String? {
        if names.contains(name) { return nil }
        if Self.isPOSIXOffset(name) {
            return "\(name) is a POSIX offset, which PostgreSQL reads with the sign reversed (GMT+5 is UTC−5); "
                + "name the place's zone instead, like Asia/Karachi or America/New_York"
        }
        return "must be a time zone PostgreSQL knows (pg_timezone_names), such as Europe/Berlin, Asia/Kolkata or UTC"
    }

    /// Letters, then a sign and a digit (`GMT+5`, `UTC-03:00`, `EST+5`).
    static func isPOSIXOffset(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        var i = 0
        while i < bytes.count, (bytes[i] | 0x20) >= UInt8(ascii: "a"), (bytes[i] | 0x20) <= UInt8(ascii: "z") { i += 1 }
        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") else { return false }
        return bytes[i + 1] >= UInt8(ascii: "0") && bytes[i + 1] <= UInt8(ascii: "9")
    }
}
