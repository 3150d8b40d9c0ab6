-- Metric points: one narrow table per value kind, keyed by (tenant, sensor, time).
--
-- Storage is chosen once, here, by what the database has:
--   * TimescaleDB installed: hypertables partitioned by time (1 day) and by tenant
--     (hash, 4), compressed after 7 days (segmented by tenant and sensor), dropped
--     after the platform maximum retention, with a 1-minute continuous aggregate of
--     the number table;
--   * otherwise pg_partman (4.x): native range partitions of one day, made ahead by
--     `millwright.maintain_metric_storage()`, which the service runs on a schedule.
-- Create one of the two extensions (as a superuser) before migrating; see README.
--
-- Tenant isolation without row-level security (TimescaleDB refuses RLS together with
-- compression and continuous aggregates): the tables live in millwright_metrics, on
-- which the runtime role gets USAGE and INSERT only (COPY needs nothing more), never
-- SELECT. It reads through the security_barrier views millwright.*_points, which
-- filter on the transaction's millwright.tenant_id, and upserts re-sent points through
-- SECURITY DEFINER functions that do the same.

CREATE SCHEMA millwright_metrics;

CREATE TABLE millwright.metric_storage (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    engine text NOT NULL CHECK (engine IN ('timescaledb', 'partman'))
);

CREATE TABLE millwright_metrics.number_points (
    tenant_id text NOT NULL, sensor_id bigint NOT NULL, time timestamptz NOT NULL, value double precision NOT NULL
);
CREATE TABLE millwright_metrics.integer_points (
    tenant_id text NOT NULL, sensor_id bigint NOT NULL, time timestamptz NOT NULL, value bigint NOT NULL
);
CREATE TABLE millwright_metrics.boolean_points (
    tenant_id text NOT NULL, sensor_id bigint NOT NULL, time timestamptz NOT NULL, value boolean NOT NULL
);
CREATE TABLE millwright_metrics.string_points (
    tenant_id text NOT NULL, sensor_id bigint NOT NULL, time timestamptz NOT NULL, value text NOT NULL
);

DO $$
DECLARE
    kind text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        INSERT INTO millwright.metric_storage (engine) VALUES ('timescaledb');
        FOREACH kind IN ARRAY ARRAY['number', 'integer', 'boolean', 'string'] LOOP
            -- No default time index: the unique (tenant, sensor, time) index serves
            -- every query, and a second index costs ~20% of the write rate.
            PERFORM create_hypertable(format('millwright_metrics.%s_points', kind), 'time',
                chunk_time_interval => interval '1 day', create_default_indexes => false);
            PERFORM add_dimension(format('millwright_metrics.%s_points', kind), 'tenant_id', number_partitions => 4);
            EXECUTE format('CREATE UNIQUE INDEX %s_points_key ON millwright_metrics.%s_points (tenant_id, sensor_id, time)', kind, kind);
            EXECUTE format('ALTER TABLE millwright_metrics.%s_points SET (timescaledb.compress,'
                           ' timescaledb.compress_segmentby = ''tenant_id, sensor_id'','
                           ' timescaledb.compress_orderby = ''time DESC'')', kind);
            -- Late and re-sent points are expected within a week; older chunks compress.
            PERFORM add_compression_policy(format('millwright_metrics.%s_points', kind), compress_after => interval '7 days');
            -- The platform maximum (tenants.retention_days allows at most 36500 days);
            -- each tenant's own retention is enforced by maintain_metric_storage().
            PERFORM add_retention_policy(format('millwright_metrics.%s_points', kind), drop_after => interval '36500 days');
        END LOOP;
        EXECUTE $cagg$
            CREATE MATERIALIZED VIEW millwright_metrics.number_points_1m WITH (timescaledb.continuous) AS
            SELECT tenant_id, sensor_id, time_bucket(interval '1 minute', time) AS bucket,
                   sum(value) AS sum, count(*) AS count, min(value) AS min, max(value) AS max,
                   first(value, time) AS first, last(value, time) AS last,
                   min(time) AS first_time, max(time) AS last_time
            FROM millwright_metrics.number_points
            GROUP BY tenant_id, sensor_id, time_bucket(interval '1 minute', time)
            WITH NO DATA
        $cagg$;
        EXECUTE 'ALTER MATERIALIZED VIEW millwright_metrics.number_points_1m SET (timescaledb.materialized_only = false)';
        EXECUTE 'CREATE INDEX number_points_1m_key ON millwright_metrics.number_points_1m (tenant_id, sensor_id, bucket)';
        PERFORM add_continuous_aggregate_policy('millwright_metrics.number_points_1m',
            start_offset => interval '7 days', end_offset => interval '1 minute', schedule_interval => interval '1 minute');
        EXECUTE 'CREATE VIEW millwright.number_points_1m WITH (security_barrier) AS'
                ' SELECT sensor_id, bucket, sum, count, min, max, first, last, first_time, last_time'
                ' FROM millwright_metrics.number_points_1m'
                ' WHERE tenant_id = current_setting(''millwright.tenant_id'', true)';
    ELSIF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_partman') THEN
        INSERT INTO millwright.metric_storage (engine) VALUES ('partman');
        FOREACH kind IN ARRAY ARRAY['number', 'integer', 'boolean', 'string'] LOOP
            EXECUTE format('ALTER TABLE millwright_metrics.%s_points RENAME TO %s_points_unpartitioned', kind, kind);
            EXECUTE format('CREATE TABLE millwright_metrics.%s_points (LIKE millwright_metrics.%s_points_unpartitioned)'
                           ' PARTITION BY RANGE (time)', kind, kind);
            EXECUTE format('DROP TABLE millwright_metrics.%s_points_unpartitioned', kind);
            EXECUTE format('CREATE UNIQUE INDEX %s_points_key ON millwright_metrics.%s_points (tenant_id, sensor_id, time)', kind, kind);
            -- Daily partitions, 7 made ahead; older points go to the default partition.
            EXECUTE format('SELECT %I.create_parent(p_parent_table => %L, p_control => ''time'', p_type => ''native'','
                           ' p_interval => ''1 day'', p_premake => 7, p_start_partition => %L, p_jobmon => false)',
                           (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                            WHERE e.extname = 'pg_partman'),
                           format('millwright_metrics.%s_points', kind),
                           to_char(now() - interval '7 days', 'YYYY-MM-DD'));
        END LOOP;
    ELSE
        RAISE EXCEPTION 'metric storage needs the timescaledb or the pg_partman extension in this database'
            USING HINT = 'as a superuser: CREATE EXTENSION timescaledb; or CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman; then migrate again';
    END IF;
