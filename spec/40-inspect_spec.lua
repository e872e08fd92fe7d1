-- spec/40-inspect_spec.lua: the inspection building blocks (key forms, pretty printing, opening
-- without taking the LOCK) and the quarry scan|get|count|cfs|props commands.
local helpers = require("spec.helpers")
local quarry = require("quarry")
local keys = require("quarry.cli.inspect.keys")
local pretty = require("quarry.cli.inspect.pretty")
local inspect_open = require("quarry.cli.inspect.open")
local json = require("quarry.json")

local pack = string.pack
local q = helpers.shell_quote
local _

-- Runs `quarry <args>` (args: a list, each shell-quoted; stdin: text fed to it). Returns the exit
-- status (0 ok), stdout, stderr.
local function quarry_cmd(args, stdin, env)
  return helpers.run_quarry(args, { stdin = stdin, env = env })
end

local lines = helpers.lines

-- A database with text keys, binary keys and a "blocks" family keyed by 8-byte heights.
local function sample_db()
  local dir = helpers.tmpdir("inspect") .. "/db"
  local db <close> = quarry.open(dir, { column_families = { "blocks", "meta" } })
  db:put("apple", "red")
  db:put("apricot", "orange")
  db:put("banana", "yellow")
  db:put("\0\255", "\1\2")
  db:put("sp ace", "tab\there")
  local blocks = db:cf("blocks")
  for h = 1, 20 do blocks:put(pack(">I8", h), "block " .. h) end
  db:cf("meta"):put("tip", pack(">I8", 20))
  return dir
end

describe("quarry.cli.inspect.keys", function()
  local codec_ok, codec = pcall(require, "quarry.chain.codec")

  -- { typed, bytes } table-driven
  local cases = {
    { "apple", "apple" },
    { "sp ace", "sp ace" },
    { "0x00ff", "\0\255" },
    { "0X00FF", "\0\255" },
    { "0x", "" },
    { "height:42", pack(">I8", 42) },
    { "height:0x2a", pack(">I8", 42) },
    { "height:0", pack(">I8", 0) },
    { "str:0x61", "0x61" },
    { "str:height:1", "height:1" },
    { '"a\\0b"', "a\0b" },
    { "'x\\x41\\65'", "xAA" },
    { '"tab\\there\\n"', "tab\there\n" },
    { '"\\u{e9}"', "\xc3\xa9" },
    { "hash:00FF", "\1\0\255" },
    { "hash:00ff", "\1\0\255" },
    { "hash:not-hex", "\0not-hex" },
    { "tx:abcd", "\1\171\205" },
    { "unknown:form", "unknown:form" },
    { "Height:1", "Height:1" },
  }
  for _, c in ipairs(cases) do
    it(("parses %s"):format(c[1]), function()
      assert.are.equal(c[2], keys.parse(c[1]))
    end)
  end

  if codec_ok and codec.ukey then
    it("parses utxo:H:T:N with the chain store's encoding", function()
      assert.are.equal(codec.ukey(7, 1, 2), keys.parse("utxo:7:1:2"))
      assert.are.equal(codec.skey("ab"), keys.parse("hash:ab"))
    end)
  end

  local bad = { "0x0", "0xzz", "height:-1", "height:x", "height:", '"unterminated', '"a\\q"',
    '"\\300"', "utxo:1:2" }
  for _, text in ipairs(bad) do
    it(("refuses %s with a message"):format(text), function()
      local k, err = keys.parse(text)
      assert.is_nil(k)
      assert.is_string(err)
      assert.has_error(function() keys.check(text) end)
    end)
  end

  it("reads hex without 0x in hex mode (ldb --key_hex), other forms still work", function()
    assert.are.equal("a", keys.parse("61", { hex = true }))
    assert.are.equal("a", keys.parse("0x61", { hex = true }))
    assert.are.equal(pack(">I8", 1), keys.parse("height:1", { hex = true }))
  end)

  it("typed() gives a form that parses back to the same bytes", function()
    for _, s in ipairs({ "apple", "", "sp ace", "\0\255", "0x61", "height:1", "str:x", '"q"',
      pack(">I8", 5), "caf\xc3\xa9", "a:b" }) do
      assert.are.equal(s, keys.parse(keys.typed(s)), "round trip of " .. keys.tohex(s))
    end
    assert.are.equal("apple", keys.typed("apple"))
    assert.are.equal("0x00ff", keys.typed("\0\255"))
  end)

  it("prints like ldb: raw, or 0x and uppercase hex", function()
    assert.are.equal("0x00FF", keys.ldb("\0\255", true))
    assert.are.equal("ab", keys.ldb("ab", false))
  end)

  it("parse_prefix keeps an odd trailing hex digit apart", function()
    local p, nib = keys.parse_prefix("0x0a1")
    assert.are.equal("\10", p)
    assert.are.equal("1", nib)
  end)
end)

