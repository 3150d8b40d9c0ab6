-- TimescaleDB's background jobs on millwright's tables (compression and retention of
-- each points table, the refresh of the 1-minute continuous aggregate) as the metrics
-- endpoint reports them: a job that fails is otherwise silent, and a failing refresh
-- leaves every aggregate query reading raw points. One row per job: its name
-- (`<procedure>:<table>`), whether its last run succeeded (true before any run) and
-- TimescaleDB's counts of failures and runs. No rows on plain PostgreSQL. The views are
-- read as the owner, who owns the jobs; the runtime role may only call this.
CREATE FUNCTION millwright.storage_jobs()
RETURNS TABLE (job text, last_run_ok boolean, failures bigint, runs bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regclass('timescaledb_information.job_stats') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $query$
        SELECT j.proc_name::text || ':' || j.hypertable_name::text,
               s.last_run_status IS DISTINCT FROM 'Failed',
               coalesce(s.total_failures, 0)::bigint, coalesce(s.total_runs, 0)::bigint
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        WHERE j.hypertable_schema = 'millwright_metrics'
        ORDER BY 1
    $query$;
END
$$;
REVOKE EXECUTE ON FUNCTION millwright.storage_jobs() FROM PUBLIC;

CREATE OR REPLACE FUNCTION millwright.grant_runtime_privileges(runtime_role name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA millwright TO %I', runtime_role);
    EXECUTE format('GRANT SELECT ON millwright.schema_migrations, millwright.metric_storage TO %I', runtime_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON millwright.tenants, millwright.devices,'
                   ' millwright.sensors, millwright.device_keys, millwright.tenant_device_counts,'
                   ' millwright.tenant_catalog_versions TO %I', runtime_role);
    -- Points: written with COPY (INSERT only), read through the tenant-scoped views.
    EXECUTE format('GRANT USAGE ON SCHEMA millwright_metrics TO %I', runtime_role);
    EXECUTE format('GRANT INSERT ON millwright_metrics.number_points, millwright_metrics.integer_points,'
                   ' millwright_metrics.boolean_points, millwright_metrics.string_points TO %I', runtime_role);
    EXECUTE format('GRANT SELECT ON millwright.number_points, millwright.integer_points,'
                   ' millwright.boolean_points, millwright.string_points TO %I', runtime_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION millwright.upsert_points(text, bigint[], bigint[], double precision[],'
                   ' bigint[], boolean[], text[]), millwright.maintain_metric_storage() TO %I', runtime_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION millwright.device_status_counts(), millwright.storage_jobs() TO %I',
                   runtime_role);
    IF to_regclass('millwright.number_points_1m') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON millwright.number_points_1m TO %I', runtime_role);
    END IF;
END
$$;
