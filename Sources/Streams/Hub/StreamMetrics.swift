import Metrics

/// The streams' Prometheus series: `millwright_streams_open` by kind,
/// `millwright_stream_events_sent_total` by kind, `millwright_stream_events_dropped_total`
/// by reason (`slow_consumer`, `coalesced`), `millwright_stream_replay_events`.
enum StreamMetrics {
    /// `open`: the hub's count of open streams of `kind`.
    static func open(_ kind: String, _ open: Int) {
        Gauge(label: "millwright_streams_open", dimensions: [("kind", kind)]).record(open)
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
}
