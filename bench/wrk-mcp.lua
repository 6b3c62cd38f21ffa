-- wrk script for bench/compare.py: one request kind per run, JSON summary on stdout.
--   wrk -t1 -c50 -d10s --timeout 10s -s bench/wrk-mcp.lua URL -- METHOD BODY_FILE SESSIONS_FILE HOST [VERSION MCP_METHOD MCP_NAME]
-- METHOD: POST (MCP, with the streamable-HTTP headers) or GET. BODY_FILE: request body ("-" for none).
-- SESSIONS_FILE: one MCP session id a line, used in turn as `mcp-session-id` ("-" for none: session-less servers).
-- HOST: Host header to send ("-" to keep the URL's).
-- VERSION (optional, default 2025-06-18): the mcp-protocol-version header. MCP_METHOD, MCP_NAME (optional, "-" for
-- none): the mcp-method and mcp-name headers a 2026-07-28 request repeats from its body.
local method, body, sessions, host = "GET", nil, {}, nil
local version, mcp_method, mcp_name = "2025-06-18", nil, nil
local next_session = 1

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function init(args)
  method = args[1] or "GET"
  if args[2] and args[2] ~= "-" then body = slurp(args[2]) end
  if args[3] and args[3] ~= "-" then
    for line in io.lines(args[3]) do
      if #line > 0 then sessions[#sessions + 1] = line end
    end
  end
  if args[4] and args[4] ~= "-" then host = args[4] end
  if args[5] and args[5] ~= "-" then version = args[5] end
  if args[6] and args[6] ~= "-" then mcp_method = args[6] end
  if args[7] and args[7] ~= "-" then mcp_name = args[7] end
  if #sessions > 0 then next_session = math.random(#sessions) end
end

function request()
  local headers = {}
  if host then headers["Host"] = host end
  if method == "POST" then
    headers["content-type"] = "application/json"
    headers["accept"] = "application/json, text/event-stream"
    headers["mcp-protocol-version"] = version
    if mcp_method then headers["mcp-method"] = mcp_method end
    if mcp_name then headers["mcp-name"] = mcp_name end
    if #sessions > 0 then
      headers["mcp-session-id"] = sessions[next_session]
      next_session = next_session % #sessions + 1
    end
  end
  return wrk.format(method, nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
