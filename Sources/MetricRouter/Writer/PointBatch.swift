import DeviceRegistry
import InputParsing
import Postgres
import Tenancy

/// The validated points of one request, columnar by kind, ready for COPY.
public struct PointBatch: Sendable {
    public struct Column<Value: Sendable>: Sendable {
        public var sensorIDs: [Int64] = []
        public var times: [Int64] = []
        public var values: [Value] = []

        mutating func append(_ sensorID: Int64, _ time: Int64, _ value: Value) {
            sensorIDs.append(sensorID)
            times.append(time)
            values.append(value)
        }

        var count: Int { sensorIDs.count }
    }

    public let tenant: TenantID
    /// The tenant's incarnation and catalog version the points were checked against;
    /// nil when they were not (then the writer checks every sensor still exists).
    public var checkedAgainst: CatalogStamp?
    public var numbers = Column<Double>()
    public var integers = Column<Int64>()
    public var booleans = Column<Bool>()
    public var strings = Column<String>()
    /// Approximate memory held, for the writer's byte bound.
    public private(set) var bytes = 0

    public init(tenant: TenantID, checkedAgainst: CatalogStamp? = nil) {
        self.tenant = tenant
        self.checkedAgainst = checkedAgainst
    }

    /// Every sensor id the batch writes to, once.
    var sensorIDs: Set<Int64> {
        Set(numbers.sensorIDs).union(integers.sensorIDs).union(booleans.sensorIDs).union(strings.sensorIDs)
    }

    /// The batch without points of sensors outside `sensors`.
    func keeping(_ sensors: Set<Int64>) -> PointBatch {
        var kept = PointBatch(tenant: tenant, checkedAgainst: checkedAgainst)
        func keep<V>(_ column: Column<V>, _ value: (V) -> MetricValue) {
            for index in column.sensorIDs.indices where sensors.contains(column.sensorIDs[index]) {
                kept.append(sensorID: column.sensorIDs[index], time: column.times[index], value: value(column.values[index]))
            }
        }
        keep(numbers, MetricValue.number)
        keep(integers, MetricValue.integer)
        keep(booleans, MetricValue.boolean)
        keep(strings, MetricValue.string)
        return kept
    }

    public var count: Int { numbers.count + integers.count + booleans.count + strings.count }

    public mutating func append(sensorID: Int64, time: Int64, value: MetricValue) {
        switch value {
        case .number(let v): numbers.append(sensorID, time, v)
        case .integer(let v): integers.append(sensorID, time, v)
        case .boolean(let v): booleans.append(sensorID, time, v)
        case .string(let v):
            strings.append(sensorID, time, v)
            bytes += v.utf8.count
        }
        bytes += 24
    }
}

/// COPY statements and their binary bodies for a set of batches.
enum PointCopy {
    static func statement(_ kind: String) -> String {
        "COPY millwright_metrics.\(kind)_points (tenant_id, sensor_id, time, value) FROM STDIN (FORMAT binary)"
    }

    /// One binary COPY body per kind that has points: (kind, body).
    static func bodies(_ batches: [PointBatch]) -> [(String, [UInt8])] {
        var result: [(String, [UInt8])] = []
        func body<V>(
            _ kind: String, _ column: (PointBatch) -> PointBatch.Column<V>, _ write: (inout PostgresBinaryCopy, V) -> Void
        ) {
            let rows = batches.reduce(0) { $0 + column($1).count }
            guard rows > 0 else { return }
            var copy = PostgresBinaryCopy(reservingCapacity: rows * 48)
            for batch in batches {
                let c = column(batch)
                for i in 0..<c.count {
                    copy.beginRow(fields: 4)
                    copy.text(batch.tenant.rawValue)
                    copy.int8(c.sensorIDs[i])
                    copy.timestamp(unixMicros: c.times[i])
                    write(&copy, c.values[i])
                }
            }
            copy.finish()
            result.append((kind, copy.bytes))
        }
        body("number", \.numbers) { $0.float8($1) }
        body("integer", \.integers) { $0.int8($1) }
        body("boolean", \.booleans) { $0.bool($1) }
        body("string", \.strings) { $0.text($1) }
        return result
    }

