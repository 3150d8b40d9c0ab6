import Alerting
import Auth
import DeviceRegistry
import Foundation
import InputParsing
import MetricRouter
import Synchronization
import Tenancy

@testable import API

/// The domain protocols in memory, for tests of the HTTP contract: they keep the
/// registry's rules that decide status codes (suspension, not found, conflicts, the
/// device limit) and nothing of PostgreSQL.
final class InMemoryRegistry: TenantDirectory, DeviceDirectory, SensorDirectory, KeyDirectory, Sendable {
    private struct Store {
        var tenants: [TenantID: Tenant] = [:]
        var devices: [TenantID: [String: Device]] = [:]
        var sensors: [TenantID: [String: [String: Sensor]]] = [:]
        var keys: [TenantID: [String: [String: DeviceKey]]] = [:]
        var nextSensorID: Int64 = 1
    }

    private let store = Mutex(Store())
    private static let epoch = Date(timeIntervalSince1970: 1_767_225_600)

    // MARK: Tenants

    func createTenant(_ id: TenantID, _ fields: TenantFields) async throws -> Tenant {
        try store.withLock { store in
            guard store.tenants[id] == nil else { throw RegistryError(.alreadyExists, "tenant \(id) already exists") }
            let tenant = Self.tenant(id, fields, version: 1)
            store.tenants[id] = tenant
            return tenant
        }
    }

    func tenants(after cursor: String?, limit: Int) async throws -> [Tenant] {
        store.withLock { store in
            Array(store.tenants.values.filter { cursor == nil || $0.id > cursor! }.sorted { $0.id < $1.id }.prefix(limit))
        }
    }

    func tenant(in context: TenantContext) async throws -> Tenant {
        try store.withLock { store in try Self.active(&store, context) }
    }

    func updateTenant(_ id: TenantID, _ change: @escaping @Sendable (Tenant) throws -> TenantFields) async throws -> Tenant {
        try store.withLock { store in
            guard let current = store.tenants[id] else { throw RegistryError(.notFound, "no tenant \(id)") }
            let updated = Self.tenant(id, try change(current), version: current.version + 1)
            store.tenants[id] = updated
            return updated
        }
    }

    func deleteTenant(_ id: TenantID) async throws {
        try store.withLock { store in
            guard store.tenants.removeValue(forKey: id) != nil else { throw RegistryError(.notFound, "no tenant \(id)") }
            store.devices[id] = nil
            store.sensors[id] = nil
            store.keys[id] = nil
        }
    }

    // MARK: Devices

    func createDevices(_ devices: [NewDevice], in context: TenantContext) async throws -> [Device] {
        try store.withLock { store in
            let tenant = try Self.active(&store, context)
            var existing = store.devices[context.tenant] ?? [:]
            guard existing.count + devices.count <= tenant.deviceLimit else {
                throw RegistryError(.deviceLimitReached, "the tenant may have \(tenant.deviceLimit) devices")
            }
            var created: [Device] = []
            for new in devices {
                guard existing[new.id] == nil else { throw RegistryError(.alreadyExists, "a device with this id already exists") }
                let device = Device(
                    id: new.id, fields: new.fields, status: .neverSeen, lastSeenAt: nil, createdAt: Self.epoch,
                    updatedAt: Self.epoch, version: 1)
                existing[new.id] = device
                created.append(device)
                for sensor in new.sensors {
                    store.sensors[context.tenant, default: [:]][new.id, default: [:]][sensor.key] = Self.sensor(
                        new.id, sensor.key, sensor.fields, id: store.nextSensorID, version: 1)
                    store.nextSensorID += 1
                }
            }
            store.devices[context.tenant] = existing
            return created
        }
    }

    func devices(
        _ filter: DeviceFilter, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (devices: [Device], truncated: Bool)
    {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            let matching = (store.devices[context.tenant] ?? [:]).values.filter { device in
                (cursor == nil || device.id > cursor!) && filter.labels.allSatisfy { device.fields.labels[$0.key] == $0.value }
                    && (filter.status == nil || device.status == filter.status)
            }
            return (Array(matching.sorted { $0.id < $1.id }.prefix(limit)), false)
        }
    }

