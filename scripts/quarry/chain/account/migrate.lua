-- quarry.chain.account.migrate: streams an `ethereum-rpc` dump into an account-chain store in
-- groups of blocks committed atomically with the state and a progress marker; resumable after a
-- crash (the blocks already committed are checked against the dump and skipped). The account
-- side of quarry.chain.migrate.run, which hands it every migration of that format or layout.
local quarry = require("quarry")
local json = require("quarry.json")
local formats = require("quarry.chain.formats")
local account = require("quarry.chain.account")
local keys = require("quarry.chain.account.keys")

local M = {}

local clock = quarry.clock
local function fail(fmt, ...) error(fmt:format(...), 0) end

local function exists_not_dir(path)
  local kind = require("quarry.sys").file_kind(path)
  return kind ~= nil and kind ~= "directory"
end

-- The store options of a migration: a migration's write buffers and block cache unless told
-- otherwise (quarry.chain.migrate.migration_db; 80,000 generated blocks peaked at 196 MB with its
-- 16 MiB cache, 271 MB with the usual 256 MiB: docs/account-chain.md).
local function store_options(options)
  local sopts = { preset = options.preset, db = {} }
  for k, v in pairs(options.store_options or {}) do sopts[k] = v end
  if not sopts.preset then sopts.db = require("quarry.chain.migrate").migration_db(sopts.db) end
  return sopts
end

local function new_run(options)
  local base = require("quarry.chain.migrate")
  if options.from_db then
    fail("--from-db is not supported for format ethereum-rpc: migrate from the dump (--json)")
  end
  local path = options.json
  local run = {
    options = options, t0 = clock(), source_path = path,
    compressed = path:match("%.lz4$") ~= nil,
    fmt = formats.load(M.FORMAT_NAME),
    created_dir = not io.open(options.db .. "/CURRENT", "rb") and not exists_not_dir(options.db),
    group_blocks = options.group_blocks or base.DEFAULT_GROUP_BLOCKS,
    group_bytes = (options.group_mb or base.DEFAULT_GROUP_MB) * 1024 * 1024,
    count = 0, skipped = 0, added = 0, groups = 0, committed = false,
  }
  run.input = formats.input(path)
  run.source_name, run.stream = run.input.name, run.input.stream
  run.source_size = run.input.size or 0
  if run.stream and options.verify then run.seen = {} end
  return run
end
M.FORMAT_NAME = "ethereum-rpc"

local function progress_state(run)
  local off = run.reader:offset()
  local frac
  if run.stream then frac = nil
  elseif run.compressed then frac = run.source_size > 0 and run.reader:compressed_offset() / run.source_size or 1
  else frac = run.source_size > 0 and off / run.source_size or 1 end
  return { blocks = run.skipped + run.added, added = run.added, bytes = off, fraction = frac,
    elapsed = clock() - run.t0 }
end

local function marker(run, tip)
  return json.encode({ state = "running", source = run.source_path, tip = tip,
    offset = run.reader:offset(), format = M.FORMAT_NAME })
end

-- Step 1: the dump and the store, or nothing left behind.
local function open_ends(run)
  local options = run.options
  run.reader = formats.open_dump(run.fmt, run.input, options.key)
  local ok, store = pcall(function()
    if not account.is_store(options.db) then
      local foreign = require("quarry.chain.migrate").foreign_content(options.db)
      if foreign then fail("%s: give an empty or new --db, or the store of an earlier migration", foreign) end
    end
    return account.open(options.db, store_options(options))
  end)
  if not ok then
    run.reader:close()
    if run.created_dir then require("quarry.chain.migrate").remove_new_store(options.db) end
    error(store, 0)
  end
  run.store = store
  run.start_tip = store.tip_height
  if run.start_tip and not options.resume then
    fail("%s already holds blocks %d..%d: use --resume to continue a migration into it " ..
      "(or give an empty --db)", options.db, store.base, store.tip_height)
  end
  if run.start_tip and options.resume then
    local okv, err = pcall(store.db.verify, store.db)
    if not okv then
      if not (quarry.is_error(err) and err.code == "Corruption") then error(err, 0) end
      fail("--resume: the store %s is damaged, not resuming into it: %s. Restore it from a backup " ..
        "(quarry backup restore), or migrate again into a new --db", options.db, err.message)
    end
  end
end

-- Resuming: the record of height h is already in the store; it must be the same block.
local function check_same(run, block, h)
  local store = run.store
  local okh, hash = pcall(keys.hash, rawget(block, "hash"), "block " .. h .. " hash")
  if not okh then error(hash, 0) end
  local v = h >= (store.base or 0) and store.cf.hashes:get(hash) or nil
  if v == nil or keys.height_of_hash_value(v) ~= h then
    fail("--resume: block %d of %s is not the block %d of the store (different hash): not the same chain",
      h, run.source_path, h)
  end
end

