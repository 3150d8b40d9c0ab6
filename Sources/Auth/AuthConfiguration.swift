/// How tokens are checked. Read once at start (see `MILLWRIGHT_OIDC_*` in the README).
public struct AuthConfiguration: Sendable {
    /// Trusted issuers; a token's `iss` must equal one exactly.
    public var issuers: [String]
    /// When set, `aud` must contain it or `azp` must equal it.
    public var audience: String?
    /// Client whose `resource_access.<id>.roles` also count.
    public var clientID: String?
    /// Claim naming the tenant(s): a string, an array of strings, or an object keyed by tenant.
    public var tenantClaim: String
    /// Allow `http://` issuers and JWKS addresses (development and tests only).
    public var allowHTTP: Bool
    /// Longest accepted token, in bytes. Default 16 KiB.
    public var maxTokenBytes: Int = 16 * 1024
    /// Clock skew allowed on `exp` and `nbf`. Default 60 s.
    public var leeway: Double = 60
    /// Least time between two key refreshes of one issuer that has keys. Default 30 s.
    public var refreshInterval: Duration = .seconds(30)
    /// Least time between two attempts for an issuer that never answered. Default 2 s.
    public var retryInterval: Duration = .seconds(2)
    /// Time limit of each discovery or JWKS fetch. Default 5 s.
    public var fetchTimeout: Duration = .seconds(5)
    /// Largest discovery or JWKS document accepted. Default 1 MiB.
    public var maxDocumentBytes: Int = 1 << 20

    public init(
        issuers: [String], audience: String? = nil, clientID: String? = nil, tenantClaim: String = "tenant",
        allowHTTP: Bool = false
    ) {
        self.issuers = issuers
        self.audience = audience
        self.clientID = clientID
        self.tenantClaim = tenantClaim
        self.allowHTTP = allowHTTP
    }
}
