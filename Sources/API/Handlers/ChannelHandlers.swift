import Alerting
import Auth
import CurlClient
import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import JSONText
import Tenancy

/// A notification channel as the API shows it; `secret` only in the response that
/// made it (create, or a patch that set or rotated it).
struct ChannelBody: JSONBodyWriting {
    var channel: NotificationChannel
    var secret: String? = nil

    var editable: JSONValue {
        let f = channel.fields
        return .object([
            "name": .string(f.name), "url": .string(f.url), "format": .string(f.format.rawValue),
            "enabled": .bool(f.enabled),
        ])
    }

    func write(to w: inout JSONWriter) {
        let f = channel.fields
        w.beginObject()
        w.key("created_at")
        w.date(channel.createdAt)
        w.key("disabled_reason")
        w.string(channel.disabledReason)
        w.key("enabled")
        w.bool(f.enabled)
        w.key("format")
        w.string(f.format.rawValue)
        w.key("id")
        w.string(channel.id.uuidString.lowercased())
        w.key("name")
        w.string(f.name)
        if let secret {
            w.key("secret")
            w.string(secret)
        }
        w.key("signed")
        w.bool(channel.signed)
        w.key("type")
        w.string("webhook")
        w.key("updated_at")
        w.date(channel.updatedAt)
        w.key("url")
        w.string(f.url)
        w.key("version")
        w.integer(channel.version)
        w.endObject()
    }
}

/// A delivery as the API shows it.
struct DeliveryBody: JSONBodyWriting {
    var delivery: Delivery

    func write(to w: inout JSONWriter) {
        let d = delivery
        w.beginObject()
        w.key("alert_id")
        if let alert = d.alertID { w.integer(alert) } else { w.null() }
        w.key("attempts")
        w.integer(d.attempts)
        w.key("channel_id")
        w.string(d.channelID.uuidString.lowercased())
        w.key("created_at")
        w.date(d.createdAt)
        w.key("delivered_at")
        w.date(d.deliveredAt)
        w.key("event")
        w.string(d.event)
        w.key("event_id")
        w.string(d.eventID)
        w.key("id")
        w.integer(d.id)
        w.key("last_error")
        w.string(d.lastError)
        w.key("last_status")
        if let status = d.lastStatus { w.integer(status) } else { w.null() }
        w.key("next_attempt_at")
        w.date(d.nextAttemptAt)
        w.key("status")
        w.string(d.status.rawValue)
        w.endObject()
    }
}

/// `/api/v1/tenants/{tenant}/notification-channels`: tenant admins only (a webhook URL
/// is often a credential itself, as Slack's are).
struct ChannelHandlers: Sendable {
    let channels: any ChannelDirectory
    /// MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE: URLs naming private addresses are accepted.
    let allowPrivate: Bool
    static let base = "/api/v1/tenants/{tenant}/notification-channels"

    func routes() -> [Route] {
        [
            Route(.post, Self.base, tenant: .member(.tenantAdmin)) { request, _, context in try await create(request, context) },
            Route(.get, Self.base, tenant: .member(.tenantAdmin)) { request, _, context in
                let page = try RequestInput.page(request)
                let found = try await channels.channels(
                    after: try AlertRuleHandlers.uuidCursor(page.after), limit: page.limit, in: context)
                let next = RequestInput.cursor(
                    after: found.last?.id.uuidString.lowercased(), pageFull: found.count == page.limit)
                return try JSONResponse.make(.ok, Page(items: found.map { ChannelBody(channel: $0) }, nextCursor: next))
            },
            Route(.get, Self.base + "/{channel}", tenant: .member(.tenantAdmin)) { request, state, context in
                let channel = try await channels.channel(try Self.id(state), in: context)
                return try JSONResponse.conditional(request, ChannelBody(channel: channel))
            },
            Route(.patch, Self.base + "/{channel}", tenant: .member(.tenantAdmin)) { request, state, context in
                try await update(request, try Self.id(state), context)
            },
            Route(.delete, Self.base + "/{channel}", tenant: .member(.tenantAdmin)) { _, state, context in
                try await channels.deleteChannel(try Self.id(state), in: context)
                return JSONResponse.noContent()
            },
            Route(.get, Self.base + "/{channel}/deliveries", tenant: .member(.tenantAdmin)) { request, state, context in
                let page = try RequestInput.page(request)
                let before = try page.after.map { key throws(Problem) -> Int64 in
                    guard let id = Int64(key) else { throw QueryParameters.invalid("cursor", "is not one this service issued") }
                    return id
                }
                let found = try await channels.deliveries(
                    channel: try Self.id(state), before: before, limit: page.limit, in: context)
                let next = RequestInput.cursor(after: found.last.map { String($0.id) }, pageFull: found.count == page.limit)
                return try JSONResponse.make(.ok, Page(items: found.map(DeliveryBody.init), nextCursor: next))
            },
            Route(.post, Self.base + "/{channel}/test", tenant: .member(.tenantAdmin)) { _, state, context in
                let delivery = try await channels.sendTest(channel: try Self.id(state), in: context)
                return try JSONResponse.make(.accepted, DeliveryBody(delivery: delivery))
            },
        ]
    }

    private static func id(_ state: RequestState) throws -> UUID {
        try AlertRuleHandlers.id(state.parameter("channel"), "notification channel")
    }

