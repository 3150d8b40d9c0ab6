import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import Tenancy

/// A device key as the API shows it; `secret` only in the answer to its creation.
struct KeyBody: Encodable {
    var key: DeviceKey
    var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, name, secret
        case device = "device_id"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key.id, forKey: .id)
        try c.encode(key.deviceID, forKey: .device)
        try c.encode(key.name, forKey: .name)
        try c.encode(key.createdAt, forKey: .createdAt)
        try c.encode(key.expiresAt, forKey: .expiresAt)
        try c.encode(key.lastUsedAt, forKey: .lastUsedAt)
        try c.encodeIfPresent(secret, forKey: .secret)
    }
}

/// `/api/v1/tenants/{tenant}/devices/{device}/keys`: tenant admins only.
struct KeyHandlers: Sendable {
    let database: TenantDatabase
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/keys"

    func routes() -> [Route] {
        [
            Route(.post, Self.base) { request, state in try await create(request, state) },
            Route(.get, Self.base) { request, state in try await list(request, state) },
            Route(.delete, Self.base + "/{key}") { _, state in try await revoke(state) },
        ]
    }

    private func create(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let device = state.parameter("device")
        var reader = try ObjectReader(try await RequestInput.json(request))
        let name = reader.string("name", nullable: true, maxLength: 200)
        var expiresAt: Date?
        if let raw = reader.string("expires_at", nullable: true) {
            if let date = RFC3339.parse(raw) {
                if date <= Date() { reader.rule("expires_at", "in_the_past", "must be in the future") }
                expiresAt = date
            } else {
                reader.rule("expires_at", "invalid_format", "must be an RFC 3339 timestamp")
            }
        }
        reader.rejectUnknown(readOnly: ["id", "secret", "created_at", "last_used_at", "device_id"])
        try reader.finish()
        let (key, credential) = try await database.withActiveTenant(tenant, state: state) { [expiresAt] db in
            try DeviceKeyStoreSQL.create(device: device, name: name, expiresAt: expiresAt, tenant: tenant, on: db)
        }
        var response = try JSONResponse.make(
            .created, KeyBody(key: key, secret: credential.bearerValue),
            headers: [.location: "/api/v1/tenants/\(tenant)/devices/\(pathSegment(device))/keys/\(key.id)"])
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func list(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let device = state.parameter("device")
        let page = try RequestInput.page(request)
        let queries = [
            DeviceStore.findQuery(device), DeviceKeyStoreSQL.listQuery(device: device, after: page.after, limit: page.limit),
        ]
        let keys = try await database.readActiveTenant(tenant, state: state, queries) { results in
            guard try DeviceStore.device(from: results[0]) != nil else { throw RegistryError(.notFound, "no device \(device)") }
            return try results[1].rows.map(DeviceKey.init(row:))
        }
        let next = RequestInput.cursor(after: keys.last?.id, pageFull: keys.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: keys.map { KeyBody(key: $0) }, nextCursor: next))
    }

    private func revoke(_ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let (device, id) = (state.parameter("device"), state.parameter("key"))
        try await database.withActiveTenant(tenant, state: state) { db in
            try DeviceKeyStoreSQL.revoke(device: device, id: id, on: db)
        }
        return JSONResponse.noContent()
    }
}
