import Foundation
import InputParsing
import Testing

/// Ingestion through the real HTTP API into the real database: what is stored, what
/// is refused (every code), atomicity, re-sends, who may write.
@Suite("Metric ingestion")
struct IngestTests {
    @Test("JSON points are stored with their kinds, read back typed, and sensors are created by kind")
    func jsonRoundTrip() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "press-01")
        let at = Metrics.time(-5)
        let written = try await Metrics.write(
            client, t, token: try await Tokens.writer(t),
            [
                ["device": "press-01", "sensor": "temperature", "time": at, "value": 23.5],
                ["device": "press-01", "sensor": "running", "time": at, "value": true],
                ["device": "press-01", "sensor": "state", "time": at, "value": "run"],
                ["device": "press-01", "sensor": "temperature", "value": 24],  // server time
            ])
        #expect(written.status == 200)
        #expect(written.json["accepted"] as? Int == 4)

        let sensors = try await client.get("/api/v1/tenants/\(t)/devices/press-01/sensors", token: admin)
        let kinds = Dictionary(uniqueKeysWithValues: sensors.items.map { ($0["key"] as! String, $0["kind"] as! String) })
        #expect(kinds == ["temperature": "number", "running": "boolean", "state": "string"])

        let temperature = try await Metrics.points(client, t, device: "press-01", sensor: "temperature", token: admin)
        #expect(temperature.count == 2)
        #expect(temperature.first?.1 as? Double == 23.5)
        #expect(temperature.last?.1 as? Double == 24)
        let latest = try await client.get("/api/v1/tenants/\(t)/devices/press-01/latest", token: admin)
        let values = Dictionary(
            uniqueKeysWithValues: (latest.json["sensors"] as? [[String: Any]] ?? []).map {
                ($0["sensor"] as! String, $0["value"]!)
            })
        #expect(values["running"] as? Bool == true)
        #expect(values["state"] as? String == "run")
        #expect(values["temperature"] as? Double == 24)
        #expect(try await Metrics.storedRows(t) == 4)
    }

    @Test("Time keeps microseconds: nanoseconds are rounded, offsets are converted to UTC")
    func timePrecision() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let base = Date().addingTimeInterval(-60)
        let day = RFC3339Format.string(base).prefix(19)  // yyyy-mm-ddThh:mm:ss
        let written = try await Metrics.write(
            client, t, token: admin,
            [
                ["device": "d1", "sensor": "v", "time": "\(day).123456789Z", "value": 1],
                ["device": "d1", "sensor": "v", "time": "\(day).5+00:00", "value": 2],
            ])
        #expect(written.status == 200)
        let points = try await Metrics.points(client, t, device: "d1", sensor: "v", token: admin)
        #expect(points.map(\.0) == ["\(day).123457Z", "\(day).5Z"])
    }

    @Test("Every rejection code, with the point's index and pointer; nothing of a refused request is stored")
    func rejections() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client, fields: ["retention_days": 30])
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "fixed", fields: ["auto_create_sensors": false])
        try await Fixtures.device(client, tenant: t, id: "open")
        let sensors = "/api/v1/tenants/\(t)/devices/fixed/sensors"
        #expect(
            try await client.post(sensors, token: admin, json: ["key": "pressure", "kind": "number", "min": 0, "max": 10]).status
                == 201)
        #expect(try await client.post(sensors, token: admin, json: ["key": "count", "kind": "integer"]).status == 201)
        let now = Metrics.time()
        let cases: [([String: Any], String, String)] = [
            (["device": "ghost", "sensor": "pressure", "value": 1], "unknown_device", "/points/0/device"),
            (["device": "fixed", "sensor": "humidity", "value": 1], "unknown_sensor", "/points/1/sensor"),
            (["device": "fixed", "sensor": "pressure", "value": "high"], "kind_mismatch", "/points/2/value"),
            (["device": "fixed", "sensor": "count", "value": 1.5], "kind_mismatch", "/points/3/value"),
            (["device": "fixed", "sensor": "pressure", "value": 11], "out_of_range", "/points/4/value"),
            (["device": "fixed", "sensor": "pressure", "value": -0.1], "out_of_range", "/points/5/value"),
            (["device": "fixed", "sensor": "pressure", "value": ["x": 1]], "invalid_value", "/points/6/value"),
            (["device": "fixed", "sensor": "pressure", "value": NSNull()], "invalid_value", "/points/7/value"),
            (
                ["device": "fixed", "sensor": "pressure", "time": Metrics.time(3600), "value": 1], "time_out_of_bounds",
                "/points/8/time"
            ),
            (
                ["device": "fixed", "sensor": "pressure", "time": Metrics.time(-31 * 86400), "value": 1], "time_out_of_bounds",
                "/points/9/time"
            ),
            (["device": "fixed", "sensor": "pressure", "time": "yesterday", "value": 1], "invalid_time", "/points/10/time"),
            (["device": "open", "sensor": "bad key!", "value": 1], "invalid_sensor_key", "/points/11/sensor"),
            (["device": "fixed", "sensor": "pressure", "value": 1, "unit": "bar"], "unknown_field", "/points/12/unit"),
            (["device": "fixed", "value": 1], "missing_field", "/points/13/sensor"),
        ]
        var points = cases.map(\.0)
        points.append(["device": "fixed", "sensor": "pressure", "time": now, "value": 5])  // valid
        points.append(["device": "open", "sensor": "new-one", "time": now, "value": 5])  // valid, would create a sensor
        let response = try await Metrics.write(client, t, token: admin, points)
        #expect(response.status == 422)
        #expect(response.code == "points_refused")
        #expect(response.json["error_count"] as? Int == cases.count)
        #expect(response.errorCodes == cases.map(\.1))
        #expect(response.errorPointers == cases.map(\.2))
        #expect(response.errors.map { $0["index"] as? Int } == Array(0..<cases.count))
        // Atomic: the valid points were not stored and no sensor was created.
        #expect(try await Metrics.storedRows(t) == 0)
        let open = try await client.get("/api/v1/tenants/\(t)/devices/open/sensors", token: admin)
        #expect(open.items.isEmpty)

        // Syntax: 400 with where it broke; nothing stored.
        let malformed = try await client.request(
            "POST", "/api/v1/tenants/\(t)/metrics", token: admin, body: Array(#"{"points": [{"device": "fixed",}]}"#.utf8),
            contentType: "application/json")
        #expect(malformed.status == 400)
        #expect(malformed.code == "invalid_body")
        let notPoints = try await client.post("/api/v1/tenants/\(t)/metrics", token: admin, json: ["points": 5])
        #expect(notPoints.status == 400)
        let wrongType = try await client.request(
            "POST", "/api/v1/tenants/\(t)/metrics", token: admin, body: Array("{}".utf8), contentType: "text/csv")
        #expect(wrongType.status == 415)
    }

    @Test("Only the first 100 problems are listed, with the total")
    func problemCap() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let points = (0..<250).map { i in ["device": "ghost-\(i)", "sensor": "s", "value": i] as [String: Any] }
        let response = try await Metrics.write(client, t, token: try await Tokens.writer(t), points)
        #expect(response.status == 422)
        #expect(response.errors.count == 100)
        #expect(response.json["error_count"] as? Int == 250)
    }

    @Test("Re-sending a batch never duplicates points; the last value written wins")
    func idempotentResend() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let times = (0..<50).map { Metrics.time(Double(-100 + $0)) }
        let first = times.map { ["device": "d1", "sensor": "v", "time": $0, "value": 1] as [String: Any] }
        #expect(try await Metrics.write(client, t, token: admin, first).status == 200)
        #expect(try await Metrics.write(client, t, token: admin, first).status == 200)
        // A re-send that overlaps half, with new values, plus a duplicate inside one request.
        var second = times.suffix(25).map { ["device": "d1", "sensor": "v", "time": $0, "value": 2] as [String: Any] }
        second.append(["device": "d1", "sensor": "v", "time": times[49], "value": 3])
        #expect(try await Metrics.write(client, t, token: admin, second).status == 200)
        #expect(try await Metrics.storedRows(t) == 50)
        let values = try await Metrics.points(client, t, device: "d1", sensor: "v", token: admin).map { $0.1 as? Double }
        #expect(values == Array(repeating: 1, count: 25) + Array(repeating: 2, count: 24) + [3])
    }

    @Test("Concurrent requests creating the same sensors all succeed; the sensor limit answers 422")
    func sensorCreation() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client, fields: ["sensor_limit_per_device": 5])
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await Metrics.write(
                        client, t, token: writer,
                        (0..<3).map { ["device": "d1", "sensor": "s\($0)", "time": Metrics.time(Double(-i)), "value": i] }
                    )
                    .status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 8))
        #expect(try await Metrics.storedRows(t) == 24)
        let over = try await Metrics.write(
            client, t, token: writer, (3..<7).map { ["device": "d1", "sensor": "s\($0)", "value": 1] })
        #expect(over.status == 422)
        #expect(Set(over.errorCodes) == ["sensor_limit_reached"])
        let sensors = try await client.get("/api/v1/tenants/\(t)/devices/d1/sensors", token: try await Tokens.tenantAdmin(t))
        #expect(sensors.items.count == 3)  // none of the four was created
    }

    @Test("Writers: metrics-writer and tenant-admin yes, viewer no, outsiders 404; a device key only for its own device")
    func whoMayWrite() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let other = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        try await Fixtures.device(client, tenant: t, id: "d2")
        let point: [[String: Any]] = [["device": "d1", "sensor": "v", "value": 1]]
        #expect(try await Metrics.write(client, t, token: try await Tokens.writer(t), point).status == 200)
        #expect(try await Metrics.write(client, t, token: admin, point).status == 200)
        #expect(try await Metrics.write(client, t, token: try await Tokens.viewer(t), point).status == 403)
        #expect(try await Metrics.write(client, t, token: try await Tokens.writer(other), point).status == 404)
        #expect(try await Metrics.write(client, t, token: nil, point).status == 401)

        let key = try await client.post("/api/v1/tenants/\(t)/devices/d1/keys", token: admin, json: [:] as [String: Any])
        let secret = try #require(key.json["secret"] as? String)
        #expect(try await Metrics.write(client, t, token: secret, point).status == 200)
        let mixed: [[String: Any]] = point + [["device": "d2", "sensor": "v", "value": 1]]
        let refused = try await Metrics.write(client, t, token: secret, mixed)
        #expect(refused.status == 403)
        #expect(try await Metrics.write(client, other, token: secret, point).status == 404)
        let lines = try await Metrics.lines(client, t, token: secret, "m,device=d2 v=1\n")
        #expect(lines.status == 403)
        // Two writes by tokens and one by the key; the refused ones stored nothing.
        #expect(try await Metrics.storedRows(t) == 3)
    }
}

