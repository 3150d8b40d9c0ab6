import Auth
import DeviceRegistry
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Tenancy
import Testing

@testable import API

/// The HTTP contract in process: the real responder and handlers over in-memory
/// implementations of the domain protocols, no PostgreSQL, no token issuer, no socket
/// (Hummingbird's router test framework). Status codes, problem bodies, headers and the
/// role matrix; the SQL, row-level security and end-to-end paths are the real-database
/// suites' (`RegistryTests`, `RoleMatrixTests`, `CrossTenantTests`, ...).
@Suite("HTTP contract (in process)")
struct HTTPContractTests {
    /// A service with tenants `acme` (device `press-1` with sensor `temp`) and `beta`.
    struct Harness {
        let registry: InMemoryRegistry
        let ingestor = InMemoryIngestor()
        let alerting: InMemoryAlerting

        init() {
            registry = InMemoryRegistry()
            alerting = InMemoryAlerting(registry: registry)
        }

        func application() -> some ApplicationProtocol {
            let alerting = self.alerting
            let services = APIServices(
                tenants: registry, devices: registry, sensors: registry, keys: registry, ingestor: ingestor,
                points: EmptyPoints(registry: registry), alertRules: alerting, channels: alerting, alerts: alerting,
                timeZones: TimeZoneNames(["UTC", "Europe/Berlin"]),
                readiness: { .ready }, storageEngine: "partman", openAPIDocument: nil)
            var logger = Logger(label: "contract")
            logger.logLevel = .critical
            return Application(
                responder: MillwrightResponder(
                    routes: MillwrightApplication.routes(services), authenticator: FixedAuthenticator(), logger: logger),
                logger: logger)
        }

        static func make() async throws -> Harness {
            let harness = Harness()
            let admin = TenantContext(
                tenant: TenantID("acme")!,
                principal: .user(UserPrincipal(issuer: "t", subject: "s", username: nil, roles: [.platformAdmin], tenants: [])),
                role: .platformAdmin)
            for id in ["acme", "beta"] { _ = try await harness.registry.createTenant(TenantID(id)!, TenantFields(name: id)) }
            var sensor = SensorFields(kind: .number)
            sensor.unit = "°C"
            _ = try await harness.registry.createDevices(
                [NewDevice(id: "press-1", fields: DeviceFields(), sensors: [("temp", sensor)])], in: admin)
            return harness
        }
    }

    static func headers(_ token: String?, _ extra: HTTPFields = [:]) -> HTTPFields {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        return headers
    }

