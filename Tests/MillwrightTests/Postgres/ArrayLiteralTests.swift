import Postgres
import Testing

@Suite("bigint[] literals")
struct ArrayLiteralTests {
    @Test("integers are written and read back exactly, the extremes included")
    func roundTrip() throws {
        let values: [Int64] = [0, 1, -1, 42, 1_767_225_600_123_456, .max, .min, -9_007_199_254_740_993]
        let literal = PostgresArrayLiteral(values)
        #expect(literal.text == "{0,1,-1,42,1767225600123456,9223372036854775807,-9223372036854775808,-9007199254740993}")
        #expect(try PostgresArrayLiteral.integers(literal.text) == values)
        #expect(PostgresArrayLiteral([Int64]()).text == "{}")
        #expect(try PostgresArrayLiteral.integers("{}") == [])
    }

    @Test(
        "anything but a bigint[] without NULLs is refused",
        arguments: [
            "", "{", "}", "1,2", "{1,}", "{,1}", "{1,,2}", "{-}", "{1 ,2}", "{NULL}", "{9223372036854775808}",
            "{-9223372036854775809}", "{99999999999999999999999}", "{1}x",
        ])
    func refused(_ text: String) {
        #expect(throws: PostgresError.self) { try PostgresArrayLiteral.integers(text) }
    }
}
