import InputParsing
import Testing

/// Which forwarding headers count: pure logic, no I/O.
@Suite("Trusted proxies")
struct TrustedProxiesTests {
    @Test("Addresses and CIDRs, IPv4 and IPv6; anything else is refused")
    func parsing() throws {
        let proxies = try #require(TrustedProxies("10.0.0.5, 192.168.0.0/16, fd00::/8, ::1"))
        #expect(proxies.trusts("10.0.0.5"))
        #expect(!proxies.trusts("10.0.0.6"))
        #expect(proxies.trusts("192.168.44.1"))
        #expect(!proxies.trusts("192.169.0.1"))
        #expect(proxies.trusts("fd12:3456::1"))
        #expect(proxies.trusts("::1"))
        #expect(!proxies.trusts("fe80::1"))
        #expect(!proxies.trusts("not an address"))
        #expect(TrustedProxies("10.0.0.0/33") == nil)
        #expect(TrustedProxies("example.com") == nil)
        #expect(TrustedProxies("")?.isEmpty == true)
        // Found by the fuzzer: an entry of only a slash indexed past an empty split.
        #expect(TrustedProxies("/") == nil)
        #expect(TrustedProxies("/8") == nil)
        #expect(TrustedProxies("10.0.0.0/") == nil)
        // inet_pton would stop at a NUL and trust what came before it.
        #expect(!proxies.trusts("10.0.0.5\u{0}evil"))
    }

    @Test("The client is the last untrusted X-Forwarded-For hop, and only behind a trusted peer")
    func client() throws {
        let proxies = try #require(TrustedProxies("127.0.0.1, 10.0.0.0/8"))
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "203.0.113.7") == "203.0.113.7")
        // A client-sent entry before the real one does not count.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "1.2.3.4, 203.0.113.7, 10.1.1.1") == "203.0.113.7")
        #expect(proxies.client(peer: "198.51.100.9", forwardedFor: "203.0.113.7") == "198.51.100.9")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "203.0.113.7, garbage") == "127.0.0.1")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: nil) == "127.0.0.1")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: "203.0.113.7\u{0}x") == "127.0.0.1")
        #expect(TrustedProxies.none.client(peer: "127.0.0.1", forwardedFor: "203.0.113.7") == "127.0.0.1")
    }
}
