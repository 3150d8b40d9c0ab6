import DeviceRegistry
import Hummingbird
import InputParsing
import JSONText
import Tenancy

/// A tenant as the API shows it.
struct TenantBody: JSONBodyWriting {
    var tenant: Tenant

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("alert_rule_limit")
        w.integer(tenant.alertRuleLimit)
        w.key("created_at")
        w.date(tenant.createdAt)
        w.key("device_limit")
        w.integer(tenant.deviceLimit)
        w.key("id")
        w.string(tenant.id)
        w.key("name")
        w.string(tenant.name)
        w.key("retention_days")
        w.integer(tenant.retentionDays)
        w.key("sensor_limit_per_device")
        w.integer(tenant.sensorLimitPerDevice)
        w.key("status")
        w.string(tenant.status.rawValue)
        w.key("updated_at")
        w.date(tenant.updatedAt)
        w.key("version")
        w.integer(tenant.version)
        w.endObject()
    }
}

/// `/api/v1/tenants`: platform admins manage tenants; members read their own.
struct TenantHandlers: Sendable {
    let tenants: any TenantDirectory

    func routes() -> [Route] {
        [
            Route(.post, "/api/v1/tenants", access: .platformAdmin) { request, _ in try await create(request) },
            Route(.get, "/api/v1/tenants", access: .platformAdmin) { request, _ in
                let page = try RequestInput.page(request)
                let found = try await tenants.tenants(after: page.after, limit: page.limit)
                let next = RequestInput.cursor(after: found.last?.id, pageFull: found.count == page.limit)
                return try JSONResponse.make(.ok, Page(items: found.map(TenantBody.init), nextCursor: next))
            },
            // Members and platform admins alike read a tenant.
            Route(.get, "/api/v1/tenants/{tenant}", tenant: .member(.viewer)) { request, _, context in
                try JSONResponse.conditional(request, TenantBody(tenant: try await tenants.tenant(in: context)))
            },
            Route(.patch, "/api/v1/tenants/{tenant}", tenant: .platformAdmin) { request, _, context in
                try await update(request, context.tenant)
            },
            Route(.delete, "/api/v1/tenants/{tenant}", tenant: .platformAdmin) { _, _, context in
                try await tenants.deleteTenant(context.tenant)
                return JSONResponse.noContent()
            },
        ]
    }

    private func create(_ request: Request) async throws -> Response {
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
        let tenant = try await tenants.createTenant(id, fields)
        return try JSONResponse.created("/api/v1/tenants/\(tenant.id)", TenantBody(tenant: tenant))
    }

    private func update(_ request: Request, _ id: TenantID) async throws -> Response {
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let tenant = try await tenants.updateTenant(id) { current in
            guard
                RequestInput.ifMatchAllows(
                    ifMatch, etag: JSONResponse.entityTag(JSONResponse.encode(TenantBody(tenant: current))))
            else {
                throw RegistryError(.preconditionFailed, "the tenant has changed since it was read (If-Match)")
            }
            var reader = try ObjectReader(patch)
            let fields = Self.readFields(&reader, base: current)
            reader.rejectUnknown(readOnly: ["id", "created_at", "updated_at", "version"])
            try reader.finish()
            guard let fields else { throw Problem.badRequest("invalid_body", "the patch is incomplete") }
            return fields
        }
        return try JSONResponse.make(.ok, TenantBody(tenant: tenant), etag: true)
    }

    /// The writable fields, over `base` for a patch (where null resets to the default).
    private static func readFields(_ reader: inout ObjectReader, base: Tenant?) -> TenantFields? {
        var fields = TenantFields(name: base?.name ?? "")
        if let base {
            fields.status = base.status
            fields.deviceLimit = base.deviceLimit
            fields.retentionDays = base.retentionDays
            fields.sensorLimitPerDevice = base.sensorLimitPerDevice
            fields.alertRuleLimit = base.alertRuleLimit
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
        fields.alertRuleLimit = reader.nullableInteger(
            "alert_rule_limit", in: 0...100_000, current: fields.alertRuleLimit, default: defaults.alertRuleLimit)
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
