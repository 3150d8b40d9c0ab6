import Alerting
import Auth
import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import JSONText
import Tenancy

/// An alert as the API shows it; with its transitions when read alone.
struct AlertBody: JSONBodyWriting {
    var alert: Alert
    var withTransitions = false

    func write(to w: inout JSONWriter) {
        let a = alert
        w.beginObject()
        w.key("acknowledged_at")
        w.date(a.acknowledgedAt)
        w.key("acknowledged_by")
        w.string(a.acknowledgedBy)
        w.key("condition")
        w.string(a.condition)
        w.key("created_at")
        w.date(a.createdAt)
        w.key("device")
        w.string(a.deviceID)
        w.key("id")
        w.integer(a.id)
        w.key("resolved_at")
        w.date(a.resolvedAt)
        w.key("resolved_value")
        w.number(a.resolvedValue)
        w.key("rule")
        w.beginObject()
        w.key("id")
        w.string(a.ruleID.uuidString.lowercased())
        w.key("name")
        w.string(a.ruleName)
        w.endObject()
        w.key("sensor")
        w.string(a.sensorKey.isEmpty ? nil : a.sensorKey)
        w.key("severity")
        w.string(a.severity.rawValue)
        w.key("started_at")
        w.date(a.startedAt)
        w.key("state")
        w.string(a.state.rawValue)
        if withTransitions {
            w.key("transitions")
            w.beginArray()
            for t in a.transitions {
                w.beginObject()
                w.key("at")
                w.date(t.at)
                w.key("reason")
                w.string(t.reason)
                w.key("recorded_at")
                w.date(t.recordedAt)
                w.key("state")
                w.string(t.state)
                w.key("value")
                w.number(t.value)
                w.endObject()
            }
            w.endArray()
        }
        w.key("updated_at")
        w.date(a.updatedAt)
        w.key("value")
        w.number(a.value)
        w.key("value_at")
        w.date(a.valueAt)
        w.endObject()
    }
}

struct AnomalyBody: JSONBodyWriting {
    var score: AnomalyScore

    func write(to w: inout JSONWriter) {
        let s = score
        w.beginObject()
        w.key("anomalous")
        w.bool(s.anomalous)
        w.key("deviation")
        w.number(s.deviation)
        w.key("mean")
        w.number(s.mean)
        w.key("samples")
        w.integer(s.samples)
        w.key("time")
        w.date(s.time)
        w.key("value")
        w.number(s.value)
        w.key("z")
        w.number(s.z)
        w.endObject()
    }
}

/// `/api/v1/tenants/{tenant}/alerts` (viewers and up), and z-scores of a sensor's points.
struct AlertHandlers: Sendable {
    let history: any AlertHistory
    static let base = "/api/v1/tenants/{tenant}/alerts"
    /// The longest range one anomalies request covers.
    static let maxAnomalyRange: Int64 = 7 * 86_400 * 1_000_000

    func routes() -> [Route] {
        [
            Route(.get, Self.base, tenant: .member(.viewer)) { request, _, context in try await list(request, context) },
            Route(.get, Self.base + "/{alert}", tenant: .member(.viewer)) { request, state, context in
                let alert = try await history.alert(try Self.id(state), in: context)
                return try JSONResponse.conditional(request, AlertBody(alert: alert, withTransitions: true))
            },
            // Acknowledging records who saw an alert; it changes no rule and no data.
            Route(.post, Self.base + "/{alert}/acknowledge", tenant: .member(.viewer)) { _, state, context in
                let alert = try await history.acknowledge(try Self.id(state), in: context)
                return try JSONResponse.make(.ok, AlertBody(alert: alert, withTransitions: true))
            },
            Route(
                .get, "/api/v1/tenants/{tenant}/devices/{device}/sensors/{sensor}/anomalies", tenant: .member(.viewer)
            ) { request, state, context in
                try await anomalies(request, device: state.parameter("device"), sensor: state.parameter("sensor"), context)
            },
        ]
    }

    private static func id(_ state: RequestState) throws -> Int64 {
        let text = state.parameter("alert")
        guard let id = Int64(text), id > 0 else { throw RegistryError(.notFound, "no alert \(text)") }
        return id
    }

    private func list(_ request: Request, _ context: TenantContext) async throws -> Response {
        let query = request.uri.queryParameters
        let page = try RequestInput.page(request)
        var filter = AlertFilter()
        if let raw = query["state"] {
            guard let state = Alert.State(rawValue: String(raw)) else {
                throw QueryParameters.invalid("state", "must be firing or resolved")
            }
            filter.state = state
        }
        if let raw = query["severity"] {
            guard let severity = Severity(rawValue: String(raw)) else {
                throw QueryParameters.invalid("severity", "must be info, warning or critical")
            }
            filter.severity = severity
        }
        if let raw = query["device"] { filter.device = String(raw) }
        if let raw = query["rule"] {
            guard let rule = UUID(uuidString: String(raw)) else { throw QueryParameters.invalid("rule", "must be a rule id") }
            filter.rule = rule
        }
        for name in ["from", "to"] {
            guard let raw = query[Substring(name)] else { continue }
            guard let date = RFC3339.parse(String(raw)) else {
                throw QueryParameters.invalid(name, "must be an RFC 3339 time, like 2026-11-22T10:00:00Z")
            }
            if name == "from" { filter.from = date } else { filter.to = date }
        }
        let before = try page.after.map { key throws(Problem) -> Int64 in
            guard let id = Int64(key) else { throw QueryParameters.invalid("cursor", "is not one this service issued") }
            return id
        }
        let found = try await history.alerts(filter, before: before, limit: page.limit, in: context)
        let next = RequestInput.cursor(after: found.last.map { String($0.id) }, pageFull: found.count == page.limit)
        return try JSONResponse.make(.ok, Page(items: found.map { AlertBody(alert: $0) }, nextCursor: next))
    }

    private func anomalies(
        _ request: Request, device: String, sensor: String, _ context: TenantContext
    ) async throws
        -> Response
    {
        let query = request.uri.queryParameters
        var (from, to) = try QueryParameters.range(query)
        guard to - from <= Self.maxAnomalyRange else { throw QueryParameters.invalid("to", "must be at most 7 days after from") }
        if let after = try QueryParameters.cursor(query) { from = max(from, after &+ 1) }
        var window = 900
        if let raw = query["window"] {
            guard let seconds = DurationText.seconds(String(raw)), (60...86_400).contains(seconds) else {
                throw QueryParameters.invalid("window", "must be a duration from 1m to 1d, like 15m")
            }
            window = seconds
        }
        var threshold = 3.0
        if let raw = query["threshold"] {
            guard let value = Double(String(raw)), value > 0, value <= 1000 else {
                throw QueryParameters.invalid("threshold", "must be a number above 0 and at most 1000")
            }
            threshold = value
        }
        let minSamples = try QueryParameters.integer(query, "min_samples", default: 30, in: 2...100_000)
        let limit = try QueryParameters.integer(query, "limit", default: 1000, in: 1...10_000)
        let found = try await history.anomalies(
            device: device, sensor: sensor, from: Self.date(from), to: Self.date(to), windowSeconds: window,
            threshold: threshold, minSamples: minSamples, limit: limit, in: context)
        let next = found.count == limit ? found.last.map { QueryParameters.cursor(after: RFC3339.microseconds($0.time)) } : nil
        return try JSONResponse.make(.ok, Page(items: found.map(AnomalyBody.init), nextCursor: next))
    }

    static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }
}
