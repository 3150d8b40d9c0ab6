-- wrk script: the query API over tenant "bench" (scripts/bench-metrics.sh).
--
-- Environment: BENCH_TOKEN, BENCH_KIND (points | aggregates | latest), BENCH_FROM and
-- BENCH_TO (RFC 3339). Each request picks another device (of 100) and sensor (of 100).
function init(args)
    counter = 0
    kind = os.getenv("BENCH_KIND")
    from = os.getenv("BENCH_FROM")
    to = os.getenv("BENCH_TO")
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end

function request()
    counter = counter + 1
    local device = string.format("dev-%03d", (counter * 7) % 100)
    local sensor = string.format("m.s%02d", (counter * 13) % 100)
    local base = "/api/v1/tenants/bench/devices/" .. device
    if kind == "latest" then
        return wrk.format(nil, base .. "/latest")
    elseif kind == "aggregates" then
        return wrk.format(nil, base .. "/sensors/" .. sensor .. "/aggregates?interval=1m&functions=avg,min,max,count&from="
            .. from .. "&to=" .. to)
    end
    return wrk.format(nil, base .. "/sensors/" .. sensor .. "/points?limit=1000&from=" .. from .. "&to=" .. to)
end

function done(summary, latency, requests)
    io.write(string.format("RESULT requests=%d non2xx=%d socket_errors=%d duration_us=%d p50_ms=%.2f p99_ms=%.2f\n",
        summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.timeout, summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
