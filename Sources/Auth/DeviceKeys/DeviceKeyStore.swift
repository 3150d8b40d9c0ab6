import Foundation
import Tenancy

/// A device key as stored: only the SHA-256 of its secret is kept.
public struct StoredDeviceKey: Sendable {
    public var tenant: TenantID
    public var deviceID: String
    public var keyID: String
    public var secretHash: [UInt8]
    public var expiresAt: Date?
    public var revoked: Bool

    public init(tenant: TenantID, deviceID: String, keyID: String, secretHash: [UInt8], expiresAt: Date?, revoked: Bool) {
        self.tenant = tenant
        self.deviceID = deviceID
        self.keyID = keyID
        self.secretHash = secretHash
        self.expiresAt = expiresAt
        self.revoked = revoked
    }
}

/// Where device keys are looked up. Auth knows no database: the device registry
/// implements this.
public protocol DeviceKeyStore: Sendable {
    /// The key `keyID` of `tenant`, or nil when there is none.
    func deviceKey(tenant: TenantID, keyID: String) async throws -> StoredDeviceKey?
    /// Records that the key was used (may be coalesced).
    func keyUsed(tenant: TenantID, keyID: String) async
}
