-- spec/aurium_fixture.lua: writes spec/fixtures/auriumchain/chain.json, a dump shaped like the
-- one an AuriumChain node writes, and expected.json, what a correct migration of it holds.
-- Deterministic (its own xorshift64 generator, fixed seed); the JSON text is built by hand with
-- serde_json's pretty rules (two-space indent, `"key": value`, `[]` for an empty array, only
-- `"`, `\` and 0x00-0x1F escaped, \u00xx in lowercase hex), never through quarry.json, and the
-- accounting is done here while the blocks are made, not by reading them back.
--
-- The node's shapes (Hicham60290/Auriumchain): Block/Transaction/TxInput/TxOutput field order
-- from src/blockchain/block.rs:6-39; unmined headers (hash "", previous_hash "0" for the genesis
-- then "") from the mining loop of src/main.rs with Block::new (block.rs:56); coinbases with no
-- inputs, id "coinbase-{height}", first in the block (src/blockchain/chain.rs,
-- mine_pending_transactions); a genesis transaction with one input whose prev_tx_id is "0"
-- (chain.rs at 2f84a1a4, create_genesis_block); blocks without transactions (the mining loop).
--
--   lua5.4 spec/aurium_fixture.lua [DIR]      (DIR defaults to spec/fixtures/auriumchain)
-- As a module: require-free; `dofile("spec/aurium_fixture.lua").generate()` returns
-- chain_text, expected_text, facts.

local M = {}

-- ---- deterministic numbers ----------------------------------------------------------------
local seed
local function rnd(n) -- 0 .. n-1
  seed = seed ~ (seed << 13)
  seed = seed ~ (seed >> 7)
  seed = seed ~ (seed << 17)
  return (seed >> 1) % n
end
local function hex64()
  local t = {}
  for i = 1, 4 do t[i] = ("%016x"):format(rnd(1 << 62) * 4 + rnd(4)) end
  return table.concat(t)
end

-- ---- decimal text arithmetic (values reach 2^64-1, the supply more) -------------------------
local function add_dec(a, b)
  a, b = tostring(a), tostring(b)
  local out, carry, i, j = {}, 0, #a, #b
  while i >= 1 or j >= 1 or carry > 0 do
    local s = carry + (i >= 1 and a:byte(i) - 48 or 0) + (j >= 1 and b:byte(j) - 48 or 0)
    out[#out + 1] = string.char(48 + s % 10)
    carry = s // 10
    i, j = i - 1, j - 1
  end
  local r = table.concat(out):reverse():gsub("^0+(%d)", "%1")
  return r
end

-- ---- serde_json's pretty printer, by hand -------------------------------------------------
local function esc(s)
  local short = { [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r",
    [34] = '\\"', [92] = "\\\\" }
  return '"' .. s:gsub('[\0-\31"\\]', function(c)
    local b = c:byte()
    return short[b] or ("\\u%04x"):format(b)
  end) .. '"'
end

local O_MT, A_MT, N_MT = {}, {}, {}
local function O(...) return setmetatable({ ... }, O_MT) end     -- k1, v1, k2, v2 ...
local function A(t) return setmetatable(t or {}, A_MT) end
local function N(text) return setmetatable({ text = text }, N_MT) end -- a number token

local function emit(v, ind)
  local mt = getmetatable(v)
  if type(v) == "string" then return esc(v) end
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if mt == N_MT then return v.text end
  local pad, inner = (" "):rep(ind), (" "):rep(ind + 2)
  local parts = {}
  if mt == A_MT then
    if #v == 0 then return "[]" end
    for i = 1, #v do parts[i] = inner .. emit(v[i], ind + 2) end
    return "[\n" .. table.concat(parts, ",\n") .. "\n" .. pad .. "]"
  end
  assert(mt == O_MT, "emit: unknown value")
  if #v == 0 then return "{}" end
  for i = 1, #v, 2 do parts[#parts + 1] = inner .. esc(v[i]) .. ": " .. emit(v[i + 1], ind + 2) end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. pad .. "}"
end
M.emit, M.esc, M.O, M.A, M.N = emit, esc, O, A, N

-- ---- the chain ----------------------------------------------------------------------------
M.U64_MAX = "18446744073709551615"
M.HALF = "9223372036854775808"         -- 2^63: the first u64 a Lua integer cannot hold
M.HALF_LESS = "9223372036854775807"    -- 2^63 - 1; HALF + HALF_LESS = U64_MAX
local MINER = "AURfixtureMinerAddress0000000000000x"
local ODD = "quote\" backslash\\ slash/ tab\t newline\n cr\r ff\f bs\b nul\0 ctrl\1\31 del\127 é ü 😀"

function M.generate(nblocks)
  nblocks = nblocks or 30
  seed = 0x5DEECE66D2545F49
  local addresses = {}
  for i = 1, 6 do addresses[i] = ("AURfixture%02d%s"):format(i, hex64():sub(1, 24)) end

  local utxo = {}        -- "id:n" -> decimal text of the value, while unspent
  local wallet = {}      -- spendable small outputs: { id, n, value (integer) }
  local facts = { blocks = 0, txs = 0, coinbases = 0, spends = 0, outputs = 0,
    minted = "0", fees = "0", same_block_spends = 0, empty_blocks = 0 }
  local blocks = {}

  local function text_of(v) return getmetatable(v) == N_MT and v.text or ("%d"):format(v) end
  local function output(id, n, value, address)
    utxo[id .. ":" .. n] = text_of(value)
    facts.outputs = facts.outputs + 1
    return O("value", value, "address", address)
  end
  local function spend(id, n)
    assert(utxo[id .. ":" .. n], "fixture: spending a missing output")
    utxo[id .. ":" .. n] = nil
    facts.spends = facts.spends + 1
  end
  local function text_of(v) return getmetatable(v) == N_MT and v.text or tostring(v) end

  local function coinbase(h, ts, values)
    local id, outs = "coinbase-" .. h, A()
    for n, v in ipairs(values) do
      outs[#outs + 1] = output(id, n - 1, v, MINER)
      facts.minted = add_dec(facts.minted, text_of(v))
      if math.type(v) == "integer" then wallet[#wallet + 1] = { id = id, n = n - 1, value = v } end
    end
    facts.coinbases = facts.coinbases + 1
    return O("id", id, "inputs", A(), "outputs", outs, "timestamp", ts, "signature", "")
  end

  -- an ordinary transaction: takes wallet entries (or the given ones), pays `fee`
  local function transfer(h, ts, picks, fee, sig, block_created)
    local id, ins, total = hex64(), A(), 0
    for _, w in ipairs(picks) do
      spend(w.id, w.n)
      if block_created[w.id] then facts.same_block_spends = facts.same_block_spends + 1 end
      ins[#ins + 1] = O("prev_tx_id", w.id, "output_index", w.n,
        "signature", sig or hex64():sub(1, 40), "public_key", "02" .. hex64():sub(1, 30))
      total = total + w.value
    end
    local left, outs = total - fee, A()
    local k = 1 + rnd(3)
    for n = 1, k do
      local v = n == k and left or rnd(left // 2 + 1)
      left = left - v
      outs[#outs + 1] = output(id, n - 1, v, addresses[1 + rnd(#addresses)])
      wallet[#wallet + 1] = { id = id, n = n - 1, value = v }
    end
    facts.fees = add_dec(facts.fees, fee)
    block_created[id] = true
    return O("id", id, "inputs", ins, "outputs", outs, "timestamp", ts, "signature", hex64())
  end
  local function take()
    return table.remove(wallet, 1 + rnd(#wallet))
  end

  for h = 0, nblocks - 1 do
    local ts = 1760000000 + 30 * h
    local txs, created = A(), {}
    local nonce, difficulty = 0, 4
    if h == 0 then
      -- the older genesis: one input spending "0" (a coinbase by the prev_tx_id "0" rule)
      local id = hex64()
      txs[1] = O("id", id, "inputs", A { O("prev_tx_id", "0", "output_index", 0,
          "signature", "fixture_genesis_sig", "public_key", "fixture_genesis") },
        "outputs", A { output(id, 0, 50, addresses[1]) }, "timestamp", ts, "signature", "")
      wallet[#wallet + 1] = { id = id, n = 0, value = 50 }
      facts.minted = add_dec(facts.minted, 50)
      facts.coinbases = facts.coinbases + 1
    elseif h % 5 == 3 then
      facts.empty_blocks = facts.empty_blocks + 1           -- the mining loop: vec![]
    elseif h == 17 then
      -- two outputs of 2^64-1: one stays unspent, the other is split at height 22
      txs[1] = coinbase(h, ts, { N(M.U64_MAX), N(M.U64_MAX) })
    elseif h == 22 then
      txs[1] = coinbase(h, ts, { 5000000000 })
      spend("coinbase-17", 1)
      local id = hex64()
      txs[2] = O("id", id, "inputs", A { O("prev_tx_id", "coinbase-17", "output_index", 1,
          "signature", hex64():sub(1, 40), "public_key", "02" .. hex64():sub(1, 30)) },
        "outputs", A { output(id, 0, N(M.HALF), addresses[2]), output(id, 1, N(M.HALF_LESS), addresses[3]) },
        "timestamp", ts, "signature", hex64())
    else
      -- a coinbase (a negative timestamp once: i64), then up to three transfers
      txs[1] = coinbase(h, h == 8 and -62135596800 or ts, { 5000000000 })
      local k = h == 10 and 2 or rnd(4)
      for t = 1, k do
        local picks
        if h == 10 and t == 2 then
          -- spends an output the previous transfer of this block created
          picks = { table.remove(wallet) }
        else
          picks = { take() }
          if rnd(3) == 0 and #wallet > 0 then picks[2] = take() end
        end
        local fee = (h == 12 and t == 1) and 1000 or 0
        local sum = 0
        for _, p in ipairs(picks) do sum = sum + p.value end
        if sum < fee then fee = 0 end
        txs[#txs + 1] = transfer(h, ts + t, picks, fee, h == 5 and t == 1 and ODD or nil, created)
      end
    end
    if h == 13 then nonce, difficulty = N(M.U64_MAX), 4294967295 end
    facts.txs = facts.txs + #txs
    blocks[#blocks + 1] = O("index", h, "timestamp", ts, "transactions", txs,
      "previous_hash", h == 0 and "0" or "", "hash", "", "nonce", nonce, "difficulty", difficulty,
      "miner_address", MINER, "merkle_root", #txs == 0 and ("0"):rep(64) or hex64())
  end
  facts.blocks = #blocks

  local supply, count = "0", 0
  local keys = {}
  for k, v in pairs(utxo) do
    supply = add_dec(supply, v)
    count = count + 1
    keys[#keys + 1] = k
  end
  table.sort(keys)
  facts.utxos, facts.supply = count, supply

  local expected = O("format", "auriumchain", "layout", "auriumchain-node",
    "blocks", facts.blocks, "latest_index", facts.blocks - 1, "txs", facts.txs,
    "coinbases", facts.coinbases, "spends", facts.spends, "outputs", facts.outputs,
    "utxos", facts.utxos, "supply", N(facts.supply), "minted", N(facts.minted),
    "fees", N(facts.fees), "empty_hash_blocks", facts.blocks,
    "duplicate_hash_blocks", facts.blocks - 1, "empty_blocks", facts.empty_blocks,
    "same_block_spends", facts.same_block_spends)
  facts.utxo_keys = keys
  facts.utxo_values = utxo
  return emit(A(blocks), 0), emit(expected, 0) .. "\n", facts
end

if arg and arg[0] and arg[0]:match("aurium_fixture%.lua$") then
  local dir = arg[1] or "spec/fixtures/auriumchain"
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  local chain, expected = M.generate()
  for name, text in pairs({ ["chain.json"] = chain, ["expected.json"] = expected }) do
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(text)
    f:close()
  end
  print(("wrote %s/chain.json (%d bytes) and %s/expected.json"):format(dir, #chain, dir))
end

return M
