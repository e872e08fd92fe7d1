-- quarry.cli.metrics.report: what `quarry stats` and `quarry serve` share: opening a (possibly live)
-- database as a secondary, reading the chain figures of a chain store, and rendering metrics as
-- text, JSON and Prometheus text (db:prometheus plus chain gauges). docs/metrics.md.
local quarry = require("quarry")

local M = {}

local shell_quote = require("quarry.cli.system").shell_quote

-- ---- opening ------------------------------------------------------------------------------------

--- Opens the database at path as a secondary instance: it never takes the database's LOCK (a
--- node can always start, or keep running, beside it) and follows a live primary with
--- db:catch_up(). The secondary's own files go to secondary_path, or to a fresh temporary
--- directory that `close` removes. Returns a handle {db = db, close = fn, reopen = fn}.
function M.open(path, secondary_path)
  local scratch
  if not secondary_path and not require("quarry.cli.system").is_server_url(path) then
    scratch = require("quarry.sys").mkdtemp("quarry-secondary") -- new, mode 0700
    secondary_path = scratch
  end
  local h = {}
  local function open()
    local url = require("quarry.cli.system").is_server_url(path)
    -- a server URL: a read_only handle (always current, no secondary files)
    local ok, db = pcall(quarry.open, path, url and { mode = "read_only", create_if_missing = false }
      or { mode = "secondary", secondary_path = secondary_path })
    if ok then return db end
    if quarry.is_error(db) and db.code == "NotFound" then
      error(("database %s does not exist"):format(path), 0)
    end
    error(db, 0)
  end
  local ok, db = pcall(open)
  if not ok then
    if scratch then os.execute("rm -rf " .. shell_quote(scratch)) end
    error(db, 0)
  end
  h.db = db
  -- The families a secondary sees are those of its open: reopen when the primary made others.
  function h.refresh()
    if h.db:mode() == "secondary" then h.db:catch_up() end
    local ok, names = pcall(quarry.list_column_families, path)
    if not ok then return end
    local have = {}
    for _, n in ipairs(h.db:column_families()) do have[n] = true end
    local same = #names == #h.db:column_families()
    for _, n in ipairs(names) do same = same and have[n] end
    if not same then
      h.db:close()
      h.db = open()
    end
  end
  function h.close()
    if h.db then h.db:close() end
    h.db = nil
    if scratch then os.execute("rm -rf " .. shell_quote(scratch)) end
  end
  return h
end

-- ---- chain stores -------------------------------------------------------------------------------

--- The chain figures of db when it is a chain store (quarry.chain's six families and a format
--- record), else nil: {format, base, tip, tip_hash, blocks, transactions, utxos, supply,
--- migration}.
function M.chain(db)
  local ok, chain = pcall(require, "quarry.chain")
  if not ok then return nil end
  local have = {}
  for _, n in ipairs(db:column_families()) do have[n] = true end
  for _, f in ipairs(chain.FAMILIES) do
    if not have[f] then return nil end
  end
  local meta = db:cf("meta")
  local format = meta:get("format")
  if not format then return nil end
  local codec = chain.codec
  local function counter(k) return codec.ruv(meta:get(k) or "\0", 1) end
  local info = {
    format = format, blocks = 0,
    transactions = counter("txs"), utxos = counter("utxos"), supply = counter("supply"),
    migration = meta:get("migrate"),
  }
  local tip = meta:get("tip")
  if tip then
    info.tip = string.unpack(">I8", tip)
    info.base = codec.ruv(meta:get("base") or "\0", 1)
    info.blocks = info.tip - info.base + 1
    local v = db:cf("blocks"):get(codec.hkey(info.tip))
    info.tip_hash = v and codec.block_hash(v) or nil
  end
  return info
end

-- ---- rendering ------------------------------------------------------------------------------------

--- Human byte count: "812 B", "12.4 MiB" (quarry.cli.format.bytes).
M.bytes = require("quarry.cli.format").bytes

local seconds = require("quarry.cli.format").latency

