-- quarry.chain.migrate: streams a dump (any format: quarry.chain.formats) into a chain store, in
-- groups of blocks committed atomically with a progress marker; resumable after a crash. The
-- engine behind `quarry migrate` and `quarry bench migrate`. A library: progress and test hooks
-- reach it as callbacks, never through the command's modules.
local quarry = require("quarry")
local chain = require("quarry.chain")
local codec = require("quarry.chain.codec")
local formats = require("quarry.chain.formats")
local layouts = require("quarry.chain.layout")
local fastgroup = require("quarry.chain.fastgroup")

local M = {}

M.DEFAULT_GROUP_BLOCKS = 1000
M.DEFAULT_GROUP_MB = 32
-- Memtables of a migration (MB per family) when neither --preset nor QUARRY_DB_WRITE_BUFFER_MB
-- says otherwise: a bulk load gains nothing from the default preset's 128 MB per family (on
-- 200,000 blocks: half the peak RSS, the same speed, a smaller store; docs/performance.md).
M.DEFAULT_WRITE_BUFFER_MB = 16
-- The block cache of a migration (MB) when neither --preset nor QUARRY_DB_BLOCK_CACHE_MB says
-- otherwise: its reads are the validation's lookups, most of them answered by the C path's
-- overlays; the default preset's 256 MB would take the peak RSS past 256 MiB on a long chain
-- (docs/performance.md).
M.DEFAULT_BLOCK_CACHE_MB = 16

local clock = quarry.clock
local json_encode = require("quarry.json").encode

-- migrate.open_source(path [, format [, key]]) -> reader of the dump's records, wherever the
-- format says its blocks are (formats.open_dump).
function M.open_source(path, format, key)
  local fmt = type(format) == "table" and format or formats.load(format)
  return formats.open_dump(fmt, path, key)
end

local function fail(fmt, ...) error(fmt:format(...), 0) end

-- Compacts every family of the store and flushes first, so the size on disk is real.
function M.settle(store)
  local db = store.db
  if db:backend() ~= "rocksdb" then return end -- a server compacts (vacuums) by itself
  db:flush()
  for _, name in ipairs(db:column_families()) do db:compact(db:cf(name)) end
end

-- The number of entries of directory path that are not RocksDB's own files (a database whose
-- creation was interrupted holds only those: LOCK, LOG, IDENTITY, MANIFEST-*, OPTIONS-*, *.log).
local ROCKSDB_FILE = { "^LOCK$", "^LOG", "^IDENTITY$", "^MANIFEST%-%d+$", "^OPTIONS%-%d+", "^%d+%.log$",
  "^%d+%.sst$", "^CURRENT" }
local function quoted(path) return "'" .. path:gsub("'", "'\\''") .. "'" end

-- Does path exist as something other than a directory (a regular file given as --db)?
local function exists_not_dir(path)
  return os.execute("test -e " .. quoted(path) .. " && test ! -d " .. quoted(path)) == true
end

local function dir_entries(path)
  local p = io.popen("ls -A -- " .. quoted(path) .. " 2>/dev/null")
  local n = 0
  for name in p:lines() do
    local own = false
    for _, pat in ipairs(ROCKSDB_FILE) do
      if name:match(pat) then own = true end
    end
    if not own then n = n + 1 end
  end
  p:close()
  return n
end

