import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import MetricRouter
import OpenSSLSupport

/// Parsing and checking the query API's parameters; each bad one is a 400 naming it.
enum QueryParameters {
    static func invalid(_ name: String, _ message: String) -> Problem {
        Problem.badRequest(
            "invalid_parameter", "\(name) \(message)", errors: [.init(pointer: name, code: "invalid_value", message: message)])
    }

    /// `from` and `to` (RFC 3339); default the last hour; `from` before `to`.
    static func range(_ query: Parameters) throws(Problem) -> (Int64, Int64) {
        func time(_ name: String) throws(Problem) -> Int64? {
            guard let raw = query[Substring(name)] else { return nil }
            guard let micros = RFC3339.parseMicroseconds(String(raw)) else {
                throw invalid(name, "must be an RFC 3339 time, like 2026-11-22T10:00:00Z")
            }
            return micros
        }
        let now = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        let to = try time("to") ?? now
        let from = try time("from") ?? (to - 3_600_000_000)
        guard from < to else { throw invalid("from", "must be before to") }
        return (from, to)
    }

    static func integer(
        _ query: Parameters, _ name: String, default value: Int, in range: ClosedRange<Int>
    ) throws(Problem) -> Int {
        guard let raw = query[Substring(name)] else { return value }
        guard let parsed = Int(String(raw)), range.contains(parsed) else {
            throw invalid(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return parsed
    }

    /// `order=asc|desc`; true for descending.
    static func order(_ query: Parameters) throws(Problem) -> Bool {
        switch query["order"].map(String.init) {
        case nil, "asc": false
        case "desc": true
        default: throw invalid("order", "must be asc or desc")
        }
    }

    /// The time after which the next page starts.
    static func cursor(_ query: Parameters) throws(Problem) -> Int64? {
        guard let raw = query["cursor"], !raw.isEmpty else { return nil }
        guard let micros = Cursor.decodeTime(raw) else { throw invalid("cursor", "is not one this service issued") }
        return micros
    }

    static func cursor(after time: Int64) -> String { Cursor.encode("t", String(time)) }

    /// `interval` like `30s`, `1m`, `15m`, `1h`, `1d`, `7d` (default `1m`): its text and seconds.
    static func interval(_ query: Parameters) throws(Problem) -> (String, Int64) {
        let text = query["interval"].map(String.init) ?? "1m"
        guard let seconds = Interval.seconds(text) else {
            throw invalid("interval", "must be a whole number of s, m, h or d, like 1m or 1d (at least 1s, at most 3650d)")
        }
        return (text, seconds)
    }

    /// `functions` (comma-separated), nil when absent (then defaults by kind).
    static func functions(_ query: Parameters) throws(Problem) -> [PointQueries.AggregateFunction]? {
        guard let raw = query["functions"] else { return nil }
        var functions: [PointQueries.AggregateFunction] = []
        for name in raw.split(separator: ",", omittingEmptySubsequences: false) {
            guard let function = PointQueries.AggregateFunction(rawValue: String(name).trimmingCharacters(in: .whitespaces))
            else {
                throw invalid("functions", "must be a comma-separated list of avg, min, max, sum, count, first, last")
            }
            if !functions.contains(function) { functions.append(function) }
        }
        return functions
    }

    /// A time zone PostgreSQL knows (`Europe/Berlin`), or nil for the device's.
    static func timezone(_ query: Parameters, _ timeZones: TimeZoneNames) throws(Problem) -> String? {
        guard let raw = query["timezone"] else { return nil }
        let name = String(raw)
        if let refusal = timeZones.refusal(name) { throw invalid("timezone", refusal) }
        return name
    }
}
