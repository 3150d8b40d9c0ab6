-- Each tenant's device count, kept by statement triggers, so that the device limit is
-- checked against one row instead of counting the tenant's devices on every create.
-- Concurrent creates in one tenant queue on that row for the length of a transaction.

CREATE TABLE millwright.tenant_device_counts (
    tenant_id text PRIMARY KEY REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    devices integer NOT NULL DEFAULT 0 CHECK (devices >= 0)
);

-- The owner runs this migration; FORCE ROW LEVEL SECURITY would hide every device
-- from it, so the backfill reads with the policy lifted for this transaction.
ALTER TABLE millwright.devices NO FORCE ROW LEVEL SECURITY;
INSERT INTO millwright.tenant_device_counts (tenant_id, devices)
SELECT tenant_id, count(*) FROM millwright.devices GROUP BY tenant_id;
ALTER TABLE millwright.devices FORCE ROW LEVEL SECURITY;

ALTER TABLE millwright.tenant_device_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.tenant_device_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_device_counts_scoped ON millwright.tenant_device_counts
    USING (tenant_id = current_setting('millwright.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true));

CREATE FUNCTION millwright.count_devices() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO millwright.tenant_device_counts AS c (tenant_id, devices)
        SELECT tenant_id, count(*) FROM new_rows GROUP BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET devices = c.devices + excluded.devices;
    ELSE
        UPDATE millwright.tenant_device_counts AS c SET devices = greatest(c.devices - d.n, 0)
        FROM (SELECT tenant_id, count(*) AS n FROM old_rows GROUP BY tenant_id) AS d
        WHERE c.tenant_id = d.tenant_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER devices_counted_on_insert AFTER INSERT ON millwright.devices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.count_devices();
CREATE TRIGGER devices_counted_on_delete AFTER DELETE ON millwright.devices
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.count_devices();

CREATE OR REPLACE FUNCTION millwright.grant_runtime_privileges(runtime_role name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA millwright TO %I', runtime_role);
    EXECUTE format('GRANT SELECT ON millwright.schema_migrations TO %I', runtime_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON millwright.tenants, millwright.devices,'
                   ' millwright.sensors, millwright.device_keys, millwright.tenant_device_counts TO %I', runtime_role);
END
$$;
