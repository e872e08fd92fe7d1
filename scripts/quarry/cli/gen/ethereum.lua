-- quarry gen --format ethereum-rpc: a deterministic synthetic account-model chain, as an operator
-- gets it from a node's JSON-RPC: each record an eth_getBlockByNumber(n, true) result, or
-- {"block": <that>, "receipts": [<eth_getTransactionReceipt per transaction>]}.
--
-- The shape follows recorded mainnet answers (post-Cancun blocks and transactions in the member
-- order nimbus-eth1 and geth print them, receipts and logs as geth prints them). What is
-- synthetic: every hash, root, signature and bloom is a random-looking value from the seeded
-- stream (no RLP, no Keccak: a hash is not the hash of anything), contract addresses are not
-- derived from sender and nonce, and gas figures are plausible, not executed. What holds: heights
-- contiguous from --start, parentHash = previous hash, each transaction's blockNumber, blockHash
-- and transactionIndex agree with its block, one receipt per transaction with the same
-- transactionHash, blockNumber, blockHash and index, cumulativeGasUsed adding up to the block's
-- gasUsed, logIndex counting through the block, unique transaction hashes, per-sender nonces
-- counting up, contracts called only after the block that created them.
local json = require("quarry.json")
local rng = require("quarry.cli.commands.gen").rng

local M = {}

local fmt, concat = string.format, table.concat
local OBJ, ARR, NULL = json.object_mt, json.array_mt, json.null

