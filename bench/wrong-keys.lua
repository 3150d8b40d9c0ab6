-- wrk script: a flood of guessed device keys (scripts/bench-keys.sh): every request
-- writes one line to /api/v2/write of tenant BENCH_TENANT with a well-formed key whose
-- id is random, so that no two guesses are alike.
function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "text/plain"
    tenant = os.getenv("BENCH_TENANT")
    body = "m,device=d1 v=1"
end

local hex = "0123456789abcdef"

function request()
    local id = {}
    for i = 1, 18 do
        local n = math.random(16)
        id[i] = hex:sub(n, n)
    end
    wrk.headers["Authorization"] = "Token mwk." .. tenant .. "." .. table.concat(id) .. "." .. string.rep("A", 43)
    return wrk.format(nil, "/api/v2/write?org=" .. tenant .. "&bucket=b", nil, body)
end
