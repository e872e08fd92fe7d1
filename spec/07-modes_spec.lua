-- 07-modes: another process holds the database open for writing: a read_write open raises
-- Locked (naming read_only and secondary); read_only and secondary opens work; a secondary
-- sees the primary's new writes after catch_up(); what needs a snapshot (digest, verify) or a
-- read_write handle (checkpoint, backups:create) is refused with the reason and what to do.
-- Over PostgreSQL (QUARRY_SPEC_BACKEND=postgresql) there is no lock and no read_only/secondary
-- open (RocksDB-only: a server serves many writers; its followers are streaming standbys): the
-- second process opens read_write beside the first and sees its writes at once, a read_only open
-- works as over RocksDB, and a secondary open is asserted to raise NotSupported.
local quarry = require("quarry")
local helpers = require("spec.helpers")

-- The primary: opens the db for writing, then obeys "put <key> <value>" lines until EOF.
local primary_source = [[
  local quarry = require("quarry")
  local db = quarry.open(os.getenv("QUARRY_SPEC_DB"))
  db:put("k1", "v1", { sync = true })
  io.write("ready\n")
  io.stdout:flush()
  for line in io.lines() do
    local key, value = line:match("^put (%S+) (%S+)$")
    db:put(key, value, { sync = true })
    io.write("ok\n")
    io.stdout:flush()
  end
  db:close()
]]

