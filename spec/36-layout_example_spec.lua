-- 36-layout_example: the worked layout of docs/formats.md ("Writing your own layout",
-- docs/examples/layouts/kvnode.lua). A generated dump migrates through it with --verify; the
-- database is then read here on its own terms (quarry.open, each b/ value decoded with quarry.json,
-- the UTXO set and the supply recomputed from the blocks by the accounting below) and compared with
-- the u/, h/ and tip keys and with the report; `verify --layout` must fail once a u/ key is
-- deleted; export gives every record back; --from-db moves it into a chain store that verifies.
-- The pebble example dump (a foreign format) goes through the same layout.
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")
local json = require("quarry.json")
local quarry = require("quarry")

local LAYOUT = "docs/examples/layouts/kvnode.lua"
local PEBBLE = "docs/examples/formats/pebble.lua"
local PEBBLE_DUMP = "docs/examples/formats/pebble-dump.json"

-- The value of "  name   value" in a report.
local function field(out, name)
  return out:match("\n  " .. name .. " +(%S+)")
end

-- What the database holds, read without the layout: blocks by height, u/ and h/ entries, tip.
local function read_db(path)
  local db <close> = quarry.open(path, { mode = "read_only" })
  local t = { blocks = {}, utxo = {}, nutxo = 0, hashes = {}, tip = db:get("tip") }
  for k, v in db:pairs({ prefix = "b/" }) do
    assert.equal(10, #k, "a b/ key is b/ and 8 bytes")
    local b = json.decode(v)
    t.blocks[#t.blocks + 1] = { height = string.unpack(">I8", k, 3), record = b, text = v }
  end
  for k, v in db:pairs({ prefix = "u/" }) do
    t.utxo[k] = v
    t.nutxo = t.nutxo + 1
  end
  for k, v in db:pairs({ prefix = "h/" }) do t.hashes[k:sub(3)] = v end
  return t
end

-- The unspent outputs and supply of quarry-format blocks, by plain accounting: every input
-- removes the output it names, every output of a transaction adds one (the generated chain has
-- no unspendable outputs; a coinbase has no inputs).
local function account(blocks)
  local unspent, n, supply = {}, 0, 0
  for _, b in ipairs(blocks) do
    for _, tx in ipairs(b.transactions) do
      for _, i in ipairs(tx.inputs) do
        local k = "u/" .. i.tx_id .. "/" .. i.output_index
        assert(unspent[k], "the dump spends a missing output " .. k)
        supply = supply - unspent[k]
        unspent[k], n = nil, n - 1
      end
      for o, out in ipairs(tx.outputs) do
        assert(math.type(out.amount) == "integer", "a generated amount is an integer")
        unspent["u/" .. tx.id .. "/" .. (o - 1)] = out.amount
        supply, n = supply + out.amount, n + 1
      end
    end
  end
  return unspent, n, supply
end

describe("the worked layout of docs/formats.md (kvnode)", function()
  local dir, dump, db, report, blocks
  setup(function()
    dir = helpers.tmpdir("kvnode")
    dump = ch.gen(dir, "chain.json", 120)
    db = dir .. "/kv-db"
    report = ch.ok({ "migrate", "--layout", LAYOUT, "--json", dump, "--db", db, "--verify",
      "--group", "25" })
    blocks = ch.read_blocks(dump)
  end)
  teardown(helpers.cleanup)

  it("migrates with --verify, and its report names the layout", function()
    assert.matches("layout kvnode", report, 1, true)
    assert.matches("integrity     ok: 5 checks passed, every block equals the source", report, 1, true)
    assert.equal("120", field(report, "blocks"))
  end)

  it("holds each record as JSON under b/<be64 height>, h/<hash> and tip", function()
    local t = read_db(db)
    assert.equal(#blocks, #t.blocks)
    local n = 0
    for i, b in ipairs(t.blocks) do
      assert.equal(blocks[i].index, b.height)
      assert.equal(json.encode(blocks[i]), b.text)        -- compact JSON, the record's own
      assert.equal(tostring(b.height), t.hashes[blocks[i].hash])
      n = n + 1
    end
    local nh = 0
    for _ in pairs(t.hashes) do nh = nh + 1 end
    assert.equal(n, nh)
    assert.equal(tostring(blocks[#blocks].index), t.tip)
  end)

  it("holds exactly the unspent outputs the blocks leave, and the report's supply", function()
    local t = read_db(db)
    local decoded = {}
    for i, b in ipairs(t.blocks) do decoded[i] = b.record end
    local unspent, n, supply = account(decoded)
    assert.equal(n, t.nutxo)
    for k, a in pairs(unspent) do
      assert.equal(("%d"):format(a), t.utxo[k], "u/ entry " .. k)
    end
    assert.equal(tostring(n), field(report, "utxos"))
    assert.equal(("%d"):format(supply), field(report, "supply"))
  end)

  it("verify --layout passes, and FAILS once a u/ key is deleted", function()
    local out = ch.ok({ "verify", "--layout", LAYOUT, "--db", db, "--json", dump })
    assert.matches("all 5 checks passed", out, 1, true)
    local copy = ch.copy_db(db, "kv-broken")
    local gone
    do
      local w <close> = quarry.open(copy)
      gone = w:seek("u/", { prefix = "u/", keys_only = true })
      w:delete(gone, { sync = true })
    end
    local ok, code, vout = ch.quarry({ "verify", "--layout", LAYOUT, "--db", copy, "--json", dump })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("FAIL utxo", vout, 1, true)
    assert.matches("the layout holds " .. (tonumber(field(report, "utxos")) - 1) .. " unspent outputs", vout, 1, true)
    assert.matches("checks FAILED", vout, 1, true)
  end)

  it("exports every record back as it came", function()
    local back = dir .. "/back.json"
    assert.matches("exported 120 blocks", ch.ok({ "export", "--layout", LAYOUT, "--db", db, "--json", back }), 1, true)
    local got, header = ch.read_blocks(back)
    local _, want_header = ch.read_blocks(dump)
    assert.equal(#blocks, #got)
    for i = 1, #blocks do assert.equal(json.encode(blocks[i]), json.encode(got[i]), "block " .. i - 1) end
    assert.equal(json.encode(want_header), json.encode(header))
  end)

  it("moves into a chain store with --from-db, which quarry verify passes", function()
    local target = dir .. "/chain-db"
    local out = ch.ok({ "migrate", "--from-db", db, "--from-layout", LAYOUT, "--db", target })
    assert.equal(field(report, "supply"), field(out, "supply"))
    assert.equal(field(report, "utxos"), field(out, "utxos"))
    local vout = ch.ok({ "verify", "--db", target, "--json", dump })
    assert.matches("\nall %d+ checks passed", vout)
  end)

  it("takes a foreign format's records (pebble) as they are", function()
    local pdb = dir .. "/pebble-kv"
    local out = ch.ok({ "migrate", "--format", PEBBLE, "--layout", LAYOUT, "--json", PEBBLE_DUMP,
      "--db", pdb, "--verify" })
    assert.equal("14999990000", field(out, "supply"))
    assert.matches("integrity     ok", out, 1, true)
    local t = read_db(pdb)
    assert.equal(4, t.nutxo)
    assert.equal("6000000000", t.utxo["u/t3/0"])
    local back = dir .. "/pebble-back.json"
    ch.ok({ "export", "--format", PEBBLE, "--layout", LAYOUT, "--db", pdb, "--json", back })
    local fmt = require("quarry.chain.formats").load(PEBBLE)
    local migrate = require("quarry.chain.migrate")
    local function records(path)
      local r = migrate.open_source(path, fmt)
      local list = {}
      for b in r:each() do list[#list + 1] = json.encode(b) end
      local h = json.encode(r:header())
      r:close()
      return list, h
    end
    local want, wh = records(PEBBLE_DUMP)
    local got, gh = records(back)
    assert.same(want, got)
    assert.equal(wh, gh)
    assert.equal(3, #got)
  end)
end)
