-- quarry.cli.progress: the terminal progress line of the long commands (migrate, verify, export,
-- gen, compact, backup create, checkpoint, bench), and the test-only sleep of `quarry migrate`'s
-- hooks. The chain library never requires it: progress reaches quarry.chain.* as callbacks.
--
-- One line on stderr, redrawn in place ("\r", the text, clear to the end of the line "\27[K"),
-- never wider than the terminal (fields are dropped, then truncated, to fit), cleared at done();
-- nothing at all when stderr is not a terminal. M.format is a pure function of a state and a
-- width (spec/44 tests it without a terminal); M.bar draws it; M.during draws it from a helper
-- process while one blocking C call (a backup, a checkpoint) runs.
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

---------------------------------------------------------------------------------------------------
-- The terminal's width
---------------------------------------------------------------------------------------------------

local fallback = { at = -math.huge } -- stty/tput answer, re-asked at most once a second

-- The columns of stderr's terminal: $COLUMNS when it is a positive integer, else the terminal's
-- own size (quarry.sys.terminal_columns: one ioctl, read on every call, so a resized window is
-- followed), else `stty size` / `tput cols` on stderr, else 80.
function M.columns()
  local env = math.tointeger(tonumber(os.getenv("COLUMNS") or ""))
  if env and env > 0 then return env end
  local ok, sys = pcall(require, "quarry.sys")
  if ok and type(sys) == "table" and sys.terminal_columns then
    local c = sys.terminal_columns(2)
    if c and c > 0 then return c end
  end
  local now = clock()
  if now - fallback.at >= 1 then
    fallback.at = now
    local c
    local p = io.popen("stty size <&2 2>/dev/null")
    if p then
      c = math.tointeger(tonumber((p:read("a") or ""):match("^%s*%d+%s+(%d+)") or ""))
      p:close()
    end
    if not c then
      p = io.popen("tput cols 2>/dev/null")
      if p then
        c = math.tointeger(tonumber((p:read("a") or ""):match("^%s*(%d+)") or ""))
        p:close()
      end
    end
    fallback.value = c and c > 0 and c or nil
  end
  return fallback.value or 80
end

---------------------------------------------------------------------------------------------------
-- The line: a pure function of a state and a width
---------------------------------------------------------------------------------------------------

local SPINNER = { "|", "/", "-", "\\" }

-- Printable ASCII only (a family name or a path may hold anything): one byte, one column.
local function clean(s)
  return (tostring(s):gsub("[^\32-\126]", "?"))
end

local function count_text(state)
  if state.count == nil then return nil end
  local unit = state.unit and (" " .. state.unit) or ""
  if state.total then return ("%d/%d%s"):format(state.count, state.total, unit) end
  return ("%d%s"):format(state.count, unit)
end