    /// The record of what a write transaction committed, for the alert evaluator: one
    /// row per tenant with each sensor written and its newest point time, the oldest
    /// point time, and the number and integer points themselves (`CommittedPoints`).
    /// The arrays are literals (parsed by PostgreSQL's array input, several times
    /// cheaper than the same numbers through jsonb). Empty when nothing was written.
    static func commits(_ batches: [PointBatch]) -> [PostgresQuery] {
        var byTenant: [TenantID: (newest: [Int64: Int64], oldest: Int64, batches: [PointBatch])] = [:]
        for batch in batches where batch.count > 0 {
            var entry = byTenant[batch.tenant] ?? ([:], .max, [])
            func note<V>(_ column: PointBatch.Column<V>) {
                for i in 0..<column.count {
                    let (sensor, time) = (column.sensorIDs[i], column.times[i])
                    entry.newest[sensor] = max(entry.newest[sensor] ?? time, time)
                    entry.oldest = min(entry.oldest, time)
                }
            }
            note(batch.numbers)
            note(batch.integers)
            note(batch.booleans)
            note(batch.strings)
            entry.batches.append(batch)
            byTenant[batch.tenant] = entry
        }
        return byTenant.sorted { $0.key < $1.key }.map { tenant, entry in
            let sensors = entry.newest.keys.sorted()
            return """
                INSERT INTO millwright_metrics.point_commits (tenant_id, sensor_ids, newest, oldest, points)
                VALUES (\(tenant.rawValue), \(PostgresArrayLiteral(sensors))::bigint[],
                        \(PostgresArrayLiteral(sensors.map { entry.newest[$0] ?? 0 }))::bigint[], \(entry.oldest),
                        \(CommittedPoints.pack(entry.batches))::bytea)
                """
        }
    }

    /// The live-stream log's rows (migration 0013): per tenant, every point written
    /// (`StreamedPoints`). Each call takes the log's ordering lock, so these go last
    /// in a transaction.
    static func streamEvents(_ batches: [PointBatch]) -> [PostgresQuery] {
        var byTenant: [TenantID: [PointBatch]] = [:]
        for batch in batches where batch.count > 0 { byTenant[batch.tenant, default: []].append(batch) }
        return byTenant.sorted { $0.key < $1.key }.map { tenant, batches in
            "SELECT millwright.append_stream_event(\(tenant.rawValue), 'points', \(StreamedPoints.pack(batches))::bytea)"
        }
    }

    /// The upsert of one batch (re-sent points overwrite): one statement per kind.
    static func upserts(_ batch: PointBatch) -> [PostgresQuery] {
        var queries: [PostgresQuery] = []
        func array<V>(_ values: [V], _ text: (V) -> String) -> PostgresArrayLiteral {
            PostgresArrayLiteral("{" + values.map(text).joined(separator: ",") + "}")
        }
        let empty = PostgresArrayLiteral("{}")
        func upsert(
            _ kind: String, _ ids: [Int64], _ times: [Int64], _ n: PostgresArrayLiteral, _ i: PostgresArrayLiteral,
            _ b: PostgresArrayLiteral, _ s: PostgresArrayLiteral
        ) {
            guard !ids.isEmpty else { return }
            queries.append(
                """
                SELECT millwright.upsert_points(\(kind), \(array(ids) { String($0) })::bigint[], \(array(times) { String($0) })::bigint[],
                    \(n)::double precision[], \(i)::bigint[], \(b)::boolean[], \(s)::text[])
                """)
        }
        let n = batch.numbers, i = batch.integers, b = batch.booleans, s = batch.strings
        upsert("number", n.sensorIDs, n.times, array(n.values) { $0.postgresText! }, empty, empty, empty)
        upsert("integer", i.sensorIDs, i.times, empty, array(i.values) { String($0) }, empty, empty)
        upsert("boolean", b.sensorIDs, b.times, empty, empty, array(b.values) { $0 ? "t" : "f" }, empty)
        upsert(
            "string", s.sensorIDs, s.times, empty, empty, empty, PostgresArrayLiteral(PostgresTextArray(s.values).postgresText!))
        return queries
    }
}
