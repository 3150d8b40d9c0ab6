/// The state of one series a rule watches (rule, device, sensor key), as stored in
/// `alert_series`, and its transitions: `inactive → pending → firing → inactive`
/// (the alert resolved), driven by point time for values and by the clock for
/// silence and repeats. Times are microseconds since the epoch, exact as stored.
///
/// Late points: a point at or before the newest point already evaluated for the series
/// (`lastPointAt`) changes nothing. So a resolved alert is never reopened, nor a firing
/// one resolved, by a point older than what was already seen; the point is stored and
/// queryable like any other.
struct SeriesMachine: Equatable {
    enum State: String {
        case inactive, pending, firing
    }

    enum Event: Equatable {
        /// The alert fires: the condition held from `startedAt`; `at` and `value` are
        /// the point (or, for silence, the clock time) that made it fire.
        case fire(startedAt: Int64, at: Int64, value: Double?)
        case resolve(at: Int64, value: Double?)
        case repeatNotice(at: Int64)
    }

    var state = State.inactive
    /// pending: the point time the condition began to hold.
    var since: Int64?
    /// firing: the point time the condition stopped holding.
    var clearSince: Int64?
    var lastPointAt: Int64?
    var alertID: Int64?
    var lastNotifiedAt: Int64?
    /// When the series was first tracked: a silence rule's baseline before any point.
    var createdAt: Int64

    init(createdAt: Int64) {
        self.createdAt = createdAt
    }

    /// One committed point of a threshold or anomaly series: whether the condition
    /// holds for it. Returns the event it causes, if any.
    mutating func observe(at time: Int64, holds: Bool, value: Double?, forSeconds: Int, resolveForSeconds: Int) -> Event? {
        if let last = lastPointAt, time <= last { return nil }
        lastPointAt = time
        switch state {
        case .inactive:
            guard holds else { return nil }
            if forSeconds == 0 { return fire(startedAt: time, at: time, value: value) }
            state = .pending
            since = time
            return nil
        case .pending:
            guard holds else {
                state = .inactive
                since = nil
                return nil
            }
            let start = since ?? time
            guard Self.elapsed(start, time) >= Int64(forSeconds) * 1_000_000 else { return nil }
            return fire(startedAt: start, at: time, value: value)
        case .firing:
            return clear(at: time, holds: holds, value: value, resolveForSeconds: resolveForSeconds)
        }
    }

    /// A point of a silence series: the device (or sensor) is heard from again.
    mutating func heard(at time: Int64, resolveForSeconds: Int) -> Event? {
        if let last = lastPointAt, time <= last { return nil }
        lastPointAt = time
        guard state == .firing else { return nil }
        return clear(at: time, holds: false, value: nil, resolveForSeconds: resolveForSeconds)
    }

    /// The clock's check of a silence series: nothing heard for `forSeconds`.
    mutating func checkSilence(now: Int64, forSeconds: Int) -> Event? {
        let heard = lastPointAt ?? createdAt
        guard Self.elapsed(heard, now) >= Int64(forSeconds) * 1_000_000 else { return nil }
        if state == .firing {
            clearSince = nil  // silent again before the resolve_for passed
            return nil
        }
        return fire(startedAt: heard, at: now, value: nil)
    }

    /// The clock's check of a firing series' re-notification.
    mutating func checkRepeat(now: Int64, everySeconds: Int?) -> Event? {
        guard state == .firing, let every = everySeconds,
            lastNotifiedAt.map({ Self.elapsed($0, now) >= Int64(every) * 1_000_000 }) ?? true
        else { return nil }
        lastNotifiedAt = now
        return .repeatNotice(at: now)
    }

    private mutating func fire(startedAt: Int64, at time: Int64, value: Double?) -> Event {
        state = .firing
        since = nil
        clearSince = nil
        return .fire(startedAt: startedAt, at: time, value: value)
    }

    private mutating func clear(at time: Int64, holds: Bool, value: Double?, resolveForSeconds: Int) -> Event? {
        guard !holds else {
            clearSince = nil
            return nil
        }
        let start = clearSince ?? time
        clearSince = start
        guard Self.elapsed(start, time) >= Int64(resolveForSeconds) * 1_000_000 else { return nil }
        state = .inactive
        since = nil
        clearSince = nil
        return .resolve(at: time, value: value)
    }

    /// `to - from` in microseconds, saturating (stored times span more than Int64 can
    /// subtract at the extremes).
    static func elapsed(_ from: Int64, _ to: Int64) -> Int64 {
        let (difference, overflow) = to.subtractingReportingOverflow(from)
        return overflow ? (to > from ? .max : .min) : difference
    }
}
