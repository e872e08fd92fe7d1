-- quarry serve: metrics and status of a database over HTTP (lua-socket): GET /metrics (Prometheus
-- text), GET /status (JSON), GET /health. The database is opened as a secondary that catches up
-- with the primary on each request. Many clients at once in one thread (socket.select), each
-- bounded (request line, headers, deadline, a pool of connections); SIGINT/SIGTERM stop it
-- cleanly. docs/metrics.md.
local cli = require("quarry.cli")

local M = { summary = "metrics (/metrics), status (/status) and health (/health) over HTTP" }

local http = require("quarry.cli.metrics.http")

local PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
local TEXT_TYPE = "text/plain; charset=utf-8"

-- After its response, a connection's input is read and dropped for up to LINGER seconds (or up to
-- LINGER_BYTES) before the close: closing with unread input would reset the connection, and the
-- client could lose the response (an error answered before the whole request was read).
local LINGER, LINGER_BYTES = 1, 1 << 20
local READ_CHUNK = 16384

local ROUTES = { ["/metrics"] = true, ["/status"] = true, ["/health"] = true }

local function parser()
  local p = cli.parser("serve", M.summary .. ". The database is opened as a secondary (it never "
    .. "takes the lock) and catches up with the primary on each request.")
  p:option("--db", "The database directory"):count(1)
  p:option("--listen", "Address and port to listen on (port 0: any free port)", "127.0.0.1:9479")
  p:option("--namespace", "Prometheus metric name prefix", "quarry")
  p:option("--label", "A constant Prometheus label name=value (repeatable)"):count("*")
  p:option("--secondary-path", "Directory for the secondary instance's own files (default: a "
    .. "temporary directory removed at exit)")
  p:option("--max-connections", "Clients served at once; more get 503 (1..1000)", "16")
    :convert(tonumber)
  p:option("--max-request-line", "Longest request line in bytes; longer gets 414", "8192")
    :convert(tonumber)
  p:option("--max-header-bytes", "Most header bytes of a request; more get 431", "16384")
    :convert(tonumber)
  p:option("--max-headers", "Most header lines of a request; more get 431", "100")
    :convert(tonumber)
  p:option("--request-timeout", "Seconds a client has to send its request (then 408), and "
    .. "again to read the response", "5"):convert(tonumber)
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

-- The response to the request req (see quarry.cli.metrics.http): 404 (no such route), 405 (not GET
-- or HEAD), /health 200 or 503 (catch-up failed), /metrics and /status 200 or 500.
local function answer(s, req)
  local method, path = req.method, req.target:match("^[^?#]*")
  local head = method == "HEAD"
  if not ROUTES[path] then
    return http.response(404, TEXT_TYPE, "not found: try /metrics, /status, /health\n", head)
  end
  if method ~= "GET" and not head then
    return http.response(405, TEXT_TYPE, "method not allowed\n", false, { "Allow: GET, HEAD" })
  end
  local okc, cerr = pcall(s.h.refresh)
  if path == "/health" then
    if okc then return http.response(200, TEXT_TYPE, "ok\n", head) end
    return http.response(503, TEXT_TYPE, "unhealthy: " .. tostring(cerr) .. "\n", head)
  end
  local ok, body = pcall(document, s, path, okc, cerr)
  if not ok then return http.response(500, TEXT_TYPE, "error: " .. tostring(body) .. "\n", head) end
  return http.response(200, path == "/metrics" and PROMETHEUS_TYPE or "application/json", body, head)
end

-- ---- connections --------------------------------------------------------------------------------
-- Each client is a small state machine, driven by socket.select: "reading" (the request head, into
-- a parser bounded by the limits, before its deadline), "writing" (its response, as much as the
-- socket takes each time), "lingering" (input read and dropped after the response), then closed.

local function error_response(code, why)
  return http.response(code, TEXT_TYPE, (http.REASONS[code] or "error"):lower() .. ": " .. why .. "\n")
end

-- Queues bytes for client c and moves it to "writing", with a new deadline.
local function reply(s, c, bytes)
  c.state, c.out, c.sent, c.deadline = "writing", bytes, 0, s.clock() + s.limits.request_timeout
  c.parser = nil
end

local function close_client(s, c)
  c.sock:close()
  s.clients[c.sock] = nil
  if not c.rejected then s.active = s.active - 1 end
end

-- Reads what client c has sent (no more than its parser can take) and answers a complete or
-- refused request head.
local function on_readable(s, c)
  if c.state == "lingering" then
    local data, err, partial = c.sock:receive(READ_CHUNK)
    c.drained = c.drained + #(data or partial or "")
    if err == "closed" or (err and err ~= "timeout") or c.drained > LINGER_BYTES then close_client(s, c) end
    return
  end
  if c.state ~= "reading" then return end
  local data, err, partial = c.sock:receive(math.min(c.parser:want(), READ_CHUNK))
  data = data or partial
  local req, status, why
  if data and #data > 0 then req, status, why = c.parser:feed(data) end
  if req then
    local okh, bytes = pcall(answer, s, req)
    if not okh then
      io.stderr:write("quarry serve: ", tostring(bytes), "\n")
      bytes = error_response(500, tostring(bytes))
    end
    reply(s, c, bytes)
  elseif req == false then
    reply(s, c, error_response(status, why))
  elseif err and err ~= "timeout" then -- gone before its request was complete
    close_client(s, c)
  end
