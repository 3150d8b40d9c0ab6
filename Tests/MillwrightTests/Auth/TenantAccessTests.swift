import Tenancy
import Testing

@testable import Auth

/// The access decision on its own: which principal may act in which tenant, with which
/// role, and which refusal (404 outside, 403 inside) it gets otherwise.
@Suite("Tenant access")
struct TenantAccessTests {
    static func user(_ roles: Set<Role>, _ tenants: [String]) -> Principal {
        .user(
            UserPrincipal(issuer: "i", subject: "s", username: nil, roles: roles, tenants: Set(tenants.compactMap(TenantID.init)))
        )
    }

    static let device = Principal.device(DevicePrincipal(tenant: TenantID("acme")!, deviceID: "press-1", keyID: "k"))

    @Test(
        "Members act with their highest role; outsiders are told nothing; device keys only write metrics",
        arguments: [
            (user([.viewer], ["acme"]), "acme", TenantRequirement.member(.viewer), Role?.some(.viewer), AccessDenied.Kind?.none),
            (user([.viewer, .tenantAdmin], ["acme"]), "acme", .member(.tenantAdmin), .tenantAdmin, nil),
            (user([.viewer], ["acme"]), "acme", .member(.tenantAdmin), nil, .forbidden),
            (user([.viewer], ["acme"]), "acme", .metricsWriter, nil, .forbidden),
            (user([.metricsWriter], ["acme"]), "acme", .metricsWriter, .metricsWriter, nil),
            (user([.tenantAdmin], ["acme"]), "acme", .platformAdmin, nil, .forbidden),
            (user([.tenantAdmin], ["acme"]), "beta", .member(.viewer), nil, .notFound),
            (user([], ["acme"]), "acme", .member(.viewer), nil, .forbidden),
            (user([.platformAdmin], []), "beta", .platformAdmin, .platformAdmin, nil),
            (user([.platformAdmin], []), "Not-A-Tenant", .member(.viewer), nil, .notFound),
            (device, "acme", .metricsWriter, .metricsWriter, nil),
            (device, "acme", .member(.viewer), nil, .forbidden),
            (device, "beta", .metricsWriter, nil, .notFound),
        ])
    func decision(
        _ principal: Principal, _ tenant: String, _ requirement: TenantRequirement, _ role: Role?, _ refusal: AccessDenied.Kind?
    ) {
        do {
            let context = try principal.access(to: tenant, requiring: requirement)
            #expect(refusal == nil, "granted where \(String(describing: refusal)) was due")
            #expect(context.role == role)
            #expect(context.tenant.rawValue == tenant)
            #expect(context.principal == principal)
            #expect(context.isPlatformAdmin == (role == .platformAdmin))
            #expect(context.onlyDevice == (principal == Self.device ? "press-1" : nil))
        } catch {
            #expect(error.kind == refusal, "\(error.message)")
        }
    }

    @Test("Tenant claim values that no tenant id can be are dropped when the token is read")
    func claims() {
        #expect(TokenVerifier.tenants(from: ["acme", "Bad Name", "", 7]) == [TenantID("acme")!])
        #expect(TokenVerifier.tenants(from: ["acme": [:], "x": [:]]) == [TenantID("acme")!])
        #expect(TokenVerifier.tenants(from: "beta") == [TenantID("beta")!])
        #expect(TokenVerifier.tenants(from: nil).isEmpty)
    }
}
