import Logging
import Postgres
import Testing

@Suite("bytea columns")
struct ByteaTests {
    @Test("bytea read straight from libpq's buffer: every byte value, empty, NULL; text that is not bytea refused")
    func bytes() async throws {
        let pool = PostgresPool(
            configuration: .init(connectionString: TestEnvironment.ownerDatabaseURL, size: 1), logger: Logger(label: "test"))
        let every = (0...255).map(UInt8.init)
        let read = try await pool.withConnection { db in
            let result = try db.query(
                "SELECT \(PostgresBytes(every))::bytea, ''::bytea, NULL::bytea, 'plain'::text, '\\x0'::text")
            let row = try #require(result.first)
            return (
                try row.bytes(0), try row.bytes(1), try row.bytes(2), (try? row.bytes(3)) == nil,
                (try? row.bytes(4)) == nil, (try? row.bytes(5)) == nil
            )
        }
        #expect(read.0 == every && read.1 == [] && read.2 == nil)
        #expect(read.3 && read.4 && read.5, "text that is not bytea hex, and a column that does not exist, are errors")
    }
}
