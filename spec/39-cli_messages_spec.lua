-- 39-cli_messages: messages that say what happened and what to do, with the exit status of
-- docs/tools.md (0 ok, 1 a failed check or operation, 2 bad usage): a regular file given as
-- --db, invalid hex in --from/--to and keys, a read-only restore target, disk full and trailing
-- bytes during a migration, --report json on a failed migration, unknown presets, and
-- `backup purge --keep 0` without --force.
local quarry = require("quarry")
local helpers = require("spec.helpers")

-- Runs `quarry <args...>` and checks its exit status; returns stdout, stderr.
local function expect(code, ...)
  local got, out, err = helpers.run_quarry({ ... })
  assert(got == code, ("quarry %s: exit %s, expected %d\nstdout: %s\nstderr: %s"):format(
    table.concat({ ... }, " "), tostring(got), code, out, err))
  return out, err
end

local function has(text, want)
  assert(text:find(want, 1, true), ("%q lacks %q"):format(text, want))
end

-- A small chain dump of n blocks (quarry gen), its path.
local function dump(dir, n)
  local path = dir .. "/chain.json"
  expect(0, "gen", "--blocks", tostring(n), "--seed", "7", "--out", path)
  return path
end

after_each(function()
  helpers.collect_and_cleanup()
end)

describe("a regular file given as --db", function()
  it("is named as a file, not a database directory, by every command that opens one", function()
    local dir = helpers.tmpdir("msg-file")
    local file = dir .. "/notadb"
    helpers.write_file(file, "hello\n")
    local want = "it is a file, not a database directory"
    for _, args in ipairs({ { "verify" }, { "scan" }, { "get", "k" }, { "count" }, { "cfs" },
      { "props" }, { "stats" }, { "export", "--json", dir .. "/out.json" }, { "digest" },
      { "compact" } }) do
      local cmd = { args[1], "--db", file }
      for i = 2, #args do cmd[#cmd + 1] = args[i] end
      local _, err = expect(1, table.unpack(cmd))
      has(err, want)
      assert.is_nil(err:find("does not exist", 1, true), err)
    end
    -- migrate refuses it and leaves it alone (a refused migration removes only what it created)
    local _, err = expect(1, "migrate", "--json", dump(dir, 3), "--db", file)
    has(err, "is a file, not a database directory")
    assert.are.equal("hello\n", helpers.read_file(file))
    helpers.raises_code("InvalidArgument", "it is a file, not a database directory", quarry.open,
      file, { mode = "read_only" })
    helpers.raises_code("InvalidArgument", "it is a file, not a database directory",
      quarry.list_column_families, file)
  end)
end)

describe("keys given in hex", function()
  it("refuses a key that is not hex: exit 2, naming the option and the value", function()
    local dir = helpers.tmpdir("msg-hex")
    local db = quarry.open(dir .. "/db")
    db:put("\1\2", "v")
    db:close()
    local path = dir .. "/db"
    local _, err = expect(2, "scan", "--db", path, "--key-hex", "--from", "zz")
    has(err, "quarry scan: --from 'zz' is not hex (--key-hex takes keys as hex digits")
    _, err = expect(2, "scan", "--db", path, "--hex", "--to", "0xabc")
    has(err, "--to '0xabc' is not hex: odd number of digits (--hex takes keys")
    _, err = expect(2, "get", "--db", path, "--hex", "zz")
    has(err, "quarry get: key 'zz' is not hex (--hex takes keys as hex digits")
    assert.is_nil(err:find("not found", 1, true), err)
    _, err = expect(2, "count", "--db", path, "--key-hex", "--prefix", "xyz")
    has(err, "--prefix 'xyz' is not hex")
    -- an invalid 0x form without --hex is a usage error too
    _, err = expect(2, "scan", "--db", path, "--from", "0xzz")
    has(err, "--from '0xzz' is not a valid key: not a hex string")
    -- valid hex, with or without 0x, and the typed forms still work
    local out = expect(0, "get", "--db", path, "--hex", "0102")
    has(out, "0x76")
    out = expect(0, "scan", "--db", path, "--key-hex", "--from", "01", "--keys-only")
    has(out, "0x0102")
    out = expect(0, "count", "--db", path, "--hex", "--from", "str:a")
    has(out, "0")
  end)
end)

