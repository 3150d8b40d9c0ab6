import Postgres

/// The jobs that keep metric storage in shape, as the metrics endpoint reports them
/// (`millwright_storage_job_last_run_ok`, `millwright_storage_job_failures`): on
/// TimescaleDB its background jobs on the points tables (compression, retention, the
/// continuous aggregate's refresh), read through `millwright.storage_jobs()`; on both
/// engines the service's own maintenance (`maintenance`), which records itself.
public enum StorageJobs {
    public struct Job: Sendable, Equatable {
        /// `<procedure>:<table>`, e.g. `policy_refresh_continuous_aggregate:number_points_1m`.
        public var name: String
        /// Whether the last run succeeded (true before the first run).
        public var lastRunOK: Bool
        /// Failed runs, as TimescaleDB counts them (since the job was created).
        public var failures: Int64
    }

    /// TimescaleDB's jobs on millwright's tables; none on plain PostgreSQL.
    public static func timescaleJobs(on connection: PostgresConnection) throws -> [Job] {
        try connection.query("SELECT job, last_run_ok, failures FROM millwright.storage_jobs()").rows.map { row in
            Job(name: try row.decode(0), lastRunOK: try row.decode(1), failures: try row.decode(2))
        }
    }
}
