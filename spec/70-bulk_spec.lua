-- 70-bulk: the bulk forms (put_many, it:next_chunk, db:seek, multi_get in loops) give what the
-- single-operation forms give; bad elements are named; reused tables and scratch memory do not
-- leak entries from one call into the next; quarry.clock is monotonic.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local collect = helpers.collect_pairs

-- Every chunk of it:next_chunk(n) (reusing two tables), concatenated.
local function chunks(it, n)
  local keys, values, sizes = {}, {}, {}
  local ks, vs = {}, {}
  while true do
    local k, v, c = it:next_chunk(n, ks, vs)
    assert.are.equal(ks, k)
    assert.are.equal(vs, v)
    assert.are.equal(c, #k)
    if c == 0 then break end
    sizes[#sizes + 1] = c
    for i = 1, c do
      keys[#keys + 1] = k[i]
      values[#values + 1] = v[i]
    end
  end
  return keys, values, sizes
end

describe("bulk operations", function()
  local dir, db, cf

  before_each(function()
    dir = helpers.tmpdir("bulk")
    db = quarry.open(dir .. "/db", { column_families = { "items" } })
    cf = db:cf("items")
  end)

  after_each(function()
    db, cf = helpers.close_and_cleanup(db), nil
  end)

  describe("put_many", function()
    it("writes a key, value sequence like one put per pair, later pairs winning", function()
      local n = db:put_many({ "a", "1", "b", "2\0two", "a", "3", "", "empty key" })
      assert.are.equal(4, n)
      assert.are.equal("3", db:get("a"))
      assert.are.equal("2\0two", db:get("b"))
      assert.are.equal("empty key", db:get(""))
      assert.is_nil(cf:get("a"))
    end)

    it("writes a map {[key] = value}", function()
      assert.are.equal(3, cf:put_many({ x = "1", y = "2", ["z\0"] = "3" }))
      assert.are.same({ "x", "y", "z\0" }, (collect(cf)))
      assert.are.equal("3", cf:get("z\0"))
    end)

    it("gives the same database as single puts and as a batch", function()
      local t, single = {}, quarry.open(dir .. "/single")
      for i = 1, 500 do
        local k, v = ("k%05d"):format((i * 7919) % 1000), ("v%d"):format(i)
        t[#t + 1] = k
        t[#t + 1] = v
        single:put(k, v)
      end
      db:put_many(t)
      local k1, v1 = collect(db)
      local k2, v2 = collect(single)
      single:close()
      assert.are.same(k2, k1)
      assert.are.same(v2, v1)
    end)

    it("is atomic: a bad element writes nothing, and names the element", function()
      db:put("keep", "old")
      helpers.raises_plain("t[4] (the value of t[3]) must be a string, got number",
        db.put_many, db, { "keep", "new", "b", 42 })
      assert.are.equal("old", db:get("keep"))
      helpers.raises_plain("'put_many'", function() db:put_many({ "k", 1 }) end)
      helpers.raises_plain("t[3] (a key) must be a string, got boolean", db.put_many, db,
        { "a", "1", true, "2" })
      helpers.raises_plain("t has 3 entries", db.put_many, db, { "a", "1", "b" })
      helpers.raises_plain('t["bad"] must be a string, got table', cf.put_many, cf,
        { good = "1", bad = {} })
      helpers.raises_plain("keys must be strings", cf.put_many, cf, { [1.5] = "x" })
      helpers.raises_plain("with a 50-byte key", cf.put_many, cf, { [("\1"):rep(50)] = false })
      assert.are.same({ "keep" }, (collect(db)))
      assert.are.same({}, (collect(cf)))
      -- the next call starts from an empty batch
      assert.are.equal(1, db:put_many({ "after", "ok" }))
      assert.are.same({ "after", "keep" }, (collect(db)))
    end)

    it("raises InvalidArgument naming the element for a key over the limit", function()
      local big = ("k"):rep(8 * 1024 * 1024 + 1)
      local err = helpers.raises_code("InvalidArgument", "t[3]", db.put_many, db,
        { "a", "1", big, "2" })
      assert.are.equal("put_many", err.op)
      assert.is_nil(db:get("a"))
    end)

    it("accepts an empty table and write options", function()
      assert.are.equal(0, db:put_many({}))
      assert.are.equal(1, db:put_many({ "s", "synced" }, { sync = true }))
      assert.are.equal("synced", db:get("s"))
      helpers.raises_code("InvalidArgument", "unknown write option", db.put_many, db, { "a", "b" },
        { fsync = true })
      helpers.raises_plain("table expected", db.put_many, db, "a")
    end)

    it("refuses a read-only database and a closed one", function()
      db:put("a", "1")
      db:close()
      local ro = quarry.open(dir .. "/db", { mode = "read_only" })
      helpers.raises_code("NotSupported", nil, ro.put_many, ro, { "a", "2" })
      ro:close()
      helpers.raises_code("Closed", nil, ro.put_many, ro, { "a", "2" })
      db = nil
    end)

    it("keeps working across many calls and large batches", function()
      local big = ("x"):rep(64 * 1024)
      for round = 1, 3 do
        local t = {}
        for i = 1, 100 do
          t[#t + 1] = ("r%d-%03d"):format(round, i)
          t[#t + 1] = big -- 6.4 MB per call: beyond the scratch batch kept between calls
        end
        assert.are.equal(100, db:put_many(t))
      end
      assert.are.equal(300, #(collect(db, { keys_only = true })))
      assert.are.equal(big, db:get("r3-100"))
    end)
  end)

  describe("it:next_chunk", function()
    before_each(function()
      local t = {}
      for i = 1, 25 do
        t[#t + 1] = ("k%02d"):format(i)
        t[#t + 1] = ("v%02d"):format(i)
      end
      cf:put_many(t)
    end)

    it("returns what pairs returns, in chunks, clearing what a longer chunk left", function()
      local keys, values = collect(cf)
      for _, n in ipairs({ 1, 2, 7, 25, 26, 1000 }) do
        local it <close> = cf:iterator()
        local k, v, sizes = chunks(it, n)
        assert.are.same(keys, k)
        assert.are.same(values, v)
        assert.are.equal(math.ceil(25 / n), #sizes)
        assert.are.equal(25 - n * (#sizes - 1), sizes[#sizes])
      end
    end)

    it("honours bounds, prefix, reverse, limit and keys_only like pairs", function()
      for _, iopts in ipairs({
        { from = "k05", to = "k12" }, { prefix = "k1" }, { reverse = true },
        { reverse = true, from = "k03", to = "k20", limit = 5 }, { limit = 0 },
      }) do
        local keys, values = collect(cf, iopts)
        local it <close> = cf:iterator(iopts)
        local k, v = chunks(it, 4)
        assert.are.same(keys, k)
        assert.are.same(values, v)
      end
      local it <close> = cf:iterator({ keys_only = true, limit = 3 })
      local k, v, c = it:next_chunk(10)
      assert.are.equal(3, c)
      assert.are.same({ "k01", "k02", "k03" }, k)
      assert.are.same({}, v)
    end)

    it("continues from a seek, and returns new tables when none are given", function()
      local it <close> = cf:iterator()
      assert.is_true(it:seek("k10"))
      local k, v, c = it:next_chunk(3)
      assert.are.equal(3, c)
      assert.are.same({ "k10", "k11", "k12" }, k)
      assert.are.same({ "v10", "v11", "v12" }, v)
      local k2 = it:next_chunk(2)
      assert.are_not.equal(k, k2)
      assert.are.same({ "k13", "k14" }, k2)
    end)

    it("returns 0 at the end, again and again", function()
      local it <close> = cf:iterator({ from = "k25" })
      local _, _, c = it:next_chunk(10)
      assert.are.equal(1, c)
      for _ = 1, 2 do
        local k, v, c0 = it:next_chunk(10)
        assert.are.equal(0, c0)
        assert.are.same({}, k)
        assert.are.same({}, v)
      end
    end)

    it("checks its arguments and raises Closed after close or db:close()", function()
      local it = cf:iterator()
      helpers.raises_plain("positive integer", it.next_chunk, it, 0)
      helpers.raises_plain("positive integer", it.next_chunk, it, 1.5)
      helpers.raises_plain("table expected", it.next_chunk, it, 2, "keys")
      it:close()
      helpers.raises_code("Closed", nil, it.next_chunk, it, 1)
      local it2 = cf:iterator()
      db:close()
      helpers.raises_code("Closed", "database was closed", it2.next_chunk, it2, 1)
      db = nil
    end)

    it("survives garbage collection between chunks", function()
      local it <close> = cf:iterator()
      local seen = 0
      while true do
        local _, _, c = it:next_chunk(3)
        collectgarbage()
        if c == 0 then break end
        seen = seen + c
      end
      assert.are.equal(25, seen)
    end)
  end)

  describe("db:seek", function()
    before_each(function()
      cf:put_many({ "b", "vb", "d", "vd", "f", "vf", "f\0", "vf0" })
    end)

    -- What a fresh iterator says after seek / seek_for_prev.
    local function by_iterator(target, key, iopts)
      local it <close> = target:iterator(iopts)
      local ok
      if iopts and iopts.reverse then ok = it:seek_for_prev(key) else ok = it:seek(key) end
      if not ok then return nil end
      return it:key(), it:value()
    end

    it("returns the first entry at or after the key, like an iterator's seek", function()
      for _, key in ipairs({ "", "a", "b", "c", "d", "e", "f", "f\0", "f\1", "z" }) do
        local k, v = cf:seek(key)
        local ik, iv = by_iterator(cf, key)
        assert.are.equal(ik, k)
        assert.are.equal(iv, v)
      end
      assert.are.equal("d", (cf:seek("c")))
      assert.is_nil(cf:seek("g"))
      assert.is_nil(db:seek(""))
    end)

    it("honours reverse (at or before), bounds, prefix and keys_only", function()
      local cases = {
        { "c", { reverse = true } }, { "a", { reverse = true } }, { "z", { reverse = true } },
        { "a", { from = "c" } }, { "e", { to = "f" } }, { "a", { prefix = "f" } },
        { "z", { prefix = "d", reverse = true } }, { "c", { from = "b", to = "d", reverse = true } },
      }
      for _, c in ipairs(cases) do
        local k, v = cf:seek(c[1], c[2])
        local ik, iv = by_iterator(cf, c[1], c[2])
        assert.are.equal(ik, k)
        assert.are.equal(iv, v)
      end
      assert.are.equal("b", (cf:seek("c", { reverse = true })))
      local k, v = cf:seek("c", { keys_only = true })
      assert.are.equal("d", k)
      assert.is_nil(v)
    end)

    it("reads through a snapshot", function()
      local snap <close> = db:snapshot()
      cf:put("c", "new")
      assert.are.equal("c", (cf:seek("c")))
      assert.are.equal("d", (cf:seek("c", { snapshot = snap })))
    end)

    it("leaves no iterator behind, and raises like the iterator does", function()
      for i = 1, 100 do cf:seek(tostring(i)) end
      assert.are.equal(0, db:live_children().iterators)
      helpers.raises_plain("string expected", cf.seek, cf, 42)
      helpers.raises_code("InvalidArgument", "unknown iterator option", cf.seek, cf, "a",
        { bogus = 1 })
      db:close()
      helpers.raises_code("Closed", nil, cf.seek, cf, "a")
      db = nil
    end)
  end)

  describe("multi_get in a loop", function()
    it("gives the same values as get, call after call with shrinking and growing key lists", function()
      local t = {}
      for i = 1, 50 do
        t[#t + 1] = ("m%02d"):format(i)
        t[#t + 1] = ("value %d"):format(i)
      end
      db:put_many(t)
      for _, n in ipairs({ 40, 5, 50, 1, 200, 3 }) do
        local keys = {}
        for i = 1, n do keys[i] = ("m%02d"):format((i * 13) % 60) end
        local vals = db:multi_get(keys)
        assert.are.equal(n, vals.n)
        for i = 1, n do assert.are.equal(db:get(keys[i]), vals[i]) end
      end
    end)
  end)

  describe("quarry.be64", function()
    it("gives string.pack's big-endian bytes, with the suffix appended", function()
      for _, n in ipairs({ 0, 1, 255, 256, 65535, 1 << 32, (1 << 53) + 7, math.maxinteger, -1,
        math.mininteger }) do
        assert.are.equal(string.pack(">i8", n), quarry.be64(n))
        assert.are.equal(string.pack(">i8", n) .. "00000000", quarry.be64(n, "00000000"))
        assert.are.equal(n, (string.unpack(">i8", quarry.be64(n))))
      end
      local long = string.rep("s", 300) -- longer than the stack buffer
      assert.are.equal(string.pack(">i8", 42) .. long, quarry.be64(42, long))
      assert.are.equal(string.pack(">i8", 7), quarry.be64(7.0))
    end)

    it("sorts as the numbers do for n >= 0", function()
      local prev
      for _, n in ipairs({ 0, 1, 9, 10, 255, 256, 1000, 1 << 40, math.maxinteger }) do
        local k = quarry.be64(n)
        if prev then assert.is_true(prev < k) end
        prev = k
      end
    end)

    it("refuses what is not an integer, naming the argument", function()
      assert.has_error(function() quarry.be64("12") end,
        "bad argument #1 to 'be64' (integer expected, got string)")
      assert.has_error(function() quarry.be64(1.5) end,
        "bad argument #1 to 'be64' (number has no integer representation)")
      assert.has_error(function() quarry.be64(nil) end,
        "bad argument #1 to 'be64' (integer expected, got nil)")
      assert.has_error(function() quarry.be64(1, 2) end,
        "bad argument #2 to 'be64' (string expected, got number)")
    end)
  end)

  describe("quarry.uvarint", function()
    it("gives the unsigned LEB128 bytes of an integer", function()
      assert.are.equal("\0", quarry.uvarint(0))
      assert.are.equal("\127", quarry.uvarint(127))
      assert.are.equal("\128\1", quarry.uvarint(128))
      assert.are.equal("\172\2", quarry.uvarint(300))
      assert.are.equal(10, #quarry.uvarint(-1)) -- 2^64 - 1 as unsigned
      assert.are.equal(9, #quarry.uvarint(math.maxinteger))
      assert.are.equal("\5", quarry.uvarint(5.0))
    end)

    it("refuses what is not an integer", function()
      assert.has_error(function() quarry.uvarint("5") end,
        "bad argument #1 to 'uvarint' (integer expected, got string)")
      assert.has_error(function() quarry.uvarint(0.5) end,
        "bad argument #1 to 'uvarint' (number has no integer representation)")
    end)
  end)

  describe("quarry.tohex and quarry.fromhex", function()
    it("convert bytes to lowercase hex and back", function()
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      local raw = table.concat(all)
      local hex = quarry.tohex(raw)
      assert.are.equal(512, #hex)
      assert.are.equal("000102", hex:sub(1, 6))
      assert.are.equal("fdfeff", hex:sub(-6))
      assert.are.equal(raw, quarry.fromhex(hex))
      assert.are.equal("", quarry.tohex(""))
      assert.are.equal("", quarry.fromhex(""))
    end)

    it("take a byte range as string.sub does", function()
      assert.are.equal("626364", quarry.tohex("abcdef", 2, 4))
      assert.are.equal("6566", quarry.tohex("abcdef", -2))
      assert.are.equal("61", quarry.tohex("abcdef", 0, 1))
      assert.are.equal("", quarry.tohex("abcdef", 5, 2))
      assert.are.equal("656667", quarry.tohex("abcdefg", 5, 99))
    end)

    it("fromhex prepends a prefix, and gives nil for text that is not lowercase even-length hex", function()
      assert.are.equal("\1ab", quarry.fromhex("6162", "\1"))
      for _, bad in ipairs({ "0", "abc", "0A", "FF", "0g", "12 4", "zz" }) do
        assert.is_nil(quarry.fromhex(bad), bad)
      end
    end)

    it("refuse what is not a string, naming the argument", function()
      assert.has_error(function() quarry.tohex(12) end,
        "bad argument #1 to 'tohex' (string expected, got number)")
      assert.has_error(function() quarry.fromhex(nil) end,
        "bad argument #1 to 'fromhex' (string expected, got nil)")
      assert.has_error(function() quarry.fromhex("00", 1) end,
        "bad argument #2 to 'fromhex' (string expected, got number)")
    end)
  end)

  describe("quarry.clock", function()
    it("returns non-decreasing seconds", function()
      local a = quarry.clock()
      local b = quarry.clock()
      assert.is_number(a)
      assert.is_true(b >= a)
    end)
  end)
end)