    private func create(_ request: Request, _ context: TenantContext) async throws -> Response {
        var reader = try ObjectReader(try await RequestInput.json(request))
        let fields = readFields(&reader)
        if let type = reader.string("type"), type != "webhook" { reader.rule("type", "invalid_value", "must be webhook") }
        let secret = readSecret(&reader, current: false)
        reader.rejectUnknown(readOnly: ["id", "disabled_reason", "created_at", "updated_at", "version"])
        try reader.finish()
        guard let fields else { throw Problem.badRequest("invalid_body", "the channel is incomplete") }
        let key = secret.key ?? nil
        let channel = try await channels.createChannel(fields, secret: key, in: context)
        return try JSONResponse.created(
            "/api/v1/tenants/\(context.tenant)/notification-channels/\(channel.id.uuidString.lowercased())",
            ChannelBody(channel: channel, secret: secret.shown))
    }

    private func update(_ request: Request, _ id: UUID, _ context: TenantContext) async throws -> Response {
        let patch = try await RequestInput.json(request, mergePatch: true)
        guard case .object = patch else { throw Problem.badRequest("invalid_type", "a merge patch must be a JSON object") }
        var secretReader = try ObjectReader(patch)
        let secret = readSecret(&secretReader, current: true)
        try secretReader.finish()
        let ifMatch = request.headers[.ifMatchHeader]
        let allowPrivate = self.allowPrivate
        let channel = try await channels.updateChannel(id, secret: secret.key, in: context) { current in
            let body = ChannelBody(channel: current)
            guard RequestInput.ifMatchAllows(ifMatch, etag: JSONResponse.entityTag(JSONResponse.encode(body))) else {
                throw RegistryError(.preconditionFailed, "the channel has changed since it was read (If-Match)")
            }
            guard case .object(var entries) = patch else { return current.fields }
            for key in ["signed", "secret", "rotate_secret"] { entries[key] = nil }
            var patchReader = try ObjectReader(.object(entries))
            for key in ["id", "type", "disabled_reason", "created_at", "updated_at", "version"] where patchReader.has(key) {
                patchReader.syntaxErrors.append(.init(pointer: "/" + key, code: "read_only", message: "cannot be changed"))
            }
            try patchReader.finish()
            var reader = try ObjectReader(body.editable.merging(patch: .object(entries)))
            let fields = Self.readFields(&reader, allowPrivate: allowPrivate)
            reader.rejectUnknown()
            try reader.finish()
            guard let fields else { throw Problem.badRequest("invalid_body", "the patched channel is incomplete") }
            return fields
        }
        return try JSONResponse.make(.ok, ChannelBody(channel: channel, secret: secret.shown), etag: secret.shown == nil)
    }

    private func readFields(_ reader: inout ObjectReader) -> ChannelFields? {
        Self.readFields(&reader, allowPrivate: allowPrivate)
    }

    static func readFields(_ reader: inout ObjectReader, allowPrivate: Bool) -> ChannelFields? {
        let name = reader.string("name", required: true, maxLength: 200)
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty { reader.rule("name", "empty", "must not be empty") }
        let url = reader.string("url", required: true, maxLength: 2048)
        if let url {
            if let refusal = urlRefusal(url, allowPrivate: allowPrivate) { reader.rule("url", refusal.code, refusal.message) }
        }
        var format = ChannelFields.Format.json
        if let raw = reader.string("format") {
            if let parsed = ChannelFields.Format(rawValue: raw) {
                format = parsed
            } else {
                reader.rule("format", "invalid_value", "must be json or slack")
            }
        }
        let enabled = reader.bool("enabled") ?? true
        guard let name, let url else { return nil }
        return ChannelFields(name: name, url: url, format: format, enabled: enabled)
    }

    /// Why a webhook URL is refused: not http(s) with a host, credentials in it, or an
    /// address literal (or `localhost`) that is not public. Names resolve at delivery,
    /// where every address is checked again.
    static func urlRefusal(_ url: String, allowPrivate: Bool) -> (code: String, message: String)? {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let rawHost = parts.host, !rawHost.isEmpty
        else { return ("invalid_url", "must be an http or https URL with a host") }
        if parts.user != nil || parts.password != nil { return ("invalid_url", "must not carry credentials") }
        guard !allowPrivate else { return nil }
        let host = rawHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if host == "localhost" || host.hasSuffix(".localhost") {
            return ("private_address", "may not reach loopback, private, link-local or multicast addresses")
        }
        if let bytes = PublicAddress.bytes(literal: host), PublicAddress.refusal(bytes) != nil {
            return ("private_address", "may not reach loopback, private, link-local or multicast addresses")
        }
        return nil
    }

    /// The secret of a create or patch: `signed` (create: default true, one is made;
    /// patch: false removes it), `secret` (a `whsec_` key to use), `rotate_secret`
    /// (patch: make a new one).
    /// `key`: nil to keep, `.some(nil)` to remove, `.some(key)` to set; `shown`: the key
    /// to show once.
    private func readSecret(_ reader: inout ObjectReader, current: Bool) -> (key: [UInt8]??, shown: String?) {
        let signed = reader.bool("signed")
        let given = reader.string("secret", maxLength: 100)
        let rotate = current ? reader.bool("rotate_secret") : nil
        if current && signed == true {
            reader.rule("signed", "invalid_value", "use rotate_secret to make a new secret (or sign an unsigned channel)")
        }
        var key: [UInt8]?
        if let given {
            guard let parsed = WebhookSignature.parse(given) else {
                reader.rule("secret", "invalid_secret", "must be whsec_ and the base64 of 24 to 64 bytes")
                return (nil, nil)
            }
            if signed == false { reader.rule("signed", "conflict", "a secret signs: signed cannot be false with it") }
            key = parsed
        } else if (!current && signed != false) || (current && rotate == true) {
            key = try? WebhookSignature.newKey()
        }
        if let key { return (.some(key), WebhookSignature.display(key)) }
        if current && signed == false { return (.some(nil), nil) }
        return (current ? nil : .some(nil), nil)
    }
}
