import DeviceRegistry
import Hummingbird
import InputParsing
import Tenancy

/// A sensor as the API shows it.
struct SensorBody: Encodable {
    var sensor: Sensor

    enum CodingKeys: String, CodingKey {
        case key, name, kind, unit, min, max, description, version
        case device = "device_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let f = sensor.fields
        try c.encode(sensor.key, forKey: .key)
        try c.encode(sensor.deviceID, forKey: .device)
        try c.encode(f.name, forKey: .name)
        try c.encode(f.kind.rawValue, forKey: .kind)
        try c.encode(f.unit, forKey: .unit)
        try c.encode(f.min, forKey: .min)
        try c.encode(f.max, forKey: .max)
        try c.encode(f.description, forKey: .description)
        try c.encode(sensor.createdAt, forKey: .createdAt)
        try c.encode(sensor.updatedAt, forKey: .updatedAt)
        try c.encode(sensor.version, forKey: .version)
    }
}

/// Reads and checks sensor fields.
enum SensorInput {
    static let readOnly: Set<String> = ["device_id", "created_at", "updated_at", "version"]

    static func readKey(_ reader: inout ObjectReader) -> String? {
        guard let key = reader.string("key", required: true, maxLength: 128) else { return nil }
        if !Identifier.isValid(key, as: .sensor) {
            reader.rule("key", "invalid_format", "must match ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
        }
        return key
    }

    /// Fields of a new sensor (`current` nil) or of a patched one (kind fixed).
    static func readFields(_ reader: inout ObjectReader, current: SensorFields?) -> SensorFields? {
        var kind = current?.kind
        if let raw = reader.string("kind", required: current == nil) {
            if let parsed = SensorKind(rawValue: raw) {
                if let current, current.kind != parsed {
                    reader.rule("kind", "immutable", "a sensor's kind cannot change")
                }
                kind = parsed
            } else {
                reader.rule("kind", "invalid_value", "must be number, integer, boolean or string")
            }
        }
        var fields = SensorFields(kind: kind ?? .number)
        fields.name = reader.string("name", nullable: true, maxLength: 200)
        fields.unit = reader.string("unit", nullable: true, maxLength: 32)
        fields.description = reader.string("description", nullable: true, maxLength: 2000)
        if let min = reader.number("min", nullable: true) { fields.min = min }
        if let max = reader.number("max", nullable: true) { fields.max = max }
        if !fields.kind.isNumeric {
            if fields.min != nil { reader.rule("min", "not_applicable", "only number and integer sensors have a range") }
            if fields.max != nil { reader.rule("max", "not_applicable", "only number and integer sensors have a range") }
        }
        if let min = fields.min, let max = fields.max, min > max { reader.rule("min", "invalid_range", "must not exceed max") }
        return kind == nil ? nil : fields
    }

    /// The writable fields as JSON, the base of a merge patch.
    static func editable(_ f: SensorFields) -> JSONValue {
        var object: [String: JSONValue] = ["kind": .string(f.kind.rawValue)]
        if let name = f.name { object["name"] = .string(name) }
        if let unit = f.unit { object["unit"] = .string(unit) }
        if let description = f.description { object["description"] = .string(description) }
        if let min = f.min { object["min"] = .number(min) }
        if let max = f.max { object["max"] = .number(max) }
        return .object(object)
    }
}

/// `/api/v1/tenants/{tenant}/devices/{device}/sensors`.
struct SensorHandlers: Sendable {
    let database: TenantDatabase
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/sensors"

    func routes() -> [Route] {
        [
            Route(.post, Self.base) { request, state in try await create(request, state) },
            Route(.get, Self.base) { request, state in try await list(request, state) },
            Route(.get, Self.base + "/{sensor}") { request, state in try await read(request, state) },
            Route(.patch, Self.base + "/{sensor}") { request, state in try await update(request, state) },
            Route(.delete, Self.base + "/{sensor}") { _, state in try await delete(state) },
        ]
    }

