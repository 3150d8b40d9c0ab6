import Hummingbird
import Logging
import Metrics
import Synchronization

/// One log line and two series per request: `millwright_http_requests_total` by route
/// template, method and status class, and `millwright_http_request_duration_seconds`.
/// The labels are bounded whatever the paths (templates, known methods, classes), so
/// the metric handles are made once per label set and kept.
final class AccessLog: Sendable {
    private struct Series: Hashable {
        var route: String
        var method: String
        var statusClass: Int
    }

    private let proxies: ProxyHeaders
    private let handles = Mutex<[Series: (Counter, Timer)]>([:])

    init(proxies: ProxyHeaders) {
        self.proxies = proxies
    }

    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    func record(_ request: Request, _ response: Response, state: RequestState, peer: String, elapsed: Duration) {
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var line: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "route": "\(state.route)", "status": "\(response.status.code)",
            "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
            "client": "\(proxies.client(request, peer: peer))",
            "bytes_in": "\(request.headers[.contentLength] ?? "0")",
            "bytes_out": "\(response.body.contentLength.map(String.init) ?? "-")",
            "principal_kind": "\(state.principal?.kind ?? "-")", "principal": "\(state.principal?.subject ?? "-")",
        ]
        if let tenant = state.parameters["tenant"] { line["tenant"] = "\(tenant)" }
        state.logger.info("request", metadata: line)
        // Clients choose methods; the label keeps to the ones HTTP defines.
        let method = Self.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "OTHER"
        let (counter, timer) = handles(Series(route: state.route, method: method, statusClass: Int(response.status.code / 100)))
        counter.increment()
        timer.record(duration: elapsed)
    }

    private func handles(_ series: Series) -> (Counter, Timer) {
        if let found = handles.withLock({ $0[series] }) { return found }
        let made = (
            Counter(
                label: "millwright_http_requests_total",
                dimensions: [("route", series.route), ("method", series.method), ("status_class", "\(series.statusClass)xx")]),
            Timer(
                label: "millwright_http_request_duration_seconds",
                dimensions: [("route", series.route), ("method", series.method)])
        )
        return handles.withLock { handles in
            if let found = handles[series] { return found }
            handles[series] = made
            return made
        }
    }
}
