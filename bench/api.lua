-- bench:api's wrk script: POSTs batches of 1,000 emails to the check API, or
-- (mode ref) the reference round trip: the same server's bare 401 answer to a
-- GET without a key (routing, the auth hook, an empty answer; no store read).
-- wrk -s bench/api.lua <url> -- <dir> <key> <mode>
--   dir   holds body.0.json … body.<n-1>.json (each { channel, emails: [1,000] })
local bodies = {}
local key, mode
local n = 0

function init(args)
  local dir = args[1]
  key = args[2]
  mode = args[3]
  local i = 0
  while true do
    local f = io.open(dir .. "/body." .. i .. ".json", "r")
    if not f then break end
    bodies[#bodies + 1] = f:read("*a")
    f:close()
    i = i + 1
  end
end

function request()
  n = n + 1
  if mode == "ref" then
    return wrk.format("GET", "/api/v1/reachable?channel=email&email=ref%40example.com", {})
  end
  return wrk.format("POST", "/api/v1/reachable", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }, bodies[(n % #bodies) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"p50":%.3f,"p99":%.3f,"mean":%.3f,"errors":%d,"non2xx":%d}\n',
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
