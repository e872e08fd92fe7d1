-- 35-formats: `quarry formats` lists the built-in dump formats as their module files declare
-- them (each file loaded here with dofile, not through the registry), and the layouts;
-- `--output json` parses; `quarry formats FILE.lua` checks a user's format. The worked example
-- of docs/formats.md (docs/examples/formats/) migrates, and its supply equals the sum of the
-- unspent outputs computed here from the dump's text.
local helpers = require("spec.helpers")
local json = require("quarry.json")

local q = helpers.shell_quote
local BIN = os.getenv("QUARRY_BIN") or "build/quarry"
local EXAMPLE = "docs/examples/formats"

-- Runs `quarry <args...>`; returns exit code, stdout, stderr.
local function run(...)
  local dir = helpers.tmpdir("fmt-out")
  local quoted = {}
  for i, a in ipairs({ ... }) do quoted[i] = q(a) end
  local p = assert(io.popen(("%s %s 2>%s </dev/null"):format(q(BIN), table.concat(quoted, " "),
    q(dir .. "/stderr"))))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, helpers.read_file(dir .. "/stderr") or ""
end

-- The built-in formats' declarations, straight from their files.
local BUILTIN = { "quarry", "auriumchain", "bitcoin-core", "ethereum-rpc" }
local function declared(name)
  return dofile("scripts/quarry/chain/formats/" .. name:gsub("%-", "_") .. ".lua")
end

local function amount_words(d)
  local a = d.amount or { unit = "integer" }
  if type(a) == "string" then a = { unit = a } end
  return a
end

