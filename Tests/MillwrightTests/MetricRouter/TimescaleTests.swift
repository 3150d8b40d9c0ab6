import Foundation
import InputParsing
import Logging
import Postgres
import Tenancy
import Testing

/// The TimescaleDB path: hypertables partitioned by time and tenant, compression,
/// policies, the continuous aggregate, and isolation of chunks. Cancelled (with the
/// reason) where the test database has no TimescaleDB: CI runs plain PostgreSQL 15.
@Suite("TimescaleDB storage", .serialized)
struct TimescaleTests {
    func requireTimescale() async throws {
        let engine = try await Metrics.asOwner { db in
            try db.query("SELECT engine FROM millwright.metric_storage").first!.decode(0, as: String.self)
        }
        if engine != "timescaledb" {
            try Test.cancel(
                "TimescaleDB is not installed in the test database (storage: \(engine)); the pg_partman path ran instead")
        }
    }

    @Test("Hypertables by time and tenant, compressed by tenant and sensor, with retention and no extra time index")
    func layout() async throws {
        try await requireTimescale()
        let rows = try await Metrics.asOwner { db in
            try db.query(
                """
                SELECT h.hypertable_name, h.num_dimensions,
                       (SELECT string_agg(d.column_name, ',' ORDER BY d.dimension_number) FROM timescaledb_information.dimensions d
                        WHERE d.hypertable_name = h.hypertable_name AND d.hypertable_schema = h.hypertable_schema),
                       (SELECT string_agg(attname, ',' ORDER BY segmentby_column_index) FROM timescaledb_information.compression_settings c
                        WHERE c.hypertable_name = h.hypertable_name AND segmentby_column_index IS NOT NULL),
                       (SELECT count(*) FROM timescaledb_information.jobs j
                        WHERE j.hypertable_name = h.hypertable_name AND j.proc_name IN ('policy_retention', 'policy_compression')),
                       (SELECT count(*) FROM pg_indexes i WHERE i.schemaname = h.hypertable_schema AND i.tablename = h.hypertable_name)
                FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = 'millwright_metrics'
                ORDER BY 1
                """
            ).rows.map {
                [
                    try $0.decode(0, as: String.self), try $0.decode(2, as: String.self), try $0.decode(3, as: String.self),
                    String(try $0.decode(4, as: Int.self)), String(try $0.decode(5, as: Int.self)),
                ]
            }
        }
        #expect(rows.map { $0[0] } == ["boolean_points", "integer_points", "number_points", "string_points"])
        for row in rows {
            #expect(row[1] == "time,tenant_id")
            #expect(row[2] == "tenant_id,sensor_id")
            #expect(row[3] == "2")  // retention and compression policies
            #expect(row[4] == "1")  // only the unique (tenant, sensor, time) index
        }
    }

