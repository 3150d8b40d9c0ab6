import Foundation
import InputParsing
import OpenSSLSupport
import Tenancy

/// The bearer value a device sends: `mwk.<tenant>.<key id>.<secret>`.
///
/// The tenant and key id are public (they say where to look); the secret is 32 random
/// bytes in base64url, stored only as its SHA-256. A fast hash suffices because the
/// secret has 256 bits of entropy: nothing can be guessed from its hash.
public struct DeviceKeyCredential: Sendable, Equatable {
    public static let prefix = "mwk."

    public var tenant: String
    public var keyID: String
    public var secret: String

    /// A new credential with a random key id and secret.
    public static func generate(tenant: String) throws -> DeviceKeyCredential {
        let keyID = try CryptoPrimitives.randomBytes(9).map { String(format: "%02x", $0) }.joined()
        let secret = Base64URL.encode(try CryptoPrimitives.randomBytes(32))
        return DeviceKeyCredential(tenant: tenant, keyID: keyID, secret: secret)
    }

    /// Parses the bearer value, or nil when it is not a device key.
    public init?(bearer: String) {
        guard let parts = AuthorizationHeader.deviceKey(bearer) else { return nil }
        self.init(tenant: parts.tenant, keyID: parts.keyID, secret: parts.secret)
    }

    public init(tenant: String, keyID: String, secret: String) {
        self.tenant = tenant
        self.keyID = keyID
        self.secret = secret
    }

    public var bearerValue: String { "\(Self.prefix)\(tenant).\(keyID).\(secret)" }

    /// What is stored in place of the secret.
    public var secretHash: [UInt8] { CryptoPrimitives.sha256(Array(secret.utf8)) }
}

/// Checks device keys against the store.
///
/// Refusals are cheap: a key whose tenant or id cannot exist is refused without a
/// lookup; a key found missing is remembered for a minute
/// (`DeviceKeyRefusals`, bounded); and lookups run at most two at a time
/// (`KeyLookupLimiter`), so that a flood of guessed keys waits on itself, not on the
/// database connections other tenants' requests need.
public struct DeviceKeyAuthenticator: Sendable {
    let store: any DeviceKeyStore
    let refusals: DeviceKeyRefusals
    let lookups: KeyLookupLimiter

    public init(store: any DeviceKeyStore, concurrentLookups: Int = 2) {
        self.store = store
        self.refusals = DeviceKeyRefusals()
        self.lookups = KeyLookupLimiter(limit: concurrentLookups)
    }

    public func authenticate(_ credential: DeviceKeyCredential, now: Date = Date()) async throws(AuthError) -> DevicePrincipal {
        let unknown = AuthError.invalid("unknown_device_key", "the device key is not valid")
        guard let tenant = TenantID(credential.tenant), Identifier.isValid(credential.keyID, as: .key) else {
            throw unknown
        }
        if let refusal = refusals.refusal(tenant: credential.tenant, keyID: credential.keyID) { throw refusal }
        let stored: StoredDeviceKey?
        do {
            stored = try await lookups.run { try await store.deviceKey(tenant: tenant, keyID: credential.keyID) }
        } catch let error as AuthError {
            throw error
        } catch {
            throw AuthError(
                kind: .unavailable, reason: "key_store_unavailable", message: "device keys cannot be checked right now")
        }
        // The hash is compared even for an unknown key so that timing tells nothing.
        let expected = stored?.secretHash ?? [UInt8](repeating: 0, count: 32)
        let matches = CryptoPrimitives.constantTimeEquals(credential.secretHash, expected)
        guard let stored else {
            refusals.remember(unknown, tenant: credential.tenant, keyID: credential.keyID)
            throw unknown
        }
        // Only keys that do not exist are remembered: a wrong secret for a key that
        // exists must not lock out the right one, and remembering "revoked" would tell
        // it to callers without the secret.
        guard matches else { throw unknown }
        guard !stored.revoked else { throw .invalid("revoked_device_key", "the device key has been revoked") }
        if let expiresAt = stored.expiresAt, expiresAt <= now {
            throw .invalid("expired_device_key", "the device key has expired")
        }
        await store.keyUsed(tenant: stored.tenant, keyID: stored.keyID)
        return DevicePrincipal(tenant: stored.tenant, deviceID: stored.deviceID, keyID: stored.keyID)
    }
}