    /// A field of a JSON object body; nil when there is none (or no object).
    static func field(_ buffer: ByteBuffer, _ name: String) -> Any? {
        ((try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any])?[name]
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])
    }

    @Test("Unknown paths and ids that cannot exist are 404 problems carrying the request id")
    func notFound() async throws {
        try await Harness.make().application().test(.router) { client in
            try await client.execute(uri: "/nothing", method: .get, headers: [HTTPField.Name("X-Request-ID")!: "abc-123"]) {
                response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[HTTPField.Name("X-Request-ID")!] == "abc-123")
                let body = try Self.json(response.body)
                #expect(body["code"] as? String == "not_found")
                #expect(body["request_id"] as? String == "abc-123")
                #expect(body["status"] as? Int == 404)
            }
            try await client.execute(uri: "/api/v1/tenants/UPPER/devices", method: .get, headers: Self.headers("viewer@acme")) {
                response in
                #expect(response.status == .notFound)
                #expect(
                    Self.field(response.body, "detail") as? String
                        == "no tenant has that id: tenant ids match ^[a-z0-9][a-z0-9-]{1,62}$")
            }
        }
    }

    @Test("405 lists exactly the methods of the path, HEAD with GET")
    func methodNotAllowed() async throws {
        try await Harness.make().application().test(.router) { client in
            try await client.execute(uri: "/api/v1/tenants/acme/devices", method: .put, headers: Self.headers("viewer@acme")) {
                response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD, POST")
                #expect(Self.field(response.body, "code") as? String == "method_not_allowed")
            }
        }
    }

    @Test("Without a credential: 401 with a Bearer challenge; a bad one: 401 invalid_token")
    func unauthenticated() async throws {
        try await Harness.make().application().test(.router) { client in
            try await client.execute(uri: "/api/v1/tenants/acme/devices", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"millwright\"")
                #expect(Self.field(response.body, "code") as? String == "unauthenticated")
            }
            try await client.execute(uri: "/api/v1/tenants/acme/devices", method: .get, headers: Self.headers("nobody")) {
                response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.contains("error=\"invalid_token\"") == true)
            }
        }
    }

    @Test(
        "Role matrix: who may do what, and outsiders see 404",
        arguments: [
            // (token, method, path, expected status)
            ("viewer@acme", "GET", "/api/v1/tenants/acme/devices/press-1", 200),
            ("viewer@acme", "GET", "/api/v1/tenants/acme", 200),
            ("viewer@acme", "DELETE", "/api/v1/tenants/acme/devices/press-1", 403),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/devices/press-1/keys", 403),
            ("metrics-writer@acme", "GET", "/api/v1/tenants/acme/devices/press-1/keys", 403),
            ("tenant-admin@acme", "GET", "/api/v1/tenants/acme/devices/press-1/keys", 200),
            ("tenant-admin@acme", "PATCH", "/api/v1/tenants/acme", 403),
            ("tenant-admin@acme", "GET", "/api/v1/tenants", 403),
            ("viewer@beta", "GET", "/api/v1/tenants/acme/devices/press-1", 404),
            ("viewer@beta", "PATCH", "/api/v1/tenants/acme", 404),
            ("tenant-admin@beta", "GET", "/api/v1/tenants/acme/devices/press-1/sensors", 404),
            ("device@acme/press-1", "GET", "/api/v1/tenants/acme/devices/press-1", 403),
            ("device@beta/press-1", "GET", "/api/v1/tenants/acme/devices/press-1", 404),
            ("device@acme/press-1", "GET", "/api/v1/tenants", 403),
            ("platform-admin", "GET", "/api/v1/tenants/acme/devices/press-1", 200),
            ("platform-admin", "GET", "/api/v1/tenants", 200),
            ("platform-admin", "GET", "/api/v1/tenants/nope/devices/press-1", 404),
        ])
    func roleMatrix(_ token: String, _ method: String, _ path: String, _ expected: Int) async throws {
        try await Harness.make().application().test(.router) { client in
            let body: ByteBuffer? = method == "PATCH" ? ByteBuffer(string: "{}") : nil
            var headers = Self.headers(token)
            if body != nil { headers[.contentType] = "application/merge-patch+json" }
            try await client.execute(
                uri: path, method: HTTPRequest.Method(method)!, headers: headers, body: body
            ) { response in
                #expect(response.status.code == expected, "\(token) \(method) \(path)")
                if expected >= 400 {
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let code = Self.field(response.body, "code") as? String
                    #expect(code == (expected == 404 ? "not_found" : "forbidden"))
                }
            }
        }
    }

    static let someID = "0b9a3f1e-7c2d-4e5f-8a9b-0c1d2e3f4a5b"

    @Test(
        "Alerting role matrix: tenant admins write rules and own channels, members read rules and alerts, outsiders 404",
        arguments: [
            ("viewer@acme", "GET", "/api/v1/tenants/acme/alert-rules", 200),
            ("metrics-writer@acme", "GET", "/api/v1/tenants/acme/alert-rules", 200),
            ("tenant-admin@acme", "GET", "/api/v1/tenants/acme/alert-rules", 200),
            ("device@acme/press-1", "GET", "/api/v1/tenants/acme/alert-rules", 403),
            ("viewer@beta", "GET", "/api/v1/tenants/acme/alert-rules", 404),
            ("device@beta/press-1", "GET", "/api/v1/tenants/acme/alert-rules", 404),
            ("viewer@acme", "POST", "/api/v1/tenants/acme/alert-rules", 403),
            ("metrics-writer@acme", "POST", "/api/v1/tenants/acme/alert-rules", 403),
            ("tenant-admin@beta", "POST", "/api/v1/tenants/acme/alert-rules", 404),
            ("tenant-admin@acme", "POST", "/api/v1/tenants/acme/alert-rules", 400),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/alert-rules/\(someID)", 404),
            ("viewer@acme", "PATCH", "/api/v1/tenants/acme/alert-rules/\(someID)", 403),
            ("viewer@acme", "DELETE", "/api/v1/tenants/acme/alert-rules/\(someID)", 403),
            ("tenant-admin@acme", "DELETE", "/api/v1/tenants/acme/alert-rules/\(someID)", 404),
            ("tenant-admin@acme", "GET", "/api/v1/tenants/acme/alert-rules/not-a-uuid", 404),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/notification-channels", 403),
            ("metrics-writer@acme", "GET", "/api/v1/tenants/acme/notification-channels", 403),
            ("tenant-admin@acme", "GET", "/api/v1/tenants/acme/notification-channels", 200),
            ("tenant-admin@beta", "GET", "/api/v1/tenants/acme/notification-channels", 404),
            ("viewer@acme", "POST", "/api/v1/tenants/acme/notification-channels", 403),
            ("tenant-admin@acme", "POST", "/api/v1/tenants/acme/notification-channels", 400),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/notification-channels/\(someID)/deliveries", 403),
            ("tenant-admin@acme", "GET", "/api/v1/tenants/acme/notification-channels/\(someID)/deliveries", 404),
            ("viewer@acme", "POST", "/api/v1/tenants/acme/notification-channels/\(someID)/test", 403),
            ("tenant-admin@acme", "POST", "/api/v1/tenants/acme/notification-channels/\(someID)/test", 404),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/alerts", 200),
            ("device@acme/press-1", "GET", "/api/v1/tenants/acme/alerts", 403),
            ("viewer@beta", "GET", "/api/v1/tenants/acme/alerts", 404),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/alerts/1", 404),
            ("viewer@acme", "POST", "/api/v1/tenants/acme/alerts/1/acknowledge", 404),
            ("device@acme/press-1", "POST", "/api/v1/tenants/acme/alerts/1/acknowledge", 403),
            ("viewer@beta", "POST", "/api/v1/tenants/acme/alerts/1/acknowledge", 404),
            ("viewer@acme", "GET", "/api/v1/tenants/acme/devices/press-1/sensors/temp/anomalies", 200),
            ("device@acme/press-1", "GET", "/api/v1/tenants/acme/devices/press-1/sensors/temp/anomalies", 403),
            ("viewer@beta", "GET", "/api/v1/tenants/acme/devices/press-1/sensors/temp/anomalies", 404),
            ("platform-admin", "GET", "/api/v1/tenants/acme/notification-channels", 200),
        ])
    func alertingRoleMatrix(_ token: String, _ method: String, _ path: String, _ expected: Int) async throws {
        try await Harness.make().application().test(.router) { client in
            let body: ByteBuffer? = method == "GET" || method == "DELETE" ? nil : ByteBuffer(string: "{}")
            var headers = Self.headers(token)
            if body != nil { headers[.contentType] = method == "PATCH" ? "application/merge-patch+json" : "application/json" }
            try await client.execute(uri: path, method: HTTPRequest.Method(method)!, headers: headers, body: body) {
                response in
                #expect(response.status.code == expected, "\(token) \(method) \(path)")
                if expected >= 400 { #expect(response.headers[.contentType] == "application/problem+json") }
            }
        }
    }

    @Test(
        "Webhook URLs: http(s) with a host, no credentials, and no private address literal (without MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE)",
        arguments: [
            ("http://127.0.0.1:9000/hook", "private_address"), ("http://[::1]:8080/", "private_address"),
            ("http://localhost/hook", "private_address"), ("https://10.0.0.1/", "private_address"),
            ("http://169.254.169.254/latest/meta-data", "private_address"), ("http://[fe80::1]/", "private_address"),
            ("ftp://hooks.example.com/", "invalid_url"), ("https://user:pass@hooks.example.com/", "invalid_url"),
            ("not a url", "invalid_url"), ("https://hooks.example.com/millwright", nil),
        ] as [(String, String?)])
    func webhookURLs(_ url: String, _ refusal: String?) async throws {
        try await Harness.make().application().test(.router) { client in
            let body = try JSONSerialization.data(withJSONObject: ["name": "ops", "url": url])
            var headers = Self.headers("tenant-admin@acme")
            headers[.contentType] = "application/json"
            try await client.execute(
                uri: "/api/v1/tenants/acme/notification-channels", method: .post, headers: headers,
                body: ByteBuffer(data: body)
            ) { response in
                let json = try Self.json(response.body)
                if let refusal {
                    #expect(response.status == .unprocessableContent, "\(url)")
                    let errors = json["errors"] as? [[String: Any]] ?? []
                    #expect(errors.first?["pointer"] as? String == "/url")
                    #expect(errors.first?["code"] as? String == refusal, "\(url)")
                } else {
                    #expect(response.status == .created)
                    #expect((json["secret"] as? String)?.hasPrefix("whsec_") == true)
                    #expect(json["signed"] as? Bool == true)
                }
            }
        }
    }

    @Test("A suspended tenant refuses its members with 403 tenant_suspended, not platform admins")
    func suspension() async throws {
        let harness = try await Harness.make()
        _ = try await harness.registry.updateTenant(TenantID("acme")!) { current in
            var fields = TenantFields(name: current.name)
            fields.status = .suspended
            return fields
        }
        try await harness.application().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices/press-1", method: .get, headers: Self.headers("tenant-admin@acme")
            ) { response in
                #expect(response.status == .forbidden)
                #expect(Self.field(response.body, "code") as? String == "tenant_suspended")
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices/press-1", method: .get, headers: Self.headers("platform-admin")
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/write", method: .post, headers: Self.headers("device@acme/press-1"),
                body: ByteBuffer(string: "m,device=press-1 temp=1")
            ) { response in
                // The in-memory ingestor has no catalog: the suspension check of ingestion
                // is the real-database suites'. Here the device key is let through to it.
                #expect(response.status == .noContent)
            }
        }
    }

    @Test("Created devices answer 201 with Location and ETag; If-None-Match gives 304, a stale If-Match 412")
    func representationHeaders() async throws {
        try await Harness.make().application().test(.router) { client in
            let etag = try await client.execute(
                uri: "/api/v1/tenants/acme/devices", method: .post,
                headers: Self.headers("tenant-admin@acme", [.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"id": "lathe:2", "labels": {"line": "3"}}"#)
            ) { response in
                #expect(response.status == .created)
                #expect(response.headers[.location] == "/api/v1/tenants/acme/devices/lathe%3A2")
                let body = try Self.json(response.body)
                #expect(body["id"] as? String == "lathe:2")
                #expect((body["labels"] as? [String: String]) == ["line": "3"])
                return try #require(response.headers[.eTag])
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices/lathe%3A2", method: .get,
                headers: Self.headers("viewer@acme", [HTTPField.Name("If-None-Match")!: etag])
            ) { response in
                #expect(response.status == .notModified)
                #expect(response.headers[.eTag] == etag)
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices/lathe%3A2", method: .head, headers: Self.headers("viewer@acme")
            ) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices/lathe%3A2", method: .patch,
                headers: Self.headers(
                    "tenant-admin@acme",
                    [.contentType: "application/merge-patch+json", HTTPField.Name("If-Match")!: "\"0000\""]),
                body: ByteBuffer(string: #"{"name": "Lathe"}"#)
            ) { response in
                #expect(response.status == .preconditionFailed)
                #expect(Self.field(response.body, "code") as? String == "precondition_failed")
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices/lathe%3A2", method: .patch,
                headers: Self.headers(
                    "tenant-admin@acme", [.contentType: "application/merge-patch+json", HTTPField.Name("If-Match")!: etag]),
                body: ByteBuffer(string: #"{"name": "Lathe"}"#)
            ) { response in
                #expect(response.status == .ok)
                #expect(Self.field(response.body, "name") as? String == "Lathe")
                #expect(response.headers[.eTag] != etag)
            }
        }
    }

    @Test("Invalid fields are a 422 naming each one; a duplicate id 409")
    func validation() async throws {
        try await Harness.make().application().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices", method: .post,
                headers: Self.headers("tenant-admin@acme", [.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"id": "press-9", "timezone": "Mars/Olympus", "offline_after_seconds": -1}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                let errors = try #require(try Self.json(response.body)["errors"] as? [[String: Any]])
                #expect(Set(errors.compactMap { $0["pointer"] as? String }) == ["/timezone", "/offline_after_seconds"])
            }
            try await client.execute(
                uri: "/api/v1/tenants/acme/devices", method: .post,
                headers: Self.headers("tenant-admin@acme", [.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"id": "press-1"}"#)
            ) { response in
                #expect(response.status == .conflict)
                #expect(Self.field(response.body, "code") as? String == "already_exists")
            }
        }
    }

    @Test("/api/v2/write: the tenant is org, decided as for every route, and every error takes InfluxDB's form")
    func influxWrite() async throws {
        let harness = try await Harness.make()
        try await harness.application().test(.router) { client in
            let cases: [(uri: String, token: String?, status: HTTPResponse.Status, code: String)] = [
                ("/api/v2/write?bucket=b", "device@acme/press-1", .badRequest, "invalid"),
                ("/api/v2/write?org=acme", "device@acme/press-1", .badRequest, "invalid"),
                ("/api/v2/write?org=acme&bucket=b", nil, .unauthorized, "unauthorized"),
                ("/api/v2/write?org=acme&bucket=b", "viewer@acme", .forbidden, "forbidden"),
                ("/api/v2/write?org=acme&bucket=b", "device@beta/press-1", .notFound, "not found"),
                ("/api/v2/write?org=Not%20A%20Tenant&bucket=b", "metrics-writer@acme", .notFound, "not found"),
            ]
            for item in cases {
                try await client.execute(
                    uri: item.uri, method: .post, headers: Self.headers(item.token),
                    body: ByteBuffer(string: "temp,device=press-1 value=1")
                ) { response in
                    #expect(response.status == item.status, "\(item.uri) \(item.token ?? "-")")
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    #expect(response.headers[HTTPField.Name("X-Influx-Error")!] != nil)
                    let body = try Self.json(response.body)
                    #expect(body["code"] as? String == item.code)
                    #expect(body["type"] == nil, "not a problem+json body")
                }
            }
            try await client.execute(
                uri: "/api/v2/write?org=acme&bucket=b&precision=s", method: .post, headers: Self.headers("device@acme/press-1"),
                body: ByteBuffer(string: "machine,device=press-1 temp=21.5 1767225600")
            ) { response in
                #expect(response.status == .noContent)
            }
        }
        let received = harness.ingestor.received.withLock { $0[TenantID("acme")!] ?? [] }
        #expect(received.map(\.sensor) == ["machine.temp"])
        #expect(received.map(\.time) == [1_767_225_600_000_000])
    }

    @Test("A device key writes only its own device's points (403), through the same decided context")
    func deviceKeyScope() async throws {
        try await Harness.make().application().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/tenants/acme/write", method: .post, headers: Self.headers("device@acme/press-1"),
                body: ByteBuffer(string: "m,device=press-2 temp=1")
            ) { response in
                #expect(response.status == .forbidden)
                #expect(
                    Self.field(response.body, "detail") as? String
                        == "this device key may only write points of device press-1, not press-2")
            }
        }
    }

    @Test("Point queries: 400 naming a bad parameter before any lookup, 404 for an unknown sensor, latest lists every sensor")
    func pointQueries() async throws {
        try await Harness.make().application().test(.router) { client in
            let base = "/api/v1/tenants/acme/devices/press-1"
            let cases: [(uri: String, status: HTTPResponse.Status, pointer: String?)] = [
                (base + "/sensors/temp/points?from=yesterday", .badRequest, "from"),
                (base + "/sensors/temp/points?limit=0", .badRequest, "limit"),
                (base + "/sensors/temp/points?order=up", .badRequest, "order"),
                (base + "/sensors/temp/aggregates?interval=0s", .badRequest, "interval"),
                (
                    base + "/sensors/temp/aggregates?interval=1m&from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z",
                    .unprocessableContent, "interval"
                ),
                (base + "/sensors/nope/points", .notFound, nil),
                (base + "/sensors/temp/points", .ok, nil),
            ]
            for item in cases {
                try await client.execute(uri: item.uri, method: .get, headers: Self.headers("viewer@acme")) { response in
                    #expect(response.status == item.status, "\(item.uri)")
                    if let pointer = item.pointer {
                        let errors = Self.field(response.body, "errors") as? [[String: Any]]
                        #expect(errors?.first?["pointer"] as? String == pointer, "\(item.uri)")
                    }
                }
            }
            try await client.execute(uri: base + "/latest", method: .get, headers: Self.headers("viewer@acme")) { response in
                #expect(response.status == .ok)
                let sensors = Self.field(response.body, "sensors") as? [[String: Any]]
                #expect(sensors?.map { $0["sensor"] as? String } == ["temp"])
                #expect(sensors?.first?["value"] is NSNull)
            }
        }
    }

    @Test("/readyz is 503 with Retry-After while migrations are pending, and needs no credential")
    func readiness() async throws {
        let harness = try await Harness.make()
        let services = APIServices(
            tenants: harness.registry, devices: harness.registry, sensors: harness.registry, keys: harness.registry,
            ingestor: harness.ingestor, points: EmptyPoints(registry: harness.registry), alertRules: harness.alerting,
            channels: harness.alerting, alerts: harness.alerting, timeZones: TimeZoneNames(["UTC"]),
            readiness: { .pending(2) }, storageEngine: "partman", openAPIDocument: nil)
        let app = Application(
            responder: MillwrightResponder(
                routes: MillwrightApplication.routes(services), authenticator: FixedAuthenticator(),
                logger: Logger(label: "contract")))
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
                #expect(Self.field(response.body, "schema") as? String == "2 migrations pending")
            }
        }
    }
}
