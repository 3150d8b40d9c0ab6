import Foundation
import Logging
import Postgres
import Testing

/// Migrations apply in order once, are recorded with checksums, and a changed
/// applied migration stops everything.
@Suite("Migrations")
struct MigrationRunnerTests {
    @Test("Applies pending migrations once; a changed applied file is an error")
    func checksums() async throws {
        let schema = "mwtest_" + UUID().uuidString.prefix(8).lowercased()
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.ownerDatabaseURL, size: 1), logger: Logger(label: "test"))
        let first = Migration(version: 1, name: "one", sql: "CREATE TABLE \(schema).one (x int)")
        let second = Migration(version: 2, name: "two", sql: "CREATE TABLE \(schema).two (y int)")
        let outcome: (applied: [Int], again: [Int], pending: [Int], changedRefused: Bool, unknownRefused: Bool) =
            try await pool.withConnection { db in
                defer { _ = try? db.execute(unsafeSQL: "DROP SCHEMA \(schema) CASCADE") }
                let applied = try MigrationRunner(migrations: [first], schema: schema).apply(on: db).map(\.version)
                let both = MigrationRunner(migrations: [first, second], schema: schema)
                let pending = try both.pending(on: db).map(\.version)
                let again = try both.apply(on: db).map(\.version)
                var changed = first
                changed.sql += " -- edited"
                let changedRefused = (try? MigrationRunner(migrations: [changed, second], schema: schema).pending(on: db)) == nil
                let unknownRefused = (try? MigrationRunner(migrations: [first], schema: schema).pending(on: db)) == nil
                return (applied, again, pending, changedRefused, unknownRefused)
            }
        #expect(outcome.applied == [1])
        #expect(outcome.pending == [2])
        #expect(outcome.again == [2])
        #expect(outcome.changedRefused)
        #expect(outcome.unknownRefused)  // the database is ahead of this build
        await pool.shutdown()
    }

    @Test("A failing migration is named with the server's message, and nothing of it stays")
    func failureNamed() async throws {
        let schema = "mwtest_" + UUID().uuidString.prefix(8).lowercased()
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.ownerDatabaseURL, size: 1), logger: Logger(label: "test"))
        let good = Migration(version: 1, name: "one", sql: "CREATE TABLE \(schema).one (x int)")
        let bad = Migration(
            version: 2, name: "broken", sql: "CREATE TABLE \(schema).two (y int); ALTER TABLE \(schema).missing ADD z int")
        let outcome: (message: String, pending: [Int], twoExists: Bool) = try await pool.withConnection { db in
            defer { _ = try? db.execute(unsafeSQL: "DROP SCHEMA \(schema) CASCADE") }
            let runner = MigrationRunner(migrations: [good, bad], schema: schema)
            var message = ""
            do { try runner.apply(on: db) } catch { message = "\(error)" }
            let exists = try db.query("SELECT to_regclass(\(schema + ".two")) IS NOT NULL").first?.decode(0, as: Bool.self)
            return (message, try runner.pending(on: db).map(\.version), exists ?? true)
        }
        #expect(outcome.message.hasPrefix("migration 2_broken failed: relation \"\(schema).missing\" does not exist"))
        #expect(outcome.message.hasSuffix("(SQLSTATE 42P01)"))
        #expect(outcome.pending == [2])
        #expect(!outcome.twoExists)
        await pool.shutdown()
    }
}
