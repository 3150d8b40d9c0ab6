import CurlClient
import Foundation
import Logging
import Metrics
import Synchronization

/// Signing keys of every trusted issuer, fetched over libcurl (OIDC discovery, then
/// `jwks_uri`) and kept in memory.
///
/// An unknown `kid` triggers a refresh at most once per `refreshInterval` per issuer
/// (concurrent callers share one fetch). When an issuer is unreachable its cached keys
/// stay in use; an issuer whose keys were never loaded makes verification answer
/// `.unavailable`.
///
/// Start: `JWKSCache(configuration:logger:)` (keys load on first use, or `refreshAll()`);
/// shut down: nothing to release.
public actor JWKSCache {
    struct IssuerState {
        var keys: [String: VerificationKey] = [:]
        var loaded = false
        var lastAttempt: ContinuousClock.Instant?
        var inFlight: Task<Void, Never>?
    }

    private let configuration: AuthConfiguration
    private let client: CurlHTTPClient
    private let logger: Logger
    private var issuers: [String: IssuerState] = [:]
    private let clock = ContinuousClock()

    /// Bumped whenever any issuer's key set changes; verified tokens remembered under an
    /// older generation are verified again.
    private let generationCounter = Mutex(0)
    public nonisolated var generation: Int { generationCounter.withLock { $0 } }

    public init(configuration: AuthConfiguration, client: CurlHTTPClient = CurlHTTPClient(), logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
    }

    /// The key `kid` of `issuer`, refreshing once if it is not known yet.
    func key(issuer: String, kid: String) async throws(AuthError) -> VerificationKey {
        if let key = issuers[issuer]?.keys[kid] { return key }
        await refreshIfAllowed(issuer)
        let state = issuers[issuer] ?? IssuerState()
        if let key = state.keys[kid] { return key }
        guard state.loaded else {
            throw AuthError(
                kind: .unavailable, reason: "issuer_unavailable",
                message: "the identity provider's signing keys cannot be fetched right now")
        }
        throw .invalid("unknown_key", "the token's signing key is not published by its issuer")
    }

    /// Fetches every issuer's keys now (at start and periodically).
    public func refreshAll() async {
        for issuer in configuration.issuers {
            await refresh(issuer)
        }
    }

    private func refreshIfAllowed(_ issuer: String) async {
        let state = issuers[issuer] ?? IssuerState()
        if let inFlight = state.inFlight {
            await inFlight.value
            return
        }
        let interval = state.loaded ? configuration.refreshInterval : configuration.retryInterval
        if let last = state.lastAttempt, clock.now - last < interval { return }
        await refresh(issuer)
    }

    private func refresh(_ issuer: String) async {
        if let inFlight = issuers[issuer]?.inFlight {
            await inFlight.value
            return
        }
        let task = Task { await self.fetchAndStore(issuer) }
        issuers[issuer, default: IssuerState()].inFlight = task
        issuers[issuer, default: IssuerState()].lastAttempt = clock.now
        await task.value
        issuers[issuer]?.inFlight = nil
    }

    private func fetchAndStore(_ issuer: String) async {
        do {
            let keys = try await fetchKeys(issuer)
            if issuers[issuer]?.keys != keys { generationCounter.withLock { $0 += 1 } }
            issuers[issuer, default: IssuerState()].keys = keys
            issuers[issuer, default: IssuerState()].loaded = true
            logger.info("signing keys loaded", metadata: ["issuer": "\(issuer)", "keys": "\(keys.count)"])
            Counter(label: "millwright_jwks_fetches_total", dimensions: [("issuer", issuer), ("outcome", "ok")]).increment()
        } catch {
            Counter(label: "millwright_jwks_fetches_total", dimensions: [("issuer", issuer), ("outcome", "failed")]).increment()
            logger.warning(
                "signing keys could not be fetched; cached keys stay in use",
                metadata: ["issuer": "\(issuer)", "error": "\(error)"])
        }
    }

    private func fetchKeys(_ issuer: String) async throws -> [String: VerificationKey] {
        let discoveryURL =
            issuer.hasSuffix("/") ? issuer + ".well-known/openid-configuration" : issuer + "/.well-known/openid-configuration"
        let discovery = try await fetchJSON(discoveryURL)
        guard let announced = discovery["issuer"] as? String, announced == issuer else {
            throw FetchError("discovery document names issuer \(discovery["issuer"] ?? "none"), expected \(issuer)")
        }
        guard let jwksURI = discovery["jwks_uri"] as? String, isAllowedURL(jwksURI) else {
            throw FetchError("discovery document has no acceptable jwks_uri")
        }
        let response = try await get(jwksURI)
        let parsed = try JWKSParser.parse(response)
        if !parsed.skipped.isEmpty {
            logger.debug("JWKS keys skipped", metadata: ["issuer": "\(issuer)", "skipped": "\(parsed.skipped)"])
        }
        return parsed.keys
    }

    private func fetchJSON(_ url: String) async throws -> [String: Any] {
        let body = try await get(url)
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw FetchError("\(url) is not a JSON object")
        }
        return object
    }

    private func get(_ url: String) async throws -> [UInt8] {
        guard isAllowedURL(url) else { throw FetchError("\(url) is not an https address") }
        let response = try await client.perform(
            HTTPClientRequest(
                url: url, headers: [("Accept", "application/json")], timeout: configuration.fetchTimeout,
                maxResponseBytes: configuration.maxDocumentBytes))
        guard response.status == 200 else { throw FetchError("\(url) answered \(response.status)") }
        return response.body
    }

    private func isAllowedURL(_ url: String) -> Bool {
        url.hasPrefix("https://") || (configuration.allowHTTP && url.hasPrefix("http://"))
    }
}

struct FetchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
