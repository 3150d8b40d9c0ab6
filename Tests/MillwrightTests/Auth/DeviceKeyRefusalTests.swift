import Auth
import DeviceRegistry
import Logging
import Postgres
import Synchronization
import Tenancy
import Testing

/// Wrong device keys cost little: no lookup for impossible ids, one lookup per missing
/// key a minute, and at most two lookups in flight whatever the flood.
@Suite("Device key refusals")
struct DeviceKeyRefusalTests {
    /// The real PostgreSQL store, with the lookups it served counted.
    final class CountingStore: DeviceKeyStore {
        let inner: PostgresDeviceKeyStore
        let counts = Mutex((total: 0, inFlight: 0, peak: 0))

        init(_ inner: PostgresDeviceKeyStore) { self.inner = inner }

        func deviceKey(tenant: TenantID, keyID: String) async throws -> StoredDeviceKey? {
            counts.withLock {
                $0.total += 1
                $0.inFlight += 1
                $0.peak = max($0.peak, $0.inFlight)
            }
            defer { counts.withLock { $0.inFlight -= 1 } }
            try await Task.sleep(for: .milliseconds(20))  // long enough for lookups to overlap
            return try await inner.deviceKey(tenant: tenant, keyID: keyID)
        }

        func keyUsed(tenant: TenantID, keyID: String) async { await inner.keyUsed(tenant: tenant, keyID: keyID) }
    }

    @Test("Impossible ids cost no lookup, a missing key one a minute, a wrong secret never locks out the right one")
    func refusals() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let created = try await client.post("/api/v1/tenants/\(t)/devices/d1/keys", token: admin, json: ["name": "plc"])
        let secret = try #require(created.json["secret"] as? String)
        let key = try #require(DeviceKeyCredential(bearer: secret))

        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.runtimeDatabaseURL, size: 4), logger: Logger(label: "test"))
        let store = CountingStore(PostgresDeviceKeyStore(database: TenantDatabase(pool: pool)))
        let authenticator = DeviceKeyAuthenticator(store: store)
        func refused(_ credential: DeviceKeyCredential) async -> String? {
            do {
                _ = try await authenticator.authenticate(credential)
                return nil
            } catch {
                return error.reason
            }
        }

        for impossible in ["NOT-HEX-AT-ALL!!", "0123456789abcdef0", "../etc/passwd"] {
            #expect(await refused(DeviceKeyCredential(tenant: t, keyID: impossible, secret: key.secret)) == "unknown_device_key")
        }
        #expect(await refused(DeviceKeyCredential(tenant: "NO_SUCH", keyID: key.keyID, secret: key.secret)) != nil)
        #expect(store.counts.withLock { $0.total } == 0)

        let missing = DeviceKeyCredential(tenant: t, keyID: "0123456789abcdef01", secret: key.secret)
        for _ in 0..<50 { #expect(await refused(missing) == "unknown_device_key") }
        #expect(store.counts.withLock { $0.total } == 1)

        let wrongSecret = DeviceKeyCredential(tenant: t, keyID: key.keyID, secret: String(repeating: "A", count: 43))
        #expect(await refused(wrongSecret) == "unknown_device_key")
        #expect(await refused(key) == nil)
        #expect(store.counts.withLock { $0.total } == 3)

        // A flood of distinct guesses: never more than two lookups at once.
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    let id = String(String(format: "%018x", i + 1).suffix(18))
                    _ = await refused(DeviceKeyCredential(tenant: t, keyID: id, secret: key.secret))
                }
            }
        }
        #expect(store.counts.withLock { $0.peak } <= 2)
        #expect(store.counts.withLock { $0.total } == 43)
        await pool.shutdown()
    }
}