describe("an unknown --preset", function()
  it("is bad usage (exit 2) listing the presets, in every command that takes --preset", function()
    local dir = helpers.tmpdir("msg-preset")
    local src = dump(dir, 3)
    local names = {}
    for name in pairs(quarry.presets) do names[#names + 1] = name end
    for _, args in ipairs({
      { "migrate", "--json", src, "--db", dir .. "/db" },
      { "bench", "migrate", "--source", src, "--dir", dir .. "/bench" },
      { "bench", "fillseq", "--num", "10", "--db", dir .. "/suite" },
    }) do
      args[#args + 1] = "--preset"
      args[#args + 1] = "bogus"
      local _, err = expect(2, table.unpack(args))
      has(err, "'--preset' must be one of")
      for _, name in ipairs(names) do has(err, "'" .. name .. "'") end
    end
    assert.is_false(helpers.exists(dir .. "/db"))
  end)
end)

describe("backup purge --keep 0", function()
  it("needs --force: exit 2 saying so, and every backup stays", function()
    local dir = helpers.tmpdir("msg-purge")
    local db = quarry.open(dir .. "/db")
    db:put("k", "v")
    db:close()
    local bdir = dir .. "/backups"
    expect(0, "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir)
    expect(0, "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir)
    local _, err = expect(2, "backup", "purge", "--backup-dir", bdir, "--keep", "0")
    has(err, "purge --keep 0 deletes every backup in " .. bdir .. ": add --force")
    local out = expect(0, "backup", "list", "--backup-dir", bdir)
    has(out, "     1  ")
    has(out, "     2  ")
    out = expect(0, "backup", "purge", "--backup-dir", bdir, "--keep", "0", "--force")
    has(out, "purged 2 backup(s)")
    has(out, "kept 0: none")
  end)
end)

describe("backup restore onto a file system it cannot write", function()
  local function is_root()
    local p = io.popen("id -u")
    local uid = p:read("l")
    p:close()
    return uid == "0"
  end

  it("names the real cause (read-only file system, or no permission), not ENOENT", function()
    local dir = helpers.tmpdir("msg-restore")
    local db = quarry.open(dir .. "/db")
    db:put("k", "v")
    db:close()
    local bdir = dir .. "/backups"
    expect(0, "backup", "create", "--db", dir .. "/db", "--backup-dir", bdir)
    local target = dir .. "/ro"
    os.execute("mkdir " .. helpers.shell_quote(target))
    local q = helpers.shell_quote(target)
    if is_root() then
      -- a read-only tmpfs of 1 MiB, unmounted whatever happens
      if not os.execute("mount -t tmpfs -o ro,size=1m tmpfs " .. q .. " 2>/dev/null") then
        pending("mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)")
        return
      end
      finally(function() os.execute("umount " .. q) end)
      for _, args in ipairs({ { "--db", target .. "/x" }, { "--db", target .. "/x", "--wal-dir", target .. "/w" } }) do
        local _, err = expect(1, "backup", "restore", "--backup-dir", bdir, table.unpack(args))
        has(err, "cannot restore into " .. target .. "/x: mkdir " .. target .. "/x")
        has(err, "Read-only file system (the file system is mounted read-only: restore onto a writable one)")
        assert.is_nil(err:find("No such file", 1, true), err)
      end
    else
      -- not root: a parent directory without write permission
      os.execute("chmod 555 " .. q)
      finally(function() os.execute("chmod 755 " .. q) end)
      local _, err = expect(1, "backup", "restore", "--backup-dir", bdir, "--db", target .. "/x")
      has(err, "Permission denied (no write permission in its parent directory)")
    end
  end)
end)

describe("a failed migration", function()
  local json = require("quarry.json")

  it("trailing bytes after a complete dump: every block committed, the bytes named", function()
    local dir = helpers.tmpdir("msg-trailing")
    local src = dump(dir, 30)
    local f = assert(io.open(src, "ab"))
    f:write("garbage\n")
    f:close()
    local _, err = expect(1, "migrate", "--json", src, "--db", dir .. "/db", "--quiet", "--verify")
    has(err, ("all 30 blocks of %s are committed (heights 0..29), but the dump has trailing bytes " ..
      "after its end, at line "):format(src))
    has(err, "after its end, at line 33, column ")
    has(err, "the store is complete and consistent")
    expect(0, "verify", "--db", dir .. "/db")
    -- --report json: the report, with the error, as one JSON document on stdout; exit status 1
    local out = expect(1, "migrate", "--json", src, "--db", dir .. "/db2", "--quiet", "--report", "json")
    local doc = json.decode(out)
    assert.are.equal(30, doc.blocks)
    assert.are.equal(29, doc.tip)
    assert.are.equal("TrailingBytes", doc.error.code)
    has(doc.error.message, "parse error at line")
  end)

  it("--report json prints the report with the error when a block is refused", function()
    local dir = helpers.tmpdir("msg-report")
    local src = dump(dir, 30)
    local text = helpers.read_file(src)
    -- block 20 claims a different previous hash: refused, groups of 10 before it committed
    local n = 0
    text = text:gsub('"previous_hash":"(%x+)"', function(h)
      n = n + 1
      if n == 21 then return '"previous_hash":"' .. ("0"):rep(#h) .. '"' end
    end)
    helpers.write_file(src, text)
    local out, err = expect(1, "migrate", "--json", src, "--db", dir .. "/db", "--group", "10",
      "--quiet", "--report", "json")
    has(err, "stopped; the groups before this block are committed")
    local doc = json.decode(out)
    assert.are.equal("InvalidChain", doc.error.code)
    assert.are.equal(20, doc.error.block)
    has(doc.error.message, "block 20")
    assert.are.equal(20, doc.blocks)
    assert.are.equal(19, doc.tip)
    assert.are.equal(src, doc.source)
    -- and a migration that fails before any block (a missing dump): still one document
    out = expect(1, "migrate", "--json", dir .. "/missing.json", "--db", dir .. "/db3", "--report", "json")
    doc = json.decode(out)
    has(doc.error.message, "missing.json")
    assert.are.equal(dir .. "/missing.json", doc.source)
    assert.are.equal(dir .. "/db3", doc.db)
    assert.is_nil(doc.blocks) -- the store was not opened: nothing known about it
  end)

  it("disk full: says the committed groups are safe and to run again with --resume", function()
    -- the message alone, from a fabricated NoSpace error
    local M = require("quarry.cli.commands.migrate")
    local err = setmetatable({ code = "NoSpace", message = "IO error: No space left on device: While " ..
      "appending to file: db/000004.log: No space left on device; the database handle is now in a " ..
      "failed state: close and reopen it" }, { __name = "fake" })
    local msg = M.failure_message(err, { opened = true, blocks = 2100, base = 0, tip = 2099 })
    has(msg, "quarry migrate: the disk is full: IO error: No space left on device")
    has(msg, "stopped; 2100 blocks (heights 0..2099) are committed and safe")
    has(msg, "free some space, then run the same command again with --resume")
    assert.is_nil(msg:find("close and reopen", 1, true), msg)
    assert.are.equal("NoSpace", M.error_member(err, { block = 7 }).code)
  end)

  it("disk full on a small tmpfs (root only): the same message, and --resume finishes", function()
    local dir = helpers.tmpdir("msg-full")
    local src = dir .. "/chain.json"
    expect(0, "gen", "--blocks", "3000", "--seed", "3", "--out", src)
    local mnt = dir .. "/mnt"
    os.execute("mkdir " .. helpers.shell_quote(mnt))
    local q = helpers.shell_quote(mnt)
    if not os.execute("mount -t tmpfs -o size=2m tmpfs " .. q .. " 2>/dev/null") then
      pending("needs root: cannot mount a tmpfs here")
      return
    end
    finally(function() os.execute("umount " .. q) end)
    local _, err = expect(1, "migrate", "--json", src, "--db", mnt .. "/db", "--group", "100", "--quiet")
    has(err, "quarry migrate: the disk is full: ")
    assert(err:find("stopped; %d+ blocks %(heights 0%.%.%d+%) are committed and safe") or
      err:find("stopped; what earlier runs committed is safe", 1, true), err)
    has(err, "run the same command again with --resume")
    assert.is_nil(err:find("close and reopen", 1, true), err)
    assert(os.execute("mount -o remount,size=64m " .. q))
    local out = expect(0, "migrate", "--json", src, "--db", mnt .. "/db", "--group", "100", "--quiet",
      "--resume", "--verify")
    has(out, "integrity     ok")
  end)
end)
