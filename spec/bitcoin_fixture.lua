-- spec/bitcoin_fixture.lua: a deterministic regtest-like Bitcoin chain, written as the text
-- `bitcoin-cli getblock <hash> 2` prints (Bitcoin Core 23-28 shape; `core = 29` adds `target`,
-- `core = 31` also `coinbase_tx`), with the figures a migration must reproduce, computed here in
-- this file's own simple model of the UTXO set.
--
-- Everything that can be real cheaply is: transactions are serialized (the `hex` member), txids
-- and wtxids are their double SHA-256, merkle roots and witness commitments are computed, headers
-- are mined to the regtest target, and the genesis block is regtest's own. Signatures, keys and
-- addresses' owners are made up (the bech32 addresses and descriptor checksums are well-formed).
-- The text is built by hand here, never through quarry.json, so that it can check quarry.json.
--
--   local fx = require("spec.bitcoin_fixture")
--   local chain = fx.generate({ seed = 76, blocks = 40 })
--   chain.jsonl    -- one compact block per line
--   chain.array    -- "[\n" .. block1 .. ",\n" .. block2 .. "\n]\n", each block as bitcoin-cli prints it
--   chain.blocks   -- per block: { height, hash, pretty, compact, txs = { { txid, coinbase, outputs = { { sats, unspendable } } } } }
--   chain.expect   -- { blocks, tip_height, tip_hash, txs, utxos, supply, unspendable_outputs, unspendable_value, ... }
local sha = require("spec.bitcoin_sha256")

local M = {}
M.sha = sha

local COIN = 100000000
M.COIN = COIN
M.HALVING = 150                       -- regtest's nSubsidyHalvingInterval
M.BITS = 0x207fffff                   -- regtest's proof-of-work limit, never retargeted
M.DIFFICULTY = "4.656542373906925e-10" -- GetDifficulty for 0x207fffff, as UniValue prints it
M.TARGET = "7fffff0000000000000000000000000000000000000000000000000000000000"
M.START_TIME = 1525107225             -- the mocktime of the recorded regtest chain in realdata

-- ---- small helpers ------------------------------------------------------------------------------
local tohex, fromhex = sha.tohex, sha.fromhex

