-- wrk script: POST batches of metric points to tenant "bench" (scripts/bench-metrics.sh).
--
-- Environment: BENCH_TOKEN, BENCH_FORMAT (lp | json), BENCH_BATCH (points per request,
-- a multiple of 100, at most 10,000), BENCH_TIME_BASE (µs since 1970), BENCH_RUN (0..19:
-- each run 4,000 s of point time after the base).
-- Each request carries BENCH_BATCH/100 devices × 100 sensors at one timestamp, unique per
-- run, thread and request, so that no point is ever re-sent (the COPY fast path).
local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    counter = 0
    format = os.getenv("BENCH_FORMAT") or "lp"
    batch = tonumber(os.getenv("BENCH_BATCH") or "1000")
    base = tonumber(os.getenv("BENCH_TIME_BASE"))
    run = tonumber(os.getenv("BENCH_RUN") or "0")
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
    if format == "json" then
        wrk.headers["Content-Type"] = "application/json"
        path = "/api/v1/tenants/bench/metrics"
    else
        wrk.headers["Content-Type"] = "text/plain"
        path = "/api/v1/tenants/bench/write?precision=us"
    end
end

local function rfc3339(micros)
    local seconds = math.floor(micros / 1000000)
    return os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%06dZ", micros - seconds * 1000000)
end

function request()
    counter = counter + 1
    local t = base + ((run * 4 + id) * 1000000 + counter) * 1000
    local devices = batch / 100
    local first = (counter * devices) % 100
    local parts = {}
    if format == "json" then
        local time = rfc3339(t)
        for d = 0, devices - 1 do
            local device = string.format("dev-%03d", (first + d) % 100)
            for s = 0, 99 do
                parts[#parts + 1] = string.format('{"device":"%s","sensor":"m.s%02d","time":"%s","value":%d.%d}',
                    device, s, time, counter % 1000, s)
            end
        end
        return wrk.format(nil, path, nil, '{"points":[' .. table.concat(parts, ",") .. "]}")
    end
    for d = 0, devices - 1 do
        local fields = {}
        for s = 0, 99 do fields[s + 1] = string.format("s%02d=%d.%d", s, counter % 1000, s) end
        parts[#parts + 1] = string.format("m,device=dev-%03d %s %d", (first + d) % 100, table.concat(fields, ","), t)
    end
    return wrk.format(nil, path, nil, table.concat(parts, "\n"))
end

function done(summary, latency, requests)
    io.write(string.format("RESULT requests=%d non2xx=%d socket_errors=%d duration_us=%d p50_ms=%.2f p99_ms=%.2f\n",
        summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.timeout, summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
