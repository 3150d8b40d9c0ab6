import Foundation
import Postgres
import Tenancy

/// One row of the live-stream log (migration 0013): what one transaction committed
/// for one tenant, points or an alert transition. Ids follow commit order.
public struct StreamEvent: Sendable {
    public enum Kind: String, Sendable {
        case points
        case alert
    }

    public var id: Int64
    public var tenant: TenantID
    public var kind: Kind
    /// Packed points (`StreamedPoints`) or the alert transition's JSON; nil when the
    /// follower did not ask for it (no subscriber of the tenant on this replica).
    public var payload: [UInt8]?
}

/// The log's SQL: following it across tenants, replaying one tenant's part, the
/// horizon, and purging.
enum StreamLog {
    /// The newest id written, or 0.
    static func newestID(on connection: PostgresConnection) throws -> Int64 {
        let results = try connection.pipeline([
            "BEGIN READ ONLY", "SELECT set_config('millwright.streams', 'on', true)",
            "SELECT coalesce(max(id), 0) FROM millwright.stream_events", "COMMIT",
        ])
        return try results[2].first?.decode(0, as: Int64.self) ?? 0
    }

    /// Payload bytes one read takes at most (always at least one row): a row holds
    /// every point of one write, up to a whole 10 MiB request's strings.
    static let maxReadBytes: Int64 = 8 << 20

    /// Rows after `cursor` across tenants, oldest first, at most `limit` and about
    /// `maxReadBytes` of payload; payloads only for `tenants`. Runs as the follower
    /// (`millwright.streams`).
    static func follow(
        after cursor: Int64, payloadsOf tenants: Set<TenantID>, limit: Int, on connection: PostgresConnection
    ) throws -> [StreamEvent] {
        let wanted = PostgresTextArray(tenants.map(\.rawValue).sorted())
        let results = try connection.pipeline([
            "BEGIN READ ONLY", "SELECT set_config('millwright.streams', 'on', true)",
            capped(
                """
                SELECT id, tenant_id, kind, CASE WHEN tenant_id = ANY(\(wanted)::text[]) THEN payload END AS payload
                FROM millwright.stream_events WHERE id > \(cursor) ORDER BY id LIMIT \(Int64(limit))
                """),
            "COMMIT",
        ])
        return try events(results[2])
    }

    /// `tenant`'s rows in (`after`, `through`], oldest first, at most `limit` and about
    /// `maxReadBytes` of payload.
    static func replay(
        _ tenant: TenantID, after: Int64, through: Int64, limit: Int, on connection: PostgresConnection
    ) throws -> [StreamEvent] {
        let results = try connection.pipeline([
            "BEGIN READ ONLY", TenantDatabase.scope(tenant),
            capped(
                """
                SELECT id, tenant_id, kind, payload FROM millwright.stream_events
                WHERE tenant_id = \(tenant.rawValue) AND id > \(after) AND id <= \(through)
                ORDER BY id LIMIT \(Int64(limit))
                """),
            "COMMIT",
        ])
        return try events(results[2])
    }

    /// `rows` (id, tenant_id, kind, payload, oldest first) up to the row whose payloads
    /// before it reach `maxReadBytes`: the first row is always kept, however large.
    private static func capped(_ rows: PostgresQuery) -> PostgresQuery {
        PostgresQuery(
            unsafeSQL: """
                SELECT id, tenant_id, kind, payload FROM (
                    SELECT id, tenant_id, kind, payload,
                           sum(coalesce(length(payload), 0)) OVER (ORDER BY id) - coalesce(length(payload), 0) AS before
                    FROM (\(rows.sql)) newest
                ) sized
                WHERE before < \(maxReadBytes) ORDER BY id
                """,
            binds: rows.binds)
    }

    /// Where a replay of `tenant` from `after` up to `through` starts so that it holds
    /// nothing purged and at most `maxEvents` of the tenant's rows (the newest): the id
    /// after which it starts, and why it skips anything (`horizon`, `replay_limit`).
    static func replayStart(
        _ tenant: TenantID, after: Int64, through: Int64, maxEvents: Int, on connection: PostgresConnection
    ) throws -> (start: Int64, gap: String?) {
        let results = try connection.pipeline([
            "BEGIN READ ONLY", TenantDatabase.scope(tenant),
            "SELECT purged_through FROM millwright.stream_horizon",
            """
            SELECT id FROM millwright.stream_events
            WHERE tenant_id = \(tenant.rawValue) AND id > \(after) AND id <= \(through)
            ORDER BY id DESC OFFSET \(Int64(maxEvents)) LIMIT 1
            """,
            "COMMIT",
        ])
        var start = after
        var gap: String?
        if let purged = try results[2].first?.decode(0, as: Int64.self), purged > after {
            start = purged
            gap = "horizon"
        }
        if let newestSkipped = try results[3].first?.decode(0, as: Int64.self), newestSkipped > start {
            start = newestSkipped
            gap = "replay_limit"
        }
        return (start, gap)
    }

    /// Deletes rows older than `keep`, and expired tickets.
    static func purge(keeping keep: Duration, on connection: PostgresConnection) throws {
        try connection.query("SELECT millwright.purge_stream_events(make_interval(secs => \(Double(keep.components.seconds))))")
    }

    private static func events(_ result: PostgresResult) throws -> [StreamEvent] {
        try result.rows.compactMap { row in
            guard let tenant = TenantID(try row.decode(1, as: String.self)),
                let kind = StreamEvent.Kind(rawValue: try row.decode(2, as: String.self))
            else { return nil }
            return StreamEvent(
                id: try row.decode(0), tenant: tenant, kind: kind, payload: try row.bytes(3))
        }
    }
}