--- ValueFromAmount: "%d.%08d" of satoshis, with a sign for negative amounts.
function M.btc(sats)
  local sign = sats < 0 and "-" or ""
  local a = math.abs(sats)
  return ("%s%d.%08d"):format(sign, a // COIN, a % COIN)
end

--- The block subsidy at height h (GetBlockSubsidy with regtest's halving interval).
function M.subsidy(h, interval)
  local halvings = h // (interval or M.HALVING)
  if halvings >= 64 then return 0 end
  return (50 * COIN) >> halvings
end

local function varint(n)
  if n < 0xfd then return string.char(n) end
  if n <= 0xffff then return "\253" .. string.pack("<I2", n) end
  if n <= 0xffffffff then return "\254" .. string.pack("<I4", n) end
  return "\255" .. string.pack("<I8", n)
end
M.varint = varint

-- A push of data (opcode bytes + data), as CScript << vector does.
local function push(data)
  local n = #data
  if n < 0x4c then return string.char(n) .. data end
  if n <= 0xff then return "\76" .. string.char(n) .. data end
  return "\77" .. string.pack("<I2", n) .. data
end

-- CScriptNum serialization (minimal, sign bit in the last byte).
local function scriptnum(n)
  if n == 0 then return "" end
  local neg, a, out = n < 0, math.abs(n), {}
  while a > 0 do out[#out + 1] = a & 0xff; a = a >> 8 end
  if out[#out] & 0x80 ~= 0 then out[#out + 1] = neg and 0x80 or 0
  elseif neg then out[#out] = out[#out] | 0x80 end
  return string.char(table.unpack(out))
end

--- The coinbase scriptSig Bitcoin Core's miner writes on regtest: the height (BIP34: OP_1..OP_16
--- for 1..16, else a push of its CScriptNum) then the extra nonce 1 as a push.
function M.coinbase_script_sig(h)
  local height
  if h >= 1 and h <= 16 then height = string.char(0x50 + h) else height = push(scriptnum(h)) end
  return height .. push(scriptnum(1))
end

-- ---- bech32 (BIP173) and descriptor checksums (BIP380) ---------------------------------------
local CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

local function bech32_polymod(values)
  local gen = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 }
  local chk = 1
  for _, v in ipairs(values) do
    local b = chk >> 25
    chk = ((chk & 0x1ffffff) << 5) ~ v
    for i = 0, 4 do if (b >> i) & 1 == 1 then chk = chk ~ gen[i + 1] end end
  end
  return chk
end

--- A segwit v0 address (bech32) for program bytes `prog` with human-readable part `hrp`.
function M.segwit_address(hrp, version, prog)
  local data, acc, bits = { version }, 0, 0
  for i = 1, #prog do
    acc = (acc << 8) | prog:byte(i); bits = bits + 8
    while bits >= 5 do bits = bits - 5; data[#data + 1] = (acc >> bits) & 31 end
  end
  if bits > 0 then data[#data + 1] = (acc << (5 - bits)) & 31 end
  local values = {}
  for i = 1, #hrp do values[#values + 1] = hrp:byte(i) >> 5 end
  values[#values + 1] = 0
  for i = 1, #hrp do values[#values + 1] = hrp:byte(i) & 31 end
  for _, d in ipairs(data) do values[#values + 1] = d end
  for _ = 1, 6 do values[#values + 1] = 0 end
  local mod = bech32_polymod(values) ~ 1
  local out = { hrp, "1" }
  for _, d in ipairs(data) do out[#out + 1] = CHARSET:sub(d + 1, d + 1) end
  for i = 0, 5 do
    local d = (mod >> (5 * (5 - i))) & 31
    out[#out + 1] = CHARSET:sub(d + 1, d + 1)
  end
  return table.concat(out)
end

local INPUT_CHARSET = "0123456789()[],'/*abcdefgh@:$%{}" ..
  "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" .. "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "

local function desc_polymod(c, val)
  local gen = { 0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd }
  local c0 = c >> 35
  c = ((c & 0x7ffffffff) << 5) ~ val
  for i = 0, 4 do if (c0 >> i) & 1 == 1 then c = c ~ gen[i + 1] end end
  return c
end

--- The descriptor with its checksum appended: "raw(deadbeef)" -> "raw(deadbeef)#89f8spxm".
function M.descriptor(desc)
  local c, cls, count = 1, 0, 0
  for i = 1, #desc do
    local pos = INPUT_CHARSET:find(desc:sub(i, i), 1, true)
    assert(pos, "character not allowed in a descriptor")
    pos = pos - 1
    c = desc_polymod(c, pos & 31)
    cls = cls * 3 + (pos >> 5)
    count = count + 1
    if count == 3 then c = desc_polymod(c, cls); cls, count = 0, 0 end
  end
  if count > 0 then c = desc_polymod(c, cls) end
  for _ = 1, 8 do c = desc_polymod(c, 0) end
  c = c ~ 1
  local out = {}
  for j = 0, 7 do
    local d = (c >> (5 * (7 - j))) & 31
    out[#out + 1] = CHARSET:sub(d + 1, d + 1)
  end
  return desc .. "#" .. table.concat(out)
end

-- ---- the JSON text, built by hand -------------------------------------------------------------
-- A value is a string (written quoted), { raw = "text" } (a number as printed), an object
-- { kind = "obj", k1, v1, k2, v2, ... } or an array { kind = "arr", ... }. No escapes are needed:
-- every string here is hex, an address, a descriptor, an asm text or a type name.
local function raw(text) return { raw = text } end
local function int(n) return { raw = ("%d"):format(n) } end
local function obj(...) return { kind = "obj", ... } end
local function arr(list) list.kind = "arr"; return list end

local function render(v, pretty, level, out)
  if type(v) == "string" then
    assert(not v:find('["\\%c]'), "fixture string needs escaping")
    out[#out + 1] = '"' .. v .. '"'
  elseif v.raw then
    out[#out + 1] = v.raw
  elseif v.kind == "obj" then
    local n = #v // 2
    out[#out + 1] = "{"
    if pretty then out[#out + 1] = "\n" end
    for i = 1, n do
      if pretty then out[#out + 1] = string.rep("  ", level + 1) end
      out[#out + 1] = '"' .. v[2 * i - 1] .. '":'
      if pretty then out[#out + 1] = " " end
      render(v[2 * i], pretty, level + 1, out)
      if i < n then out[#out + 1] = "," end
      if pretty then out[#out + 1] = "\n" end
    end
    if pretty then out[#out + 1] = string.rep("  ", level) end
    out[#out + 1] = "}"
  else
    -- UniValue writes an empty array as "[\n<indent>]" when pretty: kept as it does.
    out[#out + 1] = "["
    if pretty then out[#out + 1] = "\n" end
    for i = 1, #v do
      if pretty then out[#out + 1] = string.rep("  ", level + 1) end
      render(v[i], pretty, level + 1, out)
      if i < #v then out[#out + 1] = "," end
      if pretty then out[#out + 1] = "\n" end
    end
    if pretty then out[#out + 1] = string.rep("  ", level) end
    out[#out + 1] = "]"
  end
end

--- The text of a value: compact, or as UniValue's write(2) prints it (what bitcoin-cli shows).
function M.render(v, pretty)
  local out = {}
  render(v, pretty, 0, out)
  return table.concat(out)
end

-- ---- scripts ------------------------------------------------------------------------------------
-- Each script kind gives its bytes and the scriptPubKey object TxToUniv prints:
-- asm, desc, hex, address (when there is one and the type is not pubkey), type.
local function spk_object(script, asm, desc, address, typ)
  local o = obj("asm", asm, "desc", M.descriptor(desc), "hex", tohex(script))
  if address then o[#o + 1] = "address"; o[#o + 1] = address end
  o[#o + 1] = "type"; o[#o + 1] = typ
  return o
end

local function p2wpkh(hash20)
  local script = "\0\20" .. hash20
  local address = M.segwit_address("bcrt", 0, hash20)
  return script, spk_object(script, "0 " .. tohex(hash20), "addr(" .. address .. ")", address,
    "witness_v0_keyhash"), address
end

-- OP_RETURN followed by pushes only: Solver calls it "nulldata".
local function nulldata(data)
  local script = "\106" .. push(data)
  local asm = "OP_RETURN " .. tohex(data)
  return script, spk_object(script, asm, "raw(" .. tohex(script) .. ")", nil, "nulldata")
end

-- OP_RETURN OP_CHECKSIG: not push-only after OP_RETURN, so "nonstandard", yet unspendable.
local function op_return_nonstandard()
  local script = "\106\172"
  return script, spk_object(script, "OP_RETURN OP_CHECKSIG", "raw(6aac)", nil, "nonstandard")
end

local function p2pk(pubkey)
  local script = push(pubkey) .. "\172"
  return script, spk_object(script, tohex(pubkey) .. " OP_CHECKSIG", "pk(" .. tohex(pubkey) .. ")",
    nil, "pubkey")
end

-- ---- regtest's genesis block (chain data: chainparams' CreateGenesisBlock) -------------------
M.GENESIS = {
  hash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
  time = 1296688602, nonce = 2, version = 1,
  script_sig = "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73",
  pubkey = "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f",
}

-- ---- transactions ----------------------------------------------------------------------------
-- tx = { version, locktime, vin = { { prev_txid (display hex) | coinbase (bytes), n, script_sig,
-- witness = { bytes... } | nil, sequence } }, vout = { { sats, script, spk } } }
local function serialize(tx, with_witness)
  local parts = { string.pack("<i4", tx.version) }
  local has_witness = false
  for _, i in ipairs(tx.vin) do if i.witness then has_witness = true end end
  with_witness = with_witness and has_witness
  if with_witness then parts[#parts + 1] = "\0\1" end
  parts[#parts + 1] = varint(#tx.vin)
  for _, i in ipairs(tx.vin) do
    if i.coinbase then
      parts[#parts + 1] = string.rep("\0", 32) .. "\255\255\255\255"
    else
      parts[#parts + 1] = fromhex(i.prev_txid):reverse() .. string.pack("<I4", i.n)
    end
    parts[#parts + 1] = varint(#i.script_sig) .. i.script_sig .. string.pack("<I4", i.sequence)
  end
  parts[#parts + 1] = varint(#tx.vout)
  for _, o in ipairs(tx.vout) do
    parts[#parts + 1] = string.pack("<i8", o.sats) .. varint(#o.script) .. o.script
  end
  if with_witness then
    for _, i in ipairs(tx.vin) do
      local stack = i.witness or {}
      parts[#parts + 1] = varint(#stack)
      for _, item in ipairs(stack) do parts[#parts + 1] = varint(#item) .. item end
    end
  end
  parts[#parts + 1] = string.pack("<I4", tx.locktime)
  return table.concat(parts)
end
M.serialize = serialize

-- Fills txid, wtxid, size, vsize, weight, hex.
local function finish_tx(tx)
  local base, full = serialize(tx, false), serialize(tx, true)
  tx.base_size, tx.size = #base, #full
  tx.weight = 3 * #base + #full
  tx.vsize = (tx.weight + 3) // 4
  tx.txid = sha.display(sha.dsha256(base))
  tx.wtxid = sha.display(sha.dsha256(full))
  tx.hex = tohex(full)
  return tx
end

--- The merkle root (raw 32 bytes) of a list of hashes in display hex.
function M.merkle_root(ids)
  local level = {}
  for i, id in ipairs(ids) do level[i] = fromhex(id):reverse() end
  while #level > 1 do
    if #level % 2 == 1 then level[#level + 1] = level[#level] end
    local up = {}
    for i = 1, #level, 2 do up[#up + 1] = sha.dsha256(level[i] .. level[i + 1]) end
    level = up
  end
  return level[1]
end

--- The BIP141 commitment (32 bytes) for the wtxids of a block (the coinbase's counts as zero)
--- and the coinbase's witness reserved value.
function M.witness_commitment(wtxids, reserved)
  local ids = { string.rep("0", 64) }
  for i = 2, #wtxids do ids[i] = wtxids[i] end
  return sha.dsha256(M.merkle_root(ids) .. reserved)
end

local function tx_json(tx, coinbase, fee)
  local vin = {}
  for _, i in ipairs(tx.vin) do
    local o
    if coinbase then
      o = obj("coinbase", tohex(i.script_sig))
    else
      o = obj("txid", i.prev_txid, "vout", int(i.n),
        "scriptSig", obj("asm", i.asm or "", "hex", tohex(i.script_sig)))
    end
    if i.witness then
      local w = {}
      for k, item in ipairs(i.witness) do w[k] = tohex(item) end
      o[#o + 1] = "txinwitness"; o[#o + 1] = arr(w)
    end
    o[#o + 1] = "sequence"; o[#o + 1] = int(i.sequence)
    vin[#vin + 1] = o
  end
  local vout = {}
  for n, o in ipairs(tx.vout) do
    vout[n] = obj("value", raw(M.btc(o.sats)), "n", int(n - 1), "scriptPubKey", o.spk)
  end
  local t = obj("txid", tx.txid, "hash", tx.wtxid, "version", int(tx.version), "size", int(tx.size),
    "vsize", int(tx.vsize), "weight", int(tx.weight), "locktime", int(tx.locktime),
    "vin", arr(vin), "vout", arr(vout))
  if fee then t[#t + 1] = "fee"; t[#t + 1] = raw(M.btc(fee)) end
  t[#t + 1] = "hex"; t[#t + 1] = tx.hex
  return t
end

-- ---- the chain ---------------------------------------------------------------------------------
local function rng(seed)
  local s = seed * 2654435761 + 0x9e3779b97f4a7c15
  return function(n)
    s = s * 6364136223846793005 + 1442695040888963407
    return ((s >> 17) & 0x3fffffffffff) % n
  end
end

--- GetMedianTimePast: the median of the times of block h and the 10 before it (times[0..h]).
function M.median_time_past(times, h)
  local list = {}
  for i = math.max(0, h - 10), h do list[#list + 1] = times[i] end
  table.sort(list)
  return list[#list // 2 + 1]
end

local function header(version, prev, merkle, time, bits, nonce)
  return string.pack("<i4", version) .. fromhex(prev):reverse() .. merkle ..
    string.pack("<I4I4I4", time, bits, nonce)
end

-- Mines a header to the regtest target: a nonce whose hash, read as a number, is <= the target.
local function mine(version, prev, merkle, time, next_nonce)
  local nonce = next_nonce
  while true do
    local hash = sha.display(sha.dsha256(header(version, prev, merkle, time, M.BITS, nonce)))
    if hash <= M.TARGET then return hash, nonce end
    nonce = (nonce + 1) & 0xffffffff
  end
end

local function genesis_block()
  local g = M.GENESIS
  local script, spk = p2pk(fromhex(g.pubkey))
  local tx = finish_tx({ version = 1, locktime = 0,
    vin = { { coinbase = true, script_sig = fromhex(g.script_sig), sequence = 0xffffffff } },
    vout = { { sats = 50 * COIN, script = script, spk = spk, unspendable = true } } })
  local merkle = M.merkle_root({ tx.txid })
  local hash = sha.display(sha.dsha256(header(g.version, string.rep("0", 64), merkle, g.time, M.BITS, g.nonce)))
  return { height = 0, version = g.version, time = g.time, nonce = g.nonce, merkle = merkle,
    hash = hash, txs = { tx }, fees = { false } }
end

-- A made-up key: 20 bytes of a hash of a counter.
local function key_hash(i) return sha.sha256("quarry key " .. i):sub(1, 20) end
local function fake_sig(r)
  local function part(tag)
    local b = sha.sha256(tag .. r)
    b = string.char((b:byte(1) & 0x7f) | 0x01) .. b:sub(2) -- a positive, minimal DER integer
    return "\2\32" .. b
  end
  local body = part("r") .. part("s")
  return "\48" .. string.char(#body) .. body .. "\1"
end
local function fake_pubkey(i) return string.char(2 + (i % 2)) .. sha.sha256("quarry pub " .. i) end

--- Generates the chain. opts: seed (76), blocks (40, genesis included), maturity (10: blocks
--- before a coinbase output may be spent; Bitcoin's is 100, which 40 blocks would never reach),
--- core (28: the member set; 29 adds `target`, 31 adds `coinbase_tx`), halving (150).
function M.generate(opts)
  opts = opts or {}
  local seed, nblocks = opts.seed or 76, opts.blocks or 40
  local maturity, core = opts.maturity or 10, opts.core or 28
  local interval = opts.halving or M.HALVING
  local rand = rng(seed)

  local blocks = { [0] = genesis_block() }
  local times = { [0] = M.GENESIS.time }
  local pool = {}          -- spendable unspent outputs: { txid, n, sats, height, coinbase, key }
  local keys = 0
  local special = { amount = false, burn = false, nonstandard = false, memo = false }

  local function new_key() keys = keys + 1; return keys end

  local function take(h)
    -- a random spendable output worth spending (>= 0.001 BTC): coinbase outputs only after
    -- `maturity` blocks
    local eligible = {}
    for i, u in ipairs(pool) do
      if u.sats >= 100000 and (not u.coinbase or h - u.height >= maturity) then
        eligible[#eligible + 1] = i
      end
    end
    if #eligible == 0 then return nil end
    return table.remove(pool, eligible[rand(#eligible) + 1])
  end

  local function add_outputs(tx, h, coinbase)
    for n, o in ipairs(tx.vout) do
      if not o.unspendable then
        pool[#pool + 1] = { txid = tx.txid, n = n - 1, sats = o.sats, height = h, coinbase = coinbase }
      end
    end
  end

  for h = 1, nblocks - 1 do
    local time = M.START_TIME + h * 60 + rand(50)
    times[h] = time
    local txs, fees, total_fee = {}, {}, 0
    local nspend = rand(4)
    for _ = 1, nspend do
      local ins = {}
      local u = take(h)
      if not u then break end
      ins[1] = u
      if rand(3) == 0 then ins[2] = take(h) end
      local in_sats = 0
      local vin = {}
      for k, x in ipairs(ins) do
        in_sats = in_sats + x.sats
        local key = new_key()
        vin[k] = { prev_txid = x.txid, n = x.n, script_sig = "", sequence = 0xfffffffd,
          witness = { fake_sig(x.txid .. x.n), fake_pubkey(key) } }
      end
      local vout = {}
      local fee = 110 * (100 + rand(200)) + rand(100)
      local pay
      if not special.amount and in_sats > 12345 + fee then
        pay = 12345; special.amount = true          -- 0.00012345, the brief's amount
      else
        pay = (in_sats - fee) * (1 + rand(8)) // 10
      end
      local s1, spk1 = p2wpkh(key_hash(new_key()))
      vout[#vout + 1] = { sats = pay, script = s1, spk = spk1 }
      local left = in_sats - fee - pay            -- > 0: pay is at most 0.8 of in_sats - fee
      local burn = 0
      if not special.burn and h >= 5 and left > 200000 then
        burn = 100000; special.burn = true           -- 0.00100000 burnt in a nulldata output
        local s, spk = nulldata("quarry burn")
        vout[#vout + 1] = { sats = burn, script = s, spk = spk, unspendable = true }
      elseif not special.nonstandard and h >= 8 and left > 1000 then
        burn = 500; special.nonstandard = true      -- OP_RETURN that Solver calls nonstandard
        local s, spk = op_return_nonstandard()
        vout[#vout + 1] = { sats = burn, script = s, spk = spk, unspendable = true }
      elseif not special.memo and h >= 11 then
        special.memo = true                          -- a zero-value memo, as wallets write
        local s, spk = nulldata("quarry memo 0123456789")
        vout[#vout + 1] = { sats = 0, script = s, spk = spk, unspendable = true }
      end
      local change = left - burn
      assert(change > 0)
      local s2, spk2 = p2wpkh(key_hash(new_key()))
      table.insert(vout, rand(#vout + 1) + 1, { sats = change, script = s2, spk = spk2 })
      local tx = finish_tx({ version = 2, locktime = h - 1, vin = vin, vout = vout })
      txs[#txs + 1] = tx
      fees[#fees + 1] = fee
      total_fee = total_fee + fee
      add_outputs(tx, h, false)                      -- spendable within the same block, as in Bitcoin
    end

    -- the coinbase: subsidy + fees to a new key, then the witness commitment (value 0)
    local reserved = string.rep("\0", 32)
    local payout_script, payout_spk = p2wpkh(key_hash(new_key()))
    local coinbase = { version = 2, locktime = 0,
      vin = { { coinbase = true, script_sig = M.coinbase_script_sig(h), sequence = 0xffffffff,
        witness = { reserved } } },
      vout = { { sats = M.subsidy(h, interval) + total_fee, script = payout_script, spk = payout_spk } } }
    local wtxids = { "" }
    for i, tx in ipairs(txs) do wtxids[i + 1] = tx.wtxid end
    local commitment = M.witness_commitment(wtxids, reserved)
    local cs, cspk = nulldata("\170\33\169\237" .. commitment)
    coinbase.vout[2] = { sats = 0, script = cs, spk = cspk, unspendable = true }
    finish_tx(coinbase)
    add_outputs(coinbase, h, true)
    table.insert(txs, 1, coinbase)
    table.insert(fees, 1, false)

    local ids = {}
    for i, tx in ipairs(txs) do ids[i] = tx.txid end
    local merkle = M.merkle_root(ids)
    local version = 0x20000000
    local hash, nonce = mine(version, blocks[h - 1].hash, merkle, time, rand(1000))
    blocks[h] = { height = h, version = version, time = time, nonce = nonce, merkle = merkle,
      hash = hash, txs = txs, fees = fees }
  end

  -- ---- the text -----------------------------------------------------------------------------
  local tip = nblocks - 1
  local out = { blocks = {}, options = { seed = seed, blocks = nblocks, maturity = maturity, core = core } }
  local lines, pretties = {}, {}
  for h = 0, tip do
    local b = blocks[h]
    local stripped, size = 80 + #varint(#b.txs), 80 + #varint(#b.txs)
    local txj = {}
    for i, tx in ipairs(b.txs) do
      stripped = stripped + tx.base_size
      size = size + tx.size
      txj[i] = tx_json(tx, i == 1, b.fees[i] or nil)
    end
    local j = obj("hash", b.hash, "confirmations", int(tip - h + 1), "height", int(h),
      "version", int(b.version), "versionHex", ("%08x"):format(b.version),
      "merkleroot", tohex(b.merkle:reverse()), "time", int(b.time),
      "mediantime", int(M.median_time_past(times, h)), "nonce", int(b.nonce),
      "bits", ("%08x"):format(M.BITS))
    if core >= 29 then j[#j + 1] = "target"; j[#j + 1] = M.TARGET end
    for _, kv in ipairs({ { "difficulty", raw(M.DIFFICULTY) },
      { "chainwork", ("%064x"):format(2 * (h + 1)) }, { "nTx", int(#b.txs) } }) do
      j[#j + 1] = kv[1]; j[#j + 1] = kv[2]
    end
    if h > 0 then j[#j + 1] = "previousblockhash"; j[#j + 1] = blocks[h - 1].hash end
    if h < tip then j[#j + 1] = "nextblockhash"; j[#j + 1] = blocks[h + 1].hash end
    for _, kv in ipairs({ { "strippedsize", int(stripped) }, { "size", int(size) },
      { "weight", int(3 * stripped + size) } }) do
      j[#j + 1] = kv[1]; j[#j + 1] = kv[2]
    end
    if core >= 31 then
      local cb = b.txs[1]
      local c = obj("version", int(cb.version), "locktime", int(cb.locktime),
        "sequence", int(cb.vin[1].sequence), "coinbase", tohex(cb.vin[1].script_sig))
      if cb.vin[1].witness then c[#c + 1] = "witness"; c[#c + 1] = tohex(cb.vin[1].witness[1]) end
      j[#j + 1] = "coinbase_tx"; j[#j + 1] = c
    end
    j[#j + 1] = "tx"; j[#j + 1] = arr(txj)

    local compact, pretty = M.render(j, false), M.render(j, true)
    lines[#lines + 1] = compact .. "\n"
    pretties[#pretties + 1] = pretty
    local summary = { height = h, hash = b.hash, compact = compact, pretty = pretty, txs = {} }
    for i, tx in ipairs(b.txs) do
      local outs = {}
      for n, o in ipairs(tx.vout) do outs[n] = { sats = o.sats, unspendable = o.unspendable == true } end
      summary.txs[i] = { txid = tx.txid, coinbase = i == 1, outputs = outs, fee = b.fees[i] or nil }
    end
    out.blocks[#out.blocks + 1] = summary
  end
  out.jsonl = table.concat(lines)
  -- What the shell loop of docs/bitcoin-core.md writes: bitcoin-cli's text, comma-separated.
  out.array = "[\n" .. table.concat(pretties, ",\n") .. "\n]\n"

  -- ---- the expected figures, from this model ---------------------------------------------------
  local e = { blocks = nblocks, tip_height = tip, tip_hash = blocks[tip].hash, txs = 0,
    utxos = #pool, supply = 0, unspendable_outputs = 0, unspendable_value = 0, outputs = 0,
    inputs = 0, fees = 0, subsidy = 0 }
  for _, u in ipairs(pool) do e.supply = e.supply + u.sats end
  for h = 0, tip do
    local b = blocks[h]
    e.subsidy = e.subsidy + (h == 0 and 50 * COIN or M.subsidy(h, interval))
    for i, tx in ipairs(b.txs) do
      e.txs = e.txs + 1
      if i > 1 then e.inputs = e.inputs + #tx.vin; e.fees = e.fees + b.fees[i] end
      for _, o in ipairs(tx.vout) do
        e.outputs = e.outputs + 1
        if o.unspendable then
          e.unspendable_outputs = e.unspendable_outputs + 1
          e.unspendable_value = e.unspendable_value + o.sats
        end
      end
    end
  end
  out.expect = e
  return out
end

--- Writes chain.jsonl and chain.json (the array form) under dir; returns their paths.
function M.write(chain, dir)
  local paths = { jsonl = dir .. "/chain.jsonl", array = dir .. "/chain.json" }
  for kind, path in pairs(paths) do
    local f = assert(io.open(path, "wb"))
    f:write(chain[kind])
    f:close()
  end
  return paths
end

return M
