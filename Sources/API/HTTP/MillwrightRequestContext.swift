import Hummingbird
import NIOCore

/// Hummingbird's per-request context, plus the peer's address for the access log.
struct MillwrightRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address (no port), or "-".
    var clientAddress: String { remoteAddress?.ipAddress ?? "-" }
}
