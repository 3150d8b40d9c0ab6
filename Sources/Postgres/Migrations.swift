import Foundation

/// One numbered SQL file, `NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads every `NNNN_name.sql` in `directory`, in order. Versions must be unique.
    public static func load(directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw MigrationError("migration file \(file) is not named NNNN_name.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError("two migrations have version \(a.version)")
        }
        return migrations
    }
}

public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Applies migrations in order, each in its own transaction, recorded in
/// `<schema>.schema_migrations` with a SHA-256 checksum, under an advisory lock so
/// that two replicas never race. An applied migration whose file changed is an error.
public struct MigrationRunner: Sendable {
    public var migrations: [Migration]
    public var schema: String

    /// Arbitrary but fixed: the advisory lock key migrations hold.
    static let lockKey: Int64 = 0x4D69_6C6C_7772_6967  // "Millwrig"

    public init(migrations: [Migration], schema: String) {
        self.migrations = migrations
        self.schema = schema
    }

    /// Applies what is pending; returns the migrations it applied. Blocking.
    @discardableResult
    public func apply(on connection: PostgresConnection) throws -> [Migration] {
        try connection.query("SELECT pg_advisory_lock(\(Self.lockKey))")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))") }
        try connection.execute(
            unsafeSQL: """
                CREATE SCHEMA IF NOT EXISTS \(schema);
                CREATE TABLE IF NOT EXISTS \(schema).schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        let pending = try self.pending(on: connection)
        for migration in pending {
            do {
                try connection.transaction {
                    try connection.execute(unsafeSQL: migration.sql)
                    try connection.query(
                        """
                        INSERT INTO \(unsafeSQL: schema).schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex'))
                        """)
                }
            } catch let error as PostgresError where error.code == .server {
                // The operator runs this: the server's own words say what to fix.
                throw MigrationError(
                    "migration \(migration.version)_\(migration.name) failed: \(error.message)"
                        + (error.sqlState.map { " (SQLSTATE \($0))" } ?? ""))
            }
        }
        return pending
    }

    /// The migrations not applied yet. Throws when an applied one was changed or is
    /// unknown to this build, or when the table does not exist yet (then all are pending).
    public func pending(on connection: PostgresConnection) throws -> [Migration] {
        let exists = try connection.query("SELECT to_regclass(\(schema + ".schema_migrations")) IS NOT NULL")
        guard try exists.first?.decode(0, as: Bool.self) == true else { return migrations }
        // One statement compares every file with its record (NULL: not applied) and
        // reads the newest version applied.
        let rows = try connection.query(
            """
            SELECT f.version, m.checksum = encode(sha256(convert_to(f.sql, 'UTF8')), 'hex'),
                   (SELECT coalesce(max(version), 0) FROM \(unsafeSQL: schema).schema_migrations)
            FROM unnest(\(PostgresTextArray(migrations.map { String($0.version) }))::int[],
                        \(PostgresTextArray(migrations.map(\.sql)))::text[]) AS f(version, sql)
            LEFT JOIN \(unsafeSQL: schema).schema_migrations m ON m.version = f.version
            """
        ).rows
        var applied: [Int: Bool] = [:]
        var newestApplied = 0
        for row in rows {
            if let same = try row.decode(1, as: Bool?.self) { applied[try row.decode(0)] = same }
            newestApplied = try row.decode(2)
        }
        if let changed = migrations.first(where: { applied[$0.version] == false }) {
            throw MigrationError(
                "migration \(changed.version)_\(changed.name) was changed after it was applied; restore the original file")
        }
        if newestApplied > (migrations.last?.version ?? 0) {
            throw MigrationError("the database has migration \(newestApplied), newer than this build knows")
        }
        return migrations.filter { applied[$0.version] == nil }
    }
}
