-- The stream log's append no longer takes any row lock. With the foreign key to tenants,
-- an append waited for the tenant row's lock (FOR KEY SHARE) while it could hold the
-- log's ordering lock from an earlier append of the same transaction (an evaluator round
-- commits transitions of several tenants): a tenant being deleted then held up every
-- tenant's writes until the deadlock detector broke the cycle. A tenant's log rows now
-- go with it through a trigger instead.

ALTER TABLE millwright.stream_events DROP CONSTRAINT stream_events_tenant_id_fkey;

CREATE OR REPLACE FUNCTION millwright.append_stream_event(tenant text, event_kind text, event_payload bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    event_id bigint;
BEGIN
    -- 0x6d77_7374 ("mwst"): the one lock that orders the log. Nothing below waits.
    PERFORM pg_advisory_xact_lock(1836544884);
    event_id := nextval('millwright.stream_event_ids');
    INSERT INTO millwright.stream_events (id, tenant_id, kind, committed_at, payload)
    VALUES (event_id, tenant, event_kind, clock_timestamp(), event_payload);
    PERFORM pg_notify('millwright_streams', event_id::text);
    RETURN event_id;
END
$$;

CREATE FUNCTION millwright.forget_tenant_stream_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM millwright.stream_events WHERE tenant_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_stream_events_forgotten AFTER DELETE ON millwright.tenants
    FOR EACH ROW EXECUTE FUNCTION millwright.forget_tenant_stream_events();
