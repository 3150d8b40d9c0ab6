import CurlClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// A real local HTTP server that webhooks are sent to: it records every request to
/// `/hooks/{name}` (headers, body, arrival) and answers from a script of responses per
/// name (200 once the script runs out). One per test process; tests keep apart by name.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        var at: Date

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        /// Held this long before answering (a slow receiver).
        var delay: Duration = .zero
    }

    private struct State {
        var received: [String: [Received]] = [:]
        var script: [String: [Reply]] = [:]
    }

    private let state = Mutex(State())
    let port: Int
    private let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func url(_ name: String) -> String { "\(baseURL)/hooks/\(name)" }

    static let shared = Task<WebhookReceiver, any Error> { try await WebhookReceiver.start() }

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    private static func start() async throws -> WebhookReceiver {
        let box = Mutex<WebhookReceiver?>(nil)
        let router = Router()
        router.post("/hooks/{name}") { request, context -> Response in
            let name = context.parameters.get("name") ?? ""
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            guard let receiver = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            let reply = receiver.record(
                name, Received(headers: headers, body: Array(body.readableBytesView), at: Date()))
            if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
            var fields = HTTPFields()
            for (name, value) in reply.headers { fields[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: reply.status), headers: fields)
        }
        let port = TestEnvironment.freePort()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            logger: {
                var l = Logger(label: "receiver"); l.logLevel = .critical; return l
            }())
        let task = Task { try await app.runService() }
        let receiver = WebhookReceiver(port: port, task: task)
        box.withLock { $0 = receiver }
        // Wait until it answers.
        for _ in 0..<100 {
            if (try? await CurlHTTPClient.forTests.perform(.init(url: receiver.baseURL + "/", timeout: .seconds(1)))) != nil {
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return receiver
    }

    private func record(_ name: String, _ received: Received) -> Reply {
        state.withLock { state in
            state.received[name, default: []].append(received)
            if var script = state.script[name], !script.isEmpty {
                let reply = script.removeFirst()
                state.script[name] = script
                return reply
            }
            return Reply(status: 200)
        }
    }

    /// Answers the next requests to `name` with `replies`, in order.
    func script(_ name: String, _ replies: [Reply]) {
        state.withLock { $0.script[name] = replies }
    }

    func received(_ name: String) -> [Received] { state.withLock { $0.received[name] ?? [] } }

    /// Waits until `name` has received `count` requests (or `timeout` passed); returns them.
    @discardableResult
    func wait(_ name: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let got = received(name)
            if got.count >= count { return got }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("\(name) received \(received(name).count) of \(count) webhooks in \(timeout)")
    }
}
