import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which addresses a request may connect to, for URLs a tenant chose (webhooks): only
/// public unicast addresses, checked after DNS resolution, and the connection pinned to
/// the address checked (so a second lookup cannot swap in another).
public enum PublicAddress {
    /// Why an address is refused, or nil for a public unicast address.
    public static func refusal(_ bytes: [UInt8]) -> String? {
        if bytes.count == 4 { return refusalV4(bytes) }
        guard bytes.count == 16 else { return "not an IP address" }
        let head = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return "loopback" }
        // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96):
        // judged by the IPv4 address inside.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return refusalV4(Array(bytes[12..<16]))
        }
        if bytes[0..<12].allSatisfy({ $0 == 0 }) { return "IPv4-compatible" }
        if head == 0x0064 && bytes[2] == 0xff && bytes[3] == 0x9b && bytes[4..<12].allSatisfy({ $0 == 0 }) {
            return refusalV4(Array(bytes[12..<16]))
        }
        if head == 0x2002 { return refusalV4(Array(bytes[2..<6])) }  // 6to4
        if bytes[0] == 0xff { return "multicast" }
        if head & 0xffc0 == 0xfe80 { return "link-local" }
        if head & 0xffc0 == 0xfec0 { return "site-local" }
        if head & 0xfe00 == 0xfc00 { return "private (unique local)" }
        if head == 0x2001 && bytes[2] == 0x0d && bytes[3] == 0xb8 { return "documentation" }
        return nil
    }

    private static func refusalV4(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "unspecified"
        case (10, _): return "private"
        case (127, _): return "loopback"
        case (169, 254): return "link-local"
        case (172, 16...31): return "private"
        case (192, 168): return "private"
        case (100, 64...127): return "shared (carrier-grade NAT)"
        case (198, 18...19): return "benchmarking"
        case (192, 0) where b[2] == 0: return "reserved"
        case (224...239, _): return "multicast"
        case (240...255, _): return "reserved"
        default: return nil
        }
    }

    /// An IPv4 or IPv6 address literal as its bytes; nil for anything else.
    public static func bytes(literal text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// The addresses `host` resolves to, as bytes with their text form. Blocking.
    static func resolve(_ host: String) throws(HTTPClientError) -> [(bytes: [UInt8], text: String)] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            throw HTTPClientError(code: .transfer, message: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var addresses: [(bytes: [UInt8], text: String)] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    var v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    let bytes = withUnsafeBytes(of: &v4) { Array($0) }
                    addresses.append((bytes, bytes.map(String.init).joined(separator: ".")))
                } else if entry.pointee.ai_family == AF_INET6 {
                    var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    let bytes = withUnsafeBytes(of: &v6) { Array($0) }
                    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count))
                    addresses.append((bytes, "[" + String(cString: text) + "]"))
                }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }

    /// The `CURLOPT_RESOLVE` entry pinning `url`'s host to a checked public address;
    /// throws `.addressNotAllowed` when any address it resolves to is not public.
    static func pin(_ url: String) throws(HTTPClientError) -> String? {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", var host = parsed.host, !host.isEmpty
        else {
            throw HTTPClientError(code: .invalidRequest, message: "not an http(s) URL")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = parsed.port ?? (scheme == "https" ? 443 : 80)
        let addresses = try resolve(host)
        guard let chosen = addresses.first else {
            throw HTTPClientError(code: .transfer, message: "\(host) has no address")
        }
        for address in addresses {
            if let reason = refusal(address.bytes) {
                throw HTTPClientError(
                    code: .addressNotAllowed, message: "\(host) resolves to \(address.text), a \(reason) address")
            }
        }
        // An address literal is connected to as written: nothing to pin.
        if bytes(literal: host) != nil { return nil }
        return "\(host):\(port):\(chosen.text)"
    }
}
