/// The kind of value a sensor reports; fixed when the sensor is created.
public enum SensorKind: String, Sendable, Codable, CaseIterable {
    case number, integer, boolean, string

    /// Whether `min`/`max` apply.
    public var isNumeric: Bool { self == .number || self == .integer }
}