/// A tenant deleted and created again under the same id shares nothing with its
/// predecessor: not its sensors, not its cached catalog.
@Suite("Re-created tenants")
struct RecreatedTenantTests {
    @Test("A write to the predecessor's sensor is refused (or creates the sensor anew), never stored under the old id")
    func predecessorsSensor() async throws {
        let client = try await TestClient.make()
        let platform = try await Tokens.platformAdmin()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        #expect(try await Metrics.write(client, t, token: admin, [["device": "d1", "sensor": "old", "value": 1]]).status == 200)
        // A second write caches the catalog as it is now: one catalog change, sensor `old`.
        #expect(try await Metrics.write(client, t, token: admin, [["device": "d1", "sensor": "old", "value": 2]]).status == 200)

        #expect(try await client.delete("/api/v1/tenants/\(t)", token: platform).status == 204)
        _ = try await Fixtures.tenant(client, id: t)
        try await Fixtures.device(client, tenant: t, id: "d1", fields: ["auto_create_sensors": false])
        // As many catalog changes as the predecessor had, so the per-tenant count matches.
        let sensor = try await client.post(
            "/api/v1/tenants/\(t)/devices/d1/sensors", token: admin, json: ["key": "other", "kind": "number"])
        #expect(sensor.status == 201)

        let stale = try await Metrics.write(client, t, token: admin, [["device": "d1", "sensor": "old", "value": 2]])
        #expect(stale.status == 422, "\(stale.raw.text)")
        #expect(stale.errorCodes == ["unknown_sensor"])
        #expect(try await Metrics.storedRows(t) == 0)

        // With sensors created on first write, the old key becomes a new sensor of the new tenant.
        #expect(
            try await client.patch(
                "/api/v1/tenants/\(t)/devices/d1", token: admin, json: ["auto_create_sensors": true], headers: [("If-Match", "*")]
            ).status == 200)
        #expect(try await Metrics.write(client, t, token: admin, [["device": "d1", "sensor": "old", "value": 3]]).status == 200)
        let points = try await Metrics.points(client, t, device: "d1", sensor: "old", token: admin)
        #expect(points.map { $0.1 as? Double } == [3])
    }
}

