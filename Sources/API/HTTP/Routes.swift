import Alerting
import DeviceRegistry
import MetricRouter

/// What the HTTP layer is built on: the domain operations it calls, behind their
/// protocols. The composition root (`MillwrightApplication`) passes the PostgreSQL
/// implementations; the in-process tests pass their own.
struct APIServices: Sendable {
    var tenants: any TenantDirectory
    var devices: any DeviceDirectory
    var sensors: any SensorDirectory
    var keys: any KeyDirectory
    var ingestor: any MetricIngesting
    var points: any PointReading
    var alertRules: any AlertRuleDirectory
    var channels: any ChannelDirectory
    var alerts: any AlertHistory
    /// MILLWRIGHT_WEBHOOK_ALLOW_PRIVATE: webhook URLs may name private addresses.
    var webhookAllowPrivate = false
    var timeZones: TimeZoneNames
    var readiness: @Sendable () async -> Readiness
    var storageEngine: String
    var openAPIDocument: [UInt8]?
    /// Adds the tenant to the ingest series (MILLWRIGHT_METRICS_TENANT_LABEL).
    var metricsTenantLabel = false
    /// The live streams (they need PostgreSQL's stream log; the in-process tests have none).
    var streams: StreamHandlers?
}

extension MillwrightApplication {
    /// Every route of the API.
    static func routes(_ services: APIServices) -> RouteTable {
        var table = RouteTable()
        table.routes +=
            HealthHandlers(
                readiness: services.readiness, storageEngine: services.storageEngine,
                openAPIDocument: services.openAPIDocument
            ).routes()
        table.routes += TenantHandlers(tenants: services.tenants).routes()
        table.routes += DeviceHandlers(devices: services.devices, timeZones: services.timeZones).routes()
        table.routes += SensorHandlers(sensors: services.sensors).routes()
        table.routes += KeyHandlers(keys: services.keys).routes()
        table.routes += IngestHandlers(ingestor: services.ingestor, tenantLabel: services.metricsTenantLabel).routes()
        table.routes += PointQueryHandlers(reader: services.points, timeZones: services.timeZones).routes()
        table.routes += AlertRuleHandlers(rules: services.alertRules).routes()
        table.routes += ChannelHandlers(channels: services.channels, allowPrivate: services.webhookAllowPrivate).routes()
        table.routes += AlertHandlers(history: services.alerts).routes()
        if let streams = services.streams { table.routes += streams.routes() }
        return table
    }
}
