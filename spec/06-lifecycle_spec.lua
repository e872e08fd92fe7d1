-- 06-lifecycle: handles and their lifetimes: every method of every type raises Closed after
-- close, closing twice is harmless, <close> scopes, db:close() with live children, children
-- keeping their db alive, any garbage-collection order, and tostring of each type.
local quarry = require("quarry")
local helpers = require("spec.helpers")

-- Plausible arguments for each method name, so that only the closed state can make it fail.
local function args_for(name, h)
  local args = {
    get = { "k" }, put = { "k", "v" }, delete = { "k" }, delete_range = { "a", "b" },
    multi_get = { { "k" } }, seek = { "k" }, seek_for_prev = { "k" }, cf = { "default" },
    create_column_family = { "new" }, drop_column_family = { "default" },
    write = { function() end }, property = { "rocksdb.stats" }, approximate_size = { "a", "b" },
  }
  return args[name] or {}
end

local function methods_of(h)
  local names = {}
  for name in pairs(getmetatable(h).__index) do
    if name ~= "close" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- Asserts that every method of h but close raises Closed; returns how many were checked.
local function assert_all_closed(h, by_db)
  local names = methods_of(h)
  for _, name in ipairs(names) do
    local err = helpers.raises_code("Closed", "is closed", h[name], h, table.unpack(args_for(name, h)))
    assert.are.equal(name, err.op)
    if by_db then assert.matches("its database was closed", err.message, 1, true) end
  end
  return #names
end

-- Whether a handle was really closed. RocksDB: quarry.destroy answers Busy while any handle of
-- this process (or a child keeping one alive) holds the engine, and succeeds once none does.
-- PostgreSQL (no destroy there: NotSupported): the server's own count of this database's
-- connections (pg_stat_activity), which the handle's pool holds open until the engine goes;
-- a closed connection leaves the view once its server process has exited, so that count is
-- read until it is 0 (bounded). (Reopening is no proof: a second open in this process shares
-- the live engine and succeeds beside it.)
local function pg_connections(path)
  local dbname = path:match("/([%w_]+)$")
  return tonumber(helpers.pg_admin_sql(
    ("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"):format(dbname)))
end

local function assert_held(path)
  if helpers.pg then
    local n = pg_connections(path)
    assert(n > 0, "no connection to the database: the engine was released")
    return
  end
  helpers.raises_code("Busy", nil, quarry.destroy, path)
end

local function assert_released(path)
  if helpers.pg then
    local n
    for _ = 1, 100 do
      n = pg_connections(path)
      if n == 0 then return end
      os.execute("sleep 0.05")
    end
    error(("a handle still holds the database: %d connections to it"):format(n))
  end
  local ok, err = pcall(quarry.destroy, path)
  assert(ok, "a handle still holds the database: quarry.destroy answered " .. tostring(err))
end

-- The value of key in family cf (nil: the default one) of the database at path, opened and
-- closed again for the reading.
local function read_back(path, key, cf)
  local db <close> = quarry.open(path, cf and { column_families = { cf } } or nil)
  return (cf and db:cf(cf) or db):get(key)
end