--- The progress line for state at a terminal width: at most width - 1 columns (the last column
--- is left free: a line that fills it makes some terminals wrap), never a newline.
--- state: label, fraction (0..1; nil: indeterminate, a spinner), count, total, unit ("blocks"),
--- elapsed (seconds), bytes, detail (a family name, "1.2 MiB written"...), tick (the spinner's
--- step), rate (false: no count/s figure). Fields go, as the width shrinks: the ETA (or the
--- elapsed time), then MB/s, then the rate, then the count; then the bar narrows (to 10, then
--- none), and what is left is truncated (the detail, last, first).
function M.format(state, width)
  width = math.max(math.tointeger(width) or 80, 2)
  local avail = width - 1
  local elapsed = math.max(state.elapsed or 0, 1e-6)
  local fraction = state.fraction
  if fraction then fraction = math.max(0, math.min(fraction, 1)) end
  local f = {}
  f.label = clean(state.label or "")
  if fraction then f.pct = ("%5.1f%%"):format(fraction * 100) end
  f.count = count_text(state)
  if state.detail and state.detail ~= "" then f.detail = clean(state.detail) end
  if state.rate ~= false and state.count and state.count > 0 and state.elapsed and state.elapsed > 0 then
    f.rate = ("%.0f %s/s"):format(state.count / elapsed, state.unit or "items")
  end
  if state.bytes and state.bytes > 0 and state.elapsed and state.elapsed > 0 then
    f.mbps = ("%.1f MB/s"):format(state.bytes / elapsed / 1e6)
  end
  if fraction then
    local eta = fraction > 0 and state.elapsed and elapsed * (1 - fraction) / fraction or nil
    f.time = "ETA " .. format.duration(eta)
  elseif state.elapsed then
    f.time = format.duration(state.elapsed)
  end
  local spin = not fraction and SPINNER[(state.tick or 0) % #SPINNER + 1] or nil
  local ORDER = { "count", "detail", "rate", "mbps", "time" }
  local DROP = { "time", "mbps", "rate", "count" } -- then the detail is truncated

  local function join(bar_width)
    local parts = { f.label ~= "" and f.label or nil }
    if spin then parts[#parts + 1] = spin end
    if bar_width and bar_width > 0 then
      local fill = math.floor(fraction * bar_width + 0.5)
      parts[#parts + 1] = "[" .. string.rep("#", fill) .. string.rep("-", bar_width - fill) .. "]"
    end
    if f.pct then parts[#parts + 1] = f.pct end
    for _, k in ipairs(ORDER) do
      if f[k] then parts[#parts + 1] = f[k] end
    end
    return table.concat(parts, " ")
  end

  local line
  for i = 0, #DROP do
    if i > 0 then f[DROP[i]] = nil end
    local fixed = join(nil)
    if not fraction then
      line = fixed
      if #line <= avail then break end
    else
      local room = avail - #fixed - 3 -- " [" .. "]"
      if room >= 10 or i == #DROP then
        local bar = math.min(room, 30)
        line = bar >= 4 and join(bar) or fixed
        break
      end
    end
  end
  if #line > avail then line = line:sub(1, avail) end
  return line
end

---------------------------------------------------------------------------------------------------
-- The bar: draws M.format on stderr, at most every `every` seconds
---------------------------------------------------------------------------------------------------

--- A progress line on stderr:
---   bar = progress.bar({ label = "export", total = n, unit = "blocks" })
---   bar:update(fraction, count, bytes [, detail [, force]]); bar:done()
--- fraction nil: indeterminate (a spinner, the count and the elapsed time). It is redrawn at
--- most every options.every seconds (0.2) unless force; the width is read on each redraw.
--- Nothing is drawn when stderr is not a terminal (or when options.enabled is false).
--- QUARRY_TEST_PROGRESS_DELAY=<seconds> (specs only) sleeps that long after each redraw.
function M.bar(options)
  options = options or {}
  local enabled = options.enabled
  if enabled == nil then enabled = system.stderr_is_terminal() end
  local delay = options.test_delay ~= false and tonumber(os.getenv("QUARRY_TEST_PROGRESS_DELAY") or "")
  local self = { start = clock(), last = -math.huge, drawn = false, tick = 0, enabled = enabled,
    state = { label = options.label or "", total = options.total, unit = options.unit or "blocks",
      rate = options.rate } }
  function self.update(_, fraction, count, bytes, detail, force)
    if not enabled then return end
    local now = clock()
    if not force and now - self.last < (options.every or 0.2) then return end
    self.last = now
    local s = self.state
    s.fraction, s.count, s.bytes, s.elapsed = fraction, count, bytes, now - self.start
    if detail ~= nil then s.detail = detail end
    self.tick = self.tick + 1
    s.tick = self.tick
    io.stderr:write("\r", M.format(s, M.columns()), "\27[K")
    io.stderr:flush()
    self.drawn = true
    if delay then M.sleep(delay) end
  end
  function self.done()
    if enabled and self.drawn then
      io.stderr:write("\r\27[K")
      io.stderr:flush()
      self.drawn = false
    end
  end
  return self
end

---------------------------------------------------------------------------------------------------
-- During one blocking call: a helper process draws
---------------------------------------------------------------------------------------------------

-- The bytes under the paths (shell words: a glob may be left unquoted), by `du -sbc`; 0 if none.
local function du(words)
  local p = io.popen("du -sbc " .. words .. " 2>/dev/null | tail -n 1")
  if not p then return 0 end
  local n = tonumber((p:read("a") or ""):match("^(%d+)") or "")
  p:close()
  return n or 0
end
M.du = du

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return false end
  local s = f:read("a") or ""
  f:close()
  local state = s:match("%) (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

--- The helper's loop (run in a child process by M.during): redraws the line of `state` (a table
--- of M.format's fields) every half second, the elapsed time counted from `start` (the shared
--- monotonic clock, quarry.clock) and, when `words` is given, the bytes under it beyond `base`
--- in the detail, until the process `parent` is gone (or this one is killed).
function M.watch(parent, state, start, words, base, total)
  local bar = M.bar({ label = state.label, total = state.total, unit = state.unit,
    rate = state.rate, enabled = true, every = 0, test_delay = false })
  bar.start = start or bar.start
  local detail = state.detail
  while alive(parent) do
    local bytes
    if words then
      bytes = math.max(du(words) - (base or 0), 0)
      detail = (state.detail and state.detail .. ": " or "") .. format.bytes(bytes) .. " written"
      if total and total > 0 then detail = detail .. " (database " .. format.bytes(total) .. ")" end
    end
    if not alive(parent) then break end
    bar:update(state.fraction, state.count, bytes, detail, true)
    M.sleep(0.5)
  end
end

-- A Lua literal of a flat table of strings, numbers and booleans.
local function literal(t)
  local parts = {}
  for k, v in pairs(t) do
    local text
    if type(v) == "string" then text = ("%q"):format(v)
    elseif math.type(v) == "integer" then text = tostring(v)
    elseif type(v) == "number" then text = ("%.17g"):format(v)
    elseif type(v) == "boolean" then text = tostring(v) end
    if text and type(k) == "string" and k:match("^[%a_][%w_]*$") then
      parts[#parts + 1] = k .. "=" .. text
    end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- The interpreter running this process (the lowest negative index of arg: the words before
-- it are the interpreter's own options), or nil.
local function interpreter()
  if type(arg) ~= "table" then return nil end
  local i = -1
  while arg[i - 1] ~= nil do i = i - 1 end
  local interp = arg[i]
  if type(interp) ~= "string" or interp == "" then return nil end
  return interp
end

--- progress.during(options, fn, ...) -> fn(...)'s results (its error raised again, the line
--- cleared first). A C call that blocks for minutes (a backup, a checkpoint across
--- filesystems, the compaction of one family) cannot redraw from Lua, which has no threads; so
--- while fn runs a helper process (this interpreter, quarry.cli.progress.watch) redraws the line
--- of options.state (M.format's fields: label, fraction, count, total, unit, detail, rate) with
--- the time elapsed since options.start (default now) and, with options.measure (shell words
--- for du), the bytes written there so far beyond what was there before (options.total: the
--- database's size, shown beside them). Nothing when stderr is not a terminal (or options.enabled
--- is false). QUARRY_TEST_PROGRESS_DELAY=<seconds> (specs) sleeps that long before fn.
function M.during(options, fn, ...)
  local enabled = options.enabled
  if enabled == nil then enabled = system.stderr_is_terminal() end
  local interp = interpreter()
  if not enabled or not interp then return fn(...) end
  local sh = system.shell_quote
  local words = options.measure
  local base = words and du(words) or 0
  local chunk = ("require('quarry.cli.progress').watch(%d, %s, %.17g, %s, %d, %s)"):format(
    system.pid(), literal(options.state or {}), options.start or clock(),
    words and ("%q"):format(words) or "nil", base, math.tointeger(options.total) or "nil")
  local cmd = ("env LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s -e %s </dev/null >/dev/null & echo $!")
    :format(sh(package.path), sh(package.cpath), sh(interp), sh(chunk))
  local p = io.popen(cmd)
  local pid = p and math.tointeger(tonumber(p:read("l") or ""))
  if p then p:close() end
  local delay = tonumber(os.getenv("QUARRY_TEST_PROGRESS_DELAY") or "")
  if delay then M.sleep(delay) end
  local res = table.pack(pcall(fn, ...))
  if pid then
    os.execute("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do -- until it is gone: a late redraw would leave a stale line
      if not alive(pid) then break end
      M.sleep(0.01)
    end
  end
  if not options.keep then
    io.stderr:write("\r\27[K")
    io.stderr:flush()
  end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

return M
