import Foundation
import Hummingbird
import InputParsing
import Logging
import OpenSSLSupport

/// Each request's id: the client's `X-Request-ID` when it is sane (1-128 of
/// `[A-Za-z0-9._:-]`), else a new random one. It is answered in `X-Request-ID`, put in
/// every problem body and carried by every log line of the request.
enum RequestIdentity {
    static func state(for request: Request, logger: Logger) -> RequestState {
        let requestID = id(from: request.headers[.requestID])
        var logger = logger
        logger[metadataKey: "request_id"] = "\(requestID)"
        return RequestState(requestID: requestID, principal: nil, parameters: [:], route: "-", logger: logger)
    }

    static func id(from header: String?) -> String {
        if let header, RequestID.isAcceptable(header) { return header }
        let bytes = (try? CryptoPrimitives.randomBytes(12)) ?? Array(UUID().uuidString.utf8.prefix(12))
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(24)
        for byte in bytes { text += [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]] }
        return String(decoding: text, as: UTF8.self)
    }
}

/// What the service believes about its peer and its public address, from a trusted
/// proxy's `X-Forwarded-*` headers only.
struct ProxyHeaders: Sendable {
    let trusted: TrustedProxies

    /// The client's address: the peer, or the forwarded one when the peer is trusted.
    func client(_ request: Request, peer: String) -> String {
        trusted.client(peer: peer, forwardedFor: request.headers[.xForwardedFor])
    }

    /// Turns a path-only `Location` into an absolute URL when a trusted proxy said
    /// which scheme and host the client used.
    func absoluteLocation(_ response: inout Response, request: Request, peer: String) {
        guard let location = response.headers[.location], location.hasPrefix("/"), trusted.trusts(peer),
            let base = TrustedProxies.publicBase(
                proto: request.headers[.xForwardedProto], host: request.headers[.xForwardedHost] ?? request.head.authority)
        else { return }
        response.headers[.location] = base + location
    }
}
