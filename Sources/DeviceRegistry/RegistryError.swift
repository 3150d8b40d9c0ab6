/// A registry operation that cannot be done as asked. The API maps each code to an
/// HTTP status (404, 409, 412, 422).
public struct RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let raw: String
        public static let notFound = Code(raw: "not_found")
        public static let alreadyExists = Code(raw: "already_exists")
        public static let deviceLimitReached = Code(raw: "device_limit_reached")
        public static let preconditionFailed = Code(raw: "precondition_failed")
        public static let tenantSuspended = Code(raw: "tenant_suspended")
        public static let alertRuleLimitReached = Code(raw: "alert_rule_limit_reached")
        public static let channelDisabled = Code(raw: "channel_disabled")
        public static let channelLimitReached = Code(raw: "channel_limit_reached")
        public var description: String { raw }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
