import Auth
import Foundation
import Gzip
import HTTPTypes
import Hummingbird
import InputParsing
import JSONText
import MetricRouter
import Metrics
import NIOCore
import Tenancy

/// Metric ingestion: JSON (`/metrics`), line protocol (`/write`) and the InfluxDB v2
/// write API (`/api/v2/write`), which answers errors the way InfluxDB does.
struct IngestHandlers: Sendable {
    let ingestor: any MetricIngesting
    /// Adds the tenant to the ingest series (MILLWRIGHT_METRICS_TENANT_LABEL).
    var tenantLabel = false

    static let base = "/api/v1/tenants/{tenant}"

    func routes() -> [Route] {
        [
            Route(.post, Self.base + "/metrics", tenant: .metricsWriter) { request, _, context in
                try await json(request, context)
            },
            Route(.post, Self.base + "/write", tenant: .metricsWriter) { request, _, context in
                try await lineProtocol(request, context)
            },
            // The tenant is the `org` parameter, and every error takes InfluxDB's form.
            Route(
                .post, "/api/v2/write", tenant: .metricsWriter,
                source: .query(
                    "org", missing: Self.missingOrg),
                errorFormat: .influx, preflight: Self.influxParameters
            ) { request, _, context in
                _ = try await counted("influx_v2", context.tenant) { try await writeLines(request, context) }
                return Response(status: .noContent)
            },
        ]
    }

    private func json(_ request: Request, _ context: TenantContext) async throws -> Response {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            throw Problem(.unsupportedMediaType, code: "unsupported_media_type", detail: "send the body as application/json")
        }
        let accepted = try await counted("json", context.tenant) {
            let body = try await Self.body(request)
            let parsed = try JSONPointsParser.parse(body)
            return try await ingestor.ingest(
                parsed.points, in: context, earlier: parsed.problems, earlierCount: parsed.problemCount)
        }
        return try JSONResponse.make(.ok, ["accepted": accepted])
    }

    private func lineProtocol(_ request: Request, _ context: TenantContext) async throws -> Response {
        _ = try await counted("line_protocol", context.tenant) { try await writeLines(request, context) }
        return Response(status: .noContent)
    }

    /// Counts the points `body` stored, or the points refused and why.
    private func counted(_ format: String, _ tenant: TenantID, _ body: () async throws -> Int) async throws -> Int {
        var labels = [("format", format)]
        if tenantLabel { labels.append(("tenant", tenant.rawValue)) }
        do {
            let stored = try await body()
            Counter(label: "millwright_ingest_points_total", dimensions: labels).increment(by: stored)
            return stored
        } catch let error as IngestError {
            var reasons: [String: Int] = [:]
            for problem in error.problems { reasons[problem.code, default: 0] += 1 }
            if error.problems.isEmpty { reasons[error.code.raw] = 1 }
            reasons["unlisted", default: 0] += max(0, error.problemCount - error.problems.count)
            for (reason, count) in reasons where count > 0 {
                Counter(label: "millwright_ingest_points_rejected_total", dimensions: labels + [("reason", reason)])
                    .increment(by: count)
            }
            throw error
        }
    }

    static let missingOrg = Problem.badRequest("invalid_parameter", "org is required: the tenant to write to")

    /// InfluxDB checks `org` and `bucket` before the token.
    @Sendable private static func influxParameters(_ request: Request) throws {
        let query = request.uri.queryParameters
        guard let org = query["org"], !org.isEmpty else { throw missingOrg }
        guard let bucket = query["bucket"], !bucket.isEmpty else {
            throw Problem.badRequest("invalid_parameter", "bucket is required (any name: Millwright routes by sensor kind)")
        }
    }

    private func writeLines(_ request: Request, _ context: TenantContext) async throws -> Int {
        let query = request.uri.queryParameters
        var precision = LineProtocolParser.Precision.ns
        if let raw = query["precision"] {
            // InfluxDB v1 clients also say "n" and "u".
            let aliases = ["n": "ns", "u": "us", "µ": "us"]
            guard let parsed = LineProtocolParser.Precision(rawValue: aliases[String(raw)] ?? String(raw)) else {
                throw Problem.badRequest(
                    "invalid_parameter", "precision must be ns, us, ms or s",
                    errors: [.init(pointer: "precision", code: "invalid_value", message: "must be ns, us, ms or s")])
            }
            precision = parsed
        }
        let deviceTag = query["device_tag"].map(String.init) ?? "device"
        guard !deviceTag.isEmpty, deviceTag.utf8.count <= 128 else {
            throw Problem.badRequest(
                "invalid_parameter", "device_tag must name a tag",
                errors: [.init(pointer: "device_tag", code: "invalid_value", message: "must be 1-128 characters")])
        }
        let body = try await Self.body(request)
        let parsed = try LineProtocolParser.parse(body, precision: precision, deviceTag: deviceTag)
        return try await ingestor.ingest(
            parsed.points, in: context, earlier: parsed.problems, earlierCount: parsed.problemCount)
    }

    /// The body, gunzipped when `Content-Encoding: gzip`; 413 over 10 MiB either way.
    static func body(_ request: Request) async throws -> [UInt8] {
        var request = request
        let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased()
        guard encoding == nil || encoding == "identity" || encoding == "gzip" || encoding == "x-gzip" else {
            throw Problem(
                .unsupportedMediaType, code: "unsupported_content_encoding", detail: "Content-Encoding may be gzip or identity")
        }
        let buffer = try await request.collectBody(upTo: IngestLimits.maxBodyBytes)
        let bytes = Array(buffer.readableBytesView)
        guard encoding == "gzip" || encoding == "x-gzip" else { return bytes }
        do {
            return try Gzip.decompress(bytes, limit: IngestLimits.maxBodyBytes)
        } catch let error {
            switch error.kind {
            case .tooLarge: throw Problem.bodyTooLarge(IngestLimits.maxBodyBytes, decompressed: true)
            case .corrupt: throw Problem.badRequest("invalid_gzip", "the body is not valid gzip")
            }
        }
    }
}

