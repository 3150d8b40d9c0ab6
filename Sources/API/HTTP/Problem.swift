import Foundation
import HTTPTypes

/// An error the client is meant to see, sent as `application/problem+json` (RFC 9457)
/// with a stable snake_case `code`. Only errors of this type reach clients as they
/// are; anything else becomes a generic 500 (or 503 when the database is away).
public struct Problem: Error, Sendable, Equatable {
    /// One offending field: a JSON pointer into the request, a code and a sentence.
    public struct FieldError: Sendable, Equatable, Codable {
        public var pointer: String
        public var code: String
        public var message: String

        public init(pointer: String, code: String, message: String) {
            self.pointer = pointer
            self.code = code
            self.message = message
        }
    }

    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]
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
        self.headers = headers
    }

    var body: [String: Any] {
        var body: [String: Any] = [
            "type": "https://millwright.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))",
            "title": title, "status": status.code, "detail": detail, "code": code,
        ]
        if !errors.isEmpty {
            body["errors"] = errors.map { ["pointer": $0.pointer, "code": $0.code, "message": $0.message] }
        }
        return body
    }
}

extension Problem {
    static func notFound(_ detail: String = "no such resource") -> Problem {
        Problem(.notFound, code: "not_found", detail: detail)
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

    static func internalError() -> Problem {
        Problem(.internalServerError, code: "internal_error", detail: "an unexpected error occurred; it has been logged")
    }
}
