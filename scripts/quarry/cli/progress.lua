-- quarry.cli.progress: the terminal progress bar of the chain tools (migrate, verify), and the
-- test-only sleep of `quarry migrate`'s hooks. The chain library never requires it: progress
-- reaches quarry.chain.migrate as a callback.
local format = require("quarry.cli.format")
local system = require("quarry.cli.system")
local clock = require("quarry").clock

local M = {}

-- Seconds on the engine's monotonic clock (quarry.clock): only differences mean anything.
M.now = clock

-- Sleeps for s seconds. A test hook only: `quarry migrate` sleeps this long after each block
-- when QUARRY_TEST_DELAY=<seconds> is set (spec/21 uses it to catch a migration mid-way).
function M.sleep(s)
  local ok, socket = pcall(require, "socket")
  if ok and socket.sleep then return socket.sleep(s) end
  os.execute(("sleep %.3f"):format(s))
end

-- A progress bar on stderr, redrawn at most every `every` seconds:
--   bar = progress.bar({ label = "migrate" }); bar:update(fraction, blocks, bytes); bar:done()
-- Does nothing when stderr is not a terminal (or when enabled = false).
function M.bar(options)
  options = options or {}
  local enabled = options.enabled
  if enabled == nil then enabled = system.stderr_is_terminal() end
  local self = { start = clock(), last = 0, label = options.label or "", drawn = false }
  function self.update(_, fraction, blocks, bytes)
    if not enabled then return end
    local now = clock()
    if now - self.last < (options.every or 0.2) then return end
    self.last = now
    local elapsed = math.max(now - self.start, 1e-6)
    if fraction == nil then -- a stream: how much is left is not known; counts and rates only
      io.stderr:write(("\r%s %d blocks  %.0f blocks/s  %.1f MB  %.1f MB/s \27[K"):format(self.label,
        blocks, blocks / elapsed, (bytes or 0) / 1e6, (bytes or 0) / elapsed / 1e6))
      io.stderr:flush()
      self.drawn = true
      return
    end
    fraction = math.max(0, math.min(fraction or 0, 1))
    local width = 24
    local fill = math.floor(fraction * width + 0.5)
    local eta = fraction > 0 and elapsed * (1 - fraction) / fraction or nil
    io.stderr:write(("\r%s [%s%s] %5.1f%%  %d blocks  %.0f blocks/s  %.1f MB/s  ETA %s \27[K")
      :format(self.label, string.rep("#", fill), string.rep("-", width - fill), fraction * 100,
        blocks, blocks / elapsed, (bytes or 0) / elapsed / 1e6, format.duration(eta)))
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
