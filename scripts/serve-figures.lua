-- serve-figures.lua: measures the figures quoted in docs/metrics.md (`quarry serve`, Limits) against
-- a running `quarry serve` on 127.0.0.1: scrapes beside a slowloris client (one header line a
-- second) and their slowest time, when the slow client is answered, then the server's VmRSS
-- before and after one client sends a request line of MB megabytes. A measurement, not a test.
--
-- Usage: build/quarry serve --db DIR --listen 127.0.0.1:PORT &
--        lua5.4 scripts/serve-figures.lua PORT PID [MB]   (MB default 200)
local socket = require("socket")

local port, pid, mb = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3] or 200)
assert(port and pid, "usage: lua5.4 scripts/serve-figures.lua PORT PID [MB]")

local function rss_kib()
  local f = assert(io.open(("/proc/%d/status"):format(pid)))
  local kib = tonumber(f:read("a"):match("VmRSS:%s*(%d+) kB"))
  f:close()
  return kib
end

local function connect()
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(60)
  return c
end

-- One whole scrape of /metrics: its status line and the seconds it took.
local function scrape()
  local t = socket.gettime()
  local c = connect()
  c:send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
  local data, _, partial = c:receive("*a")
  c:close()
  return ((data or partial):match("^[^\r]*")), socket.gettime() - t
end

scrape() -- warm
local slow = connect()
local started = socket.gettime()
slow:send("GET /metrics HTTP/1.1\r\n")
local worst = 0
for i = 1, 4 do
  slow:send(("X-Slow-%d: 1\r\n"):format(i))
  local status, secs = scrape()
  assert(status == "HTTP/1.1 200 OK", status)
  worst = math.max(worst, secs)
  socket.sleep(1)
end
local answer = slow:receive("*l")
print(("slowloris, a header line a second: 4 scrapes answered 200, the slowest in %.3f s; the slow "
  .. "client got '%s' after %.1f s"):format(worst, answer, socket.gettime() - started))
slow:close()

local before = rss_kib()
local big = connect()
big:send("GET /")
local chunk, sent = ("a"):rep(1 << 20), 0
for _ = 1, mb do
  if not big:send(chunk) then break end
  sent = sent + 1
end
answer = big:receive("*l")
big:close()
print(("a %d MB request line: '%s' after %d MiB sent; VmRSS %d -> %d kB"):format(mb, answer, sent,
  before, rss_kib()))
