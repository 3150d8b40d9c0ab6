import Auth
import DeviceRegistry
import Hummingbird
import InputParsing
import JSONText
import Tenancy

/// A sensor as the API shows it.
struct SensorBody: JSONBodyWriting {
    var sensor: Sensor

    func write(to w: inout JSONWriter) {
        let f = sensor.fields
        w.beginObject()
        w.key("created_at")
        w.date(sensor.createdAt)
        w.key("description")
        w.string(f.description)
        w.key("device_id")
        w.string(sensor.deviceID)
        w.key("key")
        w.string(sensor.key)
        w.key("kind")
        w.string(f.kind.rawValue)
        w.key("max")
        w.number(f.max)
        w.key("min")
        w.number(f.min)
        w.key("name")
        w.string(f.name)
        w.key("unit")
        w.string(f.unit)
        w.key("updated_at")
        w.date(sensor.updatedAt)
        w.key("version")
        w.integer(sensor.version)
        w.endObject()
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
    let sensors: any SensorDirectory
    static let base = "/api/v1/tenants/{tenant}/devices/{device}/sensors"

    func routes() -> [Route] {
        [
            Route(.post, Self.base, tenant: .member(.tenantAdmin)) { request, state, context in
                try await create(request, state.parameter("device"), context)
            },
            Route(.get, Self.base, tenant: .member(.viewer)) { request, state, context in
                try await list(request, state.parameter("device"), context)
            },
            Route(.get, Self.base + "/{sensor}", tenant: .member(.viewer)) { request, state, context in
                let sensor = try await sensors.sensor(
                    device: state.parameter("device"), key: state.parameter("sensor"), in: context)
                return try JSONResponse.conditional(request, SensorBody(sensor: sensor))
            },
            Route(.patch, Self.base + "/{sensor}", tenant: .member(.tenantAdmin)) { request, state, context in
                try await update(request, state.parameter("device"), state.parameter("sensor"), context)
            },
            Route(.delete, Self.base + "/{sensor}", tenant: .member(.tenantAdmin)) { _, state, context in
                try await sensors.deleteSensor(device: state.parameter("device"), key: state.parameter("sensor"), in: context)
                return JSONResponse.noContent()
            },
        ]
    }

    private func create(_ request: Request, _ device: String, _ context: TenantContext) async throws -> Response {
        var reader = try ObjectReader(try await RequestInput.json(request))
        let key = SensorInput.readKey(&reader)
        let fields = SensorInput.readFields(&reader, current: nil)
        reader.rejectUnknown(readOnly: SensorInput.readOnly)
        try reader.finish()
        guard let key, let fields else { throw Problem.badRequest("invalid_body", "key and kind are required") }
        let sensor = try await sensors.createSensor(device: device, key: key, fields, in: context)
        return try JSONResponse.created(
            "/api/v1/tenants/\(context.tenant)/devices/\(pathSegment(device))/sensors/\(pathSegment(key))",
            SensorBody(sensor: sensor))
    }

    private func list(_ request: Request, _ device: String, _ context: TenantContext) async throws -> Response {
        let page = try RequestInput.page(request)
        let (found, truncated) = try await sensors.sensors(device: device, after: page.after, limit: page.limit, in: context)
        let next = RequestInput.cursor(after: found.last?.key, pageFull: truncated || found.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: found.map(SensorBody.init), nextCursor: next))
    }

    private func update(_ request: Request, _ device: String, _ key: String, _ context: TenantContext) async throws -> Response {
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let sensor = try await sensors.updateSensor(device: device, key: key, in: context) { current in
            guard
                RequestInput.ifMatchAllows(
                    ifMatch, etag: JSONResponse.entityTag(JSONResponse.encode(SensorBody(sensor: current))))
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
            return fields
        }
        return try JSONResponse.make(.ok, SensorBody(sensor: sensor), etag: true)
    }
}
