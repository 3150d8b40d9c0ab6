import Foundation
import HTTPTypes
import Hummingbird
import InputParsing
import JSONText
import NIOCore
import OpenSSLSupport

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-ID")!
    static let ifMatchHeader = HTTPField.Name("If-Match")!
    static let ifNoneMatchHeader = HTTPField.Name("If-None-Match")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let xForwardedHost = HTTPField.Name("X-Forwarded-Host")!
}

/// JSON responses, all written by `JSONWriter`: keys sorted, RFC 3339 timestamps with
/// microseconds.
enum JSONResponse {
    static func encode(_ value: some JSONBodyWriting) -> [UInt8] {
        var writer = JSONWriter()
        value.write(to: &writer)
        return writer.bytes
    }

    static func make(
        _ status: HTTPResponse.Status, _ value: some JSONBodyWriting, headers: HTTPFields = [:], etag: Bool = false
    ) throws -> Response {
        let body = encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        if etag { headers[.eTag] = entityTag(body) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A strong tag from the representation itself, so that it changes exactly when
    /// what a client would read changes.
    static func entityTag(_ body: [UInt8]) -> String {
        "\"" + CryptoPrimitives.sha256(body).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
    }

    static func problem(_ problem: Problem, requestID: String) -> Response {
        var writer = JSONWriter()
        problem.write(to: &writer, requestID: requestID)
        let bytes = writer.bytes
        var headers = problem.headers
        headers[.contentType] = "application/problem+json"
        headers[.requestID] = requestID
        return Response(status: problem.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func noContent() -> Response {
        Response(status: .noContent)
    }
}

/// A page of a list.
struct Page<Item: JSONBodyWriting>: JSONBodyWriting {
    var items: [Item]
    var nextCursor: String?

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("items")
        writer.value(items)
        writer.key("next_cursor")
        writer.string(nextCursor)  // null, not absent, on the last page
        writer.endObject()
    }
}
