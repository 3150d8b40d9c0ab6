-- Alerts: rules on a tenant's sensors, the state of each series they watch, the alerts
-- they raise with their transitions, and notification channels with their deliveries.
--
-- The evaluator is fed from what was committed: every metric write transaction adds
-- one row per tenant to millwright_metrics.point_commits (the sensors it wrote, each
-- with its newest point time, and the oldest point time). The row commits or rolls back
-- with the points. The evaluator takes rows in a transaction that also updates the
-- alert state, so a row is evaluated exactly once, and rows of transactions still in
-- flight are invisible to it until they commit.

ALTER TABLE millwright.tenants
    ADD COLUMN alert_rule_limit integer NOT NULL DEFAULT 1000 CHECK (alert_rule_limit BETWEEN 0 AND 100000);

CREATE TABLE millwright_metrics.point_commits (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id text NOT NULL,
    sensor_ids bigint[] NOT NULL,
    -- The newest point time of each sensor in sensor_ids, in microseconds since the epoch.
    newest bigint[] NOT NULL CHECK (cardinality(newest) = cardinality(sensor_ids)),
    oldest bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    -- Rounds that failed on this row (it is put back, and dropped after a few).
    attempts integer NOT NULL DEFAULT 0
);

-- A flush of 10,000 sensors writes two arrays of 80 KB: stored out of line without
-- compression, which cost the writer 11 ms a flush (pglz) in the alerts benchmark.
ALTER TABLE millwright_metrics.point_commits ALTER COLUMN sensor_ids SET STORAGE EXTERNAL,
    ALTER COLUMN newest SET STORAGE EXTERNAL;

