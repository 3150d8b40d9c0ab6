import Auth
import DeviceRegistry
import Foundation
import Hummingbird
import InputParsing
import JSONText
import MetricRouter
import OpenSSLSupport
import Tenancy

/// Reading points back (viewer and above): raw points, time-bucketed aggregates and
/// the latest point of every sensor of a device.
struct PointQueryHandlers: Sendable {
    let reader: any PointReading
    let timeZones: TimeZoneNames

    static let sensorBase = "/api/v1/tenants/{tenant}/devices/{device}/sensors/{sensor}"

    func routes() -> [Route] {
        [
            Route(.get, Self.sensorBase + "/points", tenant: .member(.viewer)) { request, state, context in
                try await points(request, state, context)
            },
            Route(.get, Self.sensorBase + "/aggregates", tenant: .member(.viewer)) { request, state, context in
                try await aggregates(request, state, context)
            },
            Route(.get, "/api/v1/tenants/{tenant}/devices/{device}/latest", tenant: .member(.viewer)) {
                request, state, context in
                try await latest(request, state.parameter("device"), context)
            },
        ]
    }

    private func series(_ state: RequestState, _ context: TenantContext) async throws -> SeriesTarget {
        try await reader.series(device: state.parameter("device"), sensor: state.parameter("sensor"), in: context)
    }

    private func points(_ request: Request, _ state: RequestState, _ context: TenantContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (from, to) = try QueryParameters.range(query)
        let limit = try QueryParameters.integer(query, "limit", default: 1000, in: 1...10_000)
        let descending = try QueryParameters.order(query)
        let cursor = try QueryParameters.cursor(query)
        let sensor = try await series(state, context)
        let (rows, truncated) = try await reader.points(
            sensor, from: from, to: to, after: cursor, descending: descending, limit: limit, in: context)
        let page = rows.prefix(limit)
        let more = truncated || rows.count > limit
        var w = JSONWriter(capacity: 64 + page.count * 48)
        w.beginObject()
        w.key("device")
        w.string(state.parameter("device"))
        w.key("from")
        w.string(RFC3339.format(unixMicros: from))
        w.key("kind")
        w.string(sensor.kind.rawValue)
        w.key("next_cursor")
        w.string(more ? page.last.map { QueryParameters.cursor(after: $0.time) } : nil)
        w.key("order")
        w.string(descending ? "desc" : "asc")
        w.key("points")
        w.beginArray()
        for point in page {
            w.beginObject()
            w.key("time")
            w.string(RFC3339.format(unixMicros: point.time))
            w.key("value")
            w.value(point.value)
            w.endObject()
        }
        w.endArray()
        w.key("sensor")
        w.string(state.parameter("sensor"))
        w.key("to")
        w.string(RFC3339.format(unixMicros: to))
        w.endObject()
        return JSONResponse.raw(w.bytes)
    }

    private func aggregates(_ request: Request, _ state: RequestState, _ context: TenantContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (from, to) = try QueryParameters.range(query)
        let (intervalText, interval) = try QueryParameters.interval(query)
        let requested = try QueryParameters.functions(query)
        let timezone = try QueryParameters.timezone(query, timeZones)
        let buckets = (to - from + interval * 1_000_000 - 1) / (interval * 1_000_000)
        guard buckets <= AggregateQuery.maxBuckets else {
            throw Problem.unprocessable(
                "\(buckets) buckets asked for; at most \(AggregateQuery.maxBuckets): widen the interval or narrow the range",
                errors: [.init(pointer: "interval", code: "too_many_buckets", message: "makes more than 10000 buckets")])
        }
        let sensor = try await series(state, context)
        let functions = requested ?? (sensor.kind.isNumeric ? [.avg, .min, .max, .count] : [.count, .first, .last])
        let refused = functions.filter { !$0.applies(to: sensor.kind) }
        guard refused.isEmpty else {
            throw Problem.unprocessable(
                "\(refused.map(\.rawValue).joined(separator: ", ")) do not apply to \(sensor.kind.rawValue) sensors",
                errors: [
                    .init(
                        pointer: "functions", code: "unsupported_function", message: "count, first and last apply to every kind")
                ])
        }
        let aggregate = AggregateQuery(
            sensor: sensor, from: from, to: to, intervalSeconds: interval, functions: functions,
            timezone: timezone ?? sensor.deviceTimezone, continuousAggregateAvailable: reader.hasContinuousAggregate)
        let (rows, truncated) = try await reader.aggregate(aggregate, in: context)
        guard !truncated else {
            throw Problem.unprocessable(
                "the buckets' values pass \(AggregateQuery.budgetBytes >> 20) MiB (first and last of long strings): "
                    + "narrow the range or widen the interval",
                errors: [.init(pointer: "to", code: "response_too_large", message: "the buckets would pass the response budget")])
        }
        var w = JSONWriter(capacity: 128 + rows.count * 96)
        w.beginObject()
        w.key("buckets")
        w.beginArray()
        for bucket in rows {
            w.beginObject()
            for function in functions.sorted(by: { $0.rawValue < $1.rawValue }) {
                w.key(function.rawValue)
                if let value = bucket.values[function] ?? nil { w.value(value) } else { w.null() }
            }
            w.key("start")
            w.string(RFC3339.format(unixMicros: bucket.start))
            w.endObject()
        }
        w.endArray()
        w.key("device")
        w.string(state.parameter("device"))
        w.key("from")
        w.string(RFC3339.format(unixMicros: from))
        w.key("functions")
        w.beginArray()
        for function in functions { w.string(function.rawValue) }
        w.endArray()
        w.key("interval")
        w.string(intervalText)
        w.key("kind")
        w.string(sensor.kind.rawValue)
        w.key("sensor")
        w.string(state.parameter("sensor"))
        w.key("source")
        w.string(aggregate.usesContinuousAggregate ? "continuous_aggregate" : "points")
        w.key("timezone")
        w.string(aggregate.timezone)
        w.key("to")
        w.string(RFC3339.format(unixMicros: to))
        w.endObject()
        return JSONResponse.raw(w.bytes)
    }

    private func latest(_ request: Request, _ device: String, _ context: TenantContext) async throws -> Response {
        let page = try RequestInput.page(request, defaultLimit: 1000)
        let (found, truncated) = try await reader.latest(device: device, after: page.after, limit: page.limit, in: context)
        let next = RequestInput.cursor(after: found.last?.sensor, pageFull: truncated || found.count == page.limit)
        var w = JSONWriter(capacity: 64 + found.count * 96)
        w.beginObject()
        w.key("device")
        w.string(device)
        w.key("next_cursor")
        w.string(next)
        w.key("sensors")
        w.beginArray()
        for item in found {
            w.beginObject()
            w.key("kind")
            w.string(item.kind.rawValue)
            w.key("sensor")
            w.string(item.sensor)
            w.key("time")
            w.string(item.point.map { RFC3339.format(unixMicros: $0.time) })
            w.key("value")
            if let point = item.point { w.value(point.value) } else { w.null() }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return JSONResponse.raw(w.bytes)
    }
}

extension JSONWriter {
    mutating func value(_ value: MetricValue) {
        switch value {
        case .number(let n): number(n)
        case .integer(let i): integer(i)
        case .boolean(let b): bool(b)
        case .string(let s): string(s)
        }
    }
}

extension JSONResponse {
    static func raw(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
