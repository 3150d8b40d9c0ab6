import Postgres

/// A failure of the database, as the layers above the domain modules see it (they do
/// not import `Postgres`): whether the database is away, or refused a value that
/// validation let through.
public protocol DatabaseFailure: Error {
    /// The database cannot be reached, or the pool is shutting down: 503.
    var meansUnavailable: Bool { get }
    /// A CHECK constraint or a data exception (SQLSTATE 23514, class 22): the client's
    /// input after all, 422.
    var meansValueRefused: Bool { get }
}

extension PostgresError: DatabaseFailure {
    public var meansUnavailable: Bool { isUnavailable || code == .shutDown }
    public var meansValueRefused: Bool { sqlState == "23514" || sqlState?.hasPrefix("22") == true }
}
