import Foundation
import HTTPTypes
import InputParsing
import JSONText

/// An error the client is meant to see, sent as `application/problem+json` (RFC 9457)
/// with a stable snake_case `code`. Only errors of this type reach clients as they
/// are; anything else becomes a generic 500 (or 503 when the database is away).
public struct Problem: Error, Sendable, Equatable {
    /// One offending field: a JSON pointer into the request, a code and a sentence.
    public struct FieldError: Sendable, Equatable {
        public var pointer: String
        public var code: String
        public var message: String
        /// Where an ingested point was: its index in a JSON body, or line and column.
        public var index: Int?
        public var line: Int?
        public var column: Int?

        public init(pointer: String, code: String, message: String, index: Int? = nil, line: Int? = nil, column: Int? = nil) {
            self.pointer = pointer
            self.code = code
            self.message = message
            self.index = index
            self.line = line
            self.column = column
        }

        func write(to w: inout JSONWriter) {
            w.beginObject()
            w.key("code")
            w.string(code)
            if let column {
                w.key("column")
                w.integer(column)
            }
            if let index {
                w.key("index")
                w.integer(index)
            }
            if let line {
                w.key("line")
                w.integer(line)
            }
            w.key("message")
            w.string(message)
            w.key("pointer")
            w.string(pointer)
            w.endObject()
        }
    }

    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]
    /// How many errors there were in all, when `errors` lists only the first ones.
    public var errorCount: Int?
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, title: String? = nil, detail: String, errors: [FieldError] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.errorCount = nil
        self.headers = headers
    }

    /// The problem+json document, keys sorted.
    func write(to w: inout JSONWriter, requestID: String) {
        w.beginObject()
        w.key("code")
        w.string(code)
        w.key("detail")
        w.string(detail)
        if let errorCount {
            w.key("error_count")
            w.integer(errorCount)
        }
        if !errors.isEmpty {
            w.key("errors")
            w.beginArray()
            for error in errors { error.write(to: &w) }
            w.endArray()
        }
        w.key("request_id")
        w.string(requestID)
        w.key("status")
        w.integer(Int(status.code))
        w.key("title")
        w.string(title)
        w.key("type")
        w.string("https://millwright.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))")
        w.endObject()
    }
}

extension Problem {
    static func notFound(_ detail: String = "no such resource") -> Problem {
        Problem(.notFound, code: "not_found", detail: detail)
    }

    /// A path whose identifier nothing can have: nothing is looked up, and the id is not
    /// echoed.
    static func invalidIdentifier(_ kind: Identifier.Kind) -> Problem {
        notFound("no \(kind.rawValue) has that id: \(kind.rawValue) ids match \(kind.pattern)")
    }

    static func forbidden(_ detail: String, code: String = "forbidden") -> Problem {
        Problem(.forbidden, code: code, detail: detail)
    }

    static func badRequest(_ code: String, _ detail: String, errors: [FieldError] = []) -> Problem {
        Problem(.badRequest, code: code, detail: detail, errors: errors)
    }

    static func unprocessable(_ detail: String, errors: [FieldError]) -> Problem {
        Problem(.unprocessableContent, code: "validation_failed", detail: detail, errors: errors)
    }

    static func databaseUnavailable() -> Problem {
        var headers = HTTPFields()
        headers[.retryAfter] = "5"
        return Problem(
            .serviceUnavailable, code: "database_unavailable", detail: "the database is not reachable; retry shortly",
            headers: headers)
    }

    /// A connection past `ConnectionLimits` (503 on HTTP, close code 4503 on WebSocket).
    static func tooManyConnections(_ refusal: ConnectionCounter.Admission) -> Problem {
        Problem(
            .serviceUnavailable, code: "too_many_connections",
            detail: refusal == .clientFull
                ? "this client has as many connections open as one client may; reuse them, or retry shortly"
                : "the server has as many connections open as it allows; retry shortly",
            headers: [.retryAfter: "1"])
    }

    static func internalError() -> Problem {
        Problem(.internalServerError, code: "internal_error", detail: "an unexpected error occurred; it has been logged")
    }
}
