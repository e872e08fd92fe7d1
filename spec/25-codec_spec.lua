-- 25-codec: the chain store's block value (quarry.chain.codec) byte for byte. A fixed set of
-- blocks (spec/fixtures/codec/cases.lua: shaped, mixed keys, unknown and missing members,
-- non-integer amounts, a coinbase whose inputs are not spends, an unlinked previous_hash, a first
-- block, wide varints) is encoded and compared with the bytes recorded once from the codec of
-- commit e1a3642 (spec/fixtures/codec/<name>.bin): a store written before must read the same.
-- The decoder is held to the same recording: every truncation and a fixed set of single-byte
-- changes of each value decode (or fail) exactly as they did then (decode.txt: one digest of the
-- outcomes per case and mode).
--
-- QUARRY_CODEC_RECORD=DIR writes the .bin files and decode.txt into DIR instead of comparing:
-- only for a new block format (docs/chain-format.md), never to make this spec pass.
local helpers = require("spec.helpers")
local json = require("quarry.json")
local codec = require("quarry.chain.codec")
local J = require("quarry.chain.jsonvalue")
local cases = require("spec.fixtures.codec.cases")

local FIXTURES = "spec/fixtures/codec"
local RECORD = os.getenv("QUARRY_CODEC_RECORD")

local function block_of(c) return json.decode(c.text) end

-- resolve(h, t) for the references to earlier blocks: the tx_id the case's inputs name there.
local function resolver_of(c, block)
  local ids = {}
  for t, tx in ipairs(block.transactions or {}) do
    local refs = c.info.txs[t].refs
    for i, inp in ipairs(refs and tx.inputs or {}) do
      local r = refs[i]
      if r[1] ~= c.height then ids[r[1] .. ":" .. r[2]] = inp.tx_id end
    end
  end
  return function(h, t)
    return ids[h .. ":" .. t] or codec.corrupt(("unresolved reference %d:%d"):format(h, t))
  end
end

local function encode(c) return codec.encode_block(block_of(c), c.info) end

-- A printable form of what decode_block gave: the block (want_json) and the skeleton. Not
-- json.encode: a damaged value may decode to strings that are not UTF-8.
local function show_amount(a) return type(a) == "table" and a.text or tostring(a) end
local function show(v)
  local k = J.kind(v)
  if k == "str" then return ("%q"):format(v) end
  if k == "num" then return "#" .. v.text end
  if k == "float" then return ("%a"):format(v) end
  if k == "arr" then
    local t = {}
    for i = 1, #v do t[i] = show(v[i]) end
    return "[" .. table.concat(t, ",") .. "]"
  end
  if k == "obj" then
    local t = {}
    for i, key in ipairs(J.keys(v)) do t[i] = ("%q:%s"):format(key, show(v[key])) end
    return "{" .. table.concat(t, ",") .. "}"
  end
  return tostring(v)
end
local function outcome(ok, block, skel)
  if not ok then
    local e = block
    if type(e) == "table" and e.corrupt then return "corrupt " .. e.message end
    return "error " .. tostring(e):gsub("^[^:]*:%d+: ", "")
  end
  local out = { block and show(block) or "-", show(skel.hash) }
  for _, tx in ipairs(skel.txs) do
    local refs, amounts = {}, {}
    for i, r in ipairs(tx.refs) do refs[i] = table.concat(r, ",") end
    for i, a in ipairs(tx.amounts) do amounts[i] = show_amount(a) end
    out[#out + 1] = ("%q n=%d refs=%s amounts=%s"):format(tx.id, tx.nout, table.concat(refs, ";"),
      table.concat(amounts, ";"))
  end
  return table.concat(out, "\n")
end

-- Every truncation and six single-byte changes at every position of v.
local CHANGES = { function(b) return (b + 1) % 256 end, function(b) return (b + 255) % 256 end,
  function() return 0 end, function() return 0x7f end, function() return 0x80 end,
  function() return 0xff end }