-- Step 2: every record into groups; returns the last, uncommitted group.
local function stream(run)
  local options, store, reader = run.options, run.store, run.reader
  local on_progress, on_block = options.on_progress, options.on_block
  local start_tip = run.start_tip
  local g = store:group()
  while true do
    local okr, record = pcall(reader.next, reader)
    if not okr then
      if not (reader.complete and reader:complete()) then
        g:discard()
        error(record, 0)
      end
      run.trailing = record
      break
    end
    if record == nil then break end
    run.count = run.count + 1
    local n = run.count - 1
    if run.seen then -- a stream is read once: --verify compares digests of each record's JSON
      local a, b = require("quarry.chain.digest").feed(json.encode(record), 0x6a09e667f3bcc908,
        -4942790177534073029)
      run.seen[#run.seen + 1] = { a, b }
    end
    local okh, h = pcall(account.height_of, record, n)
    if not okh then
      g:discard()
      error(h, 0)
    end
    run.current = h
    if start_tip and h <= start_tip then
      local okc, err = pcall(check_same, run, (account.split(record, n)), h)
      if not okc then
        g:discard()
        error(err, 0)
      end
      run.skipped = run.skipped + 1
    else
      local okadd, err = pcall(g.add, g, record, n)
      if not okadd then
        g:discard()
        error(err, 0)
      end
      run.added = run.added + 1
      if on_block then on_block(h) end
      if g:count() >= run.group_blocks or g:size() >= run.group_bytes then
        g:commit({ migrate = marker(run, g.tip) })
        run.committed, run.groups = true, run.groups + 1
        g = store:group()
        if on_progress then on_progress(progress_state(run)) end
      end
    end
    if on_progress and run.count % 256 == 0 then on_progress(progress_state(run)) end
  end
  return g
end

-- Step 3: the last group, with the container export writes back; the marker goes.
local function finish(run, g)
  local reader = run.reader
  if run.count == 0 then
    g:discard()
    fail("%s holds no blocks: nothing to migrate", run.source_name)
  end
  g:commit({ migrate = false, source_format = reader:format() or "array" })
  run.committed, run.groups = true, run.groups + 1
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

-- A source for verify over the records a stream gave: the digest of each one's JSON; its
-- compare_record(token, record) compares a stored record with it.
local function seen_source(seen)
  local i = 0
  return {
    next = function()
      i = i + 1
      return seen[i]
    end,
    compare_record = function(token, record)
      local a, b = require("quarry.chain.digest").feed(json.encode(record), 0x6a09e667f3bcc908,
        -4942790177534073029)
      if a == token[1] and b == token[2] then return nil end
      return "the stored record differs from the record read from the stream (digests of its JSON differ)"
    end,
    offset = function() return 0 end,
    close = function() end,
  }
end

-- Step 4: settle, report, and with options.verify every check against the source.
local function report(run)
  local store, options = run.store, run.options
  require("quarry.chain.migrate").settle(store)
  local size = store.db:size_on_disk()
  local st = store:stats()
  local r = {
    source = run.source_path, source_size = run.source_size, json_bytes = run.json_bytes,
    stream = run.stream, db = options.db, db_size = size, format = M.FORMAT_NAME, layout = account.LAYOUT,
    ratio = run.json_bytes > 0 and size / run.json_bytes or nil,
    ratio_to_file = run.source_size > 0 and size / run.source_size or nil,
    blocks = st.blocks, added = run.added, skipped = run.skipped, groups = run.groups,
    base = st.base, tip = st.tip, tip_hash = st.tip_hash, txs = st.txs, receipts = st.receipts,
    logs = st.logs, receipts_mode = st.receipts_mode, not_verified = keys.NOT_VERIFIED,
    load_seconds = run.t_load,
  }
  if options.verify and not run.trailing then
    local src = run.seen and seen_source(run.seen) or formats.open_dump(run.fmt, options.json, options.key)
    r.verify = store:verify({ source = src })
    src:close()
  end
  r.elapsed = clock() - run.t0
  return r
end

local function record_failure(run, err, full)
  local f = run.options.failure
  if type(f) ~= "table" then return end
  local store = run.store
  f.source, f.db, f.error = run.source_path, run.options.db, err
  f.format, f.layout = M.FORMAT_NAME, account.LAYOUT
  f.groups, f.elapsed = run.groups, clock() - run.t0
  f.block = require("quarry.chain").is_invalid(err) and err.height or run.current
  if type(f.block) ~= "number" then f.block = run.current end
  f.trailing, f.report = run.trailing ~= nil, full
  f.opened = store ~= nil
  f.base, f.tip = store and store.base, store and store.tip_height
  f.blocks = f.tip and (f.tip - (f.base or 0) + 1) or (f.opened and 0 or nil)
  local start = run.start_tip
  f.added = f.tip and (f.tip - (start or ((f.base or 0) - 1))) or (f.opened and 0 or nil)
end

-- account.migrate.run(options) -> report. options as quarry.chain.migrate.run: json, db, key,
-- preset, resume, verify, group_blocks, group_mb, store_options, on_progress, on_block, failure.
-- Raises an InvalidChain error for a refused record: the groups before it are committed, nothing
-- of its group is; a refused migration into a new directory leaves nothing behind.
function M.run(options)
  local run = new_run(options)
  local ok, res = pcall(open_ends, run)
  if not ok then
    record_failure(run, res)
    if run.store then
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
  if not ok or run.trailing then record_failure(run, ok and run.trailing or res, ok and res or nil) end
  run.store:close()
  if not ok then
    if run.created_dir and not run.committed and not options.resume then
      require("quarry.chain.migrate").remove_new_store(options.db)
    end
    error(res, 0)
  end
  if run.trailing then error(run.trailing, 0) end
  return res
end

return M
