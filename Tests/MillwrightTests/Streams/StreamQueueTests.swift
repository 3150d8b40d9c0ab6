import InputParsing
import MetricRouter
import Postgres
import Synchronization
import Tenancy
import Testing

@testable import Streams

@Suite("Stream queues and packed points")
struct StreamQueueTests {
    @Test("every kind of point survives packing, bytea hex text and unpacking; torn bytes are refused")
    func streamedPoints() throws {
        let points = [
            StreamedPoints.Point(sensor: 1, time: 1_767_225_600_123_456, value: .number(-0.0)),
            StreamedPoints.Point(sensor: .max, time: .min, value: .integer(.min)),
            StreamedPoints.Point(sensor: 3, time: -1, value: .boolean(true)),
            StreamedPoints.Point(sensor: 4, time: 0, value: .string("é\u{1}\"")),
            StreamedPoints.Point(sensor: 5, time: 1, value: .string("")),
        ]
        let text = try #require(StreamedPoints.pack(points).postgresText)
        let bytes = try PostgresBytes(postgresText: text).bytes
        #expect(StreamedPoints.unpack(bytes) == points)
        for cut in [1, 8, 17, 24, 26, bytes.count - 1] {
            #expect(StreamedPoints.unpack(Array(bytes.prefix(cut))) == nil, "cut at \(cut)")
        }
        var badKind = bytes
        badKind[16] = 9
        #expect(StreamedPoints.unpack(badKind) == nil)
        #expect(StreamedPoints.unpack([]) == [])
    }

    private func subscription(policy: OverflowPolicy, max: Int = 3) throws -> Subscription {
        Subscription(
            id: 1, tenant: try #require(TenantID("acme")), principal: "p",
            selection: .points(devices: nil, sensors: nil, labels: nil),
            policy: policy, maxQueuedPoints: max, expiresAt: nil, registeredAt: 0, devices: nil)
    }

    /// Points whose JSON is only the row's id (what the queue does is the test here).
    private func points(_ id: Int64, _ sensors: [Int64], keys: [String]? = nil) -> DevicePoints {
        var points = DevicePoints()
        for (index, sensor) in sensors.enumerated() {
            points.append(sensor: sensor, key: keys?[index] ?? "s\(sensor)", json: ArraySlice("\(id)".utf8))
        }
        return points
    }

    private func row(_ id: Int64, _ sensors: [Int64]) -> RenderedRow {
        RenderedRow(id: id, content: .points(["d": points(id, sensors)]))
    }

    @Test("a drop stream takes one row of any size, then ends with the number of events it dropped")
    func drop() async throws {
        let s = try subscription(policy: .drop)
        s.offer(row(1, [1, 2, 3, 4, 5]))  // larger than the bound, into an empty queue: taken
        guard case .item(.row(1, _, let devices?, let count, _), _) = await s.next() else { throw TestFailure("row 1 first") }
        #expect(count == 5 && devices.map(\.count) == [5])
        s.offer(row(2, [1]))
        guard case .item(.row(2, _, _, _, _), _) = await s.next() else { throw TestFailure("row 2 next") }
        s.offer(row(3, [1, 2]))
        s.offer(row(4, [1, 2]))  // 4 queued > 3: the queue goes, the stream ends
        s.offer(row(5, [1]))  // ignored after the end
        guard case .end(.slowConsumer(let dropped)) = await s.next() else { throw TestFailure("the end") }
        #expect(dropped == 2)
    }

    @Test("a latest stream coalesces queued points to each sensor's newest and says how many")
    func latest() async throws {
        let s = try subscription(policy: .latest)
        s.offer(row(1, [1, 2]))
        s.offer(row(2, [1, 2]))  // 4 > 3: rows 1 and 2 become one row of sensors 1 and 2
        s.offer(row(3, [2]))
        guard case .item(.row(let id, _, let devices?, let count, _), let coalesced) = await s.next() else {
            throw TestFailure("a coalesced row")
        }
        #expect(id == 2 && coalesced == 2 && count == 2)
        #expect(devices.flatMap { $0.points.map(\.sensor) } == [1, 2])
        #expect(devices.map { String(decoding: $0.json, as: UTF8.self) } == ["2,2"])
        guard case .item(.row(3, _, _, _, _), 0) = await s.next() else { throw TestFailure("row 3 after") }
        s.offer(row(4, [1, 2, 3]))
        s.offer(row(5, [4, 5, 6]))  // six sensors' newest points do not fit in 3: the stream ends
        guard case .end(.slowConsumer) = await s.next() else { throw TestFailure("the end") }
    }

    @Test("a device selection keeps its devices' points and its sensors only")
    func selection() throws {
        let s = Subscription(
            id: 1, tenant: try #require(TenantID("acme")), principal: "p",
            selection: .points(devices: ["d"], sensors: ["s2"], labels: nil), policy: .drop, maxQueuedPoints: 10,
            expiresAt: nil, registeredAt: 0, devices: ["d"])
        let rendered = RenderedRow(
            id: 7,
            content: .points(["d": points(7, [1, 2]), "e": points(7, [3], keys: ["s2"])]))
        guard case (.row(_, _, let devices?, 1, _), let count)? = s.select(rendered) else { throw TestFailure("kept") }
        #expect(count == 1 && devices.flatMap { $0.points.map(\.sensor) } == [2])
        #expect(s.select(RenderedRow(id: 8, content: .alert([]))) == nil)
    }

