import Foundation

/// The writable fields of a notification channel.
public struct ChannelFields: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        /// Millwright's own JSON event.
        case json
        /// A Slack-compatible incoming webhook message (`text` and `blocks`).
        case slack
    }

    public var name: String
    public var url: String
    public var format: Format
    public var enabled: Bool

    public init(name: String, url: String, format: Format = .json, enabled: Bool = true) {
        self.name = name
        self.url = url
        self.format = format
        self.enabled = enabled
    }
}

/// A webhook that alert events are posted to.
public struct NotificationChannel: Sendable, Equatable {
    public var id: UUID
    public var fields: ChannelFields
    /// Whether deliveries are signed (the secret itself is never read back).
    public var signed: Bool
    /// Why the service disabled the channel (a receiver answering 410 Gone), if it did.
    public var disabledReason: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(
        id: UUID, fields: ChannelFields, signed: Bool, disabledReason: String?, createdAt: Date, updatedAt: Date,
        version: Int64
    ) {
        self.id = id
        self.fields = fields
        self.signed = signed
        self.disabledReason = disabledReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

/// One notification to one channel and its attempts so far.
public struct Delivery: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Not yet accepted by the receiver; retried at `nextAttemptAt`.
        case pending
        case delivered
        /// Given up: refused for good (4xx other than 408/429, 410 disables the channel),
        /// or still failing when the retry horizon passed.
        case failed
    }

    public var id: Int64
    public var channelID: UUID
    public var alertID: Int64?
    public var eventID: String
    public var event: String
    public var status: Status
    public var attempts: Int
    public var lastStatus: Int?
    public var lastError: String?
    public var nextAttemptAt: Date?
    public var createdAt: Date
    public var deliveredAt: Date?

    public init(
        id: Int64, channelID: UUID, alertID: Int64?, eventID: String, event: String, status: Status, attempts: Int,
        lastStatus: Int?, lastError: String?, nextAttemptAt: Date?, createdAt: Date, deliveredAt: Date?
    ) {
        self.id = id
        self.channelID = channelID
        self.alertID = alertID
        self.eventID = eventID
        self.event = event
        self.status = status
        self.attempts = attempts
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}
