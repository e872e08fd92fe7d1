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

function M.run(argv)
  local p = cli.parser("serve", M.summary .. ". The database is opened as a secondary (it never "
    .. "takes the lock) and catches up with the primary on each request.")
  p:option("--db", "The database directory"):count(1)
  p:option("--listen", "Address and port to listen on (port 0: any free port)", "127.0.0.1:9100")
  p:option("--namespace", "Prometheus metric name prefix", "quarry")
  p:option("--label", "A constant Prometheus label name=value (repeatable)"):count("*")
  p:option("--secondary-path", "Directory for the secondary instance's own files (default: a "
    .. "temporary directory removed at exit)")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local host, port = args.listen:match("^%[?([^%]]*)%]?:(%d+)$")
  port = tonumber(port)
  if not host or not port or port > 65535 then
    io.stderr:write("quarry serve: --listen expects HOST:PORT, got '", args.listen, "'\n")
    return cli.EXIT_USAGE
  end

  local quarry = require("quarry")
  local socket = require("socket")
  local report = require("quarry.cli.metrics.report")
  local json = require("quarry.json")
  local labels = report.parse_labels(args.label)
  local popts = { namespace = args.namespace, labels = labels }

  local h = report.open(args.db, args.secondary_path)
  -- Check the namespace and labels once, before serving anything.
  local okp, perr = pcall(h.db.prometheus, h.db, popts)
  if not okp then
    h.close()
    io.stderr:write("quarry serve: ", tostring(quarry.is_error(perr) and perr.message or perr), "\n")
    return cli.EXIT_USAGE
  end
  local server, berr = socket.bind(host, port)
  if not server then
    h.close()
    error(("cannot listen on %s: %s"):format(args.listen, berr), 0)
  end
  server:settimeout(0)
  local sigs = require("quarry.sys").catch_signals({ "INT", "TERM" })
  local started = socket.gettime()
  local bound_host, bound_port = server:getsockname()
  io.stdout:write(("quarry serve: %s on http://%s:%d/metrics\n"):format(args.db, bound_host,
    bound_port))
  io.stdout:flush()

  local function handle(client)
    client:settimeout(5)
    local method, target = read_request(client)
    if not method then
      respond(client, 400, "text/plain; charset=utf-8", "bad request\n")
      return
    end
    local path = target:match("^[^?#]*")
    if not ROUTES[path] then
      respond(client, 404, "text/plain; charset=utf-8", "not found: try /metrics, /status, /health\n",
        method == "HEAD")
      return
    end
    if method ~= "GET" and method ~= "HEAD" then
      respond(client, 405, "text/plain; charset=utf-8", "method not allowed\n", false,
        { "Allow: GET, HEAD" })
      return
    end
    local head = method == "HEAD"
    local okc, cerr = pcall(h.refresh)
    if path == "/health" then
      if okc then
        respond(client, 200, "text/plain; charset=utf-8", "ok\n", head)
      else
        respond(client, 503, "text/plain; charset=utf-8", "unhealthy: " .. tostring(cerr) .. "\n", head)
      end
      return
    end
    local ok, body = pcall(function()
      local chain = report.chain(h.db)
      if path == "/metrics" then return report.prometheus(h.db, chain, popts) end
      local doc = report.status(h.db:metrics(), chain, started, socket.gettime())
      doc.caught_up = okc
      if not okc then doc.error = tostring(cerr) end
      return json.encode(doc, { indent = true }) .. "\n"
    end)
    if not ok then
      respond(client, 500, "text/plain; charset=utf-8", "error: " .. tostring(body) .. "\n", head)
    elseif path == "/metrics" then
      respond(client, 200, PROMETHEUS_TYPE, body, head)
    else
      respond(client, 200, "application/json", body, head)
    end
  end

  local stopped_by
  local ok, err = pcall(function()
    while true do
      socket.select({ server, sigs }, nil, 5)
      stopped_by = sigs:caught()
      if stopped_by then break end
      local client = server:accept()
      if client then
        local okh, herr = pcall(handle, client)
        client:close()
        if not okh then io.stderr:write("quarry serve: ", tostring(herr), "\n") end
      end
    end
  end)
  server:close()
  sigs:close()
  h.close()
  if not ok then error(err, 0) end
  io.stderr:write(("quarry serve: stopped (SIG%s)\n"):format(stopped_by))
  return cli.EXIT_OK
end

return M
