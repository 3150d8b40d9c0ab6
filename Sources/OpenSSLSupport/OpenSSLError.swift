internal import COpenSSL

/// A failure inside OpenSSL, with the library's own reason for the log.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var reason: String

    public var description: String { "OpenSSL \(operation) failed: \(reason)" }

    /// Builds the error from OpenSSL's thread-local error queue, emptying it.
    static func fromQueue(_ operation: String) -> OpenSSLError {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(cString: buffer))
        }
        return OpenSSLError(operation: operation, reason: reasons.isEmpty ? "unknown" : reasons.joined(separator: "; "))
    }
}
