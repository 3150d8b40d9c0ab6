-- wrk script: POST /devices with a fresh device id on every request.
-- The bearer token comes from the environment (BENCH_TOKEN).
-- thread_tag is a global on purpose: setup() sets it in each thread's Lua state.
thread_tag = "0"
local counter = 0
local threads = 0
local authorization = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")

setup = function(thread)
    threads = threads + 1
    thread:set("thread_tag", tostring(threads) .. "-" .. tostring(os.time()))
end

request = function()
    counter = counter + 1
    local body = string.format('{"id": "bench-%s-%d", "labels": {"line": "A"}}', thread_tag, counter)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = authorization}, body)
end

done = function(summary, latency, requests)
    io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
