import Auth
import DeviceRegistry
import Hummingbird
import InputParsing
import Tenancy

/// `/api/v1/tenants/{tenant}/devices`: viewers read, tenant admins change.
struct DeviceHandlers: Sendable {
    let database: TenantDatabase
    let timeZones: TimeZoneNames
    static let base = "/api/v1/tenants/{tenant}/devices"

    func routes() -> [Route] {
        [
            Route(.post, Self.base) { request, state in try await create(request, state) },
            Route(.get, Self.base) { request, state in try await list(request, state) },
            Route(.post, Self.base + "/batch") { request, state in try await batch(request, state) },
            Route(.get, Self.base + "/{device}") { request, state in try await read(request, state) },
            Route(.patch, Self.base + "/{device}") { request, state in try await update(request, state) },
            Route(.delete, Self.base + "/{device}") { _, state in try await delete(state) },
        ]
    }

    private func create(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        var reader = try ObjectReader(try await RequestInput.json(request))
        let id = DeviceInput.readID(&reader)
        let fields = DeviceInput.readFields(&reader, timeZones: timeZones)
        reader.rejectUnknown(readOnly: DeviceInput.readOnly)
        try reader.finish()
        guard let id else { throw Problem.badRequest("invalid_body", "id is required") }
        let device = try await database.withActiveTenant(tenant, state: state) { db in
            try DeviceStore.create([(id, fields)], tenant: tenant, on: db)[0]
        }
        return try JSONResponse.created("/api/v1/tenants/\(tenant)/devices/\(pathSegment(device.id))", DeviceBody(device: device))
    }

    private func batch(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        var reader = try ObjectReader(try await RequestInput.json(request))
        guard let list = reader.value("devices", required: true), case .array(let entries) = list else {
            reader.rejectUnknown()
            try reader.finish()
            throw Problem.badRequest("invalid_body", "devices must be an array")
        }
        reader.rejectUnknown()
        if entries.isEmpty || entries.count > 1000 { reader.rule("devices", "invalid_count", "must hold 1 to 1000 devices") }
        var devices: [(id: String, fields: DeviceFields)] = []
        var sensors: [(deviceID: String, key: String, fields: SensorFields)] = []
        var seen = Set<String>()
        for (index, entry) in entries.enumerated() {
            var item = try ObjectReader(entry, pointer: "/devices/\(index)")
            let id = DeviceInput.readID(&item)
            let fields = DeviceInput.readFields(&item, timeZones: timeZones)
            if let id, !seen.insert(id).inserted { item.rule("id", "duplicate", "appears twice in this batch") }
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
                        if let id, let key, let sensorFields { sensors.append((id, key, sensorFields)) }
                    }
                } else {
                    item.typeError("sensors", expected: "an array", got: list)
                }
            }
            item.rejectUnknown(readOnly: DeviceInput.readOnly)
            reader.absorb(item)
            if let id { devices.append((id, fields)) }
        }
        try reader.finish()
        let created = try await database.withActiveTenant(tenant, state: state) { [devices, sensors] db in
            let created = try DeviceStore.create(devices, tenant: tenant, on: db)
            _ = try SensorStore.create(sensors, tenant: tenant, on: db)
            return created
        }
        return try JSONResponse.make(.created, ["devices": created.map(DeviceBody.init)])
    }

    private func list(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .viewer)
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
        let query = try DeviceStore.listQuery(filter: filter, after: page.after, limit: page.limit)
        let (devices, truncated) = try await database.readActiveTenant(tenant, state: state, [query]) { results in
            try DeviceStore.page(from: results[0])
        }
        let next = RequestInput.cursor(after: devices.last?.id, pageFull: truncated || devices.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: devices.map(DeviceBody.init), nextCursor: next))
    }

    private func read(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .viewer)
        let id = state.parameter("device")
        let device = try await database.readActiveTenant(tenant, state: state, [DeviceStore.findQuery(id)]) { results in
            guard let device = try DeviceStore.device(from: results[0]) else { throw RegistryError(.notFound, "no device \(id)") }
            return device
        }
        return try JSONResponse.conditional(request, DeviceBody(device: device))
    }

    private func update(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let id = state.parameter("device")
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let device = try await database.withActiveTenant(tenant, state: state) { db in
            guard let current = try DeviceStore.find(id, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no device \(id)")
            }
            let body = DeviceBody(device: current)
            guard RequestInput.ifMatchAllows(ifMatch, etag: JSONResponse.entityTag(try JSONResponse.encode(body))) else {
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
            return try DeviceStore.update(id, fields, on: db)
        }
        return try JSONResponse.make(.ok, DeviceBody(device: device), etag: true)
    }

    private func delete(_ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let id = state.parameter("device")
        try await database.withActiveTenant(tenant, state: state) { db in try DeviceStore.delete(id, on: db) }
        return JSONResponse.noContent()
    }
}
