import Foundation
import OpenSSLSupport

/// The signature headers of one webhook attempt, with the channel's secret:
/// - `X-Millwright-Timestamp: <unix seconds>` and
///   `X-Millwright-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body">`;
/// - Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
///   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, so receivers
///   verify with that project's libraries unchanged (the secret is shown as
///   `whsec_<base64 key>`, the form they take).
public enum WebhookSignature {
    /// A new signing key (32 random bytes).
    public static func newKey() throws -> [UInt8] { try CryptoPrimitives.randomBytes(32) }

    /// The key as shown to the tenant, once: `whsec_<base64>`.
    public static func display(_ key: [UInt8]) -> String { "whsec_" + Data(key).base64EncodedString() }

    /// A key the tenant gave, in the `whsec_<base64>` form (24 to 64 bytes); nil otherwise.
    public static func parse(_ text: String) -> [UInt8]? {
        guard text.hasPrefix("whsec_"), let data = Data(base64Encoded: String(text.dropFirst(6))),
            (24...64).contains(data.count)
        else { return nil }
        return Array(data)
    }

    static func headers(key: [UInt8]?, eventID: String, timestamp: Int, body: [UInt8]) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            ("webhook-id", eventID), ("webhook-timestamp", String(timestamp)),
        ]
        guard let key else { return headers }
        let own = CryptoPrimitives.hmacSHA256(key: key, message: Array("\(timestamp).".utf8) + body)
        let standard = CryptoPrimitives.hmacSHA256(key: key, message: Array("\(eventID).\(timestamp).".utf8) + body)
        headers.append(("X-Millwright-Timestamp", String(timestamp)))
        headers.append(("X-Millwright-Signature", "sha256=" + own.map { String(format: "%02x", $0) }.joined()))
        headers.append(("webhook-signature", "v1," + Data(standard).base64EncodedString()))
        return headers
    }
}