/// Points accepted while their tenant or sensor is being deleted are never stored under
/// ids nothing can read: the flush waits for the delete and then keeps only what exists.
@Suite("Deletes during ingest")
struct DeleteDuringIngestTests {
    /// Runs `delete` as the owner in a transaction that commits only once a flush of
    /// `tenant`'s points waits for the tenant's lock (or after 30 s), in the background.
    static func deleteOnceAFlushWaits(tenant: String, scope: String, _ delete: String) -> Task<Void, any Error> {
        Task {
            try await Metrics.asOwner { db in
                _ = try db.query(
                    "SELECT set_config(\(scope == "platform" ? "millwright.platform" : "millwright.tenant_id"), \(scope == "platform" ? "on" : tenant), false)"
                )
                _ = try db.execute(
                    unsafeSQL: """
                        BEGIN;
                        \(delete);
                        DO $$
                        DECLARE waited int := 0;
                        BEGIN
                            WHILE waited < 600 AND NOT EXISTS (
                                SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                                  AND objid::bigint = (hashtext('\(tenant)')::bigint + 4294967296) % 4294967296)
                            LOOP
                                PERFORM pg_sleep(0.05);
                                waited := waited + 1;
                            END LOOP;
                        END $$;
                        COMMIT
                        """)
            }
        }
    }

