-- quarry gen: writes a deterministic, valid synthetic chain as a JSON dump (links, coinbases,
-- spends of earlier outputs, fees), for the main job, the tests and the benchmarks.
local cli = require("quarry.cli")

local M = { summary = "write a deterministic, valid synthetic chain as a JSON dump" }

-- splitmix64: a small deterministic generator (the same stream on every platform and Lua build).
local function rng(seed)
  local state = seed
  local function next64()
    state = state + 0x9E3779B97F4A7C15
    local z = state
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
  end
  local function below(n) return (next64() >> 1) % n end -- 0 .. n-1
  local fmt = string.format
  local function hex(bytes)
    local parts = {}
    for i = 1, bytes // 8 do parts[i] = fmt("%016x", next64()) end
    local rest = bytes % 8
    if rest > 0 then parts[#parts + 1] = fmt("%016x", next64()):sub(1, rest * 2) end
    return table.concat(parts)
  end
  return next64, below, hex
end
M.rng = rng

-- The generator's state: its random stream, the outputs it may spend, the previous hash.
local function new_generator(options)
  local json = require("quarry.json")
  local _, below, hex = rng(options.seed or 42)
  local g = {
    json = json, OBJ = json.object_mt, ARR = json.array_mt, below = below, hex = hex,
    plain = options.plain,
    max_txs = options.max_txs or 8, -- regular transactions per block: 0 .. max_txs
    miners = {},
    pool = {}, npool = 0, -- unspent outputs it may spend: { tx_id, n, amount } (recent at the end)
    prev = string.rep("0", 64), ntxs = 0, ts = 1700000000,
  }
  for i = 1, 64 do g.miners[i] = hex(20) end
  return g
end

local HALVING, REWARD = 210000, 5000000000
local BIG = 1 << 53

-- An unspent output to spend: mostly a recent one, now and then any.
local function take(g)
  local below, pool, npool = g.below, g.pool, g.npool
  local i
  if npool > 256 and below(4) == 0 then
    i = 1 + below(npool)
  else
    local span = math.min(npool, 256)
    i = npool - below(span)
  end
  local u = pool[i]
  pool[i] = pool[npool]
  pool[npool] = nil
  g.npool = npool - 1
  return u
end

local function remember(g, id, n, amount)
  g.npool = g.npool + 1
  g.pool[g.npool] = { id, n, amount }
end

local function output(g, address, amount)
  if not g.plain and g.below(100) == 0 then
    return setmetatable({ "address", "amount", "script", address = address, amount = amount,
      script = "76a914" .. address .. "88ac" }, g.OBJ)
  end
  return setmetatable({ "address", "amount", address = address, amount = amount }, g.OBJ)
end

-- The inputs of a regular transaction (1 to 3 spends). Returns them and their sum.
local function inputs(g)
  local below, OBJ = g.below, g.OBJ
  local ins = setmetatable({}, g.ARR)
  local sum = 0
  for i = 1, math.min(1 + below(3), g.npool) do
    local u = take(g)
    sum = sum + u[3]
    if not g.plain and below(200) == 0 then
      ins[i] = setmetatable({ "tx_id", "output_index", "sequence", tx_id = u[1],
        output_index = u[2], sequence = 4294967295 }, OBJ)
    else
      ins[i] = setmetatable({ "tx_id", "output_index", tx_id = u[1], output_index = u[2] }, OBJ)
    end
  end
  return ins, sum
end

-- A regular transaction t of block h: spends, a fee, 1 to 3 outputs. Returns it and its fee.
local function regular_tx(g, h, t)
  local below, OBJ = g.below, g.OBJ
  local id = g.hex(32)
  local ins, sum = inputs(g)
  local fee = math.min(sum, below(20001))
  local left = sum - fee
  local nout = 1 + below(3)
  local outs = setmetatable({}, g.ARR)
  for n = 1, nout do
    local a = left
    if n < nout and left > 0 then a = below(left + 1) end
    left = left - a
    outs[n] = output(g, g.hex(20), a)
    remember(g, id, n - 1, a)
  end
  if not g.plain and below(50) == 0 then
    return setmetatable({ "id", "inputs", "outputs", "memo", id = id, inputs = ins, outputs = outs,
      memo = ("payment %d/%d"):format(h, t) }, OBJ), fee
  end
  return setmetatable({ "id", "inputs", "outputs", id = id, inputs = ins, outputs = outs }, OBJ), fee
end

-- The coinbase of block h: the reward (halving every 210,000 blocks), the fees, and now and then
-- an amount above 2^53 (exact 64-bit integers all the way). Returns it and the block's miner.
local function coinbase(g, h, fees)
  local reward = REWARD >> (h // HALVING)
  if h % 500 == 250 then reward = reward + BIG + g.below(1 << 40) end
  local miner = g.miners[1 + g.below(#g.miners)]
  local cb_id = g.hex(32)
  local tx = setmetatable({ "id", "inputs", "outputs", id = cb_id, inputs = setmetatable({}, g.ARR),
    outputs = setmetatable({ output(g, miner, reward + fees) }, g.ARR) }, g.OBJ)
  remember(g, cb_id, 0, reward + fees)
  return tx, miner
end

-- Block h: up to max_txs regular transactions after the coinbase, linked to the previous block.
local function block(g, h)
  local below = g.below
  g.ts = g.ts + 540 + below(121)
  local txs = setmetatable({}, g.ARR)
  local fees = 0
  for t = 1, below(g.max_txs + 1) do
    if g.npool == 0 then break end
    local tx, fee = regular_tx(g, h, t)
    fees = fees + fee
    txs[t + 1] = tx
  end
  local cb, miner = coinbase(g, h, fees)
  txs[1] = cb
  local hash = g.hex(32)
  local b = setmetatable({ "index", "timestamp", "previous_hash", "hash", "nonce", "difficulty",
    "miner", "transactions", index = h, timestamp = g.ts, previous_hash = g.prev, hash = hash,
    nonce = below(1 << 32), difficulty = 12 + h // 2016, miner = miner, transactions = txs }, g.OBJ)
  if not g.plain and h % 97 == 96 then
    b[#b + 1] = "extra"
    b.extra = setmetatable({ "note", "tags", note = "checkpoint " .. h,
      tags = setmetatable({ "a", 1, g.json.null, true, g.json.number("1.50") }, g.ARR) }, g.OBJ)
  end
  g.prev = hash
  g.ntxs = g.ntxs + #txs
  return b
end

-- gen.chain(options, emit): generates options.blocks blocks, calling emit(block) for each.
-- options: blocks, seed, plain (no fields beyond the reference format), max_txs (most regular
-- transactions per block besides the coinbase, default 8).
function M.chain(options, emit)
  local g = new_generator(options)
  for h = 0, options.blocks - 1 do emit(block(g, h)) end
  return { blocks = options.blocks, txs = g.ntxs, utxos = g.npool }
end

-- Writes the records generate(emit) emits to args.out (json.writer options wopts) with the
-- progress bar of args.blocks; an error while generating removes the partial file and is raised
-- again. Returns the generator's counts and the size text for the summary (", 2.5 MiB" or
-- ", streamed"), or nil, nil and the exit status when the output cannot be opened.
local function write_dump(args, wopts, generate)
  local system = require("quarry.cli.system")
  local wok, w = pcall(require("quarry.json").writer, args.out, wopts)
  if not wok then return nil, nil, system.output_failed("gen", w) end
  local bar = require("quarry.cli.progress").bar({ label = "gen", total = args.blocks, unit = "blocks" })
  local written = 0
  local ok, st = pcall(generate, function(rec)
    w:write(rec)
    written = written + 1
    if written % 64 == 0 then bar:update(written / args.blocks, written) end
  end)
  bar:done()
  if not ok then
    w:abort()
    error(st, 0)
  end
  w:close()
  local size = system.file_size(args.out)
  return st, size and ", " .. require("quarry.cli.format").bytes(size) or ", streamed"
end

function M.run(argv)
  local p = cli.parser("gen", M.summary)
  p:option("--blocks", "Number of blocks", "2000"):convert(math.tointeger)
  p:option("--seed", "Seed of the generator (same seed, same chain)", "42"):convert(math.tointeger)
  p:option("--out", "Output file (.lz4: LZ4 frame; .jsonl: JSON Lines)"):count(1)
  p:option("--format", "object ({\"chain\", \"blocks\": [...]}), array or jsonl (default: by extension);"
    .. " ethereum-rpc: an account-model chain (eth_getBlockByNumber records, JSON Lines)")
    :choices({ "object", "array", "jsonl", "ethereum-rpc" })
  p:option("--max-txs", "Most transactions in a block besides the coinbase", "8"):convert(math.tointeger)
  p:flag("--plain", "Only the reference fields (no unknown fields here and there)")
  p:option("--receipts", "ethereum-rpc: records with their receipts: all (default), none, mixed")
    :choices({ "all", "none", "mixed" })
  p:option("--txs-per-block", "ethereum-rpc: mean transactions per block (default 4)"):convert(math.tointeger)
  p:option("--addresses", "ethereum-rpc: accounts of the population (default 10000)"):convert(math.tointeger)
  p:option("--start", "ethereum-rpc: height of the first block (default 0)"):convert(math.tointeger)
  p:flag("--array", "ethereum-rpc: a JSON array instead of JSON Lines")
  -- "--blocks -5": argparse would take -5 for an option ("Did you mean '-h'?")
  local numeric = { ["--blocks"] = "a positive integer", ["--txs-per-block"] = "a non-negative integer",
    ["--addresses"] = "an integer of at least 2", ["--start"] = "a non-negative integer" }
  for i = 1, #argv - 1 do
    if numeric[argv[i]] and argv[i + 1]:match("^%-") then
      io.stderr:write("quarry gen: ", argv[i], " must be ", numeric[argv[i]], ", got ", argv[i + 1], "\n")
      return cli.EXIT_USAGE
    end
  end
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if not args.blocks or args.blocks < 1 then
    io.stderr:write("quarry gen: --blocks must be a positive integer, got ", tostring(args.blocks), "\n")
    return cli.EXIT_USAGE
  end
  if not args.seed then
    io.stderr:write("quarry gen: --seed must be an integer\n")
    return cli.EXIT_USAGE
  end
  if args.format == "ethereum-rpc" then return M.run_ethereum(args, argv) end
  for _, o in ipairs({ "receipts", "txs_per_block", "addresses", "start", "array" }) do
    if args[o] then
      io.stderr:write("quarry gen: --", (o:gsub("_", "-")), " is an option of --format ethereum-rpc",
        o == "array" and " (a UTXO chain as a JSON array: --format array)" or "", "\n")
      return cli.EXIT_USAGE
    end
  end
  local format = args.format
  if not format then
    local base = args.out:gsub("%.lz4$", "")
    format = (base:match("%.jsonl$") or base:match("%.ndjson$")) and "jsonl" or "object"
  end
  local wopts = { format = format }
  if format == "object" then
    wopts.header = { chain = "quarry-synthetic" }
    wopts.key = "blocks"
  end
  local st, size, status = write_dump(args, wopts, function(emit)
    return M.chain({ blocks = args.blocks, seed = args.seed, plain = args.plain, max_txs = args.max_txs }, emit)
  end)
  if not st then return status end
  require("quarry.cli.system").summary_stream(args.out):write(("wrote %d blocks, %d transactions (%d outputs left unspent) to %s (%s%s)\n"):format(
    st.blocks, st.txs, st.utxos, args.out, format, size))
  return cli.EXIT_OK
end

-- quarry gen --format ethereum-rpc: the account-model generator (quarry.cli.gen.ethereum).
function M.run_ethereum(args, argv)
  local function usage(msg)
    io.stderr:write("quarry gen: ", msg, "\n")
    return cli.EXIT_USAGE
  end
  for _, a in ipairs(argv) do
    if a == "--max-txs" or a:match("^%-%-max%-txs=") then
      return usage("--max-txs is an option of the UTXO formats: use --txs-per-block with --format ethereum-rpc")
    end
  end
  if args.txs_per_block and (args.txs_per_block < 0 or args.txs_per_block > 10000) then
    return usage("--txs-per-block must be a non-negative integer of at most 10000 (a block holds up to twice it), got "
      .. tostring(args.txs_per_block))
  end
  if args.addresses and args.addresses < 2 then
    return usage("--addresses must be an integer of at least 2, got " .. tostring(args.addresses))
  end
  if args.start and args.start < 0 then
    return usage("--start must be a non-negative integer, got " .. tostring(args.start))
  end
  if args.start and args.start > math.maxinteger - args.blocks then
    return usage(("--start %d: the last height would pass 2^63-1"):format(args.start))
  end
  local format = args.array and "array" or "jsonl"
  local st, size, status = write_dump(args, { format = format }, function(emit)
    return require("quarry.cli.gen.ethereum").chain({ blocks = args.blocks, seed = args.seed, start = args.start,
      txs_per_block = args.txs_per_block, addresses = args.addresses, receipts = args.receipts, plain = args.plain }, emit)
  end)
  if not st then return status end
  require("quarry.cli.system").summary_stream(args.out):write(("wrote %d blocks (%d with receipts), %d transactions (%d contract creations), %d logs in receipts to %s (ethereum-rpc %s%s)\n"):format(
    st.blocks, st.receipt_blocks, st.txs, st.creations, st.logs, args.out, format, size))
  return cli.EXIT_OK
end

return M
