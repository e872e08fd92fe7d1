-- 30-checkpoint: db:checkpoint(dir) gives an openable copy equal to the database at that moment
-- (later writes do not reach it), hard-linked on one filesystem, complete without a WAL; it refuses
-- an existing target, a missing parent, read-only handles and closed databases.
-- The concurrent case (a checkpoint while another thread commits batches, compared with the
-- snapshot at the sequence number the checkpoint recovered to) is core/tests/test_checkpoint.c:
-- Lua has no threads, and no other process can write to a database this process has open.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local function inode(path)
  local p = assert(io.popen("stat -c %i " .. helpers.shell_quote(path)))
  local out = p:read("a")
  p:close()
  return tonumber(out)
end

local function first_sst(dir)
  for _, name in ipairs(helpers.ls(dir)) do
    if name:match("%.sst$") then return name end
  end
end

local function fill(db, from, to)
  local blocks = db:cf("blocks")
  db:write(function(b)
    for h = from, to do
      b:put(blocks, string.pack(">I8", h), ("block %d "):format(h) .. ("x"):rep(100))
      b:put(db:cf("undo"), string.pack(">I8", h), ("undo %d"):format(h))
    end
  end)
end

describe("db:checkpoint", function()
  local dir, db

  before_each(function()
    dir = helpers.tmpdir("checkpoint")
    db = quarry.open(dir .. "/db", { column_families = { "blocks", "undo" } })
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("opens with the digest of the database at the moment it was taken", function()
    fill(db, 1, 2000)
    db:flush()
    fill(db, 2001, 2500) -- still in the memtables
    local snap = db:snapshot()
    db:checkpoint(dir .. "/cp")
    fill(db, 2501, 3000) -- after the checkpoint: not in it
    db:delete("nothing")
    local want = db:digest(nil, { snapshot = snap })
    assert.are_not.equal(want, db:digest())
    local cp <close> = quarry.open(dir .. "/cp", { mode = "read_only" })
    local got, families = cp:digest()
    assert.are.equal(want, got)
    assert.are.same({ "blocks", "default", "undo" }, (function()
      local t = {}
      for name in pairs(families) do t[#t + 1] = name end
      table.sort(t)
      return t
    end)())
    assert.are.equal(2500, cp:verify().families.blocks.keys)
    snap:close()
  end)

  it("hard-links table files on the same filesystem", function()
    fill(db, 1, 1000)
    db:flush()
    db:checkpoint(dir .. "/cp")
    local sst = first_sst(dir .. "/cp")
    assert.is_not_nil(sst)
    assert.are.equal(inode(dir .. "/db/" .. sst), inode(dir .. "/cp/" .. sst))
  end)

  it("keeps what is only in the memtables when the WAL is off", function()
    db:close()
    db = quarry.open(dir .. "/nowal", { preset = "development", column_families = { "blocks", "undo" } })
    assert.is_false(db:tuning().wal)
    fill(db, 1, 300)
    local want = db:digest()
    db:checkpoint(dir .. "/cp")
    db:close()
    db = nil
    local cp <close> = quarry.open(dir .. "/cp")
    assert.are.equal(want, cp:digest())
    assert.are.equal("block 7 " .. ("x"):rep(100), cp:cf("blocks"):get(string.pack(">I8", 7)))
  end)

  it("refuses an existing target, naming it", function()
    db:checkpoint(dir .. "/cp")
    local err = helpers.raises_code("InvalidArgument", "already exists; choose a new directory",
      db.checkpoint, db, dir .. "/cp")
    assert.are.equal("checkpoint", err.op)
    assert.truthy(err.message:find(dir .. "/cp", 1, true))
    helpers.write_file(dir .. "/file", "x")
    helpers.raises_code("InvalidArgument", "already exists", db.checkpoint, db, dir .. "/file")
  end)

  it("refuses a target whose parent does not exist, naming the parent", function()
    local err = helpers.raises_code("IOError", "does not exist", db.checkpoint, db,
      dir .. "/no/such/cp")
    assert.truthy(err.message:find(dir .. "/no/such", 1, true))
  end)

  it("needs a read-write handle and an open database", function()
    db:close()
    helpers.raises_code("Closed", nil, db.checkpoint, db, dir .. "/cp")
    db = quarry.open(dir .. "/db", { mode = "read_only" })
    helpers.raises_code("NotSupported", nil, db.checkpoint, db, dir .. "/cp")
    assert.is_false(helpers.exists(dir .. "/cp"))
    helpers.raises_plain("string expected", db.checkpoint, db)
  end)

  it("checkpoints again and again into new directories while writes go on", function()
    local snaps, digests = {}, {}
    for i = 1, 5 do
      fill(db, i * 100, i * 100 + 99)
      snaps[i] = db:snapshot()
      db:checkpoint(("%s/cp%d"):format(dir, i))
      digests[i] = db:digest(nil, { snapshot = snaps[i] })
    end
    for i = 1, 5 do
      local cp <close> = quarry.open(("%s/cp%d"):format(dir, i), { mode = "read_only" })
      assert.are.equal(digests[i], cp:digest())
      snaps[i]:close()
    end
  end)
end)
