import Metrics
import Synchronization

/// The streams' Prometheus series: `millwright_streams_open` by kind,
/// `millwright_stream_events_sent_total` by kind, `millwright_stream_events_dropped_total`
/// by reason (`slow_consumer`, `coalesced`), `millwright_stream_replay_events`.
enum StreamMetrics {
    static func opened(_ kind: String) {
        Gauge(label: "millwright_streams_open", dimensions: [("kind", kind)]).record(open(kind, by: 1))
    }

    static func closed(_ kind: String) {
        Gauge(label: "millwright_streams_open", dimensions: [("kind", kind)]).record(open(kind, by: -1))
    }

    static func sent(_ kind: String) {
        Counter(label: "millwright_stream_events_sent_total", dimensions: [("kind", kind)]).increment()
    }

    static func dropped(_ count: Int, reason: String) {
        guard count > 0 else { return }
        Counter(label: "millwright_stream_events_dropped_total", dimensions: [("reason", reason)]).increment(by: count)
    }

    static func replayed(_ count: Int) {
        Recorder(label: "millwright_stream_replay_events", aggregate: true).record(count)
    }

    private static let counts = OpenCounts()

    private static func open(_ kind: String, by delta: Int) -> Int { counts.add(delta, kind) }
}

private final class OpenCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func add(_ delta: Int, _ kind: String) -> Int {
        counts.withLock { counts in
            counts[kind, default: 0] += delta
            return counts[kind, default: 0]
        }
    }
}
