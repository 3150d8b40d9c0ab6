import InputParsing
import Testing

/// `Retry-After` from webhook receivers, and rule durations.
@Suite("Retry-After and durations")
struct RetryAfterTests {
    static let now: Int64 = 1_764_000_000  // 2025-11-24T16:00:00Z

    @Test(
        "delay seconds and IMF-fixdates, clamped to 0...limit; anything else is nil",
        arguments: [
            ("120", 120), (" 3 ", 3), ("0", 0), ("99999999999999999999999", 86_400), ("86401", 86_400),
            ("Mon, 24 Nov 2025 16:01:40 GMT", 100), ("Sun, 06 Nov 1994 08:49:37 GMT", 0),
            ("Mon, 24 Nov 2025 16:01:40 UTC", nil), ("Mon, 24 Nov 2025 -1:01:40 GMT", nil), ("-5", nil), ("", nil),
            ("soon", nil), ("Mon, 24 Foo 2025 16:01:40 GMT", nil), ("Xyz, 24 Nov 2025 16:01:40 GMT", nil),
        ] as [(String, Int64?)])
    func parses(_ text: String, _ expected: Int64?) {
        #expect(RetryAfter.seconds(text, now: Self.now) == expected, "\(text)")
    }

    @Test("an HTTP date at the ends of time never traps")
    func extremes() {
        #expect(RetryAfter.seconds("Fri, 31 Dec 9999 23:59:59 GMT", now: .min) == nil)
        #expect(RetryAfter.seconds("Thu, 01 Jan 0000 00:00:00 GMT", now: .max) == nil)
    }

    @Test("durations: zero in any unit, else what intervals accept")
    func durations() {
        #expect(Interval.duration("0s") == 0)
        #expect(Interval.duration("0d") == 0)
        #expect(Interval.duration("0") == 0)
        #expect(Interval.duration("90s") == 90)
        #expect(Interval.duration("15m") == 900)
        #expect(Interval.duration("0x") == nil)
        #expect(Interval.duration("-1s") == nil)
        #expect(Interval.duration("00s") == nil)
    }
}
