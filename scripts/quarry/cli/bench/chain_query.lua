-- quarry.cli.bench.chain_query: `quarry bench chain-query`: generates an account-model chain
-- (quarry gen --format ethereum-rpc), migrates it (--layout account-chain), both timed in child
-- processes, then times the queries of quarry.chain.account.query: address history pages and
-- eth_getLogs-style filters (single address, topic0, address and topic0, wide ranges, no index),
-- each on targets drawn at random (fixed seed) from the store's own indexes. Per query kind:
-- latency percentiles and queries per second. docs/performance.md, "Account-chain queries".
local cli = require("quarry.cli")

local M = {
  summary = "account-chain queries (address history pages, eth_getLogs filters) on a generated chain: latency percentiles, queries/s, migration time",
}

local sh = require("quarry.cli.system").shell_quote

local self_command = require("quarry.cli.system").self_command

-- A count option: an integer >= 1, else a usage error naming what was given.
local function count(s)
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then return nil, ("a positive integer expected, got '%s'"):format(s) end
  return n
end

function M.options(c)
  c:option("--blocks", "Blocks of the generated chain", "100000"):convert(count)
  c:option("--seed", "Seed of the generator and of the query targets", "42"):convert(math.tointeger)
  c:option("--dir", "Work directory (default: a fresh one under /tmp, removed after)")
  c:option("--source", "Migrate this ethereum-rpc dump instead of generating one")
  c:option("--store", "Query this account-chain store (no generation, no migration)")
  c:option("--queries", "Queries of each kind", "200"):convert(count)
  c:option("--limit", "Entries per history page", "100"):convert(count)
  c:option("--range", "Blocks of the narrow log filters", "1000"):convert(count)
  c:option("--max-results", "Bound of the log queries (a query above it counts as refused)", "100000")
    :convert(count)
  c:flag("--keep", "Keep the work directory")
  cli.output_option(c)
end

-- Runs a shell command, returning its wall-clock seconds; raises naming it when it fails.
local function timed(what, cmd)
  local clock = require("quarry").clock
  local t = clock()
  local ok = os.execute(cmd)
  if not ok then error(what .. " failed: " .. cmd, 0) end
  return clock() - t
end