-- Takes (deletes and returns) up to max_rows committed rows, oldest first. Only the
-- evaluator calls it, inside the transaction that records what it evaluated.
CREATE FUNCTION millwright.take_point_commits(max_rows integer)
RETURNS TABLE (tenant_id text, sensor_ids bigint[], newest bigint[], oldest bigint, committed_at timestamptz,
               attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM millwright_metrics.point_commits c
    WHERE c.id IN (SELECT id FROM millwright_metrics.point_commits ORDER BY id LIMIT max_rows)
    RETURNING c.tenant_id, c.sensor_ids, c.newest, c.oldest, c.committed_at, c.attempts
$$;
REVOKE EXECUTE ON FUNCTION millwright.take_point_commits(integer) FROM PUBLIC;

CREATE TABLE millwright.notification_channels (
    tenant_id text NOT NULL REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type text NOT NULL CHECK (type = 'webhook'),
    format text NOT NULL CHECK (format IN ('json', 'slack')),
    url text NOT NULL CHECK (length(url) <= 2048),
    -- The signing key; never returned by the API after the response that created it.
    secret bytea CHECK (secret IS NULL OR length(secret) BETWEEN 24 AND 64),
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE millwright.alert_rules (
    tenant_id text NOT NULL REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text,
    severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    enabled boolean NOT NULL DEFAULT true,
    labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    channels uuid[] NOT NULL DEFAULT '{}',
    -- The target: one device, or every device whose labels contain the selector.
    device_id text,
    selector jsonb CHECK (selector IS NULL OR jsonb_typeof(selector) = 'object'),
    sensor_key text,
    condition text NOT NULL CHECK (condition IN ('threshold', 'anomaly', 'silence')),
    operator text CHECK (operator IN ('above', 'below', 'outside', 'inside')),
    low double precision,
    high double precision,
    for_seconds integer NOT NULL DEFAULT 0,
    window_seconds integer,
    z_threshold double precision,
    min_samples integer,
    resolve_for_seconds integer NOT NULL DEFAULT 0,
    repeat_every_seconds integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    CHECK ((device_id IS NULL) <> (selector IS NULL)),
    CHECK (condition = 'silence' OR sensor_key IS NOT NULL)
);
CREATE INDEX alert_rules_by_key ON millwright.alert_rules (tenant_id, sensor_key) WHERE enabled;

CREATE TABLE millwright.tenant_alert_rule_counts (
    tenant_id text PRIMARY KEY REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    rules integer NOT NULL DEFAULT 0
);
CREATE FUNCTION millwright.count_alert_rules() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO millwright.tenant_alert_rule_counts AS c (tenant_id, rules)
        SELECT tenant_id, count(*) FROM changed_rows GROUP BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET rules = c.rules + excluded.rules;
    ELSE
        UPDATE millwright.tenant_alert_rule_counts c SET rules = c.rules - d.n
        FROM (SELECT tenant_id, count(*) AS n FROM changed_rows GROUP BY tenant_id) d WHERE c.tenant_id = d.tenant_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_rules_counted_in AFTER INSERT ON millwright.alert_rules
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.count_alert_rules();
CREATE TRIGGER alert_rules_counted_out AFTER DELETE ON millwright.alert_rules
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION millwright.count_alert_rules();

-- Each alert: raised by a rule on one series (device, and sensor key or '' for a
-- device-wide silence rule). Kept after its rule or device is deleted.
CREATE TABLE millwright.alerts (
    tenant_id text NOT NULL REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    rule_id uuid NOT NULL,
    rule_name text NOT NULL,
    condition text NOT NULL,
    device_id text NOT NULL,
    sensor_key text NOT NULL,
    severity text NOT NULL,
    state text NOT NULL CHECK (state IN ('firing', 'resolved')),
    -- Point times: when the condition began to hold, and the point that made it fire.
    started_at timestamptz NOT NULL,
    value double precision,
    value_at timestamptz NOT NULL,
    resolved_at timestamptz,
    resolved_value double precision,
    acknowledged_by text,
    acknowledged_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX alerts_newest ON millwright.alerts (tenant_id, id DESC);
CREATE INDEX alerts_firing ON millwright.alerts (tenant_id, rule_id) WHERE state = 'firing';

CREATE TABLE millwright.alert_transitions (
    tenant_id text NOT NULL,
    alert_id bigint NOT NULL,
    seq integer NOT NULL,
    state text NOT NULL CHECK (state IN ('firing', 'repeat', 'resolved')),
    at timestamptz NOT NULL,
    value double precision,
    reason text,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, alert_id, seq),
    FOREIGN KEY (tenant_id, alert_id) REFERENCES millwright.alerts (tenant_id, id) ON DELETE CASCADE
);

-- One row per (rule, device, sensor key) the evaluator has seen: the state machine
-- inactive -> pending -> firing -> (resolved) inactive, on point time.
CREATE TABLE millwright.alert_series (
    tenant_id text NOT NULL,
    rule_id uuid NOT NULL,
    device_id text NOT NULL,
    sensor_key text NOT NULL,
    state text NOT NULL CHECK (state IN ('inactive', 'pending', 'firing')),
    -- pending: the point time the condition began to hold.
    since timestamptz,
    -- firing: the point time the condition stopped holding (resolve_for counts from it).
    clear_since timestamptz,
    -- The newest point time evaluated; older points are late and change nothing.
    last_point_at timestamptz,
    alert_id bigint,
    last_notified_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rule_id, device_id, sensor_key),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES millwright.alert_rules (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, device_id) REFERENCES millwright.devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_series_firing ON millwright.alert_series (tenant_id, rule_id) WHERE state = 'firing';

-- Every notification to send: one per channel and alert transition, sent at least
-- once (retried with backoff until delivered, refused for good, or past expires_at).
CREATE TABLE millwright.notification_deliveries (
    tenant_id text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    channel_id uuid NOT NULL,
    alert_id bigint,
    -- Stable across retries: the receiver's Idempotency-Key and webhook-id.
    event_id text NOT NULL,
    event text NOT NULL CHECK (event IN ('firing', 'repeat', 'resolved', 'test')),
    payload text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    last_status integer,
    last_error text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A dispatcher's claim; another may take the row once it has passed.
    claimed_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, channel_id) REFERENCES millwright.notification_channels (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notification_deliveries_due ON millwright.notification_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_deliveries_by_channel ON millwright.notification_deliveries (tenant_id, channel_id, id DESC);

-- Each point of the sensors in [from_time, to_time) with the count, mean and sample
-- standard deviation of the same sensor's points in the window_length before it. The
-- window is [time - window_length, time] without the point itself (EXCLUDE CURRENT
-- ROW), so a point never dilutes its own score. read_from is from_time - window_length,
-- given by the caller as a constant so that the planner skips older partitions and
-- chunks (and their locks) at plan time. Reads the tenant-scoped views: it sees only
-- the tenant of the transaction.
CREATE FUNCTION millwright.anomaly_scores(sensor_ids bigint[], read_from timestamptz, from_time timestamptz,
                                          to_time timestamptz, window_length interval)
RETURNS TABLE (sensor_id bigint, at timestamptz, value double precision, samples bigint, mean double precision,
               deviation double precision)
LANGUAGE sql STABLE AS $$
    SELECT w.sensor_id, w.time, w.value, w.samples, w.mean, w.deviation FROM (
        SELECT p.sensor_id, p.time, p.value,
               count(*) OVER w AS samples, avg(p.value) OVER w AS mean, stddev_samp(p.value) OVER w AS deviation
        FROM (SELECT n.sensor_id, n.time, n.value FROM millwright.number_points n
              WHERE n.sensor_id = ANY(sensor_ids) AND n.time >= read_from AND n.time < to_time
              UNION ALL
              SELECT i.sensor_id, i.time, i.value::double precision FROM millwright.integer_points i
              WHERE i.sensor_id = ANY(sensor_ids) AND i.time >= read_from AND i.time < to_time) p
        WINDOW w AS (PARTITION BY p.sensor_id ORDER BY p.time
                     RANGE BETWEEN window_length PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW)
    ) w WHERE w.time >= from_time
$$;

-- Row-level security as on the registry; the evaluator and the dispatcher, which work
-- across tenants, set millwright.alerting = 'on' (no API request ever does).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['notification_channels', 'alert_rules', 'tenant_alert_rule_counts', 'alerts',
                             'alert_transitions', 'alert_series', 'notification_deliveries'] LOOP
        EXECUTE format('ALTER TABLE millwright.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE millwright.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON millwright.%I'
                       ' USING (tenant_id = current_setting(''millwright.tenant_id'', true)'
                       '        OR current_setting(''millwright.alerting'', true) = ''on'')'
                       ' WITH CHECK (tenant_id = current_setting(''millwright.tenant_id'', true)'
                       '        OR current_setting(''millwright.alerting'', true) = ''on'')', t || '_scoped', t);
    END LOOP;
END
$$;

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
                   ' millwright.alert_series, millwright.notification_deliveries TO %I', runtime_role);
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
