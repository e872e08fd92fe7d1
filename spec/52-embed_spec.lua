-- 52-embed: one engine per path and process. Two opens of a path in one process are two handles
-- on one RocksDB instance (writes, families and metrics shared; children per handle; the engine
-- closes with its last handle; destroy waits for all). The embedding example (docs/examples:
-- a C host with its own lua_State, the C core on the same path, four threads with a Lua state
-- each) runs and loses no write.
local helpers = require("spec.helpers")
local quarry = require("quarry")

local BUILD = os.getenv("QUARRY_BUILD_DIR") or "build"

describe("one engine per path and process", function()
  after_each(helpers.collect_and_cleanup)

  it("gives a second open a handle onto the same engine", function()
    local dir = helpers.tmpdir("shared")
    local a = quarry.open(dir .. "/db", { column_families = { "blocks" } })
    local b = quarry.open(dir .. "/./db", { column_families = { "meta" } }) -- another spelling
    assert.are.equal(2, a:metrics().handles)
    a:put("k", "v")
    assert.are.equal("v", b:get("k"))
    -- families: created by either, seen by both; each handle has its own cf objects
    b:cf("blocks"):put("h1", "block")
    assert.are.equal("block", a:cf("blocks"):get("h1"))
    assert.is_not_nil(a:cf("meta"))
    helpers.raises_code("InvalidArgument", "another database", a.get, a, "x", { snapshot = b:snapshot() })
    -- metrics are the engine's
    local m = b:metrics()
    assert.are.same({ 2, 2 }, { m.counters.gets, m.counters.puts })
    -- children are per handle: closing b leaves a's iterator working
    local it = a:iterator()
    it:first()
    b:close()
    assert.is_true(it:valid())
    it:next()
    it:close()
    assert.are.equal(1, a:metrics().handles)
    helpers.raises_code("Busy", nil, quarry.destroy, dir .. "/db")
    a:close()
    quarry.destroy(dir .. "/db")
  end)

  it("shares a read_write engine with a read_only open, which sees new writes and refuses its own", function()
    local path = helpers.tmpdir("ro") .. "/db"
    local w = quarry.open(path)
    local r = quarry.open(path, { mode = "read_only" })
    assert.are.equal("read_only", r:mode())
    w:put("later", "seen")
    assert.are.equal("seen", r:get("later"))
    helpers.raises_code("NotSupported", "read_only", r.put, r, "x", "y")
    w:close() -- the read_only handle keeps the engine
    assert.are.equal("seen", r:get("later"))
    r:close()
    -- everything closed: another process can take the lock
    local ok, out, err = helpers.run_lua(
      ("local db = require('quarry').open(%q) db:put('x', '1') db:close() print('ok')"):format(path))
    assert(ok, err)
    assert.are.equal("ok\n", out)
  end)

  it("keeps writes from two handles used alternately in one batch-heavy loop", function()
    local path = helpers.tmpdir("alt") .. "/db"
    local a, b = quarry.open(path), quarry.open(path)
    for i = 1, 500 do
      local h = i % 2 == 0 and a or b
      h:write(function(batch) batch:put(("k%04d"):format(i), tostring(i)) end)
    end
    local n = 0
    for _ in a:pairs({ prefix = "k" }) do n = n + 1 end
    assert.are.equal(500, n)
    assert.are.equal(500, b:metrics().counters.write_batches)
    a:close()
    b:close()
  end)
end)

describe("the embedding example (docs/examples/embed.c)", function()
  after_each(function()
    helpers.cleanup()
  end)

  it("runs: a C host, its Lua states and its C calls share one engine and lose no write", function()
    local exe = BUILD .. "/embed"
    local f = io.open(exe, "rb")
    if not f then
      pending("the example is not built (" .. exe .. ")")
      return
    end
    f:close()
    local dir = helpers.tmpdir("embed")
    local cpath = BUILD .. "/lua/?.so"
    local p = assert(io.popen(("%s %s %s %s 2>&1"):format(helpers.shell_quote(exe),
      helpers.shell_quote(dir .. "/db"), helpers.shell_quote("docs/examples/node_glue.lua"),
      helpers.shell_quote(cpath))))
    local out = p:read("a")
    local ok = p:close()
    assert(ok, out)
    assert.matches("2 handles on one engine", out, 1, true)
    assert.matches("c: 8000 of 8000 writes from 4 threads", out, 1, true)
    assert.matches("lua: node_db_wal_synced_total{node=\"example\"} %d+", out)
    assert.matches("\nok\n$", out)
  end)
end)

describe("docs/c-api.md", function()
  it("has a heading for every function of quarry.h", function()
    local header = assert(helpers.read_file("core/include/quarry.h"))
    local doc = assert(helpers.read_file("docs/c-api.md"))
    local have, missing, n = {}, {}, 0
    for name in doc:gmatch("\n### (quarry_[%w_]+)") do have[name] = true end
    -- every declaration: QUARRY_API <return type> <name>(  (possibly across lines)
    for decl in header:gmatch("QUARRY_API%s+([^;(]+)%(") do
      local name = decl:match("(quarry_[%w_]+)%s*$")
      if name then
        n = n + 1
        if not have[name] then missing[#missing + 1] = name end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing)
    assert.is_true(n > 90, "only " .. n .. " functions found in quarry.h")
  end)
end)
