import Auth
import Foundation

// Alerting's use cases, as the API calls them. Every operation takes the
// `TenantContext` the router decided and checks the tenant's status as the registry
// does. `PostgresAlerting` implements all of them.

/// A tenant's alert rules.
public protocol AlertRuleDirectory: Sendable {
    /// Creates the rule within the tenant's `alert_rule_limit`. Throws `RuleRefused`
    /// for a target, sensor or channel the tenant does not have or that cannot work.
    func createRule(_ fields: RuleFields, in context: TenantContext) async throws -> AlertRule
    /// Rules in id order after `cursor`, at most `limit`.
    func rules(after cursor: UUID?, limit: Int, in context: TenantContext) async throws -> [AlertRule]
    func rule(_ id: UUID, in context: TenantContext) async throws -> AlertRule
    /// Changes the rule to what `change` makes of it, with its row locked meanwhile.
    /// A rule disabled or retargeted resolves its firing alerts and starts its series over.
    func updateRule(
        _ id: UUID, in context: TenantContext, _ change: @escaping @Sendable (AlertRule) throws -> RuleFields
    ) async throws -> AlertRule
    /// Deletes the rule; its firing alerts are resolved (reason `rule_deleted`).
    func deleteRule(_ id: UUID, in context: TenantContext) async throws
}

/// A tenant's notification channels and what was sent to them.
public protocol ChannelDirectory: Sendable {
    /// `secret`: the key deliveries are signed with (nil: unsigned).
    func createChannel(
        _ fields: ChannelFields, secret: [UInt8]?, in context: TenantContext
    ) async throws
        -> NotificationChannel
    func channels(after cursor: UUID?, limit: Int, in context: TenantContext) async throws -> [NotificationChannel]
    func channel(_ id: UUID, in context: TenantContext) async throws -> NotificationChannel
    /// Changes the channel; enabling it again clears the reason it was disabled for.
    /// `secret` replaces the signing key when given (`.some(nil)` removes it).
    func updateChannel(
        _ id: UUID, secret: [UInt8]??, in context: TenantContext,
        _ change: @escaping @Sendable (NotificationChannel) throws -> ChannelFields
    ) async throws -> NotificationChannel
    func deleteChannel(_ id: UUID, in context: TenantContext) async throws
    /// The channel's deliveries, newest first, before `cursor` (a delivery id).
    func deliveries(
        channel: UUID, before cursor: Int64?, limit: Int, in context: TenantContext
    ) async throws
        -> [Delivery]
    /// Queues a test event for the channel and returns its delivery.
    func sendTest(channel: UUID, in context: TenantContext) async throws -> Delivery
}

/// Alerts raised, and z-scores over stored points.
public protocol AlertHistory: Sendable {
    /// Alerts newest first, before `cursor` (an alert id).
    func alerts(
        _ filter: AlertFilter, before cursor: Int64?, limit: Int, in context: TenantContext
    ) async throws
        -> [Alert]
    /// The alert with its transitions.
    func alert(_ id: Int64, in context: TenantContext) async throws -> Alert
    /// Records who acknowledged the alert and when; later calls change nothing.
    func acknowledge(_ id: Int64, in context: TenantContext) async throws -> Alert
    /// Each point of the sensor in [`from`, `to`) (at most `limit`, oldest first) with
    /// its z-score against the `windowSeconds` before it, computed in the database.
    func anomalies(
        device: String, sensor: String, from: Date, to: Date, windowSeconds: Int, threshold: Double, minSamples: Int,
        limit: Int, in context: TenantContext
    ) async throws -> [AnomalyScore]
}
