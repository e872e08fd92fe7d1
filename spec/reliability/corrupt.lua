-- spec/reliability/corrupt.lua: corruption injection. Builds a database whose content is known
-- (table files, a MANIFEST and a WAL holding the unflushed tail), then per trial copies it, flips
-- random bytes in one target (an SST file, the MANIFEST or the WAL's last quarter) and reopens it
-- in a child process that reads everything back:
--   detected_open    the open raised Corruption
--   detected_read    db:verify() (or a full scan with verify_checksums) or a read raised Corruption
--   harmless         every key read back exactly as written (the flip hit bytes nothing reads)
--   silent_loss      keys missing with no error (WAL tail records dropped by the recovery mode)
--   altered          a read returned bytes that were never written: must never happen
--   lua5.4 spec/reliability/corrupt.lua BUILD_DIR WORK_DIR TRIALS [SEED]  (the driver; M.campaign)
local M = {}
local FAMILIES = { "default", "blocks" }
local N_FLUSHED, N_WAL = 3000, 400

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function key(i) return ("key:%06d"):format(i) end
local function value(i) return ("v%06d:"):format(i):rep(20 + i % 60) end

local function open(quarry, dir)
  return quarry.open(dir, { column_families = { "blocks" }, env = false, compression = "none",
    block_size_kb = 4 })
end

function M.build(dir)
  local quarry = require("quarry")
  os.execute("rm -rf " .. q(dir))
  local db = open(quarry, dir)
  local blocks = db:cf("blocks")
  for i = 1, N_FLUSHED do (i % 2 == 0 and blocks or db):put(key(i), value(i)) end
  db:flush()
  for i = N_FLUSHED + 1, N_FLUSHED + N_WAL do
    (i % 2 == 0 and blocks or db):put(key(i), value(i), { sync = true })
  end
  db:close()
end

local function files(dir, pattern)
  local list = {}
  local p = io.popen("ls " .. q(dir))
  for name in p:lines() do
    if name:match(pattern) then list[#list + 1] = name end
  end
  p:close()
  table.sort(list)
  return list
end

-- Flips 1..3 random bytes of one file chosen by target; returns the file's name.
local function inject(dir, target, rnd)
  local pat = target == "sst" and "%.sst$" or target == "manifest" and "^MANIFEST%-" or "%.log$"
  local list = files(dir, pat)
  assert(#list > 0, "no " .. target .. " file in " .. dir)
  local name = list[rnd(#list)]
  local f = assert(io.open(dir .. "/" .. name, "r+b"))
  local size = f:seek("end")
  assert(size > 0, name .. " is empty")
  local lo = target == "wal" and math.floor(size * 3 / 4) or 0
  local flips = {}
  for _ = 1, rnd(3) do
    local off = lo + rnd(size - lo) - 1
    f:seek("set", off)
    local b = f:read(1):byte()
    local x = rnd(255)
    f:seek("set", off)
    f:write(string.char(b ~ x))
    flips[#flips + 1] = ("%d^0x%02x"):format(off, x)
  end
  f:close()
  return name, ("%s of %d bytes: %s"):format(name, size, table.concat(flips, " "))
end
M.inject = inject

-- The child: reopens dir and reads everything; prints "outcome=... named=0|1 missing=N".
function M.trial(dir, file)
  local quarry = require("quarry")
  local function report(outcome, named, missing, msg)
    print(("outcome=%s named=%d missing=%d file=%s"):format(outcome, named and 1 or 0,
      missing or 0, file))
    if msg then print("message: " .. msg) end
  end
  local function is_corruption(e)
    return quarry.is_error(e) and (e.code == "Corruption" or e.code == "IOError")
  end
  local ok, db = pcall(open, quarry, dir)
  if not ok then
    if not is_corruption(db) then report("unclear", false, 0, tostring(db)); return end
    return report("detected_open", tostring(db):find(file, 1, true), 0, tostring(db))
  end
  local detected, named, msg = false, false, nil
  local ok2, e = pcall(function()
    if db.verify then return db:verify() end
    for _, f in ipairs(FAMILIES) do
      local cf = f == "default" and db or db:cf(f)
      for _ in cf:pairs({ keys_only = false }) do end
    end
  end)
  if not ok2 then
    if not is_corruption(e) then report("unclear", false, 0, tostring(e)); db:close(); return end
    detected, named, msg = true, tostring(e):find(file, 1, true), tostring(e)
  end
  -- Every read either raises or returns exactly what was written.
  local missing, altered = 0, 0
  for i = 1, N_FLUSHED + N_WAL do
    local cf = i % 2 == 0 and db:cf("blocks") or db
    local okg, v = pcall(cf.get, cf, key(i))
    if not okg then
      if not is_corruption(v) then report("unclear", false, 0, tostring(v)); db:close(); return end
      detected = true
      named = named or tostring(v):find(file, 1, true)
      msg = msg or tostring(v)
    elseif v == nil then
      missing = missing + 1
    elseif v ~= value(i) then
      altered = altered + 1
    end
  end
  for _, f in ipairs(FAMILIES) do -- and every key an iterator yields
    local cf = f == "default" and db or db:cf(f)
    local oki, ei = pcall(function()
      for k, v in cf:pairs() do
        local i = tonumber(k:match("^key:(%d+)$") or "")
        if not i or v ~= value(i) then altered = altered + 1 end
      end
    end)
    if not oki then detected = true; msg = msg or tostring(ei) end
  end
  db:close()
  if altered > 0 then return report("altered", named, missing, ("%d altered values"):format(altered)) end
  if detected then return report("detected_read", named, missing, msg) end
  if missing > 0 then return report("silent_loss", false, missing) end
  report("harmless", false, 0)
end

-- o: {build=, work=, lua=, trials=, seed=, targets={...}}; returns counts per target and outcome.
function M.campaign(o)
  local seed = o.seed or os.time()
  local state = seed
  local function rnd(n) -- xorshift, reproducible from the seed
    state = state ~ (state << 13); state = state ~ (state >> 7); state = state ~ (state << 17)
    return (state & 0x7fffffff) % n + 1
  end
  os.execute("mkdir -p " .. q(o.work))
  local template = o.work .. "/template"
  M.build(template)
  local res = { seed = seed, by = {} }
  for _, target in ipairs(o.targets or { "sst", "manifest", "wal" }) do
    local c = { trials = 0, named = 0, detected_open = 0, detected_read = 0, harmless = 0,
      silent_loss = 0, altered = 0, unclear = 0, crashed = 0, missing = 0 }
    res.by[target] = c
    for t = 1, o.trials do
      local dir = o.work .. "/trial"
      os.execute(("rm -rf %s && cp -r %s %s"):format(q(dir), q(template), q(dir)))
      local file, what = inject(dir, target, rnd)
      local p = io.popen(("%s %s trial %s %s 2>&1"):format(o.lua or "lua5.4",
        q("spec/reliability/corrupt.lua"), q(dir), q(file)))
      local out = p:read("a")
      local _, how, code = p:close()
      c.trials = c.trials + 1
      local outcome = out:match("outcome=([%w_]+)")
      if how ~= "exit" or code ~= 0 or not outcome then
        c.crashed = c.crashed + 1
        if o.log then o.log(("CRASH %s trial %d (seed %d): %s %s\n%s"):format(target, t, seed, how, code, out)) end
      else
        c[outcome] = c[outcome] + 1
        c.named = c.named + tonumber(out:match("named=(%d)"))
        c.missing = c.missing + tonumber(out:match("missing=(%d+)"))
        if (outcome == "altered" or outcome == "unclear" or outcome == "silent_loss") and o.log then
          o.log(("%s %s trial %d (seed %d) flipped %s:\n%s"):format(outcome:upper(), target, t, seed,
            what, out))
        end
      end
    end
    c.line = ("corrupt: target=%s seed=%d trials=%d detected_open=%d detected_read=%d " ..
      "named_file=%d harmless=%d silent_loss=%d (keys %d) altered=%d unclear=%d crashed=%d")
      :format(target, seed, c.trials, c.detected_open, c.detected_read, c.named, c.harmless,
        c.silent_loss, c.missing, c.altered, c.unclear, c.crashed)
  end
  return res
end

if arg and arg[0] and arg[0]:match("corrupt%.lua$") then
  if arg[1] == "trial" then
    M.trial(arg[2], arg[3])
    os.exit(0, true)
  end
  local t0 = os.time()
  local r = M.campaign({ build = arg[1], work = arg[2], trials = tonumber(arg[3] or "50"),
    seed = tonumber(arg[4] or ""), lua = os.getenv("LUA") or "lua5.4", log = print })
  local bad = 0
  for _, target in ipairs({ "sst", "manifest", "wal" }) do
    print(r.by[target].line)
    bad = bad + r.by[target].altered + r.by[target].crashed + r.by[target].unclear
  end
  print(("corrupt: seconds=%d"):format(os.time() - t0))
  os.exit(bad == 0, true)
end
return M
