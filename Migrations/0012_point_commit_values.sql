-- The alert evaluator evaluates the points each write transaction committed from the
-- transaction's point_commits row itself, instead of reading them back from the point
-- tables (that read-back was most of the evaluator's cost, and it ran on the cores the
-- writes need). `points` holds the number and integer points: 24 bytes a point (sensor
-- id, time in microseconds since the epoch, value as float8; big-endian), stored out of
-- line without compression like the arrays. A row without it (written before this
-- migration) is evaluated by reading its points back.

ALTER TABLE millwright_metrics.point_commits
    ADD COLUMN points bytea CHECK (points IS NULL OR length(points) % 24 = 0);
ALTER TABLE millwright_metrics.point_commits ALTER COLUMN points SET STORAGE EXTERNAL;

DROP FUNCTION millwright.take_point_commits(integer);
CREATE FUNCTION millwright.take_point_commits(max_rows integer)
RETURNS TABLE (tenant_id text, sensor_ids bigint[], newest bigint[], oldest bigint, committed_at timestamptz,
               attempts integer, points bytea)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM millwright_metrics.point_commits c
    WHERE c.id IN (SELECT id FROM millwright_metrics.point_commits ORDER BY id LIMIT max_rows)
    RETURNING c.tenant_id, c.sensor_ids, c.newest, c.oldest, c.committed_at, c.attempts, c.points
$$;
REVOKE EXECUTE ON FUNCTION millwright.take_point_commits(integer) FROM PUBLIC;

-- A per-tenant counter of what decides which rules watch which sensor: the rules, the
-- sensors, and devices' labels. The evaluator keeps each tenant's sensor-to-rule matches
-- in memory and matches again only when the counter moved (matching 10,000 sensors
-- against 1,000 rules on every round was the largest part of a round, and its plan
-- depended on fresh statistics).
CREATE TABLE millwright.alert_target_versions (
    tenant_id text PRIMARY KEY REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    version bigint NOT NULL DEFAULT 0
);
ALTER TABLE millwright.alert_target_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.alert_target_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY alert_target_versions_scoped ON millwright.alert_target_versions
    USING (tenant_id = current_setting('millwright.tenant_id', true) OR current_setting('millwright.alerting', true) = 'on')
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true)
                OR current_setting('millwright.alerting', true) = 'on');

CREATE FUNCTION millwright.bump_alert_target_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO millwright.alert_target_versions AS v (tenant_id, version)
    SELECT DISTINCT tenant_id, 1 FROM changed_rows
    WHERE EXISTS (SELECT 1 FROM millwright.tenants t WHERE t.id = changed_rows.tenant_id)
    ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION millwright.bump_alert_target_version_on_labels() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO millwright.alert_target_versions AS v (tenant_id, version) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_rules_targets_inserted AFTER INSERT ON millwright.alert_rules
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_alert_target_version();
CREATE TRIGGER alert_rules_targets_updated AFTER UPDATE ON millwright.alert_rules
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_alert_target_version();
CREATE TRIGGER alert_rules_targets_deleted AFTER DELETE ON millwright.alert_rules
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_alert_target_version();
CREATE TRIGGER sensors_targets_inserted AFTER INSERT ON millwright.sensors
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_alert_target_version();
CREATE TRIGGER sensors_targets_updated AFTER UPDATE ON millwright.sensors
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_alert_target_version();
CREATE TRIGGER sensors_targets_deleted AFTER DELETE ON millwright.sensors
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.bump_alert_target_version();
CREATE TRIGGER devices_targets_relabelled AFTER UPDATE OF labels ON millwright.devices
    FOR EACH ROW WHEN (OLD.labels IS DISTINCT FROM NEW.labels)
    EXECUTE FUNCTION millwright.bump_alert_target_version_on_labels();

CREATE OR REPLACE FUNCTION millwright.grant_runtime_privileges(runtime_role name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA millwright TO %I', runtime_role);
    EXECUTE format('GRANT SELECT ON millwright.schema_migrations, millwright.metric_storage TO %I', runtime_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON millwright.tenants, millwright.devices,'
                   ' millwright.sensors, millwright.device_keys, millwright.tenant_device_counts,'
                   ' millwright.tenant_catalog_versions TO %I', runtime_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON millwright.notification_channels, millwright.alert_rules,'
                   ' millwright.tenant_alert_rule_counts, millwright.alerts, millwright.alert_transitions,'
                   ' millwright.alert_series, millwright.notification_deliveries, millwright.alert_target_versions'
                   ' TO %I', runtime_role);
    -- Points: written with COPY (INSERT only), read through the tenant-scoped views.
    EXECUTE format('GRANT USAGE ON SCHEMA millwright_metrics TO %I', runtime_role);
    EXECUTE format('GRANT INSERT ON millwright_metrics.number_points, millwright_metrics.integer_points,'
                   ' millwright_metrics.boolean_points, millwright_metrics.string_points,'
                   ' millwright_metrics.point_commits TO %I', runtime_role);
    EXECUTE format('GRANT SELECT ON millwright.number_points, millwright.integer_points,'
                   ' millwright.boolean_points, millwright.string_points TO %I', runtime_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION millwright.upsert_points(text, bigint[], bigint[], double precision[],'
                   ' bigint[], boolean[], text[]), millwright.maintain_metric_storage() TO %I', runtime_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION millwright.device_status_counts(), millwright.storage_jobs(),'
                   ' millwright.take_point_commits(integer),'
                   ' millwright.anomaly_scores(bigint[], timestamptz, timestamptz, timestamptz, interval) TO %I', runtime_role);
    IF to_regclass('millwright.number_points_1m') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON millwright.number_points_1m TO %I', runtime_role);
    END IF;
END
$$;