end

-- Writes what the socket of client c takes; once all is written, shuts the sending side and lingers.
local function on_writable(s, c)
  if c.state ~= "writing" then return end
  local last, err, partial = c.sock:send(c.out, c.sent + 1)
  last = last or partial
  if last then c.sent = last end
  if c.sent >= #c.out then
    c.sock:shutdown("send")
    c.state, c.out, c.drained, c.deadline = "lingering", nil, 0, s.clock() + LINGER
  elseif err and err ~= "timeout" then
    close_client(s, c)
  end
end

-- Past its deadline: a request still incomplete gets 408; a response not taken, or a linger
-- done, closes.
local function on_deadline(s, c)
  if c.state == "reading" then
    reply(s, c, error_response(408, ("no complete request within %g s"):format(s.limits.request_timeout)))
  else
    close_client(s, c)
  end
end

-- Accepts every waiting client: into the pool while it has room, else answered 503 (and closed
-- after a linger, at most as many of those at once as the pool holds, the others closed at once).
local function accept_all(s)
  while true do
    local sock = s.server:accept()
    if not sock then return end
    sock:settimeout(0)
    local c = { sock = sock, state = "reading", deadline = s.clock() + s.limits.request_timeout,
      parser = http.parser(s.limits) }
    if s.active < s.limits.max_connections then
      s.active = s.active + 1
      s.clients[sock] = c
    elseif s.rejected < s.limits.max_connections then
      c.rejected = true
      s.rejected = s.rejected + 1
      s.clients[sock] = c
      reply(s, c, error_response(503, ("%d connections open, try again later")
        :format(s.limits.max_connections)))
    else
      sock:close()
    end
  end
end

-- One turn of the loop: waits for a signal, a new client, a readable or writable client or the
-- nearest deadline, then handles each. Returns the caught signal's name, if any.
local function turn(s)
  local recvt, sendt = { s.sigs, s.server }, {}
  local now, nearest = s.clock(), 5
  s.rejected = 0
  for sock, c in pairs(s.clients) do
    if c.rejected then s.rejected = s.rejected + 1 end
    if c.state == "writing" then sendt[#sendt + 1] = sock else recvt[#recvt + 1] = sock end
    nearest = math.min(nearest, math.max(0, c.deadline - now))
  end
  local readable, writable = s.socket.select(recvt, sendt, nearest)
  local caught = s.sigs:caught()
  if caught then return caught end
  for _, sock in ipairs(readable) do
    local c = s.clients[sock]
    if c then on_readable(s, c) end
  end
  for _, sock in ipairs(writable) do
    local c = s.clients[sock]
    if c then on_writable(s, c) end
  end
  now = s.clock()
  for _, c in pairs(s.clients) do
    if s.clients[c.sock] and c.deadline <= now then on_deadline(s, c) end
  end
  if readable[s.server] then accept_all(s) end
  return nil
end

-- Serves clients until SIGINT or SIGTERM; returns the signal's name. Closes every client.
local function serve_until_signal(s)
  s.clients, s.active = {}, 0
  local ok, caught = pcall(function()
    while true do
      local sig = turn(s)
      if sig then return sig end
    end
  end)
  for sock in pairs(s.clients) do sock:close() end
  s.clients = {}
  if not ok then error(caught, 0) end
  return caught
end

-- The limits of args, checked: a table for quarry.cli.metrics.http and the loop, or nil, message.
local function limits_of(args)
  local l = { max_connections = args.max_connections, max_request_line = args.max_request_line,
    max_header_bytes = args.max_header_bytes, max_headers = args.max_headers,
    request_timeout = args.request_timeout }
  local function integer(name, lo, hi)
    local v = l[name]
    if not v or v ~= math.floor(v) or v < lo or v > hi then
      return ("--%s expects an integer from %d to %d"):format(name:gsub("_", "-"), lo, hi)
    end
  end
  local err = integer("max_connections", 1, 1000) or integer("max_request_line", 16, 1 << 30)
    or integer("max_header_bytes", 2, 1 << 30) or integer("max_headers", 0, 1 << 20)
  if err then return nil, err end
  if not l.request_timeout or l.request_timeout <= 0 or l.request_timeout > 86400 then
    return nil, "--request-timeout expects seconds, more than 0 and at most 86400"
  end
  for k, v in pairs(l) do l[k] = math.tointeger(v) or v end
  return l
end

function M.run(argv)
  local args, status = cli.parse(parser(), argv)
  if not args then return status end
  local limits, lerr = limits_of(args)
  if not limits then
    io.stderr:write("quarry serve: ", lerr, "\n")
    return cli.EXIT_USAGE
  end
  local host, port = parse_listen(args.listen)
  if not host then
    io.stderr:write("quarry serve: --listen expects HOST:PORT, got '", args.listen, "'\n")
    return cli.EXIT_USAGE
  end

  local quarry = require("quarry")
  local report = require("quarry.cli.metrics.report")
  local s = { socket = require("socket"), report = report, limits = limits, json = require("quarry.json"), clock = quarry.clock,
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
  io.stdout:write(("quarry serve: %s on http://%s:%d/metrics\n"):format(
    require("quarry.cli.system").display_path(args.db), bound_host,
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