describe("lifecycle", function()
  if helpers.backend_pending(pending) then return end
  local path

  before_each(function()
    path = helpers.backend("life")
  end)

  after_each(helpers.collect_and_cleanup)

  local function open_with_children()
    local db = quarry.open(path, { column_families = { "items" } })
    local h = {
      db = db,
      cf = db:cf("items"),
      batch = db:batch(),
      iterator = db:iterator(),
      snapshot = db:snapshot(),
    }
    h.cf:put("k", "v")
    return h
  end

  it("names each type and its state in tostring", function()
    local h = open_with_children()
    assert.are.equal(("quarry.db (%s, open)"):format(helpers.shown(path)), tostring(h.db))
    assert.are.equal("quarry.cf (items, open)", tostring(h.cf))
    assert.are.equal("quarry.batch (0 operations, open)", tostring(h.batch))
    assert.matches("^quarry%.iterator %(open", tostring(h.iterator))
    assert.matches("^quarry%.snapshot %(sequence %d+, open%)$", tostring(h.snapshot))
    h.cf:close()
    assert.are.equal("quarry.cf (items, closed)", tostring(h.cf))
    h.db:close()
    assert.are.equal(("quarry.db (%s, closed)"):format(helpers.shown(path)), tostring(h.db))
    assert.are.equal("quarry.batch (closed)", tostring(h.batch))
    assert.are.equal("quarry.iterator (closed)", tostring(h.iterator))
    assert.are.equal("quarry.snapshot (closed)", tostring(h.snapshot))
  end)

  it("raises Closed from every method of every type after its own close", function()
    local h = open_with_children()
    local checked = 0
    for _, kind in ipairs({ "cf", "batch", "iterator", "snapshot", "db" }) do
      h[kind]:close()
      checked = checked + assert_all_closed(h[kind])
    end
    -- a sanity floor: the method tables are not empty
    assert.is_true(checked > 40, "only " .. checked .. " methods checked")
  end)

  it("raises Closed from every child method after db:close() with live children", function()
    local h = open_with_children()
    h.batch:put("b", "1")
    h.iterator:first()
    assert.are.same({ iterators = 1, snapshots = 1, batches = 1 }, h.db:live_children())
    h.db:close()
    for _, kind in ipairs({ "cf", "batch", "iterator", "snapshot" }) do
      assert_all_closed(h[kind], true)
    end
    assert_all_closed(h.db)
    -- closing the children afterwards is harmless
    for _, kind in ipairs({ "cf", "batch", "iterator", "snapshot" }) do
      h[kind]:close()
    end
  end)

  it("ends a pairs loop with Closed when the db closes mid-loop", function()
    local db = quarry.open(path)
    db:put("a", "1")
    db:put("b", "2")
    local err = helpers.quarry_error(function()
      for _ in db:pairs() do db:close() end
    end)
    assert.are.equal("Closed", err.code)
  end)

  it("closes twice harmlessly, for every type", function()
    local h = open_with_children()
    for _, kind in ipairs({ "cf", "batch", "iterator", "snapshot", "db" }) do
      h[kind]:close()
      h[kind]:close()
    end
    assert.are.equal("v", read_back(path, "k", "items"))
    assert_released(path)
  end)

  it("closes a <close> database at the end of its scope", function()
    local seen
    do
      local db <close> = quarry.open(path)
      db:put("k", "v")
      seen = db
      assert_held(path)
    end
    assert.matches("closed%)$", tostring(seen))
    assert.are.equal("v", read_back(path, "k"))
    assert_released(path)
  end)

  it("closes <close> children at the end of their scope", function()
    local db <close> = quarry.open(path)
    do
      local it <close> = db:iterator()
      local snap <close> = db:snapshot()
      local b <close> = db:batch()
      assert.are.same({ iterators = 1, snapshots = 1, batches = 1 }, db:live_children())
    end
    assert.are.same({ iterators = 0, snapshots = 0, batches = 0 }, db:live_children())
  end)

  it("closes a <close> database when its scope is left by an error", function()
    local seen
    local ok = pcall(function()
      local db <close> = quarry.open(path)
      seen = db
      error("leaving")
    end)
    assert.is_false(ok)
    assert.matches("closed%)$", tostring(seen))
    assert_released(path)
  end)

  it("keeps the database alive while a child exists", function()
    local it = quarry.open(path):iterator() -- the db handle is referenced only by the iterator
    collectgarbage()
    collectgarbage()
    assert.is_false(it:first()) -- still usable: the db was not collected
    assert_held(path)
    it:close()
    it = nil
    collectgarbage()
    collectgarbage()
    -- once both are garbage, the db is closed by its __gc and the engine is released
    assert_released(path)
  end)

  it("survives dropping the db before its children, whatever the collection order", function()
    for round = 1, 20 do
      local h = open_with_children()
      h.iterator:first()
      h.batch:put("x", "y")
      local its = {}
      for i = 1, 5 do its[i] = h.cf:iterator({ snapshot = h.snapshot }) end
      if round % 2 == 0 then h.db:close() end
      h, its = nil, nil
      collectgarbage()
      collectgarbage()
    end
    -- every handle was released
    assert.are.equal("v", read_back(path, "k", "items"))
    assert_released(path)
  end)

  it("closes the database and flushes acknowledged writes when a process exits without closing", function()
    local ok, _, err = helpers.run_lua(([[
      local quarry = require("quarry")
      local db = quarry.open(%q, { column_families = { "items" } })
      db:put("k", "written")
      db:cf("items"):put("c", "in a family")
      local it = db:iterator()
      it:first()
      local snap, b, cf = db:snapshot(), db:batch(), db:cf("items")
      b:put("never", "committed")
      os.exit(0, true) -- closes the Lua state: __gc in whatever order
    ]]):format(path))
    assert(ok, err)
    local db = quarry.open(path)
    assert.are.equal("written", db:get("k"))
    assert.are.equal("in a family", db:cf("items"):get("c"))
    assert.is_nil(db:get("never"))
    db:close()
  end)

  it("opens a database twice in one process as two handles on one engine", function()
    local db = quarry.open(path)
    local db2 = quarry.open(path) -- shares the engine (spec 52 has more)
    db:put("k", "v")
    assert.are.equal("v", db2:get("k"))
    db:close()
    assert.are.equal("v", db2:get("k"))
    assert_held(path)
    db2:close()
    assert_released(path)
  end)
end)