-- Percentile p (0..1) of a sorted list (nearest rank).
local function pct(sorted, p)
  if #sorted == 0 then return nil end
  local i = math.max(1, math.min(#sorted, math.ceil(p * #sorted)))
  return sorted[i]
end

local function summarize(name, lat, results, refused)
  table.sort(lat)
  local sum = 0
  for _, s in ipairs(lat) do sum = sum + s end
  local r = { name = name, queries = #lat, seconds = sum, qps = sum > 0 and #lat / sum or 0,
    p50 = pct(lat, 0.5), p90 = pct(lat, 0.9), p99 = pct(lat, 0.99), max = lat[#lat],
    mean_results = #lat > 0 and results / #lat or 0, refused = refused or 0 }
  return r
end

-- Random targets drawn from the store (the seed fixed): addresses uniform over the addresses (the
-- address of the next addr_txs key after a random one: most are quiet), addresses weighted by
-- activity (the sender of a random transaction of a random block), and logs weighted as they
-- occur (a random log with a topic of a random transaction: its address and topic0; hot event
-- signatures come up as often as they are emitted).
local function targets(q, n, seed, tip, lo)
  local keys = require("quarry.chain.account.keys")
  local json = require("quarry.json")
  math.randomseed(seed)
  local cf = q.cf
  local function rnd(len)
    local t = {}
    for i = 1, len do t[i] = string.char(math.random(0, 255)) end
    return table.concat(t)
  end
  if cf.addr_txs:seek("") == nil then error("the store has no transactions to query", 0) end
  local any, active, logs = {}, {}, {}
  for i = 1, n do
    local k = cf.addr_txs:seek(rnd(20)) or cf.addr_txs:seek("")
    any[i] = keys.hex(k:sub(1, 20))
  end
  -- a random transaction: its body and its receipt
  local function random_tx()
    for _ = 1, 10000 do
      local b = json.decode(cf.blocks:get(keys.block_key(math.random(lo, tip))))
      if #b.transactions > 0 then
        local raw = keys.hash(b.transactions[math.random(#b.transactions)])
        local _, _, text = keys.decode_tx_value(cf.txs:get(raw))
        local rtext = cf.receipts:get(raw)
        return json.decode(text), rtext and json.decode(rtext)
      end
    end
    error("no transaction found in 10,000 random blocks", 0)
  end
  for i = 1, n do active[i] = (random_tx()).from end
  local has_logs = cf.logs_by_address:seek("") ~= nil
  local tries = 0
  while has_logs and #logs < n do
    local _, r = random_tx()
    local list = {}
    for _, log in ipairs(r and r.logs or {}) do if #log.topics > 0 then list[#list + 1] = log end end
    if #list > 0 then
      local log = list[math.random(#list)]
      logs[#logs + 1] = { log.address, log.topics[1] }
    end
    tries = tries + 1
    if tries > 100 * n then error("too few logs with topics to query", 0) end
  end
  return any, active, logs, has_logs
end

-- Runs fn(i) -> results for i = 1..n, timing each call; a refused query (more than the bound)
-- counts as refused, its time included.
local function measure(n, fn)
  local clock = require("quarry").clock
  local lat, results, refused = {}, 0, 0
  for i = 1, n do
    local t = clock()
    local ok, r = pcall(fn, i)
    lat[i] = clock() - t
    if ok then results = results + r
    elseif tostring(r):find("query returned more than", 1, true) then refused = refused + 1
    else error(r, 0) end
  end
  return lat, results, refused
end

local function workloads(q, args)
  local tip = q:tip()
  local first = q:block("earliest")
  local lo = first and require("quarry.chain.account.keys").quantity(first.number, "number") or 0
  local any, active, logs, has_logs = targets(q, args.queries, args.seed, tip, lo)
  local null = require("quarry.json").null
  local n, limit, range = args.queries, args.limit, args.range
  local max = { max_results = args.max_results }
  -- a random window of w blocks (the i-th of the seed)
  local function window(i, w)
    math.randomseed(args.seed + i)
    local from = math.random(lo, math.max(lo, tip - w + 1))
    return from, math.min(tip, from + w - 1)
  end
  local rows = {}
  local function add(name, lat, res, refused) rows[#rows + 1] = summarize(name, lat, res, refused) end

  add("history: first page, any address", measure(n, function(i)
    return #q:history(any[i], { limit = limit }).entries
  end))
  add("history: first page, active address", measure(n, function(i)
    return #q:history(active[i], { limit = limit }).entries
  end))
  add("history: first page newest first, active", measure(n, function(i)
    return #q:history(active[i], { limit = limit, order = "newest" }).entries
  end))
  -- every page of active addresses, oldest first, by cursor (one latency per page)
  local plat, pres, naddr = {}, 0, math.min(n, 20)
  for i = 1, naddr do
    local after
    repeat
      local lat, res = measure(1, function()
        local p = q:history(active[i], { limit = limit, after = after })
        after = p.cursor ~= null and p.cursor or nil
        return #p.entries
      end)
      plat[#plat + 1], pres = lat[1], pres + res
    until after == nil
  end
  add(("history: every page of %d active addresses"):format(naddr), plat, pres, 0)
  if has_logs then
    add(("logs: one address, %d blocks"):format(range), measure(n, function(i)
      local f, t = window(i, range)
      return #q:logs({ fromBlock = f, toBlock = t, address = logs[i][1] }, max)
    end))
    add("logs: one address, whole chain", measure(n, function(i)
      return #q:logs({ fromBlock = "earliest", toBlock = "latest", address = logs[i][1] }, max)
    end))
    add(("logs: topic0, %d blocks"):format(range), measure(n, function(i)
      local f, t = window(i, range)
      return #q:logs({ fromBlock = f, toBlock = t, topics = { logs[i][2] } }, max)
    end))
    add(("logs: topic0, %d blocks"):format(10 * range), measure(math.min(n, 50), function(i)
      local f, t = window(i, 10 * range)
      return #q:logs({ fromBlock = f, toBlock = t, topics = { logs[i][2] } }, max)
    end))
    add("logs: address + topic0, whole chain", measure(n, function(i)
      return #q:logs({ fromBlock = "earliest", toBlock = "latest", address = logs[i][1],
        topics = { logs[i][2] } }, max)
    end))
    add("logs: no address or topic, 100 blocks", measure(math.min(n, 50), function(i)
      local f, t = window(i, 100)
      return #q:logs({ fromBlock = f, toBlock = t }, max)
    end))
  end
  return rows
end

function M.run(args)
  local clock = require("quarry").clock
  local res = { blocks = args.blocks, seed = args.seed, queries = args.queries, limit = args.limit,
    range = args.range }
  local dir, made = args.dir, false
  local store = args.store
  if not store then
    if not dir then
      dir = require("quarry.sys").mkdtemp("quarry-bench")
      made = true
    end
    assert(os.execute("mkdir -p " .. sh(dir)))
    local src = args.source
    if not src then
      src = dir .. "/chain.jsonl"
      -- the children's reports go to stderr: stdout carries this report alone
      res.gen_seconds = timed("quarry gen", ("%s gen --format ethereum-rpc --blocks %d --seed %d --out %s >&2")
        :format(self_command(), args.blocks, args.seed, sh(src)))
    end
    store = dir .. "/db"
    os.execute("rm -rf " .. sh(store))
    res.source = src
    res.source_size = require("quarry.cli.system").file_size(src)
    res.migrate_seconds = timed("quarry migrate", ("%s migrate --format ethereum-rpc --layout account-chain --json %s --db %s >&2")
      :format(self_command(), sh(src), sh(store)))
  end
  local q <close> = require("quarry.chain.account.query").open(store)
  local st = q:state() or {}
  res.store = store
  res.tip = st.tip
  res.counts = st.counts
  res.db_size = q.db:size_on_disk()
  if res.migrate_seconds and st.tip then res.migrate_blocks_s = (st.counts.blocks or 0) / res.migrate_seconds end
  local t0 = clock()
  res.workloads = workloads(q, args)
  res.query_seconds = clock() - t0
  q:close()
  if args.output == "json" then
    print(require("quarry.json").encode(res))
  else
    local B, L = require("quarry.cli.format").bytes, require("quarry.cli.format").latency
    local c = st.counts or {}
    print(("quarry bench chain-query: %s blocks, %s transactions, %s logs; store %s (%s)"):format(
      tostring(c.blocks), tostring(c.txs), tostring(c.logs), store, B(res.db_size)))
    if res.gen_seconds then print(("  gen      %8.2f s"):format(res.gen_seconds)) end
    if res.migrate_seconds then
      print(("  migrate  %8.2f s  %8.0f blocks/s  (source %s)"):format(res.migrate_seconds,
        res.migrate_blocks_s or 0, B(res.source_size)))
    end
    print(("  %-42s %7s %10s %10s %10s %10s %9s %8s"):format("query", "n", "p50", "p90", "p99", "max",
      "q/s", "results"))
    for _, r in ipairs(res.workloads) do
      print(("  %-42s %7d %10s %10s %10s %10s %9.1f %8.1f%s"):format(r.name, r.queries, L(r.p50),
        L(r.p90), L(r.p99), L(r.max), r.qps, r.mean_results,
        r.refused > 0 and ("  (" .. r.refused .. " refused: more than --max-results)") or ""))
    end
  end
  if made and not args.keep then
    os.execute("rm -rf " .. sh(dir))
  elseif dir and args.output ~= "json" then
    print("  kept     " .. dir)
  end
  return cli.EXIT_OK
end

return M
