-- 33-tools: the durability commands (quarry checkpoint, backup, compact, digest, prune): what they
-- print, and exit status 0 (done), 1 (failed: missing directory, non-empty target, locked
-- database, damaged backup ...) or 2 (bad usage), each failure with a clear message.
local quarry = require("quarry")
local helpers = require("spec.helpers")

local q = helpers.shell_quote

-- Runs `quarry <args...>`; returns exit code, stdout, stderr.
local function run(...)
  return helpers.run_quarry({ ... })
end

local function expect(code, want_out, want_err, ...)
  local got, out, err = run(...)
  local cmd = table.concat({ ... }, " ")
  assert(got == code, ("quarry %s: exit %s, expected %d\nstdout: %s\nstderr: %s"):format(cmd,
    tostring(got), code, out, err))
  if want_out then
    assert(out:find(want_out, 1, true), ("quarry %s: stdout lacks %q: %s"):format(cmd, want_out, out))
  end
  if want_err then
    assert(err:find(want_err, 1, true), ("quarry %s: stderr lacks %q: %s"):format(cmd, want_err, err))
  end
  return out, err
end

-- A child process holding the database at path open (read-write) until released.
local function hold(path)
  local child = helpers.spawn_lua(([[
    local db = require("quarry").open(%q)
    io.write("ready\n") io.stdout:flush()
    io.read()
    db:close()
  ]]):format(path))
  assert.are.equal("ready", child.recv())
  return function()
    local ok, err = child.finish()
    assert(ok, err)
  end
end

-- Pseudo-random bytes (incompressible, so sizes on disk move with the data).
local function noise(seed, n)
  local t, x = {}, seed
  for i = 1, n // 8 do
    x = (x * 6364136223846793005 + 1442695040888963407)
    t[i] = string.pack("<i8", x)
  end
  return table.concat(t)
end

local function make_store(path, heights, value_size)
  local db <close> = quarry.open(path, { column_families = { "blocks", "undo", "meta" } })
  for h = 0, heights - 1, 100 do
    db:write(function(b)
      for i = h, math.min(h + 99, heights - 1) do
        local k = string.pack(">I8", i)
        b:put(db:cf("blocks"), k, "block " .. i)
        b:put(db:cf("undo"), k, noise(i + 1, value_size))
      end
    end)
  end
  db:cf("meta"):put("format", "quarry.chain/1")
  db:cf("meta"):put("tip", string.pack(">I8", heights - 1))
  db:flush()
end

