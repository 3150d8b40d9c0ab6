/// A receiver's `Retry-After` (RFC 9110 §10.2.3): delay seconds, or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`). The header comes from a webhook receiver the
/// tenant chose, so it is parsed like any untrusted input.
public enum RetryAfter {
    /// Seconds to wait from `now` (Unix seconds), from 0 to `limit`; nil for anything else.
    public static func seconds(_ text: String, now: Int64, limit: Int64 = 86_400) -> Int64? {
        let bytes = Array(text.utf8.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed())
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        if bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            // Delay seconds: any length of digits; past the limit is the limit.
            guard bytes.count <= 18, let value = DecimalText.int64(bytes, 0..<bytes.count) else { return limit }
            return min(value, limit)
        }
        guard let date = imfFixdate(bytes) else { return nil }
        let (difference, overflow) = date.subtractingReportingOverflow(now)
        if overflow { return nil }
        return min(max(difference, 0), limit)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

    /// `Day, DD Mon YYYY HH:MM:SS GMT` as Unix seconds.
    static func imfFixdate(_ b: [UInt8]) -> Int64? {
        guard b.count == 29, b[3] == UInt8(ascii: ","), b[4] == 0x20, b[7] == 0x20, b[11] == 0x20, b[16] == 0x20,
            b[19] == UInt8(ascii: ":"), b[22] == UInt8(ascii: ":"), b[25] == 0x20,
            String(decoding: b[26..<29], as: UTF8.self) == "GMT",
            days.contains(String(decoding: b[0..<3], as: UTF8.self)),
            let month = months.firstIndex(of: String(decoding: b[8..<11], as: UTF8.self)),
            let day = digits(b, 5..<7), let year = digits(b, 12..<16), let hour = digits(b, 17..<19),
            let minute = digits(b, 20..<22), let second = digits(b, 23..<25),
            (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        return daysSinceEpoch(year: year, month: Int64(month) + 1, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Unsigned decimal digits only (no sign).
    private static func digits(_ b: [UInt8], _ range: Range<Int>) -> Int64? {
        guard b[range].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return DecimalText.int64(b, range)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm);
    /// years of four digits only, so nothing here can overflow.
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
