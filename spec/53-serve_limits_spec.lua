-- 53-serve_limits: the request-head parser of `quarry serve` on its own (quarry.cli.metrics.http,
-- table-driven, every case fed whole, split at every byte boundary and byte by byte: the answer
-- must not depend on how the bytes arrive), then the server's limits over real sockets on
-- 127.0.0.1: a slowloris client does not delay another scrape, 414 with the server's RSS bounded
-- after 20 MB of request line, 431, 503 beyond --max-connections, 408 at the deadline.
local helpers = require("spec.helpers")
local quarry = require("quarry")
local http = require("quarry.cli.metrics.http")
local socket = require("socket")

local BIN = helpers.quarry_bin
local q = helpers.shell_quote

-- The parser's answer to bytes fed in the pieces given, as a comparable table.
local function outcome(limits, pieces)
  local p = http.parser(limits)
  local req, status, why
  for _, piece in ipairs(pieces) do
    req, status, why = p:feed(piece)
    if req ~= nil then break end
  end
  if req == nil then return { more = true } end
  if req == false then return { status = status, why = why } end
  return { method = req.method, target = req.target, version = req.version, headers = req.headers,
    header_count = req.header_count }
end

local function splits(bytes)
  local out = { { bytes } }
  for k = 1, #bytes - 1 do out[#out + 1] = { bytes:sub(1, k), bytes:sub(k + 1) } end
  local each = {}
  for i = 1, #bytes do each[i] = bytes:sub(i, i) end
  if #each > 1 then out[#out + 1] = each end
  return out
end

local SMALL = { max_request_line = 24, max_header_bytes = 40, max_headers = 3 }