    func device(_ id: String, in context: TenantContext) async throws -> Device {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard let device = store.devices[context.tenant]?[id] else { throw RegistryError(.notFound, "no device \(id)") }
            return device
        }
    }

    func updateDevice(
        _ id: String, in context: TenantContext, _ change: @escaping @Sendable (Device) throws -> DeviceFields
    )
        async throws -> Device
    {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard var device = store.devices[context.tenant]?[id] else { throw RegistryError(.notFound, "no device \(id)") }
            device.fields = try change(device)
            device.version += 1
            store.devices[context.tenant]?[id] = device
            return device
        }
    }

    func deleteDevice(_ id: String, in context: TenantContext) async throws {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.devices[context.tenant]?.removeValue(forKey: id) != nil else {
                throw RegistryError(.notFound, "no device \(id)")
            }
            store.sensors[context.tenant]?[id] = nil
            store.keys[context.tenant]?[id] = nil
        }
    }

    // MARK: Sensors

    func createSensor(device: String, key: String, _ fields: SensorFields, in context: TenantContext) async throws -> Sensor {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.devices[context.tenant]?[device] != nil else { throw RegistryError(.notFound, "no such device") }
            guard store.sensors[context.tenant]?[device]?[key] == nil else {
                throw RegistryError(.alreadyExists, "a sensor with this key already exists on the device")
            }
            let sensor = Self.sensor(device, key, fields, id: store.nextSensorID, version: 1)
            store.nextSensorID += 1
            store.sensors[context.tenant, default: [:]][device, default: [:]][key] = sensor
            return sensor
        }
    }

    func sensors(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [Sensor], truncated: Bool)
    {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.devices[context.tenant]?[device] != nil else { throw RegistryError(.notFound, "no device \(device)") }
            let all = (store.sensors[context.tenant]?[device] ?? [:]).values.filter { cursor == nil || $0.key > cursor! }
            return (Array(all.sorted { $0.key < $1.key }.prefix(limit)), false)
        }
    }

    func sensor(device: String, key: String, in context: TenantContext) async throws -> Sensor {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard let sensor = store.sensors[context.tenant]?[device]?[key] else {
                throw RegistryError(.notFound, "no sensor \(key) on device \(device)")
            }
            return sensor
        }
    }

    func updateSensor(
        device: String, key: String, in context: TenantContext, _ change: @escaping @Sendable (Sensor) throws -> SensorFields
    ) async throws -> Sensor {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard var sensor = store.sensors[context.tenant]?[device]?[key] else {
                throw RegistryError(.notFound, "no sensor \(key) on device \(device)")
            }
            sensor.fields = try change(sensor)
            sensor.version += 1
            store.sensors[context.tenant]?[device]?[key] = sensor
            return sensor
        }
    }

    func deleteSensor(device: String, key: String, in context: TenantContext) async throws {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.sensors[context.tenant]?[device]?.removeValue(forKey: key) != nil else {
                throw RegistryError(.notFound, "no sensor \(key)")
            }
        }
    }

    // MARK: Keys

    func createKey(
        device: String, name: String?, expiresAt: Date?, in context: TenantContext
    ) async throws
        -> (DeviceKey, DeviceKeyCredential)
    {
        let credential = try DeviceKeyCredential.generate(tenant: context.tenant.rawValue)
        return try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.devices[context.tenant]?[device] != nil else { throw RegistryError(.notFound, "no device \(device)") }
            let key = DeviceKey(
                id: credential.keyID, deviceID: device, name: name, createdAt: Self.epoch, expiresAt: expiresAt, lastUsedAt: nil)
            store.keys[context.tenant, default: [:]][device, default: [:]][key.id] = key
            return (key, credential)
        }
    }

    func keys(device: String, after cursor: String?, limit: Int, in context: TenantContext) async throws -> [DeviceKey] {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.devices[context.tenant]?[device] != nil else { throw RegistryError(.notFound, "no device \(device)") }
            let all = (store.keys[context.tenant]?[device] ?? [:]).values.filter { cursor == nil || $0.id > cursor! }
            return Array(all.sorted { $0.id < $1.id }.prefix(limit))
        }
    }

    func revokeKey(device: String, id: String, in context: TenantContext) async throws {
        try store.withLock { store in
            _ = try Self.active(&store, context)
            guard store.keys[context.tenant]?[device]?.removeValue(forKey: id) != nil else {
                throw RegistryError(.notFound, "no key \(id)")
            }
        }
    }

    // MARK: Helpers

    /// The tenant, if `context` may act in it now (the registry's suspension rule).
    private static func active(_ store: inout Store, _ context: TenantContext) throws -> Tenant {
        guard let tenant = store.tenants[context.tenant] else { throw RegistryError(.notFound, "no tenant \(context.tenant)") }
        try tenant.status.admit(context)
        return tenant
    }

    private static func tenant(_ id: TenantID, _ fields: TenantFields, version: Int64) -> Tenant {
        Tenant(
            id: id.rawValue, name: fields.name, status: fields.status, deviceLimit: fields.deviceLimit,
            retentionDays: fields.retentionDays, sensorLimitPerDevice: fields.sensorLimitPerDevice, createdAt: epoch,
            updatedAt: epoch, version: version)
    }

    private static func sensor(_ device: String, _ key: String, _ fields: SensorFields, id: Int64, version: Int64) -> Sensor {
        Sensor(deviceID: device, key: key, sensorID: id, fields: fields, createdAt: epoch, updatedAt: epoch, version: version)
    }
}

