-- 08-maintenance: flush, compact, properties, approximate sizes and size on disk, for the whole
-- database and for one family; read-only databases refuse flush and compact. These are RocksDB's
-- (memtables, table files, rocksdb.* properties): over PostgreSQL each raises NotSupported naming
-- the server's own way (the last test), and the RocksDB cases are not registered there.
local quarry = require("quarry")
local helpers = require("spec.helpers")

describe("maintenance", function()
  if helpers.backend_pending(pending) then return end
  local path, db, cf

  before_each(function()
    path = helpers.backend("maint")
    db = quarry.open(path, { column_families = { "items" }, env = false })
    cf = db:cf("items")
  end)

  after_each(function()
    db, cf = helpers.close_and_cleanup(db), nil
  end)

  local on_rocksdb, on_pg = helpers.only("rocksdb", it), helpers.only("postgresql", it)

  -- n keys k000001.. with incompressible values of size bytes, ending with the key number
  local function fill(target, n, size)
    local bytes = {}
    for i = 1, n do
      for j = 1, size do bytes[j] = math.random(0, 255) end
      target:put(("k%06d"):format(i), string.char(table.unpack(bytes)) .. i)
    end
  end

  on_rocksdb("flush writes memtables to table files, visible in properties and sizes", function()
    fill(cf, 2000, 100)
    assert.are.equal("0", db:property("rocksdb.num-files-at-level0", cf))
    assert.are.equal(0, db:approximate_size(cf, "k", "l")) -- memtables are not counted
    db:flush(cf)
    assert.are.equal("1", db:property("rocksdb.num-files-at-level0", cf))
    local size = db:approximate_size(cf, "k", "l")
    assert.is_true(size > 50000, "approximate size " .. size)
    assert.is_true(db:approximate_size(cf) >= size) -- no bounds: the whole family
    assert.is_true(db:approximate_size(cf, "k000001", "k000100") < size)
    -- the default family holds nothing
    assert.are.equal(0, db:approximate_size("k", "l"))
  end)

  on_rocksdb("flushes and compacts every family when none is named", function()
    fill(db, 500, 50)
    fill(cf, 500, 50)
    db:flush()
    assert.are.equal("1", db:property("rocksdb.num-files-at-level0"))
    assert.are.equal("1", db:property("rocksdb.num-files-at-level0", cf))
    fill(cf, 500, 60)
    db:flush(cf)
    assert.are.equal("2", db:property("rocksdb.num-files-at-level0", cf))
    db:compact()
    assert.are.equal("0", db:property("rocksdb.num-files-at-level0", cf))
    assert.are.equal(63, #cf:get("k000500")) -- the latest of the two values
  end)

  on_rocksdb("compacts a key range of one family", function()
    fill(cf, 500, 50)
    db:flush(cf)
    cf:delete_range("k000001", "k000400")
    db:flush(cf)
    db:compact(cf, "k000001", "k000400")
    assert.is_nil(cf:get("k000001"))
    assert.is_not_nil(cf:get("k000450"))
  end)

  on_rocksdb("reports properties as strings, nil for an unknown one", function()
    fill(cf, 10, 10)
    assert.matches("^%d+$", db:property("rocksdb.estimate-num-keys", cf))
    assert.is_string(db:property("rocksdb.stats"))
    assert.is_nil(db:property("rocksdb.no-such-property"))
  end)

  on_rocksdb("measures the database directory on disk", function()
    local before = db:size_on_disk()
    assert.is_true(before > 0)
    fill(cf, 2000, 200)
    db:flush(cf)
    assert.is_true(db:size_on_disk() > before + 100000)
  end)

  on_rocksdb("refuses flush and compact on a read-only database", function()
    db:put("k", "v")
    db:close()
    db = quarry.open(path, { mode = "read_only" })
    cf = db:cf("items")
    helpers.raises_code("NotSupported", nil, db.flush, db)
    helpers.raises_code("NotSupported", nil, db.compact, db)
    assert.is_string(db:property("rocksdb.stats"))
  end)

  on_pg("raises NotSupported for compact, properties, sizes and checkpoint over PostgreSQL, naming the server's way", function()
    cf:put("k", "v")
    for _, call in ipairs({
      { "compact", "VACUUM", db.compact, db }, { "compact", "VACUUM", db.compact, db, cf, "a", "z" },
      { "property", "pg_stat_user_tables", db.property, db, "rocksdb.stats" },
      { "approximate_size", "pg_total_relation_size", db.approximate_size, db, cf, "a", "z" },
      { "size_on_disk", "pg_database_size", db.size_on_disk, db },
      { "checkpoint", "pg_basebackup", db.checkpoint, db, helpers.tmpdir("maint") .. "/cp" },
    }) do
      local err = helpers.raises_code("NotSupported", call[2], table.unpack(call, 3))
      assert.are.equal(call[1], err.op)
      assert.matches("PostgreSQL", err.message, 1, true)
    end
    -- flush has nothing to do (every write is on the server when it returns): it succeeds, and
    -- another handle sees the write
    db:flush()
    db:flush(cf)
    local other <close> = quarry.open(path, { column_families = { "items" } })
    assert.are.equal("v", other:cf("items"):get("k"))
  end)

  it("raises argument errors naming the argument", function()
    helpers.raises_plain("bad argument #1 to 'flush' (quarry.cf or nil expected, got string)",
      function() db:flush("items") end)
    helpers.raises_plain("bad argument #1 to 'property' (string expected, got nil)",
      function() db:property(nil) end)
    helpers.raises_plain("bad argument #3 to 'compact' (string expected, got number)",
      function() db:compact(cf, "a", 5) end)
    local other = quarry.open(helpers.backend("maint"), { column_families = { "items" } })
    helpers.raises_code("InvalidArgument", "another database", db.flush, db, other:cf("items"))
    other:close()
  end)
end)
