-- 07-modes: another process holds the database open for writing: a read_write open raises
-- Locked (naming read_only and secondary); read_only and secondary opens work; a secondary
-- sees the primary's new writes after catch_up().
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
  local path, primary

  before_each(function()
    path = helpers.tmpdir("modes") .. "/db"
    primary = helpers.spawn_lua(primary_source, { QUARRY_SPEC_DB = path })
    assert.are.equal("ready", primary.recv(), primary.stderr())
  end)

  after_each(function()
    local ok, err = primary.finish()
    assert(ok, "the primary process failed: " .. err)
    helpers.collect_and_cleanup()
  end)

  it("refuses a read_write open while another process holds the database", function()
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

  it("opens as a secondary that follows the primary after catch_up", function()
    local db = quarry.open(path, { mode = "secondary", secondary_path = helpers.tmpdir("secondary") })
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
end)
