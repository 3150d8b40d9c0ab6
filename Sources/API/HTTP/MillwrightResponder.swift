import Auth
import HTTPTypes
import Hummingbird
import InputParsing
import Logging
import Tenancy

/// The service's single responder, assembled from small parts: the request id
/// (`RequestIdentity`), routing (404/405, `RouteTable`), authentication and the tenant
/// decision (`route`), the handler, error rendering (`ErrorMapping`), proxy headers
/// (`ProxyHeaders`) and the access log with its metrics (`AccessLog`).
struct MillwrightResponder: HTTPResponder {
    typealias Context = MillwrightRequestContext

    let routes: RouteTable
    let authenticator: any Authenticating
    let logger: Logger
    let proxies: ProxyHeaders
    let accessLog: AccessLog

    init(routes: RouteTable, authenticator: any Authenticating, logger: Logger, trustedProxies: TrustedProxies = .none) {
        self.routes = routes
        self.authenticator = authenticator
        self.logger = logger
        self.proxies = ProxyHeaders(trusted: trustedProxies)
        self.accessLog = AccessLog(proxies: proxies)
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        var state = RequestIdentity.state(for: request, logger: logger)
        var format = ErrorFormat.problem
        var response: Response
        do {
            response = try await route(request, &state, &format)
        } catch {
            response = ErrorMapping.response(for: error, format: format, state: state)
        }
        response.headers[.requestID] = state.requestID
        proxies.absoluteLocation(&response, request: request, peer: context.clientAddress)
        if request.method == .head { response.body = ResponseBody() }
        accessLog.record(request, response, state: state, peer: context.clientAddress, elapsed: ContinuousClock.now - started)
        return response
    }

    /// Finds the route, checks its caller and runs its handler.
    private func route(_ request: Request, _ state: inout RequestState, _ format: inout ErrorFormat) async throws -> Response {
        switch routes.resolve(method: request.method, path: request.uri.path) {
        case .notFound:
            throw Problem.notFound("no route for \(request.uri.path)")
        case .invalidIdentifier(let kind):
            throw Problem.invalidIdentifier(kind)
        case .methodNotAllowed(let allowed):
            var headers = HTTPFields()
            headers[.allow] = Set(allowed.map(\.rawValue) + (allowed.contains(.get) ? ["HEAD"] : [])).sorted().joined(
                separator: ", ")
            throw Problem(
                .methodNotAllowed, code: "method_not_allowed", detail: "\(request.method.rawValue) is not allowed here",
                headers: headers)
        case .found(let route, let parameters):
            state.route = route.template
            state.parameters = parameters
            format = route.errorFormat
            try route.preflight?(request)
            switch route.body {
            case .anonymous(let handler):
                return try await handler(request, state)
            case .stream(let handler):
                return try await handler(request, &state)
            case .platformAdmin(let handler):
                _ = try await authenticate(request, &state).platformAdmin()
                return try await handler(request, state)
            case .tenant(let requirement, let handler):
                let raw: String
                switch route.tenantSource {
                case .path:
                    raw = state.parameter("tenant")
                case .query(let name, let missing):
                    guard let value = request.uri.queryParameters[Substring(name)].map(String.init), !value.isEmpty else {
                        throw missing
                    }
                    raw = value
                    state.parameters["tenant"] = value
                }
                let principal = try await authenticate(request, &state)
                // The one place where a request's tenant is decided.
                let context = try principal.access(to: raw, requiring: requirement)
                return try await handler(request, state, context)
            }
        }
    }

    private func authenticate(_ request: Request, _ state: inout RequestState) async throws -> Principal {
        let principal = try await authenticator.authenticate(request.headers[.authorization])
        state.principal = principal
        return principal
    }
}
