-- 01-open: opening and creating databases and families, open options, presets and their
-- precedence (preset < QUARRY_DB_* environment < explicit), and bad options. Runs over both
-- backends (spec/helpers.lua backend(); QUARRY_SPEC_BACKEND=postgresql: a database on the test
-- server, its URL in place of the directory).
local quarry = require("quarry")
local helpers = require("spec.helpers")

describe("quarry.open", function()
  if helpers.backend_pending(pending) then return end
  after_each(helpers.collect_and_cleanup)

  it("exposes the versions of quarry and of the libraries", function()
    assert.are.equal("0.1.0", quarry.version)
    assert.matches("^%d+%.%d+%.%d+$", quarry.rocksdb_version)
    assert.matches("^%d+%.%d+%.%d+$", quarry.lz4_version)
  end)

  it("takes only strings as paths: quarry.open(42) does not create a database named 42", function()
    local cwd = assert(io.popen("pwd")):read("l")
    local db <close> = quarry.open(helpers.backend("open"))
    local calls = {
      { "open", function() quarry.open(42) end },
      { "destroy", function() quarry.destroy(42) end },
      { "list_column_families", function() quarry.list_column_families(42) end },
      { "backups", function() quarry.backups(42) end },
      { "checkpoint", function() db:checkpoint(42) end },
    }
    for _, c in ipairs(calls) do
      local ok, err = pcall(c[2])
      assert.is_false(ok, c[1])
      assert.is_true(quarry.is_error(err), c[1])
      assert.are.equal("InvalidArgument", err.code, c[1])
      assert.are.equal(c[1], err.op)
      assert.matches("bad argument #1 to '" .. c[1] .. "' (path string expected, got number)",
        err.message, 1, true)
    end
    assert.is_false(helpers.exists(cwd .. "/42"))
  end)

  it("creates a missing database by default and reports path and mode", function()
    local path = helpers.backend("open")
    local db = quarry.open(path)
    helpers.assert_db_path(path, db:path())
    assert.are.equal("read_write", db:mode())
    assert.are.same({ "default" }, db:column_families())
    db:put("k", "v")
    db:close()
    if helpers.rocksdb then assert.is_true(helpers.exists(path .. "/CURRENT")) end
    db = quarry.open(path)
    assert.are.equal("v", db:get("k"))
    db:close()
  end)

  it("refuses a missing database with create_if_missing = false", function()
    local path = helpers.backend("absent")
    local err = helpers.raises_code("NotFound", nil, quarry.open, path, { create_if_missing = false })
    assert.are.equal("open", err.op)
    -- the refused open created nothing: a second one is refused the same way
    helpers.raises_code("NotFound", nil, quarry.open, path, { create_if_missing = false })
    if helpers.rocksdb then assert.is_false(helpers.exists(path .. "/CURRENT")) end
  end)

  it("creates the column families asked for and opens every existing one", function()
    local path = helpers.backend("open")
    local db = quarry.open(path, { column_families = { "users", "events" } })
    local names = db:column_families()
    table.sort(names)
    assert.are.same({ "default", "events", "users" }, names)
    db:cf("users"):put("u1", "alice")
    db:close()

    local listed = quarry.list_column_families(path)
    table.sort(listed)
    assert.are.same({ "default", "events", "users" }, listed)

    -- reopened without naming them: every family in the database is open
    db = quarry.open(path)
    assert.are.equal("alice", db:cf("users"):get("u1"))
    db:close()
  end)

  it("creates, finds and drops families on an open database", function()
    local db = quarry.open(helpers.backend("open"))
    local logs = db:create_column_family("logs")
    logs:put("a", "1")
    assert.are.equal("logs", logs:name())
    assert.are.equal("1", db:cf("logs"):get("a"))
    helpers.raises_code("InvalidArgument", "already exists", db.create_column_family, db, "logs")
    helpers.raises_code("NotFound", "nope", db.cf, db, "nope")
    db:drop_column_family("logs")
    helpers.raises_code("NotFound", nil, db.cf, db, "logs")
    -- the handle of a dropped family refuses to work
    helpers.raises_code("NotFound", "dropped", logs.get, logs, "a")
    helpers.raises_code("InvalidArgument", "default", db.drop_column_family, db, "default")
    db:close()
  end)

  helpers.only("postgresql", it)("refuses destroy over PostgreSQL, naming DROP SCHEMA, and keeps the data", function()
    local path = helpers.backend("open")
    local db <close> = quarry.open(path)
    db:put("k", "v")
    local err = helpers.raises_code("NotSupported", "DROP SCHEMA", quarry.destroy, path)
    assert.are.equal("destroy", err.op)
    assert.is_nil(err.message:find(helpers.pg_password(), 1, true))
    assert.are.equal("v", db:get("k"))
  end)

  helpers.only("rocksdb", it)("destroys a closed database and refuses an open one", function()
    local path = helpers.backend("open")
    local db = quarry.open(path)
    db:put("k", "v")
    helpers.raises_code("Busy", nil, quarry.destroy, path)
    db:close()
    quarry.destroy(path)
    db = quarry.open(path)
    assert.is_nil(db:get("k"))
    db:close()
  end)

  describe("presets", function()
    it("lists the resolved values of each preset", function()
      for _, name in ipairs({ "default", "production", "development" }) do
        local p = quarry.presets[name]
        assert.is_table(p, name)
        assert.are.equal("integer", math.type(p.write_buffer_mb))
        assert.is_boolean(p.wal)
        assert.is_string(p.compression)
      end
      assert.are.equal(256, quarry.presets.default.block_cache_mb)
      assert.are.equal(512, quarry.presets.production.block_cache_mb)
      assert.are_not.equal(quarry.presets.default.write_buffer_mb,
        quarry.presets.development.write_buffer_mb)
    end)

    it("gives a database the preset's values, visible in db:tuning()", function()
      for name, values in pairs(quarry.presets) do
        local db = quarry.open(helpers.backend("preset"), { preset = name, env = false })
        assert.are.same(values, db:tuning())
        db:close()
      end
    end)

    it("refuses an unknown preset", function()
      helpers.raises_code("InvalidArgument", "fastest", quarry.open,
        helpers.backend("preset"), { preset = "fastest" })
    end)
  end)

  describe("precedence", function()
    local child_source = [[
      local quarry = require("quarry")
      local opts = assert(load("return " .. arg_opts))()
      local db = quarry.open(path, opts)
      io.write(tostring(db:tuning().block_cache_mb), " ", tostring(db:tuning().write_buffer_mb))
      db:close()
    ]]

    local function tuning_in_child(opts_source, env)
      local path = helpers.backend("env")
      local source = ("local path, arg_opts = %q, %q\n"):format(path, opts_source) .. child_source
      local ok, out, err = helpers.run_lua(source, env)
      assert(ok, "child failed: " .. err)
      local cache, wb = out:match("^(%-?%d+) (%-?%d+)$")
      assert(cache, "unexpected child output: " .. out .. err)
      return tonumber(cache), tonumber(wb)
    end

    it("applies QUARRY_DB_* overrides over the preset", function()
      local cache, wb = tuning_in_child("{ preset = 'production' }", { QUARRY_DB_BLOCK_CACHE_MB = "123" })
      assert.are.equal(123, cache)
      assert.are.equal(quarry.presets.production.write_buffer_mb, wb)
    end)

    it("lets explicit options win over the environment", function()
      local cache = tuning_in_child("{ block_cache_mb = 77 }", { QUARRY_DB_BLOCK_CACHE_MB = "123" })
      assert.are.equal(77, cache)
    end)

    it("ignores the environment with env = false", function()
      local cache = tuning_in_child("{ env = false }", { QUARRY_DB_BLOCK_CACHE_MB = "123" })
      assert.are.equal(quarry.presets.default.block_cache_mb, cache)
    end)

    it("refuses a bad environment value, naming the variable", function()
      local path = helpers.backend("env")
      local ok, out = helpers.run_lua(([[
        local quarry = require("quarry")
        local ok, err = pcall(quarry.open, %q)
        io.write(tostring(ok), " ", tostring(err and err.code), " ", tostring(err and err.message))
      ]]):format(path), { QUARRY_DB_BLOCK_CACHE_MB = "lots" })
      assert.is_true(ok)
      assert.matches("^false InvalidArgument ", out)
      assert.matches("QUARRY_DB_BLOCK_CACHE_MB", out, 1, true)
    end)
  end)

  describe("explicit options", function()
    it("sets tuning values by type (integer, float with integer value, boolean, string)", function()
      local db = quarry.open(helpers.backend("opts"), {
        env = false,
        write_buffer_mb = 32,
        block_cache_mb = 16.0,
        wal = true,
        sync = true,
        compression = "none",
      })
      local t = db:tuning()
      assert.are.equal(32, t.write_buffer_mb)
      assert.are.equal(16, t.block_cache_mb)
      assert.is_true(t.sync)
      assert.are.equal("none", t.compression)
      db:close()
    end)

    it("refuses an unknown option, naming it", function()
      local err = helpers.raises_code("InvalidArgument", "block_cache", quarry.open,
        helpers.backend("opts"), { block_cache = 10 })
      assert.are.equal("open", err.op)
      assert.matches("quarry: open: .*block_cache", tostring(err))
    end)

    it("refuses a value of the wrong type, naming the option", function()
      local path = helpers.backend("opts")
      helpers.raises_code("InvalidArgument", "block_cache_mb", quarry.open, path, { block_cache_mb = "big" })
      helpers.raises_code("InvalidArgument", "block_cache_mb", quarry.open, path, { block_cache_mb = 1.5 })
      helpers.raises_code("InvalidArgument", "wal", quarry.open, path, { wal = 1 })
      helpers.raises_code("InvalidArgument", "compression", quarry.open, path, { compression = true })
      helpers.raises_code("InvalidArgument", "column_families", quarry.open, path, { column_families = "users" })
      helpers.raises_code("InvalidArgument", "env", quarry.open, path, { env = "no" })
      helpers.raises_code("InvalidArgument", "option names", quarry.open, path, { 1, 2 })
    end)

    it("refuses out-of-range and unknown values, naming the option", function()
      local path = helpers.backend("opts")
      helpers.raises_code("InvalidArgument", "compression", quarry.open, path, { compression = "gzip" })
      helpers.raises_code("InvalidArgument", "write_buffer_mb", quarry.open, path, { write_buffer_mb = -5 })
      helpers.raises_code("InvalidArgument", "mode", quarry.open, path, { mode = "sideways" })
      -- nothing was created by the refused opens
      helpers.raises_code("NotFound", nil, quarry.open, path, { create_if_missing = false })
    end)

    it("requires secondary_path with mode = secondary (RocksDB only: NotSupported over PostgreSQL)", function()
      local path = helpers.backend("opts")
      quarry.open(path):close()
      if helpers.rocksdb then
        helpers.raises_code("InvalidArgument", "secondary_path", quarry.open, path, { mode = "secondary" })
      else
        helpers.raises_code("NotSupported", nil, quarry.open, path, { mode = "secondary" })
      end
    end)

    it("raises argument errors for a path or options of the wrong type", function()
      helpers.raises_plain("bad argument #1 to", quarry.open, nil)
      helpers.raises_plain("table expected, got string", quarry.open, helpers.backend("opts"), "fast")
    end)
  end)

  describe("quarry.with", function()
    it("closes the database after the function, also when it raises", function()
      local path = helpers.backend("with")
      local seen
      local got = quarry.with(path, function(db)
        seen = db
        db:put("k", "v")
        return db:get("k")
      end)
      assert.are.equal("v", got)
      assert.matches("closed", tostring(seen))
      assert.has_error(function()
        quarry.with(path, nil, function(db)
          seen = db
          error("boom")
        end)
      end, nil)
      assert.matches("closed", tostring(seen))
    end)
  end)
end)