/// Ingestion in memory: keeps what it was given, per tenant, and refuses points of
/// another device than a device key's own, as the real ingestor does.
final class InMemoryIngestor: MetricIngesting, Sendable {
    let received = Mutex<[TenantID: [IncomingPoint]]>([:])

    func ingest(
        _ points: [IncomingPoint], in context: TenantContext, earlier: [PointProblem], earlierCount: Int
    ) async throws
        -> Int
    {
        if let own = context.onlyDevice, let other = points.first(where: { $0.device != own }) {
            throw IngestError(.forbidden, "this device key may only write points of device \(own), not \(other.device)")
        }
        if earlierCount > 0 {
            throw IngestError(.invalid, "\(earlierCount) point(s) were refused", problems: earlier, problemCount: earlierCount)
        }
        received.withLock { $0[context.tenant, default: []] += points }
        return points.count
    }
}

/// Point queries with no points: every series is empty.
struct EmptyPoints: PointReading {
    let registry: InMemoryRegistry
    var hasContinuousAggregate: Bool { false }

    func series(device: String, sensor: String, in context: TenantContext) async throws -> SeriesTarget {
        let found = try await registry.sensor(device: device, key: sensor, in: context)
        return SeriesTarget(sensorID: found.sensorID, kind: found.fields.kind, deviceTimezone: "UTC")
    }

    func points(
        _ series: SeriesTarget, from: Int64, to: Int64, after cursor: Int64?, descending: Bool, limit: Int,
        in context: TenantContext
    ) async throws -> (points: [PointQueries.StoredPoint], truncated: Bool) { ([], false) }

    func aggregate(
        _ query: AggregateQuery, in context: TenantContext
    ) async throws
        -> (buckets: [PointQueries.Bucket], truncated: Bool)
    { ([], false) }

    func latest(
        device: String, after cursor: String?, limit: Int, in context: TenantContext
    ) async throws
        -> (sensors: [PointQueries.Latest], truncated: Bool)
    {
        let (sensors, truncated) = try await registry.sensors(device: device, after: cursor, limit: limit, in: context)
        return (sensors.map { PointQueries.Latest(sensor: $0.key, kind: $0.fields.kind, point: nil) }, truncated)
    }
}

/// Bearer tokens of the form `<role>@<tenant>` (or `platform-admin`, or
/// `device@<tenant>/<device>`): principals without a token issuer.
struct FixedAuthenticator: Authenticating {
    func authenticate(_ header: String?) async throws -> Principal {
        guard let header, let token = AuthorizationHeader.credential(header) else { throw Problem.unauthenticated() }
        if token == "platform-admin" {
            return .user(UserPrincipal(issuer: "test", subject: "root", username: nil, roles: [.platformAdmin], tenants: []))
        }
        let parts = token.split(separator: "@", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw AuthError(kind: .invalidCredential, reason: "bad_token", message: "the token is not valid")
        }
        if parts[0] == "device" {
            let path = parts[1].split(separator: "/").map(String.init)
            guard path.count == 2, let tenant = TenantID(path[0]) else {
                throw AuthError(kind: .invalidCredential, reason: "bad_token", message: "the token is not valid")
            }
            return .device(DevicePrincipal(tenant: tenant, deviceID: path[1], keyID: "k1"))
        }
        guard let role = Role(rawValue: parts[0]) else {
            throw AuthError(kind: .invalidCredential, reason: "bad_token", message: "the token is not valid")
        }
        return .user(
            UserPrincipal(
                issuer: "test", subject: token, username: nil, roles: [role], tenants: Set([TenantID(parts[1])].compactMap { $0 })
            ))
    }
}

/// Alerting in memory, for the HTTP contract tests: rules and channels in dictionaries
/// (tenant-scoped by the context, the registry's existence and suspension checks
/// borrowed from `InMemoryRegistry`), no alerts.
final class InMemoryAlerting: AlertRuleDirectory, ChannelDirectory, AlertHistory, Sendable {
    let registry: InMemoryRegistry
    private let rules = Mutex<[TenantID: [UUID: AlertRule]]>([:])
    private let channelStore = Mutex<[TenantID: [UUID: NotificationChannel]]>([:])

    init(registry: InMemoryRegistry) { self.registry = registry }

    private func admit(_ context: TenantContext) async throws { _ = try await registry.tenant(in: context) }