-- ethereum.object(k1, v1, k2, v2, ...): a JSON object with the members in the order given (the
-- specs build their recorded-shape fixtures with it too).
local function obj(...)
  local t = setmetatable({}, OBJ)
  local n = select("#", ...)
  for i = 1, n, 2 do
    local k, v = select(i, ...)
    t[#t + 1] = k
    t[k] = v
  end
  return t
end

M.object = obj

-- Appends member k = v after the existing ones.
local function add(t, k, v)
  t[#t + 1] = k
  t[k] = v
end

local function arr(t) return setmetatable(t or {}, ARR) end

-- The splitmix64 finalizer: a fixed bijection of 64-bit words (addresses of the population are
-- derived from their rank with it, so the population takes no memory).
local function mix(z)
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end

local function bitlen(n)
  local b = 0
  while n > 0 do b, n = b + 1, n >> 1 end
  return b
end

local ZERO32 = "0x" .. string.rep("0", 64)
local ZERO_BLOOM = "0x" .. string.rep("0", 512)
local EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347" -- as mainnet prints it
local TOTAL_DIFFICULTY = "0xc70d815d562d3cfa955" -- mainnet's since the merge: a quantity above 2^64
-- The topic of ERC-20 Transfer(address,address,uint256), as the recorded logs carry it; the other
-- event signatures are random-looking values, the same for every seed.
local TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
local NSIGS = 24

local function sig_topics()
  local _, _, hex = rng(0x5EED0001)
  local t = { TRANSFER }
  for i = 2, NSIGS do t[i] = "0x" .. hex(32) end
  return t
end
M.EVENT_TOPICS = sig_topics()

-- The generator's state.
local function new(options)
  local next64, below, hex = rng(options.seed or 42)
  local naddr = options.addresses or 10000
  local g = {
    next64 = next64, below = below, hex = hex,
    plain = options.plain,
    receipts = options.receipts or "all",
    tpb = options.txs_per_block or 4,
    naddr = naddr, addr_bits = bitlen(naddr),
    addr_salt = mix((options.seed or 42) ~ 0x0ADD5EED),
    nonces = {},          -- rank -> next nonce (at most naddr entries)
    contracts = {}, ncontracts = 0, CAP = 1024, -- called contracts: the first 64 stay (the hot ones)
    pending = {},         -- contracts created in the current block: callable from the next one
    prev = options.start and options.start > 0 and "0x" .. hex(32) or ZERO32,
    ts = 1700000000, base_fee = 12000000000, excess_blob = 0, withdrawal = 40000000,
    stats = { blocks = 0, txs = 0, receipts = 0, logs = 0, creations = 0, receipt_blocks = 0 },
  }
  return g
end

-- A rank 0 .. n-1 with probability about proportional to 1/(rank+1) (Zipf with exponent 1):
-- an octave chosen uniformly, then a rank uniformly inside it. Integer arithmetic only, so the
-- stream is the same everywhere.
local function zipf(below, n, bits)
  while true do
    local k = below(bits)
    local lo = 1 << k
    local r = lo - 1 + below(lo)
    if r < n then return r end
  end
end

local function address_of(g, rank)
  local a = mix(g.addr_salt ~ (rank * 0x9E3779B97F4A7C15))
  local b = mix(a ~ 0x5851F42D4C957F2D)
  local c = mix(b ~ 0x14057B7EF767814F)
  return fmt("0x%016x%016x%08x", a, b, c & 0xffffffff)
end

local function account(g) return zipf(g.below, g.naddr, g.addr_bits) end

local function q(n) return fmt("0x%x", n) end

-- A random quantity of at most `bits` bits (minimal hex, "0x0" for zero).
local function bigq(g, bits)
  local nhex = (bits + 3) // 4
  local s = g.hex((nhex + 1) // 2):sub(1, nhex):gsub("^0+", "")
  return s == "" and "0x0" or "0x" .. s
end

-- A signature value (r, s): 256 random bits printed as a quantity.
local function sigq(g) return bigq(g, 256) end

-- A wei amount: mostly within 2^64 or a little above (amounts of ether), rarely up to 2^256-1.
local function wei(g)
  local below = g.below
  local c = below(1000)
  if c < 300 then return "0x0" end
  if c < 995 then return bigq(g, 40 + below(41)) end -- 2^40 .. 2^80 wei
  if c < 999 then return bigq(g, 81 + below(176)) end -- up to 2^256
  return "0x" .. string.rep("f", 56) .. g.hex(4) -- near 2^256-1
end

-- A 32-byte word of log data: an amount, zero-padded as the ABI encodes it.
local function word(g)
  local v = g.below(4) == 0 and fmt("%016x%016x", g.next64(), g.next64()) or fmt("%016x", g.next64() >> g.below(40))
  return string.rep("0", 64 - #v) .. v
end

local function padded(address) return "0x000000000000000000000000" .. address:sub(3) end

-- The pseudo-bloom: the three bits a bloom sets for a value, taken from its last six bytes
-- instead of from its Keccak-256 (a node's bloom would differ).
local function bloom_add(words, value)
  local n = #value
  for i = 0, 2 do
    local bit = tonumber(value:sub(n - 4 * i - 3, n - 4 * i), 16) & 2047
    local w = 1 + (bit >> 5)
    words[w] = words[w] | (1 << (bit & 31))
  end
end

local function bloom_hex(words)
  if not words then return ZERO_BLOOM end
  local parts = { "0x" }
  for i = 1, 64 do parts[i + 1] = fmt("%08x", words[i]) end
  return concat(parts)
end

local function new_bloom()
  local w = {}
  for i = 1, 64 do w[i] = 0 end
  return w
end

local function access_list(g)
  local below = g.below
  local list = arr()
  if below(5) == 0 then
    for i = 1, 1 + below(2) do
      local keys = arr()
      for k = 1, below(3) do keys[k] = "0x" .. g.hex(32) end
      list[i] = obj("address", g.ncontracts > 0 and g.contracts[1 + below(g.ncontracts)] or address_of(g, account(g)),
        "storageKeys", keys)
    end
  end
  return list
end

-- A called contract: the oldest ones are the busiest (a token everybody uses), the newest rare.
local function contract(g)
  return g.contracts[1 + zipf(g.below, g.ncontracts, bitlen(g.ncontracts))]
end

local function remember_contract(g, address)
  if g.ncontracts < g.CAP then
    g.ncontracts = g.ncontracts + 1
    g.contracts[g.ncontracts] = address
  else
    g.contracts[65 + g.below(g.CAP - 64)] = address
  end
end

-- The logs of a successful call of contract `to` from `from` (or of its creation): 0 to 4 topics each, the first from the
-- event signatures (skewed: Transfer everywhere, some signatures rare), the next ones an
-- account (padded: they repeat) or a random word (unique).
local function logs_of(g, ctx, to, from, kind)
  local below = g.below
  local n
  if kind == "create" then
    n = below(3) == 0 and 1 or 0
  else
    local c = below(100)
    n = c < 20 and 0 or c < 55 and 1 or c < 75 and 2 or c < 88 and 3 or c < 96 and 4 or 5 + below(8)
  end
  local logs = arr()
  for i = 1, n do
    local c = below(100)
    local ntopics = c < 3 and 0 or c < 18 and 1 or c < 28 and 2 or c < 88 and 3 or 4
    local topics = arr()
    if ntopics > 0 then
      topics[1] = M.EVENT_TOPICS[1 + zipf(below, NSIGS, bitlen(NSIGS))]
      for p = 2, ntopics do
        if p == 2 and below(2) == 0 then topics[p] = padded(from)
        elseif below(8) == 0 then topics[p] = "0x" .. g.hex(32)
        else topics[p] = padded(address_of(g, account(g))) end
      end
    end
    local words = {}
    for w = 1, below(4) do words[w] = word(g) end
    local address = (below(5) == 0 and g.ncontracts > 0) and contract(g) or to
    local log = obj("address", address, "topics", topics, "data", "0x" .. concat(words),
      "blockNumber", ctx.number, "transactionHash", ctx.tx_hash, "transactionIndex", ctx.tx_index,
      "blockHash", ctx.hash, "blockTimestamp", ctx.timestamp, "logIndex", q(ctx.log_index), "removed", false)
    ctx.log_index = ctx.log_index + 1
    logs[i] = log
    local bw = ctx.rbloom or new_bloom()
    ctx.rbloom = bw
    bloom_add(bw, address)
    for p = 1, ntopics do bloom_add(bw, topics[p]) end
  end
  return logs
end

-- Transaction i (0-based) of the block described by ctx, and its receipt.
local function transaction(g, ctx, i)
  local below = g.below
  -- what it does
  local c = below(1000)
  local kind = c < 35 and "create" or (c < 600 and g.ncontracts > 0) and "call" or "transfer"
  local t = below(100)
  local typ = t < 18 and 0 or t < 20 and 1 or (t < 22 and kind ~= "create") and 3 or 2
  local sender = account(g)
  local from = address_of(g, sender)
  local nonce = g.nonces[sender] or 0
  g.nonces[sender] = nonce + 1
  local to, input, value, gas_used
  if kind == "create" then
    to = NULL
    input = "0x6080604052" .. g.hex(40 + below(120))
    value = below(10) == 0 and wei(g) or "0x0"
    gas_used = 100000 + below(1900000)
  elseif kind == "call" then
    to = contract(g)
    input = "0x" .. g.hex(4) .. padded(address_of(g, account(g))):sub(3) .. word(g)
    value = below(8) == 0 and wei(g) or "0x0"
    gas_used = 30000 + below(270000)
  else
    local r = account(g)
    if r == sender then r = (r + 1) % g.naddr end
    to = address_of(g, r)
    input = "0x"
    value = wei(g)
    if value == "0x0" then value = bigq(g, 60) end
    gas_used = 21000
  end
  if typ == 3 then input = "0x" end
  local status = below(50) == 0 and 0 or 1
  local gas = gas_used + below(gas_used // 2 + 1)
  local prio = below(3000000000)
  local max_fee = ctx.base_fee * 2 + prio
  local price = typ <= 1 and ctx.base_fee + prio + below(1000000000) or ctx.base_fee + prio
  local y = below(2)
  local hash = "0x" .. g.hex(32)
  local tx = obj("blockHash", ctx.hash, "blockNumber", ctx.number, "transactionIndex", q(i), "hash", hash,
    "from", from, "to", to, "input", input, "nonce", q(nonce), "value", value, "gas", q(gas), "gasPrice", q(price))
  local blobs = 0
  if typ >= 2 then
    add(tx, "maxPriorityFeePerGas", q(prio))
    add(tx, "maxFeePerGas", q(max_fee))
  end
  if typ >= 1 then
    add(tx, "accessList", access_list(g))
    add(tx, "chainId", "0x1")
  end
  add(tx, "type", q(typ))
  if typ == 3 then
    blobs = 1 + below(6)
    add(tx, "maxFeePerBlobGas", q(1000000000 + below(4000000000)))
    local hashes = arr()
    for b = 1, blobs do hashes[b] = "0x01" .. g.hex(31) end
    add(tx, "blobVersionedHashes", hashes)
  end
  add(tx, "v", typ == 0 and q(37 + y) or q(y))
  add(tx, "r", sigq(g))
  add(tx, "s", sigq(g))
  if typ >= 1 then add(tx, "yParity", q(y)) end
  if not g.plain and typ == 2 and below(150) == 0 then add(tx, "isSystemTx", false) end -- an L2 client's member

  -- its receipt
  ctx.cumulative = ctx.cumulative + gas_used
  ctx.blob_gas = ctx.blob_gas + blobs * 131072
  local created = NULL
  if kind == "create" then
    created = "0x" .. g.hex(20)
    if status == 1 then g.pending[#g.pending + 1] = created end
  end
  ctx.tx_hash, ctx.tx_index = hash, q(i)
  ctx.rbloom = nil
  -- plain transfers and blob carriers log nothing (an account has no code to emit events)
  local logs = (status == 1 and kind ~= "transfer" and typ ~= 3) and logs_of(g, ctx, kind == "create" and created or to, from, kind) or arr()
  local r = setmetatable({}, OBJ)
  if typ == 3 then
    add(r, "blobGasPrice", "0x1")
    add(r, "blobGasUsed", q(blobs * 131072))
  end
  add(r, "blockHash", ctx.hash)
  add(r, "blockNumber", ctx.number)
  add(r, "contractAddress", created)
  add(r, "cumulativeGasUsed", q(ctx.cumulative))
  add(r, "effectiveGasPrice", q(price))
  add(r, "from", from)
  add(r, "gasUsed", q(gas_used))
  add(r, "logs", logs)
  add(r, "logsBloom", bloom_hex(ctx.rbloom))
  add(r, "status", q(status))
  add(r, "to", to)
  add(r, "transactionHash", hash)
  add(r, "transactionIndex", q(i))
  add(r, "type", q(typ))
  if not g.plain and below(120) == 0 then -- an L2 client's members
    add(r, "l1Fee", bigq(g, 50))
    add(r, "l1GasUsed", q(1000 + below(5000)))
  end
  if ctx.rbloom then
    local bw = ctx.bloom
    for w = 1, 64 do bw[w] = bw[w] | ctx.rbloom[w] end
    ctx.any_log = true
  end
  return tx, r, kind == "create"
end

-- The number of transactions of a block: 0 now and then, else 0 .. 2 * mean (mean `tpb`).
local function tx_count(g)
  if g.tpb == 0 or g.below(40) == 0 then return 0 end
  return g.below(2 * g.tpb + 1)
end

-- The record of height h: the block, and its receipts when this block comes with them.
local function record(g, h)
  local below, hex = g.below, g.hex
  g.ts = g.ts + (below(20) == 0 and 24 or 12)
  local hash = "0x" .. hex(32)
  local ctx = { hash = hash, number = q(h), timestamp = q(g.ts), base_fee = g.base_fee, cumulative = 0,
    blob_gas = 0, log_index = 0, bloom = new_bloom() }
  local txs, receipts = arr(), arr()
  for i = 1, tx_count(g) do
    local tx, r, created = transaction(g, ctx, i - 1)
    txs[i], receipts[i] = tx, r
    if created then g.stats.creations = g.stats.creations + 1 end
  end
  for _, a in ipairs(g.pending) do remember_contract(g, a) end
  g.pending = {}
  local withdrawals = arr()
  for i = 1, below(5) do
    withdrawals[i] = obj("index", q(g.withdrawal), "validatorIndex", q(below(1400000)),
      "address", address_of(g, account(g)), "amount", q(below(20000000)))
    g.withdrawal = g.withdrawal + 1
  end
  local gas_limit = math.max(30000000, ctx.cumulative)
  local b = obj("number", ctx.number, "hash", hash, "parentHash", g.prev, "nonce", "0x0000000000000000",
    "mixHash", "0x" .. hex(32), "sha3Uncles", EMPTY_UNCLES,
    "logsBloom", ctx.any_log and bloom_hex(ctx.bloom) or ZERO_BLOOM,
    "stateRoot", "0x" .. hex(32), "miner", address_of(g, below(64)), "difficulty", "0x0",
    "extraData", "0x" .. hex(below(33)), "size", q(600 + 180 * #txs + below(4000)),
    "gasLimit", q(gas_limit), "gasUsed", q(ctx.cumulative), "timestamp", ctx.timestamp,
    "transactionsRoot", "0x" .. hex(32), "receiptsRoot", "0x" .. hex(32),
    "baseFeePerGas", q(g.base_fee), "totalDifficulty", TOTAL_DIFFICULTY,
    "withdrawalsRoot", "0x" .. hex(32), "blobGasUsed", q(ctx.blob_gas), "excessBlobGas", q(g.excess_blob),
    "parentBeaconBlockRoot", "0x" .. hex(32), "uncles", arr(), "transactions", txs, "withdrawals", withdrawals)
  if not g.plain and h % 97 == 96 then
    add(b, "vendorExtra", obj("client", "quarry-gen", "seal", arr({ "0x" .. hex(8), NULL, true }),
      "weight", json.number("18446744073709551617"), "ratio", json.number("1.50")))
  end
  -- the next block's fees: EIP-1559-like drift of the base fee, the blob gas excess
  local bf = g.base_fee + g.base_fee * (below(251) - 125) // 1000
  g.base_fee = math.min(math.max(bf, 3000000000), 300000000000)
  g.excess_blob = math.max(0, g.excess_blob + ctx.blob_gas - 393216)
  g.prev = hash
  local st = g.stats
  st.blocks, st.txs = st.blocks + 1, st.txs + #txs
  -- mixed: a coin of its own per height (not the stream), so that all, none and mixed write the
  -- same blocks
  local with = g.receipts == "all" or (g.receipts == "mixed" and mix(g.addr_salt ~ (h * 0xD6E8FEB86659FD93)) & 1 == 0)
  if not with then return b end
  st.logs = st.logs + ctx.log_index
  st.receipts = st.receipts + #receipts
  st.receipt_blocks = st.receipt_blocks + 1
  return obj("block", b, "receipts", receipts)
end

-- ethereum.chain(options, emit): generates options.blocks records from height options.start
-- (default 0), calling emit(record) for each; returns the counts {blocks, txs, receipts, logs
-- (in the receipts written), creations, receipt_blocks}. The blocks are the same whichever
-- `receipts` is asked for.
-- options: blocks, seed, start, txs_per_block (mean, default 4), addresses (population,
-- default 10000), receipts ("all" default, "none", "mixed": each block with them or not),
-- plain (no members outside what nodes print).
function M.chain(options, emit)
  local g = new(options)
  local start = options.start or 0
  for h = start, start + options.blocks - 1 do emit(record(g, h)) end
  return g.stats
end

return M