    @Test("points render once into one JSON array per device; selections and merges keep each point whole")
    func rendering() throws {
        let prefix = DevicePoints.prefix(device: "press \"1\"", key: "t")
        var first = DevicePoints()
        let time = Array("2026-12-03T08:00:00.000000Z".utf8)
        first.append(sensor: 1, key: "t", prefix: prefix, time: time, value: .number(21.5))
        first.append(sensor: 1, key: "t", prefix: prefix, time: time, value: .number(3))
        var second = DevicePoints()
        second.append(
            sensor: 2, key: "u", prefix: DevicePoints.prefix(device: "press \"1\"", key: "u"), time: time, value: .string("a\nb"))
        second.append(
            sensor: 3, key: "v", prefix: DevicePoints.prefix(device: "press \"1\"", key: "v"), time: time, value: .boolean(false))
        second.append(
            sensor: 4, key: "w", prefix: DevicePoints.prefix(device: "press \"1\"", key: "w"), time: time, value: .integer(-7))
        first.append(contentsOf: second)
        let expected = [
            #"{"device":"press \"1\"","sensor":"t","time":"2026-12-03T08:00:00.000000Z","value":21.5}"#,
            #"{"device":"press \"1\"","sensor":"t","time":"2026-12-03T08:00:00.000000Z","value":3}"#,
            #"{"device":"press \"1\"","sensor":"u","time":"2026-12-03T08:00:00.000000Z","value":"a\nb"}"#,
            #"{"device":"press \"1\"","sensor":"v","time":"2026-12-03T08:00:00.000000Z","value":false}"#,
            #"{"device":"press \"1\"","sensor":"w","time":"2026-12-03T08:00:00.000000Z","value":-7}"#,
        ]
        #expect((0..<first.count).map { String(decoding: first.object($0), as: UTF8.self) } == expected)
        #expect(String(decoding: first.json, as: UTF8.self) == expected.joined(separator: ","))
        let kept = try #require(first.keeping(["u", "w"]))
        #expect(String(decoding: kept.json, as: UTF8.self) == expected[2] + "," + expected[4])
        #expect(first.keeping(["x"]) == nil)
        let event = String(decoding: StreamEvents.points([kept, DevicePoints(), kept], coalesced: 2), as: UTF8.self)
        #expect(
            event == #"{"coalesced":2,"points":["#
                + ([expected[2], expected[4]] + [expected[2], expected[4]]).joined(separator: ",") + "]}")
    }

    @Test("replay slots: at most the capacity at once, one per tenant, the longest waiter first among the others")
    func replaySlots() async throws {
        let slots = ReplaySlots(capacity: 2)
        let a = try #require(TenantID("alpha"))
        let b = try #require(TenantID("bravo"))
        let c = try #require(TenantID("charlie"))
        final class Order: Sendable { let names = Mutex<[String]>([]) }
        let order = Order()
        func waitFor(waiting: Int) async throws {
            for _ in 0..<500 where slots.load.waiting != waiting { try await Task.sleep(for: .milliseconds(10)) }
            #expect(slots.load.waiting == waiting)
        }
        await slots.acquire(a)
        // A second page of tenant a waits, though a slot is free.
        let secondA = Task {
            await slots.acquire(a)
            order.names.withLock { $0.append("a") }
        }
        try await waitFor(waiting: 1)
        await slots.acquire(b)  // another tenant takes the free slot at once
        #expect(slots.load == (waiting: 1, running: 2))
        let firstC = Task {
            await slots.acquire(c)
            order.names.withLock { $0.append("c") }
        }
        try await waitFor(waiting: 2)
        slots.release(a)  // a's waiter came first and a now holds nothing: it goes
        await secondA.value
        #expect(order.names.withLock { $0 } == ["a"] && slots.load == (waiting: 1, running: 2))
        slots.release(b)
        await firstC.value
        #expect(order.names.withLock { $0 } == ["a", "c"] && slots.load == (waiting: 0, running: 2))
        slots.release(a)
        slots.release(c)
        #expect(slots.load == (waiting: 0, running: 0))
    }

    @Test("event ids and label selectors as clients send them")
    func parameters() {
        #expect(StreamParameters.eventID("42") == 42)
        #expect(StreamParameters.eventID("9223372036854775807") == .max)
        for bad in ["", "-1", "+1", "1.0", " 1", "9223372036854775808", "00000000000000000001", "١"] {
            #expect(StreamParameters.eventID(bad) == nil, "\(bad)")
        }
        #expect(StreamParameters.label("line:3")! == ("line", "3"))
        #expect(StreamParameters.label("a:b:c")! == ("a", "b:c"))
        #expect(StreamParameters.label(":x") == nil && StreamParameters.label("x") == nil)
    }
}