describe("durability commands", function()
  local dir

  before_each(function()
    dir = helpers.tmpdir("tools")
    local db <close> = quarry.open(dir .. "/db", { column_families = { "blocks" } })
    for i = 1, 500 do db:cf("blocks"):put(string.pack(">I8", i), "block " .. i) end
    db:put("tip", "500")
  end)

  after_each(helpers.collect_and_cleanup)

  it("quarry digest prints each family, then the total, like db:digest", function()
    local out = expect(0, nil, nil, "digest", "--db", dir .. "/db")
    local db <close> = quarry.open(dir .. "/db", { mode = "read_only" })
    local total, families = db:digest()
    assert.are.equal(("blocks %s\ndefault %s\ntotal %s\n"):format(families.blocks,
      families.default, total), out)
    expect(0, "blocks " .. families.blocks .. "\n", nil, "digest", "--db", dir .. "/db", "--cf", "blocks")
    expect(1, nil, "has no column family 'nope'", "digest", "--db", dir .. "/db", "--cf", "nope")
    expect(1, nil, "database " .. dir .. "/missing does not exist", "digest", "--db", dir .. "/missing")
    expect(2, nil, "missing option '--db'", "digest")
    -- read-only: works on a database another process has open
    local release = hold(dir .. "/db")
    expect(0, "total " .. total, nil, "digest", "--db", dir .. "/db")
    release()
  end)

  it("quarry checkpoint: 0 with an openable copy; 1 for an existing target, a missing or locked database; 2 for bad usage", function()
    expect(0, "written to " .. dir .. "/cp", nil, "checkpoint", "--db", dir .. "/db", "--to", dir .. "/cp")
    local a = expect(0, nil, nil, "digest", "--db", dir .. "/db")
    local b = expect(0, nil, nil, "digest", "--db", dir .. "/cp")
    assert.are.equal(a, b)
    expect(1, nil, "checkpoint target " .. dir .. "/cp already exists; choose a new directory",
      "checkpoint", "--db", dir .. "/db", "--to", dir .. "/cp")
    expect(1, nil, "does not exist", "checkpoint", "--db", dir .. "/db", "--to", dir .. "/no/such/cp")
    expect(1, nil, "database " .. dir .. "/missing does not exist", "checkpoint", "--db",
      dir .. "/missing", "--to", dir .. "/cp2")
    assert.is_false(helpers.exists(dir .. "/missing"))
    expect(2, nil, "missing option '--to'", "checkpoint", "--db", dir .. "/db")
    expect(2, nil, "unknown option", "checkpoint", "--db", dir .. "/db", "--to", dir .. "/cp3", "--bogus")
    local release = hold(dir .. "/db")
    expect(1, nil, "is locked by another process; quarry checkpoint needs it to itself",
      "checkpoint", "--db", dir .. "/db", "--to", dir .. "/cp4")
    release()
    assert.is_false(helpers.exists(dir .. "/cp4"))
  end)

  it("quarry compact: 0 with sizes; 1 for an unknown family, a missing or locked database", function()
    expect(0, "compacted " .. dir .. "/db", nil, "compact", "--db", dir .. "/db")
    expect(0, "(family blocks)", nil, "compact", "--db", dir .. "/db", "--cf", "blocks")
    expect(1, nil, "has no column family 'x' (families: default, blocks)", "compact", "--db",
      dir .. "/db", "--cf", "x")
    expect(1, nil, "does not exist", "compact", "--db", dir .. "/missing")
    local release = hold(dir .. "/db")
    expect(1, nil, "locked by another process", "compact", "--db", dir .. "/db")
    release()
  end)

  it("quarry backup create|list|verify|restore|purge", function()
    local bdir = dir .. "/backups"
    expect(0, "backup 1 of " .. dir .. "/db created in " .. bdir, nil, "backup", "create",
      "--db", dir .. "/db", "--backup-dir", bdir)
    expect(0, "backup 2 of", nil, "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir,
      "--no-flush")
    local list = expect(0, nil, nil, "backup", "list", "--backup-dir", bdir)
    assert.truthy(list:find("\n%s+1%s+%d%d%d%d%-%d%d%-%d%dT"))
    assert.truthy(list:find("\n%s+2%s+"))
    expect(0, "backup 1: ok", nil, "backup", "verify", "--backup-dir", bdir)
    expect(0, "backup 2: ok", nil, "backup", "verify", "--backup-dir", bdir, "--id", "latest", "--deep")

    -- a flipped byte: exit 1, the file named
    local victim
    for line in io.lines(bdir .. "/meta/1") do
      victim = victim or line:match("^(shared_checksum/%S+%.sst) crc32")
    end
    local f = assert(io.open(bdir .. "/" .. victim, "r+b"))
    f:seek("set", 20)
    local c = f:read(1)
    f:seek("set", 20)
    f:write(string.char(c:byte() ~ 0x10))
    f:close()
    local _, err = expect(1, nil, "FAILED", "backup", "verify", "--backup-dir", bdir, "--id", "1")
    assert.truthy(err:find(bdir .. "/" .. victim, 1, true), err)
    f = assert(io.open(bdir .. "/" .. victim, "r+b"))
    f:seek("set", 20)
    f:write(c)
    f:close()
    expect(0, nil, nil, "backup", "verify", "--backup-dir", bdir, "--id", "1")

    -- restore, then refusals
    expect(0, "backup 2 restored into " .. dir .. "/restored", nil, "backup", "restore",
      "--backup-dir", bdir, "--db", dir .. "/restored")
    assert.are.equal(expect(0, nil, nil, "digest", "--db", dir .. "/db"),
      expect(0, nil, nil, "digest", "--db", dir .. "/restored"))
    expect(1, nil, "is not empty", "backup", "restore", "--backup-dir", bdir, "--db", dir .. "/restored")
    expect(0, "backup 1 restored", nil, "backup", "restore", "--backup-dir", bdir, "--db",
      dir .. "/restored", "--id", "1", "--overwrite")
    local release = hold(dir .. "/restored")
    expect(1, nil, "locked by another process", "backup", "restore", "--backup-dir", bdir,
      "--db", dir .. "/restored", "--overwrite")
    release()
    expect(1, nil, "does not exist", "backup", "restore", "--backup-dir", bdir, "--db",
      dir .. "/r9", "--id", "9")

    expect(0, "kept 1: 2", nil, "backup", "purge", "--backup-dir", bdir, "--keep", "1")
    expect(0, "backup 3 of", nil, "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir,
      "--max-backups", "1")
    list = expect(0, nil, nil, "backup", "list", "--backup-dir", bdir)
    assert.is_nil(list:find("\n%s+2%s"))

    -- failures and usage
    expect(1, nil, "backup directory " .. dir .. "/nope does not exist", "backup", "list",
      "--backup-dir", dir .. "/nope")
    expect(1, nil, "does not exist", "backup", "create", "--db", dir .. "/missing", "--backup-dir", bdir)
    release = hold(dir .. "/db")
    expect(1, nil, "is locked by another process; quarry backup needs it to itself", "backup",
      "create", "--db", dir .. "/db", "--backup-dir", bdir)
    release()
    expect(2, nil, "a command is required", "backup")
    expect(2, nil, "'latest' expected", "backup", "verify", "--backup-dir", bdir, "--id", "x")
    expect(2, nil, ">= 0 expected", "backup", "purge", "--backup-dir", bdir, "--keep=-1")
    expect(2, nil, "missing option '--keep'", "backup", "purge", "--backup-dir", bdir)
    expect(2, nil, "missing option '--backup-dir'", "backup", "list")
  end)

  it("quarry prune drops undo records below a height, reclaims space, keeps the rest", function()
    local store = dir .. "/store"
    make_store(store, 3000, 1024)
    local keep_digest, blocks_digest, size_before
    do
      local db <close> = quarry.open(store, { mode = "read_only" })
      local t = {}
      for k, v in db:cf("undo"):pairs({ from = string.pack(">I8", 2000) }) do t[#t + 1] = k .. v end
      keep_digest = table.concat(t)
      blocks_digest = db:cf("blocks"):digest()
      size_before = db:size_on_disk()
    end
    local out = expect(0, "pruned 2000 undo record(s) below height 2000", nil, "prune", "--db",
      store, "--before", "2000")
    assert.truthy(out:find("reclaimed"))
    local db <close> = quarry.open(store, { mode = "read_only" })
    local undo = db:cf("undo")
    assert.is_nil(undo:get(string.pack(">I8", 0)))
    assert.is_nil(undo:get(string.pack(">I8", 1999)))
    local t = {}
    for k, v in undo:pairs() do t[#t + 1] = k .. v end
    assert.are.equal(keep_digest, table.concat(t)) -- heights 2000.. intact, nothing below
    assert.are.equal(blocks_digest, db:cf("blocks"):digest())
    assert.are.equal(string.pack(">I8", 2000), db:cf("meta"):get("undo_pruned_below"))
    local size_after = db:size_on_disk()
    -- 2000 of 3000 incompressible 1 KiB records gone: at least 1.5 MiB of 3 MiB reclaimed
    assert.is_true(size_before - size_after > 1.5 * 1024 * 1024,
      ("size on disk %d -> %d"):format(size_before, size_after))
    db:close()

    expect(0, "pruned 0 undo record(s)", nil, "prune", "--db", store, "--before", "1000")
    expect(1, nil, "above the tip + 1 (3000)", "prune", "--db", store, "--before", "3001")
    expect(1, nil, "has no column family 'undo'", "prune", "--db", dir .. "/db", "--before", "5")
    expect(1, nil, "does not exist", "prune", "--db", dir .. "/missing", "--before", "5")
    expect(2, nil, "missing option '--before'", "prune", "--db", store)
    expect(2, nil, "a height (integer >= 0) expected", "prune", "--db", store, "--before=-1")
    expect(2, nil, "a height (integer >= 0) expected", "prune", "--db", store, "--before", "ten")
    local release = hold(store)
    expect(1, nil, "locked by another process", "prune", "--db", store, "--before", "2500")
    release()
  end)

  it("quarry prune on a store made by quarry migrate touches nothing but undo records", function()
    local dump, store = dir .. "/chain.json.lz4", dir .. "/chain"
    expect(0, nil, nil, "gen", "--blocks", "300", "--seed", "7", "--out", dump)
    expect(0, nil, nil, "migrate", "--json", dump, "--db", store)
    local function digests()
      local db <close> = quarry.open(store, { mode = "read_only" })
      local _, families = db:digest()
      local undo = {}
      for k in db:cf("undo"):pairs({ keys_only = true }) do undo[#undo + 1] = string.unpack(">I8", k) end
      return families, undo, db:cf("meta"):get("undo_pruned_below")
    end
    local before, undo_before = digests()
    expect(0, "pruned 150 undo record(s) below height 150", nil, "prune", "--db", store, "--before", "150")
    local after, undo_after, marker = digests()
    for _, f in ipairs({ "blocks", "hashes", "txs", "utxo", "default" }) do
      assert.are.equal(before[f], after[f], f)
    end
    assert.are.equal(300, #undo_before)
    assert.are.equal(150, #undo_after)
    assert.are.equal(150, undo_after[1])
    assert.are.equal(299, undo_after[#undo_after])
    assert.are.equal(string.pack(">I8", 150), marker)
    -- pruning again below the marker changes nothing
    expect(0, "pruned 0 undo record(s)", nil, "prune", "--db", store, "--before", "100")
    assert.are.equal(string.pack(">I8", 150), select(3, digests()))
  end)
end)

describe("the quarry script in a source tree", function()
  -- Without LUA_PATH the script must find the Lua sources from where it lives, whatever the
  -- current directory and the name it was run by (LUA_CPATH still names the built module).
  for _, case in ipairs({
    { dir = ".", cmd = "scripts/bin/quarry" },
    { dir = "scripts", cmd = "bin/quarry" },
    { dir = "scripts/bin", cmd = "./quarry" },
    { dir = "/", cmd = "ROOT/scripts/bin/quarry" },
  }) do
    it(("runs as `lua5.4 %s` from %s"):format(case.cmd, case.dir), function()
      local root = assert(io.popen("pwd")):read("l") -- specs run from the source root
      local cmd = case.cmd:gsub("ROOT", root)
      local p = assert(io.popen(("cd %s && env -u LUA_PATH -u LUA_PATH_5_4 lua5.4 %s --version 2>&1")
        :format(q(case.dir == "." and root or case.dir == "/" and "/" or root .. "/" .. case.dir), q(cmd))))
      local out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, out)
      assert.truthy(out:find("^quarry %d+%.%d+%.%d+ %(RocksDB"), out)
    end)
  end
end)
