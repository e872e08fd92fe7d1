-- quarry.cli.bench.suite: `quarry bench <workload>... [options]` for the db_bench workloads: runs them
-- over the quarry module and reports ops/s, MB/s, latency percentiles and peak resident memory;
-- with --compare also runs Debian's db_bench on the same workloads with matched options and prints
-- the ratio Lua/native (docs/performance.md). quarry.cli.commands.bench dispatches here for every
-- workload that is not a subcommand of its own (migrate).
--
-- Workload modules: M.workloads maps each name to a module whose field <name> (or the module
-- itself) is { summary, run(ctx) -> result, fresh, needs_data, native, native_flags, histogram }.
-- fresh: starts from an empty database; needs_data: reads the database earlier workloads left
-- (a silent fillseq runs first when none did); native: db_bench's benchmark name (nil: no
-- comparison); histogram: the engine histogram (db:metrics()) giving its latency.
-- ctx: db (open on the run's directory), path, num, key_size, value_size, batch, seed, values
-- (the value pool), plain, preset, open_options, clock() -> seconds, args (all parsed options).
-- result: ops, bytes, seconds, and optionally found, api, notes, latency {p50, p99, p999} (us:
-- when the workload measures its own), extra (a table printed with --json).
local cli = require("quarry.cli")

local M = { summary = "db_bench workloads over the Lua module, side by side with native db_bench" }

M.workloads = {
  fillseq = "quarry.cli.bench.dbbench",
  fillrandom = "quarry.cli.bench.dbbench",
  fillbatch = "quarry.cli.bench.dbbench",
  readrandom = "quarry.cli.bench.dbbench",
  multireadrandom = "quarry.cli.bench.dbbench",
  readseq = "quarry.cli.bench.dbbench",
  readreverse = "quarry.cli.bench.dbbench",
  seekrandom = "quarry.cli.bench.dbbench",
  deleterandom = "quarry.cli.bench.dbbench",
}
M.order = {
  "fillseq", "fillrandom", "fillbatch", "readrandom", "multireadrandom", "readseq", "readreverse",
  "seekrandom", "deleterandom",
}

-- Targets (ratio Lua/native) the issue sets for this machine class.
M.targets = {
  readrandom = 0.90, multireadrandom = 0.90, seekrandom = 0.90,
  fillseq = 0.90, fillrandom = 0.90, deleterandom = 0.90,
  fillbatch = 0.70,
  readseq = 0.60, readreverse = 0.60,
}

local function load_workload(name)
  local modname = M.workloads[name]
  if not modname then return nil end
  local ok, mod = pcall(require, modname)
  if not ok then
    if type(mod) == "string" and mod:find("module '" .. modname .. "' not found", 1, true) then
      return nil, ("workload '%s' is not available (module %s is not installed)"):format(name, modname)
    end
    error(mod, 0)
  end
  local spec = mod[name] or mod
  if type(spec) ~= "table" or type(spec.run) ~= "function" then
    return nil, ("module %s has no workload '%s'"):format(modname, name)
  end
  return spec
end

-- ---- memory ----------------------------------------------------------------------------------
-- Peak resident memory of this process since the last reset, in KiB (VmHWM), or nil.
local function peak_rss_kb()
  local bytes = require("quarry.cli.system").peak_rss()
  return bytes and bytes // 1024
end

-- Resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs); false when refused.
local function reset_peak_rss()
  local f = io.open("/proc/self/clear_refs", "wb")
  if not f then return false end
  local ok = f:write("5")
  f:close()
  return ok and true or false
end

-- ---- machine ----------------------------------------------------------------------------------
function M.machine()
  local m = { nproc = 0 }
  local f = io.open("/proc/cpuinfo", "rb")
  if f then
    for line in f:lines() do
      if line:match("^processor%s*:") then m.nproc = m.nproc + 1 end
      m.cpu = m.cpu or line:match("^model name%s*:%s*(.-)%s*$")
    end
    f:close()
  end
  f = io.open("/proc/meminfo", "rb")
  if f then
    local kb = tonumber(f:read("a"):match("MemTotal:%s*(%d+)"))
    f:close()
    if kb then m.ram_gib = kb / 1048576 end
  end
  local p = io.popen("uname -sr 2>/dev/null")
  if p then
    m.kernel = (p:read("a") or ""):gsub("%s+$", "")
    p:close()
  end
  return m
