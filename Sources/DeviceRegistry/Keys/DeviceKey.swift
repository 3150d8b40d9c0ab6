import Auth
import Foundation
import Postgres
import Synchronization
import Tenancy

/// A device's key as listed: never its secret.
public struct DeviceKey: Sendable, Equatable {
    public var id: String
    public var deviceID: String
    public var name: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?

    static let columns = "id, device_id, name, created_at, expires_at, last_used_at"

    public init(id: String, deviceID: String, name: String?, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?) {
        self.id = id
        self.deviceID = deviceID
        self.name = name
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
    }

    init(row: PostgresRow) throws {
        id = try row.decode(0)
        deviceID = try row.decode(1)
        name = try row.decode(2, as: String?.self)
        createdAt = try row.decode(3)
        expiresAt = try row.decode(4, as: Date?.self)
        lastUsedAt = try row.decode(5, as: Date?.self)
    }
}

/// Device keys in the database, inside a tenant-scoped transaction the caller opened.
enum DeviceKeyStoreSQL {
    /// Creates a key; the returned credential carries the secret, which is not stored.
    public static func create(
        device: String, name: String?, expiresAt: Date?, tenant: TenantID, on db: PostgresConnection
    ) throws -> (DeviceKey, DeviceKeyCredential) {
        let credential = try DeviceKeyCredential.generate(tenant: tenant.rawValue)
        do {
            let row = try db.query(
                """
                INSERT INTO millwright.device_keys (tenant_id, device_id, id, name, secret_hash, expires_at)
                VALUES (\(tenant.rawValue), \(device), \(credential.keyID), \(name),
                        \(PostgresBytes(credential.secretHash))::bytea, \(expiresAt))
                RETURNING \(unsafeSQL: DeviceKey.columns)
                """
            ).first!
            return (try DeviceKey(row: row), credential)
        } catch let error as PostgresError where error.isForeignKeyViolation {
            throw RegistryError(.notFound, "no device \(device)")
        }
    }

    /// The device's keys that are not revoked, in id order, as a statement to pipeline;
    /// `DeviceKey(row:)` reads its rows.
    public static func listQuery(device: String, after cursor: String?, limit: Int) -> PostgresQuery {
        """
        SELECT \(unsafeSQL: DeviceKey.columns) FROM millwright.device_keys
        WHERE device_id = \(device) AND revoked_at IS NULL AND (\(cursor)::text IS NULL OR id > \(cursor))
        ORDER BY id LIMIT \(limit)
        """
    }

    /// Revokes a key: it stops authenticating at once and disappears from lists.
    public static func revoke(device: String, id: String, on db: PostgresConnection) throws {
        let result = try db.query(
            """
            UPDATE millwright.device_keys SET revoked_at = now()
            WHERE device_id = \(device) AND id = \(id) AND revoked_at IS NULL
            """)
        guard result.affectedRows == 1 else { throw RegistryError(.notFound, "no key \(id)") }
    }
}

/// Looks device keys up for authentication, each in a session scoped to the tenant the
/// credential names.
public final class PostgresDeviceKeyStore: DeviceKeyStore {
    let database: TenantDatabase
    /// When each key's last use was last written, to write it at most once a minute.
    private let lastWritten = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(database: TenantDatabase) {
        self.database = database
    }

    public func deviceKey(tenant: TenantID, keyID: String) async throws -> StoredDeviceKey? {
        // One round trip: it runs for every request a device key makes.
        let query: PostgresQuery = """
            SELECT device_id, secret_hash, expires_at, revoked_at IS NOT NULL FROM millwright.device_keys
            WHERE id = \(keyID)
            """
        return try await database.read(tenant, [query]) { results in
            try results[0].first.map { row in
                StoredDeviceKey(
                    tenant: tenant, deviceID: try row.decode(0), keyID: keyID,
                    secretHash: try row.decode(1, as: PostgresBytes.self).bytes,
                    expiresAt: try row.decode(2, as: Date?.self), revoked: try row.decode(3))
            }
        }
    }

    public func keyUsed(tenant: TenantID, keyID: String) async {
        // At most one write a minute per key: last_used_at is a hint, not an audit log.
        let now = ContinuousClock.now
        let due = lastWritten.withLock { written in
            if let last = written["\(tenant)/\(keyID)"], now - last < .seconds(60) { return false }
            if written.count > 100_000 { written.removeAll() }
            written["\(tenant)/\(keyID)"] = now
            return true
        }
        guard due else { return }
        try? await database.withTenant(tenant) { db in
            _ = try db.query(
                """
                UPDATE millwright.device_keys SET last_used_at = now()
                WHERE id = \(keyID) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                """)
        }
    }
}