    private func create(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let device = state.parameter("device")
        var reader = try ObjectReader(try await RequestInput.json(request))
        let key = SensorInput.readKey(&reader)
        let fields = SensorInput.readFields(&reader, current: nil)
        reader.rejectUnknown(readOnly: SensorInput.readOnly)
        try reader.finish()
        guard let key, let fields else { throw Problem.badRequest("invalid_body", "key and kind are required") }
        // A missing device fails the insert's foreign key: 404.
        let sensor = try await database.withActiveTenant(tenant, state: state) { db in
            try SensorStore.create([(device, key, fields)], tenant: tenant, on: db)[0]
        }
        return try JSONResponse.created(
            "/api/v1/tenants/\(tenant)/devices/\(pathSegment(device))/sensors/\(pathSegment(key))", SensorBody(sensor: sensor))
    }

    private func list(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .viewer)
        let device = state.parameter("device")
        let page = try RequestInput.page(request)
        let queries = [
            DeviceStore.findQuery(device), SensorStore.listQuery(device: device, after: page.after, limit: page.limit),
        ]
        let (sensors, truncated) = try await database.readActiveTenant(tenant, state: state, queries) { results in
            guard try DeviceStore.device(from: results[0]) != nil else { throw RegistryError(.notFound, "no device \(device)") }
            return try SensorStore.page(from: results[1])
        }
        let next = RequestInput.cursor(after: sensors.last?.key, pageFull: truncated || sensors.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: sensors.map(SensorBody.init), nextCursor: next))
    }

    private func read(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .viewer)
        let (device, key) = (state.parameter("device"), state.parameter("sensor"))
        let sensor = try await database.readActiveTenant(tenant, state: state, [SensorStore.findQuery(device: device, key: key)])
        { results in
            guard let sensor = try SensorStore.sensor(from: results[0]) else {
                throw RegistryError(.notFound, "no sensor \(key) on device \(device)")
            }
            return sensor
        }
        return try JSONResponse.conditional(request, SensorBody(sensor: sensor))
    }

    private func update(_ request: Request, _ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let (device, key) = (state.parameter("device"), state.parameter("sensor"))
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let sensor = try await database.withActiveTenant(tenant, state: state) { db in
            guard let current = try SensorStore.find(device: device, key: key, on: db, forUpdate: true) else {
                throw RegistryError(.notFound, "no sensor \(key) on device \(device)")
            }
            guard
                RequestInput.ifMatchAllows(
                    ifMatch, etag: JSONResponse.entityTag(try JSONResponse.encode(SensorBody(sensor: current))))
            else {
                throw RegistryError(.preconditionFailed, "the sensor has changed since it was read (If-Match)")
            }
            var patchReader = try ObjectReader(patch)
            for field in SensorInput.readOnly.union(["key"]) where patchReader.has(field) {
                patchReader.syntaxErrors.append(.init(pointer: "/" + field, code: "read_only", message: "cannot be changed"))
            }
            try patchReader.finish()
            var reader = try ObjectReader(SensorInput.editable(current.fields).merging(patch: patch))
            let fields = SensorInput.readFields(&reader, current: current.fields)
            reader.rejectUnknown()
            try reader.finish()
            guard let fields else { throw Problem.badRequest("invalid_body", "kind cannot be removed") }
            return try SensorStore.update(device: device, key: key, fields, on: db)
        }
        return try JSONResponse.make(.ok, SensorBody(sensor: sensor), etag: true)
    }

    private func delete(_ state: RequestState) async throws -> Response {
        let tenant = try state.tenant(minimum: .tenantAdmin)
        let (device, key) = (state.parameter("device"), state.parameter("sensor"))
        try await database.withActiveTenant(tenant, state: state) { db in try SensorStore.delete(device: device, key: key, on: db)
        }
        return JSONResponse.noContent()
    }
}
