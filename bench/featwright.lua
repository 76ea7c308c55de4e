-- wrk script for featwright's projects endpoints; prints the same RESULT line as the
-- baseline's bench.lua, so bench/bench.py reads both alike.
--
--   wrk ... -s bench/featwright.lua URL -- MODE TOKEN [ARG]
--
--   get  IDSFILE  GET  /api/v1/projects/<random id from IDSFILE>
--   post          POST /api/v1/projects  {"name":"bench-project-N"}
--   put  IDSFILE  PUT  /api/v1/projects/<random id>  {"name":"bench-put-N"}  (no If-Match)
--   path PATH     GET  PATH (a list page, by offset or by cursor; PATH is URL-encoded)
--   paths FILE    GET  <a random line of FILE> (each a path: rows of any resource)
--   mix  IDSFILE  a fixed cycle of 10: 5 x get, 4 x post, 1 x GET page 1 (the memory test)
--
-- done() prints one machine-readable line:
--   RESULT rps=.. p50_ms=.. p90_ms=.. p99_ms=.. requests=.. non2xx=.. sockerr=..
local mode, arg
local ids = {}
local counter = 0
local prefix = "/api/v1/projects"
local first_page = prefix .. "?page=1&limit=20"

local function random_id()
  return ids[math.random(#ids)]
end

function init(args)
  mode, arg = args[1], args[3]
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  if mode == "get" or mode == "put" or mode == "mix" or mode == "paths" then
    for line in io.lines(arg) do
      if #line > 0 then ids[#ids + 1] = line end
    end
    assert(#ids > 0, "no ids in " .. arg)
    local addr = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) or 0
    math.randomseed(os.time() + addr % 100000)
  elseif mode ~= "post" and mode ~= "path" then
    error("unknown mode " .. tostring(mode))
  end
  if mode == "post" or mode == "put" or mode == "mix" then
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  counter = counter + 1
  if mode == "get" then
    return wrk.format("GET", prefix .. "/" .. random_id())
  elseif mode == "paths" then
    return wrk.format("GET", random_id())
  elseif mode == "post" then
    return wrk.format("POST", prefix, nil, '{"name":"bench-project-' .. counter .. '"}')
  elseif mode == "put" then
    return wrk.format("PUT", prefix .. "/" .. random_id(), nil,
      '{"name":"bench-put-' .. counter .. '"}')
  elseif mode == "mix" then
    local slot = counter % 10
    if slot < 5 then
      return wrk.format("GET", prefix .. "/" .. random_id())
    elseif slot < 9 then
      return wrk.format("POST", prefix, nil, '{"name":"bench-mix-' .. counter .. '"}')
    end
    return wrk.format("GET", first_page)
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
