import Alerting
import Auth
import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import Tenancy

/// `/api/v1/tenants/{tenant}/alert-rules`: tenant admins write, viewers and up read.
struct AlertRuleHandlers: Sendable {
    let rules: any AlertRuleDirectory
    static let base = "/api/v1/tenants/{tenant}/alert-rules"

    func routes() -> [Route] {
        [
            Route(.post, Self.base, tenant: .member(.tenantAdmin)) { request, _, context in try await create(request, context) },
            Route(.get, Self.base, tenant: .member(.viewer)) { request, _, context in
                let page = try RequestInput.page(request)
                let found = try await rules.rules(after: try Self.uuidCursor(page.after), limit: page.limit, in: context)
                let next = RequestInput.cursor(
                    after: found.last?.id.uuidString.lowercased(), pageFull: found.count == page.limit)
                return try JSONResponse.make(.ok, Page(items: found.map(AlertRuleBody.init), nextCursor: next))
            },
            Route(.get, Self.base + "/{rule}", tenant: .member(.viewer)) { request, state, context in
                let rule = try await rules.rule(try Self.id(state.parameter("rule"), "alert rule"), in: context)
                return try JSONResponse.conditional(request, AlertRuleBody(rule: rule))
            },
            Route(.patch, Self.base + "/{rule}", tenant: .member(.tenantAdmin)) { request, state, context in
                try await update(request, try Self.id(state.parameter("rule"), "alert rule"), context)
            },
            Route(.delete, Self.base + "/{rule}", tenant: .member(.tenantAdmin)) { _, state, context in
                try await rules.deleteRule(try Self.id(state.parameter("rule"), "alert rule"), in: context)
                return JSONResponse.noContent()
            },
        ]
    }

    /// A path id: not a UUID is no such resource (404), as any unknown id.
    static func id(_ text: String, _ what: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw RegistryError(.notFound, "no \(what) \(text)") }
        return id
    }

    static func uuidCursor(_ key: String?) throws(Problem) -> UUID? {
        guard let key else { return nil }
        guard let id = UUID(uuidString: key) else {
            throw Problem.badRequest(
                "invalid_parameter", "cursor is not one this service issued",
                errors: [.init(pointer: "cursor", code: "invalid_cursor", message: "is not a valid cursor")])
        }
        return id
    }

    private func create(_ request: Request, _ context: TenantContext) async throws -> Response {
        var reader = try ObjectReader(try await RequestInput.json(request))
        let fields = AlertRuleInput.read(&reader)
        reader.rejectUnknown(readOnly: AlertRuleInput.readOnly)
        try reader.finish()
        guard let fields else { throw Problem.badRequest("invalid_body", "the rule is incomplete") }
        let rule = try await rules.createRule(fields, in: context)
        return try JSONResponse.created(
            "/api/v1/tenants/\(context.tenant)/alert-rules/\(rule.id.uuidString.lowercased())", AlertRuleBody(rule: rule))
    }

    private func update(_ request: Request, _ id: UUID, _ context: TenantContext) async throws -> Response {
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        let ifMatch = request.headers[.ifMatchHeader]
        let rule = try await rules.updateRule(id, in: context) { current in
            let body = AlertRuleBody(rule: current)
            guard RequestInput.ifMatchAllows(ifMatch, etag: JSONResponse.entityTag(JSONResponse.encode(body))) else {
                throw RegistryError(.preconditionFailed, "the rule has changed since it was read (If-Match)")
            }
            var patchReader = try ObjectReader(patch)
            for key in AlertRuleInput.readOnly where patchReader.has(key) {
                patchReader.syntaxErrors.append(.init(pointer: "/" + key, code: "read_only", message: "cannot be changed"))
            }
            try patchReader.finish()
            var reader = try ObjectReader(body.editable.merging(patch: patch))
            let fields = AlertRuleInput.read(&reader)
            reader.rejectUnknown()
            try reader.finish()
            guard let fields else { throw Problem.badRequest("invalid_body", "the patched rule is incomplete") }
            return fields
        }
        return try JSONResponse.make(.ok, AlertRuleBody(rule: rule), etag: true)
    }
}
