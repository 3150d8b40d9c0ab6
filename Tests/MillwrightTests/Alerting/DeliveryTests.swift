import CurlClient
import Foundation
import InputParsing
import OpenSSLSupport
import Postgres
import Testing

@testable import Alerting

/// Notifications: at least once, retried with backoff and `Retry-After`, `410 Gone`
/// disabling the channel, a slow receiver holding up only itself, signatures, and the
/// address checks; and the evaluator across replicas: one at a time, taking over when
/// the one evaluating dies, no notification twice after a restart.
@Suite("Alert notifications")
struct DeliveryTests {
    typealias Setup = AlertTests.Setup

    func hotRule(_ s: Setup, device: String = "d1") async throws {
        try await s.rule([
            "name": "hot \(device)", "device": device, "sensor": "temp",
            "condition": ["type": "threshold", "operator": "above", "value": 50],
        ])
    }

    @Test("a failed attempt is retried with backoff, under the same idempotency key, until delivered")
    func retries() async throws {
        let s = try await Setup.make()
        s.receiver.script(s.hook, [.init(status: 503), .init(status: 500)])
        try await hotRule(s)
        try await s.write([(AlertTests.t0, 60)])
        let got = try await s.receiver.wait(s.hook, count: 3)
        #expect(Set(got.map { $0.header("Idempotency-Key") }).count == 1)
        #expect(Set(got.map { $0.header("webhook-id") }).count == 1)
        // First retry after 0.5-1 s, the second after 1-2 s (MILLWRIGHT_WEBHOOK_FIRST_RETRY_S=1 in tests).
        #expect(got[1].at.timeIntervalSince(got[0].at) >= 0.45)
        #expect(got[2].at.timeIntervalSince(got[1].at) >= 0.95)
        try await Task.sleep(for: .milliseconds(500))
        let deliveries = try await s.client.get(s.base + "/notification-channels/\(s.channel)/deliveries", token: s.admin)
        let delivery = try #require(deliveries.items.first)
        #expect(delivery["status"] as? String == "delivered")
        // At least the three the receiver saw: an attempt claimed by a replica that was
        // stopped before it sent (another test's) counts too.
        #expect((delivery["attempts"] as? Int ?? 0) >= 3)
        #expect(delivery["last_status"] as? Int == 200)
        #expect(delivery["event"] as? String == "firing")
    }

