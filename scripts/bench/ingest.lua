-- wrk script for tally serve's /v1/batch: every request carries 100 distinct,
-- realistic api_request events (about 400 bytes of JSON each), so nothing is
-- deduplicated and every event is a new row. Their timestamps move forward 3 ms
-- an event (per wrk thread), so rows arrive roughly in time order, as DESIGN.md
-- §8's reference rows do and as live traffic does. TALLY_WRITE_KEY names the key.
local key = os.getenv("TALLY_WRITE_KEY") or ""
-- TALLY_BENCH_EVENTS=custom sends a custom event (not in the catalogue, as most
-- of what Segment's SDKs send is) with a nested cart instead of api_request.
local custom = os.getenv("TALLY_BENCH_EVENTS") == "custom"
local event = custom and "checkout_step" or "api_request"
local cart = custom and ',"cart":{"items":[{"sku":"A1","qty":1},{"sku":"B2","qty":2}],"currency":"EUR"}' or ""
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. base64(key .. ":")

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local routes = { "/v1/tasks/:id", "/v1/tasks", "/v1/projects/:id", "/v1/auth/refresh", "/v1/cocoons/:id/status" }
local methods = { "GET", "POST", "GET", "POST", "GET" }
local counter = 0

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, 100 do
    local n = counter * 100 + i
    local r = n % 5 + 1
    local ms = (n * 7919) % 1000
    local t = n * 3 % 86400000 -- milliseconds into the day: 3 ms apart, in order
    local s = math.floor(t / 1000)
    parts[i] = string.format(
      '{"type":"track","event":"%s","userId":"u_%08x","messageId":"bench-%d-%d","timestamp":"2026-11-20T%02d:%02d:%02d.%03dZ",' ..
      '"properties":{"method":"%s","route":"%s","status_code":%d,"duration_ms":%d.%d%s},' ..
      '"context":{"service":"api","sessionId":"s_%06x","library":{"name":"analytics-swift","version":"1.5.11"},' ..
      '"os":{"name":"iOS","version":"18.1"},"app":{"version":"2.3.1","build":"231"},"locale":"en-GB"}}',
      event, n % 5000, thread_id, n, math.floor(s / 3600), math.floor(s % 3600 / 60), s % 60, t % 1000,
      methods[r], routes[r], (n % 50 == 0) and 503 or ((n % 17 == 0) and 404 or 200), math.floor(ms / 10) + 3, ms % 10, cart, n % 40000)
  end
  return wrk.format(nil, "/v1/batch", nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end
