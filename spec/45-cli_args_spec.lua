-- 45-cli_args: the argument layer of the `quarry` command (docs/tools.md "Command-line
-- conventions"): `quarry help COMMAND`, `--output json` everywhere a machine form exists, the old
-- spellings with their deprecation note, the node operators' aliases, the `--db-<option>` tuning
-- flags and their precedence, and the man page and completions generated from the parsers.
local helpers = require("spec.helpers")

local function expect(code, args, opts)
  local got, out, err = helpers.run_quarry(args, opts)
  assert(got == code, ("quarry %s: exit %s, expected %d\nstdout: %s\nstderr: %s"):format(
    table.concat(args, " "), tostring(got), code, out, err))
  return out, err
end

local function has(text, want)
  assert(text:find(want, 1, true), ("%q lacks %q"):format(text, want))
end

after_each(function()
  helpers.collect_and_cleanup()
end)

describe("quarry help", function()
  it("prints a command's own help with COMMAND, the top level without", function()
    local top = expect(0, { "help" })
    has(top, "usage: quarry <command>")
    for _, name in ipairs({ "scan", "migrate", "stats", "compact" }) do
      local out = expect(0, { "help", name })
      has(out, "Usage: quarry " .. name)
      assert.are.equal(expect(0, { name, "--help" }), out)
    end
    has(expect(0, { "help", "backup", "create" }), "Usage: quarry backup create")
    local _, err = expect(2, { "help", "nosuch" })
    has(err, "unknown command 'nosuch'")
  end)
end)

-- A migrated 12-block chain store, a backup of it and the dump: { dir, db, dump, backups }.
local function store(tag)
  local dir = helpers.tmpdir(tag)
  local s = { dir = dir, db = dir .. "/db", dump = dir .. "/d.json", backups = dir .. "/bk" }
  expect(0, { "gen", "--blocks", "12", "--seed", "3", "--out", s.dump })
  expect(0, { "migrate", "--json", s.dump, "--db", s.db })
  expect(0, { "backup", "create", "--db", s.db, "--backup-dir", s.backups })
  return s
end

-- Every command with a machine form: its arguments (s: the store) and its old spelling, if any.
local function machine_commands(s)
  local n = 0
  local function fresh() n = n + 1; return ("%s/out%d"):format(s.dir, n) end
  return {
    { "scan", "--db", s.db, "--cf", "meta", old = { "--json" } },
    { "get", "--db", s.db, "--cf", "meta", "tip", old = { "--json" } },
    { "count", "--db", s.db, "--cf", "blocks", old = { "--json" } },
    { "cfs", "--db", s.db, old = { "--json" } },
    { "props", "--db", s.db, old = { "--json" } },
    { "stats", "--db", s.db, old = { "--format", "json" } },
    { "verify", "--db", s.db, "--json", s.dump, old = { "--report", "json" } },
    { "migrate", "--json", s.dump, "--db", fresh, old = { "--report", "json" } },
    { "formats" },
    { "compact", "--db", s.db },
    { "checkpoint", "--db", s.db, "--to", fresh },
    { "prune", "--db", s.db, "--before", "2" },
    { "backup", "list", "--backup-dir", s.backups },
    { "bench", "fillseq", "--num", "200", "--in-process", "--db", fresh, old = { "--json" } },
  }
end

local function argv_of(c, extra)
  local argv = {}
  for _, a in ipairs(c) do argv[#argv + 1] = type(a) == "function" and a() or a end
  for _, a in ipairs(extra) do argv[#argv + 1] = a end
  return argv
end

describe("--output json", function()
  it("prints one JSON document on stdout in every command that has a machine form", function()
    local json = require("quarry.json")
    local s = store("args-output")
    for _, c in ipairs(machine_commands(s)) do
      local argv = argv_of(c, { "--output", "json" })
      local out, err = expect(0, argv)
      local ok, doc = pcall(json.decode, out)
      assert(ok and type(doc) == "table", ("quarry %s: not one JSON document: %s\n%s"):format(
        table.concat(argv, " "), tostring(doc), out))
      assert.is_nil(err:find("deprecated", 1, true), err)
    end
  end)

  it("is in every machine command's help, with the old spellings hidden", function()
    for _, c in ipairs(machine_commands(store("args-help"))) do
      local argv = argv_of({ c[1], c[1] == "backup" and "list" or nil }, { "--help" })
      local out = expect(0, argv)
      has(out, "--output")
      if c.old then assert.is_nil(out:find(c.old[1] .. " ", 1, true), out) end
    end
  end)

  it("still accepts the old spellings, with a one-line deprecation note on stderr", function()
    local s = store("args-old")
    for _, c in ipairs(machine_commands(s)) do
      if c.old then
        local argv = argv_of(c, c.old)
        local out, err = expect(0, argv)
        has(err, "is deprecated: use --output")
        assert.are.equal(1, select(2, err:gsub("deprecated", "")), err)
        assert.is_true(out:sub(1, 1) == "{" or out:sub(1, 1) == "[", out)
      end
    end
    -- scan's old --json is JSON Lines: --output jsonl
    local out, err = expect(0, { "scan", "--db", s.db, "--cf", "meta", "--json" })
    has(err, "quarry scan: --json is deprecated: use --output jsonl")
    assert.are.equal(expect(0, { "scan", "--db", s.db, "--cf", "meta", "--output", "jsonl" }), out)
  end)
end)

describe("the dump file and the store of a migration", function()
  it("take the node operators' --json-file and --rocksdb-path", function()
    local s = store("args-alias")
    local db = s.dir .. "/node-db"
    local out = expect(0, { "migrate", "--json-file", s.dump, "--rocksdb-path", db, "--verify" })
    has(out, "migrated 12 blocks")
    has(out, "integrity     ok")
    expect(0, { "verify", "--db", db, "--json-file", s.dump })
    expect(0, { "export", "--db", db, "--json-file", s.dir .. "/back.json" })
    assert.are.equal(helpers.read_file(s.dump), helpers.read_file(s.dir .. "/back.json"))
  end)
end)

describe("tuning flags", function()
  local function row(text, name)
    return text:match("\n  " .. name .. "%s+(%S+)%s+([^\n]+)")
  end

  it("--db-write-buffer-mb 8 is in effect, from the flag, over QUARRY_DB_WRITE_BUFFER_MB", function()
    local s = store("args-tuning")
    local env = { env = { QUARRY_DB_WRITE_BUFFER_MB = "32", QUARRY_DB_BLOCK_CACHE_MB = "64" } }
    -- at the open of a command (stderr), for a read-only and a read-write open
    for _, argv in ipairs({ { "count", "--db", s.db, "--cf", "blocks" }, { "compact", "--db", s.db },
      { "migrate", "--json", s.dump, "--db", s.dir .. "/m" } }) do
      argv[#argv + 1] = "--db-write-buffer-mb"
      argv[#argv + 1] = "8"
      argv[#argv + 1] = "--print-options"
      local _, err = expect(0, argv, env)
      local v, src = row(err, "write_buffer_mb")
      assert.are.equal("8", v, err)
      assert.are.equal("flag --db-write-buffer-mb", src)
      v, src = row(err, "block_cache_mb")
      assert.are.equal("64", v, err)
      assert.are.equal("environment QUARRY_DB_BLOCK_CACHE_MB", src)
      v, src = row(err, "bloom_bits")
      assert.are.equal("10", v, err)
      assert.are.equal("preset default", src)
    end
    -- quarry options --db DIR: what db:tuning() reports, as JSON too
    local json = require("quarry.json")
    local doc = json.decode((expect(0, { "options", "--db", s.db, "--db-write-buffer-mb", "8",
      "--db-compression", "zstd", "--db-wal", "on", "--output", "json" }, env)))
    local by = {}
    for _, r in ipairs(doc.options) do by[r.name] = r end
    assert.are.equal(8, by.write_buffer_mb.value)
    assert.are.equal("flag --db-write-buffer-mb", by.write_buffer_mb.source)
    assert.are.equal("zstd", by.compression.value)
    assert.are.equal(true, by.wal.value)
    assert.are.equal(64, by.block_cache_mb.value)
    -- without a flag the environment wins over the preset
    local out = expect(0, { "options", "--preset", "production" }, env)
    assert.are.same({ "32", "environment QUARRY_DB_WRITE_BUFFER_MB" }, { row(out, "write_buffer_mb") })
    assert.are.same({ "production" }, { (select(2, row(out, "bloom_bits"))):match("preset (%S+)") })
  end)

  it("is one flag per tuning option of quarry.option_list, with its type checked", function()
    local quarry = require("quarry")
    local help = expect(0, { "scan", "--help" })
    for _, o in ipairs(quarry.option_list) do
      local flag = "--db-" .. o.name:gsub("_", "-")
      if o.tuning then has(help, flag .. " ") else assert.is_nil(help:find(flag .. " ", 1, true)) end
    end
    local s = store("args-tuning-bad")
    local _, err = expect(2, { "count", "--db", s.db, "--db-wal", "maybe" })
    has(err, "--db-wal expects on or off")
    _, err = expect(2, { "count", "--db", s.db, "--db-block-cache-mb", "lots" })
    has(err, "--db-block-cache-mb expects an integer")
  end)
end)

describe("the man page and the completions", function()
  local build = os.getenv("QUARRY_BUILD_DIR") or "build"

  it("are what the build generated, regenerated from the parsers", function()
    for file, args in pairs({ ["quarry.1"] = { "man" }, ["quarry.bash"] = { "completion", "bash" },
      ["_quarry"] = { "completion", "zsh" } }) do
      local built = helpers.read_file(build .. "/doc/" .. file)
      assert.are.equal(built, (expect(0, args)), file .. " is stale: rebuild")
    end
  end)

  it("name every command, subcommand and option the commands accept", function()
    local gen = require("quarry.cli.docs_gen")
    local cli = require("quarry.cli")
    local list = gen.describe()
    local man = expect(0, { "man" })
    local bash = expect(0, { "completion", "bash" })
    local zsh = expect(0, { "completion", "zsh" })
    local roff = function(s) return (s:gsub("%-", "\\-")) end
    local names = {}
    for _, c in ipairs(list) do names[c.name] = c end
    for _, name in ipairs(cli.commands) do
      assert(names[name], name .. " is not described")
      has(man, ".SS quarry " .. roff(name))
      has(bash, " " .. name .. ") ")
      has(zsh, "'" .. name .. ":")
    end
    local function check(options, where)
      for _, o in ipairs(options) do
        for _, n in ipairs(o.names) do
          has(man, "\\fB" .. roff(n) .. "\\fR")
          has(bash, n)
          has(zsh, "'" .. n .. "[")
        end
      end
      assert(#options > 0, where)
    end
    local tuned = 0
    for _, c in ipairs(list) do
      check(c.options, c.name)
      for _, s in ipairs(c.commands) do
        has(man, "quarry " .. roff(c.name .. " " .. s.name))
        check(s.options, c.name .. " " .. s.name)
      end
      -- the options of a command are the ones its --help lists
      if c.name ~= "run" and #c.commands == 0 then
        local help = expect(0, { c.name, "--help" })
        for _, o in ipairs(c.options) do has(help, o.names[1]) end
        for _, o in ipairs(c.options) do if o.names[1] == "--db-write-buffer-mb" then tuned = tuned + 1 end end
      end
    end
    assert.is_true(tuned >= 15, "commands with the tuning flags: " .. tuned)
    -- hidden old spellings are not offered
    assert.is_nil(bash:find("--report", 1, true))
  end)
end)
