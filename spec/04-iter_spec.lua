-- 04-iter: iteration with pairs(iopts) (bounds, prefix, reverse, limit, keys_only, snapshot)
-- and iterator objects (seek, seek_for_prev, first, last, next, prev, key, value); `break`
-- releases the iterator at once; bounds are copied; garbage collection mid-iteration is safe.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local collect = helpers.collect_pairs

describe("iteration", function()
  if helpers.backend_pending(pending) then return end
  local db, cf

  before_each(function()
    db = quarry.open(helpers.backend("iter"), { column_families = { "items" } })
    cf = db:cf("items")
    for _, k in ipairs({ "a", "b", "ba", "bb", "bz", "c", "d" }) do
      cf:put(k, "v:" .. k)
    end
    db:put("only-in-default", "x")
  end)

  after_each(function()
    db, cf = helpers.close_and_cleanup(db), nil
  end)

  describe("pairs", function()
    it("walks every pair in key order", function()
      local keys, values = collect(cf)
      assert.are.same({ "a", "b", "ba", "bb", "bz", "c", "d" }, keys)
      assert.are.equal("v:a", values[1])
      assert.are.equal("v:d", values[7])
      assert.are.same({ "only-in-default" }, (collect(db)))
    end)

    it("honours from (inclusive) and to (exclusive)", function()
      assert.are.same({ "b", "ba", "bb", "bz" }, (collect(cf, { from = "b", to = "c" })))
      assert.are.same({ "bb", "bz", "c", "d" }, (collect(cf, { from = "bb" })))
      assert.are.same({ "a", "b" }, (collect(cf, { to = "ba" })))
      assert.are.same({}, (collect(cf, { from = "c", to = "c" })))
      assert.are.same({}, (collect(cf, { from = "d", to = "a" })))
    end)

    it("honours prefix, alone and with bounds", function()
      assert.are.same({ "b", "ba", "bb", "bz" }, (collect(cf, { prefix = "b" })))
      assert.are.same({ "ba" }, (collect(cf, { prefix = "ba" })))
      assert.are.same({ "bb", "bz" }, (collect(cf, { prefix = "b", from = "bb" })))
      assert.are.same({}, (collect(cf, { prefix = "x" })))
    end)

    it("walks backwards with reverse, within bounds", function()
      assert.are.same({ "d", "c", "bz", "bb", "ba", "b", "a" }, (collect(cf, { reverse = true })))
      assert.are.same({ "bz", "bb", "ba", "b" }, (collect(cf, { reverse = true, prefix = "b" })))
      assert.are.same({ "bb", "ba" }, (collect(cf, { reverse = true, from = "ba", to = "bz" })))
    end)

    it("stops after limit pairs", function()
      assert.are.same({ "a", "b", "ba" }, (collect(cf, { limit = 3 })))
      assert.are.same({ "d", "c" }, (collect(cf, { limit = 2, reverse = true })))
      assert.are.same({}, (collect(cf, { limit = 0 })))
      assert.are.equal(7, #collect(cf, { limit = 100 }))
    end)

    it("gives keys only with keys_only", function()
      local keys, values = collect(cf, { keys_only = true, prefix = "b" })
      assert.are.same({ "b", "ba", "bb", "bz" }, keys)
      assert.are.same({}, values)
    end)

    it("iterates binary keys with NUL bytes and binary bounds", function()
      local bin = db:create_column_family("bin")
      bin:put("k\0\1", "one")
      bin:put("k\0\2", "two")
      bin:put("k\1", "three")
      bin:put("k", "zero")
      assert.are.same({ "k\0\1", "k\0\2" }, (collect(bin, { prefix = "k\0" })))
      assert.are.same({ "k", "k\0\1" }, (collect(bin, { to = "k\0\2" })))
      local _, values = collect(bin, { from = "k\0\2" })
      assert.are.same({ "two", "three" }, values)
      assert.are.same({ "k\1" }, (collect(bin, { prefix = "k\1" })))
      assert.are.same({}, (collect(bin, { prefix = "\255\255" })))
    end)

    it("releases the iterator when the loop ends or breaks", function()
      assert.are.equal(0, db:live_children().iterators)
      for _ in cf:pairs() do
        assert.are.equal(1, db:live_children().iterators)
      end
      assert.are.equal(0, db:live_children().iterators)
      for k in cf:pairs() do
        if k == "b" then break end
      end
      -- no garbage collection in between: `break` closed the iterator (4th value of pairs)
      assert.are.equal(0, db:live_children().iterators)
      local ok = pcall(function()
        for _ in cf:pairs() do error("inside the loop") end
      end)
      assert.is_false(ok)
      assert.are.equal(0, db:live_children().iterators)
    end)

    it("keeps its bounds when the strings given are collected mid-iteration", function()
      local keys = {}
      local function bounds()
        -- built at run time, referenced by nothing once pairs() has copied them
        return { from = ("b"):rep(1) .. "a", to = table.concat({ "b", "z" }), prefix = string.char(98) }
      end
      for k, v in cf:pairs(bounds()) do
        collectgarbage()
        collectgarbage()
        local junk = {}
        for i = 1, 1000 do junk[i] = ("garbage %d"):format(i) end
        keys[#keys + 1] = k
        assert.are.equal("v:" .. k, v)
      end
      assert.are.same({ "ba", "bb" }, keys)
    end)

    it("survives garbage collection of everything but the loop mid-iteration", function()
      local n = 0
      for k, v in db:cf("items"):pairs({ from = "a" }) do -- the cf handle is unreferenced
        collectgarbage()
        collectgarbage()
        n = n + 1
        assert.are.equal("v:" .. k, v)
      end
      assert.are.equal(7, n)
    end)

    it("reads through a snapshot", function()
      local snap = db:snapshot()
      cf:put("e", "later")
      cf:delete("a")
      assert.are.same({ "a", "b", "ba", "bb", "bz", "c", "d" }, (collect(cf, { snapshot = snap })))
      assert.are.same({ "b", "ba", "bb", "bz", "c", "d", "e" }, (collect(cf)))
      snap:close()
    end)

    it("refuses unknown and bad iterator options, naming them", function()
      helpers.raises_code("InvalidArgument", "form", cf.pairs, cf, { form = "a" })
      helpers.raises_code("InvalidArgument", "from", cf.pairs, cf, { from = 1 })
      helpers.raises_code("InvalidArgument", "limit", cf.pairs, cf, { limit = -1 })
      helpers.raises_code("InvalidArgument", "limit", cf.pairs, cf, { limit = 1.5 })
      helpers.raises_code("InvalidArgument", "reverse", cf.iterator, cf, { reverse = "yes" })
      helpers.raises_plain("bad argument #1 to 'pairs' (table expected, got string)",
        function() return cf:pairs("a") end)
      assert.are.equal(0, db:live_children().iterators)
    end)
  end)

  describe("iterator objects", function()
    it("position with first, last, seek and seek_for_prev, and move with next and prev", function()
      local it = cf:iterator()
      assert.is_false(it:valid())
      assert.is_nil(it:key())
      assert.is_nil(it:value())
      assert.is_true(it:first())
      assert.are.equal("a", it:key())
      assert.are.equal("v:a", it:value())
      assert.is_true(it:next())
      assert.are.equal("b", it:key())
      assert.is_true(it:last())
      assert.are.equal("d", it:key())
      assert.is_true(it:prev())
      assert.are.equal("c", it:key())
      assert.is_true(it:seek("bc")) -- first key >= "bc"
      assert.are.equal("bz", it:key())
      assert.is_true(it:seek_for_prev("bc")) -- last key <= "bc"
      assert.are.equal("bb", it:key())
      assert.is_false(it:seek("zzz"))
      assert.is_false(it:valid())
      assert.is_nil(it:key())
      it:close()
    end)

    it("walks a whole family with a while loop", function()
      local it = cf:iterator()
      local keys = {}
      it:first()
      while it:valid() do
        keys[#keys + 1] = it:key()
        it:next()
      end
      assert.are.same({ "a", "b", "ba", "bb", "bz", "c", "d" }, keys)
      it:last()
      keys = {}
      while it:valid() do
        keys[#keys + 1] = it:key()
        it:prev()
      end
      assert.are.same({ "d", "c", "bz", "bb", "ba", "b", "a" }, keys)
      it:close()
    end)

    it("stays within its bounds and prefix", function()
      local it = cf:iterator({ prefix = "b" })
      assert.is_true(it:first())
      assert.are.equal("b", it:key())
      assert.is_true(it:last())
      assert.are.equal("bz", it:key())
      assert.is_false(it:seek("c"))
      assert.is_true(it:seek_for_prev("c"))
      assert.are.equal("bz", it:key())
      it:close()
    end)

    it("refuses next and prev when not on an entry", function()
      local it = cf:iterator()
      helpers.raises_code("InvalidArgument", nil, it.next, it)
      helpers.raises_code("InvalidArgument", nil, it.prev, it)
      it:close()
    end)

    it("count as live children until closed or collected", function()
      local it = cf:iterator()
      assert.are.equal(1, db:live_children().iterators)
      it:close()
      assert.are.equal(0, db:live_children().iterators)
      do
        local _ = db:iterator()
      end
      collectgarbage()
      collectgarbage()
      assert.are.equal(0, db:live_children().iterators)
      do
        local scoped <close> = db:iterator()
        assert.are.equal(1, db:live_children().iterators)
      end
      assert.are.equal(0, db:live_children().iterators)
    end)

    it("raises argument errors naming the argument", function()
      local it = cf:iterator()
      helpers.raises_plain("bad argument #1 to 'seek' (string expected, got nil)", function() it:seek(nil) end)
      helpers.raises_plain("bad argument #1 to 'seek_for_prev' (string expected, got number)",
        function() it:seek_for_prev(5) end)
      it:close()
    end)
  end)
end)
