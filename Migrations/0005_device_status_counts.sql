-- Devices by status across all tenants, for the metrics endpoint (millwright_devices).
-- Row-level security is forced on devices, for the owner too, so the count walks the
-- tenants and scopes itself to each in turn; it returns totals only, never tenant ids.
CREATE FUNCTION millwright.device_status_counts() RETURNS TABLE (status text, devices bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant text;
    counts record;
    online bigint := 0;
    offline bigint := 0;
    never_seen bigint := 0;
BEGIN
    PERFORM set_config('millwright.platform', 'on', true);
    FOR tenant IN SELECT id FROM millwright.tenants LOOP
        PERFORM set_config('millwright.tenant_id', tenant, true);
        SELECT count(*) FILTER (WHERE d.last_seen_at IS NULL) AS never,
               count(*) FILTER (WHERE now() - d.last_seen_at <= d.offline_after_seconds * interval '1 second') AS up,
               count(*) FILTER (WHERE now() - d.last_seen_at > d.offline_after_seconds * interval '1 second') AS down
        INTO counts FROM millwright.devices d;
        never_seen := never_seen + counts.never;
        online := online + counts.up;
        offline := offline + counts.down;
    END LOOP;
    PERFORM set_config('millwright.tenant_id', '', true);
    PERFORM set_config('millwright.platform', '', true);
    RETURN QUERY VALUES ('online'::text, online), ('offline'::text, offline), ('never_seen'::text, never_seen);
END
$$;
REVOKE EXECUTE ON FUNCTION millwright.device_status_counts() FROM PUBLIC;

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
    EXECUTE format('GRANT EXECUTE ON FUNCTION millwright.device_status_counts() TO %I', runtime_role);
    IF to_regclass('millwright.number_points_1m') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON millwright.number_points_1m TO %I', runtime_role);
    END IF;
END
$$;