--- The text report of `quarry stats`: the database, its families, RocksDB's figures, the
--- operations this process counted (a secondary counts its own reads only), the chain.
function M.text(m, chain)
  local out = {}
  local function line(fmt, ...) out[#out + 1] = fmt:format(...) end
  local r = m.rocksdb
  line("database %s (%s), %s on disk", m.path, m.mode, M.bytes(r.size_bytes))
  line("  %-10s %12s %12s %12s %8s", "family", "keys (est.)", "sst size", "memtable", "L0 files")
  local names = {}
  for name in pairs(m.families) do names[#names + 1] = name end
  table.sort(names, function(a, b)
    if a == "default" or b == "default" then return a == "default" end
    return a < b
  end)
  for _, name in ipairs(names) do
    local f = m.families[name]
    line("  %-10s %12s %12s %12s %8s", name, tostring(f.estimate_keys or "?"),
      M.bytes(f.sst_bytes), M.bytes(f.memtable_bytes), tostring(f.l0_files or "?"))
  end
  line("rocksdb")
  line("  live sst files       %s", M.bytes(r.live_sst_bytes))
  line("  memtables            %s", M.bytes(r.memtable_bytes))
  line("  pending compaction   %s", M.bytes(r.pending_compaction_bytes))
  line("  running              %d compactions, %d flushes", r.compaction_jobs or 0, r.flush_jobs or 0)
  if r.block_cache_capacity_bytes then
    line("  block cache          %s used of %s (%s pinned)%s", M.bytes(r.block_cache_usage_bytes),
      M.bytes(r.block_cache_capacity_bytes), M.bytes(r.block_cache_pinned_bytes),
      r.block_cache_hit_rate and ("%, hit rate %.1f%%"):format(r.block_cache_hit_rate * 100) or "")
  end
  line("  write stalls         %s", r.write_stopped == 1 and "writes STOPPED"
    or (r.delayed_write_rate_bytes_per_second or 0) > 0
      and ("writes delayed to %s/s"):format(M.bytes(r.delayed_write_rate_bytes_per_second))
    or "none")
  local c = m.counters
  if c.gets + c.puts + c.write_batches + c.iterator_seeks > 0 then
    local h = m.histograms
    line("operations (this process)")
    line("  gets %d (p50 %s, p99 %s), puts %d, batches %d, seeks %d", c.gets, seconds(h.get.p50),
      seconds(h.get.p99), c.puts, c.write_batches, c.iterator_seeks)
  end
  if chain then
    line("chain store (%s)", chain.format)
    if chain.tip then
      line("  tip           %d %s", chain.tip, chain.tip_hash or "(missing)")
      line("  blocks        %d (heights %d..%d)", chain.blocks, chain.base, chain.tip)
    else
      line("  empty chain")
    end
    line("  transactions  %d", chain.transactions)
    line("  utxos         %d", chain.utxos)
    line("  supply        %d", chain.supply)
    if chain.migration then
      line("  migration     in progress or interrupted: %s (use migrate --resume)", chain.migration)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- JSON cannot hold infinities: the +Inf bucket bound becomes the string "+Inf".
local function jsonable(v)
  if type(v) == "number" and v == math.huge then return "+Inf" end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = jsonable(x) end
  return t
end

--- The JSON report of `quarry stats --format json`: db:metrics() plus `chain` (null when it is not
--- a chain store).
function M.json(m, chain)
  local json = require("quarry.json")
  local doc = jsonable(m)
  doc.chain = chain and jsonable(chain) or json.null
  return json.encode(doc, { indent = true }) .. "\n"
end

-- Prometheus label set text for the chain gauges, the same order db:prometheus uses (sorted).
local function label_text(labels)
  local names = {}
  for k in pairs(labels or {}) do names[#names + 1] = k end
  table.sort(names)
  if #names == 0 then return "" end
  local parts = {}
  for i, k in ipairs(names) do
    local v = tostring(labels[k]):gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"')
    parts[i] = ('%s="%s"'):format(k, v)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local CHAIN_GAUGES = {
  { "chain_tip_height", "tip", "height of the chain's tip block" },
  { "chain_blocks", "blocks", "blocks in the chain store" },
  { "chain_transactions", "transactions", "transactions in the chain store" },
  { "chain_utxos", "utxos", "unspent outputs" },
  { "chain_supply", "supply", "sum of the unspent amounts" },
}

--- Prometheus text: db:prometheus(opts) followed by the chain gauges when chain is given.
--- opts: {namespace = "quarry", labels = {...}} as db:prometheus takes.
function M.prometheus(db, chain, opts)
  opts = opts or {}
  local text = db:prometheus(opts)
  if not chain then return text end
  local ns = opts.namespace or "quarry"
  local prefix = ns == "" and "" or ns .. "_"
  local labels = label_text(opts.labels)
  local out = { text }
  for _, g in ipairs(CHAIN_GAUGES) do
    local v = chain[g[2]]
    if v ~= nil then
      out[#out + 1] = ("# HELP %s%s %s\n# TYPE %s%s gauge\n%s%s%s %d\n"):format(prefix, g[1], g[3],
        prefix, g[1], prefix, g[1], labels, v)
    end
  end
  return table.concat(out)
end

--- Parses "name=value" label arguments into a table; raises on a malformed one.
function M.parse_labels(list)
  local labels = {}
  for _, item in ipairs(list or {}) do
    local k, v = item:match("^([^=]+)=(.*)$")
    if not k then error(("--label expects name=value, got %q"):format(item), 0) end
    labels[k] = v
  end
  return labels
end

--- The /status document of `quarry serve`.
function M.status(m, chain, started, now)
  local json = require("quarry.json")
  local families = json.array()
  local names = {}
  for name in pairs(m.families) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local f = m.families[name]
    families[#families + 1] = { name = name, estimate_keys = f.estimate_keys or json.null,
      live_sst_bytes = f.live_sst_bytes or json.null }
  end
  return {
    path = m.path,
    mode = m.mode,
    size_bytes = m.rocksdb.size_bytes or json.null,
    uptime_seconds = now - started,
    families = families,
    tip = chain and chain.tip and { height = chain.tip, hash = chain.tip_hash or json.null }
      or json.null,
    chain = chain and jsonable(chain) or json.null,
    compaction_jobs = m.rocksdb.compaction_jobs or json.null,
    pending_compaction_bytes = m.rocksdb.pending_compaction_bytes or json.null,
    write_stopped = m.rocksdb.write_stopped == 1,
  }
end

return M
