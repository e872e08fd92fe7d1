-- quarry.cli.bench.native: runs Debian's db_bench (package rocksdb-tools) on the same workload with
-- the options the Lua side runs with (taken from db:tuning()), and reads its report: ops/s, MB/s,
-- latency percentiles (--histogram=1) and the peak resident memory of the process (GNU time).
local M = {}

local sh_quote = require("quarry.cli.system").shell_quote
M.sh_quote = sh_quote

local function exists(cmd)
  local ok = os.execute("command -v " .. sh_quote(cmd) .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- The db_bench executable (path or name on PATH), or nil and a message.
function M.find(name)
  name = name or "db_bench"
  if exists(name) then return name end
  return nil, ("'%s' not found: install rocksdb-tools (apt-get install rocksdb-tools) or pass "
    .. "--db-bench PATH"):format(name)
end

-- GNU time, for the peak RSS of db_bench (package `time`); nil when missing.
local gnu_time = false
local function find_time()
  if gnu_time == false then
    gnu_time = nil
    local f = io.open("/usr/bin/time", "rb")
    if f then
      f:close()
      local p = io.popen("/usr/bin/time -f %M true 2>&1")
      local out = p and p:read("a") or ""
      if p then p:close() end
      if out:match("^%d+") then gnu_time = "/usr/bin/time" end
    end
  end
  return gnu_time
end

local MiB = 1024 * 1024
local comp = { lz4 = "lz4", zstd = "zstd", none = "none" }

-- db_bench flags matching the Quarry options t (db:tuning()) and the run's sizes. Returns the
-- flags and a list of notes on what cannot be matched exactly.
function M.flags(t, run)
  local notes = {}
  local f = {
    "--num=" .. run.num,
    "--reads=" .. (run.reads or run.num),
    "--key_size=" .. run.key_size,
    "--value_size=" .. run.value_size,
    "--compression_ratio=0.5",
    "--threads=1",
    "--seed=" .. run.seed,
    "--histogram=1",
    "--statistics=0",
    -- Quarry leaves RocksDB's default (off); db_bench's own default is on.
    "--enable_pipelined_write=0",
    "--write_buffer_size=" .. t.write_buffer_mb * MiB,
    "--max_write_buffer_number=2",
    "--cache_size=" .. (t.block_cache_mb > 0 and t.block_cache_mb * MiB or -1),
    "--open_files=" .. t.max_open_files,
    "--compression_type=" .. (comp[t.compression] or t.compression),
    "--bloom_bits=" .. t.bloom_bits,
    "--block_size=" .. t.block_size_kb * 1024,
    "--max_background_jobs=" .. t.max_background_jobs,
    "--disable_wal=" .. (t.wal and 0 or 1),
    "--sync=" .. (t.sync and 1 or 0),
    "--readahead_size=" .. t.readahead_mb * MiB,
    "--level0_file_num_compaction_trigger=" .. t.level0_file_num_compaction_trigger,
    "--level0_slowdown_writes_trigger=" .. t.level0_slowdown_writes_trigger,
    "--level0_stop_writes_trigger=" .. t.level0_stop_writes_trigger,
    "--target_file_size_base=" .. t.target_file_size_mb * MiB,
    "--max_bytes_for_level_base=" .. t.max_bytes_for_level_base_mb * MiB,
    "--num_levels=7",
    "--verify_checksum=1",
  }
  if t.bottommost_compression and t.bottommost_compression ~= t.compression then
    notes[#notes + 1] = ("db_bench has no bottommost compression flag: it compresses every level "
      .. "with %s (Quarry: %s at the bottom)"):format(t.compression, t.bottommost_compression)
  end
  return f, notes
end

-- Reads a db_bench report: the line "<name> : x micros/op y ops/sec z seconds n operations; m MB/s
-- (f of r found)" and the "Percentiles:" line after it.
function M.parse(out, name)
  local r
  for line in out:gmatch("[^\n]+") do
    local bench, rest = line:match("^(%S+)%s*:%s*(.-)$")
    if bench == name and rest:match("micros/op") then
      r = {}
      r.micros = tonumber(rest:match("([%d%.]+) micros/op"))
      r.ops_per_sec = tonumber(rest:match("([%d%.]+) ops/sec"))
      r.seconds = tonumber(rest:match("([%d%.]+) seconds"))
      r.ops = tonumber(rest:match("(%d+) operations"))
      r.mb_per_sec = tonumber(rest:match("([%d%.]+) MB/s"))
      local f = rest:match("%((%d+) of %d+ found%)")
      r.found = tonumber(f)
    elseif r and not r.p50 and line:match("^Percentiles:") then
      r.p50 = tonumber(line:match("P50: ([%d%.]+)"))
      r.p99 = tonumber(line:match("P99: ([%d%.]+)"))
      r.p999 = tonumber(line:match("P99%.9: ([%d%.]+)"))
    end
  end
  return r
end

-- Runs one db_bench benchmark. spec: the workload ({native, native_flags, fresh}); run: {exe,
-- dir, num, reads, key_size, value_size, batch, seed, tuning, wrap (a command prefix)}. Returns
-- the parsed report (micros, ops_per_sec, seconds, ops, mb_per_sec, found, p50, p99, p999 in
-- microseconds, rss_kb, command), or raises with db_bench's output.
function M.run(spec, run)
  local flags = M.flags(run.tuning, run)
  flags[#flags + 1] = "--db=" .. run.dir
  flags[#flags + 1] = "--benchmarks=" .. spec.native
  flags[#flags + 1] = "--use_existing_db=" .. (spec.fresh and 0 or 1)
  local extra = spec.native_flags
  if type(extra) == "function" then extra = extra(run) end
  for _, x in ipairs(extra or {}) do flags[#flags + 1] = x end
  local parts = { sh_quote(run.exe) }
  for _, x in ipairs(flags) do parts[#parts + 1] = sh_quote(x) end
  local command = table.concat(parts, " ")
  local system = require("quarry.cli.system")
  local rss_file = system.temp_file("rss") -- its private directory holds err_file too
  local timer = find_time()
  local full = command
  if run.wrap then -- e.g. valgrind (quarry.cli.bench.callgrind): no peak RSS then
    full = run.wrap .. " " .. command
  elseif timer then
    full = timer .. " -f %M -o " .. sh_quote(rss_file) .. " " .. command
  end
  local err_file = rss_file:gsub("[^/]*$", "stderr")
  -- stderr apart: db_bench writes its progress there, without newlines.
  local p = assert(io.popen(full .. " 2>" .. sh_quote(err_file)))
  local out = p:read("a")
  local ok = p:close()
  local r = M.parse(out, spec.native)
  if not ok or not r then
    local ef = io.open(err_file, "rb")
    local err = ef and ef:read("a") or ""
    if ef then ef:close() end
    system.remove_temp(rss_file) -- and err_file, in the same directory
    error(("db_bench %s failed:\n%s\n%s%s"):format(spec.native, command, out:sub(-2000),
      err:gsub("%.%.%. finished %d+ ops%s*", ""):sub(-2000)), 0)
  end
  os.remove(err_file)
  r.command = command
  local f = io.open(rss_file, "rb")
  if f then
    local txt = f:read("a")
    f:close()
    r.rss_kb = tonumber(txt:match("(%d+)%s*$"))
  end
  system.remove_temp(rss_file)
  return r
end

return M
