-- 32-verify: db:verify() reports what it read, family by family, and raises Corruption naming the
-- table file when a data block is damaged (and plain reads of that block never return altered
-- values); db:digest() / cf:digest() are deterministic content digests (documented format, pinned
-- here by a value computed independently with Python's hashlib), independent of history, fixed
-- by a snapshot.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local ls = helpers.ls

-- Flips one bit of the last byte of the first occurrence of needle in the file.
local function flip_in(path, needle)
  local f = assert(io.open(path, "r+b"))
  local data = f:read("a")
  local at = assert(data:find(needle, 1, true), "needle not found in " .. path)
  at = at + #needle - 2 -- 0-based offset of needle's last byte
  f:seek("set", at)
  f:write(string.char(data:byte(at + 1) ~ 1))
  f:close()
end

local OPTS = { column_families = { "a", "b" }, compression = "none", bottommost_compression = "none" }

describe("db:verify", function()
  local dir, db

  before_each(function()
    dir = helpers.tmpdir("verify")
    db = quarry.open(dir .. "/db", OPTS)
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("reports keys and bytes per family and in total", function()
    local a = db:cf("a")
    for i = 1, 1500 do a:put(("k%05d"):format(i), ("v"):rep(i % 50)) end
    db:flush(a)
    db:cf("b"):put("one", "1")
    local r = db:verify()
    local bytes = 0
    for i = 1, 1500 do bytes = bytes + 6 + i % 50 end
    assert.are.same({ keys = 1500, bytes = bytes }, r.families.a)
    assert.are.same({ keys = 1, bytes = 4 }, r.families.b)
    assert.are.same({ keys = 0, bytes = 0 }, r.families.default)
    assert.are.equal(1501, r.keys)
    assert.are.equal(bytes + 4, r.bytes)
    assert.are.equal(1, r.table_files)
    assert.is_true(r.table_bytes > bytes)
    assert.is_true(r.sequence >= 1501)
    db:close()
    db = quarry.open(dir .. "/db", { mode = "read_only" })
    assert.are.equal(1501, db:verify().keys)
  end)

  it("raises Corruption naming the file on a flipped byte in a data block; reads never return it", function()
    local a = db:cf("a")
    for i = 1, 2000 do a:put(("key%05d"):format(i), ("value-%05d-padding-padding"):format(i)) end
    db:flush(a)
    db:close()
    local sst
    for _, name in ipairs(ls(dir .. "/db")) do if name:match("%.sst$") then sst = name end end
    flip_in(dir .. "/db/" .. sst, "value-00010-padding")

    db = quarry.open(dir .. "/db", OPTS)
    a = db:cf("a")
    local err = helpers.raises_code("Corruption", sst, db.verify, db)
    assert.are.equal("verify", err.op)
    assert.truthy(err.message:find("family 'a'", 1, true))
    -- the damaged block's keys: an error, never a value
    helpers.raises_code("Corruption", sst, a.get, a, "key00010")
    helpers.raises_code("Corruption", nil, a.get, a, "key00011")
    helpers.raises_code("Corruption", nil, a.multi_get, a, { "key00009", "key00010" })
    local seen = {}
    helpers.raises_code("Corruption", nil, function()
      for k, v in a:pairs() do seen[#seen + 1] = k .. "=" .. v end
    end)
    assert.are.same({}, seen)
    helpers.raises_code("Corruption", nil, db.digest, db)
    -- other families stay readable
    db:cf("b"):put("x", "y")
    assert.are.equal("y", db:cf("b"):get("x"))
  end)
end)

describe("db:digest", function()
  local dir, db

  before_each(function()
    dir = helpers.tmpdir("digest")
    db = quarry.open(dir .. "/db", { column_families = { "a", "b" } })
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("follows the documented format", function()
    local fresh <close> = quarry.open(dir .. "/fresh")
    -- python3: sha256(b"\0"*7 + b"\x07" + b"default" + sha256(b"").digest()).hexdigest()
    assert.are.equal("0191f7932751931f019a0d081901bb199fdbb23ac60d28180af1a133ef970469",
      (fresh:digest()))
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      fresh:cf("default"):digest())
  end)

  it("returns the database digest and each family's; cf:digest agrees", function()
    db:cf("a"):put("k", "v")
    local total, families = db:digest()
    assert.are.equal(64, #total)
    assert.truthy(total:match("^[0-9a-f]+$"))
    assert.are.equal(families.a, db:cf("a"):digest())
    assert.are.equal(families.a, (db:digest(db:cf("a"))))
    assert.are.equal(families.b, families.default) -- both empty
    assert.are_not.equal(families.a, families.b)
    local _, second = db:digest(db:cf("a"))
    assert.is_nil(second)
  end)

  it("depends on contents only, not on history, files or write order", function()
    local other <close> = quarry.open(dir .. "/other", { column_families = { "b", "a" } })
    for i = 1, 2000 do db:cf("a"):put(("k%05d"):format(i), tostring(i * 3)) end
    db:flush()
    db:cf("b"):put("tmp", "x")
    db:cf("b"):delete("tmp")
    db:compact()
    for i = 2000, 1, -1 do
      other:cf("a"):put(("k%05d"):format(i), "first")
      other:cf("a"):put(("k%05d"):format(i), tostring(i * 3))
    end
    assert.are.equal(db:digest(), other:digest())
    other:cf("a"):put("k00001", "4")
    assert.are_not.equal(db:digest(), other:digest())
    other:cf("a"):put("k00001", "3")
    assert.are.equal(db:digest(), other:digest())
    -- the same pair in another family is different data
    other:cf("a"):delete("k00002")
    other:cf("b"):put("k00002", "6")
    assert.are_not.equal(db:digest(), other:digest())
  end)

  it("is fixed by a snapshot", function()
    db:put("k", "1")
    local snap <close> = db:snapshot()
    local before = db:digest()
    db:put("k", "2")
    assert.are_not.equal(before, db:digest())
    assert.are.equal(before, db:digest(nil, { snapshot = snap }))
    assert.are.equal(before, db:digest({ snapshot = snap }))
    local fam_before = db:cf("a"):digest({ snapshot = snap })
    db:cf("a"):put("z", "z")
    assert.are.equal(fam_before, db:cf("a"):digest({ snapshot = snap }))
    assert.are.equal(fam_before, (db:digest(db:cf("a"), { snapshot = snap })))
  end)

  it("checks its arguments", function()
    local other <close> = quarry.open(dir .. "/other")
    local s <close> = other:snapshot()
    helpers.raises_code("InvalidArgument", "belongs to another database", db.digest, db, nil,
      { snapshot = s })
    helpers.raises_code("InvalidArgument", "unknown digest option 'snap'", db.digest, db,
      { snap = s })
    helpers.raises_code("InvalidArgument", "must be a quarry.snapshot", db.digest, db,
      { snapshot = true })
    helpers.raises_code("InvalidArgument", "another database", db.digest, db, other:cf("default"))
    local closed = db:snapshot()
    closed:close()
    helpers.raises_code("Closed", nil, db.digest, db, { snapshot = closed })
    db:close()
    helpers.raises_code("Closed", nil, db.digest, db)
    helpers.raises_code("Closed", nil, db.verify, db)
  end)
end)
