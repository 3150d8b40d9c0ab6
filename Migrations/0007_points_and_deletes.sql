-- Points and the deletion of what they belong to, kept apart. A flush of points takes a
-- shared lock on each of its tenants (millwright.admit_points), and deleting a tenant,
-- a device or a sensor takes that tenant's lock exclusively: a delete waits for the
-- flushes in flight, whose points its cascade then removes, and a flush after the delete
-- sees it (a new catalog version, or no tenant) and keeps only points whose sensors still
-- exist. Without it, points accepted while their tenant, device or sensor was being
-- deleted were stored under ids nothing can read. Advisory locks live in memory: a flush
-- writes nothing to take them.

-- The lock's key: (class, tenant).
CREATE FUNCTION millwright.points_lock_class() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext('millwright.points') $$;

-- For each tenant (the caller sorts them, so that flushes lock in one order), its
-- incarnation and catalog version as of after the lock was granted (a volatile plpgsql
-- function reads with a new snapshot per statement); absent tenants return no row.
CREATE FUNCTION millwright.admit_points(tenants text[])
RETURNS TABLE (tenant_id text, incarnation bigint, version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    tenant text;
BEGIN
    FOREACH tenant IN ARRAY tenants LOOP
        PERFORM pg_advisory_xact_lock_shared(millwright.points_lock_class(), hashtext(tenant));
    END LOOP;
    FOREACH tenant IN ARRAY tenants LOOP
        PERFORM set_config('millwright.tenant_id', tenant, true);
        RETURN QUERY
            SELECT t.id, (extract(epoch FROM t.created_at) * 1000000)::bigint,
                   coalesce((SELECT v.version FROM millwright.tenant_catalog_versions v WHERE v.tenant_id = t.id), 0)
            FROM millwright.tenants t WHERE t.id = tenant;
    END LOOP;
    PERFORM set_config('millwright.tenant_id', '', true);
END
$$;

CREATE FUNCTION millwright.lock_points_of_deleted_tenant() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(millwright.points_lock_class(), hashtext(OLD.id));
    RETURN OLD;
END
$$;
CREATE TRIGGER tenants_points_locked BEFORE DELETE ON millwright.tenants
    FOR EACH ROW EXECUTE FUNCTION millwright.lock_points_of_deleted_tenant();

-- Devices and sensors are deleted in their tenant's scope; deleted by a tenant's
-- cascade, the tenant's row trigger took the lock already.
CREATE FUNCTION millwright.lock_points_of_scoped_tenant() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('millwright.tenant_id', true), '') <> '' THEN
        PERFORM pg_advisory_xact_lock(millwright.points_lock_class(),
                                      hashtext(current_setting('millwright.tenant_id', true)));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER devices_points_locked BEFORE DELETE ON millwright.devices
    FOR EACH STATEMENT EXECUTE FUNCTION millwright.lock_points_of_scoped_tenant();
CREATE TRIGGER sensors_points_locked BEFORE DELETE ON millwright.sensors
    FOR EACH STATEMENT EXECUTE FUNCTION millwright.lock_points_of_scoped_tenant();