END
$$;

-- What the runtime role reads: its tenant's points only.
CREATE VIEW millwright.number_points WITH (security_barrier) AS
    SELECT sensor_id, time, value FROM millwright_metrics.number_points
    WHERE tenant_id = current_setting('millwright.tenant_id', true);
CREATE VIEW millwright.integer_points WITH (security_barrier) AS
    SELECT sensor_id, time, value FROM millwright_metrics.integer_points
    WHERE tenant_id = current_setting('millwright.tenant_id', true);
CREATE VIEW millwright.boolean_points WITH (security_barrier) AS
    SELECT sensor_id, time, value FROM millwright_metrics.boolean_points
    WHERE tenant_id = current_setting('millwright.tenant_id', true);
CREATE VIEW millwright.string_points WITH (security_barrier) AS
    SELECT sensor_id, time, value FROM millwright_metrics.string_points
    WHERE tenant_id = current_setting('millwright.tenant_id', true);

-- Re-sent points: insert or overwrite, last one in the arrays winning. Times are
-- microseconds since the Unix epoch (exact, unlike float seconds).
CREATE FUNCTION millwright.upsert_points(kind text, sensor_ids bigint[], times bigint[], number_values double precision[],
                                         integer_values bigint[], boolean_values boolean[], string_values text[])
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant text := current_setting('millwright.tenant_id', true);
    value_column text := CASE kind WHEN 'number' THEN '$4' WHEN 'integer' THEN '$5' WHEN 'boolean' THEN '$6' WHEN 'string' THEN '$7' END;
BEGIN
    IF tenant IS NULL OR tenant = '' OR value_column IS NULL THEN
        RAISE EXCEPTION 'upsert_points needs a tenant-scoped transaction and a known kind';
    END IF;
    EXECUTE format(
        'INSERT INTO millwright_metrics.%s_points AS p (tenant_id, sensor_id, time, value)'
        ' SELECT DISTINCT ON (s, t) $1, s, timestamptz ''epoch'' + t * interval ''1 microsecond'', v'
        ' FROM unnest($2, $3, %s) WITH ORDINALITY AS u (s, t, v, n) ORDER BY s, t, n DESC'
        ' ON CONFLICT (tenant_id, sensor_id, time) DO UPDATE SET value = excluded.value', kind, value_column)
    USING tenant, sensor_ids, times, number_values, integer_values, boolean_values, string_values;
END
$$;

