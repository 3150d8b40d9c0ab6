import Auth
import Foundation
import Gzip
import HTTPTypes
import Hummingbird
import InputParsing
import MetricRouter
import Metrics
import NIOCore
import Tenancy

/// Metric ingestion: JSON (`/metrics`), line protocol (`/write`) and the InfluxDB v2
/// write API (`/api/v2/write`), which answers errors the way InfluxDB does.
struct IngestHandlers: Sendable {
    let ingestor: MetricIngestor
    let authenticator: Authenticator
    /// Adds the tenant to the ingest series (MILLWRIGHT_METRICS_TENANT_LABEL).
    var tenantLabel = false

    static let base = "/api/v1/tenants/{tenant}"

    func routes() -> [Route] {
        [
            Route(.post, Self.base + "/metrics") { request, state in try await json(request, state) },
            Route(.post, Self.base + "/write") { request, state in try await lineProtocol(request, state) },
            // Authenticated inside, so that every error takes InfluxDB's form.
            Route(.post, "/api/v2/write", authenticated: false) { request, state in try await influx(request, state) },
        ]
    }

    private func json(_ request: Request, _ state: RequestState) async throws -> Response {
        let (tenant, writer) = try state.metricsWriter()
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            throw Problem(.unsupportedMediaType, code: "unsupported_media_type", detail: "send the body as application/json")
        }
        let accepted = try await counted("json", tenant) {
            let body = try await Self.body(request)
            let parsed = try JSONPointsParser.parse(body)
            return try await ingestor.ingest(
                parsed.points, tenant: tenant, writer: writer, earlier: parsed.problems, earlierCount: parsed.problemCount)
        }
        return try JSONResponse.make(.ok, ["accepted": accepted])
    }

    private func lineProtocol(_ request: Request, _ state: RequestState) async throws -> Response {
        let (tenant, writer) = try state.metricsWriter()
        _ = try await counted("line_protocol", tenant) { try await writeLines(request, tenant: tenant, writer: writer) }
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

    private func influx(_ request: Request, _ state: RequestState) async throws -> Response {
        var state = state
        do {
            let query = request.uri.queryParameters
            guard let org = query["org"].map(String.init), !org.isEmpty else {
                throw Problem.badRequest("invalid_parameter", "org is required: the tenant to write to")
            }
            guard let bucket = query["bucket"], !bucket.isEmpty else {
                throw Problem.badRequest("invalid_parameter", "bucket is required (any name: Millwright routes by sensor kind)")
            }
            state.principal = try await authenticator.authenticate(request.headers[.authorization])
            state.parameters["tenant"] = org
            let (tenant, writer) = try state.metricsWriter()
            _ = try await counted("influx_v2", tenant) { try await writeLines(request, tenant: tenant, writer: writer) }
            return Response(status: .noContent)
        } catch {
            return InfluxError.response(MillwrightResponder.problem(for: error, state: state), requestID: state.requestID)
        }
    }

    private func writeLines(_ request: Request, tenant: TenantID, writer: MetricIngestor.Writer) async throws -> Int {
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
            parsed.points, tenant: tenant, writer: writer, earlier: parsed.problems, earlierCount: parsed.problemCount)
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

extension RequestState {
    /// The tenant in the path, for a caller that may write metrics there: a JWT with
    /// metrics-writer or more, or a device key of that tenant (its own device only).
    func metricsWriter() throws(Problem) -> (TenantID, MetricIngestor.Writer) {
        let raw = parameter("tenant")
        guard let tenant = TenantID(raw) else { throw Problem.notFound("no tenant \(raw)") }
        if case .device(let device) = principal {
            guard device.tenant == tenant.rawValue else { throw Problem.notFound("no tenant \(raw)") }
            return (tenant, .init(onlyDevice: device.deviceID, platformAdmin: false))
        }
        return (try self.tenant(minimum: .metricsWriter), .init(onlyDevice: nil, platformAdmin: isPlatformAdmin))
    }
}

extension Problem {
    static func bodyTooLarge(_ limit: Int, decompressed: Bool = false) -> Problem {
        Problem(
            .contentTooLarge, code: "body_too_large",
            detail:
                "the body\(decompressed ? " (decompressed)" : "") is larger than the \(limit / (1 << 20)) MiB this endpoint accepts"
        )
    }

    init(ingestError error: IngestError) {
        let errors = error.problems.map { problem in
            FieldError(
                pointer: problem.pointer ?? problem.line.map { "line \($0)" } ?? "", code: problem.code, message: problem.message,
                index: problem.position.index, line: problem.position.line, column: problem.position.column)
        }
        switch error.code {
        case .syntax:
            self.init(.badRequest, code: "invalid_body", detail: error.message, errors: errors)
            errorCount = error.problemCount
        case .invalid:
            self.init(.unprocessableContent, code: "points_refused", detail: error.message, errors: errors)
            errorCount = error.problemCount
        case .forbidden:
            self = .forbidden(error.message)
        case .tooManyPoints:
            self.init(.contentTooLarge, code: "too_many_points", detail: error.message)
        case .backpressure:
            self.init(.tooManyRequests, code: "writer_busy", detail: error.message, headers: [.retryAfter: "1"])
        default:
            self.init(.serviceUnavailable, code: "unavailable", detail: error.message, headers: [.retryAfter: "5"])
        }
    }
}

extension PointProblem {
    var line: Int? { position.line }
}

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
        var body: [String: Any] = ["code": code, "message": message]
        if let line = problem.errors.first?.line { body["line"] = line }
        if problem.status == .contentTooLarge { body["maxLength"] = IngestLimits.maxBodyBytes }
        let bytes = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
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
