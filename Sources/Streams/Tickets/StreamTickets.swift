import Auth
import Foundation
import InputParsing
import OpenSSLSupport
import Postgres
import Tenancy

/// Stream tickets: what a client that cannot send an `Authorization` header (a
/// browser's `EventSource`, some WebSocket clients) shows in the URL instead of its
/// token. A ticket is single-use, valid for `lifetime`, bound to the tenant and the
/// principal it was issued to, and accepted only by the stream endpoints. Only its
/// SHA-256 digest is stored, in PostgreSQL, so every replica accepts it once.
///
/// Tickets look like `mwt_` and 43 characters of base64url (32 random bytes).
public struct StreamTickets: Sendable {
    public static let prefix = "mwt_"
    public let database: TenantDatabase
    public let lifetime: Duration

    public init(database: TenantDatabase, lifetime: Duration = .seconds(30)) {
        self.database = database
        self.lifetime = lifetime
    }

    public struct Issued: Sendable {
        public var ticket: String
        public var expiresAt: Date
    }

    /// What a valid ticket stands for.
    public struct Holder: Sendable {
        public var tenant: TenantID
        public var user: UserPrincipal
        public var role: Role
        /// The expiry of the token the ticket was issued against.
        public var tokenExpiresAt: Date?
    }

    /// A new ticket for `user` acting in `context`'s tenant with `context.role`.
    public func issue(in context: TenantContext, user: UserPrincipal) async throws -> Issued {
        let ticket = Self.prefix + Base64URL.encode(try CryptoPrimitives.randomBytes(32))
        let digest = PostgresBytes(CryptoPrimitives.sha256(Array(ticket.utf8)))
        let seconds = Double(lifetime.components.seconds)
        let expiresAt = try await database.withTenant(context.tenant) { connection in
            try StreamDirectory.admit(context.tenant, mayActWhenSuspended: context.isPlatformAdmin, on: connection)
            return try connection.query(
                """
                INSERT INTO millwright.stream_tickets
                    (digest, tenant_id, issuer, subject, username, role, token_expires_at, expires_at)
                VALUES (\(digest)::bytea, \(context.tenant.rawValue), \(user.issuer), \(user.subject), \(user.username),
                        \(context.role.rawValue), to_timestamp(\(user.expiresAt))::timestamptz,
                        now() + make_interval(secs => \(seconds)))
                RETURNING expires_at
                """
            ).first?.decode(0, as: Date.self)
        }
        return Issued(ticket: ticket, expiresAt: expiresAt ?? Date().addingTimeInterval(seconds))
    }

    /// The holder of `ticket` in `tenant` if it is valid there and unused, without
    /// using it (a stream checks everything else first, then `redeem`s it).
    public func peek(_ ticket: String, tenant: TenantID) async throws -> Holder? {
        guard let digest = Self.digest(ticket) else { return nil }
        return try await database.withTenant(tenant) { connection in
            let row = try connection.query(
                """
                SELECT issuer, subject, username, role, extract(epoch FROM token_expires_at)::float8
                FROM millwright.stream_tickets
                WHERE digest = \(digest)::bytea AND tenant_id = \(tenant.rawValue) AND expires_at > now()
                """
            ).first
            guard let row, let role = Role(rawValue: try row.decode(3, as: String.self)) else { return nil }
            let user = UserPrincipal(
                issuer: try row.decode(0), subject: try row.decode(1), username: try row.decode(2, as: String?.self),
                roles: [role], tenants: [tenant], expiresAt: try row.decode(4, as: Double?.self))
            return Holder(
                tenant: tenant, user: user, role: role, tokenExpiresAt: user.expiresAt.map(Date.init(timeIntervalSince1970:)))
        }
    }

    /// Uses `ticket` up: true if it was valid and unused (and now is used), false if
    /// another request used it first or it expired meanwhile.
    public func redeem(_ ticket: String, tenant: TenantID) async throws -> Bool {
        guard let digest = Self.digest(ticket) else { return false }
        return try await database.withTenant(tenant) { connection in
            try connection.query(
                """
                DELETE FROM millwright.stream_tickets
                WHERE digest = \(digest)::bytea AND tenant_id = \(tenant.rawValue) AND expires_at > now()
                """
            ).affectedRows == 1
        }
    }

    /// The stored digest of a string shaped like a ticket; nil for anything else
    /// (nothing else is looked up).
    static func digest(_ ticket: String) -> PostgresBytes? {
        let utf8 = Array(ticket.utf8)
        guard utf8.count == prefix.utf8.count + 43, ticket.hasPrefix(prefix),
            Base64URL.decode(String(ticket.dropFirst(prefix.count))) != nil
        else { return nil }
        return PostgresBytes(CryptoPrimitives.sha256(utf8))
    }
}