-- What the directory holds when it is not a chain store: nil when it is one (or empty / new),
-- else a sentence naming what was found ("DIR holds 4,616 keys in the default family and no
-- chain store").
function M.foreign_content(path)
  if exists_not_dir(path) then return ("%s is a file, not a database directory"):format(path) end
  local ok, names = pcall(quarry.list_column_families, path)
  if not ok then
    if dir_entries(path) > 0 and not io.open(path .. "/CURRENT", "rb") then
      return ("%s is not empty and is not a database"):format(path)
    end
    return nil
  end
  -- A chain store, or one whose creation was interrupted (families are created one by one when
  -- the store is first opened): only chain families, and nothing in the default family.
  local chain_family = { default = true }
  for _, f in ipairs(chain.FAMILIES) do chain_family[f] = true end
  local others = {}
  for _, n in ipairs(names) do
    if not chain_family[n] then others[#others + 1] = n end
  end
  local db = quarry.open(path, { mode = "read_only", create_if_missing = false })
  local counts = {}
  local ok_count, err = pcall(function()
    for _, n in ipairs(names) do
      if n == "default" or not chain_family[n] then
        local c = 0
        for _ in db:cf(n):pairs({ keys_only = true, limit = 1000000 }) do c = c + 1 end
        if c > 0 then counts[#counts + 1] = ("%d keys in the %s family"):format(c, n) end
      end
    end
  end)
  db:close()
  if not ok_count then error(err, 0) end
  if #counts == 0 and #others == 0 then return nil end
  local what = #counts > 0 and table.concat(counts, ", ") or ("column families " .. table.concat(others, ", "))
  return ("%s holds %s and no chain store"):format(path, what)
end

-- Removes the database a refused migration created (nothing of it was committed): RocksDB's
-- files, then the directory (left when it holds anything else).
function M.remove_new_store(path)
  pcall(quarry.destroy, path)
  os.remove(path)
end

-- migrate.migration_db(db) -> a copy of the store's db options with a migration's write buffers
-- and block cache where neither they nor QUARRY_DB_WRITE_BUFFER_MB / QUARRY_DB_BLOCK_CACHE_MB say
-- otherwise (the UTXO and the account chain's migrations; not applied under a --preset).
function M.migration_db(db)
  local dbo = {}
  for k, v in pairs(db or {}) do dbo[k] = v end
  if dbo.write_buffer_mb == nil and os.getenv("QUARRY_DB_WRITE_BUFFER_MB") == nil then
    dbo.write_buffer_mb = M.DEFAULT_WRITE_BUFFER_MB
  end
  if dbo.block_cache_mb == nil and os.getenv("QUARRY_DB_BLOCK_CACHE_MB") == nil then
    dbo.block_cache_mb = M.DEFAULT_BLOCK_CACHE_MB
  end
  return dbo
end

-- The store options of a migration: the caller's, with a migration's write buffers.
local function store_options(options, fmt)
  local sopts = {}
  for k, v in pairs(options.store_options or {}) do sopts[k] = v end
  sopts.preset = options.preset or sopts.preset
  sopts.format = fmt
  if not sopts.preset then sopts.db = M.migration_db(sopts.db) end
  return sopts
end

-- Resuming: record `model` of height idx is already in the store; it must be the same block.
local function check_same_block(store, model, idx, source_path)
  local hash = model.hash
  if type(hash) == "string" and hash ~= "" then
    local h = store:height_of(hash)
    if h == idx then return end
    if h ~= nil or not store.format.relax.duplicate_hash then
      fail("--resume: block %d of %s is not the block %d of the store (different hash): " ..
        "not the same chain", idx, source_path, idx)
    end
  end
  -- no usable hash (a relaxed format): compare the blocks themselves
  local verify = require("quarry.chain.verify")
  local diff = verify.compare(model, store:block(idx))
  if diff then
    fail("--resume: block %d of %s is not the block %d of the store (%s): not the same chain",
      idx, source_path, idx, diff)
  end
end

-- Opens the target store of a migration: the chain store, or a store over another layout, after
-- refusing a directory that holds something else.
local function open_target(options, fmt, lay)
  local path = options.db
  if lay.chain_store then
    local foreign = M.foreign_content(path)
    if foreign then fail("%s: give an empty or new --db, or the store of an earlier migration", foreign) end
    return chain.open(path, store_options(options, fmt))
  end
  local okl, names = pcall(quarry.list_column_families, path)
  if okl and #names > 1 then
    fail("%s holds column families %s (a chain store?), not the %s layout: give an empty or new --db",
      path, table.concat(names, ", "), lay.name)
  end
  local store = layouts.open(path, lay, store_options(options, fmt))
  local foreign = store:foreign()
  if foreign then
    store:close()
    fail("%s, written by the node, not by a Quarry migration: give an empty or new --db (or read it " ..
      "with --from-db %s --from-layout %s)", foreign, path, lay.origin or lay.name)
  end
  return store
end

-- The source of a migration: a dump (--json) or a layout's database (--from-db).
local function open_input(options, fmt, input)
  if options.from_db then
    local r, f = layouts.source(options.from_db, options.from_layout or layouts.DEFAULT, options.format)
    return r, f
  end
  return formats.open_dump(fmt, input or options.json, options.key), fmt
end

-- A migration's record of the blocks it read from a stream (`-`, a pipe, a FIFO), which cannot be
-- read twice: a 128-bit digest (quarry.chain.digest's lanes) of each block's model as read, its
-- index kept too. `--verify` compares every stored block with it instead of the source.
local function new_seen()
  return { a = {}, b = {}, index = {}, n = 0 }
end

local function see(seen, model)
  local digest = require("quarry.chain.digest")
  local a, b = digest.feed(json_encode(model), 0x6a09e667f3bcc908, -4942790177534073029)
  local n = seen.n + 1
  seen.a[n], seen.b[n], seen.n = a, b, n
  local idx = type(model) == "table" and rawget(model, "index") or nil
  seen.index[n] = math.type(idx) == "integer" and idx or false
end

-- A source for verify.run over what a stream gave: its next() returns each block's digest,
-- compare_block(token, block) compares the stored block with it.
local function seen_source(seen)
  local json = require("quarry.json")
  local i = 0
  local src = {}
  function src.next()
    if i >= seen.n then return nil end
    i = i + 1
    local idx = seen.index[i]
    return json.object({ index = idx or json.null, _a = seen.a[i], _b = seen.b[i] })
  end
  function src.compare_block(_, token, block)
    local digest = require("quarry.chain.digest")
    local a, b = digest.feed(json_encode(block), 0x6a09e667f3bcc908, -4942790177534073029)
    if a == rawget(token, "_a") and b == rawget(token, "_b") then return nil end
    return "the stored block differs from the block read from the stream (digests of the block's JSON differ)"
  end
  function src.offset() return 0 end
  function src.close() end
  return src
end
-- for the specs (spec/38-pipes_spec.lua): the record of a stream and the source over it
M._new_seen, M._see, M._seen_source = new_seen, see, seen_source

-- The state of one migration: what every step reads and updates.
local function new_run(options)
  local source_path = options.from_db or options.json
  local run = {
    options = options, t0 = clock(), source_path = source_path, source_name = source_path,
    compressed = source_path:match("%.lz4$") ~= nil,
    fmt = type(options.format) == "table" and options.format or formats.load(options.format),
    layout = layouts.load(options.layout),
    -- a refused migration removes what it created: never a file the user named as --db
    created_dir = not io.open(options.db .. "/CURRENT", "rb") and not exists_not_dir(options.db),
    group_blocks = options.group_blocks or M.DEFAULT_GROUP_BLOCKS,
    group_bytes = (options.group_mb or M.DEFAULT_GROUP_MB) * 1024 * 1024,
    count = 0, skipped = 0, added = 0, groups = 0, committed = false,
  }
  if options.from_db then
    run.source_size = 0
  else
    -- the dump, opened once: a file, or a stream read as it comes (`-`, a pipe, a FIFO)
    run.input = formats.input(source_path)
    run.source_name, run.stream = run.input.name, run.input.stream
    run.source_size = run.input.size or 0
    if run.stream and options.verify then run.seen = new_seen() end
    if not run.stream then
      -- records first..last of the dump read again (the C path replays a group it does not
      -- take through Group:add from these, instead of keeping its blocks)
      run.reread = function(first, last)
        local r = formats.open_dump(run.fmt, source_path, options.key)
        local n = 0
        return function()
          while n < last do
            local record = r:next()
            if record == nil then break end
            n = n + 1
            if n >= first then
              if n == last then r:close() end
              return formats.decode(run.fmt, record, "block " .. (n - 1))
            end
          end
          r:close()
          return nil
        end
      end
    end
  end
  return run
end

-- Progress for on_progress: { blocks, added, bytes, fraction, elapsed }.
local function progress_state(run)
  local reader, size = run.reader, run.source_size
  local off = reader:offset()
  local frac
  if run.stream then
    frac = nil -- a stream: its length is not known
  elseif reader.total then
    frac = reader.total > 0 and off / reader.total or 1
  elseif run.compressed then
    frac = size > 0 and reader:compressed_offset() / size or 1
  else
    frac = size > 0 and off / size or 1
  end
  return { blocks = run.skipped + run.added, added = run.added, bytes = off, fraction = frac,
    elapsed = clock() - run.t0 }
end

-- The progress marker committed with each group (removed by the last one).
local function marker(run, tip)
  return json_encode({ state = "running", source = run.source_path, tip = tip,
    offset = run.reader:offset(), format = run.fmt.name })
end

-- Before a resume: the store must read back whole. db:verify() reads every entry of every family
-- with block checksums (a flipped bit in any table file raises Corruption naming it); a damaged
-- store is refused rather than extended, with what to do.
local function check_store_readable(run)
  local ok, err = pcall(run.store.db.verify, run.store.db)
  if ok then return end
  if not (quarry.is_error(err) and err.code == "Corruption") then error(err, 0) end
  run.store:close()
  run.reader:close()
  fail("--resume: the store %s is damaged, not resuming into it: %s. Restore it from a backup " ..
    "(quarry backup restore), or migrate again into a new --db (quarry verify --db %s reports " ..
    "the damage)", run.options.db, err.message, run.options.db)
end

-- Step 1: the source and the target, or nothing left behind.
local function open_ends(run)
  run.reader, run.fmt = open_input(run.options, run.fmt, run.input)
  local okt, store = pcall(open_target, run.options, run.fmt, run.layout)
  if not okt then
    run.reader:close()
    if run.created_dir then M.remove_new_store(run.options.db) end
    error(store, 0)
  end
  run.store = store
  run.start_tip = store.tip_height
  if run.start_tip and run.options.resume then check_store_readable(run) end
  if run.start_tip and not run.options.resume then
    fail("%s already holds blocks %d..%d: use --resume to continue a migration into it " ..
      "(or give an empty --db)", run.options.db, store.base, store.tip_height)
  end
end

-- Step 2: every record into groups committed with the progress marker; the blocks a resumed
-- store already has are checked and skipped. Returns the last, uncommitted group.
local function stream(run)
  local options, store, reader, fmt = run.options, run.store, run.reader, run.fmt
  local on_progress, on_block = options.on_progress, options.on_block
  local decode, start_tip = formats.decode, run.start_tip
  -- the C hot path for a format declared as data into the chain store (quarry.chain.fastgroup)
  run.path = fastgroup.path(fmt, run.layout, options.path)
  if run.path == "c" then run.fast = fastgroup.open(store, fmt, run.reread) end
  local function new_group() return run.fast and run.fast:group() or store:group() end
  local g = new_group()
  while true do
    local okr, record = pcall(reader.next, reader)
    if not okr then
      -- a parse error after the end of the blocks (trailing bytes): every block was read, so
      -- they are committed as usual, then the migration fails naming the bytes (M.run)
      if not (reader.complete and reader:complete()) then error(record, 0) end
      run.trailing = record
      break
    end
    if record == nil then break end
    run.count = run.count + 1
    run.current = run.count - 1
    if run.fast then run.fast.record = run.count end
    -- what --verify compares a store with: a layout's record as read, or the chain store's model
    if run.seen and not run.layout.chain_store then see(run.seen, record) end
    local model = decode(fmt, record, "block " .. (run.count - 1))
    if run.seen and run.layout.chain_store then see(run.seen, model) end
    local idx = type(model) == "table" and rawget(model, "index") or nil
    if math.type(idx) == "integer" then run.current = idx end
    if start_tip and math.type(idx) == "integer" and idx <= start_tip then
      check_same_block(store, model, idx, run.source_path)
      run.skipped = run.skipped + 1
    else
      local okadd, err = pcall(g.add, g, model)
      if not okadd then
        g:discard()
        error(err, 0)
      end
      run.added = run.added + 1
      if on_block then
        if run.fast then run.fast:wait() end -- on_block sees every committed group written
        on_block(idx)
      end
      if g:count() >= run.group_blocks or g:size() >= run.group_bytes then
        g:commit({ migrate = marker(run, g.tip) })
        run.committed, run.groups = true, run.groups + 1
        g = new_group()
        if on_progress then on_progress(progress_state(run)) end
      end
    end
    if on_progress and run.count % 256 == 0 then on_progress(progress_state(run)) end
  end
  return g
end

-- Step 3: the last group, with what export needs to write the dump back; the marker goes.
local function finish(run, g)
  if run.count == 0 then
    g:discard()
    local empty = run.stream and run.reader:compressed_offset() == 0 or not run.stream and run.source_size == 0
    fail("%s holds no blocks (%s): nothing to migrate", run.source_name,
      empty and (run.stream and "the input is empty" or "the file is empty") or "an empty array of blocks")
  end
  local reader = run.reader
  local header = reader:header()
  g:commit({ migrate = false, source_format = reader:format() or "array",
    header = header and codec.encode_value(header) or false })
  run.committed, run.groups = true, run.groups + 1
  -- JSON bytes: the file's size, or for LZ4 every byte the reader decompressed (next() has
  -- returned nil, so offset() counts the whole input, closing brackets included).
  -- A stream: every byte it gave (decompressed), and as its size what was read from it.
  if run.stream then
    run.json_bytes, run.source_size = reader:offset(), reader:compressed_offset()
  else
    run.json_bytes = run.compressed and reader:offset() or run.source_size
  end
  reader:close()
  run.t_load = clock() - run.t0
  if run.options.on_progress then
    run.options.on_progress({ blocks = run.skipped + run.added, added = run.added,
      bytes = run.json_bytes, fraction = 1, elapsed = run.t_load })
  end
end

-- Step 4: settle, report, and with options.verify every check against the source.
local function report(run)
  local store, options = run.store, run.options
  M.settle(store)
  -- a server's storage is not a directory: no size (nil) and no ratios
  local size = store.db:backend() == "rocksdb" and store.db:size_on_disk() or nil
  local st = store:stats()
  local json_bytes, source_size = run.json_bytes, run.source_size
  local r = {
    source = run.source_path, source_size = source_size, json_bytes = json_bytes, stream = run.stream,
    db = store.db:path(), db_size = size, format = run.fmt.name, layout = run.layout.name,
    ratio = size and json_bytes > 0 and size / json_bytes or nil,
    ratio_to_file = size and source_size > 0 and size / source_size or nil,
    blocks = st.blocks, added = run.added, skipped = run.skipped, groups = run.groups,
    base = st.base, tip = st.tip, tip_hash = st.tip_hash,
    txs = st.txs, utxos = st.utxos, supply = st.supply, relaxed = store:relaxed_counts(),
    load_seconds = run.t_load, path = run.path,
  }
  if options.verify and not run.trailing then -- the source would raise its trailing bytes again
    -- a file is read again; a stream cannot be: the stored blocks are compared with the digests
    -- of the blocks as they were read (docs/tools.md, "Inputs")
    local src = run.seen and seen_source(run.seen) or open_input(options, run.fmt)
    r.verify = store:verify({ source = src })
    src:close()
  end
  r.elapsed = clock() - run.t0
  return r
end

-- What a failed migration leaves, into options.failure (a table the caller passes, filled when
-- M.run raises): source, db, format, layout; opened (the store was opened), blocks, base, tip
-- (what the store holds committed, tip nil when empty), added (blocks of this run committed),
-- groups (committed by this run), block (the height being added, or the record number, when
-- known), trailing (every block was read and committed; the dump has bytes after its end),
-- report (the full report then), error.
local function record_failure(run, err, full)
  local f = run.options.failure
  if type(f) ~= "table" then return end
  local store = run.store
  f.source, f.db, f.error = run.source_path, run.options.db, err
  f.format, f.layout = run.fmt and run.fmt.name, run.layout and run.layout.name
  f.groups, f.elapsed = run.groups, clock() - run.t0
  f.block = chain.is_invalid(err) and err.height or run.current
  f.trailing, f.report = run.trailing ~= nil, full
  f.opened = store ~= nil
  f.base, f.tip = store and store.base, store and store.tip_height
  f.blocks = f.tip and (f.tip - (f.base or 0) + 1) or (f.opened and 0 or nil)
  -- the blocks of this run that are committed: the store's tip against where it started
  local start = run.start_tip
  f.added = f.tip and (f.tip - (start or ((f.base or 0) - 1))) or (f.opened and 0 or nil)
end

-- migrate.run(options) -> report
-- options: json (path of the dump) or from_db and from_layout (a store of a layout as the
--   source), db (path), layout (name or FILE.lua; default "quarry-chain"), format (name,
--   FILE.lua or a prepared format; default "quarry", or the source layout's), key (the member
--   holding the blocks), preset, resume, verify, group_blocks, group_mb, store_options (more
--   chain.open options), on_progress(state) (after each group and now and then: state =
--   { blocks, added, bytes, fraction, elapsed }), on_block(height) (after each block is added;
--   every group committed before it is written by then, the C path's writer thread included),
--   failure (a table filled when the migration fails: record_failure above), path ("lua" forces
--   the Lua path; default: QUARRY_MIGRATE_PATH, else C where it applies: quarry.chain.fastgroup).
-- Raises an InvalidChain error (chain.is_invalid) for a block the chain refuses: the groups before
-- the offending one are committed, nothing of it is. A refused migration into a new directory
-- leaves nothing behind.
function M.run(options)
  -- an account-model chain (format ethereum-rpc, layout account-chain) has its own engine
  local account = require("quarry.chain.account")
  if account.route(options.layout, options.format, options.from_db == nil and options.db or nil) then
    return account.migrate(options)
  end
  local run = new_run(options)
  local ok, res = pcall(open_ends, run)
  if not ok then
    record_failure(run, res)
    if run.store then -- opened, then refused (already holds blocks without --resume)
      pcall(run.reader.close, run.reader)
      run.store:close()
    end
    error(res, 0)
  end
  ok, res = pcall(function()
    finish(run, stream(run))
    return report(run)
  end)
  pcall(run.reader.close, run.reader)
  if run.fast then -- the C path's writer thread is done before the store closes
    local okc, errc = pcall(run.fast.close, run.fast)
    if ok and not okc then ok, res = false, errc end
  end
  if not ok or run.trailing then record_failure(run, ok and run.trailing or res, ok and res or nil) end
  run.store:close()
  if not ok then
    if run.created_dir and not run.committed and not options.resume then M.remove_new_store(options.db) end
    error(res, 0)
  end
  if run.trailing then error(run.trailing, 0) end
  return res
end


return M
