-- wrk script: POST /devices with a fresh device id on every request.
local counter = 0
local thread_tag = "0"
local threads = 0

setup = function(thread)
    threads = threads + 1
    thread:set("thread_tag", tostring(threads) .. "-" .. tostring(os.time()))
end

request = function()
    counter = counter + 1
    local body = string.format('{"id": "bench-%s-%d", "labels": {"line": "A"}}', thread_tag, counter)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = wrk.headers["Authorization"]}, body)
end

done = function(summary, latency, requests)
    io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
