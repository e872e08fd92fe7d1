-- quarry bench: benchmarks, one workload per subcommand (a script, not a test). Each entry of
-- M.workloads is { summary, options = function(cmd) (adds its options), run = function(args) ->
-- exit status }; add new workloads to the table. Anything else (`quarry bench fillseq readrandom
-- --compare ...`) goes to quarry.cli.bench.suite, the db_bench workloads side by side with db_bench.
local cli = require("quarry.cli")

local M = { summary = "db_bench workloads side by side with native db_bench (--compare); migrate; chain-query" }

local sh = require("quarry.cli.system").shell_quote

local self_command = require("quarry.cli.system").self_command

M.workloads = {}
M.order = {}

local function workload(name, w)
  M.workloads[name] = w
  M.order[#M.order + 1] = name
end
M.workload = workload

---------------------------------------------------------------------------------------------------
-- migrate: gen -> time the parse alone -> migrate (load, flush, compaction) -> figures
---------------------------------------------------------------------------------------------------

workload("migrate", {
  summary = "generate a chain, time parsing it alone, then migrating it (MB/s, blocks/s, peak RSS, disk ratio)",
  options = function(c)
    c:option("--blocks", "Blocks of the generated chain", "200000"):convert(math.tointeger)
    c:option("--seed", "Seed of the generator", "42"):convert(math.tointeger)
    c:option("--dir", "Work directory (default: a fresh one under /tmp, removed after)")
    c:option("--source", "Use this dump instead of generating one")
    c:flag("--lz4", "Generate an LZ4-compressed dump (.json.lz4)")
    cli.preset_option(c, "Tuning preset of the store")
    c:option("--group", "Blocks per atomic group", "1000"):convert(math.tointeger)
    c:flag("--keep", "Keep the work directory")
    c:option("--format", "Dump format of --source (a name or FILE.lua)")
    c:option("--compare-with", "Build this git revision in a temporary worktree and run both " ..
      "migrations of one dump side by side, alternating")
    c:flag("--compare-path", "Run the Lua path and the C path of this tree side by side, alternating")
    c:option("--repeat", "Rounds of --compare-with / --compare-path", "3"):convert(math.tointeger)
    cli.output_option(c, nil, { option = "--report" })
  end,
  run = function(args)
    if args.compare_with or args.compare_path then
      return require("quarry.cli.bench.compare").run(args, self_command())
    end
    local clock = require("quarry").clock
    local migrate = require("quarry.chain.migrate")
    local dir = args.dir
    local made = false
    if not dir then
      dir = require("quarry.sys").mkdtemp("quarry-bench") -- new, mode 0700
      made = true
    end
    assert(os.execute("mkdir -p " .. sh(dir)))
    local src = args.source
    local t_gen
    if not src then
      src = dir .. (args.lz4 and "/chain.json.lz4" or "/chain.json")
      local t = clock()
      -- in a child process, so that the generator's memory is not in this process's peak RSS
      local ok = os.execute(("%s gen --blocks %d --seed %d --out %s"):format(self_command(),
        args.blocks, args.seed, sh(src)))
      if not ok then error("quarry gen failed", 0) end
      t_gen = clock() - t
    end
    local db = dir .. "/db"
    os.execute("rm -rf " .. sh(db))

    -- 1. Parse only: stream every block through the same reader, nothing else.
    local t0, c0 = clock(), os.clock()
    local r = migrate.open_source(src, args.format)
    local nblocks = 0
    local progress = require("quarry.cli.progress")
    local size = require("quarry.cli.system").file_size(src)
    local bar = progress.bar({ label = "bench migrate: parse", unit = "blocks" })
    for _ in r:each() do
      nblocks = nblocks + 1
      if nblocks % 256 == 0 then
        local pos = src:match("%.lz4$") and r.compressed_offset and r:compressed_offset() or r:offset()
        bar:update(size and size > 0 and pos / size or nil, nblocks, r:offset())
      end
    end
    bar:done()
    local parse_bytes = r:offset()
    r:close()
    local t_parse, c_parse = clock() - t0, os.clock() - c0
    collectgarbage()
    collectgarbage()

    -- 2. Migrate: validation, encoding, group commits; then flush and compaction.
    local c1 = os.clock()
    local heap = 0 -- the largest Lua heap seen (KiB), sampled as the migration goes
    bar = progress.bar({ label = "bench migrate: migrate", unit = "blocks" })
    local rep = migrate.run({ json = src, db = db, preset = args.preset, group_blocks = args.group,
      format = args.format,
      on_progress = function(s)
        heap = math.max(heap, collectgarbage("count"))
        bar:update(s.fraction, s.blocks, s.bytes)
      end })
    bar:done()
    local c_migrate = os.clock() - c1
    local rss = require("quarry.cli.system").peak_rss()
    local res = {
      source = src, source_size = rep.source_size, json_bytes = rep.json_bytes,
      blocks = rep.blocks, txs = rep.txs, utxos = rep.utxos,
      gen_seconds = t_gen,
      parse_seconds = t_parse, parse_cpu_seconds = c_parse,
      parse_mb_s = rep.json_bytes / t_parse / 1e6, parse_blocks_s = nblocks / t_parse,
      load_seconds = rep.load_seconds, migrate_seconds = rep.elapsed, migrate_cpu_seconds = c_migrate,
      migrate_mb_s = rep.json_bytes / rep.elapsed / 1e6, migrate_blocks_s = rep.blocks / rep.elapsed,
      load_mb_s = rep.json_bytes / rep.load_seconds / 1e6, load_blocks_s = rep.blocks / rep.load_seconds,
      peak_rss = rss, peak_lua_heap = math.floor(heap * 1024), db_size = rep.db_size, ratio = rep.ratio, ratio_to_file = rep.ratio_to_file,
      parse_bytes = parse_bytes, path = rep.path, format = rep.format,
    }
    if args.report == "json" then
      print(require("quarry.json").encode(res))
    else
      local B = require("quarry.cli.format").bytes
      print(("quarry bench migrate: %d blocks, %d transactions, %s of JSON (%s on disk: %s)")
        :format(res.blocks, res.txs, B(res.json_bytes), B(res.source_size), src))
      if t_gen then print(("  gen            %8.2f s"):format(t_gen)) end
      print(("  parse only     %8.2f s  %7.1f MB/s  %8.0f blocks/s  (cpu %.2f s)"):format(
        t_parse, res.parse_mb_s, res.parse_blocks_s, c_parse))
      print(("  migrate        %8.2f s  %7.1f MB/s  %8.0f blocks/s  (cpu %.2f s; load %.2f s, then flush + compaction)")
        :format(rep.elapsed, res.migrate_mb_s, res.migrate_blocks_s, c_migrate, rep.load_seconds))
      print(("  migrate/parse  %8.1f x  (the %s path, format %s)"):format(rep.elapsed / t_parse,
        rep.path == "c" and "C" or "Lua", rep.format))
      print(("  peak RSS       %s (VmHWM of this process: parse + migrate; Lua heap at most %s)")
        :format(B(rss), B(res.peak_lua_heap)))
      print(("  database       %s on disk: %.3f of the JSON, %.3f of the source file"):format(
        B(rep.db_size), rep.ratio, rep.ratio_to_file))
    end
    if made and not args.keep then
      os.execute("rm -rf " .. sh(dir))
    elseif args.report ~= "json" then
      print("  kept           " .. dir)
    end
    return cli.EXIT_OK
  end,
})

-- chain-query: the account-chain queries (quarry.cli.bench.chain_query)
workload("chain-query", require("quarry.cli.bench.chain_query"))

function M.run(argv)
  if not M.workloads[argv[1]] then -- the db_bench suite (its --help lists the workloads here too)
    return require("quarry.cli.bench.suite").run(argv, M.order)
  end
  local p = cli.parser("bench", M.summary)
  p:command_target("workload")
  for _, name in ipairs(M.order) do
    local w = M.workloads[name]
    local c = p:command(name, w.summary)
    w.options(c)
  end
  local args, status = cli.parse(p, argv)
  if not args then return status end
  return M.workloads[args.workload].run(args)
end

return M
