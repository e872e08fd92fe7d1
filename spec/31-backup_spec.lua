-- 31-backup: quarry.backups(dir): incremental backups share unchanged table files (counted in the
-- meta files and in shared_checksum/); each restore gives the digest recorded at its creation;
-- verify checks every byte (one flipped byte in any file fails, naming it); purge and max_backups
-- keep exactly the newest N; restore targets are checked; the handle's lifecycle and arguments.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local function fill(db, from, to, tag)
  local blocks = db:cf("blocks")
  db:write(function(b)
    for h = from, to do
      b:put(blocks, string.pack(">I8", h), ("%s %d %s"):format(tag, h, ("y"):rep(150)))
    end
  end)
end

-- The files a backup's meta file lists.
local function meta_files(bdir, id)
  local files = {}
  for line in io.lines(("%s/meta/%d"):format(bdir, id)) do
    local name = line:match("^(%S+) crc32 %d+")
    if name then files[#files + 1] = name end
  end
  return files
end

local ls = helpers.ls

local function flip(path, at)
  local f = assert(io.open(path, "r+b"))
  local size = f:seek("end")
  at = at or size // 2
  f:seek("set", at)
  local c = f:read(1)
  f:seek("set", at)
  f:write(string.char(c:byte() ~ 1))
  f:close()
end

local function digest_at(path)
  local db <close> = quarry.open(path, { mode = "read_only" })
  return db:digest()
end

describe("quarry.backups", function()
  local dir, db, bdir

  before_each(function()
    dir = helpers.tmpdir("backup")
    bdir = dir .. "/backups"
    db = quarry.open(dir .. "/db", { column_families = { "blocks" } })
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("backs up incrementally: a second backup shares the unchanged table files", function()
    local b <close> = quarry.backups(bdir)
    fill(db, 1, 3000, "first")
    assert.are.equal(1, b:create(db))
    fill(db, 3001, 4000, "second")
    assert.are.equal(2, b:create(db, { flush = true }))

    local sst1, sst2, shared = {}, {}, 0
    for _, f in ipairs(meta_files(bdir, 1)) do if f:match("%.sst$") then sst1[f] = true end end
    for _, f in ipairs(meta_files(bdir, 2)) do
      if f:match("%.sst$") then
        sst2[#sst2 + 1] = f
        if sst1[f] then shared = shared + 1 end
      end
    end
    local n1 = 0
    for _ in pairs(sst1) do n1 = n1 + 1 end
    assert.is_true(n1 >= 1)
    assert.are.equal(n1, shared)                          -- every table file of backup 1 reused
    assert.is_true(#sst2 > n1)                            -- plus the new one(s)
    assert.are.equal(#sst2, #ls(bdir .. "/shared_checksum")) -- each stored once

    local list = b:list()
    assert.are.equal(2, #list)
    assert.are.same({ 1, 2 }, { list[1].id, list[2].id })
    assert.are.equal(#meta_files(bdir, 1), list[1].files)
    assert.are.equal(#meta_files(bdir, 2), list[2].files)
    assert.is_true(list[2].size > list[1].size)
    assert.is_true(math.abs(list[1].timestamp - os.time()) < 60)
  end)

  it("restores each backup id to the digest recorded when it was made", function()
    local b <close> = quarry.backups(bdir)
    local digests = {}
    for i = 1, 3 do
      fill(db, i * 1000, i * 1000 + 500, "round " .. i)
      db:delete(string.pack(">I8", 1000)) -- deletes count too
      local id = b:create(db)
      digests[id] = db:digest()
    end
    assert.are_not.equal(digests[1], digests[2])
    for id = 1, 3 do
      local target = ("%s/restored%d"):format(dir, id)
      assert.are.equal(id, b:restore(id, target))
      assert.are.equal(digests[id], digest_at(target))
    end
    assert.are.equal(3, b:restore("latest", dir .. "/latest"))
    assert.are.equal(digests[3], digest_at(dir .. "/latest"))
    -- WAL files in a directory of their own
    b:restore(2, dir .. "/split", dir .. "/split-wal")
    assert.are.equal(digests[2], digest_at(dir .. "/split"))
    helpers.raises_code("NotFound", "backup 9 does not exist", b.restore, b, 9, dir .. "/x")
  end)

  it("backs up what is only in the memtables when the WAL is off, even with flush = false", function()
    db:close()
    db = quarry.open(dir .. "/nowal", { preset = "development", column_families = { "blocks" } })
    fill(db, 1, 100, "memtable")
    local want = db:digest()
    local b <close> = quarry.backups(bdir)
    local id = b:create(db, { flush = false })
    b:restore(id, dir .. "/restored")
    assert.are.equal(want, digest_at(dir .. "/restored"))
  end)

  it("verifies every byte: one flipped byte in any file fails, naming it", function()
    local b <close> = quarry.backups(bdir)
    fill(db, 1, 2000, "v")
    b:create(db)
    fill(db, 2001, 2500, "w")
    b:create(db, { flush = false }) -- with a WAL file in it
    assert.are.equal(1, b:verify(1))
    assert.are.equal(2, b:verify("latest"))
    assert.are.equal(2, b:verify(2, { deep = true }))
    local files = meta_files(bdir, 2)
    files[#files + 1] = "meta/2"        -- the meta file itself (a byte of its timestamp)
    files[#files + 1] = "quarry-meta/2" -- and its seal
    local checked = 0
    for _, f in ipairs(files) do
      local path = bdir .. "/" .. f
      local at = f == "meta/2" and 1 or nil
      flip(path, at)
      local err = helpers.raises_code("Corruption", nil, b.verify, b, 2)
      assert.truthy(err.message:find(path, 1, true),
        ("the error should name %s: %s"):format(path, err.message))
      flip(path, at)
      assert.are.equal(2, b:verify(2))
      checked = checked + 1
    end
    assert.is_true(checked >= 5)
    helpers.raises_code("NotFound", nil, b.verify, b, 42)
  end)

  it("purge keeps exactly the newest N; max_backups applies after each create", function()
    do
      local b <close> = quarry.backups(bdir)
      for i = 1, 5 do
        fill(db, i * 10, i * 10 + 9, "p")
        b:create(db)
      end
      b:purge(2)
      local ids = {}
      for _, e in ipairs(b:list()) do ids[#ids + 1] = e.id end
      assert.are.same({ 4, 5 }, ids)
      assert.are.same({ "4", "5" }, ls(bdir .. "/quarry-meta"))
      assert.are.equal(4, b:verify(4))
    end
    local b <close> = quarry.backups(bdir, { max_backups = 3 })
    for _ = 1, 4 do
      fill(db, 900, 910, "m")
      b:create(db)
    end
    local ids = {}
    for _, e in ipairs(b:list()) do ids[#ids + 1] = e.id end
    assert.are.same({ 7, 8, 9 }, ids)
    b:purge(0)
    assert.are.same({}, b:list())
    helpers.raises_code("NotFound", "holds no backup", b.verify, b, "latest")
  end)

  it("checks restore targets: not empty, not a database, open, missing parent", function()
    local b <close> = quarry.backups(bdir)
    fill(db, 1, 10, "t")
    local d1 = db:digest()
    b:create(db)
    fill(db, 11, 20, "t")
    local d2 = db:digest()
    b:create(db)

    b:restore(1, dir .. "/r")
    helpers.raises_code("InvalidArgument", "is not empty", b.restore, b, 2, dir .. "/r")
    b:restore(2, dir .. "/r", { overwrite = true })
    assert.are.equal(d2, digest_at(dir .. "/r"))
    helpers.raises_code("Busy", "open in this process", b.restore, b, 1, dir .. "/db",
      { overwrite = true })
    local other <close> = quarry.open(dir .. "/r")
    helpers.raises_code("Busy", nil, b.restore, b, 1, dir .. "/r", { overwrite = true })
    other:close()

    helpers.write_file(dir .. "/notes", "")
    os.execute("mkdir " .. helpers.shell_quote(dir .. "/docs"))
    helpers.write_file(dir .. "/docs/keep.txt", "precious")
    helpers.raises_code("InvalidArgument", "does not hold a database", b.restore, b, 1,
      dir .. "/docs", { overwrite = true })
    assert.are.equal("precious", helpers.read_file(dir .. "/docs/keep.txt"))
    helpers.raises_code("InvalidArgument", "is not a directory", b.restore, b, 1, dir .. "/notes")
    helpers.raises_code("IOError", "does not exist", b.restore, b, 1, dir .. "/no/parent/db")

    os.execute("mkdir " .. helpers.shell_quote(dir .. "/empty"))
    b:restore(1, dir .. "/empty")
    assert.are.equal(d1, digest_at(dir .. "/empty"))
  end)

  -- Read-only and secondary opens take no LOCK file: only the process's registry sees them.
  it("refuses to restore over a database this process has open read-only or as a secondary",
    function()
    local b <close> = quarry.backups(bdir)
    fill(db, 1, 10, "t")
    local d1 = db:digest()
    b:create(db)
    fill(db, 11, 20, "t")
    b:create(db)
    local target = dir .. "/r"
    b:restore(2, target)
    local d2 = digest_at(target)

    local ro = quarry.open(target, { mode = "read_only" })
    local err = helpers.raises_code("Busy", "open in this process (mode read_only)", b.restore, b,
      1, target, { overwrite = true })
    assert.truthy(err.message:find(target, 1, true))
    assert.truthy(err.message:find("close every handle on it first", 1, true))
    -- the same directory by another spelling
    helpers.raises_code("Busy", "mode read_only", b.restore, b, 1, dir .. "/./r/",
      { overwrite = true })
    assert.are.equal(d2, ro:digest()) -- untouched, still readable
    ro:close()

    local sec = quarry.open(target, { mode = "secondary", secondary_path = dir .. "/r-secondary" })
    helpers.raises_code("Busy", "open in this process (mode secondary)", b.restore, b, 1, target,
      { overwrite = true })
    local ro2 = quarry.open(target, { mode = "read_only" })
    helpers.raises_code("Busy", "(mode read_only and secondary)", b.restore, b, 1, target,
      { overwrite = true })
    ro2:close()
    assert.truthy(sec:cf("blocks"):get(string.pack(">I8", 20))) -- backup 2's last block: untouched
    sec:close()

    -- closed: the restore goes ahead
    assert.are.equal(1, b:restore(1, target, { overwrite = true }))
    assert.are.equal(d1, digest_at(target))
  end)

  it("allows one handle per directory: Busy in this process, Locked from another", function()
    local b <close> = quarry.backups(bdir)
    helpers.raises_code("Busy", "already open in this process", quarry.backups, bdir)
    b:close()
    local child = helpers.spawn_lua(([[
      local quarry = require("quarry")
      local b = quarry.backups(%q)
      io.write("ready\n") io.stdout:flush()
      io.read()
      b:close()
    ]]):format(bdir))
    assert.are.equal("ready", child.recv())
    local err = helpers.raises_code("Locked", "in use by another process", quarry.backups, bdir)
    assert.truthy(err.message:find(bdir, 1, true))
    local ok, stderr = child.finish()
    assert.is_true(ok, stderr)
    quarry.backups(bdir):close()
  end)

  it("refuses directories that are missing or not backup directories", function()
    helpers.raises_code("NotFound", "does not exist", quarry.backups, bdir,
      { create_if_missing = false })
    helpers.raises_code("IOError", "does not exist", quarry.backups, dir .. "/no/such/backups")
    helpers.raises_code("InvalidArgument", "is not a backup directory", quarry.backups, dir .. "/db")
  end)

  it("has close, __close, __gc and tostring; use after close raises Closed", function()
    local b = quarry.backups(bdir)
    assert.are.equal(bdir, b:dir())
    assert.are.equal("quarry.backups (" .. bdir .. ", open)", tostring(b))
    b:close()
    b:close()
    assert.are.equal("quarry.backups (" .. bdir .. ", closed)", tostring(b))
    for _, m in ipairs({ "list", "dir", "purge", "verify", "restore" }) do
      helpers.raises_code("Closed", "quarry.backups is closed", b[m], b, 1, dir .. "/x")
    end
    helpers.raises_code("Closed", nil, b.create, b, db)
    do
      local scoped <close> = quarry.backups(bdir)
      assert.are.equal(0, #scoped:list())
    end
    quarry.backups(bdir) -- dropped without close: __gc releases the directory
    collectgarbage()
    collectgarbage()
    quarry.backups(bdir):close()
  end)

  it("checks its arguments", function()
    local b <close> = quarry.backups(bdir)
    b:create(db)
    helpers.raises_code("InvalidArgument", "unknown backups option 'max'", quarry.backups,
      dir .. "/b2", { max = 1 })
    helpers.raises_code("InvalidArgument", "max_backups", quarry.backups, dir .. "/b3",
      { max_backups = -1 })
    helpers.raises_code("InvalidArgument", "unknown backup option 'flsh'", b.create, b, db,
      { flsh = true })
    helpers.raises_code("InvalidArgument", "backup id", b.verify, b, 0)
    helpers.raises_code("InvalidArgument", "backup id", b.verify, b, "newest")
    helpers.raises_code("InvalidArgument", "backup id", b.restore, b, 1.5, dir .. "/x")
    helpers.raises_code("InvalidArgument", "unknown restore option", b.restore, b, 1,
      dir .. "/x", { force = true })
    helpers.raises_code("InvalidArgument", "keep", b.purge, b, -1)
    helpers.raises_plain("quarry.db expected", b.create, b, "db")
    local closed = quarry.open(dir .. "/closed")
    closed:close()
    helpers.raises_code("Closed", nil, b.create, b, closed)
    local ro <close> = quarry.open(dir .. "/closed", { mode = "read_only" })
    helpers.raises_code("NotSupported", nil, b.create, b, ro)
  end)
end)
