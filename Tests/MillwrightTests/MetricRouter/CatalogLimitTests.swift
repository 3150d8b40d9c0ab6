import DeviceRegistry
import Logging
import MetricRouter
import Postgres
import Tenancy
import Testing

/// The ingest catalog's memory is bounded in devices plus sensors, per tenant and in all.
@Suite("Catalog limits")
struct CatalogLimitTests {
    @Test("Past a tenant's share the tenant starts afresh; past the total the other tenants do")
    func bounded() async throws {
        let client = try await TestClient.make()
        var tenants: [String] = []
        for _ in 0..<2 {
            let t = try await Fixtures.tenant(client)
            let admin = try await Tokens.tenantAdmin(t)
            for device in ["d1", "d2"] {
                try await Fixtures.device(client, tenant: t, id: device)
                let points = (0..<3).map { ["device": device, "sensor": "s\($0)", "value": 1] as [String: Any] }
                #expect(try await Metrics.write(client, t, token: admin, points).status == 200)
            }
            tenants.append(t)
        }
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.runtimeDatabaseURL, size: 1), logger: Logger(label: "test"))
        let catalog = MetricCatalog(
            source: PostgresRegistry(database: TenantDatabase(pool: pool)), limits: .init(perTenant: 5, total: 8))
        let a = try #require(TenantID(tenants[0]))
        let b = try #require(TenantID(tenants[1]))

        let first = try await catalog.snapshot(a, devices: ["d1"])
        #expect(first.devices["d1"]?.sensors.count == 3)
        #expect(catalog.cachedSizes == [a.rawValue: 4])  // a device and its three sensors
        let second = try await catalog.snapshot(a, devices: ["d2"])
        #expect(second.devices["d2"]?.sensors.count == 3)
        #expect(catalog.cachedSizes == [a.rawValue: 4], "8 > 5: the tenant keeps only what was just read")
        let both = try await catalog.snapshot(a, devices: ["d1", "d2"])
        #expect(both.devices.count == 2, "what a request names is served even past the limit")
        #expect((catalog.cachedSizes[a.rawValue] ?? 0) <= 5)

        _ = try await catalog.snapshot(b, devices: ["d1"])
        let sizes = catalog.cachedSizes
        #expect(sizes.values.reduce(0, +) <= 8, "\(sizes)")
        #expect(sizes[b.rawValue] == 4)
        await pool.shutdown()
    }
}
