-- quarry.cli.bench.dbbench: the workloads of `quarry bench` that mirror RocksDB's db_bench (fillseq,
-- fillrandom, fillbatch, readrandom, multireadrandom, readseq, readreverse, seekrandom,
-- deleterandom), written as a Lua program over the quarry module would be.
--
-- Keys are db_bench's: the key number as 8 bytes big-endian, padded with '0' bytes up to the key
-- size, built with quarry.be64. Values are built as db_bench builds them for
-- --compression_ratio=0.5: a pool of about 1 MiB of value-sized pieces, each a run of random
-- printable bytes (half the piece) repeated to fill it, handed out in turn; so values compress
-- to the same fraction as db_bench's.
--
-- Each workload is { summary, fresh (needs an empty database), needs_data (reads an existing
-- one), reads (runs --reads operations, not --num), native (db_bench's name for it),
-- native_flags (extra db_bench flags), histogram (the engine histogram giving its latency),
-- run(ctx) -> result }. ctx (from quarry.cli.commands.bench): db (open), num, reads (operations of the
-- read workloads), key_size, value_size, batch, seed, clock() -> seconds, plain
-- (single-operation API only). result: ops, bytes (key + value bytes moved, as db_bench counts
-- them), seconds, found (reads), api (what the loop calls).
local M = {}

local pack, random = string.pack, math.random
local be64 = require("quarry").be64

-- The key format for string.pack and its padding argument.
local function key_format(key_size)
  if key_size < 8 then error("--key-size must be at least 8 (a key holds a 64-bit number, as db_bench's do)", 0) end
  if key_size == 8 then return ">I8", nil end
  return ">I8c" .. (key_size - 8), string.rep("0", key_size - 8)
end
M.key_format = key_format

-- The padding after the 8-byte number (nil for 8-byte keys): keys are built with
-- quarry.be64(k, pad), which gives string.pack(key_format(size)) in one call without parsing a
-- format (docs/lua-api.md#quarrybe64n--suffix: 188 -> 129 ns per 16-byte key).
local function key_pad(key_size)
  local _, pad = key_format(key_size)
  return pad
end

-- The key of number k (0-based), as db_bench writes it.
function M.key(k, key_size)
  local fmt, pad = key_format(key_size)
  return pack(fmt, k, pad)
end

-- The value pool: about 1 MiB of pieces of value_size bytes, each compressible to `ratio`.
function M.values(value_size, seed, ratio)
  ratio = ratio or 0.5
  local rng_state = math.random(1 << 62) -- keep the caller's stream independent of the pool
  math.randomseed(seed or 301)
  local n = math.max(1, (1 << 20) // math.max(1, value_size))
  local raw_len = math.max(1, math.floor(value_size * ratio + 0.5))
  local pool, chars = {}, {}
  for i = 1, n do
    for j = 1, raw_len do chars[j] = string.char(32 + random(0, 94)) end
    local raw = table.concat(chars, "", 1, raw_len)
    local piece = string.rep(raw, value_size // raw_len + 1):sub(1, value_size)
    pool[i] = piece
  end
  math.randomseed(rng_state)
  return pool
end

-- ---- fills ------------------------------------------------------------------------------------
local function fill(ctx, random_keys)
  local db, num, clock = ctx.db, ctx.num, ctx.clock
  local pad = key_pad(ctx.key_size)
  local values = ctx.values
  local nv = #values
  local t0 = clock()
  if random_keys then
    for i = 0, num - 1 do
      db:put(be64(random(0, num - 1), pad), values[i % nv + 1])
    end
  else
    for i = 0, num - 1 do
      db:put(be64(i, pad), values[i % nv + 1])
    end
  end
  local dt = clock() - t0
  return { ops = num, bytes = num * (ctx.key_size + ctx.value_size), seconds = dt, api = "db:put" }
end

M.fillseq = {
  summary = "write num values in sequential key order, one db:put each",
  fresh = true, native = "fillseq", histogram = "put",
  run = function(ctx) return fill(ctx, false) end,
}

M.fillrandom = {
  summary = "write num values in random key order, one db:put each",
  fresh = true, native = "fillrandom", histogram = "put",
  run = function(ctx) return fill(ctx, true) end,
}

-- db_bench's fillbatch: num values in sequential key order, 1000 per atomic batch.
M.fillbatch = {
  summary = "write num values in sequential key order, --batch per atomic batch (db:put_many)",
  fresh = true, native = "fillbatch", histogram = "write_batch",
  run = function(ctx)
    local db, num, clock, per = ctx.db, ctx.num, ctx.clock, ctx.batch
    local pad = key_pad(ctx.key_size)
    local values = ctx.values
    local nv = #values
    local t0, api
    if db.put_many and not ctx.plain then
      api = "db:put_many"
      local t = {}
      t0 = clock()
      local i = 0
      while i < num do
        local n = math.min(per, num - i)
        local j = 0
        for k = i, i + n - 1 do
          t[j + 1] = be64(k, pad)
          t[j + 2] = values[k % nv + 1]
          j = j + 2
        end
        for x = j + 1, #t do t[x] = nil end
        db:put_many(t)
        i = i + n
      end
    else
      api = "b:put + db:write"
      local b <close> = db:batch()
      t0 = clock()
      local i = 0
      while i < num do
        local n = math.min(per, num - i)
        for k = i, i + n - 1 do
          b:put(be64(k, pad), values[k % nv + 1])
        end
        db:write(b)
        b:clear()
        i = i + n
      end
    end
    local dt = clock() - t0
    return { ops = num, bytes = num * (ctx.key_size + ctx.value_size), seconds = dt, api = api }
  end,
}

M.deleterandom = {
  summary = "delete num random keys, one db:delete each",
  needs_data = true, native = "deleterandom", native_flags = { "--batch_size=1" },
  run = function(ctx)
    local db, num, clock = ctx.db, ctx.num, ctx.clock
    local pad = key_pad(ctx.key_size)
    local t0 = clock()
    for _ = 1, num do
      db:delete(be64(random(0, num - 1), pad))
    end
    local dt = clock() - t0
    return { ops = num, bytes = 0, seconds = dt, api = "db:delete" }
  end,
}

-- ---- point reads ------------------------------------------------------------------------------
M.readrandom = {
  summary = "read num random keys, one db:get each",
  needs_data = true, reads = true, native = "readrandom", histogram = "get",
  run = function(ctx)
    local db, num, reads, clock = ctx.db, ctx.num, ctx.reads or ctx.num, ctx.clock
    local pad = key_pad(ctx.key_size)
    local found, bytes = 0, 0
    local t0 = clock()
    for _ = 1, reads do
      local k = be64(random(0, num - 1), pad)
      local v = db:get(k)
      if v then
        found = found + 1
        bytes = bytes + #k + #v
      end
    end
    local dt = clock() - t0
    return { ops = reads, bytes = bytes, seconds = dt, found = found, api = "db:get" }
  end,
}

M.multireadrandom = {
  summary = "read num random keys, --batch per db:multi_get call",
  needs_data = true, reads = true, native = "multireadrandom", histogram = "multi_get",
  native_flags = function(ctx) return { "--batch_size=" .. ctx.batch, "--multiread_batched=1" } end,
  run = function(ctx)
    local db, num, reads, clock, per = ctx.db, ctx.num, ctx.reads or ctx.num, ctx.clock, ctx.batch
    local pad = key_pad(ctx.key_size)
    local found, bytes = 0, 0
    local keys = {}
    local t0 = clock()
    local done = 0
    while done < reads do
      local n = math.min(per, reads - done)
      for j = 1, n do keys[j] = be64(random(0, num - 1), pad) end
      for j = n + 1, #keys do keys[j] = nil end
      local vals = db:multi_get(keys)
      for j = 1, n do
        local v = vals[j]
        if v then
          found = found + 1
          bytes = bytes + #keys[j] + #v
        end
      end
      done = done + n
    end
    local dt = clock() - t0
    return { ops = reads, bytes = bytes, seconds = dt, found = found, api = "db:multi_get" }
  end,
}

-- db_bench's seekrandom (--seek_nexts=0, no tailing iterator): for each of num random keys, a
-- new iterator (db_bench 7.8 recreates its iterator before every seek), a seek, found when it
-- lands on that very key. db:seek does exactly that in one call; --plain uses an iterator object.
M.seekrandom = {
  summary = "num times: a new iterator, seek to a random key (db:seek; an iterator with --plain)",
  needs_data = true, reads = true, native = "seekrandom", histogram = "iterator_seek",
  run = function(ctx)
    local db, num, reads, clock = ctx.db, ctx.num, ctx.reads or ctx.num, ctx.clock
    local pad = key_pad(ctx.key_size)
    local found, api = 0, "db:seek"
    local t0
    if db.seek and not ctx.plain then
      t0 = clock()
      for _ = 1, reads do
        local k = be64(random(0, num - 1), pad)
        if db:seek(k) == k then found = found + 1 end
      end
    else
      api = "db:iterator + it:seek + it:key"
      t0 = clock()
      for _ = 1, reads do
        local k = be64(random(0, num - 1), pad)
        local it <close> = db:iterator()
        if it:seek(k) and it:key() == k then found = found + 1 end
      end
    end
    local dt = clock() - t0
    return { ops = reads, bytes = 0, seconds = dt, found = found, api = api }
  end,
}

-- ---- scans ------------------------------------------------------------------------------------
-- Pairs per next_chunk call: small chunks keep few strings alive at a time, which the garbage
-- collector and malloc handle best (callgrind, a whole process scanning 400k entries: 1,487 M
-- instructions with 64 per call, 1,613 M with 1,024 per call, 1,519 M with pairs()).
local CHUNK = 64

local function scan(ctx, reverse)
  local db, num, clock = ctx.db, ctx.reads or ctx.num, ctx.clock -- db_bench: up to --reads entries
  local n, bytes = 0, 0
  local t0, api
  local iopts = reverse and { reverse = true } or nil
  local probe = db:iterator()
  local chunked = probe.next_chunk ~= nil and not ctx.plain
  probe:close()
  if chunked then
    api = "it:next_chunk(" .. CHUNK .. ")"
    t0 = clock()
    local it <close> = db:iterator(iopts)
    local keys, vals = {}, {}
    while n < num do
      local _, _, c = it:next_chunk(math.min(CHUNK, num - n), keys, vals)
      if c == 0 then break end
      for i = 1, c do bytes = bytes + #keys[i] + #vals[i] end
      n = n + c
    end
  else
    api = "db:pairs"
    t0 = clock()
    for k, v in db:pairs(iopts) do
      n = n + 1
      bytes = bytes + #k + #v
      if n >= num then break end
    end
  end
  local dt = clock() - t0
  return { ops = n, bytes = bytes, seconds = dt, api = api }
end

M.readseq = {
  summary = "read num entries in key order (it:next_chunk; db:pairs with --plain)",
  needs_data = true, reads = true, native = "readseq",
  run = function(ctx) return scan(ctx, false) end,
}

M.readreverse = {
  summary = "read num entries in reverse key order (it:next_chunk; db:pairs with --plain)",
  needs_data = true, reads = true, native = "readreverse",
  run = function(ctx) return scan(ctx, true) end,
}

-- The order `quarry bench --help` lists them in.
M.order = {
  "fillseq", "fillrandom", "fillbatch", "readrandom", "multireadrandom", "readseq", "readreverse",
  "seekrandom", "deleterandom",
}

return M