    @Test("Compressed chunks: still read through the views, still writable, re-sends still overwrite")
    func compressedChunks() async throws {
        try await requireTimescale()
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client, fields: ["retention_days": 60])
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let old = Int(Date().timeIntervalSince1970) - 20 * 86_400
        let lines = (0..<100).map { "m,device=d1 v=\($0) \(old + $0)" }.joined(separator: "\n")
        #expect(try await Metrics.lines(client, t, token: admin, lines, query: "?precision=s").status == 204)
        // Only the chunks of that day: other tests' old chunks are theirs (compressing the
        // chunk of another test's late point while it refreshed the rollup failed that test).
        let compressed = try await Metrics.asOwner { db in
            try db.query(
                """
                SELECT count(compress_chunk(c, true, true)) FROM show_chunks('millwright_metrics.number_points',
                    newer_than => to_timestamp(\(old - 86_400)), older_than => to_timestamp(\(old + 86_400))) c
                """
            ).first!.decode(0, as: Int.self)
        }
        #expect(compressed >= 1)
        let range = "?from=\(RFC3339.format(unixMicros: Int64(old) * 1_000_000))&limit=1000"
        let before = try await Metrics.points(client, t, device: "d1", sensor: "m.v", token: admin, query: range)
        #expect(before.count == 100)
        // A new key and a re-sent one into the compressed chunk.
        let more = "m,device=d1 v=1000 \(old + 500)\nm,device=d1 v=-1 \(old)"
        #expect(try await Metrics.lines(client, t, token: admin, more, query: "?precision=s").status == 204)
        let after = try await Metrics.points(client, t, device: "d1", sensor: "m.v", token: admin, query: range)
        #expect(after.count == 101)
        #expect(after.first?.1 as? Double == -1)
    }

    @Test("The runtime role cannot read chunks or the continuous aggregate's storage")
    func chunksAreClosed() async throws {
        try await requireTimescale()
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        try await Fixtures.device(client, tenant: t, id: "d1")
        #expect(try await Metrics.lines(client, t, token: try await Tokens.writer(t), "m,device=d1 v=1").status == 204)
        let relations = try await Metrics.asOwner { db in
            let chunk = try db.query("SELECT show_chunks('millwright_metrics.number_points')::text LIMIT 1").first!.decode(
                0, as: String.self)
            let materialized = try db.query(
                """
                SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
                FROM timescaledb_information.continuous_aggregates WHERE view_name = 'number_points_1m'
                """
            ).first!.decode(0, as: String.self)
            return [chunk, materialized, "millwright_metrics.number_points_1m"]
        }
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.runtimeDatabaseURL, size: 1), logger: Logger(label: "test"))
        let database = TenantDatabase(pool: pool)
        for relation in relations {
            let denied = await #expect(throws: PostgresError.self) {
                try await database.read(try #require(TenantID(t)), ["SELECT count(*) FROM \(unsafeSQL: relation)"]) { _ in 0 }
            }
            #expect(denied?.sqlState == "42501", "\(relation)")
        }
        await pool.shutdown()
    }

    @Test("A point written a month late, behind the aggregate's watermark, reaches whole-minute aggregates within two refreshes")
    func latePoints() async throws {
        try await requireTimescale()
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let now = Int64(Date().timeIntervalSince1970)
        let minute = (now / 60 - 30 * 1440) * 60  // a month ago, on a minute
        // The watermark passes that minute before the point exists.
        try await Metrics.refreshRollup(from: (minute - 60) * 1_000_000, to: (now / 60 - 2) * 60_000_000)
        #expect(
            try await Metrics.lines(client, t, token: admin, "m,device=d1 v=5 \(minute)", query: "?precision=s").status == 204)
        // TimescaleDB 2.28's batched policy refresh can move a new invalidation in one run
        // and materialize it only in the next: seen with other tests' writes and deletes in
        // flight, the minute's invalidation sat in the materialization log after one run,
        // and the second run materialized it.
        try await Metrics.runRefreshJob()
        try await Metrics.runRefreshJob()
        let from = RFC3339.format(unixMicros: minute * 1_000_000)
        let to = RFC3339.format(unixMicros: (minute + 60) * 1_000_000)
        let response = try await client.get(
            "/api/v1/tenants/\(t)/devices/d1/sensors/m.v/aggregates?functions=sum,count&interval=1m&from=\(from)&to=\(to)",
            token: admin)
        #expect(response.json["source"] as? String == "continuous_aggregate")
        let bucket = (response.json["buckets"] as? [[String: Any]])?.first
        #expect(bucket?["count"] as? Int == 1, "\(response.raw.text)")
        #expect(bucket?["sum"] as? Double == 5)
    }

    @Test("Whole-minute aggregates come from the continuous aggregate and equal the raw computation")
    func continuousAggregate() async throws {
        try await requireTimescale()
        let client = try await TestClient.make()
        let t = try await Fixtures.tenant(client)
        let admin = try await Tokens.tenantAdmin(t)
        try await Fixtures.device(client, tenant: t, id: "d1")
        let start = (Int64(Date().timeIntervalSince1970) / 300 - 4) * 300  // on a 5-minute boundary
        let lines = (0..<600).map { "m,device=d1 v=\(Double($0 % 37) * 1.5) \(start + Int64($0))" }.joined(separator: "\n")
        #expect(try await Metrics.lines(client, t, token: admin, lines, query: "?precision=s").status == 204)
        try await Metrics.asOwner { db in
            _ = try db.execute(unsafeSQL: "CALL refresh_continuous_aggregate('millwright_metrics.number_points_1m', NULL, NULL)")
        }
        let base = "/api/v1/tenants/\(t)/devices/d1/sensors/m.v/aggregates?functions=avg,min,max,sum,count,first,last&interval=5m"
        let from = RFC3339.format(unixMicros: start * 1_000_000)
        let to = RFC3339.format(unixMicros: (start + 600) * 1_000_000)
        let rollup = try await client.get(base + "&from=\(from)&to=\(to)", token: admin)
        #expect(rollup.json["source"] as? String == "continuous_aggregate")
        // One microsecond off the minute: the raw points answer.
        let rawTo = RFC3339.format(unixMicros: (start + 600) * 1_000_000 + 1)
        let raw = try await client.get(base + "&from=\(from)&to=\(rawTo)", token: admin)
        #expect(raw.json["source"] as? String == "points")
        let a = rollup.json["buckets"] as? [[String: Any]] ?? []
        let b = raw.json["buckets"] as? [[String: Any]] ?? []
        #expect(a.count == 2)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            for key in ["start", "count", "min", "max", "first", "last"] {
                #expect("\(x[key] ?? "-")" == "\(y[key] ?? "-")", "\(key)")
            }
            let avgX = x["avg"] as? Double ?? .nan
            let avgY = y["avg"] as? Double ?? 0
            #expect(abs(avgX - avgY) < 1e-9)
        }
    }

    @Test("Another tenant's sensor deletes and shorter retention leave a tenant's compressed points compressed")
    func compressedStayCompressed() async throws {
        try await requireTimescale()
        let client = try await TestClient.make()
        let keeper = try await Fixtures.tenant(client, fields: ["retention_days": 365])
        let other = try await Fixtures.tenant(client, fields: ["retention_days": 5])
        for t in [keeper, other] { try await Fixtures.device(client, tenant: t, id: "d1") }
        let old = Int(Date().timeIntervalSince1970) - 35 * 86_400
        let lines = (0..<100).map { "m,device=d1 v=\($0) \(old + $0)" }.joined(separator: "\n")
        #expect(
            try await Metrics.lines(client, keeper, token: try await Tokens.tenantAdmin(keeper), lines, query: "?precision=s")
                .status == 204)
        let otherAdmin = try await Tokens.tenantAdmin(other)
        #expect(try await Metrics.lines(client, other, token: otherAdmin, "m,device=d1 gone=1,kept=1").status == 204)
        // Only the chunks of that day, as in `compressedChunks`.
        let chunks = """
            show_chunks('millwright_metrics.number_points', newer_than => to_timestamp(\(old - 86_400)),
                older_than => to_timestamp(\(old + 86_400)))
            """
        let compressed = try await Metrics.asOwner { db in
            try db.query("SELECT count(compress_chunk(c, true, true)) FROM \(unsafeSQL: chunks) c").first!.decode(0, as: Int.self)
        }
        #expect(compressed >= 1)
        // (Recompressed too: a chunk compressed before, by another test, keeps new rows apart.)
        // The keeper's rows outside the compressed batches of old chunks (decompressed ones land there).
        let uncompressed = {
            try await Metrics.asOwner { db in
                try db.query(
                    """
                    SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml(
                        format('SELECT count(*) AS n FROM ONLY %s WHERE tenant_id = %L', c, \(keeper)::text),
                        false, true, '')))[1]::text::bigint), 0)
                    FROM \(unsafeSQL: chunks) c
                    """
                ).first!.decode(0, as: Int.self)
            }
        }
        #expect(try await uncompressed() == 0)

        // The other tenant deletes a sensor, and maintenance enforces its 5-day retention.
        #expect(try await client.delete("/api/v1/tenants/\(other)/devices/d1/sensors/m.gone", token: otherAdmin).status == 204)
        _ = try await Metrics.asOwner { db in
            try db.query("SELECT millwright.maintain_metric_storage()").first!.decode(0, as: Int.self)
        }
        #expect(try await uncompressed() == 0, "another tenant's delete or retention decompressed the keeper's points")
        #expect(try await Metrics.storedRows(keeper) == 100)
        #expect(try await Metrics.storedRows(other) == 1, "the deleted sensor's point is gone, the kept one stays")
    }
}
