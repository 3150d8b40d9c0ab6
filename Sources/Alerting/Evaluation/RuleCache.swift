import Foundation
import Postgres
import Synchronization
import Tenancy

/// Decoded rules by tenant, id and version, kept across rounds: a round asks for the
/// enabled rules' ids and versions (cheap) and decodes only those it has not seen in
/// that version. Rules no longer enabled drop out.
final class RuleCache: Sendable {
    private let entries = Mutex<[TenantID: [UUID: AlertRule]]>([:])

    /// The tenant's enabled rules, given their current `versions`; reads the ones not
    /// cached (or changed) in one statement on `db`.
    func rules(_ tenant: TenantID, versions: [UUID: Int64], on db: PostgresConnection) throws -> [UUID: AlertRule] {
        let cached = entries.withLock { $0[tenant] ?? [:] }
        var current = cached.filter { versions[$0.key] == $0.value.version }
        let missing = versions.keys.filter { current[$0] == nil }
        if !missing.isEmpty {
            let ids = PostgresArrayLiteral(uuids: missing)
            let result = try db.query(
                "SELECT \(unsafeSQL: RuleStore.columns) FROM millwright.alert_rules WHERE id = ANY(\(ids)::uuid[])")
            for row in result.rows {
                let rule = try RuleStore.rule(from: row)
                current[rule.id] = rule
            }
        }
        if current.count != cached.count || !missing.isEmpty {
            entries.withLock { $0[tenant] = current }
        }
        return current
    }
}
