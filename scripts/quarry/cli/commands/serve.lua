-- quarry serve: metrics and status of a database over HTTP (lua-socket): GET /metrics (Prometheus
-- text), GET /status (JSON), GET /health. The database is opened as a secondary that catches up
-- with the primary on each request; SIGINT/SIGTERM stop it cleanly. docs/metrics.md.
local cli = require("quarry.cli")

local M = { summary = "metrics (/metrics), status (/status) and health (/health) over HTTP" }

local REASONS = {
  [200] = "OK", [400] = "Bad Request", [404] = "Not Found", [405] = "Method Not Allowed",
  [500] = "Internal Server Error", [503] = "Service Unavailable",
}

local PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
local TEXT_TYPE = "text/plain; charset=utf-8"

local function respond(client, code, ctype, body, head, extra)
  local lines = {
    ("HTTP/1.1 %d %s"):format(code, REASONS[code] or "Error"),
    "Content-Type: " .. ctype,
    "Content-Length: " .. #body,
    "Cache-Control: no-store",
    "Connection: close",
  }
  for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
  client:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (head and "" or body))
end

-- Reads the request line and the headers. Returns method, target or nil (malformed / timeout).
local function read_request(client)
  local line = client:receive("*l")
  if not line then return nil end
  local method, target = line:match("^(%u+) (%S+) HTTP/%d%.%d$")
  for _ = 1, 100 do -- headers: ignored, but read so that the client sees a clean close
    local h = client:receive("*l")
    if h == nil or h == "" then break end
  end
  return method, target
end

local ROUTES = { ["/metrics"] = true, ["/status"] = true, ["/health"] = true }

local function parser()
  local p = cli.parser("serve", M.summary .. ". The database is opened as a secondary (it never "
    .. "takes the lock) and catches up with the primary on each request.")
  p:option("--db", "The database directory"):count(1)
  p:option("--listen", "Address and port to listen on (port 0: any free port)", "127.0.0.1:9100")
  p:option("--namespace", "Prometheus metric name prefix", "quarry")
  p:option("--label", "A constant Prometheus label name=value (repeatable)"):count("*")
  p:option("--secondary-path", "Directory for the secondary instance's own files (default: a "
    .. "temporary directory removed at exit)")
  return p
end

-- HOST:PORT (or [HOST]:PORT) of --listen as host, port; nil when it is not one.
local function parse_listen(listen)
  local host, port = listen:match("^%[?([^%]]*)%]?:(%d+)$")
  port = tonumber(port)
  if not host or not port or port > 65535 then return nil end
  return host, port
end

-- The body of /metrics or /status for the server s (see M.run), raising on an engine error.
-- caught_up, cerr: how the secondary's catch-up before this request went.
local function document(s, path, caught_up, cerr)
  local chain = s.report.chain(s.h.db)
  if path == "/metrics" then return s.report.prometheus(s.h.db, chain, s.popts) end
  local doc = s.report.status(s.h.db:metrics(), chain, s.started, s.clock())
  doc.caught_up = caught_up
  if not caught_up then doc.error = tostring(cerr) end
  return s.json.encode(doc, { indent = true }) .. "\n"
end

-- Answers one request of client: 400 (malformed), 404 (no such route), 405 (not GET or HEAD),
-- /health 200 or 503 (catch-up failed), /metrics and /status 200 or 500.
local function handle(s, client)
  client:settimeout(5)
  local method, target = read_request(client)
  if not method then
    respond(client, 400, TEXT_TYPE, "bad request\n")
    return
  end
  local path = target:match("^[^?#]*")
  if not ROUTES[path] then
    respond(client, 404, TEXT_TYPE, "not found: try /metrics, /status, /health\n", method == "HEAD")
    return
  end
  if method ~= "GET" and method ~= "HEAD" then
    respond(client, 405, TEXT_TYPE, "method not allowed\n", false, { "Allow: GET, HEAD" })
    return
  end
  local head = method == "HEAD"
  local okc, cerr = pcall(s.h.refresh)
  if path == "/health" then
    if okc then
      respond(client, 200, TEXT_TYPE, "ok\n", head)
    else
      respond(client, 503, TEXT_TYPE, "unhealthy: " .. tostring(cerr) .. "\n", head)
    end
    return
  end
  local ok, body = pcall(document, s, path, okc, cerr)
  if not ok then
    respond(client, 500, TEXT_TYPE, "error: " .. tostring(body) .. "\n", head)
  else
    respond(client, 200, path == "/metrics" and PROMETHEUS_TYPE or "application/json", body, head)
  end
end

-- Accepts and answers clients one at a time until SIGINT or SIGTERM; returns the signal's name.
local function serve_until_signal(s)
  while true do
    s.socket.select({ s.server, s.sigs }, nil, 5)
    local caught = s.sigs:caught()
    if caught then return caught end
    local client = s.server:accept()
    if client then
      local okh, herr = pcall(handle, s, client)
      client:close()
      if not okh then io.stderr:write("quarry serve: ", tostring(herr), "\n") end
    end
  end
end

function M.run(argv)
  local args, status = cli.parse(parser(), argv)
  if not args then return status end
  local host, port = parse_listen(args.listen)
  if not host then
    io.stderr:write("quarry serve: --listen expects HOST:PORT, got '", args.listen, "'\n")
    return cli.EXIT_USAGE
  end

  local quarry = require("quarry")
  local report = require("quarry.cli.metrics.report")
  local s = { socket = require("socket"), report = report, json = require("quarry.json"), clock = quarry.clock,
    popts = { namespace = args.namespace, labels = report.parse_labels(args.label) } }
  s.h = report.open(args.db, args.secondary_path)
  -- Check the namespace and labels once, before serving anything.
  local okp, perr = pcall(s.h.db.prometheus, s.h.db, s.popts)
  if not okp then
    s.h.close()
    io.stderr:write("quarry serve: ", tostring(quarry.is_error(perr) and perr.message or perr), "\n")
    return cli.EXIT_USAGE
  end
  local berr
  s.server, berr = s.socket.bind(host, port)
  if not s.server then
    s.h.close()
    error(("cannot listen on %s: %s"):format(args.listen, berr), 0)
  end
  s.server:settimeout(0)
  s.sigs = require("quarry.sys").catch_signals({ "INT", "TERM" })
  s.started = s.clock()
  local bound_host, bound_port = s.server:getsockname()
  io.stdout:write(("quarry serve: %s on http://%s:%d/metrics\n"):format(args.db, bound_host,
    bound_port))
  io.stdout:flush()

  local ok, stopped_by = pcall(serve_until_signal, s)
  s.server:close()
  s.sigs:close()
  s.h.close()
  if not ok then error(stopped_by, 0) end
  io.stderr:write(("quarry serve: stopped (SIG%s)\n"):format(stopped_by))
  return cli.EXIT_OK
end

return M
