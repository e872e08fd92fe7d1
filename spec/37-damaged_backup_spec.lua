-- 37-damaged_backup: a backup never carries a damaged table file silently. One flipped bit in a
-- table file of a database: `backup create` refuses, naming the file, and keeps nothing of the
-- new backup; a backup damaged after it was made fails `backup verify` (by content, the default)
-- while `backup verify --shallow` (sizes only) passes it; `migrate --resume` refuses the store.
-- Each case first shows the same steps succeeding on the undamaged files.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local ls = helpers.ls

-- Flips the lowest bit of the byte at the middle of path (a data block in a large table file).
local function flip(path)
  local f = assert(io.open(path, "r+b"))
  local at = f:seek("end") // 2
  f:seek("set", at)
  local c = f:read(1)
  f:seek("set", at)
  f:write(string.char(c:byte() ~ 1))
  f:close()
end

-- The largest table file under dir (its name).
local function largest_sst(dir)
  local best, size = nil, -1
  for _, name in ipairs(ls(dir)) do
    if name:match("%.sst$") then
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      local n = f:seek("end")
      f:close()
      if n > size then best, size = name, n end
    end
  end
  return assert(best, "no table file in " .. dir)
end

local function fill(db, from, to)
  local blocks = db:cf("blocks")
  db:write(function(b)
    for h = from, to do b:put(blocks, string.pack(">I8", h), ("block %d %s"):format(h, ("z"):rep(300))) end
  end)
  db:flush()
end

local OPTS = { column_families = { "blocks" }, compression = "none", bottommost_compression = "none" }

describe("a damaged table file", function()
  local dir, bdir

  before_each(function()
    dir = helpers.tmpdir("damaged")
    bdir = dir .. "/backups"
  end)

  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("is refused by backups:create, naming it, and nothing of the new backup is kept", function()
    local db = quarry.open(dir .. "/db", OPTS)
    fill(db, 1, 2000)
    local b <close> = quarry.backups(bdir)
    assert.are.equal(1, b:create(db))                -- the undamaged database backs up
    fill(db, 2001, 6000)                             -- a new table file, not yet in a backup
    db:close()
    local name = largest_sst(dir .. "/db")
    flip(dir .. "/db/" .. name)
    local before = ls(bdir .. "/shared_checksum")

    db = quarry.open(dir .. "/db", OPTS)
    local err = helpers.raises_code("Corruption", dir .. "/db/" .. name, b.create, b, db)
    assert.truthy(err.message:find("nothing kept", 1, true))
    local list = b:list()
    assert.are.equal(1, #list)
    assert.are.equal(1, list[1].id)
    assert.are.same(before, ls(bdir .. "/shared_checksum")) -- the copied files went again
    assert.are.same({ "1" }, ls(bdir .. "/private"))
    assert.are.same({ "1" }, ls(bdir .. "/meta"))
    for _, e in ipairs(ls(bdir)) do assert.is_nil(e:match("^quarry%-check")) end
    assert.are.equal(1, b:verify(1))                 -- the earlier backup is untouched
    db:close()
  end)

  it("makes `quarry backup create` exit 1 naming it, and `backup list` shows no new backup", function()
    local db = quarry.open(dir .. "/db", OPTS)
    fill(db, 1, 2000)
    db:close()
    local st, out, err = helpers.run_quarry({ "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir })
    assert.are.equal(0, st, err)                     -- the oracle: undamaged, it succeeds
    db = quarry.open(dir .. "/db", OPTS)
    fill(db, 2001, 6000)                             -- a new table file, the largest
    db:close()
    local name = largest_sst(dir .. "/db")
    flip(dir .. "/db/" .. name)
    st, out, err = helpers.run_quarry({ "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir })
    assert.are.equal(1, st, out)
    assert.truthy(err:find("Corruption", 1, true), err)
    assert.truthy(err:find(dir .. "/db/" .. name, 1, true), err)
    st, out = helpers.run_quarry({ "backup", "list", "--backup-dir", bdir })
    assert.are.equal(0, st)
    local ids = {}
    for id in out:gmatch("\n%s*(%d+)%s") do ids[#ids + 1] = id end
    assert.are.same({ "1" }, ids)
  end)

  it("inside a backup fails `backup verify` (by content) and passes `backup verify --shallow`", function()
    local db = quarry.open(dir .. "/db", OPTS)
    fill(db, 1, 4000)
    local b = quarry.backups(bdir)
    assert.are.equal(1, b:create(db))
    db:close()
    assert.are.equal(1, b:verify(1))                 -- undamaged: both pass
    assert.are.equal(1, b:verify(1, { shallow = true }))
    local name = largest_sst(bdir .. "/shared_checksum")
    flip(bdir .. "/shared_checksum/" .. name)
    helpers.raises_code("Corruption", name, b.verify, b, 1)
    assert.are.equal(1, b:verify(1, { shallow = true })) -- sizes only: not detected
    helpers.raises_code("InvalidArgument", "exclude each other", b.verify, b, 1,
      { shallow = true, deep = true })
    b:close()

    local st, out, err = helpers.run_quarry({ "backup", "verify", "--backup-dir", bdir })
    assert.are.equal(1, st, out)
    assert.truthy(err:find(name, 1, true), err)
    st, out, err = helpers.run_quarry({ "backup", "verify", "--backup-dir", bdir, "--shallow" })
    assert.are.equal(0, st, err)
    assert.truthy(out:find("content not checked", 1, true), out)
  end)

  it("makes `migrate --resume` refuse the store, saying what is damaged and what to do", function()
    local json, store = dir .. "/chain.json", dir .. "/store"
    local st, _, err = helpers.run_quarry({ "gen", "--blocks", "300", "--seed", "5", "--out", json })
    assert.are.equal(0, st, err)
    st, _, err = helpers.run_quarry({ "migrate", "--json", json, "--db", store })
    assert.are.equal(0, st, err)
    st, _, err = helpers.run_quarry({ "migrate", "--json", json, "--db", store, "--resume" })
    assert.are.equal(0, st, err)                     -- the oracle: undamaged, the resume passes
    local name = largest_sst(store)
    flip(store .. "/" .. name)
    st, _, err = helpers.run_quarry({ "migrate", "--json", json, "--db", store, "--resume" })
    assert.are.equal(1, st, err)
    assert.truthy(err:find("is damaged", 1, true), err)
    assert.truthy(err:find(name, 1, true), err)
    assert.truthy(err:find("backup restore", 1, true), err)
    assert.truthy(err:find("quarry verify", 1, true), err)
  end)
end)
