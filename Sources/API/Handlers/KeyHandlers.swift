import Auth
import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import JSONText
import Tenancy

/// A device key as the API shows it; `secret` only in the answer to its creation.
struct KeyBody: JSONBodyWriting {
    var key: DeviceKey
    var secret: String?

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("created_at")
        w.date(key.createdAt)
        w.key("device_id")
        w.string(key.deviceID)
        w.key("expires_at")
        w.date(key.expiresAt)
        w.key("id")
        w.string(key.id)
        w.key("last_used_at")
        w.date(key.lastUsedAt)
        w.key("name")
        w.string(key.name)
        if let secret {
            w.key("secret")
            w.string(secret)
        }
        w.endObject()
    }
}

/// `/api/v1/tenants/{tenant}/devices/{device}/keys`: tenant admins only.
struct KeyHandlers: Sendable {
    let keys: any KeyDirectory
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/keys"

    func routes() -> [Route] {
        [
            Route(.post, Self.base, tenant: .member(.tenantAdmin)) { request, state, context in
                try await create(request, state.parameter("device"), context)
            },
            Route(.get, Self.base, tenant: .member(.tenantAdmin)) { request, state, context in
                let page = try RequestInput.page(request)
                let found = try await keys.keys(
                    device: state.parameter("device"), after: page.after, limit: page.limit, in: context)
                let next = RequestInput.cursor(after: found.last?.id, pageFull: found.count == page.limit)
                return try JSONResponse.make(.ok, Page(items: found.map { KeyBody(key: $0) }, nextCursor: next))
            },
            Route(.delete, Self.base + "/{key}", tenant: .member(.tenantAdmin)) { _, state, context in
                try await keys.revokeKey(device: state.parameter("device"), id: state.parameter("key"), in: context)
                return JSONResponse.noContent()
            },
        ]
    }

    private func create(_ request: Request, _ device: String, _ context: TenantContext) async throws -> Response {
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
        let (key, credential) = try await keys.createKey(device: device, name: name, expiresAt: expiresAt, in: context)
        var response = try JSONResponse.make(
            .created, KeyBody(key: key, secret: credential.bearerValue),
            headers: [.location: "/api/v1/tenants/\(context.tenant)/devices/\(pathSegment(device))/keys/\(key.id)"])
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