describe("quarry.cli.inspect.pretty", function()
  local cases = {
    { "hello", '"hello"' },
    { "", '""' },
    { "\0\1binary", '"\\0\\1binary"' },
    { "a\0b", "0x610062 (3 bytes)" },
    { "line\n\ttab", '"line\\n\\ttab"' },
    { 'q"uote\\', '"q\\"uote\\\\"' },
    { "\0" .. "1", "0x0031 (2 bytes)" },
    { "ab\0" .. "123456", '"ab\\0001234' .. '56"' },
    { "caf\xc3\xa9", '"caf\xc3\xa9"' },
    { "\255abcdef", '"\\255abcdef"' },
    { pack(">I8", 42), "0x000000000000002a (8 bytes)" },
  }
  for _, c in ipairs(cases) do
    it(("shows %q as %s"):format(c[1], c[2]), function()
      assert.are.equal(c[2], pretty.bytes(c[1]))
    end)
  end

  it("cuts long strings with their length", function()
    local long = ("a"):rep(5000)
    assert.are.equal('"' .. ("a"):rep(pretty.max_text) .. '"... (5000 bytes)', pretty.bytes(long))
    local bin = ("\0\1"):rep(100)
    assert.are.equal("0x" .. ("0001"):rep(pretty.max_hex // 2) .. "... (200 bytes)", pretty.bytes(bin))
    assert.are.equal('"aaa"... (5000 bytes)', pretty.bytes(long, { max = 3 }))
  end)

  it("never cuts a UTF-8 sequence", function()
    local s = ("\xc3\xa9"):rep(100)
    local shown = pretty.bytes(s, { max = 5 })
    assert.are.equal('"\xc3\xa9\xc3\xa9"... (200 bytes)', shown)
  end)

  it("forces hex when asked", function()
    assert.are.equal("0x6869 (2 bytes)", pretty.bytes("hi", { hex = true }))
  end)

  it("prints tables sorted, on one line when they fit, indented otherwise", function()
    assert.are.equal('{ 1, 2, 3 }', pretty.value({ 1, 2, 3 }))
    assert.are.equal('{ [" odd"] = true, a = 1, b = "x" }', pretty.value({ b = "x", a = 1, [" odd"] = true }))
    assert.are.equal("{}", pretty.value({}))
    local nested = { name = ("n"):rep(60), list = { 1, 2 }, inner = { deep = { x = ("y"):rep(70) } } }
    assert.are.equal(table.concat({
      "{",
      "  inner = {",
      "    deep = {",
      '      x = "' .. ("y"):rep(70) .. '"',
      "    }",
      "  },",
      "  list = { 1, 2 },",
      '  name = "' .. ("n"):rep(60) .. '"',
      "}",
    }, "\n"), pretty.value(nested))
  end)

  it("marks cycles and limits depth and items", function()
    local t = { }
    t.self = t
    assert.matches("self = <cycle: 0x%x+>", pretty.value(t))
    local many = {}
    for i = 1, 150 do many[i] = i end
    assert.matches("%.%.%. %(50 more%)", pretty.value(many))
    assert.are.equal("{ a = {...} }", pretty.value({ a = { b = 1 } }, { depth = 1 }))
  end)

  it("keeps JSON objects in their own key order and shows null", function()
    local o = json.decode('{"z":1,"a":[true,null],"n":1.50}')
    assert.are.equal("{ z = 1, a = { true, null }, n = 1.50 }", pretty.value(o))
  end)

  it("shows quarry errors and handles through tostring", function()
    local dir = helpers.tmpdir("pp") .. "/db"
    local err = helpers.quarry_error(quarry.open, dir, { mode = "read_only" })
    assert.are.equal(tostring(err), pretty.error(err))
    assert.are.equal(tostring(err), pretty.value(err))
    assert.are.equal("plain", pretty.error("plain"))
    assert.are.equal("{ x = 1 }", pretty.error({ x = 1 }))
  end)
end)

describe("quarry.cli.inspect.open", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)
  teardown(helpers.cleanup)

  it("opens read-only when the LOCK is free, and never takes it", function()
    local dir = sample_db()
    assert.is_false((inspect_open.lock_holder(dir)))
    local s <close> = inspect_open.open(dir)
    assert.are.equal("read_only", s.mode)
    assert.are.equal("read_only", s.db:mode())
    -- the LOCK stays free: a writer in another process opens the database meanwhile
    local ok, out, err = helpers.run_lua(("local db = require('quarry').open(%q) db:put('new', '1') "
      .. "db:close() io.write('wrote')"):format(dir))
    assert.is_true(ok, err)
    assert.are.equal("wrote", out)
    assert.are.equal("red", s.db:get("apple"))
    assert.is_nil(s.db:get("new")) -- a read-only view is as of opening
  end)

  it("opens as a secondary (in a scratch directory removed at close) when a process holds the LOCK", function()
    local dir = sample_db()
    local child = helpers.spawn_lua(([[
      local db = require("quarry").open(%q)
      io.write("open\n") io.stdout:flush()
      for line in io.lines() do
        local k, v = line:match("^put (%%S+) (%%S+)$")
        if k then db:put(k, v) io.write("ok\n") io.stdout:flush() end
      end
      db:close()
    ]]):format(dir))
    assert.are.equal("open", child.recv())
    local held, pid = inspect_open.lock_holder(dir)
    assert.is_true(held)
    assert.is_number(pid)
    local s = inspect_open.open(dir)
    assert.are.equal("secondary", s.mode)
    assert.matches("process " .. pid, s.reason)
    assert.truthy(helpers.exists(s.scratch))
    child.send("put late 1")
    assert.are.equal("ok", child.recv())
    assert.is_nil(s.db:get("late"))
    assert.are.equal("caught up with the primary", s:refresh())
    assert.are.equal("1", s.db:get("late"))
    local scratch = s.scratch
    s:close()
    assert.is_false(helpers.exists(scratch))
    s:close() -- harmless twice
    assert.is_true((child.finish()))
  end)

  it("refresh reopens a read-only session to see newer writes", function()
    local dir = sample_db()
    local s <close> = inspect_open.open(dir, { mode = "read_only" })
    assert.is_true((helpers.run_lua(("local db = require('quarry').open(%q) db:put('later', 'x') db:close()")
      :format(dir))))
    assert.is_nil(s.db:get("later"))
    assert.are.equal("reopened read-only", s:refresh())
    assert.are.equal("x", s.db:get("later"))
  end)

  it("honours an explicit mode and secondary_path", function()
    local dir = sample_db()
    local sec = helpers.tmpdir("sec")
    local s <close> = inspect_open.open(dir, { mode = "secondary", secondary_path = sec })
    assert.are.equal("secondary", s.db:mode())
    assert.is_nil(s.scratch) -- not ours to remove
    s:close()
    assert.truthy(helpers.exists(sec))
    local rw <close> = inspect_open.open(dir, { mode = "read_write" })
    assert.are.equal("read_write", rw.db:mode())
    assert.are.equal("read-write: always current", rw:refresh())
    -- read-write takes the LOCK: another process cannot open the database read-write
    local ok, out = helpers.run_lua(("local ok, e = pcall(require('quarry').open, %q) "
      .. "io.write(ok and 'opened' or e.code)"):format(dir))
    assert.is_true(ok)
    assert.are.equal("Locked", out)
  end)

  it("refuses a directory that is not a database, and creates nothing", function()
    local dir = helpers.tmpdir("none") .. "/nothing"
    local ok, err = pcall(inspect_open.open, dir)
    assert.is_false(ok)
    assert.matches("not a RocksDB database", tostring(err))
    assert.is_false(helpers.exists(dir))
    ok = pcall(inspect_open.open, dir, { mode = "read_write" })
    assert.is_false(ok)
    assert.is_false(helpers.exists(dir))
  end)

  it("names the families when one is missing", function()
    local s <close> = inspect_open.open(sample_db())
    local ok, err = pcall(s.cf, s, "nope")
    assert.is_false(ok)
    assert.matches("no column family 'nope' %(families: default, blocks, meta%)", err)
  end)
end)

describe("quarry scan|get|count|cfs|props", function()
  local dir
  setup(function() dir = sample_db() end)
  teardown(helpers.cleanup)

  it("scan prints KEY : VALUE in key order, raw like ldb", function()
    local st, out = quarry_cmd({ "scan", "--db", dir, "--cf", "meta" })
    assert.are.equal(0, st)
    assert.are.equal("tip : " .. pack(">I8", 20) .. "\n", out)
    st, out = quarry_cmd({ "scan", "--db", dir, "--hex" })
    assert.are.equal(0, st)
    assert.are.same({ "0x00FF : 0x0102", "0x6170706C65 : 0x726564", "0x61707269636F74 : 0x6F72616E6765",
      "0x62616E616E61 : 0x79656C6C6F77", "0x737020616365 : 0x7461620968657265" }, lines(out))
  end)

  it("scan bounds: --from inclusive, --to exclusive, --prefix, --max-keys, --reverse, --keys-only", function()
    local st, out = quarry_cmd({ "scan", "--db", dir, "--cf", "blocks", "--from", "height:3",
      "--to", "height:6", "--value-hex" })
    assert.are.equal(0, st)
    assert.are.equal(3, #lines(out))
    assert.matches("^" .. pack(">I8", 3) .. " : 0x626C6F636B2033\n", out)
    st, out = quarry_cmd({ "scan", "--db", dir, "--prefix", "ap", "--keys-only" })
    assert.are.same({ "apple", "apricot" }, lines(out))
    st, out = quarry_cmd({ "scan", "--db", dir, "--max-keys", "2", "--from", "apple" })
    assert.are.same({ "apple : red", "apricot : orange" }, lines(out))
    st, out = quarry_cmd({ "scan", "--db", dir, "--reverse", "--max-keys", "2", "--keys-only" })
    assert.are.same({ "sp ace", "banana" }, lines(out))
    st, out = quarry_cmd({ "scan", "--db", dir, "--from", "b", "--to", "a" })
    assert.are.equal(0, st)
    assert.are.equal("", out)
    st, out = quarry_cmd({ "scan", "--db", dir, "--max-keys", "0" })
    assert.are.equal("", out)
  end)

  it("scan --pretty shows the shell's display", function()
    local _, out = quarry_cmd({ "scan", "--db", dir, "--cf", "blocks", "--pretty", "--max-keys", "1" })
    assert.are.equal('0x0000000000000001 (8 bytes) : "block 1"\n', out)
  end)

  it("scan --json prints one object per line, binary as key_hex / value_hex", function()
    local st, out = quarry_cmd({ "scan", "--db", dir, "--json" })
    assert.are.equal(0, st)
    local rows = {}
    for i, l in ipairs(lines(out)) do rows[i] = json.decode(l) end
    assert.are.equal(5, #rows)
    assert.are.equal("00ff", rows[1].key_hex)
    assert.are.equal("0102", rows[1].value_hex)
    assert.is_nil(rows[1].key)
    assert.are.equal("apple", rows[2].key)
    assert.are.equal("red", rows[2].value)
    assert.are.equal("tab\there", rows[5].value)
    _, out = quarry_cmd({ "scan", "--db", dir, "--json", "--hex", "--max-keys", "1", "--from", "6170706c65" })
    assert.are.equal('{"key_hex":"6170706c65","value_hex":"726564"}\n', out)
    -- with --hex a plain text key must be written str:TEXT (plain text is refused: spec/39)
    _, out = quarry_cmd({ "scan", "--db", dir, "--json", "--hex", "--max-keys", "1", "--from", "str:apple" })
    assert.are.equal('{"key_hex":"6170706c65","value_hex":"726564"}\n', out)
    _, out = quarry_cmd({ "scan", "--db", dir, "--json", "--keys-only", "--prefix", "ban" })
    assert.are.equal('{"key":"banana"}\n', out)
  end)

  it("get prints the value, or fails with status 1 naming the missing key", function()
    local st, out, err = quarry_cmd({ "get", "--db", dir, "apple" })
    assert.are.equal(0, st)
    assert.are.equal("red\n", out)
    st, out = quarry_cmd({ "get", "--db", dir, "--cf", "blocks", "height:7" })
    assert.are.equal(0, st)
    assert.are.equal("block 7\n", out)
    st, out = quarry_cmd({ "get", "--db", dir, "--hex", "0x00FF" })
    assert.are.equal(0, st)
    assert.are.equal("0x0102\n", out)
    st, out, err = quarry_cmd({ "get", "--db", dir, "nope" })
    assert.are.equal(1, st)
    assert.are.equal("", out)
    assert.matches("not found: nope", err)
    st, out = quarry_cmd({ "get", "--db", dir, "apple", "nope", "banana" })
    assert.are.equal(1, st)
    assert.are.same({ "apple : red", "banana : yellow" }, lines(out))
    st, out = quarry_cmd({ "get", "--db", dir, "--json", "apple", "nope", '"\\0\\255"' })
    assert.are.equal(1, st)
    assert.are.same({ '{"key":"apple","value":"red"}', '{"key":"nope","value":null}',
      '{"key_hex":"00ff","value_hex":"0102"}' }, lines(out))
  end)

  it("count is exact (or RocksDB's estimate), per family or all", function()
    local st, out = quarry_cmd({ "count", "--db", dir })
    assert.are.equal(0, st)
    assert.are.equal("5\n", out)
    _, out = quarry_cmd({ "count", "--db", dir, "--cf", "blocks", "--from", "height:5", "--to", "height:10" })
    assert.are.equal("5\n", out)
    _, out = quarry_cmd({ "count", "--db", dir, "--all" })
    assert.are.same({ "family   keys", "default     5", "blocks     20", "meta        1" }, lines(out))
    _, out = quarry_cmd({ "count", "--db", dir, "--all", "--json" })
    assert.are.equal('[{"cf":"default","count":5},{"cf":"blocks","count":20},{"cf":"meta","count":1}]\n', out)
    st, out = quarry_cmd({ "count", "--db", dir, "--cf", "blocks", "--estimate" })
    assert.are.equal(0, st)
    assert.matches("^%d+\n$", out)
  end)

  it("cfs lists the families, --long with figures, --json", function()
    local st, out = quarry_cmd({ "cfs", "--db", dir })
    assert.are.equal(0, st)
    assert.are.same({ "default", "blocks", "meta" }, lines(out))
    _, out = quarry_cmd({ "cfs", "--db", dir, "--json" })
    assert.are.equal('["default","blocks","meta"]\n', out)
    _, out = quarry_cmd({ "cfs", "--db", dir, "--long" })
    assert.matches("^family%s+keys %(est%.%)%s+sst%s+memtables\n", out)
    assert.matches("\nblocks%s+20%s", out)
    _, out = quarry_cmd({ "cfs", "--db", dir, "--long", "--json" })
    local rows = json.decode(out)
    assert.are.equal("blocks", rows[2].name)
    assert.are.equal(20, rows[2].estimate_keys)
  end)

  it("props prints properties; an unknown name fails with status 1", function()
    local st, out = quarry_cmd({ "props", "--db", dir, "--cf", "blocks", "estimate-num-keys" })
    assert.are.equal(0, st)
    assert.are.equal("rocksdb.estimate-num-keys: 20\n", out)
    _, out = quarry_cmd({ "props", "--db", dir })
    assert.matches("rocksdb.estimate%-num%-keys: 5\n", out)
    assert.matches("rocksdb.num%-files%-at%-level0: %d+\n", out)
    _, out = quarry_cmd({ "props", "--db", dir, "levelstats" })
    assert.matches("^rocksdb.levelstats:\nLevel Files Size", out)
    _, out = quarry_cmd({ "props", "--db", dir, "--json", "estimate-num-keys", "nope" })
    local props = json.decode(out)
    assert.are.equal(5, props["rocksdb.estimate-num-keys"])
    assert.are.equal(json.null, props["rocksdb.nope"])
    local err
    st, _, err = quarry_cmd({ "props", "--db", dir, "nope" })
    assert.are.equal(1, st)
    assert.matches("unknown property rocksdb.nope", err)
  end)

  it("exit status 2 on bad usage, 1 on a database that cannot be read", function()
    local st, _, err = quarry_cmd({ "scan" })
    assert.are.equal(2, st)
    assert.matches("%-%-db", err)
    st = quarry_cmd({ "scan", "--db", dir, "--read-only", "--secondary" })
    assert.are.equal(2, st)
    st, _, err = quarry_cmd({ "scan", "--db", dir, "--max-keys=-1" })
    assert.are.equal(2, st)
    assert.matches("non%-negative integer", err)
    st = quarry_cmd({ "scan", "--db", dir, "--max-keys", "many" })
    assert.are.equal(2, st)
    st = quarry_cmd({ "get", "--db", dir })
    assert.are.equal(2, st)
    st, _, err = quarry_cmd({ "scan", "--db", dir .. "-missing" })
    assert.are.equal(1, st)
    assert.matches("not a RocksDB database", err)
    st, _, err = quarry_cmd({ "scan", "--db", dir, "--cf", "nope" })
    assert.are.equal(1, st)
    assert.matches("no column family 'nope'", err)
    st, _, err = quarry_cmd({ "get", "--db", dir, "0xabc" }) -- a malformed key is bad usage
    assert.are.equal(2, st)
    assert.matches("odd number of hex digits", err)
  end)

  it("removes scratch directories left by killed secondaries, not those of live ones", function()
    local tmp = helpers.tmpdir("stale")
    local f = assert(io.open("/proc/self/stat"))
    local live_pid = f:read("n")
    f:close()
    local stale = tmp .. "/quarry-secondary-2147483-AbC123" -- above Linux's pid_max: never alive
    local alive = ("%s/quarry-secondary-%d-XyZ789"):format(tmp, live_pid)
    assert(os.execute("mkdir -p " .. q(stale) .. " " .. q(alive)))
    local st = quarry_cmd({ "count", "--db", dir, "--secondary" }, nil, { TMPDIR = tmp })
    assert.are.equal(0, st)
    assert.is_false(helpers.exists(stale))
    assert.is_true(helpers.exists(alive))
  end)

  it("reads a database a live process holds open (secondary), seeing its writes", function()
    local live = sample_db()
    local child = helpers.spawn_lua(([[
      local db = require("quarry").open(%q)
      db:put("live", "yes")
      io.write("ready\n") io.stdout:flush()
      io.read("l")
      db:close()
    ]]):format(live))
    assert.are.equal("ready", child.recv())
    local tmp = helpers.tmpdir("scratch")
    local st, out, err = quarry_cmd({ "get", "--db", live, "live" }, nil, { TMPDIR = tmp })
    assert.are.equal(0, st, err)
    assert.are.equal("yes\n", out)
    st, out = quarry_cmd({ "count", "--db", live }, nil, { TMPDIR = tmp })
    assert.are.equal(0, st)
    assert.are.equal("6\n", out)
    child.send("")
    assert.is_true((child.finish()))
    -- the secondary instances' scratch directories are gone
    local p = io.popen("ls -A " .. q(tmp))
    local listing = p:read("a")
    p:close()
    assert.are.equal("", listing)
  end)
end)