end

-- ---- the engine's latency histograms ----------------------------------------------------------
-- Latency percentiles (microseconds) of engine histogram `name` from db:metrics(), or nil.
local function engine_latency(db, name)
  if not name or not db.metrics then return nil end
  local ok, m = pcall(db.metrics, db)
  if not ok or type(m) ~= "table" then return nil end
  local h = (type(m.histograms) == "table" and m.histograms[name]) or m[name .. "_seconds"]
    or (type(m.latency) == "table" and m.latency[name]) or m[name]
  if type(h) ~= "table" or not h.p50 or (h.count and h.count == 0) then return nil end
  return { p50 = h.p50 * 1e6, p99 = h.p99 * 1e6, p999 = (h.p999 or h["p99.9"]) * 1e6,
    source = "engine histogram " .. name }
end

-- ---- running one side -------------------------------------------------------------------------
local function destroy_dir(path)
  os.execute("rm -rf " .. require("quarry.cli.bench.native").sh_quote(path))
end

-- Runs one workload in this process (the --child side, or --in-process).
local function run_here(spec, run)
  local quarry = require("quarry")
  collectgarbage("collect")
  local rss_reset = reset_peak_rss()
  local db = quarry.open(run.qdir, run.open_options)
  local ctx = setmetatable({
    db = db, path = run.qdir, num = run.num, reads = run.reads, key_size = run.key_size,
    value_size = run.value_size,
    batch = run.batch, seed = run.seed, values = run.values, plain = run.plain,
    preset = run.preset, open_options = run.open_options, clock = run.clock, args = run.args,
  }, { __index = run.args })
  math.randomseed(run.seed)
  local ok, res = pcall(spec.run, ctx)
  local lat = ok and (res.latency or engine_latency(db, spec.histogram)) or nil
  if ctx.db and ctx.db == db then db:close() end
  if not ok then error(res, 0) end
  collectgarbage("collect")
  local r = {
    ops = res.ops, seconds = res.seconds, found = res.found, api = res.api, notes = res.notes,
    extra = res.extra,
    ops_per_sec = res.seconds > 0 and res.ops / res.seconds or 0,
    mb_per_sec = (res.bytes and res.bytes > 0 and res.seconds > 0) and res.bytes / 1048576 / res.seconds or nil,
    rss_kb = rss_reset and peak_rss_kb() or nil,
  }
  if lat then
    r.p50, r.p99, r.p999, r.latency_source = lat.p50, lat.p99, lat.p999, lat.source or "workload"
  end
  return r
end

-- The command running this script again (interpreter and script path), or nil when unknown.
local function self_command()
  local native = require("quarry.cli.bench.native")
  local interp, script = arg and arg[-1], arg and arg[0]
  if type(interp) ~= "string" or type(script) ~= "string" or script == "/dev/null" then return nil end
  local f = io.open(script, "rb")
  if not f then return nil end
  f:close()
  return native.sh_quote(interp) .. " " .. native.sh_quote(script)
end

-- Runs one workload in a child process of its own (`quarry bench <name> --child`), as db_bench
-- runs each benchmark in a process of its own: the peak RSS is that workload's alone, not what
-- the allocator kept from earlier workloads. Returns the child's result.
local function run_child(name, run)
  local native = require("quarry.cli.bench.native")
  local q = native.sh_quote
  local a = run.args
  local cmd = ("%s bench %s --child --db %s --num %d --reads %d --key-size %d --value-size %d "
    .. "--batch %d --seed %d --preset %s%s"):format(run.self_command, q(name), q(run.qdir), run.num,
    run.reads, a.key_size, a.value_size, a.batch, a.seed, q(a.preset), a.plain and " --plain" or "")
  local tuning = cli.tuning_argv()
  if tuning ~= "" then cmd = cmd .. " " .. tuning end
  if run.wrap then cmd = run.wrap .. " " .. cmd end
  local system = require("quarry.cli.system")
  local err_file = system.temp_file("stderr")
  local p = assert(io.popen(cmd .. " 2>" .. q(err_file)))
  local out = p:read("a")
  local ok = p:close()
  local ef = io.open(err_file, "rb")
  local err = ef and ef:read("a") or ""
  if ef then ef:close() end
  system.remove_temp(err_file)
  if not ok then error(("quarry bench %s (child process) failed: %s"):format(name, err), 0) end
  return require("quarry.json").decode(out, { numbers = "float" })
