-- 02-rw: reads and writes on the default family (db) and on named families (cf): get, put,
-- delete, delete_range, multi_get, binary safety, option tables and argument errors.
local quarry = require("quarry")
local helpers = require("spec.helpers")

describe("reads and writes", function()
  if helpers.backend_pending(pending) then return end
  local db, users

  before_each(function()
    db = quarry.open(helpers.backend("rw"), { column_families = { "users" } })
    users = db:cf("users")
  end)

  after_each(function()
    db, users = helpers.close_and_cleanup(db), nil
  end)

  it("puts, gets and deletes; a missing key is nil", function()
    assert.is_nil(db:get("k"))
    db:put("k", "v1")
    assert.are.equal("v1", db:get("k"))
    db:put("k", "v2")
    assert.are.equal("v2", db:get("k"))
    db:delete("k")
    assert.is_nil(db:get("k"))
    db:delete("never-written") -- deleting a missing key is not an error
  end)

  it("keeps families apart", function()
    db:put("k", "in default")
    users:put("k", "in users")
    assert.are.equal("in default", db:get("k"))
    assert.are.equal("in users", users:get("k"))
    assert.are.equal("in users", db:cf("users"):get("k"))
    users:delete("k")
    assert.is_nil(users:get("k"))
    assert.are.equal("in default", db:get("k"))
  end)

  it("round-trips binary keys and values with NUL bytes", function()
    local key = "a\0b\0\0c"
    local value = "\0\1\2\255\0"
    users:put(key, value)
    assert.are.equal(value, users:get(key))
    assert.are.equal(#value, #users:get(key))
    -- the prefix before the first NUL is a different key
    assert.is_nil(users:get("a"))
    users:put("a", "short")
    assert.are.equal(value, users:get(key))
    assert.are.equal("short", users:get("a"))
  end)

  it("stores bytes that are not UTF-8, and empty values and keys", function()
    local latin1 = "caf\233 \255\254"
    db:put(latin1, latin1)
    assert.are.equal(latin1, db:get(latin1))
    db:put("empty", "")
    assert.are.equal("", db:get("empty"))
    db:put("", "empty key")
    assert.are.equal("empty key", db:get(""))
  end)

  it("stores large values", function()
    local big = string.rep("0123456789abcdef", 64 * 1024) -- 1 MiB
    db:put("big", big)
    assert.are.equal(big, db:get("big"))
  end)

  it("refuses keys over 8 MiB with InvalidArgument", function()
    local huge = string.rep("k", 8 * 1024 * 1024 + 1)
    helpers.raises_code("InvalidArgument", nil, db.put, db, huge, "v")
  end)

  it("deletes a range [from, to)", function()
    for _, k in ipairs({ "a", "b", "c", "d", "e" }) do users:put(k, k) end
    users:delete_range("b", "d")
    assert.are.equal("a", users:get("a"))
    assert.is_nil(users:get("b"))
    assert.is_nil(users:get("c"))
    assert.are.equal("d", users:get("d"))
    assert.are.equal("e", users:get("e"))
    helpers.raises_code("InvalidArgument", nil, users.delete_range, users, "d", "b")
  end)

  it("multi_get returns values in key order with nil holes and n", function()
    db:put("a", "1")
    db:put("c", "3")
    local t = db:multi_get({ "a", "b", "c", "zz" })
    assert.are.equal(4, t.n)
    assert.are.equal("1", t[1])
    assert.is_nil(t[2])
    assert.are.equal("3", t[3])
    assert.is_nil(t[4])
    local empty = db:multi_get({})
    assert.are.equal(0, empty.n)
    assert.is_nil(next(empty, "n") or empty[1])
    users:put("a\0x", "bin")
    assert.are.equal("bin", users:multi_get({ "nope", "a\0x" })[2])
  end)

  it("accepts read and write option tables", function()
    db:put("k", "v", { sync = true })
    db:put("k2", "v2", { wal = true, sync = false })
    assert.are.equal("v", db:get("k", { fill_cache = false, verify_checksums = true }))
    assert.are.same({ "v", "v2", n = 2 }, db:multi_get({ "k", "k2" }, { verify_checksums = true }))
    db:delete("k", { sync = true })
    db:delete_range("a", "z", { sync = false })
    assert.is_nil(db:get("k2"))
  end)

  it("refuses unknown option keys and bad option values, naming them", function()
    helpers.raises_code("InvalidArgument", "syncc", db.put, db, "k", "v", { syncc = true })
    helpers.raises_code("InvalidArgument", "sync", db.put, db, "k", "v", { sync = "yes" })
    helpers.raises_code("InvalidArgument", "cache", db.get, db, "k", { cache = false })
    helpers.raises_code("InvalidArgument", "snapshot", db.get, db, "k", { snapshot = "now" })
    helpers.raises_code("InvalidArgument", "verify_checksums", users.multi_get, users, { "k" },
      { verify_checksums = 1 })
    assert.is_nil(db:get("k")) -- the refused put wrote nothing
  end)

  it("raises argument errors naming the argument for wrong types", function()
    helpers.raises_plain("bad argument #1 to 'get' (string expected, got nil)", function() return db:get(nil) end)
    helpers.raises_plain("bad argument #1 to 'put' (string expected, got number)", function() db:put(1, "v") end)
    helpers.raises_plain("bad argument #2 to 'put' (string expected, got nil)", function() users:put("k", nil) end)
    helpers.raises_plain("bad argument #2 to 'put' (string expected, got table)", function() db:put("k", {}) end)
    helpers.raises_plain("bad argument #1 to 'delete' (string expected, got boolean)", function() db:delete(true) end)
    helpers.raises_plain("bad argument #2 to 'delete_range' (string expected, got nil)",
      function() db:delete_range("a", nil) end)
    helpers.raises_plain("bad argument #2 to 'get' (table expected, got string)", function() db:get("k", "x") end)
    helpers.raises_plain("bad argument #1 to 'multi_get' (table expected, got string)",
      function() db:multi_get("k") end)
    helpers.raises_plain("keys[2] must be a string, got number", function() db:multi_get({ "a", 2 }) end)
    helpers.raises_plain("quarry.db or quarry.cf expected", function() db.get({}, "k") end)
    assert.is_nil(db:get("1")) -- numbers are not silently turned into keys
  end)
end)
