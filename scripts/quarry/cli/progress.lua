-- quarry.cli.progress: wall clock, peak memory, sizes and the terminal progress bar shared by
-- the chain tools (migrate, verify, export, bench).
local M = {}

-- Wall-clock seconds with sub-second resolution where a clock module is installed.
local gettime
do
  local ok, socket = pcall(require, "socket")
  if ok and socket.gettime then
    gettime = socket.gettime
  else
    local oks, system = pcall(require, "system")
    if oks and system.gettime then gettime = system.gettime else gettime = os.time end
  end
end
M.now = gettime

-- Sleeps for s seconds (test hooks only).
function M.sleep(s)
  local ok, socket = pcall(require, "socket")
  if ok and socket.sleep then return socket.sleep(s) end
  os.execute(("sleep %.3f"):format(s))
end

-- Peak resident memory of this process in bytes (VmHWM), or nil.
function M.peak_rss()
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local kb = s:match("VmHWM:%s*(%d+)%s*kB")
  return kb and tonumber(kb) * 1024 or nil
end

-- This process's id.
function M.pid()
  return require("quarry.sys").pid()
end

function M.file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

-- Is stderr a terminal worth drawing on?
function M.stderr_is_terminal()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  return os.execute("test -t 2") == true
end

function M.bytes(n)
  if n == nil then return "?" end
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i, x = 1, n
  while x >= 1024 and i < #units do x, i = x / 1024, i + 1 end
  if i == 1 then return ("%d B"):format(n) end
  return ("%.1f %s"):format(x, units[i])
end

function M.duration(s)
  if s == nil or s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(s // 3600, s % 3600 // 60, s % 60) end
  return ("%d:%02d"):format(s // 60, s % 60)
end

-- A progress bar on stderr, redrawn at most every `every` seconds:
--   bar = progress.bar({ label = "migrate" }); bar:update(fraction, blocks, bytes); bar:done()
-- Does nothing when stderr is not a terminal (or when enabled = false).
function M.bar(options)
  options = options or {}
  local enabled = options.enabled
  if enabled == nil then enabled = M.stderr_is_terminal() end
  local self = { start = gettime(), last = 0, label = options.label or "", drawn = false }
  function self.update(_, fraction, blocks, bytes)
    if not enabled then return end
    local now = gettime()
    if now - self.last < (options.every or 0.2) then return end
    self.last = now
    local elapsed = math.max(now - self.start, 1e-6)
    fraction = math.max(0, math.min(fraction or 0, 1))
    local width = 24
    local fill = math.floor(fraction * width + 0.5)
    local eta = fraction > 0 and elapsed * (1 - fraction) / fraction or nil
    io.stderr:write(("\r%s [%s%s] %5.1f%%  %d blocks  %.0f blocks/s  %.1f MB/s  ETA %s \27[K")
      :format(self.label, string.rep("#", fill), string.rep("-", width - fill), fraction * 100,
        blocks, blocks / elapsed, (bytes or 0) / elapsed / 1e6, M.duration(eta)))
    io.stderr:flush()
    self.drawn = true
  end
  function self.done()
    if enabled and self.drawn then
      io.stderr:write("\r\27[K")
      io.stderr:flush()
    end
  end
  return self
end

return M
