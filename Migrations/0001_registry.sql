-- Tenants, devices, sensors and device keys: the registry.
--
-- Every tenant-owned table carries tenant_id and leads its keys with it. Every table
-- here has FORCED row-level security on the session setting millwright.tenant_id,
-- which a tenant-scoped transaction sets (SET LOCAL), so even handwritten SQL of the
-- runtime role sees only the rows of the tenant it is scoped to. Platform operations
-- on the tenants table itself set millwright.platform = 'on' instead.

CREATE SCHEMA IF NOT EXISTS millwright;

CREATE TABLE millwright.tenants (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    device_limit integer NOT NULL DEFAULT 10000 CHECK (device_limit >= 0),
    retention_days integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 36500),
    sensor_limit_per_device integer NOT NULL DEFAULT 1000 CHECK (sensor_limit_per_device >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1
);

CREATE TABLE millwright.devices (
    tenant_id text NOT NULL REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
    name text,
    description text,
    labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    timezone text NOT NULL DEFAULT 'UTC',
    latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    offline_after_seconds integer NOT NULL DEFAULT 300 CHECK (offline_after_seconds > 0),
    auto_create_sensors boolean NOT NULL DEFAULT true,
    last_seen_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

CREATE TABLE millwright.sensors (
    tenant_id text NOT NULL,
    device_id text NOT NULL,
    key text NOT NULL CHECK (key ~ '^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$'),
    -- A compact id for metric rows; unique inside the tenant.
    sensor_id bigint GENERATED ALWAYS AS IDENTITY,
    name text,
    kind text NOT NULL CHECK (kind IN ('number', 'integer', 'boolean', 'string')),
    unit text,
    min double precision,
    max double precision,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, device_id, key),
    UNIQUE (tenant_id, sensor_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES millwright.devices (tenant_id, id) ON DELETE CASCADE,
    CHECK (min IS NULL OR max IS NULL OR min <= max),
    CHECK (kind IN ('number', 'integer') OR (min IS NULL AND max IS NULL))
);

CREATE TABLE millwright.device_keys (
    tenant_id text NOT NULL,
    device_id text NOT NULL,
    id text NOT NULL,
    name text,
    -- SHA-256 of the secret; the secret itself is never stored.
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES millwright.devices (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX device_keys_by_device ON millwright.device_keys (tenant_id, device_id, created_at, id);

-- Row-level security: forced, so that it holds for the table owner too.
ALTER TABLE millwright.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_scoped ON millwright.tenants
    USING (id = current_setting('millwright.tenant_id', true)
           OR current_setting('millwright.platform', true) = 'on')
    WITH CHECK (current_setting('millwright.platform', true) = 'on');

ALTER TABLE millwright.devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.devices FORCE ROW LEVEL SECURITY;
CREATE POLICY devices_scoped ON millwright.devices
    USING (tenant_id = current_setting('millwright.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true));

ALTER TABLE millwright.sensors ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.sensors FORCE ROW LEVEL SECURITY;
CREATE POLICY sensors_scoped ON millwright.sensors
    USING (tenant_id = current_setting('millwright.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true));

ALTER TABLE millwright.device_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE millwright.device_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY device_keys_scoped ON millwright.device_keys
    USING (tenant_id = current_setting('millwright.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true));

-- The runtime role's privileges, granted by `millwright migrate` to the role in
-- MILLWRIGHT_DATABASE_URL. Later migrations replace this function as tables come.
CREATE OR REPLACE FUNCTION millwright.grant_runtime_privileges(runtime_role name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA millwright TO %I', runtime_role);
    EXECUTE format('GRANT SELECT ON millwright.schema_migrations TO %I', runtime_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON millwright.tenants, millwright.devices,'
                   ' millwright.sensors, millwright.device_keys TO %I', runtime_role);
END
$$;