-- Deleting a sensor (also through its device or tenant) deletes its points.
CREATE FUNCTION millwright.delete_sensor_points() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM millwright_metrics.number_points p USING old_rows o WHERE p.tenant_id = o.tenant_id AND p.sensor_id = o.sensor_id;
    DELETE FROM millwright_metrics.integer_points p USING old_rows o WHERE p.tenant_id = o.tenant_id AND p.sensor_id = o.sensor_id;
    DELETE FROM millwright_metrics.boolean_points p USING old_rows o WHERE p.tenant_id = o.tenant_id AND p.sensor_id = o.sensor_id;
    DELETE FROM millwright_metrics.string_points p USING old_rows o WHERE p.tenant_id = o.tenant_id AND p.sensor_id = o.sensor_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER sensors_points_deleted AFTER DELETE ON millwright.sensors
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.delete_sensor_points();

-- A per-tenant counter bumped whenever what ingestion validates against changes
-- (sensors, a device's auto_create_sensors, devices going away): the service's
-- in-memory catalog compares it on every ingest request and reloads when it moved.
CREATE TABLE millwright.tenant_catalog_versions (
    tenant_id text PRIMARY KEY REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    version bigint NOT NULL DEFAULT 0
);
ALTER TABLE millwright.tenant_catalog_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.tenant_catalog_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_catalog_versions_scoped ON millwright.tenant_catalog_versions
    USING (tenant_id = current_setting('millwright.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true));

CREATE FUNCTION millwright.bump_catalog_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO millwright.tenant_catalog_versions AS v (tenant_id, version)
    SELECT DISTINCT tenant_id, 1 FROM changed_rows
    WHERE EXISTS (SELECT 1 FROM millwright.tenants t WHERE t.id = changed_rows.tenant_id)
    ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER sensors_catalog_inserted AFTER INSERT ON millwright.sensors
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_catalog_version();
CREATE TRIGGER sensors_catalog_updated AFTER UPDATE ON millwright.sensors
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_catalog_version();
CREATE TRIGGER sensors_catalog_deleted AFTER DELETE ON millwright.sensors
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_catalog_version();
CREATE TRIGGER devices_catalog_deleted AFTER DELETE ON millwright.devices
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_catalog_version();
CREATE FUNCTION millwright.bump_catalog_version_on_device_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.auto_create_sensors IS DISTINCT FROM OLD.auto_create_sensors THEN
        INSERT INTO millwright.tenant_catalog_versions AS v (tenant_id, version) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER devices_catalog_updated AFTER UPDATE OF auto_create_sensors ON millwright.devices
    FOR EACH ROW EXECUTE FUNCTION millwright.bump_catalog_version_on_device_change();

-- Scheduled upkeep, run by the service (one replica at a time): partitions ahead
-- (pg_partman) and each tenant's retention_days.
CREATE FUNCTION millwright.maintain_metric_storage() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted bigint := 0;
    n bigint;
    kind text;
    partman_schema name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                            WHERE e.extname = 'pg_partman');
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('millwright.maintain_metric_storage')) THEN
        RETURN 0;
    END IF;
    IF (SELECT engine FROM millwright.metric_storage) = 'partman' THEN
        FOREACH kind IN ARRAY ARRAY['number', 'integer', 'boolean', 'string'] LOOP
            EXECUTE format('SELECT %I.run_maintenance(%L, p_analyze => false, p_jobmon => false)',
                           partman_schema, format('millwright_metrics.%s_points', kind));
        END LOOP;
    END IF;
    -- The tenants table forces row-level security even for its owner: read it as the platform.
    PERFORM set_config('millwright.platform', 'on', true);
    FOREACH kind IN ARRAY ARRAY['number', 'integer', 'boolean', 'string'] LOOP
        EXECUTE format('DELETE FROM millwright_metrics.%s_points p USING millwright.tenants t'
                       ' WHERE p.tenant_id = t.id AND p.time < now() - t.retention_days * interval ''1 day''', kind);
        GET DIAGNOSTICS n = ROW_COUNT;
        deleted := deleted + n;
    END LOOP;
    PERFORM set_config('millwright.platform', '', true);
    RETURN deleted;
END
$$;

REVOKE EXECUTE ON FUNCTION millwright.upsert_points(text, bigint[], bigint[], double precision[], bigint[], boolean[], text[]),
    millwright.maintain_metric_storage() FROM PUBLIC;

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
    IF to_regclass('millwright.number_points_1m') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON millwright.number_points_1m TO %I', runtime_role);
    END IF;
END
$$;
