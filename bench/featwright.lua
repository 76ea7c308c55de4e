-- wrk script for featwright's projects endpoints (same modes and RESULT line as the
-- baseline's bench.lua):  wrk ... -s bench/featwright.lua URL -- MODE TOKEN [ARG]
--   post          POST /api/v1/projects with a small JSON body
--   get  IDSFILE  GET /api/v1/projects/<random id from IDSFILE>
--   path PATH     GET PATH
local mode, arg
local ids = {}
local counter = 0
local prefix = "/api/v1/projects"

function init(args)
  mode, arg = args[1], args[3]
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  if mode == "get" then
    for line in io.lines(arg) do
      if #line > 0 then ids[#ids + 1] = line end
    end
    local addr = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) or 0
    math.randomseed(os.time() + addr % 100000)
  elseif mode == "post" then
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  if mode == "get" then
    return wrk.format("GET", prefix .. "/" .. ids[math.random(#ids)])
  elseif mode == "post" then
    counter = counter + 1
    return wrk.format("POST", prefix, nil, '{"name":"bench-project-' .. counter .. '"}')
  end
  return wrk.format("GET", arg)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sockerr=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000.0, latency:percentile(90) / 1000.0,
    latency:percentile(99) / 1000.0, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