    func createRule(_ fields: RuleFields, in context: TenantContext) async throws -> AlertRule {
        try await admit(context)
        if case .device(let id) = fields.target { _ = try await registry.device(id, in: context) }
        let known = channelStore.withLock { Set(($0[context.tenant] ?? [:]).keys) }
        for (index, channel) in fields.channels.enumerated() where !known.contains(channel) {
            throw RuleRefused(pointer: "/channels/\(index)", code: "unknown_channel", message: "no such channel")
        }
        let rule = AlertRule(id: UUID(), fields: fields, createdAt: Date(), updatedAt: Date(), version: 1)
        rules.withLock { $0[context.tenant, default: [:]][rule.id] = rule }
        return rule
    }

    func rules(after cursor: UUID?, limit: Int, in context: TenantContext) async throws -> [AlertRule] {
        try await admit(context)
        return rules.withLock { Array(($0[context.tenant] ?? [:]).values) }.sorted { $0.id.uuidString < $1.id.uuidString }
            .filter { cursor == nil || $0.id.uuidString > cursor!.uuidString }.prefix(limit).map { $0 }
    }

    func rule(_ id: UUID, in context: TenantContext) async throws -> AlertRule {
        try await admit(context)
        guard let rule = rules.withLock({ $0[context.tenant]?[id] }) else { throw RegistryError(.notFound, "no rule") }
        return rule
    }

    func updateRule(
        _ id: UUID, in context: TenantContext, _ change: @escaping @Sendable (AlertRule) throws -> RuleFields
    ) async throws -> AlertRule {
        var rule = try await self.rule(id, in: context)
        rule.fields = try change(rule)
        rule.version += 1
        let updated = rule
        rules.withLock { $0[context.tenant, default: [:]][id] = updated }
        return updated
    }

    func deleteRule(_ id: UUID, in context: TenantContext) async throws {
        _ = try await rule(id, in: context)
        rules.withLock { _ = $0[context.tenant]?.removeValue(forKey: id) }
    }

    func createChannel(
        _ fields: ChannelFields, secret: [UInt8]?, in context: TenantContext
    ) async throws
        -> NotificationChannel
    {
        try await admit(context)
        let channel = NotificationChannel(
            id: UUID(), fields: fields, signed: secret != nil, disabledReason: nil, createdAt: Date(), updatedAt: Date(),
            version: 1)
        channelStore.withLock { $0[context.tenant, default: [:]][channel.id] = channel }
        return channel
    }

    func channels(after cursor: UUID?, limit: Int, in context: TenantContext) async throws -> [NotificationChannel] {
        try await admit(context)
        return channelStore.withLock { Array(($0[context.tenant] ?? [:]).values) }.prefix(limit).map { $0 }
    }

    func channel(_ id: UUID, in context: TenantContext) async throws -> NotificationChannel {
        try await admit(context)
        guard let channel = channelStore.withLock({ $0[context.tenant]?[id] }) else {
            throw RegistryError(.notFound, "no channel")
        }
        return channel
    }

    func updateChannel(
        _ id: UUID, secret: [UInt8]??, in context: TenantContext,
        _ change: @escaping @Sendable (NotificationChannel) throws -> ChannelFields
    ) async throws -> NotificationChannel {
        var channel = try await self.channel(id, in: context)
        channel.fields = try change(channel)
        if let secret { channel.signed = secret != nil }
        channel.version += 1
        let updated = channel
        channelStore.withLock { $0[context.tenant, default: [:]][id] = updated }
        return updated
    }

    func deleteChannel(_ id: UUID, in context: TenantContext) async throws {
        _ = try await channel(id, in: context)
        channelStore.withLock { _ = $0[context.tenant]?.removeValue(forKey: id) }
    }

    func deliveries(channel: UUID, before cursor: Int64?, limit: Int, in context: TenantContext) async throws -> [Delivery] {
        _ = try await self.channel(channel, in: context)
        return []
    }

    func sendTest(channel: UUID, in context: TenantContext) async throws -> Delivery {
        _ = try await self.channel(channel, in: context)
        return Delivery(
            id: 1, channelID: channel, alertID: nil, eventID: "test-1", event: "test", status: .pending, attempts: 0,
            lastStatus: nil, lastError: nil, nextAttemptAt: Date(), createdAt: Date(), deliveredAt: nil)
    }

    func alerts(_ filter: AlertFilter, before cursor: Int64?, limit: Int, in context: TenantContext) async throws -> [Alert] {
        try await admit(context)
        return []
    }

    func alert(_ id: Int64, in context: TenantContext) async throws -> Alert {
        try await admit(context)
        throw RegistryError(.notFound, "no alert \(id)")
    }

    func acknowledge(_ id: Int64, in context: TenantContext) async throws -> Alert { try await alert(id, in: context) }

    func anomalies(
        device: String, sensor: String, from: Date, to: Date, windowSeconds: Int, threshold: Double, minSamples: Int,
        limit: Int, in context: TenantContext
    ) async throws -> [AnomalyScore] {
        _ = try await registry.sensor(device: device, key: sensor, in: context)
        return []
    }
}
