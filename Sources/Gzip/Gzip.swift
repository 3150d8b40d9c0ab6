internal import CZlib

/// Decompression of gzip request bodies (`Content-Encoding: gzip`) with a hard cap on
/// the output, so that a small body cannot expand without bound (a "gzip bomb").
public enum Gzip {
    public struct Error: Swift.Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// The output would exceed the cap.
            case tooLarge
            /// The input is not a valid gzip stream.
            case corrupt
        }
        public var kind: Kind
        public init(kind: Kind) { self.kind = kind }
    }

    /// Inflates `input` (one or more concatenated gzip members), refusing more than
    /// `limit` bytes of output.
    public static func decompress(_ input: [UInt8], limit: Int) throws(Error) -> [UInt8] {
        // The z_stream lives on the heap and is ended before return: zlib keeps a
        // pointer back to it, so it must not move while in use.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        // 16 + MAX_WBITS: gzip wrapper only.
        guard czlib_inflate_init2(stream, 16 + 15) == Z_OK else { throw Error(kind: .corrupt) }
        defer { inflateEnd(stream) }

        var output = [UInt8](repeating: 0, count: min(limit + 1, max(4096, input.count * 4)))
        var produced = 0
        var status = Z_OK
        var mutableInput = input
        return try mutableInput.withUnsafeMutableBufferPointer { (source) throws(Error) -> [UInt8] in
            stream.pointee.next_in = source.baseAddress
            stream.pointee.avail_in = UInt32(source.count)
            while true {
                if produced == output.count {
                    guard output.count <= limit else { throw Error(kind: .tooLarge) }
                    output += [UInt8](repeating: 0, count: min(output.count, limit + 1 - output.count))
                }
                status = output.withUnsafeMutableBufferPointer { target in
                    stream.pointee.next_out = target.baseAddress!.advanced(by: produced)
                    stream.pointee.avail_out = UInt32(target.count - produced)
                    let result = inflate(stream, Z_NO_FLUSH)
                    produced = target.count - Int(stream.pointee.avail_out)
                    return result
                }
                if produced > limit { throw Error(kind: .tooLarge) }
                switch status {
                case Z_STREAM_END:
                    // Another member may follow (concatenated gzip files are one stream).
                    if stream.pointee.avail_in == 0 { return Array(output[..<produced]) }
                    guard inflateReset(stream) == Z_OK else { throw Error(kind: .corrupt) }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.pointee.avail_out > 0:
                    // No progress with room left: the input ended early.
                    throw Error(kind: .corrupt)
                case Z_BUF_ERROR:
                    continue
                default:
                    throw Error(kind: .corrupt)
                }
            }
        }
    }
}