    @Test("a tenant cannot pile up deliveries: a new test replaces one still pending; at most 100 channels")
    func testsDoNotPileUp() async throws {
        let s = try await Setup.make()
        s.receiver.script(s.hook, Array(repeating: .init(status: 503), count: 50))
        for _ in 0..<5 {
            let test = try await s.client.post(
                s.base + "/notification-channels/\(s.channel)/test", token: s.admin, json: [:] as [String: Any])
            #expect(test.status == 202)
        }
        try await Task.sleep(for: .seconds(2))
        let deliveries = try await s.client.get(s.base + "/notification-channels/\(s.channel)/deliveries", token: s.admin)
        #expect(deliveries.items.count == 5)
        #expect(deliveries.items.filter { $0["status"] as? String == "pending" }.count == 1)
        #expect(
            deliveries.items.filter { $0["last_error"] as? String == "replaced by a newer test" }.count == 4,
            "\(deliveries.items)")
        for n in 1..<100 {
            let created = try await s.client.post(
                s.base + "/notification-channels", token: s.admin,
                json: ["name": "c\(n)", "url": "https://hooks.example.com/\(n)", "signed": false])
            #expect(created.status == 201)
        }
        let over = try await s.client.post(
            s.base + "/notification-channels", token: s.admin,
            json: ["name": "one too many", "url": "https://hooks.example.com/x"])
        #expect(over.status == 409)
        #expect(over.code == "channel_limit_reached")
    }

    @Test("Retry-After is honoured")
    func retryAfter() async throws {
        let s = try await Setup.make()
        s.receiver.script(s.hook, [.init(status: 429, headers: ["Retry-After": "3"])])
        try await hotRule(s)
        try await s.write([(AlertTests.t0, 60)])
        let got = try await s.receiver.wait(s.hook, count: 2)
        #expect(got[1].at.timeIntervalSince(got[0].at) >= 2.9)
    }

    @Test("410 Gone fails the delivery and disables the channel, visibly; enabling it again clears the reason")
    func gone() async throws {
        let s = try await Setup.make()
        // Gone every time: should a replica of another test that shares the database claim
        // the delivery and stop before recording, the attempt after its lease (15 s) is
        // refused alike.
        s.receiver.script(s.hook, Array(repeating: .init(status: 410), count: 5))
        try await hotRule(s)
        try await s.write([(AlertTests.t0, 60)])
        try await s.receiver.wait(s.hook, count: 1)
        var channel = try await s.client.get(s.base + "/notification-channels/\(s.channel)", token: s.admin)
        for _ in 0..<300 where channel.json["enabled"] as? Bool != false {
            try await Task.sleep(for: .milliseconds(100))
            channel = try await s.client.get(s.base + "/notification-channels/\(s.channel)", token: s.admin)
        }
        #expect(channel.json["enabled"] as? Bool == false)
        #expect((channel.json["disabled_reason"] as? String)?.contains("410") == true)
        let delivery = try await s.client.get(s.base + "/notification-channels/\(s.channel)/deliveries", token: s.admin)
        #expect(delivery.items.first?["status"] as? String == "failed")
        // Later events are not queued on a disabled channel; the test endpoint says why.
        let test = try await s.client.post(
            s.base + "/notification-channels/\(s.channel)/test", token: s.admin, json: [:] as [String: Any])
        #expect(test.status == 409)
        let enabled = try await s.client.patch(
            s.base + "/notification-channels/\(s.channel)", token: s.admin, json: ["enabled": true])
        #expect(enabled.json["enabled"] as? Bool == true)
        #expect(enabled.json["disabled_reason"] is NSNull)
    }

    @Test("slow receivers hold up only their own channels: ten slow channels of one tenant never hold every slot")
    func slowReceivers() async throws {
        let slow = try await Setup.make()
        let fast = try await Setup.make()
        var channels = [slow.channel]
        for n in 1..<10 {
            let created = try await slow.client.post(
                slow.base + "/notification-channels", token: slow.admin,
                json: ["name": "slow \(n)", "url": slow.receiver.url(slow.hook + "-\(n)")])
            channels.append(try #require(created.json["id"] as? String))
            slow.receiver.script(slow.hook + "-\(n)", [.init(status: 200, delay: .seconds(8))])
        }
        slow.receiver.script(slow.hook, [.init(status: 200, delay: .seconds(8))])
        for channel in channels {
            _ = try await slow.client.post(
                slow.base + "/notification-channels/\(channel)/test", token: slow.admin, json: [:] as [String: Any])
        }
        try await Task.sleep(for: .milliseconds(1500))
        let started = Date()
        _ = try await fast.client.post(
            fast.base + "/notification-channels/\(fast.channel)/test", token: fast.admin, json: [:] as [String: Any])
        let got = try await fast.receiver.wait(fast.hook, count: 1)[0]
        #expect(got.at.timeIntervalSince(started) < 3)
        #expect(got.json["event"] as? String == "test")
    }

    @Test("the secret is shown once and signs each attempt: both signatures verify with it")
    func signatures() async throws {
        let s = try await Setup.make(signed: false)
        let created = try await s.client.post(
            s.base + "/notification-channels", token: s.admin, json: ["name": "signed", "url": s.receiver.url(s.hook + "-s")])
        let secret = try #require(created.json["secret"] as? String)
        let id = try #require(created.json["id"] as? String)
        let read = try await s.client.get(s.base + "/notification-channels/\(id)", token: s.admin)
        #expect(read.json["secret"] == nil)
        #expect(read.json["signed"] as? Bool == true)
        _ = try await s.client.post(s.base + "/notification-channels/\(id)/test", token: s.admin, json: [:] as [String: Any])
        let got = try await s.receiver.wait(s.hook + "-s", count: 1)[0]
        let key = try #require(WebhookSignature.parse(secret))
        let timestamp = try #require(got.header("X-Millwright-Timestamp"))
        let mac = CryptoPrimitives.hmacSHA256(key: key, message: Array("\(timestamp).".utf8) + got.body)
        #expect(got.header("X-Millwright-Signature") == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        // The unsigned channel's deliveries carry no signature.
        _ = try await s.client.post(
            s.base + "/notification-channels/\(s.channel)/test", token: s.admin, json: [:] as [String: Any])
        let plain = try await s.receiver.wait(s.hook, count: 1)[0]
        #expect(plain.header("webhook-signature") == nil)
        #expect(plain.header("X-Millwright-Signature") == nil)
        #expect(plain.header("webhook-id")?.hasPrefix("test-") == true)
    }

    @Test("webhooks reach only public addresses: checked after resolution, literals refused at creation")
    func privateAddresses() async throws {
        for (text, refused) in [
            ("127.0.0.1", true), ("10.1.2.3", true), ("172.20.0.1", true), ("192.168.1.1", true), ("169.254.169.254", true),
            ("100.64.0.1", true), ("224.0.0.1", true), ("0.0.0.0", true), ("::1", true), ("fe80::1", true), ("fd00::1", true),
            ("ff02::1", true), ("::ffff:10.0.0.1", true), ("64:ff9b::7f00:1", true), ("8.8.8.8", false),
            ("2606:4700::1111", false), ("::ffff:8.8.8.8", false),
        ] {
            let bytes = try #require(PublicAddress.bytes(literal: text))
            #expect((PublicAddress.refusal(bytes) != nil) == refused, "\(text)")
        }
        // A name is checked after it resolves: localhost is loopback.
        let receiver = try await WebhookReceiver.shared.value
        for url in ["http://localhost:\(receiver.port)/hooks/x", "http://127.0.0.1:\(receiver.port)/hooks/x"] {
            var request = HTTPClientRequest(url: url, method: "POST", body: Array("{}".utf8))
            request.publicAddressesOnly = true
            await #expect(throws: HTTPClientError.self) { try await CurlHTTPClient.forTests.perform(request) }
            do {
                _ = try await CurlHTTPClient.forTests.perform(request)
            } catch let error as HTTPClientError {
                #expect(error.code == .addressNotAllowed, "\(url): \(error)")
            }
        }
        #expect(receiver.received("x").isEmpty)
    }

    @Test("two replicas on one database notify each change exactly once")
    func exactlyOnceAcrossReplicas() async throws {
        let s = try await Setup.make()
        let second = try await TestServer.start(try await TestEnvironment.ownServerConfiguration)
        defer { second.task.cancel() }
        let other = TestClient(server: second)
        for n in 2...6 {
            try await Fixtures.device(s.client, tenant: s.tenant, id: "d\(n)")
            try await hotRule(s, device: "d\(n)")
        }
        try await hotRule(s)
        // Points through both replicas, several batches each.
        for n in 1...6 {
            let client = n % 2 == 0 ? other : s.client
            let response = try await Metrics.write(
                client, s.tenant, token: s.admin,
                [["device": "d\(n)", "sensor": "temp", "time": RFC3339.format(AlertTests.t0), "value": 70 + n]])
            #expect(response.status == 200)
        }
        let got = try await s.receiver.wait(s.hook, count: 6)
        try await Task.sleep(for: .seconds(3))
        let all = s.receiver.received(s.hook)
        #expect(all.count == 6)
        #expect(Set(all.compactMap { $0.header("Idempotency-Key") }).count == 6)
        #expect(Set(got.compactMap { $0.json["device"] as? String }) == Set((1...6).map { "d\($0)" }))
    }

    @Test("while the evaluator's lock is held nothing is evaluated; when its holder dies another takes over within seconds")
    func failover() async throws {
        let s = try await Setup.make()
        try await hotRule(s)
        // A stand-in for an evaluator that hangs: a session holding the lock in an open transaction.
        let holder = Task {
            try await PostgresPool.withTemporaryConnection(
                TestEnvironment.runtimeDatabaseURL, applicationName: "stuck-evaluator", logger: .init(label: "test")
            ) { db in
                _ = try db.execute(unsafeSQL: "BEGIN")
                _ = try db.query("SELECT pg_advisory_xact_lock(\(EvaluationRound.lockKey))")
                _ = try? db.execute(unsafeSQL: "SELECT pg_sleep(60)")
            }
        }
        defer { holder.cancel() }
        try await Task.sleep(for: .seconds(1))
        try await s.write([(AlertTests.t0, 60)])
        try await Task.sleep(for: .seconds(3))
        #expect(s.receiver.received(s.hook).isEmpty)
        // The holder dies.
        let killed = Date()
        // Signalled by its own role (the schema owner may not signal the runtime role's sessions).
        _ = try await PostgresPool.withTemporaryConnection(
            TestEnvironment.runtimeDatabaseURL, applicationName: "millwright-test", logger: .init(label: "test")
        ) { db in
            try db.query(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stuck-evaluator') t"
            ).first?.decode(0, as: Int.self)
        }
        let got = try await s.receiver.wait(s.hook, count: 1, timeout: .seconds(15))
        #expect(got[0].at.timeIntervalSince(killed) < 15)
    }

    @Test("after a restart a firing alert stays firing and is not notified again")
    func restart() async throws {
        let s = try await Setup.make()
        try await hotRule(s)
        var replica = try await TestServer.start(try await TestEnvironment.ownServerConfiguration)
        try await Metrics.write(
            TestClient(server: replica), s.tenant, token: s.admin,
            [["device": "d1", "sensor": "temp", "time": RFC3339.format(AlertTests.t0), "value": 60]])
        try await s.receiver.wait(s.hook, count: 1)
        replica.task.cancel()
        _ = try? await replica.task.value
        replica = try await TestServer.start(try await TestEnvironment.ownServerConfiguration)
        defer { replica.task.cancel() }
        try await Metrics.write(
            TestClient(server: replica), s.tenant, token: s.admin,
            [["device": "d1", "sensor": "temp", "time": RFC3339.format(AlertTests.t0 + 10), "value": 65]])
        try await s.settle()
        #expect(s.receiver.received(s.hook).count == 1)
        let firing = try await s.alerts("?state=firing")
        #expect(firing.count == 1)
    }
}