-- bytes, limits, expected (a request's fields, "more", or a status)
local CASES = {
  { "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", nil,
    { method = "GET", target = "/metrics", version = "1.1", headers = { host = "a" }, header_count = 1 } },
  { "HEAD /status?x=1 HTTP/1.0\n\n", nil,
    { method = "HEAD", target = "/status?x=1", version = "1.0", headers = {}, header_count = 0 } },
  { "GET / HTTP/1.1\r\nX-A:  1 \r\nx-a:2\r\nAccept:\t*/*\r\n\r\nbody ignored", nil,
    { method = "GET", target = "/", version = "1.1", headers = { ["x-a"] = "1, 2", accept = "*/*" },
      header_count = 3 } },
  { "GET /metrics HTTP/1.1\r\nHost: a\r\n", nil, "more" },
  { "GET /metr", nil, "more" },
  { "", nil, "more" },
  { "\r\n", nil, 400 },
  { "GET /metrics\r\n\r\n", nil, 400 },
  { "GET  /metrics HTTP/1.1\r\n\r\n", nil, 400 },
  { "GET /metrics HTTP/2.0\r\n\r\n", nil, 400 },
  { "G(T / HTTP/1.1\r\n\r\n", nil, 400 },
  { "GET /a\rb HTTP/1.1\r\n\r\n", nil, 400 },
  { "GET / HTTP/1.1\r\nNo colon\r\n\r\n", nil, 400 },
  { "GET / HTTP/1.1\r\nBad name: x\r\n\r\n", nil, 400 },
  { "GET / HTTP/1.1\r\n folded: x\r\n\r\n", nil, 400 },
  { "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", nil, 400 },
  { "GET / HTTP/1.1\r\nA: \0\r\n\r\n", nil, 400 },
  -- the request line: 24 bytes fit (CRLF or LF after them), 25 do not
  { "GET /" .. ("a"):rep(10) .. " HTTP/1.1\r\n\r\n", SMALL,
    { method = "GET", target = "/" .. ("a"):rep(10), version = "1.1", headers = {}, header_count = 0 } },
  { "GET /" .. ("a"):rep(11) .. " HTTP/1.1\r\n\r\n", SMALL, 414 },
  { "GET /" .. ("a"):rep(11) .. " HTTP/1.1\n\n", SMALL, 414 },
  { "GET /" .. ("a"):rep(100), SMALL, 414 },
  { ("x"):rep(25) .. "\r", SMALL, 414 },
  { ("x"):rep(24) .. "\r", SMALL, "more" },
  { ("x"):rep(30) .. "\r\n", SMALL, 414 },
  -- headers: 40 bytes with the final empty line fit, 41 do not; 3 lines fit, 4 do not
  { "GET / HTTP/1.1\r\nA: " .. ("v"):rep(33) .. "\r\n\r\n", SMALL,
    { method = "GET", target = "/", version = "1.1", headers = { a = ("v"):rep(33) }, header_count = 1 } },
  { "GET / HTTP/1.1\r\nA: " .. ("v"):rep(34) .. "\r\n\r\n", SMALL, 431 },
  { "GET / HTTP/1.1\r\nA: " .. ("v"):rep(100), SMALL, 431 },
  { "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", SMALL,
    { method = "GET", target = "/", version = "1.1", headers = { a = "1", b = "2", c = "3" }, header_count = 3 } },
  { "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", SMALL, 431 },
  { "GET / HTTP/1.1\r\nA:1\r\nB:2\r\nC:3\r\nbad\r\n\r\n", SMALL, 431 },
  { "GET / HTTP/1.1\r\nbad\r\n" .. ("v"):rep(50), SMALL, 400 },
  { "GET / HTTP/1.1\r\n" .. ("v"):rep(50) .. "\r\n", SMALL, 431 },
}

describe("quarry.cli.metrics.http", function()
  after_each(helpers.collect_and_cleanup)

  it("gives the same answer however the bytes are split", function()
    for i, case in ipairs(CASES) do
      local bytes, limits, expected = case[1], case[2], case[3]
      local want = expected
      if expected == "more" then want = { more = true }
      elseif type(expected) == "number" then want = nil end
      for _, pieces in ipairs(splits(bytes)) do
        local got = outcome(limits, pieces)
        local where = ("case %d %q in %d pieces (first %d bytes)"):format(i, bytes, #pieces, #pieces[1])
        if want then
          assert.are.same(want, got, where)
        else
          assert.are.equal(expected, got.status, where .. ": " .. tostring(got.why))
        end
      end
    end
  end)

  it("keeps answering the same once finished, and never asks for more than its limits", function()
    local p = http.parser(SMALL)
    assert.are.equal(26, p:want()) -- 24 bytes, CR, LF
    assert.is_nil(p:feed("GET / HTTP/1.1\r\n"))
    assert.are.equal(41, p:want())
    assert.is_nil(p:feed("A: 1\r\n"))
    assert.are.equal(35, p:want())
    local req = p:feed("\r\nGET /next HTTP/1.1\r\n\r\n")
    assert.are.equal("/", req.target)
    assert.are.equal(req, p:feed("more"))
    p = http.parser(SMALL)
    local ok, status = p:feed(("x"):rep(26))
    assert.are.same({ false, 414 }, { ok, status })
    ok, status = p:feed("\r\n\r\n")
    assert.are.same({ false, 414 }, { ok, status })
  end)

  it("writes responses with a length and Connection: close", function()
    assert.are.equal("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
      .. "Content-Length: 3\r\nCache-Control: no-store\r\nConnection: close\r\nX: y\r\n\r\nno\n",
      http.response(431, "text/plain", "no\n", false, { "X: y" }))
    assert.matches("\r\n\r\n$", http.response(200, "text/plain", "body", true))
  end)
end)

-- Starts `quarry serve` on a small database; returns {pid, port, finish = fn -> ok, stderr}.
local function start_serve(extra)
  local dir = helpers.tmpdir("serve-limits")
  local path, errfile = dir .. "/db", dir .. "/stderr"
  local db = quarry.open(path)
  db:put("k", "v")
  db:close()
  local cmd = ("sh -c 'echo $$; exec \"$0\" \"$@\"' %s serve --db %s --listen 127.0.0.1:0 %s 2>%s")
    :format(q(BIN), q(path), extra or "", q(errfile))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  local line = p:read("l")
  assert(line, "quarry serve did not start: " .. (helpers.read_file(errfile) or ""))
  local s = { pid = pid, port = assert(tonumber(line:match("http://127%.0%.0%.1:(%d+)/metrics")), line) }
  finally(function() os.execute("kill " .. pid .. " 2>/dev/null") end)
  function s.finish()
    p:read("a")
    local ok = p:close()
    return ok == true, helpers.read_file(errfile) or ""
  end
  return s
end

-- A client socket connected to the server, blocking with a generous timeout.
local function connect(s)
  local c = assert(socket.connect("127.0.0.1", s.port))
  c:settimeout(30)
  return c
end

-- Sends bytes (ignoring a refused send: the server may answer and stop reading first), then reads
-- the whole response; returns its status code and the response.
local function exchange(c, bytes)
  if bytes then c:send(bytes) end
  local data, _, partial = c:receive("*a")
  c:close()
  local text = data or partial or ""
  return tonumber(text:match("^HTTP/1%.1 (%d%d%d) ")), text
end

local function scrape(s, path)
  return exchange(connect(s), ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"):format(path or "/metrics"))
end

-- True when client c has received nothing yet (its request is still being read).
local function no_answer_yet(c)
  c:settimeout(0)
  local data, err, partial = c:receive(1)
  c:settimeout(30)
  return data == nil and err == "timeout" and partial == ""
end

local function rss_kib(pid)
  local status = assert(helpers.read_file(("/proc/%d/status"):format(pid)))
  return tonumber(status:match("VmRSS:%s*(%d+) kB"))
end

describe("quarry serve limits", function()
  after_each(helpers.collect_and_cleanup)

  it("serves other clients while a slowloris client sends one header line a second", function()
    local s = start_serve("--request-timeout 4")
    local slow = connect(s)
    slow:send("GET /metrics HTTP/1.1\r\n")
    for i = 1, 3 do
      slow:send(("X-Slow-%d: 1\r\n"):format(i))
      -- another client's scrape is answered in full while the slow one is mid-headers
      local code, text = scrape(s)
      assert.are.equal(200, code, text)
      assert.matches("quarry_estimate_keys{cf=\"default\"} 1", text, 1, true)
      assert.are.equal(200, (scrape(s, "/health")))
      assert.is_true(no_answer_yet(slow), "the slow client was answered before its deadline")
      socket.sleep(1)
    end
    -- its deadline: the whole request had 4 s, whatever it kept sending
    local code, text = exchange(slow)
    assert.are.equal(408, code, text)
    assert.matches("no complete request within 4 s", text, 1, true)
    -- SIGTERM with a client connected mid-request: a clean stop
    local idle = connect(s)
    idle:send("GET /")
    assert(os.execute("kill -TERM " .. s.pid))
    local ok, err = s.finish()
    idle:close()
    assert(ok, err)
    assert.matches("stopped %(SIGTERM%)", err)
  end)

  it("answers 414 to a 20 MB request line and its memory stays bounded", function()
    local s = start_serve()
    assert.are.equal(200, (scrape(s))) -- warm: the first scrape loads what /metrics needs
    local before = rss_kib(s.pid)
    local c = connect(s)
    local chunk = ("a"):rep(1 << 20)
    c:send("GET /")
    for _ = 1, 20 do
      if not c:send(chunk) then break end -- the server answers, lingers a little, then closes
    end
    local code, text = exchange(c)
    local after = rss_kib(s.pid)
    assert.are.equal(414, code, text)
    assert.matches("request line over 8192 bytes", text, 1, true)
    -- 20 MB sent; the server may keep a few MiB (the linger's reads; ASan's allocator
    -- quarantine under the sanitizer build): well under what the line would cost if buffered
    assert.is_true(after - before < 8192, ("RSS grew from %d to %d KiB for a 20 MB line"):format(before, after))
    -- a request line at the limit is read in full (then 404: no such path)
    code, text = exchange(connect(s), "GET /" .. ("a"):rep(8192 - 15) .. " HTTP/1.1\r\n\r\n")
    assert.are.equal(404, code, text)
    assert.are.equal(200, (scrape(s)))
  end)

  it("answers 431 to too many header lines or header bytes, 400 to a malformed request", function()
    local s = start_serve("--max-headers 10 --max-header-bytes 2048")
    local many = { "GET /metrics HTTP/1.1\r\n" }
    for i = 1, 11 do many[#many + 1] = ("X-%d: v\r\n"):format(i) end
    local code, text = exchange(connect(s), table.concat(many) .. "\r\n")
    assert.are.equal(431, code, text)
    assert.matches("more than 10 header lines", text, 1, true)
    code, text = exchange(connect(s), "GET /metrics HTTP/1.1\r\nX: " .. ("v"):rep(2100) .. "\r\n\r\n")
    assert.are.equal(431, code, text)
    assert.matches("headers over 2048 bytes", text, 1, true)
    many[#many] = nil -- 10 lines: served
    assert.are.equal(200, (exchange(connect(s), table.concat(many) .. "\r\n")))
    code, text = exchange(connect(s), "GET /metrics\r\n\r\n")
    assert.are.equal(400, code, text)
    assert.matches("malformed request line", text, 1, true)
  end)

  it("answers 503 beyond --max-connections, and serves again once a place is free", function()
    local s = start_serve("--max-connections 2")
    local a, b = connect(s), connect(s)
    a:send("GET /metrics HTTP/1.1\r\n")
    b:send("GET /health HTTP/1.1\r\n")
    local code, text = scrape(s)
    assert.are.equal(503, code, text)
    assert.matches("2 connections open", text, 1, true)
    -- the two in the pool are served
    assert.are.equal(200, (exchange(a, "\r\n")))
    assert.are.equal(200, (exchange(b, "\r\n")))
    -- their places come back once they have closed (the server notices within a select turn)
    for _ = 1, 100 do
      code = scrape(s)
      if code == 200 then break end
      socket.sleep(0.05)
    end
    assert.are.equal(200, code)
  end)

  it("answers 408 at --request-timeout", function()
    local s = start_serve("--request-timeout 0.5")
    local c = connect(s)
    c:send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
    local code, text = exchange(c)
    assert.are.equal(408, code, text)
    assert.matches("no complete request within 0.5 s", text, 1, true)
    c = connect(s) -- nothing sent at all: 408 too
    assert.are.equal(408, (exchange(c)))
    assert.are.equal(200, (scrape(s)))
  end)

  it("refuses bad limits with exit status 2", function()
    local path = helpers.tmpdir("limits-args") .. "/db"
    quarry.open(path):close()
    for _, args in ipairs({ "--max-connections 0", "--max-connections 1001", "--max-request-line 1.5",
      "--max-header-bytes x", "--request-timeout 0", "--request-timeout -1" }) do
      local ok, _, code = os.execute(("%s serve --db %s --listen 127.0.0.1:0 %s >/dev/null 2>&1")
        :format(q(BIN), q(path), args))
      assert.is_nil(ok, args)
      assert.are.equal(2, code, args)
    end
  end)
end)
