-- Live streams. Every write transaction that commits points or alert transitions
-- appends one row per tenant and kind to `stream_events`; each replica follows the log
-- and pushes rows to its subscribers, and a reconnecting subscriber is replayed from it.
--
-- Ids follow commit order: `append_stream_event` takes one transaction-level advisory
-- lock and only then draws the id, and the lock is released after the commit became
-- visible. So when id N is visible, every id below N has committed or never will, and
-- a reader that has seen everything up to N skips nothing by asking for id > N. The
-- lock serialises only the end of writing transactions (the last statement and the
-- commit), not their COPY.
--
-- A points row holds the points themselves (`MetricRouter/Writer/StreamedPoints`), an
-- alert row the transition as JSON. Rows are kept for the replay horizon and then
-- purged; `stream_horizon` remembers the newest id purged, so that a resume from before
-- it is told what it missed.

CREATE SEQUENCE millwright.stream_event_ids;

CREATE TABLE millwright.stream_events (
    id bigint PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('points', 'alert')),
    committed_at timestamptz NOT NULL,
    payload bytea NOT NULL
);
CREATE INDEX stream_events_tenant ON millwright.stream_events (tenant_id, id);
CREATE INDEX stream_events_committed ON millwright.stream_events (committed_at);
-- Packed points do not compress well and are read once or twice: no pglz.
ALTER TABLE millwright.stream_events ALTER COLUMN payload SET STORAGE EXTERNAL;
ALTER TABLE millwright.stream_events ENABLE ROW LEVEL SECURITY;
-- A tenant's transaction sees its rows; each replica's follower reads across tenants
-- with millwright.streams = 'on' (no API request sets it). Not forced: the owner's
-- SECURITY DEFINER functions below append and purge across tenants.
CREATE POLICY stream_events_scoped ON millwright.stream_events
    USING (tenant_id = current_setting('millwright.tenant_id', true)
           OR current_setting('millwright.streams', true) = 'on');

CREATE TABLE millwright.stream_horizon (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    purged_through bigint NOT NULL DEFAULT 0
);
INSERT INTO millwright.stream_horizon DEFAULT VALUES;

-- Appends one event and notifies the followers; returns its id. The only way rows are
-- written (the runtime role has no INSERT on the table).
CREATE FUNCTION millwright.append_stream_event(tenant text, event_kind text, event_payload bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    event_id bigint;
BEGIN
    -- The foreign key's row lock first: nothing is waited for while the log's lock is held.
    PERFORM 1 FROM millwright.tenants WHERE id = tenant FOR KEY SHARE;
    -- 0x6d77_7374 ("mwst"): the one lock that orders the log.
    PERFORM pg_advisory_xact_lock(1836544884);
    event_id := nextval('millwright.stream_event_ids');
    INSERT INTO millwright.stream_events (id, tenant_id, kind, committed_at, payload)
    VALUES (event_id, tenant, event_kind, clock_timestamp(), event_payload);
    PERFORM pg_notify('millwright_streams', event_id::text);
    RETURN event_id;
END
$$;
REVOKE EXECUTE ON FUNCTION millwright.append_stream_event(text, text, bytea) FROM PUBLIC;

-- Deletes events older than `keep` and expired stream tickets; remembers the newest
-- id deleted. Any replica may run it; concurrent runs are harmless.
CREATE FUNCTION millwright.purge_stream_events(keep interval) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    newest bigint;
BEGIN
    WITH purged AS (
        DELETE FROM millwright.stream_events WHERE committed_at < clock_timestamp() - keep RETURNING id
    )
    SELECT max(id) INTO newest FROM purged;
    IF newest IS NOT NULL THEN
        UPDATE millwright.stream_horizon SET purged_through = greatest(purged_through, newest);
    END IF;
    DELETE FROM millwright.stream_tickets WHERE expires_at < clock_timestamp() - interval '1 minute';
    RETURN coalesce(newest, 0);
END
$$;
REVOKE EXECUTE ON FUNCTION millwright.purge_stream_events(interval) FROM PUBLIC;

-- Alert transitions reach the log when their transaction commits (a deferred trigger
-- runs at commit, so the log's lock is held only for the commit), as the transition
-- and its alert were then, in the API's field names.
CREATE FUNCTION millwright.stream_alert_transition() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body jsonb;
BEGIN
    SELECT jsonb_build_object(
        'alert', jsonb_build_object(
            'id', a.id, 'rule', jsonb_build_object('id', a.rule_id, 'name', a.rule_name),
            'condition', a.condition, 'device', a.device_id, 'sensor', nullif(a.sensor_key, ''),
            'severity', a.severity, 'state', a.state,
            'started_at', to_char(a.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        'transition', jsonb_build_object(
            'state', NEW.state, 'at', to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'value', NEW.value, 'reason', NEW.reason))
    INTO body
    FROM millwright.alerts a WHERE a.tenant_id = NEW.tenant_id AND a.id = NEW.alert_id;
    IF body IS NOT NULL THEN
        PERFORM millwright.append_stream_event(NEW.tenant_id, 'alert', convert_to(body::text, 'UTF8'));
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER alert_transitions_streamed AFTER INSERT ON millwright.alert_transitions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION millwright.stream_alert_transition();

-- Stream tickets: what a browser's EventSource (which cannot send a header) shows
-- instead of a token. Single use, short-lived, bound to the tenant and the principal
-- it was issued to; only a SHA-256 digest of the ticket is kept.
CREATE TABLE millwright.stream_tickets (
    digest bytea PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES millwright.tenants (id) ON DELETE CASCADE,
    issuer text NOT NULL,
    subject text NOT NULL,
    username text,
    role text NOT NULL,
    -- The expiry of the token the ticket was issued against: the stream ends then.
    token_expires_at timestamptz,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE millwright.stream_tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY stream_tickets_scoped ON millwright.stream_tickets
    USING (tenant_id = current_setting('millwright.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('millwright.tenant_id', true));

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
    EXECUTE format('GRANT SELECT ON millwright.stream_events, millwright.stream_horizon TO %I', runtime_role);
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON millwright.stream_tickets TO %I', runtime_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION millwright.append_stream_event(text, text, bytea),'
                   ' millwright.purge_stream_events(interval) TO %I', runtime_role);
    IF to_regclass('millwright.number_points_1m') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON millwright.number_points_1m TO %I', runtime_role);
    END IF;
END
$$;
