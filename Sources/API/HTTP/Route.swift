import Auth
import HTTPTypes
import Hummingbird
import Logging

/// What a handler gets besides the request: who is calling, the path's parameters,
/// the request id and a logger that carries it.
public struct RequestState: Sendable {
    public var requestID: String
    public var principal: Principal?
    public var parameters: [String: String]
    public var route: String
    public var logger: Logger

    /// A path parameter the route template names (always present when routed).
    func parameter(_ name: String) -> String { parameters[name] ?? "" }
}

typealias Handler = @Sendable (Request, RequestState) async throws -> Response

/// One operation: method and path template (`/api/v1/tenants/{tenant}`).
struct Route: Sendable {
    var method: HTTPRequest.Method
    var template: String
    var segments: [Substring]
    /// Whether the route needs a verified principal.
    var authenticated: Bool
    var handler: Handler

    init(_ method: HTTPRequest.Method, _ template: String, authenticated: Bool = true, handler: @escaping Handler) {
        self.method = method
        self.template = template
        self.segments = template.split(separator: "/", omittingEmptySubsequences: false)
        self.authenticated = authenticated
        self.handler = handler
    }

    /// The parameters when `path` matches the template.
    func match(_ path: [Substring]) -> [String: String]? {
        guard path.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (pattern, segment) in zip(segments, path) {
            if pattern.hasPrefix("{") {
                guard !segment.isEmpty, let decoded = String(segment).removingPercentEncoding else { return nil }
                parameters[String(pattern.dropFirst().dropLast())] = decoded
            } else if pattern != segment {
                return nil
            }
        }
        return parameters
    }
}

/// Finds the route for a request, telling "no such path" (404) from "no such method
/// on this path" (405 with `Allow`).
struct RouteTable: Sendable {
    enum Outcome {
        case found(Route, [String: String])
        case methodNotAllowed([HTTPRequest.Method])
        case notFound
    }

    var routes: [Route] = []

    /// Among the templates that match, only the most literal ones count:
    /// `/devices/batch` is the batch resource, not a device named "batch".
    func resolve(method: HTTPRequest.Method, path: String) -> Outcome {
        var path = path
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let matches = routes.compactMap { route in route.match(segments).map { (route, $0) } }
        guard let fewest = matches.map({ $0.1.count }).min() else { return .notFound }
        let candidates = matches.filter { $0.1.count == fewest }
        if let found = candidates.first(where: { $0.0.method == method || (method == .head && $0.0.method == .get) }) {
            return .found(found.0, found.1)
        }
        return .methodNotAllowed(candidates.map(\.0.method))
    }
}
