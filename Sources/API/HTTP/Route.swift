import Auth
import HTTPTypes
import Hummingbird
import InputParsing
import Logging
import Tenancy

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
typealias TenantHandler = @Sendable (Request, RequestState, TenantContext) async throws -> Response
/// A live stream: it authenticates itself (a bearer token or a stream ticket), so it
/// gets the state to record who opened it.
typealias StreamHandler = @Sendable (Request, inout RequestState) async throws -> Response

/// Who may call a route that is not inside a tenant, checked by the router before its
/// handler runs. Tenant-scoped routes name a `TenantRequirement` instead.
enum Access: Sendable {
    /// No credential needed (health, the API description).
    case anonymous
    /// Platform admins only, outside any tenant (creating and listing tenants).
    case platformAdmin
}

/// Where a tenant-scoped route names its tenant.
enum TenantSource: Sendable {
    /// The `{tenant}` path parameter.
    case path
    /// A query parameter (the InfluxDB `org`); without it the request is refused with
    /// `missing` before authentication.
    case query(String, missing: Problem)
}

/// How a route's errors reach its client.
enum ErrorFormat: Sendable {
    /// `application/problem+json` (every route of Millwright's own API).
    case problem
    /// InfluxDB's error body (`/api/v2/write`, whose clients parse that shape).
    case influx
}

/// One operation: method and path template (`/api/v1/tenants/{tenant}`).
struct Route: Sendable {
    /// The handler with what its caller must be: the router checks it, and for a
    /// tenant-scoped route decides the `TenantContext` once and hands it over.
    enum Body: Sendable {
        case anonymous(Handler)
        case platformAdmin(Handler)
        case tenant(TenantRequirement, TenantHandler)
        /// A live stream, in a tenant: `StreamHandlers` checks its caller.
        case stream(StreamHandler)
    }

    var method: HTTPRequest.Method
    var template: String
    var segments: [Substring]
    var tenantSource = TenantSource.path
    var errorFormat = ErrorFormat.problem
    /// Checks that need no credential and come first (InfluxDB answers a missing
    /// `bucket` with 400 before it looks at the token).
    var preflight: (@Sendable (Request) throws -> Void)?
    var body: Body

    /// A route without tenant: anonymous or platform-admin only.
    init(_ method: HTTPRequest.Method, _ template: String, access: Access, handler: @escaping Handler) {
        self.method = method
        self.template = template
        self.segments = template.split(separator: "/", omittingEmptySubsequences: false)
        switch access {
        case .anonymous: self.body = .anonymous(handler)
        case .platformAdmin: self.body = .platformAdmin(handler)
        }
    }

    /// A tenant-scoped route: the handler gets the context the router decided.
    init(
        _ method: HTTPRequest.Method, _ template: String, tenant requirement: TenantRequirement,
        source: TenantSource = .path, errorFormat: ErrorFormat = .problem,
        preflight: (@Sendable (Request) throws -> Void)? = nil, handler: @escaping TenantHandler
    ) {
        self.method = method
        self.template = template
        self.segments = template.split(separator: "/", omittingEmptySubsequences: false)
        self.tenantSource = source
        self.errorFormat = errorFormat
        self.preflight = preflight
        self.body = .tenant(requirement, handler)
    }

    /// A live stream's GET (its handler decides the tenant with the same rules).
    init(stream template: String, handler: @escaping StreamHandler) {
        self.method = .get
        self.template = template
        self.segments = template.split(separator: "/", omittingEmptySubsequences: false)
        self.body = .stream(handler)
    }

    enum Match {
        case matched([String: String])
        /// The path has the template's shape, but a segment is no id of its kind.
        case invalid(Identifier.Kind)
        case none
    }

    /// The parameters when `path` matches the template. Each parameter is checked
    /// against its id pattern here, before any handler (or statement) sees it.
    func match(_ path: [Substring]) -> Match {
        guard path.count == segments.count else { return .none }
        var parameters: [String: String] = [:]
        var invalid: Identifier.Kind?
        for (pattern, segment) in zip(segments, path) {
            if pattern.hasPrefix("{") {
                guard !segment.isEmpty, let decoded = String(segment).removingPercentEncoding else { return .none }
                let name = String(pattern.dropFirst().dropLast())
                if invalid == nil, let kind = Identifier.Kind(rawValue: name), !Identifier.isValid(decoded, as: kind) {
                    invalid = kind
                }
                parameters[name] = decoded
            } else if pattern != segment {
                return .none
            }
        }
        if let invalid { return .invalid(invalid) }
        return .matched(parameters)
    }
}

/// Finds the route for a request, telling "no such path" (404) from "no such method
/// on this path" (405 with `Allow`).
struct RouteTable: Sendable {
    enum Outcome {
        case found(Route, [String: String])
        case methodNotAllowed([HTTPRequest.Method])
        /// Only templates whose id segments hold text no id can be (404).
        case invalidIdentifier(Identifier.Kind)
        case notFound
    }

    var routes: [Route] = []

    /// Among the templates that match, only the most literal ones count:
    /// `/devices/batch` is the batch resource, not a device named "batch".
    func resolve(method: HTTPRequest.Method, path: String) -> Outcome {
        var path = path
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var matches: [(Route, [String: String])] = []
        var invalid: Identifier.Kind?
        for route in routes {
            switch route.match(segments) {
            case .matched(let parameters): matches.append((route, parameters))
            case .invalid(let kind): invalid = invalid ?? kind
            case .none: break
            }
        }
        guard let fewest = matches.map({ $0.1.count }).min() else {
            if let invalid { return .invalidIdentifier(invalid) }
            return .notFound
        }
        let candidates = matches.filter { $0.1.count == fewest }
        if let found = candidates.first(where: { $0.0.method == method || (method == .head && $0.0.method == .get) }) {
            return .found(found.0, found.1)
        }
        return .methodNotAllowed(candidates.map(\.0.method))
    }
}
