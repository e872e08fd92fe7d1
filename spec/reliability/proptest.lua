-- spec/reliability/proptest.lua: a property-based random-operation tester of the Lua API. Each
-- sequence opens a fresh database and runs random operations (put, delete, delete_range, get,
-- multi_get, batches committed by object or by function (which sometimes raises: then nothing is
-- written), pairs and iterator walks with random bounds/prefix/reverse/limit, snapshots read
-- later, close-and-reopen in the middle, dropped handles and forced garbage collection) against
-- an in-memory model, comparing every result. Keys and values are random bytes (NUL, 0xFF,
-- non-UTF-8, empty). Reproducible: a failure names its seed, sequence and step.
--   lua5.4 spec/reliability/proptest.lua WORK_DIR SEQUENCES [SEED] [OPS]
local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local ALPHA = { "a", "b", "c", "\0", "\255", "\xc3", "\x80", "z" }

local function show(s)
  if s == nil then return "nil" end
  return '"' .. tostring(s):gsub("[^%w:_%-]", function(c) return ("\\x%02x"):format(c:byte()) end) .. '"'
end

-- sorted keys of a model table
local function sorted(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The pairs a walk should yield: keys in [from, to) starting with prefix, in order, limited.
local function expected_walk(model, o)
  local ks, out = sorted(model), {}
  if o.reverse then
    local r = {}
    for i = #ks, 1, -1 do r[#r + 1] = ks[i] end
    ks = r
  end
  for _, k in ipairs(ks) do
    if (not o.from or k >= o.from) and (not o.to or k < o.to) and
        (not o.prefix or k:sub(1, #o.prefix) == o.prefix) then
      if o.limit and #out >= o.limit then break end
      out[#out + 1] = { k, model[k] }
    end
  end
  return out
end

function M.sequence(quarry, dir, seed, nops, stats)
  local rnd = math.random
  math.randomseed(seed)
  os.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  local opts = { column_families = { "x" }, env = false, write_buffer_mb = 1 }
  local db = quarry.open(dir, opts)
  local models = { default = {}, x = {} }
  local snaps = {} -- {snap=, model={default=,x=}}
  local step, desc = 0, ""
  local function fail(msg)
    error(("proptest: seed %d step %d (%s): %s"):format(seed, step, desc, msg), 0)
  end
  local function check(cond, msg) if not cond then fail(msg) end end
  local function rkey()
    if rnd(10) == 1 then return "" end
    local t = {}
    for i = 1, rnd(4) do t[i] = ALPHA[rnd(#ALPHA)] end
    return table.concat(t)
  end
  local function rval()
    local n = ({ 0, 1, 3, 10, 100, 5000 })[rnd(6)]
    local t = {}
    for i = 1, math.min(n, 16) do t[i] = string.char(rnd(256) - 1) end
    return table.concat(t):rep(math.max(1, n // 16)):sub(1, n)
  end
  local function rcf()
    if rnd(2) == 1 then return "default", db end
    return "x", db:cf("x")
  end
  local function expect_error(code, f, ...)
    local ok, e = pcall(f, ...)
    check(not ok, "expected error " .. code .. ", got success")
    check(quarry.is_error(e) and e.code == code, "expected " .. code .. ", got " .. tostring(e))
  end
  local function riopts()
    local o = {}
    if rnd(3) == 1 then o.from = rkey() end
    if rnd(3) == 1 then o.to = rkey() end
    if rnd(4) == 1 then o.prefix = rkey() end
    if rnd(3) == 1 then o.reverse = true end
    if rnd(3) == 1 then o.limit = rnd(6) - 1 end
    return o
  end
  local function compare_walk(cf, model, o, snap)
    local got = {}
    o.snapshot = snap
    for k, v in cf:pairs(o) do
      got[#got + 1] = { k, v }
      if rnd(40) == 1 then collectgarbage() end
    end
    o.snapshot = nil
    local want = expected_walk(model, o)
    check(#got == #want, ("walk %s: %d pairs, want %d"):format(show(o.from) .. ".." .. show(o.to) ..
      " prefix " .. show(o.prefix) .. (o.reverse and " reverse" or "") .. " limit " ..
      tostring(o.limit), #got, #want))
    for i = 1, #want do
      check(got[i][1] == want[i][1] and got[i][2] == want[i][2],
        ("walk pair %d: %s, want %s"):format(i, show(got[i][1]), show(want[i][1])))
    end
  end
  for s = 1, nops do
    step = s
    local r = rnd(100)
    local name, cf = rcf()
    local model = models[name]
    if r <= 25 then
      local k, v = rkey(), rval()
      desc = "put " .. name .. " " .. show(k)
      cf:put(k, v)
      model[k] = v
    elseif r <= 32 then
      local k = rkey()
      desc = "delete " .. name .. " " .. show(k)
      cf:delete(k)
      model[k] = nil
    elseif r <= 36 then
      local a, b = rkey(), rkey()
      desc = "delete_range " .. name .. " " .. show(a) .. " " .. show(b)
      if a >= b then
        expect_error("InvalidArgument", cf.delete_range, cf, a, b)
      else
        cf:delete_range(a, b)
        for k in pairs(model) do if k >= a and k < b then model[k] = nil end end
      end
    elseif r <= 50 then
      local k = rkey()
      desc = "get " .. name .. " " .. show(k)
      check(cf:get(k) == model[k], "get returned " .. show(cf:get(k)) .. ", want " .. show(model[k]))
    elseif r <= 54 then
      local keys = {}
      for i = 1, rnd(5) do keys[i] = rkey() end
      desc = "multi_get " .. name
      local got = cf:multi_get(keys)
      check(got.n == #keys, "multi_get n")
      for i, k in ipairs(keys) do check(got[i] == model[k], "multi_get " .. show(k)) end
    elseif r <= 64 then
      -- a batch over both families, committed by object or by function (which may raise)
      local ops = {}
      for i = 1, rnd(6) do
        local fname = rnd(2) == 1 and "default" or "x"
        local kind = rnd(10)
        if kind <= 6 then ops[i] = { "put", fname, rkey(), rval() }
        elseif kind <= 9 then ops[i] = { "delete", fname, rkey() }
        else
          local a, b = rkey(), rkey()
          if a > b then a, b = b, a end
          if a == b then b = a .. "\0" end
          ops[i] = { "delete_range", fname, a, b }
        end
      end
      local function fill(b)
        for _, o in ipairs(ops) do
          local target = o[2] == "x" and db:cf("x") or nil
          if o[1] == "put" then
            if target then b:put(target, o[3], o[4]) else b:put(o[3], o[4]) end
          elseif o[1] == "delete" then
            if target then b:delete(target, o[3]) else b:delete(o[3]) end
          else
            if target then b:delete_range(target, o[3], o[4]) else b:delete_range(o[3], o[4]) end
          end
        end
      end
      local raise = rnd(4) == 1
      desc = ("batch of %d%s"):format(#ops, raise and " (function raises)" or "")
      if rnd(2) == 1 and not raise then
        local b <close> = db:batch()
        fill(b)
        check(b:count() == #ops, "batch count")
        db:write(b)
      else
        local ok, e = pcall(db.write, db, function(b)
          fill(b)
          if rnd(3) == 1 then collectgarbage() end
          if raise then error("raised inside write", 0) end
        end)
        if raise then
          check(not ok and e == "raised inside write", "the error of the function propagates: " .. tostring(e))
          stats.raised_batches = stats.raised_batches + 1
        else
          check(ok, tostring(e))
        end
      end
      if not raise then
        for _, o in ipairs(ops) do
          local m = models[o[2]]
          if o[1] == "put" then m[o[3]] = o[4]
          elseif o[1] == "delete" then m[o[3]] = nil
          else for k in pairs(m) do if k >= o[3] and k < o[4] then m[k] = nil end end end
        end
      end
    elseif r <= 74 then
      local o = riopts()
      desc = "pairs " .. name
      compare_walk(cf, model, o)
    elseif r <= 80 then
      -- an iterator object: seek / seek_for_prev / first / last then a few next/prev
      desc = "iterator " .. name
      local o = riopts()
      local it = cf:iterator({ from = o.from, to = o.to, prefix = o.prefix })
      local view = expected_walk(model, { from = o.from, to = o.to, prefix = o.prefix })
      local pos -- index into view, or nil when not valid
      local how = rnd(4)
      local target = rkey()
      if how == 1 then it:first(); pos = #view > 0 and 1 or nil
      elseif how == 2 then it:last(); pos = #view > 0 and #view or nil
      elseif how == 3 then
        it:seek(target)
        for i, p in ipairs(view) do if p[1] >= target then pos = i; break end end
      else
        it:seek_for_prev(target)
        for i = #view, 1, -1 do if view[i][1] <= target then pos = i; break end end
      end
      for _ = 1, rnd(6) do
        check(it:valid() == (pos ~= nil), "valid() " .. tostring(it:valid()) .. " want " .. tostring(pos ~= nil))
        if not pos then
          -- documented: InvalidArgument. Known deviation: an iterator whose bounds exclude every
          -- key (from >= to, or a prefix outside them) accepts next() and stays invalid.
          local ok, e = pcall(it.next, it)
          if ok then
            check(not it:valid(), "next() off an entry made the iterator valid")
            stats.next_off_entry_accepted = stats.next_off_entry_accepted + 1
          else
            check(quarry.is_error(e) and e.code == "InvalidArgument", "next() off an entry: " .. tostring(e))
          end
          break
        end
        check(it:key() == view[pos][1] and it:value() == view[pos][2],
          "iterator at " .. show(it:key()) .. " want " .. show(view[pos][1]))
        if rnd(2) == 1 then it:next(); pos = pos < #view and pos + 1 or nil
        else it:prev(); pos = pos > 1 and pos - 1 or nil end
      end
      if rnd(3) == 1 then it:close() end -- otherwise dropped, left to the collector
    elseif r <= 85 then
      desc = "snapshot"
      if #snaps < 4 then
        snaps[#snaps + 1] = { snap = db:snapshot(), model = { default = copy(models.default), x = copy(models.x) } }
      end
    elseif r <= 90 and #snaps > 0 then
      local i = rnd(#snaps)
      local sn = snaps[i]
      desc = "read through snapshot " .. i
      local m = sn.model[name]
      local k = rkey()
      check(cf:get(k, { snapshot = sn.snap }) == m[k], "snapshot get " .. show(k))
      compare_walk(cf, m, riopts(), sn.snap)
      if rnd(3) == 1 then sn.snap:close(); table.remove(snaps, i) end
    elseif r <= 93 then
      desc = "collectgarbage"
      collectgarbage()
      collectgarbage()
    elseif r <= 96 then
      -- close in the middle: live children become Closed, data persists
      desc = "close and reopen"
      local it = db:iterator()
      local xcf = db:cf("x")
      if rnd(2) == 1 then
        db:close()
      else -- drop every reference: the collector closes the database and its children
        db, it, xcf, cf, snaps = nil, nil, nil, nil, {}
        collectgarbage(); collectgarbage()
      end
      if it then
        expect_error("Closed", it.first, it)
        expect_error("Closed", xcf.get, xcf, "a")
      end
      for _, sn in ipairs(snaps) do
        if db then expect_error("Closed", db.get, db, "a", { snapshot = sn.snap }) end
      end
      snaps = {}
      db = quarry.open(dir, opts)
      stats.reopens = stats.reopens + 1
    else
      desc = "full comparison"
      compare_walk(db, models.default, {})
      compare_walk(db:cf("x"), models.x, {})
    end
    stats.ops = stats.ops + 1
  end
  step = nops + 1
  desc = "final comparison"
  compare_walk(db, models.default, {})
  compare_walk(db:cf("x"), models.x, {})
  if rnd(2) == 1 then db:close() end -- else: dropped with live snapshots, collected
  snaps = nil
  db = nil
  collectgarbage()
  collectgarbage()
end

-- o: {work=, sequences=, seed=, ops=}; returns stats; raises (naming the seed) on a mismatch.
function M.run(o)
  local quarry = require("quarry")
  local stats = { sequences = 0, ops = 0, reopens = 0, raised_batches = 0, next_off_entry_accepted = 0 }
  local base = o.seed or os.time()
  for i = 1, o.sequences do
    M.sequence(quarry, o.work .. "/db", base + i, o.ops or (50 + (base + i) % 100), stats)
    stats.sequences = stats.sequences + 1
  end
  stats.line = ("proptest: seed=%d sequences=%d operations=%d reopens=%d raised_batches=%d " ..
    "next_off_entry_accepted=%d failures=0")
    :format(base, stats.sequences, stats.ops, stats.reopens, stats.raised_batches,
      stats.next_off_entry_accepted)
  return stats
end

if arg and arg[0] and arg[0]:match("proptest%.lua$") then
  local t0 = os.time()
  local s = M.run({ work = arg[1], sequences = tonumber(arg[2] or "100"),
    seed = tonumber(arg[3] or ""), ops = tonumber(arg[4] or "") })
  print(s.line .. (" seconds=%d"):format(os.time() - t0))
end
return M
