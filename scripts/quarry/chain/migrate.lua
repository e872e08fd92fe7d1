-- quarry.chain.migrate: streams a JSON dump into a chain store, in groups of blocks committed
-- atomically with a progress marker; resumable after a crash. The engine behind
-- `quarry migrate` and `quarry bench migrate`.
local chain = require("quarry.chain")
local codec = require("quarry.chain.codec")
local progress = require("quarry.cli.progress")

local M = {}

M.DEFAULT_GROUP_BLOCKS = 1000
M.DEFAULT_GROUP_MB = 32
-- Memtables of a migration (MB per family) when neither --preset nor QUARRY_DB_WRITE_BUFFER_MB
-- says otherwise: a bulk load gains nothing from the default preset's 128 MB per family (on
-- 200,000 blocks: half the peak RSS, the same speed, a smaller store; docs/performance.md).
M.DEFAULT_WRITE_BUFFER_MB = 16

-- Opens the dump for streaming (object with "blocks", bare array, or JSON Lines; .lz4 or not).
-- JSON Lines is told by the extension (.jsonl, .ndjson, then .lz4 or not); anything else is
-- read as "auto": an array, an object whose member "blocks" is the array of blocks, or else
-- JSON Lines (quarry.json's detection).
function M.source_format(path)
  local base = path:gsub("%.lz4$", "")
  if base:match("%.jsonl$") or base:match("%.ndjson$") then return "jsonl" end
  return "auto"
end

function M.open_source(path)
  local json = require("quarry.json")
  return json.reader(path, { format = M.source_format(path) })
end

local function fail(fmt, ...) error(fmt:format(...), 0) end

-- Compacts every family of the store and flushes first, so the size on disk is real.
function M.settle(store)
  local db = store.db
  db:flush()
  for _, name in ipairs(db:column_families()) do db:compact(db:cf(name)) end
end

-- migrate.run(options) -> report
-- options: json (path), db (path), preset, resume, verify, group_blocks, group_mb,
--   on_progress(state) (called after each group and now and then: state = { blocks, bytes,
--   fraction, elapsed }), store_options (more chain.open options).
-- Raises an InvalidChain error (chain.is_invalid) for a block the chain refuses: the groups before
-- the offending one are committed, nothing of it is.
function M.run(options)
  local t0 = progress.now()
  local source_path = options.json
  local source_size = progress.file_size(source_path)
  if not source_size then fail("cannot open %s", source_path) end
  local sopts = {}
  for k, v in pairs(options.store_options or {}) do sopts[k] = v end
  sopts.preset = options.preset or sopts.preset
  if not sopts.preset and os.getenv("QUARRY_DB_WRITE_BUFFER_MB") == nil then
    local dbo = {}
    for k, v in pairs(sopts.db or {}) do dbo[k] = v end
    if dbo.write_buffer_mb == nil then dbo.write_buffer_mb = M.DEFAULT_WRITE_BUFFER_MB end
    sopts.db = dbo
  end
  local store = chain.open(options.db, sopts)
  local reader
  local ok, res = pcall(function()
    local start_tip = store.tip_height
    if start_tip and not options.resume then
      fail("%s already holds blocks %d..%d: use --resume to continue a migration into it " ..
        "(or give an empty --db)", options.db, store.base, store.tip_height)
    end
    reader = M.open_source(source_path)
    local compressed = source_path:match("%.lz4$") ~= nil
    local group_blocks = options.group_blocks or M.DEFAULT_GROUP_BLOCKS
    local group_bytes = (options.group_mb or M.DEFAULT_GROUP_MB) * 1024 * 1024
    local on_progress = options.on_progress
    local kill_at = tonumber(os.getenv("QUARRY_TEST_KILL_AT") or "")
    local delay = tonumber(os.getenv("QUARRY_TEST_DELAY") or "")

    local skipped, added, groups = 0, 0, 0
    local function state()
      local off = reader:offset()
      local frac
      if compressed then
        frac = source_size > 0 and reader:compressed_offset() / source_size or 1
      else
        frac = source_size > 0 and off / source_size or 1
      end
      return { blocks = skipped + added, added = added, bytes = off, fraction = frac,
        elapsed = progress.now() - t0 }
    end
    -- The progress marker committed with each group (removed by the last one).
    local function marker(tip)
      return require("quarry.json").encode({ state = "running", source = source_path, tip = tip,
        offset = reader:offset() })
    end

    local g = store:group()
    local count = 0
    while true do
      local block = reader:next()
      if block == nil then break end
      count = count + 1
      local idx = type(block) == "table" and rawget(block, "index") or nil
      if start_tip and math.type(idx) == "integer" and idx <= start_tip then
        -- Resuming: this block is in the store already; it must be the same block.
        local h = type(block.hash) == "string" and store:height_of(block.hash)
        if h ~= idx then
          fail("--resume: block %d of %s is not the block %d of the store (different hash): " ..
            "not the same chain", idx, source_path, idx)
        end
        skipped = skipped + 1
      else
        local okadd, err = pcall(g.add, g, block)
        if not okadd then
          g:discard()
          error(err, 0)
        end
        added = added + 1
        if kill_at and idx == kill_at then
          os.execute("kill -KILL " .. progress.pid()) -- test hook: a crash in the middle of a group
        end
        if delay then progress.sleep(delay) end
        if g:count() >= group_blocks or g:size() >= group_bytes then
          g:commit({ migrate = marker(g.tip) })
          groups = groups + 1
          g = store:group()
          if on_progress then on_progress(state()) end
        end
      end
      if on_progress and count % 256 == 0 then on_progress(state()) end
    end
    -- The last group, with what export needs to write the dump back.
    local extra = { migrate = false, source_format = reader:format() or "array" }
    local header = reader:header()
    extra.header = header and codec.encode_value(header) or false
    g:commit(extra)
    groups = groups + 1
    -- JSON bytes: the file's size, or for LZ4 every byte the reader decompressed (next() has
    -- returned nil, so offset() counts the whole input, closing brackets included).
    local json_bytes = compressed and reader:offset() or source_size
    reader:close()
    local t_load = progress.now() - t0
    if on_progress then
      on_progress({ blocks = skipped + added, added = added, bytes = json_bytes, fraction = 1,
        elapsed = t_load })
    end

    M.settle(store)
    local size = store.db:size_on_disk()
    local st = store:stats()
    local report = {
      source = source_path, source_size = source_size, json_bytes = json_bytes,
      db = options.db, db_size = size,
      ratio = json_bytes > 0 and size / json_bytes or nil,
      ratio_to_file = source_size > 0 and size / source_size or nil,
      blocks = st.blocks, added = added, skipped = skipped, groups = groups,
      base = st.base, tip = st.tip, tip_hash = st.tip_hash,
      txs = st.txs, utxos = st.utxos, supply = st.supply,
      load_seconds = t_load, elapsed = progress.now() - t0,
    }
    if options.verify then
      local src = M.open_source(source_path)
      local r = store:verify({ source = src })
      src:close()
      report.verify = r
    end
    report.elapsed = progress.now() - t0
    return report
  end)
  if reader then pcall(reader.close, reader) end
  store:close()
  if not ok then error(res, 0) end
  return res
end

return M