describe("modes", function()
  if helpers.backend_pending(pending) then return end
  local path, primary

  before_each(function()
    path = helpers.backend("modes")
    primary = helpers.spawn_lua(primary_source, { QUARRY_SPEC_DB = path })
    assert.are.equal("ready", primary.recv(), primary.stderr())
  end)

  after_each(function()
    local ok, err = primary.finish()
    assert(ok, "the primary process failed: " .. err)
    helpers.collect_and_cleanup()
  end)

  -- quarry.open(path, opts) for a RocksDB-only mode: the handle; over PostgreSQL, asserts that
  -- the open raises NotSupported and returns nil (the test ends there).
  local function open_mode(opts)
    if helpers.rocksdb then return quarry.open(path, opts) end
    local err = helpers.raises_code("NotSupported", nil, quarry.open, path, opts)
    assert.are.equal("open", err.op)
    return nil
  end

  -- One test or the other, by backend.
  local on_pg, on_rocksdb = helpers.only("postgresql", it), helpers.only("rocksdb", it)

  on_pg("opens read_write beside another process over PostgreSQL, seeing its writes at once", function()
    local db <close> = quarry.open(path)
    assert.are.equal("v1", db:get("k1"))
    primary.send("put k2 v2")
    assert.are.equal("ok", primary.recv(), primary.stderr())
    assert.are.equal("v2", db:get("k2"))
    db:put("k3", "mine")
    assert.are.equal("mine", db:get("k3"))
  end)

  on_rocksdb("refuses a read_write open while another process holds the database", function()
    local err = helpers.raises_code("Locked", "read_only", quarry.open, path)
    assert.are.equal("open", err.op)
    assert.matches("secondary", err.message, 1, true)
    helpers.raises_code("Locked", nil, quarry.destroy, path)
  end)

  it("opens read_only: reads work, writes are refused", function()
    local db = quarry.open(path, { mode = "read_only" })
    assert.are.equal("read_only", db:mode())
    assert.are.equal("v1", db:get("k1"))
    helpers.raises_code("NotSupported", nil, db.put, db, "k", "v")
    helpers.raises_code("NotSupported", nil, db.write, db, function(b) b:put("k", "v") end)
    helpers.raises_code("NotSupported", nil, db.catch_up, db)
    db:close()
  end)

  it("opens as a secondary that follows the primary after catch_up (RocksDB only)", function()
    local db = open_mode({ mode = "secondary", secondary_path = helpers.tmpdir("secondary") })
    if not db then return end
    assert.are.equal("secondary", db:mode())
    assert.are.equal("v1", db:get("k1"))

    primary.send("put k2 v2")
    assert.are.equal("ok", primary.recv(), primary.stderr())
    assert.is_nil(db:get("k2")) -- not replayed yet
    db:catch_up()
    assert.are.equal("v2", db:get("k2"))

    primary.send("put k3 v3")
    assert.are.equal("ok", primary.recv(), primary.stderr())
    db:catch_up()
    local keys = {}
    for k in db:pairs() do keys[#keys + 1] = k end
    assert.are.same({ "k1", "k2", "k3" }, keys)

    helpers.raises_code("NotSupported", nil, db.put, db, "k", "v")
    db:close()
  end)

  it("refuses digest and verify on a secondary, saying why and to open read_only instead", function()
    local db <close> = open_mode({ mode = "secondary", secondary_path = helpers.tmpdir("secondary") })
    if not db then return end
    for _, call in ipairs({
      { "digest", db.digest, db },
      { "digest", db.digest, db, db:cf("default") },
      { "digest", db:cf("default").digest, db:cf("default") },
      { "verify", db.verify, db },
    }) do
      local op = call[1]
      local err = helpers.raises_code("NotSupported",
        op .. " reads the database at one snapshot, and RocksDB cannot read a database opened "
        .. "secondary at a snapshot", table.unpack(call, 2))
      assert.are.equal(op, err.op)
      assert.matches('open the database with mode = "read_only" and call ' .. op .. " there",
        err.message, 1, true)
      -- nothing about damage: the files are fine
      assert.is_nil(err.message:find("damaged", 1, true), err.message)
      assert.is_nil(err.message:find(".sst", 1, true), err.message)
    end
    -- the advice holds: read_only opens while the primary runs, and both work there
    local ro <close> = quarry.open(path, { mode = "read_only" })
    assert.are.equal(1, ro:verify().keys)
    assert.are.equal(64, #ro:digest())
  end)

  it("refuses snapshots on a secondary: RocksDB's get would ignore them", function()
    local db <close> = open_mode({ mode = "secondary", secondary_path = helpers.tmpdir("secondary") })
    if not db then return end
    local err = helpers.raises_code("NotSupported",
      "RocksDB cannot read a database opened secondary at a snapshot (get would ignore it)", db.snapshot, db)
    assert.are.equal("snapshot", err.op)
    assert.matches('open the database with mode = "read_only"', err.message, 1, true)
    -- the secondary still reads, without a snapshot, and a read_only open gives the fixed view
    assert.are.equal("v1", db:get("k1"))
    local ro <close> = quarry.open(path, { mode = "read_only" })
    local snap <close> = ro:snapshot()
    assert.are.equal("v1", ro:get("k1", { snapshot = snap }))
  end)

  it("refuses checkpoint and backups:create on secondary and read_only handles: they need read_write", function()
    local sec <close> = open_mode({ mode = "secondary", secondary_path = helpers.tmpdir("secondary") })
    if not sec then return end -- over PostgreSQL: spec/08 has checkpoint's NotSupported
    local ro <close> = quarry.open(path, { mode = "read_only" })
    local dir = helpers.tmpdir("copies")
    local backups <close> = quarry.backups(dir .. "/backups")
    for _, db in ipairs({ sec, ro }) do
      local mode = db:mode()
      local err = helpers.raises_code("NotSupported",
        "checkpoint needs a database opened read_write (it flushes the memtables first); this one "
        .. "is opened " .. mode .. ": take the checkpoint with a read_write handle",
        db.checkpoint, db, dir .. "/cp")
      assert.are.equal("checkpoint", err.op)
      assert.is_false(helpers.exists(dir .. "/cp"))
      err = helpers.raises_code("NotSupported",
        "backup needs a database opened read_write; this one is opened " .. mode
        .. ": create the backup with a read_write handle", backups.create, backups, db)
      assert.are.equal("backup", err.op)
      assert.are.same({}, backups:list())
    end
  end)
end)
