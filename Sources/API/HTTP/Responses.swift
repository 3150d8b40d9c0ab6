import Foundation
import HTTPTypes
import Hummingbird
import InputParsing
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

/// JSON responses: sorted keys, RFC 3339 timestamps with microseconds.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }()

    static func encode(_ value: some Encodable) throws -> [UInt8] {
        if let direct = value as? any JSONBodyWriting {
            var writer = JSONWriter()
            direct.write(to: &writer)
            return writer.bytes
        }
        return [UInt8](try encoder.encode(value))
    }

    static func make(
        _ status: HTTPResponse.Status, _ value: some Encodable, headers: HTTPFields = [:], etag: Bool = false
    ) throws -> Response {
        let body = try encode(value)
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
        var body = problem.body
        body["request_id"] = requestID
        let bytes =
            (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
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
struct Page<Item: Encodable>: Encodable {
    var items: [Item]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)  // null, not absent, on the last page
    }
}
