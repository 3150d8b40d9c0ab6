import DeviceRegistry
import InputParsing

/// Checks every point of a request against the tenant's catalog, without I/O: the
/// device exists, the sensor exists (or may be created), the value fits the sensor's
/// kind and range, the time lies inside the accepted window.
struct PointValidator {
    let snapshot: MetricCatalog.Snapshot
    /// Microseconds since 1970.
    let now: Int64

    /// Largest magnitude of a number. A sensor has at most 60,000,000 points in a minute
    /// (one per microsecond), so the 1-minute sums PostgreSQL and TimescaleDB's
    /// continuous aggregate compute stay below 6e307, short of float8's 1.8e308: no
    /// tenant's values can make the shared rollup fail.
    static let maxMagnitude = 1e300

    /// Longest string value, in bytes.
    static let maxStringBytes = 65_536

    struct Resolved {
        var sensorID: Int64
        var time: Int64
        var value: MetricValue
    }

    struct Plan {
        var resolved: [Resolved] = []
        var problems = ProblemList()
        /// Sensors to create, with the positions of the points that need them.
        var newSensors: [MetricIngestor.NewSensor: [PointPosition]] = [:]
    }

    func validate(_ points: [IncomingPoint]) -> Plan {
        var plan = Plan()
        plan.resolved.reserveCapacity(points.count)
        var newKinds: [String: SensorKind] = [:]
        let oldest = now - Int64(snapshot.retentionDays) * 86_400_000_000
        let newest = now + MetricIngestor.maxFutureMicros
        for point in points {
            func refuse(_ code: String, _ message: String, _ member: String) {
                plan.problems.add(PointProblem(point.position, code, message, pointer: point.pointer.map { "\($0)/\(member)" }))
            }
            guard let device = snapshot.devices[point.device] else {
                refuse("unknown_device", "the tenant has no device \(point.device)", "device")
                continue
            }
            let time = point.time ?? now
            guard time >= oldest, time <= newest else {
                refuse(
                    "time_out_of_bounds",
                    "time must be within the tenant's retention of \(snapshot.retentionDays) days and at most 10 minutes ahead",
                    "time")
                continue
            }
            var kind: SensorKind
            var sensorID: Int64 = 0
            var range: (Double?, Double?) = (nil, nil)
            if let sensor = device.sensors[point.sensor] {
                kind = sensor.kind
                sensorID = sensor.id
                range = (sensor.min, sensor.max)
            } else if !MetricIngestor.isSensorKey(point.sensor) {
                refuse(
                    "invalid_sensor_key", "sensor keys are 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -)", "sensor")
                continue
            } else if !device.autoCreateSensors {
                refuse(
                    "unknown_sensor", "device \(point.device) has no sensor \(point.sensor) and does not create sensors", "sensor"
                )
                continue
            } else {
                let name = point.device + "\u{0}" + point.sensor
                kind = newKinds[name] ?? point.newSensorKind
                newKinds[name] = kind
                plan.newSensors[.init(device: point.device, key: point.sensor, kind: kind), default: []].append(point.position)
            }
            guard let value = fit(point.value, kind, refuse) else { continue }
            if let number = value.numeric {
                if let min = range.0, number < min {
                    refuse("out_of_range", "\(number) is below the sensor's minimum \(min)", "value")
                    continue
                }
                if let max = range.1, number > max {
                    refuse("out_of_range", "\(number) is above the sensor's maximum \(max)", "value")
                    continue
                }
            }
            plan.resolved.append(Resolved(sensorID: sensorID, time: time, value: value))
        }
        return plan
    }

    /// The value as the sensor's kind stores it, or nil after refusing it.
    private func fit(_ value: MetricValue, _ kind: SensorKind, _ refuse: (String, String, String) -> Void) -> MetricValue? {
        if case .number(let n) = value, !n.isFinite {
            refuse("invalid_value", "values must be finite numbers (no NaN or infinity)", "value")
            return nil
        }
        if case .number(let n) = value, abs(n) > Self.maxMagnitude {
            refuse("out_of_range", "numbers are at most 1e300 in magnitude, so that no sum over them can overflow", "value")
            return nil
        }
        switch (kind, value) {
        case (.number, .number), (.integer, .integer), (.boolean, .boolean):
            return value
        case (.number, .integer(let i)):
            return .number(Double(i))
        case (.integer, .number(let n)):
            guard n.rounded() == n, abs(n) < 9.2e18 else {
                refuse("kind_mismatch", "the sensor takes integers, not \(n)", "value")
                return nil
            }
            return .integer(Int64(n))
        case (.string, .string(let text)):
            guard !text.utf8.contains(0) else {
                refuse("invalid_value", "strings may not contain the NUL character", "value")
                return nil
            }
            guard text.utf8.count <= Self.maxStringBytes else {
                refuse("invalid_value", "strings may be at most \(Self.maxStringBytes) bytes", "value")
                return nil
            }
            return value
        default:
            refuse("kind_mismatch", "the sensor takes \(kind.rawValue) values, not \(value.kind.rawValue)", "value")
            return nil
        }
    }
}

extension MetricValue {
    /// The value as a number, for range checks.
    var numeric: Double? {
        switch self {
        case .number(let n): n
        case .integer(let i): Double(i)
        default: nil
        }
    }
}
