/// Aggregation intervals: `30s`, `1m`, `15m`, `1h`, `1d`, `7d`.
public enum Interval {
    /// The longest interval: ten years.
    public static let maxSeconds: Int64 = 3650 * 86_400

    /// Seconds of a whole number of `s`, `m`, `h` or `d`, from 1 s to ten years; nil otherwise.
    public static func seconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 12 else { return nil }
        let factor: Int64
        switch bytes[bytes.count - 1] {
        case UInt8(ascii: "s"): factor = 1
        case UInt8(ascii: "m"): factor = 60
        case UInt8(ascii: "h"): factor = 3600
        case UInt8(ascii: "d"): factor = 86_400
        default: return nil
        }
        guard bytes[0] != UInt8(ascii: "-"), let count = DecimalText.int64(bytes, 0..<bytes.count - 1), count >= 1,
            count <= maxSeconds / factor
        else { return nil }
        return count * factor
    }

    /// A duration in rules: `0s` (any unit) or what `seconds` accepts.
    public static func duration(_ text: String) -> Int64? {
        if text == "0" || (text.utf8.count == 2 && text.hasPrefix("0") && seconds("1" + text.dropFirst()) != nil) {
            return 0
        }
        return seconds(text)
    }
}
