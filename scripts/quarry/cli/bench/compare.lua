-- quarry.cli.bench.compare: `quarry bench migrate --compare-with REV` and `--compare-path`: two
-- migrations of one dump side by side, in alternating child processes (A B A B ...), each
-- running `quarry bench migrate --source DUMP --report json` of its own tree (parse only with
-- its reader, then the migration, peak RSS of the process); prints each side's median figures
-- and the median of the per-round ratios. REV is built in a temporary worktree (git worktree add
-- into a new private directory, cmake there), removed afterwards unless --keep.
local cli = require("quarry.cli")
local system = require("quarry.cli.system")
local json = require("quarry.json")

local sh = system.shell_quote
local M = {}

local function run_ok(cmd, what)
  local ok = os.execute(cmd)
  if not ok then error(("bench migrate: %s failed: %s"):format(what, cmd), 0) end
end

-- A directory inside the checkout this module runs from (for git -C): its own.
local function source_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  return src:match("^(.*)/[^/]*$") or "."
end

-- Builds revision rev of the checkout in dir (dir/src: a detached worktree, dir/build: its
-- build); returns the command running its quarry.
local function build_rev(rev, dir, log)
  local root = source_root()
  run_ok(("git -C %s worktree add --detach %s %s >>%s 2>&1"):format(sh(root), sh(dir .. "/src"), sh(rev),
    sh(log)), "git worktree add " .. rev .. " (see " .. log .. ")")
  run_ok(("nice -n 10 cmake -S %s -B %s -DCMAKE_BUILD_TYPE=RelWithDebInfo >>%s 2>&1"):format(
    sh(dir .. "/src"), sh(dir .. "/build"), sh(log)), "cmake (see " .. log .. ")")
  run_ok(("nice -n 10 cmake --build %s -j2 >>%s 2>&1"):format(sh(dir .. "/build"), sh(log)),
    "building " .. rev .. " (see " .. log .. ")")
  return sh(dir .. "/build/quarry")
end

local function remove_worktree(dir)
  os.execute(("git -C %s worktree remove --force %s >/dev/null 2>&1"):format(sh(source_root()),
    sh(dir .. "/src")))
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

-- One run of side (a table { name, cmd, env }): the json report of its bench migrate.
local function run_side(side, src, dir, args)
  local work = dir .. "/run"
  os.execute("rm -rf " .. sh(work))
  -- --report json: what every revision's bench migrate accepts (later ones say --output)
  local cmd = ("%s%s bench migrate --source %s --dir %s --report json%s%s 2>/dev/null"):format(
    side.env and (side.env .. " ") or "", side.cmd, sh(src), sh(work),
    args.format and (" --format " .. sh(args.format)) or "",
    args.group and (" --group " .. args.group) or "")
  local p = io.popen(cmd, "r")
  local out = p:read("a")
  local ok = p:close()
  if not ok then error(("bench migrate: %s failed: %s\n%s"):format(side.name, cmd, out), 0) end
  local last
  for line in out:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then last = line end
  end
  if not last then error(("bench migrate: %s printed no report: %s\n%s"):format(side.name, cmd, out), 0) end
  local r = json.decode(last)
  for k, v in pairs(r) do -- figures as Lua numbers (json.number keeps the text of a fraction)
    if getmetatable(v) == json.number_mt then r[k] = tonumber(v.text) end
  end
  return r
end

