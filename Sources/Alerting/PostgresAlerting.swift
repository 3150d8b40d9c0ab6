import Auth
import DeviceRegistry
import Foundation
import Postgres
import Tenancy

/// Alerting on PostgreSQL: rules, channels and alert history, each use case in one
/// transaction scoped by row-level security, with the tenant's status checked in the
/// same round trip as the registry does.
///
/// Start: `PostgresAlerting(database:settings:)`; it holds no resources of its own.
public struct PostgresAlerting: AlertRuleDirectory, ChannelDirectory, AlertHistory {
    let database: TenantDatabase
    let settings: AlertSettings

    public init(database: TenantDatabase, settings: AlertSettings) {
        self.database = database
        self.settings = settings
    }

    // MARK: Rules

    public func createRule(_ fields: RuleFields, in context: TenantContext) async throws -> AlertRule {
        let tenant = context.tenant
        return try await database.withActiveTenant(context) { db in try RuleStore.create(fields, tenant: tenant, on: db) }
    }

    public func rules(after cursor: UUID?, limit: Int, in context: TenantContext) async throws -> [AlertRule] {
        try await database.readActiveTenant(context, [RuleStore.listQuery(after: cursor, limit: limit)]) { results in
            try results[0].rows.map(RuleStore.rule(from:))
        }
    }

    public func rule(_ id: UUID, in context: TenantContext) async throws -> AlertRule {
        try await database.readActiveTenant(context, [RuleStore.findQuery(id)]) { results in
            guard let row = results[0].first else { throw RegistryError(.notFound, "no alert rule \(id)") }
            return try RuleStore.rule(from: row)
        }
    }

    public func updateRule(
        _ id: UUID, in context: TenantContext, _ change: @escaping @Sendable (AlertRule) throws -> RuleFields
    ) async throws -> AlertRule {
        try await database.withActiveTenant(context) { db in
            guard let current = try RuleStore.find(id, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no alert rule \(id)")
            }
            return try RuleStore.update(id, from: current, to: try change(current), on: db)
        }
    }

    public func deleteRule(_ id: UUID, in context: TenantContext) async throws {
        try await database.withActiveTenant(context) { db in try RuleStore.delete(id, on: db) }
    }

    // MARK: Channels

    public func createChannel(
        _ fields: ChannelFields, secret: [UInt8]?, in context: TenantContext
    ) async throws
        -> NotificationChannel
    {
        let tenant = context.tenant
        return try await database.withActiveTenant(context) { db in
            try ChannelStore.create(fields, secret: secret, tenant: tenant, on: db)
        }
    }

    public func channels(
        after cursor: UUID?, limit: Int, in context: TenantContext
    ) async throws
        -> [NotificationChannel]
    {
        try await database.readActiveTenant(context, [ChannelStore.listQuery(after: cursor, limit: limit)]) { results in
            try results[0].rows.map(ChannelStore.channel(from:))
        }
    }

    public func channel(_ id: UUID, in context: TenantContext) async throws -> NotificationChannel {
        try await database.readActiveTenant(context, [ChannelStore.findQuery(id)]) { results in
            guard let row = results[0].first else { throw RegistryError(.notFound, "no notification channel \(id)") }
            return try ChannelStore.channel(from: row)
        }
    }

    public func updateChannel(
        _ id: UUID, secret: [UInt8]??, in context: TenantContext,
        _ change: @escaping @Sendable (NotificationChannel) throws -> ChannelFields
    ) async throws -> NotificationChannel {
        try await database.withActiveTenant(context) { db in
            guard let current = try ChannelStore.find(id, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no notification channel \(id)")
            }
            return try ChannelStore.update(id, try change(current), secret: secret, on: db)
        }
    }

    public func deleteChannel(_ id: UUID, in context: TenantContext) async throws {
        try await database.withActiveTenant(context) { db in try ChannelStore.delete(id, on: db) }
    }

    public func deliveries(
        channel: UUID, before cursor: Int64?, limit: Int, in context: TenantContext
    ) async throws
        -> [Delivery]
    {
        let queries = [
            ChannelStore.findQuery(channel), ChannelStore.deliveriesQuery(channel: channel, before: cursor, limit: limit),
        ]
        return try await database.readActiveTenant(context, queries) { results in
            guard results[0].first != nil else { throw RegistryError(.notFound, "no notification channel \(channel)") }
            return try results[1].rows.map(ChannelStore.delivery(from:))
        }
    }

