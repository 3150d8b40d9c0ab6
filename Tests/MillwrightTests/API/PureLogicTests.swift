import Foundation
import Hummingbird
import InputParsing
import Postgres
import Testing

@testable import API
@testable import Auth

/// Logic without I/O: routing, JSON merge patch, timestamps, credentials.
@Suite("Pure logic")
struct PureLogicTests {
    @Test("Routes: parameters are percent-decoded, literal segments win, 405 lists only the winners' methods")
    func routing() {
        var table = RouteTable()
        let handler: Handler = { _, _ in Response(status: .ok) }
        table.routes = [
            Route(.get, "/t/{tenant}/devices/{device}", access: .anonymous, handler: handler),
            Route(.patch, "/t/{tenant}/devices/{device}", access: .anonymous, handler: handler),
            Route(.post, "/t/{tenant}/devices/batch", access: .anonymous, handler: handler),
        ]
        guard case .found(let route, let parameters) = table.resolve(method: .get, path: "/t/acme/devices/press%3A01") else {
            Issue.record("not found")
            return
        }
        #expect(route.method == .get)
        #expect(parameters == ["tenant": "acme", "device": "press:01"])
        guard case .found(let batch, _) = table.resolve(method: .post, path: "/t/acme/devices/batch/") else {
            Issue.record("batch not found")
            return
        }
        #expect(batch.template == "/t/{tenant}/devices/batch")
        guard case .methodNotAllowed(let allowed) = table.resolve(method: .get, path: "/t/acme/devices/batch") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == [.post])
        guard case .notFound = table.resolve(method: .get, path: "/t/acme/devices") else {
            Issue.record("expected 404")
            return
        }
        guard case .notFound = table.resolve(method: .get, path: "/t//devices/x") else {
            Issue.record("an empty parameter must not match")
            return
        }
    }

    @Test("JSON merge patch follows RFC 7396's examples")
    func mergePatch() throws {
        func json(_ text: String) throws -> JSONValue { try #require(JSONValue.parse(Array(text.utf8))) }
        let cases: [(String, String, String)] = [
            (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
            (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
            (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
            (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
            (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
            (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
            (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
            (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
            (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
            (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
            (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
        ]
        for (target, patch, result) in cases {
            #expect(try json(target).merging(patch: try json(patch)) == json(result), "\(target) + \(patch)")
        }
    }

    @Test("JSON keeps integers, booleans and numbers apart, and finds NUL characters")
    func jsonValues() throws {
        let value = try #require(
            JSONValue.parse(Array(#"{"i":1,"f":1.5,"b":true,"s":"x","n":null,"a":[{"k":"a\u0000b"}]}"#.utf8)))
        guard case .object(let fields) = value else {
            Issue.record("not an object")
            return
        }
        #expect(fields["i"] == .integer(1))
        #expect(fields["f"] == .number(1.5))
        #expect(fields["b"] == .bool(true))
        #expect(fields["n"] == .null)
        #expect(value.pointerToNUL() == "/a/0/k")
        #expect(JSONValue.parse(Array("{".utf8)) == nil)
    }

    @Test("Timestamps parse RFC 3339 forms to the microsecond and format back")
    func timestamps() {
        let cases: [(String, Int64?)] = [
            ("2026-11-22T10:00:00Z", 1_795_341_600_000_000),
            ("2026-11-22T10:00:00.123Z", 1_795_341_600_123_000),
            ("2026-11-22T10:00:00.1234567Z", 1_795_341_600_123_457),  // rounded to the microsecond
            ("2026-11-22T11:30:00+01:30", 1_795_341_600_000_000),
            ("2026-11-22 10:00:00.5+00", 1_795_341_600_500_000),  // PostgreSQL's own output
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
            ("2023-02-29T00:00:00Z", nil),
            ("2026-13-01T00:00:00Z", nil),
            ("2026-11-22T10:00:00", nil),  // no offset
            ("2026-11-22", nil),
            ("yesterday", nil),
            ("2026-11-22T10:00:00.Z", nil),
        ]
        for (text, expected) in cases {
            #expect(RFC3339.parseMicroseconds(text) == expected, "\(text)")
        }
        let date = Date(timeIntervalSince1970: 1_795_341_600.25)
        #expect(RFC3339.format(date) == "2026-11-22T10:00:00.25Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }

    @Test("Device key credentials parse only in their own form")
    func deviceKeyCredentials() throws {
        let credential = try DeviceKeyCredential.generate(tenant: "acme")
        #expect(DeviceKeyCredential(bearer: credential.bearerValue) == credential)
        #expect(credential.secretHash.count == 32)
        #expect(DeviceKeyCredential(bearer: "eyJhbGciOi.eyJ.sig") == nil)
        #expect(DeviceKeyCredential(bearer: "mwk.acme.id") == nil)
        #expect(DeviceKeyCredential(bearer: "mwk.acme.id.short") == nil)
        #expect(try DeviceKeyCredential.generate(tenant: "acme").secret != credential.secret)
    }

    @Test("Authorization schemes: Bearer and Token, case-insensitive; anything else is no credential")
    func schemes() {
        #expect(AuthorizationHeader.credential("Bearer abc") == "abc")
        #expect(AuthorizationHeader.credential("bearer  abc ") == "abc")
        #expect(AuthorizationHeader.credential("Token abc") == "abc")
        #expect(AuthorizationHeader.credential("Basic abc") == nil)
        #expect(AuthorizationHeader.credential("Bearer") == nil)
    }
}