-- compare.run(args, self_command) -> exit status
function M.run(args, self_command)
  local dir = args.dir or require("quarry.sys").mkdtemp("quarry-bench-cmp")
  assert(os.execute("mkdir -p " .. sh(dir)))
  local log = dir .. "/build.log"
  local ok, err = pcall(function()
    local sides = {}
    if args.compare_with then
      io.stderr:write(("bench migrate: building %s in %s/src (log %s)\n"):format(args.compare_with, dir, log))
      sides[1] = { name = args.compare_with, cmd = build_rev(args.compare_with, dir, log) }
      sides[2] = { name = "this tree", cmd = self_command }
    else
      sides[1] = { name = "Lua path", cmd = self_command, env = "QUARRY_MIGRATE_PATH=lua" }
      sides[2] = { name = "C path", cmd = self_command, env = "QUARRY_MIGRATE_PATH=c" }
    end
    local src = args.source
    if not src then
      src = dir .. "/chain.json"
      run_ok(("%s gen --blocks %d --seed %d --out %s >/dev/null"):format(self_command, args.blocks,
        args.seed, sh(src)), "quarry gen")
    end
    local res = { {}, {} }
    local rounds = args["repeat"] or 3
    for round = 1, rounds do
      for i = 1, 2 do
        local r = run_side(sides[i], src, dir, args)
        res[i][round] = r
        io.stderr:write(("bench migrate: round %d/%d %-12s load %.2f s (%.0f blocks/s), parse %.2f s, peak RSS %.1f MiB\n")
          :format(round, rounds, sides[i].name, r.load_seconds, r.load_blocks_s, r.parse_seconds,
            r.peak_rss / 1048576))
      end
    end
    local function col(i, k)
      local t = {}
      for round = 1, rounds do t[round] = res[i][round][k] end
      return t
    end
    local function ratios(k, inverse)
      local t = {}
      for round = 1, rounds do
        local a, b = res[1][round][k], res[2][round][k]
        t[round] = inverse and a / b or b / a
      end
      return t
    end
    local summary = { source = src, rounds = rounds, sides = {} }
    for i = 1, 2 do
      summary.sides[i] = { name = sides[i].name, blocks = res[i][1].blocks,
        load_seconds = median(col(i, "load_seconds")), load_blocks_s = median(col(i, "load_blocks_s")),
        migrate_seconds = median(col(i, "migrate_seconds")), migrate_blocks_s = median(col(i, "migrate_blocks_s")),
        parse_seconds = median(col(i, "parse_seconds")), peak_rss = median(col(i, "peak_rss")),
        db_size = res[i][1].db_size }
      summary.sides[i].load_over_parse = median((function()
        local t = {}
        for round = 1, rounds do t[round] = res[i][round].load_seconds / res[i][round].parse_seconds end
        return t
      end)())
    end
    local rl = ratios("load_blocks_s")
    local rm = ratios("migrate_blocks_s")
    summary.ratio_load, summary.ratio_load_min, summary.ratio_load_max = median(rl), math.min(table.unpack(rl)),
      math.max(table.unpack(rl))
    summary.ratio_migrate = median(rm)
    if args.report == "json" then
      print(json.encode(summary))
      return
    end
    local B = require("quarry.cli.format").bytes
    print(("quarry bench migrate: %s, %d blocks, %d alternating rounds (medians)"):format(src,
      summary.sides[1].blocks, rounds))
    print(("  %-14s %10s %10s %12s %12s %10s %11s %10s"):format("side", "load s", "blocks/s",
      "with flush s", "blocks/s", "parse s", "load/parse", "peak RSS"))
    for i = 1, 2 do
      local s = summary.sides[i]
      print(("  %-14s %10.2f %10.0f %12.2f %12.0f %10.2f %10.2fx %10s"):format(s.name, s.load_seconds,
        s.load_blocks_s, s.migrate_seconds, s.migrate_blocks_s, s.parse_seconds, s.load_over_parse,
        B(s.peak_rss)))
    end
    print(("  ratio %s / %s: %.2fx blocks/s while loading (rounds %.2f-%.2f), %.2fx with flush and compaction")
      :format(sides[2].name, sides[1].name, summary.ratio_load, summary.ratio_load_min,
        summary.ratio_load_max, summary.ratio_migrate))
  end)
  if args.compare_with and not args.keep then remove_worktree(dir) end
  if not args.dir and not args.keep then os.execute("rm -rf " .. sh(dir)) end
  if not ok then error(err, 0) end
  return cli.EXIT_OK
end

return M