    public func sendTest(channel: UUID, in context: TenantContext) async throws -> Delivery {
        let tenant = context.tenant
        let settings = self.settings
        return try await database.withActiveTenant(context) { db in
            guard let found = try ChannelStore.find(channel, on: db, forUpdate: false) else {
                throw RegistryError(.notFound, "no notification channel \(channel)")
            }
            guard found.fields.enabled else {
                throw RegistryError(.channelDisabled, "the channel is disabled; enable it to send a test")
            }
            // A new test replaces one still pending: tests never pile up deliveries, and a
            // receiver fixed after a failed test is tested at once.
            _ = try db.query(
                """
                UPDATE millwright.notification_deliveries SET status = 'failed', last_error = 'replaced by a newer test'
                WHERE channel_id = \(channel) AND event = 'test' AND status = 'pending'
                """)
            let eventID = "test-" + UUID().uuidString.lowercased()
            let payload = NotificationPayload(
                event: "test", eventID: eventID, tenant: tenant.rawValue, alertID: nil, ruleID: nil,
                ruleName: "Test notification", condition: "test", severity: "info", state: "test", device: "", sensor: "",
                value: nil, time: Date(), startedAt: nil, link: nil)
            let made = try ChannelStore.enqueue(
                channels: [channel], alert: nil, eventID: eventID, event: "test", payload: payload,
                horizonSeconds: settings.retryHorizonSeconds, tenant: tenant, on: db)
            guard let delivery = made.first else { throw RegistryError(.notFound, "no notification channel \(channel)") }
            return delivery
        }
    }

    // MARK: Alerts

    public func alerts(
        _ filter: AlertFilter, before cursor: Int64?, limit: Int, in context: TenantContext
    ) async throws
        -> [Alert]
    {
        try await database.readActiveTenant(context, [AlertStore.listQuery(filter, before: cursor, limit: limit)]) {
            results in try results[0].rows.map(AlertStore.alert(from:))
        }
    }

    public func alert(_ id: Int64, in context: TenantContext) async throws -> Alert {
        try await database.readActiveTenant(context, [AlertStore.findQuery(id), AlertStore.transitionsQuery(id)]) {
            results in
            guard let row = results[0].first else { throw RegistryError(.notFound, "no alert \(id)") }
            var alert = try AlertStore.alert(from: row)
            alert.transitions = try results[1].rows.map(AlertStore.transition(from:))
            return alert
        }
    }

    public func acknowledge(_ id: Int64, in context: TenantContext) async throws -> Alert {
        let who = context.principal.subject
        return try await database.withActiveTenant(context) { db in
            guard let row = try db.query(AlertStore.acknowledgeQuery(id, by: who)).first else {
                throw RegistryError(.notFound, "no alert \(id)")
            }
            var alert = try AlertStore.alert(from: row)
            alert.transitions = try db.query(AlertStore.transitionsQuery(id)).rows.map(AlertStore.transition(from:))
            return alert
        }
    }

    public func anomalies(
        device: String, sensor: String, from: Date, to: Date, windowSeconds: Int, threshold: Double, minSamples: Int,
        limit: Int, in context: TenantContext
    ) async throws -> [AnomalyScore] {
        let queries = [
            AlertStore.sensorQuery(device: device, sensor: sensor),
            AlertStore.anomaliesQuery(
                device: device, sensor: sensor, from: from, to: to, windowSeconds: windowSeconds, limit: limit),
        ]
        let condition = Condition.anomaly(windowSeconds: windowSeconds, threshold: threshold, minSamples: minSamples)
        return try await database.readActiveTenant(context, queries) { results in
            guard let kind = try results[0].first?.decode(0, as: String.self) else {
                throw RegistryError(.notFound, "no sensor \(sensor) on device \(device)")
            }
            guard kind == "number" || kind == "integer" else {
                throw RuleRefused(
                    pointer: "sensor", code: "invalid_sensor_kind", message: "z-scores need a number or integer sensor")
            }
            return try results[1].rows.map { row in
                let value: Double = try row.decode(1)
                let samples: Int = try row.decode(2)
                let mean: Double? = try row.decode(3)
                let deviation: Double? = try row.decode(4)
                var z: Double?
                if samples >= minSamples, let mean, let deviation, deviation > 0 { z = (value - mean) / deviation }
                return AnomalyScore(
                    time: try row.decode(0), value: value, samples: samples, mean: mean, deviation: deviation, z: z,
                    anomalous: condition.holds(value: value, samples: samples, mean: mean, deviation: deviation))
            }
        }
    }
}

/// How alerting behaves, from the service's configuration.
public struct AlertSettings: Sendable {
    /// How long a notification is retried before it is given up. Default 24 h.
    public var retryHorizonSeconds: Int
    /// The service's public base URL, for links in notifications (nil: links are paths).
    public var publicURL: String?

    public init(retryHorizonSeconds: Int = 86_400, publicURL: String? = nil) {
        self.retryHorizonSeconds = retryHorizonSeconds
        self.publicURL = publicURL
    }

    func link(tenant: String, alert: Int64) -> String {
        (publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "") + "/api/v1/tenants/\(tenant)/alerts/\(alert)"
    }
}
