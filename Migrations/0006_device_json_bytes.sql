-- What a device's JSON costs to read back (its text as JSON writes it, escapes
-- included, and a fixed part), kept when the device is written: a page of devices stops
-- at its byte budget (PageBudget) without writing every candidate's labels and
-- metadata out to measure them.
ALTER TABLE millwright.devices ADD COLUMN json_bytes integer NOT NULL DEFAULT 0;

CREATE FUNCTION millwright.measure_device() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.json_bytes := 320 + octet_length(to_json(NEW.id)::text)
        + coalesce(octet_length(to_json(NEW.name)::text), 0)
        + coalesce(octet_length(to_json(NEW.description)::text), 0)
        + octet_length(NEW.labels::text) + octet_length(NEW.metadata::text) + octet_length(NEW.timezone);
    RETURN NEW;
END
$$;
CREATE TRIGGER devices_measured BEFORE INSERT OR UPDATE OF id, name, description, labels, metadata, timezone
    ON millwright.devices FOR EACH ROW EXECUTE FUNCTION millwright.measure_device();

-- Existing devices, across tenants: row-level security is forced on devices for the
-- owner too, so it steps aside for this one statement.
ALTER TABLE millwright.devices NO FORCE ROW LEVEL SECURITY;
UPDATE millwright.devices SET name = name;
ALTER TABLE millwright.devices FORCE ROW LEVEL SECURITY;
