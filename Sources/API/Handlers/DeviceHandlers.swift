import Auth
import DeviceRegistry
import Hummingbird
import InputParsing
import Tenancy

/// `/api/v1/tenants/{tenant}/devices`: viewers read, tenant admins change.
struct DeviceHandlers: Sendable {
    let devices: any DeviceDirectory
    let timeZones: TimeZoneNames
    static let base = "/api/v1/tenants/{tenant}/devices"

    func routes() -> [Route] {
        [
            Route(.post, Self.base, tenant: .member(.tenantAdmin)) { request, _, context in try await create(request, context) },
            Route(.get, Self.base, tenant: .member(.viewer)) { request, _, context in try await list(request, context) },
            Route(.post, Self.base + "/batch", tenant: .member(.tenantAdmin)) { request, _, context in
                try await batch(request, context)
            },
            Route(.get, Self.base + "/{device}", tenant: .member(.viewer)) { request, state, context in
                try await read(request, state.parameter("device"), context)
            },
            Route(.patch, Self.base + "/{device}", tenant: .member(.tenantAdmin)) { request, state, context in
                try await update(request, state.parameter("device"), context)
            },
            Route(.delete, Self.base + "/{device}", tenant: .member(.tenantAdmin)) { _, state, context in
                try await devices.deleteDevice(state.parameter("device"), in: context)
                return JSONResponse.noContent()
            },
        ]
    }

    private func create(_ request: Request, _ context: TenantContext) async throws -> Response {
        var reader = try ObjectReader(try await RequestInput.json(request))
        let id = DeviceInput.readID(&reader)
        let fields = DeviceInput.readFields(&reader, timeZones: timeZones)
        reader.rejectUnknown(readOnly: DeviceInput.readOnly)
        try reader.finish()
        guard let id else { throw Problem.badRequest("invalid_body", "id is required") }
        let device = try await devices.createDevices([NewDevice(id: id, fields: fields)], in: context)[0]
        return try JSONResponse.created(
            "/api/v1/tenants/\(context.tenant)/devices/\(pathSegment(device.id))", DeviceBody(device: device))
    }

    private func batch(_ request: Request, _ context: TenantContext) async throws -> Response {
        var reader = try ObjectReader(try await RequestInput.json(request))
        guard let list = reader.value("devices", required: true), case .array(let entries) = list else {
            reader.rejectUnknown()
            try reader.finish()
            throw Problem.badRequest("invalid_body", "devices must be an array")
        }
        reader.rejectUnknown()
        if entries.isEmpty || entries.count > 1000 { reader.rule("devices", "invalid_count", "must hold 1 to 1000 devices") }
        var created: [NewDevice] = []
        var seen = Set<String>()
        for (index, entry) in entries.enumerated() {
            var item = try ObjectReader(entry, pointer: "/devices/\(index)")
            let id = DeviceInput.readID(&item)
            let fields = DeviceInput.readFields(&item, timeZones: timeZones)
            if let id, !seen.insert(id).inserted { item.rule("id", "duplicate", "appears twice in this batch") }
            var sensors: [(key: String, fields: SensorFields)] = []
            if let list = item.value("sensors") {
                if case .array(let sensorEntries) = list {
                    var keys = Set<String>()
                    for (sensorIndex, sensorEntry) in sensorEntries.enumerated() {
                        var sensorReader = try ObjectReader(sensorEntry, pointer: "/devices/\(index)/sensors/\(sensorIndex)")
                        let key = SensorInput.readKey(&sensorReader)
                        let sensorFields = SensorInput.readFields(&sensorReader, current: nil)
                        if let key, !keys.insert(key).inserted {
                            sensorReader.rule("key", "duplicate", "appears twice on this device")
                        }
                        sensorReader.rejectUnknown(readOnly: SensorInput.readOnly)
                        item.absorb(sensorReader)
                        if let key, let sensorFields { sensors.append((key, sensorFields)) }
                    }
                } else {
                    item.typeError("sensors", expected: "an array", got: list)
                }
            }
            item.rejectUnknown(readOnly: DeviceInput.readOnly)
            reader.absorb(item)
            if let id { created.append(NewDevice(id: id, fields: fields, sensors: sensors)) }
        }
        try reader.finish()
        let made = try await devices.createDevices(created, in: context)
        return try JSONResponse.make(.created, ["devices": made.map(DeviceBody.init)])
    }

    private func list(_ request: Request, _ context: TenantContext) async throws -> Response {
        let page = try RequestInput.page(request)
        var filter = DeviceFilter()
        for label in request.uri.queryParameters.getAll("label") {
            let parts = label.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw Problem.badRequest(
                    "invalid_parameter", "label filters are key:value",
                    errors: [.init(pointer: "label", code: "invalid_format", message: "expected key:value")])
            }
            filter.labels[String(parts[0])] = String(parts[1])
        }
        if let raw = request.uri.queryParameters["status"] {
            guard let status = DeviceStatus(rawValue: String(raw)) else {
                throw Problem.badRequest(
                    "invalid_parameter", "status is never_seen, online or offline",
                    errors: [.init(pointer: "status", code: "invalid_value", message: "expected never_seen, online or offline")])
            }
            filter.status = status
        }
        let (found, truncated) = try await devices.devices(filter, after: page.after, limit: page.limit, in: context)
        let next = RequestInput.cursor(after: found.last?.id, pageFull: truncated || found.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: found.map(DeviceBody.init), nextCursor: next))
    }

    private func read(_ request: Request, _ id: String, _ context: TenantContext) async throws -> Response {
        let device = try await devices.device(id, in: context)
        return try JSONResponse.conditional(request, DeviceBody(device: device))
    }

    private func update(_ request: Request, _ id: String, _ context: TenantContext) async throws -> Response {
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let timeZones = self.timeZones
        let device = try await devices.updateDevice(id, in: context) { current in
            let body = DeviceBody(device: current)
            guard RequestInput.ifMatchAllows(ifMatch, etag: JSONResponse.entityTag(JSONResponse.encode(body))) else {
                throw RegistryError(.preconditionFailed, "the device has changed since it was read (If-Match)")
            }
            // Read-only fields in the patch itself are refused; the merged result is checked whole.
            var patchReader = try ObjectReader(patch)
            for key in DeviceInput.readOnly.union(["id"]) where patchReader.has(key) {
                patchReader.syntaxErrors.append(.init(pointer: "/" + key, code: "read_only", message: "cannot be changed"))
            }
            try patchReader.finish()
            var reader = try ObjectReader(body.editable.merging(patch: patch))
            let fields = DeviceInput.readFields(&reader, timeZones: timeZones)
            reader.rejectUnknown()
            try reader.finish()
            return fields
        }
        return try JSONResponse.make(.ok, DeviceBody(device: device), etag: true)
    }
}
