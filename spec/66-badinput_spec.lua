-- spec/66-badinput_spec.lua: bad input through the Lua API: wrong types, huge keys and values,
-- NUL bytes and non-UTF-8, use after close, closing a database with live children, errors
-- raised inside db:write(function ...).
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local quarry = require("quarry")

local function code_of(f, ...)
  local ok, e = pcall(f, ...)
  if ok then return "ok" end
  return quarry.is_error(e) and e.code or ("lua: " .. tostring(e))
end

describe("bad input", function()
  local dir, db
  before_each(function()
    dir = R.dir("badinput")
    db = quarry.open(dir .. "/db", { column_families = { "x" }, env = false })
  end)
  after_each(function()
    if db then db:close() end
    db = nil
    collectgarbage(); collectgarbage()
  end)

  it("wrong argument types raise argument errors, never crash", function()
    local values = { 1, 1.5, true, {}, function() end, coroutine.create(function() end), io.stdout }
    -- each call with the types it legitimately accepts (an options table, a write function)
    local calls = {
      { function(v) return db:put(v, "x") end },
      { function(v) return db:put("k", v) end },
      { function(v) return db:get(v) end },
      { function(v) return db:delete(v) end },
      { function(v) return db:delete_range(v, "z") end },
      { function(v) return db:multi_get({ v }) end },
      { function(v) return db:pairs({ from = v }) end },
      { function(v) return db:cf(v) end },
      { function(v) return db:write(v) end, ok = { ["function"] = true } },
      { function(v) return db:batch():put(v, "x") end },
      { function(v) return db:get("k", v) end, ok = { table = true } },
      { function(v) return quarry.open(v) end, ok = { number = true } }, -- a path: Lua converts
    }
    for _, v in ipairs(values) do
      for i, c in ipairs(calls) do
        if not (c.ok and c.ok[type(v)]) then
          local ok = pcall(c[1], v)
          assert(not ok, ("call %d accepted a %s"):format(i, type(v)))
        end
      end
    end
    -- methods called on the wrong object
    local it = db:iterator()
    assert.is_false(pcall(db.get, it, "k"))
    assert.is_false(pcall(it.next, db))
    it:close()
    assert.are.equal("InvalidArgument", code_of(quarry.open, dir .. "/db2", { no_such_option = 1 }))
    assert.are.equal("InvalidArgument", code_of(db.get, db, "k", { nope = true }))
  end)

  it("keys over 8 MiB are refused with InvalidArgument; large values round-trip", function()
    local limit = 8 * 1024 * 1024
    local big = ("k"):rep(limit + 1)
    assert.are.equal("InvalidArgument", code_of(db.put, db, big, "v"))
    assert.are.equal("InvalidArgument", code_of(db.get, db, big))
    assert.are.equal("InvalidArgument", code_of(db.delete, db, big))
    assert.are.equal("InvalidArgument", code_of(db.write, db, function(b) b:put(big, "v") end))
    local edge = ("e"):rep(limit)
    db:put(edge, "at the limit")
    assert.are.equal("at the limit", db:get(edge))
    local value = ("\0\1\255"):rep(11 * 1024 * 1024) -- 33 MiB
    db:put("big value", value)
    assert.are.equal(value, db:get("big value"))
    db:flush()
    assert.are.equal(value, db:get("big value"))
  end)

  it("NUL bytes, empty strings and non-UTF-8 are ordinary bytes", function()
    local keys = { "", "\0", "\0\0", "a\0b", "\255\254", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80" }
    for i, k in ipairs(keys) do db:put(k, k .. "\0" .. i) end
    for i, k in ipairs(keys) do assert.are.equal(k .. "\0" .. i, db:get(k)) end
    local seen = {}
    for k, v in db:pairs() do seen[#seen + 1] = k; assert.are.equal(k, v:sub(1, #k)) end
    table.sort(keys)
    assert.are.same(keys, seen)
    assert.are.equal(2, #(function() local t = {} for k in db:pairs({ prefix = "\0" }) do t[#t + 1] = k end return t end)())
  end)

  it("use after close raises Closed, closing twice is harmless", function()
    local cf, it, s, b = db:cf("x"), db:iterator(), db:snapshot(), db:batch()
    db:close()
    for _, call in ipairs({
      function() return db:get("k") end, function() return db:put("k", "v") end,
      function() return cf:get("k") end, function() return it:first() end,
      function() return it:next() end, function() return b:put("k", "v") end,
      function() return db:write(b) end, function() return db:snapshot() end,
      function() return db:iterator() end, function() return db:pairs() end,
    }) do
      assert.are.equal("Closed", code_of(call))
    end
    assert.is_true(pcall(db.close, db))
    assert.is_true(pcall(it.close, it))
    assert.is_true(pcall(s.close, s))
    assert.is_true(pcall(b.close, b))
    db = nil
  end)

  it("closing a database with live children, in any order, with the collector running", function()
    for round = 1, 20 do
      local d = quarry.open(dir .. "/db" .. round, { column_families = { "x" }, env = false })
      d:put("a", "1")
      local children = {}
      for i = 1, 5 do
        children[#children + 1] = d:iterator()
        children[#children + 1] = d:snapshot()
        children[#children + 1] = d:batch():put("b", "2")
        children[#children + 1] = d:cf("x")
      end
      children[1]:first()
      for _, c in pairs(children) do if round % 3 == 0 then c:close() end end
      if round % 2 == 0 then d:close() end
      d, children = nil, nil
      collectgarbage(); collectgarbage()
    end
  end)

  it("an error raised inside db:write(function ...) writes nothing", function()
    db:put("keep", "old")
    local ok, e = pcall(db.write, db, function(b)
      b:put("keep", "new")
      b:put(db:cf("x"), "other", "v")
      b:delete("keep")
      error({ mine = true })
    end)
    assert.is_false(ok)
    assert.is_true(type(e) == "table" and e.mine) -- the error object propagates unchanged
    assert.are.equal("old", db:get("keep"))
    assert.is_nil(db:cf("x"):get("other"))
    -- and a quarry error raised inside (a bad key) also writes nothing
    ok, e = pcall(db.write, db, function(b)
      b:put("keep", "newer")
      b:put(("k"):rep(8 * 1024 * 1024 + 1), "v")
    end)
    assert.is_false(ok)
    assert.are.equal("InvalidArgument", e.code)
    assert.are.equal("old", db:get("keep"))
    assert.are.equal(0, db:live_children().batches)
  end)

  -- Was a bug found by this suite (core/src/iter.c move() returned early for an iterator whose
  -- bounds exclude every key, before the not-positioned check): now fixed.
  it("next() off an entry raises InvalidArgument, also with empty bounds", function()
    local it = db:iterator({ from = "b", to = "a" })
    it:first()
    assert.is_false(it:valid())
    assert.are.equal("InvalidArgument", code_of(it.next, it))
    assert.are.equal("InvalidArgument", code_of(it.prev, it))
    it:close()
  end)
end)
