import Foundation
import HTTPTypes
import Hummingbird
import InputParsing
import JSONText
import OpenSSLSupport

/// Reading and checking request bodies and query parameters.
enum RequestInput {
    static let maxBodyBytes = 1 << 20

    /// The body as JSON: 415 for another content type, 413 over 1 MiB, 400 when malformed.
    static func json(_ request: Request, mergePatch: Bool = false) async throws -> JSONValue {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        let accepted = mergePatch ? ["application/merge-patch+json", "application/json"] : ["application/json"]
        guard let type, accepted.contains(type) else {
            throw Problem(
                .unsupportedMediaType, code: "unsupported_media_type",
                detail: "send the body as \(accepted.joined(separator: " or "))")
        }
        var request = request
        let buffer = try await request.collectBody(upTo: maxBodyBytes)
        guard let value = JSONValue.parse(Array(buffer.readableBytesView)) else {
            throw Problem.badRequest("malformed_json", "the body is not valid JSON")
        }
        // PostgreSQL text cannot hold NUL: refuse it here, with where it is.
        if let pointer = value.pointerToNUL() {
            throw Problem.badRequest(
                "invalid_character", "strings may not contain the NUL character (\\u0000)",
                errors: [.init(pointer: pointer, code: "invalid_character", message: "contains \\u0000")])
        }
        return value
    }

    /// `limit` (1...1000, default 100) and the opaque `cursor` of a list request.
    static func page(_ request: Request, defaultLimit: Int = 100) throws(Problem) -> (limit: Int, after: String?) {
        let query = request.uri.queryParameters
        var limit = defaultLimit
        if let raw = query["limit"] {
            guard let value = Int(String(raw)), (1...1000).contains(value) else {
                throw Problem.badRequest(
                    "invalid_parameter", "limit must be a whole number from 1 to 1000",
                    errors: [.init(pointer: "limit", code: "out_of_range", message: "must be from 1 to 1000")])
            }
            limit = value
        }
        var after: String?
        if let raw = query["cursor"], !raw.isEmpty {
            guard let key = Cursor.decode(raw, kind: "k") else {
                throw Problem.badRequest(
                    "invalid_parameter", "cursor is not one this service issued",
                    errors: [.init(pointer: "cursor", code: "invalid_cursor", message: "is not a valid cursor")])
            }
            after = key
        }
        return (limit, after)
    }

    /// The cursor that continues after `key`, when the page was full.
    static func cursor(after key: String?, pageFull: Bool) -> String? {
        guard pageFull, let key else { return nil }
        return Cursor.encode("k", key)
    }

    /// Whether `If-Match` allows changing a resource whose current tag is `etag`.
    static func ifMatchAllows(_ header: String?, etag: String) -> Bool {
        guard let header else { return true }
        let tags = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return tags.contains("*") || tags.contains(etag) || tags.contains("W/" + etag)
    }

    /// Whether `If-None-Match` names the current tag (answer 304).
    static func ifNoneMatchHits(_ header: String?, etag: String) -> Bool {
        guard let header else { return false }
        let tags = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return tags.contains("*") || tags.contains(etag) || tags.contains("W/" + etag)
    }
}

extension JSONResponse {
    /// 200 with an ETag, or 304 when `If-None-Match` already names it.
    static func conditional(_ request: Request, _ value: some JSONBodyWriting) throws -> Response {
        let body = encode(value)
        let etag = entityTag(body)
        if RequestInput.ifNoneMatchHits(request.headers[.ifNoneMatchHeader], etag: etag) {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .eTag: etag],
            body: ResponseBody(byteBuffer: .init(bytes: body)))
    }

    /// 201 with `Location` and `ETag`.
    static func created(_ location: String, _ value: some JSONBodyWriting) throws -> Response {
        try make(.created, value, headers: [.location: location], etag: true)
    }
}

/// Percent-encodes a path segment for `Location` headers.
func pathSegment(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}
