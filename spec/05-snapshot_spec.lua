-- 05-snapshot: snapshots give consistent reads (get, multi_get, pairs, iterator) isolated from
-- later writes, deletes and batches, across families; they belong to one database.
local quarry = require("quarry")
local helpers = require("spec.helpers")

describe("snapshots", function()
  if helpers.backend_pending(pending) then return end
  local db, cf

  before_each(function()
    db = quarry.open(helpers.backend("snap"), { column_families = { "items" } })
    cf = db:cf("items")
  end)

  after_each(function()
    db, cf = helpers.close_and_cleanup(db), nil
  end)

  it("isolates reads from later writes, deletes and batches", function()
    db:put("k", "old")
    cf:put("gone", "here")
    local snap = db:snapshot()
    db:put("k", "new")
    db:put("added", "x")
    cf:delete("gone")
    db:write(function(b) b:put(cf, "batched", "y") end)

    assert.are.equal("old", db:get("k", { snapshot = snap }))
    assert.is_nil(db:get("added", { snapshot = snap }))
    assert.are.equal("here", cf:get("gone", { snapshot = snap }))
    assert.is_nil(cf:get("batched", { snapshot = snap }))
    local t = db:multi_get({ "k", "added" }, { snapshot = snap })
    assert.are.equal("old", t[1])
    assert.is_nil(t[2])

    -- the latest view sees everything
    assert.are.equal("new", db:get("k"))
    assert.is_nil(cf:get("gone"))
    assert.are.equal("y", cf:get("batched"))
    snap:close()
  end)

  it("gives iterators the same frozen view", function()
    cf:put("a", "1")
    cf:put("b", "2")
    local snap = db:snapshot()
    cf:put("c", "3")
    cf:delete("a")
    local keys = {}
    for k in cf:pairs({ snapshot = snap }) do keys[#keys + 1] = k end
    assert.are.same({ "a", "b" }, keys)
    local it = cf:iterator({ snapshot = snap })
    it:last()
    assert.are.equal("b", it:key())
    it:close()
    snap:close()
  end)

  it("keeps its view while an iterator uses it, even unreferenced", function()
    cf:put("a", "1")
    local it = cf:iterator({ snapshot = db:snapshot() })
    cf:put("b", "2")
    collectgarbage()
    collectgarbage()
    assert.are.equal(1, db:live_children().snapshots) -- held by the iterator
    it:first()
    assert.are.equal("a", it:key())
    it:next()
    assert.is_false(it:valid())
    it:close()
    it = nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(0, db:live_children().snapshots)
  end)

  it("has increasing sequence numbers", function()
    local s1 = db:snapshot()
    db:put("k", "v")
    local s2 = db:snapshot()
    assert.is_true(math.type(s1:sequence()) == "integer")
    assert.is_true(s2:sequence() > s1:sequence())
    s1:close()
    s2:close()
  end)

  it("cannot be used once closed", function()
    local snap = db:snapshot()
    assert.are.equal(1, db:live_children().snapshots)
    snap:close()
    assert.are.equal(0, db:live_children().snapshots)
    helpers.raises_code("Closed", nil, db.get, db, "k", { snapshot = snap })
    helpers.raises_code("Closed", nil, cf.pairs, cf, { snapshot = snap })
    helpers.raises_code("Closed", nil, snap.sequence, snap)
  end)

  it("belongs to its database", function()
    local other = quarry.open(helpers.backend("snap"))
    local snap = other:snapshot()
    helpers.raises_code("InvalidArgument", "another database", db.get, db, "k", { snapshot = snap })
    helpers.raises_code("InvalidArgument", "another database", db.iterator, db, { snapshot = snap })
    other:close()
  end)
end)