-- The line of `quarry formats` that starts with name.
local function line_of(out, name)
  for l in out:gmatch("[^\n]+") do
    if l:sub(1, #name + 1) == name .. " " then return l end
  end
  return nil
end

-- The supply, UTXO count and transaction count of the example dump, from its text: every
-- {"txid": ..., "ins": [...], "outs": [...]} in order; an input {"from": T, "n": N} spends
-- output N of T; a transaction with no inputs mints. Independent of quarry.json and the engine.
local function example_figures(text)
  local unspent, order, ntx = {}, {}, 0
  for txid, ins, outs in text:gmatch('{"txid": "([^"]*)", "ins": %[(.-)%], "outs": %[(.-)%]}') do
    ntx = ntx + 1
    for from, n in ins:gmatch('{"from": "([^"]*)", "n": (%d+)}') do
      local k = from .. ":" .. n
      assert(unspent[k], "the example spends a missing output " .. k)
      unspent[k] = nil
    end
    local n = 0
    for sats in outs:gmatch('{"sats": (%d+), "to": "[^"]*"}') do
      local k = txid .. ":" .. n
      unspent[k] = math.tointeger(sats)
      order[#order + 1] = k
      n = n + 1
    end
  end
  local supply, count = 0, 0
  for _, k in ipairs(order) do
    if unspent[k] then
      supply = supply + unspent[k]
      count = count + 1
    end
  end
  return supply, count, ntx
end

describe("quarry formats", function()
  after_each(helpers.collect_and_cleanup)

  it("lists the three built-ins with their declared blocks, unit and summary", function()
    local code, out, err = run("formats")
    assert.are.equal(0, code, err)
    for _, name in ipairs(BUILTIN) do
      local d = declared(name)
      assert.are.equal(name, d.name)
      local l = line_of(out, d.name)
      assert.truthy(l, "no line for " .. name .. " in:\n" .. out)
      local a = amount_words(d)
      assert.truthy(l:find(a.unit, 1, true), l)
      if a.scale then assert.truthy(l:find("scale " .. a.scale, 1, true), l) end
      assert.truthy(l:find(d.summary, 1, true), l)
      for _, c in ipairs(d.container or { "array", "jsonl" }) do
        local word = type(c) == "table" and ("member " .. c.member) or c
        assert.truthy(l:find(word, 1, true), l)
      end
      for k, v in pairs(d.relax or {}) do
        if v then assert.truthy(l:find(k, 1, true), l) end
      end
    end
    -- bitcoin-core's values are BTC with 8 decimals (Bitcoin Core's RPC prints ValueFromAmount)
    local btc = amount_words(declared("bitcoin-core"))
    assert.are.equal("decimal", btc.unit)
    assert.are.equal(8, btc.scale)
    assert.truthy(line_of(out, "bitcoin-core"):find("decimal, scale 8", 1, true))
  end)

  it("lists the layouts, the chain store first", function()
    local code, out = run("formats")
    assert.are.equal(0, code)
    local names = {}
    local in_layouts = false
    for l in out:gmatch("[^\n]+") do
      if l:match("^layout ") then in_layouts = true
      elseif in_layouts and l:match("^[%w%-]+") and not l:match("^%-%-") then
        names[#names + 1] = l:match("^([%w%-]+)")
      end
    end
    assert.are.equal("quarry-chain", names[1])
    assert.truthy(line_of(out, "quarry-chain"):find(
      "the chain store: blocks, hashes, txs, utxo, undo, meta families", 1, true))
    local p = assert(io.popen("ls scripts/quarry/chain/layouts/ 2>/dev/null"))
    for f in p:lines() do
      local base = f:match("^([%w_]+)%.lua$")
      if base and base ~= "init" then
        local mod = require("quarry.chain.layouts." .. base)
        assert.truthy(line_of(out, mod.name), mod.name .. " not listed:\n" .. out)
      end
    end
    p:close()
  end)

  it("--output json is one JSON document with the same declarations", function()
    local code, out, err = run("formats", "--output", "json")
    assert.are.equal(0, code, err)
    local doc = json.decode(out)
    assert.are.equal(#BUILTIN, #doc.formats)
    for i, name in ipairs(BUILTIN) do
      local d, f = declared(name), doc.formats[i]
      assert.are.equal(d.name, f.name)
      assert.are.equal(d.summary, f.summary)
      local a = amount_words(d)
      assert.are.equal(a.unit, f.amount.unit)
      assert.are.equal(a.scale, f.amount.scale)
      for k, v in pairs(d.relax or {}) do assert.are.equal(v or nil, f.relax[k]) end
      for level, map in pairs(d.fields or {}) do
        for model_name, record_name in pairs(map) do
          if model_name ~= record_name then
            assert.are.equal(record_name, f.fields[level][model_name])
          end
        end
      end
    end
    assert.are.equal("quarry-chain", doc.layouts[1].name)
    assert.is_true(doc.layouts[1].default)
  end)

  it("checks a user's FILE.lua: what it declares, or the field that is wrong (exit 1)", function()
    local dir = helpers.tmpdir("fmt")
    helpers.write_file(dir .. "/bad.lua", [[
      return { name = "bad", amount = { unit = "satoshi" } }
    ]])
    local code, out, err = run("formats", dir .. "/bad.lua")
    assert.are.equal(1, code, out)
    assert.truthy(err:find("amount.unit", 1, true), err)
    assert.truthy(err:find("satoshi", 1, true), err)
    helpers.write_file(dir .. "/scale.lua", [[return { name = "s", amount = { unit = "decimal" } }]])
    local code2, _, err2 = run("formats", dir .. "/scale.lua")
    assert.are.equal(1, code2)
    assert.truthy(err2:find("amount.scale", 1, true), err2)
    helpers.write_file(dir .. "/syntax.lua", "return {")
    local code3, _, err3 = run("formats", dir .. "/syntax.lua")
    assert.are.equal(1, code3)
    assert.truthy(err3:find(dir .. "/syntax.lua", 1, true), err3)

    local d = dofile(EXAMPLE .. "/pebble.lua")
    local code4, out4, err4 = run("formats", EXAMPLE .. "/pebble.lua")
    assert.are.equal(0, code4, err4)
    assert.truthy(out4:find("format       " .. d.name, 1, true), out4)
    assert.truthy(out4:find("member " .. d.container[1].member, 1, true), out4)
    assert.truthy(out4:find("block.index=" .. d.fields.block.index, 1, true), out4)
    assert.truthy(out4:find("output.amount=" .. d.fields.output.amount, 1, true), out4)
  end)

  it("migrates the worked example of docs/formats.md: its supply is the dump's unspent sum", function()
    local dump_text = assert(helpers.read_file(EXAMPLE .. "/pebble-dump.json"))
    local supply, utxos, ntx = example_figures(dump_text)
    assert.is_true(ntx > 0 and supply > 0)
    local _, nblocks = dump_text:gsub('"height": %d+', "")
    local db = helpers.tmpdir("pebble") .. "/d"
    local code, out, err = run("migrate", "--format", EXAMPLE .. "/pebble.lua", "--json",
      EXAMPLE .. "/pebble-dump.json", "--db", db, "--report", "json")
    assert.are.equal(0, code, err .. out)
    local r = json.decode(out)
    assert.are.equal(tostring(supply), tostring(r.supply))
    assert.are.equal(utxos, r.utxos)
    assert.are.equal(ntx, r.txs)
    assert.are.equal(nblocks, r.blocks)

    -- read back through the format and written out again: every block equals the dump
    local back = helpers.tmpdir("pebble-back") .. "/back.json"
    local code2, out2, err2 = run("run", EXAMPLE .. "/roundtrip.lua", EXAMPLE .. "/pebble.lua",
      db, EXAMPLE .. "/pebble-dump.json", back)
    assert.are.equal(0, code2, err2 .. out2)
    assert.truthy(out2:find(("%d blocks read back through format pebble: %d equal"):format(nblocks,
      nblocks), 1, true), out2)
    assert.are.equal(json.encode(json.decode(dump_text)), json.encode(json.decode(helpers.read_file(back))))

    -- the commands of the guide: verify against the dump and export through the format file
    local code3, out3, err3 = run("verify", "--format", EXAMPLE .. "/pebble.lua", "--db", db,
      "--json", EXAMPLE .. "/pebble-dump.json")
    assert.are.equal(0, code3, err3 .. out3)
    assert.truthy(out3:find("every block equals the source exactly", 1, true), out3)
    local back2 = helpers.tmpdir("pebble-back") .. "/back2.json"
    local code4, out4, err4 = run("export", "--format", EXAMPLE .. "/pebble.lua", "--db", db, "--json", back2)
    assert.are.equal(0, code4, err4 .. out4)
    assert.are.equal(json.encode(json.decode(dump_text)), json.encode(json.decode(helpers.read_file(back2))))
    -- without the file, the store says which format it needs
    local code5, _, err5 = run("verify", "--db", db)
    assert.are_not.equal(0, code5)
    assert.truthy(err5:find('migrated from format "pebble", which is not built in: give its file', 1, true), err5)

    -- the figures pasted in docs/formats.md are these
    local doc = assert(helpers.read_file("docs/formats.md"))
    assert.truthy(doc:find("  supply        " .. supply .. "\n", 1, true),
      "docs/formats.md does not show supply " .. supply)
    assert.truthy(doc:find("  utxos         " .. utxos .. "\n", 1, true))
  end)
end)