end

-- Over a server URL (--db postgresql://...) a fresh workload starts from an empty default
-- family: every key up to the key size deleted in one range (the database is the operator's:
-- it is emptied, never dropped).
local function empty_server_db(run)
  local db = require("quarry").open(run.qdir, run.open_options)
  db:delete_range("", string.rep("\255", run.key_size + 1))
  db:close()
end

local function run_quarry(spec, name, run)
  if spec.fresh and run.server then
    empty_server_db(run)
  elseif spec.fresh then
    destroy_dir(run.qdir)
  end
  if run.self_command then return run_child(name, run) end
  return run_here(spec, run)
end

local function run_native(spec, run)
  local native = require("quarry.cli.bench.native")
  if spec.fresh then destroy_dir(run.ndir) end
  local r = native.run(spec, {
    exe = run.db_bench, dir = run.ndir, num = run.num, reads = run.reads, key_size = run.key_size,
    value_size = run.value_size, batch = run.batch, seed = run.seed, tuning = run.tuning,
    wrap = run.wrap,
  })
  return r
end

-- ---- output -----------------------------------------------------------------------------------
local function fmt_num(v, f)
  if v == nil then return "-" end
  return (f or "%.0f"):format(v)
end

local function fmt_ops(v)
  if v == nil then return "-" end
  return ("%.0f"):format(v)
end

local function print_header(out, compare)
  out:write(("%-16s %-9s %10s %8s %8s %8s %9s %8s%s\n"):format("workload", "side", "ops/s",
    "MB/s", "p50 us", "p99 us", "p99.9 us", "RSS MB", compare and "   ratio target" or ""))
end

local function print_side(out, label, side, r, rec)
  local tail = ""
  if rec and rec.ratio then
    tail = ("   %5.2f  %s%s"):format(rec.ratio, rec.target and (">=%.2f%s"):format(rec.target,
      rec.ratio >= rec.target and "" or " MISSED") or "-",
      rec.runs and rec.runs > 1 and ("  (median of %d, %.2f-%.2f)"):format(rec.runs, rec.ratio_min,
        rec.ratio_max) or "")
  end
  out:write(("%-16s %-9s %10s %8s %8s %8s %9s %8s%s\n"):format(label, side, fmt_ops(r.ops_per_sec),
    fmt_num(r.mb_per_sec, "%.1f"), fmt_num(r.p50, "%.2f"), fmt_num(r.p99, "%.2f"),
    fmt_num(r.p999, "%.2f"), fmt_num(r.rss_kb and r.rss_kb / 1024, "%.0f"), tail))
end

function M.markdown(report)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  local m = report.machine
  add(("Command: `%s`"):format(report.command))
  add("")
  add(("Machine: %d CPUs (%s), %.1f GiB RAM, %s; Lua: %s; RocksDB %s; date %s."):format(m.nproc,
    m.cpu or "?", m.ram_gib or 0, m.kernel or "?", report.lua, report.rocksdb_version, report.date))
  add("")
  add("| workload | Lua API | Lua ops/s | db_bench ops/s | ratio | target | Lua MB/s "
    .. "| Lua p50/p99/p99.9 us | db_bench p50/p99/p99.9 us | Lua RSS MB | db_bench RSS MB |")
  add("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
  for _, rec in ipairs(report.results) do
    local q, n = rec.quarry, rec.native or {}
    local function lat(r)
      if not r.p50 then return "-" end
      return ("%.1f / %.1f / %.1f"):format(r.p50, r.p99, r.p999)
    end
    add(("| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(rec.workload,
      q.api or "?", fmt_ops(q.ops_per_sec), fmt_ops(n.ops_per_sec),
      rec.ratio and (rec.runs and rec.runs > 1 and ("**%.2f** (%.2f-%.2f)"):format(rec.ratio,
        rec.ratio_min, rec.ratio_max) or ("**%.2f**"):format(rec.ratio)) or "-",
      rec.target and ("%.2f"):format(rec.target) or "-", fmt_num(q.mb_per_sec, "%.1f"), lat(q), lat(n),
      fmt_num(q.rss_kb and q.rss_kb / 1024, "%.0f"), fmt_num(n.rss_kb and n.rss_kb / 1024, "%.0f")))
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Writes a PNG bar chart of the ratios (gnuplot) with the targets marked.
function M.chart(report, path)
  local native = require("quarry.cli.bench.native")
  local system = require("quarry.cli.system")
  local data = system.temp_file("chart.dat")
  local f = assert(io.open(data, "wb"))
  local n, ymax = 0, 0
  for _, rec in ipairs(report.results) do
    if rec.ratio then
      n = n + 1
      ymax = math.max(ymax, rec.ratio_max or rec.ratio)
      f:write(("%d %s %.4f %.4f %.4f %.4f\n"):format(n - 1, rec.workload, rec.ratio, rec.target or 0,
        rec.ratio_min or rec.ratio, rec.ratio_max or rec.ratio))
    end
  end
  f:close()
  if n == 0 then
    system.remove_temp(data)
    return nil, "no ratios to chart (run with --compare)"
  end
  local script = table.concat({
    "set terminal pngcairo size 900,480 font 'sans,10' noenhanced",
    "set output " .. ("%q"):format(path),
    ("set title %q"):format(("Lua over Quarry / native db_bench, ops/s ratio (num %d, %s)"):format(
      report.options.num, report.date:sub(1, 10))),
    "set style fill solid 0.8 border -1",
    "set boxwidth 0.6",
    ("set yrange [0:%.1f]"):format(math.max(1.3, ymax + 0.1)),
    ("set xrange [-0.6:%.1f]"):format(n - 0.4),
    "set ytics 0.1",
    "set grid ytics",
    "set xtics rotate by -30",
    "set key top right",
    "plot " .. ("%q"):format(data)
      .. " using 1:3:5:6:(0.3):xtic(2) with boxerrorbars lc rgb '#4a7fb5' title 'ratio Lua/native "
      .. "(median; bars: min-max of the runs)', "
      .. ("%q"):format(data)
      .. " using 1:($4 > 0 ? $4 : 1/0) with points pt 9 ps 1.6 lc rgb '#c0392b' title 'target', "
      .. "1 with lines dt 2 lc rgb '#555555' title 'parity'",
  }, "\n")
  local sf = data:gsub("[^/]*$", "chart.gp") -- beside data, in its private directory
  f = assert(io.open(sf, "wb"))
  f:write(script, "\n")
  f:close()
  local ok = os.execute("gnuplot " .. native.sh_quote(sf) .. " 2>&1")
  os.remove(sf)
  system.remove_temp(data)
  if not (ok == true or ok == 0) then return nil, "gnuplot failed (install gnuplot-nox)" end
  return true
end

-- ---- main: the steps of M.run ----------------------------------------------------------------
local function parser(others)
  local p = cli.parser("bench", M.summary)
  p:epilog("Workloads: " .. table.concat(M.order, ", ") .. ".\n"
    .. (others and #others > 0 and ("Also, with options of their own: %s (quarry bench <name> "
      .. "--help).\n"):format(table.concat(others, ", ")) or "")
    .. "Each workload opens the database, runs, and closes it (reads find what earlier workloads\n"
    .. "wrote, as db_bench's --use_existing_db does; a read workload with nothing written before\n"
    .. "it is preceded by an unreported fillseq). --compare runs db_bench after each workload\n"
    .. "with the same options (db:tuning()) and prints ops/s ratios Lua/native.")
  p:argument("workloads", "Workloads to run, in order"):args("+")
  p:option("--num", "Keys (and operations) per workload", "1000000"):convert(tonumber)
  p:option("--reads", "Operations of the read workloads (default: --num), as db_bench's --reads")
    :convert(tonumber)
  p:option("--key-size", "Key size in bytes (>= 8)", "16"):convert(tonumber)
  p:option("--value-size", "Value size in bytes", "100"):convert(tonumber)
  p:option("--batch", "Keys per batch (fillbatch, multireadrandom)", "1000"):convert(tonumber)
  p:option("--db", "Directory for the databases (default: a temporary one, removed after), or a "
    .. "PostgreSQL URL (its default family is emptied before each writing workload)")
  cli.preset_option(p, "Quarry preset (db_bench gets the same tuning)", "default")
  p:option("--seed", "Random seed (keys and values)", "301"):convert(tonumber)
  p:option("--repeat", "Runs of each workload, alternating with db_bench's; the best of each side "
    .. "is reported, the ratio is the median of the runs' ratios", "1"):convert(tonumber)
  p:option("--db-bench", "The db_bench executable", "db_bench")
  p:option("--markdown", "Also write the results as a Markdown table to this file")
  p:option("--chart", "Also write a PNG chart of the ratios (gnuplot) to this file")
  p:flag("--compare", "Also run native db_bench and print the ratio Lua/native")
  p:flag("--callgrind", "Count instructions per operation instead of timing (valgrind; both sides "
    .. "with --compare), split by RocksDB, compression, C runtime, Lua, quarry, db_bench")
  p:flag("--plain", "Use single-operation calls only (db:pairs, b:put) instead of the bulk forms")
  cli.output_option(p, nil, { flag = "--json" }) -- json: options, tuning, machine, each run
  p:flag("--in-process", "Run the Lua side in this process (default: a child process per workload)")
  p:flag("--child", "Internal: run one workload on the database --db, print its result as JSON")
    :hidden(true)
  return p
end

-- How M.run stops early: a usage error (exit 2, after the usage line) or a failure (exit 1).
local function usage_error(msg) return { status = cli.EXIT_USAGE, message = msg } end
local function failure(msg) return { status = cli.EXIT_FAILED, message = msg } end

local INTEGER_OPTIONS = { "num", "reads", "key_size", "value_size", "batch", "seed", "repeat" }

-- Checks the numeric options (turning them into integers); a usage error or nil.
local function check_numbers(args)
  args.reads = args.reads or args.num
  for _, k in ipairs(INTEGER_OPTIONS) do
    local v = args[k]
    if type(v) ~= "number" or v ~= math.floor(v) or v < (k == "seed" and 0 or 1) then
      return usage_error(("--%s must be a positive integer"):format((k:gsub("_", "-"))))
    end
    args[k] = math.tointeger(v)
  end
  if args.key_size < 8 then
    return usage_error("--key-size must be at least 8 (keys hold a 64-bit number, as db_bench's do)")
  end
end

-- The workload specs named on the command line, in order; or nil and a usage error.
local function load_specs(args)
  local specs = {}
  for i, name in ipairs(args.workloads) do
    if not M.workloads[name] then
      return nil, usage_error(("unknown workload '%s' (known: %s)"):format(name,
        table.concat(M.order, ", ")))
    end
    local spec, err = load_workload(name)
    if not spec then return nil, usage_error(err) end
    specs[i] = spec
  end
  return specs
end

-- What every workload of this invocation runs with (the ctx fields, module comment).
local function new_run(args)
  return {
    args = args, num = args.num, reads = args.reads, key_size = args.key_size,
    value_size = args.value_size,
    batch = args.batch, seed = args.seed, preset = args.preset, plain = args.plain,
    clock = require("quarry").clock, open_options = { preset = args.preset },
  }
end

-- --child: one workload on the database --db, its result as JSON on stdout.
local function run_as_child(specs, run)
  local args = run.args
  if #specs ~= 1 or not args.db then return usage_error("--child runs one workload on --db") end
  run.qdir = args.db
  run.values = require("quarry.cli.bench.dbbench").values(args.value_size, args.seed)
  local r = run_here(specs[1], run)
  io.stdout:write(require("quarry.json").encode(r), "\n")
end

-- --callgrind: the counting module (quarry.cli.bench.callgrind), or nil and why it cannot run.
local function callgrind_module(run)
  local args = run.args
  local cg = require("quarry.cli.bench.callgrind")
  local okv, verr = cg.available()
  if not okv then return nil, failure(verr) end
  if args.markdown or args.chart then
    return nil, usage_error("--markdown and --chart write timed results: run them without --callgrind")
  end
  if not run.self_command then
    return nil, usage_error("--callgrind runs each workload in a child process: drop --in-process")
  end
  return cg
end

-- --compare: db_bench's executable into run.db_bench, or a failure.
local function find_db_bench(run)
  local exe, err = require("quarry.cli.bench.native").find(run.args.db_bench)
  if not exe then return failure(err) end
  run.db_bench = exe
end

-- The checks before anything runs, in order; each returns a stop (usage_error, failure) or nil.
local PREFLIGHT = {
  function(run)
    if not run.args.in_process then run.self_command = self_command() end
  end,
  function(run)
    if not run.args.callgrind then return end
    local cg, stop = callgrind_module(run)
    run.cg = cg
    return stop
  end,
  function(run)
    if run.args.compare and require("quarry.cli.system").is_server_url(run.args.db) then
      return usage_error("--compare runs db_bench, RocksDB's own tool; over a server URL the native "
        .. "side is the libpq program quarry_pg_native (docs/performance.md, \"PostgreSQL backend\")")
    end
    if run.args.compare then return find_db_bench(run) end
  end,
}

-- The directory of both sides' databases (--db, or a temporary one); returns base, temporary.
local function make_base(run)
  local native = require("quarry.cli.bench.native")
  local base = run.args.db
  if require("quarry.cli.system").is_server_url(base) then
    -- a server's database: the Lua side's database is the URL itself (no db_bench side)
    run.server, run.qdir = true, base
    run.values = require("quarry.cli.bench.dbbench").values(run.args.value_size, run.args.seed)
    return nil, false
  end
  local temporary = base == nil
  if temporary then
    base = require("quarry.sys").mkdtemp("quarry-bench") -- new, mode 0700
  end
  assert(os.execute("mkdir -p " .. native.sh_quote(base)))
  run.qdir, run.ndir = base .. "/quarry", base .. "/db_bench"
  run.values = require("quarry.cli.bench.dbbench").values(run.args.value_size, run.args.seed)
  return base, temporary
end

-- The effective tuning (preset, QUARRY_DB_* environment) for db_bench's flags, into run.tuning.
local function probe_tuning(run, base)
  if run.server then
    local db = require("quarry").open(run.qdir, run.open_options)
    run.tuning = db:tuning()
    db:close()
    return
  end
  local probe_dir = base .. "/probe"
  local db = require("quarry").open(probe_dir, run.open_options)
  run.tuning = db:tuning()
  db:close()
  destroy_dir(probe_dir)
end

-- argv as printed: a server URL's password as *** (quarry.cli.system.display_path).
local function shown_argv(argv)
  local display = require("quarry.cli.system").display_path
  local out = {}
  for i, a in ipairs(argv) do out[i] = display(a) end
  return out
end

local function new_report(argv, run, notes)
  local quarry = require("quarry")
  local args = run.args
  return {
    command = "quarry bench " .. table.concat(shown_argv(argv), " "),
    date = os.date("!%Y-%m-%d %H:%M UTC"),
    machine = M.machine(),
    lua = _VERSION,
    quarry_version = quarry.version,
    rocksdb_version = quarry.rocksdb_version,
    options = { num = args.num, reads = args.reads, key_size = args.key_size,
      value_size = args.value_size,
      batch = args.batch, preset = args.preset, seed = args.seed, ["repeat"] = args["repeat"],
      plain = args.plain or false },
    tuning = run.tuning,
    notes = notes,
    results = {},
  }
end

-- The lines before the results (text output only).
local function print_preamble(out, run, notes)
  local args = run.args
  out:write(("quarry bench: num %d, key %d B, value %d B, batch %d, preset %s, %s%s\n"):format(
    args.num, args.key_size, args.value_size, args.batch, args.preset,
    args.compare and "compared with " .. run.db_bench or "Lua only",
    args["repeat"] > 1 and (", best of %d"):format(args["repeat"]) or ""))
  for _, n in ipairs(notes) do out:write("note: ", n, "\n") end
  if args.callgrind then
    out:write("instructions per operation (valgrind --tool=callgrind): each side runs with all "
      .. "its operations and with one; the difference divided by the operations:\n")
  else
    print_header(out, args.compare)
  end
  out:flush()
end

-- A read workload with nothing written before it: an unreported fillseq first, on each side.
-- run.filled says which side has data.
local function ensure_data(run, spec)
  local dbbench = require("quarry.cli.bench.dbbench")
  if spec.needs_data and not run.filled.quarry then
    run_quarry(dbbench.fillseq, "fillseq", run)
    run.filled.quarry = true
  end
  if run.args.compare and spec.native and spec.needs_data and not run.filled.native then
    run_native(dbbench.fillseq, run)
    run.filled.native = true
  end
end

-- Instructions per operation of one side ("quarry" or "native") of workload name: one operation
-- first (what opening, closing and setting up cost), then all of them.
local function count_side(run, spec, name, side)
  local cg = run.cg
  local by_reads = spec.reads == true
  local ops = by_reads and run.reads or run.num
  local sums = {}
  for pass = 0, 2 do -- 0: one operation, not counted: the first open after a fill
    -- replays its WAL into a table file, which neither counted pass should carry
    local file = require("quarry.cli.system").temp_file("callgrind.out")
    run.wrap = pass > 0 and cg.prefix(file) or nil
    local saved_num, saved_reads = run.num, run.reads
    if pass < 2 then
      if by_reads then run.reads = 1 else run.num = 1 end
    end
    local okr, rerr = pcall(function()
      if side == "quarry" then return run_quarry(spec, name, run) end
      return run_native(spec, run)
    end)
    run.num, run.reads, run.wrap = saved_num, saved_reads, nil
    if not okr then
      require("quarry.cli.system").remove_temp(file)
      error(rerr, 0)
    end
    if pass > 0 then sums[pass] = cg.read(file) end
    require("quarry.cli.system").remove_temp(file)
  end
  return cg.per_op(sums[2], sums[1], ops)
end

-- --callgrind: the record of one workload, instructions per operation of each side.
local function counted_workload(run, spec, name)
  local rec = { workload = name, ops = spec.reads == true and run.reads or run.num }
  rec.quarry_ir = count_side(run, spec, name, "quarry")
  if spec.fresh or spec.writes then run.filled.quarry = true end
  if run.args.compare and spec.native then
    rec.native_ir = count_side(run, spec, name, "native")
    if spec.fresh then run.filled.native = true end
    rec.ir_ratio = rec.native_ir.total / rec.quarry_ir.total
  end
  return rec
end

local function median(sorted)
  local m = #sorted
  return m % 2 == 1 and sorted[(m + 1) // 2] or (sorted[m // 2] + sorted[m // 2 + 1]) / 2
end

-- The record of one timed workload: the best run of each side and the median ratio.
local function timed_workload(run, spec, name)
  -- Runs alternate (Lua, db_bench, Lua, db_bench, ...) so both sides see the same moments
  -- of a shared machine; each pair gives a ratio, and the median of those is the figure:
  -- on this 2-core VM one side alone varies by 10 % from run to run, either way.
  local best_q, best_n
  local ratios = {}
  for _ = 1, run.args["repeat"] do
    local q = run_quarry(spec, name, run)
    if not best_q or q.ops_per_sec > best_q.ops_per_sec then best_q = q end
    if run.args.compare and spec.native then
      local n = run_native(spec, run)
      if not best_n or n.ops_per_sec > best_n.ops_per_sec then best_n = n end
      if n.ops_per_sec and n.ops_per_sec > 0 then
        ratios[#ratios + 1] = q.ops_per_sec / n.ops_per_sec
      end
    end
  end
  if spec.fresh or spec.writes then run.filled.quarry = true end
  if best_n and spec.fresh then run.filled.native = true end
  local rec = { workload = name, quarry = best_q, native = best_n, target = M.targets[name] }
  if #ratios > 0 then
    table.sort(ratios)
    rec.ratio = median(ratios)
    rec.ratio_min, rec.ratio_max, rec.runs = ratios[1], ratios[#ratios], #ratios
  end
  return rec
end

-- One workload's record as text, printed as soon as it is known.
local function print_record(out, run, rec, first)
  if run.cg then
    run.cg.print(out, { rec }, first)
  else
    print_side(out, rec.workload, "quarry", rec.quarry, rec)
    if rec.native then print_side(out, "", "db_bench", rec.native) end
  end
  out:flush()
end

-- Runs every workload in order into report.results.
local function run_workloads(run, specs, report, out)
  run.filled = { quarry = false, native = false }
  local measure = run.cg and counted_workload or timed_workload
  -- progress: workload k of n, drawn before each one and cleared before its record is printed
  -- (no helper process redraws it during a workload: nothing else runs beside the measurements)
  local n = #run.args.workloads
  local bar = require("quarry.cli.progress").bar({ label = "bench", total = n, unit = "workloads",
    rate = false })
  for i, name in ipairs(run.args.workloads) do
    local spec = specs[i]
    bar:update((i - 1) / n, i - 1, nil, name, true)
    local okw, rec = pcall(function()
      ensure_data(run, spec)
      return measure(run, spec, name)
    end)
    bar:done()
    if not okw then error(rec, 0) end
    report.results[#report.results + 1] = rec
    if not run.args.json then print_record(out, run, rec, i == 1) end
  end
end

-- --json, --markdown, --chart after the runs; a failure or nil.
local function write_results(run, report, out)
  local args = run.args
  if args.json then
    local json = require("quarry.json")
    setmetatable(report.notes, json.array_mt)
    out:write(json.encode(report, { indent = true }), "\n")
  end
  if run.cg then return end
  if args.markdown then
    local f = assert(io.open(args.markdown, "wb"))
    f:write(M.markdown(report))
    f:close()
  end
  if args.chart then
    local okc, cerr = M.chart(report, args.chart)
    if not okc then return failure(cerr) end
  end
end

-- others: names of the workloads with their own subcommand (quarry bench <name> --help).
function M.run(argv, others)
  local p = parser(others)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local function stop(s)
    if s.status == cli.EXIT_USAGE then
      io.stderr:write(p:get_usage(), "\n\nerror: ", s.message, "\n")
    else
      io.stderr:write("quarry bench: ", s.message, "\n")
    end
    return s.status
  end

  local bad = check_numbers(args)
  if bad then return stop(bad) end
  local specs, serr = load_specs(args)
  if not specs then return stop(serr) end
  local run = new_run(args)
  if args.child then
    local cerr = run_as_child(specs, run)
    return cerr and stop(cerr) or cli.EXIT_OK
  end
  for _, check in ipairs(PREFLIGHT) do
    local s = check(run)
    if s then return stop(s) end
  end

  local base, temporary = make_base(run)
  probe_tuning(run, base)
  local _, notes = require("quarry.cli.bench.native").flags(run.tuning, run)
  local report = new_report(argv, run, notes)
  local out = io.stdout
  if not args.json then print_preamble(out, run, notes) end
  local ok, err = pcall(run_workloads, run, specs, report, out)
  if temporary then destroy_dir(base) end
  if not ok then error(err, 0) end
  local werr = write_results(run, report, out)
  if werr then return stop(werr) end
  return cli.EXIT_OK
end

return M
