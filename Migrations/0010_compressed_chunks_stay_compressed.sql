-- Deletes of points name their tenant and sensors (or their cutoff) as values, never
-- through a join. TimescaleDB can narrow a DELETE on a compressed chunk to the batches
-- it matches only when the filter on its segmentby columns (tenant_id, sensor_id) and
-- on time compares with constants or parameters. Through a join it decompresses every
-- batch of every compressed chunk the statement reaches, all tenants' history, and
-- marks those chunks partial, which locks each chunk's catalog row until the deleting
-- transaction ends, so every late write into those chunks waits for it. Measured on
-- TimescaleDB 2.28.3: deleting one sensor of a tenant with no compressed points
-- decompressed another tenant's 40,000 compressed points, and a late point of that other
-- tenant waited for the delete to commit; one tenant with a 10-day retention made every
-- maintenance run decompress the 20-day-old compressed points of a tenant that keeps
-- them for a year, deleting nothing. On plain PostgreSQL the same statements prune
-- partitions as before.

-- Deleting sensors (also through their device or tenant) deletes their points: per
-- tenant and kind, only from that kind's table.
CREATE OR REPLACE FUNCTION millwright.delete_sensor_points() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant text;
    sensor_kind text;
    ids bigint[];
BEGIN
    FOR tenant, sensor_kind, ids IN
        SELECT o.tenant_id, o.kind, array_agg(o.sensor_id) FROM old_rows o GROUP BY o.tenant_id, o.kind
    LOOP
        EXECUTE format('DELETE FROM millwright_metrics.%I WHERE tenant_id = $1 AND sensor_id = ANY($2)',
                       sensor_kind || '_points')
        USING tenant, ids;
    END LOOP;
    RETURN NULL;
END
$$;

-- Retention per group of tenants that keep points equally long (usually a handful of
-- groups): each delete names its tenants and its cutoff, so that only expired batches
-- of those tenants are decompressed, and partitions or chunks younger than the cutoff
-- are skipped at plan time.
CREATE OR REPLACE FUNCTION millwright.maintain_metric_storage() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted bigint := 0;
    n bigint;
    kind text;
    days integer;
    tenants text[];
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
    FOR days, tenants IN
        SELECT t.retention_days, array_agg(t.id ORDER BY t.id) FROM millwright.tenants t GROUP BY t.retention_days
    LOOP
        FOREACH kind IN ARRAY ARRAY['number', 'integer', 'boolean', 'string'] LOOP
            -- The cutoff as a literal: planned with it, so younger chunks are excluded.
            EXECUTE format('DELETE FROM millwright_metrics.%I WHERE tenant_id = ANY($1) AND time < %L',
                           kind || '_points', now() - days * interval '1 day')
            USING tenants;
            GET DIAGNOSTICS n = ROW_COUNT;
            deleted := deleted + n;
        END LOOP;
    END LOOP;
    PERFORM set_config('millwright.platform', '', true);
    RETURN deleted;
END
$$;
