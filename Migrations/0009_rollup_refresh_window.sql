-- The 1-minute continuous aggregate's refresh covers all of history, not the last 7
-- days. Points may be written as far back as a tenant's retention_days, and tenants'
-- retention deletes old points; both change minutes the aggregate materialized long ago.
-- TimescaleDB logs such changes as invalidations and a refresh re-materializes only the
-- invalidated minutes inside its window: with a 7-day window, a point written 30 days
-- late never reached whole-minute aggregates, and points deleted by retention stayed in
-- them. A refresh still costs what changed, not the size of history.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM millwright.metric_storage WHERE engine = 'timescaledb') THEN
        PERFORM remove_continuous_aggregate_policy('millwright_metrics.number_points_1m');
        PERFORM add_continuous_aggregate_policy('millwright_metrics.number_points_1m',
            start_offset => NULL, end_offset => interval '1 minute', schedule_interval => interval '1 minute');
    END IF;
END
$$;
