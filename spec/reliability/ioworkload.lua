-- spec/reliability/ioworkload.lua: the scripted workload of the I/O-error sweep, and its checker.
--   lua5.4 spec/reliability/ioworkload.lua run DB ACKFILE
-- runs the steps below against DB (normally under spec/reliability/shim_fail.c, which fails the Nth
-- file-system call); after each step that returned it appends "A <step>" to ACKFILE, before each
-- step "T <step>". Every failure must be a quarry error with code IOError or NoSpace (exit 3
-- otherwise); after the first one the handle must refuse writes with the same code, saying
-- "close and reopen". M.verify(db_dir, ackfile) then checks the reopened database (no shim):
-- every acknowledged put present with its exact value, every acknowledged delete applied, and
-- no key or value that no step wrote.
local M = {}

local FAMILIES = { "a", "b" }

local function value(i, len) -- deterministic bytes, NUL and non-UTF-8 included
  local seed = ("%06d|\0\255|"):format(i)
  return seed:rep(len // #seed + 1):sub(1, len)
end

-- The steps: {kind, family, key, value} (put), {kind="del"...}, {kind="range", from, to},
-- {kind="flush"}, {kind="compact"}, {kind="batch", ops={...}}, {kind="close"}, {kind="open"}.
local function build_steps()
  local s = {}
  local function put(cf, i, len) s[#s + 1] = { kind = "put", cf = cf, key = ("k%05d"):format(i), value = value(i, len) } end
  s[#s + 1] = { kind = "open" }
  for i = 1, 30 do put("default", i, 50 + (i * 97) % 3000) end
  local b = {}
  for i = 31, 36 do
    b[#b + 1] = { cf = FAMILIES[i % 2 + 1], key = ("k%05d"):format(i), value = value(i, 200) }
  end
  s[#s + 1] = { kind = "batch", ops = b }
  s[#s + 1] = { kind = "flush" }
  for i = 37, 186 do put("a", i, 8000) end -- past the 1 MiB memtable: a background flush
  s[#s + 1] = { kind = "del", cf = "default", key = "k00001" }
  s[#s + 1] = { kind = "del", cf = "default", key = "k00002" }
  s[#s + 1] = { kind = "range", cf = "default", from = "k00010", to = "k00015" }
  s[#s + 1] = { kind = "compact" }
  s[#s + 1] = { kind = "close" }
  s[#s + 1] = { kind = "open" }
  for i = 187, 200 do put("b", i, 1000) end
  s[#s + 1] = { kind = "close" }
  return s
end
M.steps = build_steps()

local function open(quarry, dir)
  return quarry.open(dir, { column_families = FAMILIES, write_buffer_mb = 1, sync = true,
    env = false, max_background_jobs = 2 })
end
M.open = open

-- Runs the workload; returns an exit code (0 clean, 3 an unclear error).
function M.run(dir, ackfile)
  local quarry = require("quarry")
  local ack = assert(io.open(ackfile, "w"))
  local db, failed_code
  local function note(s) ack:write(s, "\n"); ack:flush() end
  local function cf(name) return name == "default" and db or db:cf(name) end
  local function step(st)
    if st.kind == "open" then db = open(quarry, dir)
    elseif st.kind == "close" then local d = db; db = nil; d:close()
    elseif st.kind == "put" then cf(st.cf):put(st.key, st.value)
    elseif st.kind == "del" then cf(st.cf):delete(st.key)
    elseif st.kind == "range" then cf(st.cf):delete_range(st.from, st.to)
    elseif st.kind == "flush" then db:flush()
    elseif st.kind == "compact" then db:compact()
    elseif st.kind == "batch" then
      db:write(function(b)
        for _, o in ipairs(st.ops) do b:put(db:cf(o.cf), o.key, o.value) end
      end)
    end
  end
  for i, st in ipairs(M.steps) do
    if failed_code and st.kind ~= "close" and st.kind ~= "open" then
      -- the failed handle must refuse every further write with the same code
      local ok, e = pcall(db.put, db, "after-failure", "x")
      if ok or not quarry.is_error(e) or e.code ~= failed_code or
          not tostring(e.message):find("close and reopen", 1, true) then
        print(("UNCLEAR after-failure write: %s"):format(ok and "succeeded" or tostring(e)))
        return 3
      end
      break
    end
    note("T " .. i)
    local ok, e = pcall(step, st)
    if ok then
      note("A " .. i)
    else
      if not quarry.is_error(e) or (e.code ~= "IOError" and e.code ~= "NoSpace") then
        print(("UNCLEAR step %d (%s): %s"):format(i, st.kind, tostring(e)))
        return 3
      end
      print(("error at step %d (%s): %s %s"):format(i, st.kind, e.code, e.message))
      if st.kind == "open" then break end
      failed_code = e.code
      if st.kind == "close" then break end
    end
  end
  if db then
    local ok, e = pcall(db.close, db)
    if not ok and not (quarry.is_error(e) and (e.code == "IOError" or e.code == "NoSpace")) then
      print("UNCLEAR close: " .. tostring(e))
      return 3
    end
  end
  ack:close()
  return 0
end

-- Checks dir against the acknowledgements. Returns {lost=, altered=, unexpected=, open_error=,
-- acked=} (counts) and a list of messages.
function M.verify(dir, ackfile)
  local quarry = require("quarry")
  local acked, tried = {}, {}
  local f = io.open(ackfile, "r")
  if f then
    for kind, i in f:read("a"):gmatch("(%a) (%d+)") do
      if kind == "A" then acked[tonumber(i)] = true else tried[tonumber(i)] = true end
    end
    f:close()
  end
  local r = { lost = 0, altered = 0, unexpected = 0, acked = 0, open_error = false }
  local msgs = {}
  -- Per key: the allowed values (nil = absent) given what was acknowledged or merely tried.
  local state = {} -- key -> {must = value|false|nil, may = {value=true}, absent_ok}
  local function key(cf, k) return cf .. "\0" .. k end
  for i, st in ipairs(M.steps) do
    if tried[i] then
      local ops = {}
      if st.kind == "put" then ops = { st }
      elseif st.kind == "batch" then ops = st.ops
      elseif st.kind == "del" then ops = { { cf = st.cf, key = st.key, del = true } }
      elseif st.kind == "range" then
        for n = tonumber(st.from:sub(2)), tonumber(st.to:sub(2)) - 1 do
          ops[#ops + 1] = { cf = st.cf, key = ("k%05d"):format(n), del = true }
        end
      end
      for _, o in ipairs(ops) do
        local k = key(o.cf, o.key)
        local s = state[k] or { may = {}, absent_ok = true }
        state[k] = s
        if acked[i] then
          s.may = {}
          if o.del then s.absent_ok = true else s.may[o.value] = true; s.absent_ok = false end
        else
          if o.del then s.absent_ok = true else s.may[o.value] = true end
        end
      end
      if acked[i] then r.acked = r.acked + 1 end
    end
  end
  local ok, db = pcall(open, quarry, dir)
  if not ok then
    r.open_error = tostring(db)
    return r, { "reopen failed: " .. tostring(db) }
  end
  local seen = {}
  for _, name in ipairs({ "default", "a", "b" }) do
    local cf = name == "default" and db or db:cf(name)
    for k, v in cf:pairs() do
      local s = state[key(name, k)]
      seen[key(name, k)] = true
      if not s then
        if k ~= "after-failure" then
          r.unexpected = r.unexpected + 1
          msgs[#msgs + 1] = ("unexpected key %q in %s"):format(k, name)
        end
      elseif not s.may[v] then
        r.altered = r.altered + 1
        msgs[#msgs + 1] = ("altered value of %q in %s (%d bytes)"):format(k, name, #v)
      end
    end
  end
  for k, s in pairs(state) do
    if not s.absent_ok and not seen[k] then
      r.lost = r.lost + 1
      msgs[#msgs + 1] = ("acknowledged key %q lost"):format(k:gsub("%z", "/"))
    end
  end
  db:close()
  return r, msgs
end

if arg and arg[0] and arg[0]:match("ioworkload%.lua$") and arg[1] == "run" then
  os.exit(M.run(arg[2], arg[3]), true)
end
return M