local function variants(v)
  local out = { v }
  for i = 1, #v do
    out[#out + 1] = v:sub(1, i - 1)
    local b = v:byte(i)
    for _, f in ipairs(CHANGES) do
      local nb = f(b)
      if nb ~= b then out[#out + 1] = v:sub(1, i - 1) .. string.char(nb) .. v:sub(i + 1) end
    end
  end
  return out
end

-- The digest of the outcomes of decoding every variant (want_json true with the resolver, or the
-- skeleton alone), and how many decoded.
local function decode_digest(c, v, want_json)
  local resolve = want_json and resolver_of(c, block_of(c)) or nil
  local h, decoded, all = nil, 0, variants(v)
  for _, x in ipairs(all) do
    local ok, block, skel = pcall(codec.decode_block, x, c.height, c.prev, resolve, want_json)
    if ok then decoded = decoded + 1 end
    h = codec.fnv(outcome(ok, block, skel) .. "\0", h)
  end
  return ("%016x %d/%d"):format(h, decoded, #all)
end

local function mode_name(want_json) return want_json and "json" or "skeleton" end

if RECORD then
  local lines = {}
  for _, c in ipairs(cases) do
    local v = encode(c)
    helpers.write_file(RECORD .. "/" .. c.name .. ".bin", v)
    for _, want_json in ipairs({ true, false }) do
      lines[#lines + 1] = ("%s %s %s"):format(c.name, mode_name(want_json), decode_digest(c, v, want_json))
    end
  end
  helpers.write_file(RECORD .. "/decode.txt", table.concat(lines, "\n") .. "\n")
end

local function recorded_digests()
  local t = {}
  for line in (helpers.read_file(FIXTURES .. "/decode.txt") or ""):gmatch("[^\n]+") do
    local name, mode, rest = line:match("^(%S+) (%S+) (.+)$")
    t[name .. " " .. mode] = rest
  end
  return t
end

describe("quarry.chain.codec block values", function()
  after_each(helpers.collect_and_cleanup)

  it("the cases cover what they claim", function()
    local by = {}
    for _, c in ipairs(cases) do by[c.name] = c end
    local amounts = block_of(by.amounts).transactions[1].outputs
    assert.are.equal(json.number_mt, getmetatable(amounts[1].amount))
    assert.are.equal("50.00000000", amounts[1].amount.text)
    assert.are.equal("18446744073709551615", amounts[2].amount.text)
    assert.is_nil(by.coinbase_inputs.info.txs[1].refs)
    assert.is_false(by.unlinked.info.linked)
    assert.is_true(by.first.info.first)
    assert.is_nil(by.first.prev)
  end)

  for _, c in ipairs(cases) do
    describe(c.name, function()
      it("encodes to the recorded bytes", function()
        local want = helpers.read_file(FIXTURES .. "/" .. c.name .. ".bin")
        assert(want, "no recording " .. FIXTURES .. "/" .. c.name .. ".bin")
        local got = encode(c)
        assert.are.equal(codec.tohex(want), codec.tohex(got))
      end)

      it("decodes to the block and its skeleton", function()
        local v = helpers.read_file(FIXTURES .. "/" .. c.name .. ".bin")
        local block = block_of(c)
        local back, skel = codec.decode_block(v, c.height, c.prev, resolver_of(c, block), true)
        assert.are.equal(json.encode(block), json.encode(back))
        local skel_only = select(2, codec.decode_block(v, c.height, c.prev, nil, false))
        assert.are.same(skel, skel_only)
        assert.are.equal(c.info.hash, skel.hash)
        assert.are.equal(#c.info.txs, #skel.txs)
        for t, tx in ipairs(skel.txs) do
          local info, outs = c.info.txs[t], block.transactions[t].outputs or {}
          assert.are.equal(info.id, tx.id)
          assert.are.same(info.refs or {}, tx.refs)
          assert.are.equal(#outs, tx.nout)
          for o, out in ipairs(outs) do assert.are.equal(show_amount(out.amount), show_amount(tx.amounts[o])) end
        end
      end)

      for _, want_json in ipairs({ true, false }) do
        it("decodes every damaged copy as before (" .. mode_name(want_json) .. ")", function()
          local v = helpers.read_file(FIXTURES .. "/" .. c.name .. ".bin")
          local want = recorded_digests()[c.name .. " " .. mode_name(want_json)]
          assert(want, "no recorded digest for " .. c.name)
          assert.are.equal(want, decode_digest(c, v, want_json))
        end)
      end
    end)
  end
end)
