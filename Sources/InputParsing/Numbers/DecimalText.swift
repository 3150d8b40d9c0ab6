import Foundation

/// Decimal numbers read from bytes a client sent: every byte is checked to be a digit
/// before it is used, and overflow is reported instead of trapping.
public enum DecimalText {
    /// `-?[0-9]+` and nothing else, as an Int64; nil for any other byte, no digits, a
    /// range outside `bytes`, or a value that does not fit.
    public static func int64(_ bytes: [UInt8], _ range: Range<Int>) -> Int64? {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, !range.isEmpty else { return nil }
        let negative = bytes[range.lowerBound] == UInt8(ascii: "-")
        let digits = negative ? range.lowerBound + 1..<range.upperBound : range
        guard !digits.isEmpty else { return nil }
        var value: Int64 = 0
        for i in digits {
            guard let digit = digitValue(bytes[i]) else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            // Accumulated on the negative side, so that Int64.min fits.
            let (next, o2) =
                negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    /// `[0-9]+` and nothing else, as a UInt64; nil otherwise or when it does not fit.
    public static func uint64(_ bytes: [UInt8], _ range: Range<Int>) -> UInt64? {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, !range.isEmpty else { return nil }
        var value: UInt64 = 0
        for i in range {
            guard let digit = digitValue(bytes[i]) else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    /// The value of an ASCII digit, nil for any other byte.
    @inline(__always)
    public static func digitValue(_ byte: UInt8) -> Int64? {
        byte >= 0x30 && byte <= 0x39 ? Int64(byte &- 0x30) : nil
    }

    /// strtod over a NUL-terminated copy of `bytes[range]`; nil unless it reads all of
    /// it (so `nan`, `inf` and hex are the caller's to refuse before calling).
    public static func double(_ bytes: [UInt8], _ range: Range<Int>) -> Double? {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, !range.isEmpty else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: range.count + 1) { buffer in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            for i in range {
                buffer[offset] = CChar(bitPattern: bytes[i])
                offset += 1
            }
            buffer[range.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(base, &end)
            return end == base.advanced(by: range.count) ? value : nil
        }
    }
}
