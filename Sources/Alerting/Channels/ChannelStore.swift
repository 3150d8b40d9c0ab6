import DeviceRegistry
import Foundation
import Postgres
import Tenancy

/// Notification channels and their deliveries in the database (tenant-scoped
/// transactions). The secret is written, and read only by the dispatcher.
enum ChannelStore {
    static let columns =
        "id, name, url, format, enabled, secret IS NOT NULL, disabled_reason, created_at, updated_at, version"

    static func create(
        _ fields: ChannelFields, secret: [UInt8]?, tenant: TenantID, on db: PostgresConnection
    ) throws -> NotificationChannel {
        let result = try db.query(
            """
            INSERT INTO millwright.notification_channels (tenant_id, name, type, format, url, secret, enabled)
            VALUES (\(tenant.rawValue), \(fields.name), 'webhook', \(fields.format.rawValue), \(fields.url),
                    \(secret.map(PostgresBytes.init))::bytea, \(fields.enabled))
            RETURNING \(unsafeSQL: columns)
            """)
        guard let row = result.first else { throw RegistryError(.notFound, "the channel was not created") }
        let count = try db.query("SELECT count(*) FROM millwright.notification_channels").first?.decode(0, as: Int.self)
        guard let count, count <= maxChannels else {
            throw RegistryError(.channelLimitReached, "a tenant may have \(maxChannels) notification channels")
        }
        return try channel(from: row)
    }

    /// Channels a tenant may have (a channel is an outbound endpoint each tenant admin
    /// adds; more than this is no notification plan, and each costs delivery slots).
    static let maxChannels = 100

    static func findQuery(_ id: UUID) -> PostgresQuery {
        "SELECT \(unsafeSQL: columns) FROM millwright.notification_channels WHERE id = \(id)"
    }

    static func listQuery(after cursor: UUID?, limit: Int) -> PostgresQuery {
        """
        SELECT \(unsafeSQL: columns) FROM millwright.notification_channels
        WHERE \(cursor)::uuid IS NULL OR id > \(cursor)::uuid ORDER BY id LIMIT \(limit)
        """
    }

    static func find(_ id: UUID, on db: PostgresConnection, forUpdate: Bool) throws -> NotificationChannel? {
        var query = findQuery(id)
        if forUpdate { query.sql += " FOR UPDATE" }
        return try db.query(query).first.map(channel(from:))
    }

    static func update(
        _ id: UUID, _ fields: ChannelFields, secret: [UInt8]??, on db: PostgresConnection
    ) throws -> NotificationChannel {
        let replaceSecret = secret != nil
        let newSecret = secret.flatMap { $0 }.map(PostgresBytes.init)
        let result = try db.query(
            """
            UPDATE millwright.notification_channels SET name = \(fields.name), url = \(fields.url),
                format = \(fields.format.rawValue), enabled = \(fields.enabled),
                disabled_reason = CASE WHEN \(fields.enabled) THEN NULL ELSE disabled_reason END,
                secret = CASE WHEN \(replaceSecret) THEN \(newSecret)::bytea ELSE secret END,
                updated_at = now(), version = version + 1
            WHERE id = \(id)
            RETURNING \(unsafeSQL: columns)
            """)
        guard let row = result.first else { throw RegistryError(.notFound, "no notification channel \(id)") }
        return try channel(from: row)
    }

    static func delete(_ id: UUID, on db: PostgresConnection) throws {
        // Rules stop naming it; its deliveries go with it.
        _ = try db.query(
            "UPDATE millwright.alert_rules SET channels = array_remove(channels, \(id)::uuid) WHERE \(id)::uuid = ANY(channels)")
        let result = try db.query("DELETE FROM millwright.notification_channels WHERE id = \(id)")
        guard result.affectedRows == 1 else { throw RegistryError(.notFound, "no notification channel \(id)") }
    }

    static let deliveryColumns = """
        id, channel_id, alert_id, event_id, event, status, attempts, last_status, last_error,
        CASE WHEN status = 'pending' THEN next_attempt_at END, created_at, delivered_at
        """

    static func deliveriesQuery(channel: UUID, before cursor: Int64?, limit: Int) -> PostgresQuery {
        """
        SELECT \(unsafeSQL: deliveryColumns) FROM millwright.notification_deliveries
        WHERE channel_id = \(channel) AND (\(cursor)::bigint IS NULL OR id < \(cursor)::bigint)
        ORDER BY id DESC LIMIT \(limit)
        """
    }

    /// Queues one notification on each of `channels` that is enabled: `json` or `slack`
    /// by the channel's format. Returns the deliveries made.
    static func enqueue(
        channels: [UUID], alert: Int64?, eventID: String, event: String, payload: NotificationPayload,
        horizonSeconds: Int, tenant: TenantID, on db: PostgresConnection
    ) throws -> [Delivery] {
        guard !channels.isEmpty else { return [] }
        let ids = PostgresArrayLiteral(uuids: channels)
        let result = try db.query(
            """
            INSERT INTO millwright.notification_deliveries (tenant_id, channel_id, alert_id, event_id, event, payload, expires_at)
            SELECT \(tenant.rawValue), c.id, \(alert), \(eventID), \(event),
                   CASE c.format WHEN 'slack' THEN \(payload.slack) ELSE \(payload.json) END,
                   now() + \(horizonSeconds) * interval '1 second'
            FROM millwright.notification_channels c WHERE c.id = ANY(\(ids)::uuid[]) AND c.enabled
            RETURNING \(unsafeSQL: deliveryColumns)
            """)
        return try result.rows.map(delivery(from:))
    }

    static func channel(from row: PostgresRow) throws -> NotificationChannel {
        let fields = ChannelFields(
            name: try row.decode(1), url: try row.decode(2),
            format: ChannelFields.Format(rawValue: try row.decode(3)) ?? .json, enabled: try row.decode(4))
        return NotificationChannel(
            id: try row.decode(0), fields: fields, signed: try row.decode(5), disabledReason: try row.decode(6),
            createdAt: try row.decode(7), updatedAt: try row.decode(8), version: try row.decode(9))
    }

    static func delivery(from row: PostgresRow) throws -> Delivery {
        Delivery(
            id: try row.decode(0), channelID: try row.decode(1), alertID: try row.decode(2), eventID: try row.decode(3),
            event: try row.decode(4), status: Delivery.Status(rawValue: try row.decode(5)) ?? .pending,
            attempts: try row.decode(6), lastStatus: try row.decode(7), lastError: try row.decode(8),
            nextAttemptAt: try row.decode(9), createdAt: try row.decode(10), deliveredAt: try row.decode(11))
    }
}
