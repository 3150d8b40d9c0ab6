/// Client-sent request ids (`X-Request-ID`).
public enum RequestID {
    /// Whether a client's id is kept: 1-128 of `[A-Za-z0-9._:-]`, so that it is safe
    /// in logs and headers. Any other value is replaced by one the service makes.
    public static func isAcceptable(_ header: String) -> Bool {
        (1...128).contains(header.utf8.count)
            && header.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45 || c == 58
            }
    }
}