/// Where ingestion goes: the metric router's ingestor (tests use one of their own).
protocol MetricIngesting: Sendable {
    func ingest(
        _ points: [IncomingPoint], in context: TenantContext, earlier: [PointProblem], earlierCount: Int
    ) async throws
        -> Int
}

extension MetricIngestor: MetricIngesting {}

/// InfluxDB's error form: `{"code": …, "message": …, "line": …}` with the message in
/// `X-Influx-Error` too; 413 carries `maxLength` (Telegraf then halves its batch).
enum InfluxError {
    static func response(_ problem: Problem, requestID: String) -> Response {
        let code: String =
            switch problem.status.code {
            case 400: "invalid"
            case 401: "unauthorized"
            case 403: "forbidden"
            case 404: "not found"
            case 413: "request too large"
            case 415: "unsupported media type"
            case 422: "unprocessable entity"
            case 429: "too many requests"
            case 503: "unavailable"
            default: "internal error"
            }
        var message = problem.detail
        if let first = problem.errors.first {
            message +=
                ": " + (first.line.map { "line \($0)" + (first.column.map { " column \($0)" } ?? "") + ": " } ?? "")
                + first.message
        }
        var w = JSONWriter(capacity: 128 + message.utf8.count)
        w.beginObject()
        w.key("code")
        w.string(code)
        if let line = problem.errors.first?.line {
            w.key("line")
            w.integer(line)
        }
        if problem.status == .contentTooLarge {
            w.key("maxLength")
            w.integer(IngestLimits.maxBodyBytes)
        }
        w.key("message")
        w.string(message)
        w.endObject()
        let bytes = w.bytes
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.requestID] = requestID
        headers[HTTPField.Name("X-Influx-Error")!] = String(
            String.UnicodeScalarView(
                message.unicodeScalars.prefix(512).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }))
        headers[.retryAfter] = problem.headers[.retryAfter]
        if problem.status == .unauthorized { headers[.wwwAuthenticate] = problem.headers[.wwwAuthenticate] }
        return Response(status: problem.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
