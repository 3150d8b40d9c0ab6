import DeviceRegistry
import Hummingbird
import InputParsing
import Tenancy

/// `/api/v1/tenants`: platform admins manage tenants; members read their own.
struct TenantHandlers: Sendable {
    let database: TenantDatabase

    func routes() -> [Route] {
        [
            Route(.post, "/api/v1/tenants") { request, state in try await create(request, state) },
            Route(.get, "/api/v1/tenants") { request, state in try await list(request, state) },
            Route(.get, "/api/v1/tenants/{tenant}") { request, state in try await read(request, state) },
            Route(.patch, "/api/v1/tenants/{tenant}") { request, state in try await update(request, state) },
            Route(.delete, "/api/v1/tenants/{tenant}") { request, state in try await delete(state) },
        ]
    }

    private func create(_ request: Request, _ state: RequestState) async throws -> Response {
        try state.requirePlatformAdmin()
        var reader = try ObjectReader(try await RequestInput.json(request))
        let rawID = reader.string("id", required: true) ?? ""
        let id = TenantID(rawID)
        if reader.has("id"), id == nil {
            reader.rule("id", "invalid_format", "must match ^[a-z0-9][a-z0-9-]{1,62}$")
        }
        let fields = Self.readFields(&reader, base: nil)
        reader.rejectUnknown(readOnly: ["created_at", "updated_at", "version"])
        try reader.finish()
        guard let id, let fields else { throw Problem.badRequest("invalid_body", "the body is incomplete") }
        let tenant = try await database.withPlatform { db in try TenantStore.create(id, fields, on: db) }
        return try JSONResponse.created("/api/v1/tenants/\(tenant.id)", tenant)
    }

    private func list(_ request: Request, _ state: RequestState) async throws -> Response {
        try state.requirePlatformAdmin()
        let page = try RequestInput.page(request)
        let tenants = try await database.withPlatform { db in
            try TenantStore.list(after: page.after, limit: page.limit, on: db)
        }
        let next = RequestInput.cursor(after: tenants.last?.id, pageFull: tenants.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: tenants, nextCursor: next))
    }

    private func read(_ request: Request, _ state: RequestState) async throws -> Response {
        // Members and platform admins alike: a tenant-scoped session sees its own row.
        let id = try state.tenant(minimum: .viewer)
        let tenant = try await database.readActiveTenant(id, state: state, [TenantStore.findQuery(id)]) { results in
            guard let tenant = try TenantStore.tenant(from: results[0]) else { throw RegistryError(.notFound, "no tenant \(id)") }
            return tenant
        }
        return try JSONResponse.conditional(request, tenant)
    }

    private func update(_ request: Request, _ state: RequestState) async throws -> Response {
        try state.requirePlatformAdminForTenant()
        guard let id = TenantID(state.parameter("tenant")) else { throw Problem.notFound() }
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let tenant = try await database.withPlatform { db in
            guard let current = try TenantStore.find(id, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no tenant \(id)")
            }
            guard RequestInput.ifMatchAllows(ifMatch, etag: JSONResponse.entityTag(try JSONResponse.encode(current))) else {
                throw RegistryError(.preconditionFailed, "the tenant has changed since it was read (If-Match)")
            }
            var reader = try ObjectReader(patch)
            let fields = Self.readFields(&reader, base: current)
            reader.rejectUnknown(readOnly: ["id", "created_at", "updated_at", "version"])
            try reader.finish()
            guard let fields else { throw Problem.badRequest("invalid_body", "the patch is incomplete") }
            return try TenantStore.update(id, fields, on: db)
        }
        return try JSONResponse.make(.ok, tenant, etag: true)
    }

    private func delete(_ state: RequestState) async throws -> Response {
        try state.requirePlatformAdminForTenant()
        guard let id = TenantID(state.parameter("tenant")) else { throw Problem.notFound() }
        try await database.withPlatform { db in try TenantStore.delete(id, on: db) }
        return JSONResponse.noContent()
    }

    /// The writable fields, over `base` for a patch (where null resets to the default).
    private static func readFields(_ reader: inout ObjectReader, base: Tenant?) -> TenantFields? {
        var fields = TenantFields(name: base?.name ?? "")
        if let base {
            fields.status = base.status
            fields.deviceLimit = base.deviceLimit
            fields.retentionDays = base.retentionDays
            fields.sensorLimitPerDevice = base.sensorLimitPerDevice
        }
        let defaults = TenantFields(name: "")
        if let name = reader.string("name", required: base == nil, nullable: base != nil, maxLength: 200) {
            if name.trimmingCharacters(in: .whitespaces).isEmpty { reader.rule("name", "empty", "must not be empty") }
            fields.name = name
        } else if base != nil, reader.has("name") {
            reader.rule("name", "required", "cannot be removed")
        }
        if reader.has("status") {
            if let raw = reader.string("status", nullable: true) {
                if let status = Tenant.Status(rawValue: raw) {
                    fields.status = status
                } else {
                    reader.rule("status", "invalid_value", "must be active or suspended")
                }
            } else {
                fields.status = defaults.status
            }
        }
        fields.deviceLimit = reader.nullableInteger(
            "device_limit", in: 0...10_000_000, current: fields.deviceLimit, default: defaults.deviceLimit)
        fields.retentionDays = reader.nullableInteger(
            "retention_days", in: 1...36_500, current: fields.retentionDays, default: defaults.retentionDays)
        fields.sensorLimitPerDevice = reader.nullableInteger(
            "sensor_limit_per_device", in: 1...100_000, current: fields.sensorLimitPerDevice,
            default: defaults.sensorLimitPerDevice)
        return fields
    }
}

extension ObjectReader {
    /// An integer field where null (in a patch) means "back to the default".
    mutating func nullableInteger(_ key: String, in range: ClosedRange<Int>, current: Int, default fallback: Int) -> Int {
        guard has(key) else { return current }
        if case .null = value(key) { return fallback }
        return integer(key, in: range) ?? current
    }
}