    /// Waits until `tenant`'s lock is held exclusively, i.e. the delete has run.
    static func waitForDelete(_ tenant: String) async throws {
        for _ in 0..<200 {
            let held = try await Metrics.asOwner { db in
                try db.query(
                    """
                    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock'
                      AND objid::bigint = (hashtext(\(tenant))::bigint + 4294967296) % 4294967296
                    """
                ).first!.decode(0, as: Int.self)
            }
            if held > 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the delete in tenant \(tenant) never took the tenant's lock")
    }

    @Test("A write accepted while its tenant is deleted leaves no rows behind")
    func tenantDeleted() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        #expect(try await Metrics.write(client, t, token: writer, [["device": "d1", "sensor": "s", "value": 1]]).status == 200)

        let delete = Self.deleteOnceAFlushWaits(
            tenant: t, scope: "platform", "DELETE FROM millwright.tenants WHERE id = '\(t)'")
        try await Self.waitForDelete(t)
        let during = try await Metrics.write(
            client, t, token: writer, [["device": "d1", "sensor": "s", "value": 2, "time": Metrics.time(-1)]])
        try await delete.value
        #expect(during.status == 200, "checked before the delete committed: \(during.raw.text)")
        #expect(try await Metrics.storedRows(t) == 0, "no point of the deleted tenant is left")
        #expect(try await Metrics.write(client, t, token: writer, [["device": "d1", "sensor": "s", "value": 3]]).status == 404)
    }

    @Test("A write accepted while one of its sensors is deleted stores the other sensors' points only")
    func sensorDeleted() async throws {
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let writer = try await Tokens.writer(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let first: [[String: Any]] = [
            ["device": "d1", "sensor": "gone", "value": 1], ["device": "d1", "sensor": "kept", "value": 1],
        ]
        #expect(try await Metrics.write(client, t, token: writer, first).status == 200)
        #expect(try await Metrics.storedRows(t) == 2)

        let delete = Self.deleteOnceAFlushWaits(
            tenant: t, scope: "tenant", "DELETE FROM millwright.sensors WHERE device_id = 'd1' AND key = 'gone'")
        try await Self.waitForDelete(t)
        let time = Metrics.time(-1)
        let during = try await Metrics.write(
            client, t, token: writer,
            [
                ["device": "d1", "sensor": "gone", "value": 2, "time": time],
                ["device": "d1", "sensor": "kept", "value": 2, "time": time],
            ])
        try await delete.value
        #expect(during.status == 200, "\(during.raw.text)")
        #expect(try await Metrics.storedRows(t) == 2, "the kept sensor's two points; none of the deleted sensor's")
        let viewer = try await Tokens.viewer(t)
        #expect(try await Metrics.points(client, t, device: "d1", sensor: "kept", token: viewer).count == 2)
    }
}
