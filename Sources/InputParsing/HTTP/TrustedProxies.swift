import Foundation

/// The proxies whose forwarding headers the service believes
/// (`MILLWRIGHT_TRUSTED_PROXIES`: addresses or CIDRs, IPv4 or IPv6; default none).
///
/// From a trusted peer: the client address is the last `X-Forwarded-For` entry that is
/// not itself a trusted proxy, and `Location` headers are built from
/// `X-Forwarded-Proto` and `X-Forwarded-Host`. From anyone else these headers are
/// ignored: a client cannot choose its logged address or the links it is sent.
public struct TrustedProxies: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        var address: [UInt8]
        var prefix: Int

        func contains(_ bytes: [UInt8]) -> Bool {
            guard bytes.count == address.count else { return false }
            var remaining = prefix
            for (a, b) in zip(address, bytes) {
                if remaining <= 0 { return true }
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if a & mask != b & mask { return false }
                remaining -= 8
            }
            return true
        }
    }

    var networks: [Network] = []

    public static let none = TrustedProxies()

    /// Parses `10.0.0.1, 192.168.0.0/16, ::1`; nil when an entry is not an address or CIDR.
    public init?(_ list: String) {
        for entry in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let bytes = Self.bytes(parts[0]) else { return nil }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let value = Int(parts[1]), (0...bytes.count * 8).contains(value) else { return nil }
                prefix = value
            }
            networks.append(Network(address: bytes, prefix: prefix))
        }
    }

    init() {}

    public var isEmpty: Bool { networks.isEmpty }

    public func trusts(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client behind `peer`: `peer` itself unless it is trusted, else the last
    /// `X-Forwarded-For` entry that is not a trusted proxy.
    public func client(peer: String, forwardedFor: String?) -> String {
        guard trusts(peer), let forwardedFor else { return peer }
        for hop in forwardedFor.split(separator: ",").reversed() {
            let address = hop.trimmingCharacters(in: .whitespaces)
            guard Self.bytes(address) != nil else { return peer }  // garbage: trust nothing of it
            if !trusts(address) { return address }
        }
        return peer
    }

    /// `https://public.host` from a trusted proxy's `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`: `http` or `https`, and a host of letters, digits, `.-:[]`.
    public static func publicBase(proto: String?, host: String?) -> String? {
        guard let proto = proto?.lowercased(), proto == "https" || proto == "http", let host, !host.isEmpty,
            host.utf8.count <= 255,
            host.utf8.allSatisfy({ c in
                (c >= 48 && c <= 58) || (c >= 65 && c <= 93 && c != 64 && c != 92) || (c >= 97 && c <= 122) || c == 45 || c == 46
            })
        else { return nil }
        return "\(proto)://\(host)"
    }

    /// IPv4 (4 bytes) or IPv6 (16 bytes) from text, via inet_pton.
    static func bytes(_ text: String) -> [UInt8]? {
        // inet_pton reads a C string: a NUL would end the text early and hide the rest.
        guard text.utf8.count <= 64, !text.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
