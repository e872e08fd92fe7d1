-- 71-bench: `quarry bench` runs the db_bench workloads and prints output that parses (a table,
-- or JSON with --json; with --compare, db_bench's figures and the ratios). It checks that the
-- command works, never how fast anything is: the sizes are tiny and nothing is timed.
local helpers = require("spec.helpers")
local json = require("quarry.json")


-- Runs `quarry <the words of line> <more...>` with extra environment variables (name -> value)
-- and returns its exit status, stdout and stderr.
local function run_env(env, line, ...)
  local args = {}
  for w in line:gmatch("%S+") do args[#args + 1] = w end
  for _, a in ipairs({ ... }) do args[#args + 1] = a end
  return helpers.run_quarry(args, { env = env })
end

local function run(line, ...) return run_env(nil, line, ...) end

local function has(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function has_db_bench() return has("db_bench") end

-- `quarry <args> --json` (args include --compare): the decoded report, after checking that it
-- exited 0; nil (the test marked pending) when db_bench is not installed.
local function compare_report(line, ...)
  if not has_db_bench() then
    pending("db_bench (rocksdb-tools) is not installed")
    return nil
  end
  local extra = { ... }
  extra[#extra + 1] = "--json"
  local code, out, err = run(line, table.unpack(extra))
  assert.are.equal(0, code, err)
  return json.decode(out, { numbers = "float" })
end

describe("quarry bench", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
    helpers.cleanup()
  end)

  it("runs fillseq and readrandom and prints one parsable row each", function()
    local dir = helpers.tmpdir("bench")
    local code, out, err = run("bench fillseq readrandom --num 2000 --db", dir)
    assert.are.equal(0, code, err)
    local rows = {}
    for line in out:gmatch("[^\n]+") do
      local name, side, ops = line:match("^(%a+)%s+(%a+)%s+(%d+)%s")
      if name then rows[#rows + 1] = { name = name, side = side, ops = tonumber(ops) } end
    end
    assert.are.equal(2, #rows, out)
    assert.are.same({ "fillseq", "readrandom" }, { rows[1].name, rows[2].name })
    assert.are.equal("quarry", rows[1].side)
    assert.is_true(rows[1].ops > 0 and rows[2].ops > 0)
    assert.truthy(out:find("p99.9 us", 1, true))
  end)

  it("prints JSON with --json: ops, seconds, found keys, peak RSS per workload", function()
    local code, out, err = run("bench fillbatch readrandom readseq readreverse seekrandom "
      .. "multireadrandom deleterandom --num 2000 --batch 100 --json")
    assert.are.equal(0, code, err)
    local report = json.decode(out, { numbers = "float" })
    assert.are.equal(2000, report.options.num)
    assert.is_string(report.machine.cpu or "")
    assert.are.equal(7, #report.results)
    for _, r in ipairs(report.results) do
      assert.are.equal("number", type(r.quarry.ops_per_sec))
      assert.is_true(r.quarry.ops > 0, r.workload)
      assert.is_true(r.quarry.seconds > 0, r.workload)
      assert.is_string(r.quarry.api)
    end
    local by = {}
    for _, r in ipairs(report.results) do by[r.workload] = r.quarry end
    -- fillbatch wrote every key; the reads find them (random keys: all of them exist).
    assert.are.equal(2000, by.readrandom.found)
    assert.are.equal(2000, by.readseq.ops)
    assert.are.equal(2000, by.readreverse.ops)
    assert.are.equal(2000, by.seekrandom.found)
    assert.are.equal(2000, by.multireadrandom.found)
  end)

  it("compares with db_bench: its figures and the ratio for each workload", function()
    local report = compare_report("bench fillseq readrandom --num 2000 --compare")
    if not report then return end
    for _, r in ipairs(report.results) do
      assert.is_true(r.native.ops_per_sec > 0, r.workload)
      assert.is_true(r.ratio > 0, r.workload)
      assert.is_number(r.native.p50)
    end
    assert.are.equal(2000, report.results[2].native.found)
  end)

  it("runs --reads operations on a store of --num keys, on both sides", function()
    local report = compare_report("bench readrandom readseq seekrandom --num 3000 --reads 700 --compare")
    if not report then return end
    assert.are.equal(700, report.options.reads)
    for _, r in ipairs(report.results) do
      assert.are.equal(700, r.quarry.ops, r.workload)
      assert.are.equal(700, r.native.ops, r.workload)
    end
    assert.are.equal(700, report.results[1].quarry.found) -- every random key of 0..2999 exists
  end)

  it("with --repeat, reports the median of the runs' ratios and their range", function()
    local md = helpers.tmpdir("bench-md") .. "/t.md"
    local report = compare_report("bench fillseq --num 2000 --repeat 3 --compare --markdown", md)
    if not report then return end
    local r = report.results[1]
    assert.are.equal(3, r.runs)
    assert.is_true(r.ratio_min <= r.ratio and r.ratio <= r.ratio_max)
    -- the best of each side is reported beside the median ratio
    assert.is_true(r.quarry.ops_per_sec > 0 and r.native.ops_per_sec > 0)
    local text = helpers.read_file(md)
    assert.truthy(text:find(("| fillseq | `db:put` | %.0f |"):format(r.quarry.ops_per_sec), 1, true), text)
    assert.truthy(text:find(("(%.2f-%.2f)"):format(r.ratio_min, r.ratio_max), 1, true), text)
  end)

  it("writes the ratios as a PNG chart with --chart (gnuplot)", function()
    if not has_db_bench() or not has("gnuplot") then
      pending("db_bench (rocksdb-tools) or gnuplot (gnuplot-nox) is not installed")
      return
    end
    local dir = helpers.tmpdir("bench-chart")
    local png = dir .. "/ratios.png"
    local code, _, err = run("bench fillseq readrandom --num 1000 --repeat 2 --compare --chart", png)
    assert.are.equal(0, code, err)
    local data = assert(helpers.read_file(png))
    assert.are.equal("\137PNG\r\n\26\n", data:sub(1, 8))
    assert.is_true(#data > 2000)
  end)

  it("counts instructions per operation with --callgrind, by component", function()
    if not has("valgrind") then
      pending("valgrind is not installed")
      return
    end
    if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then
      pending("an AddressSanitizer build does not run under valgrind")
      return
    end
    -- 2,000 reads: the per-operation difference of two runs must outweigh the jitter of the
    -- interpreter's start (its string hash seed comes from the clock: about +-400k instructions,
    -- which made the Lua part of 200 reads come out negative on a loaded machine)
    local code, out, err = run("bench readrandom --callgrind --num 400 --reads 2000 --output json")
    assert.are.equal(0, code, err)
    local r = json.decode(out, { numbers = "float" }).results[1]
    assert.are.equal(2000, r.ops)
    local ir = r.quarry_ir
    -- every get runs RocksDB, the interpreter and the module; the parts add up to the total
    assert.is_true(ir.rocksdb > 1000 and ir.lua > 100 and ir.quarry > 50, out)
    local sum = 0
    for _, c in ipairs({ "rocksdb", "compression", "runtime", "lua", "quarry", "db_bench", "other" }) do
      sum = sum + ir[c]
    end
    assert.is_true(math.abs(sum - ir.total) < 1e-6 * ir.total + 1)
  end)

  it("keeps peak RSS within block cache + write buffers + a constant, whatever the data size", function()
    if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then
      pending("AddressSanitizer's shadow memory inflates the resident size")
      return
    end
    -- 600,000 keys of 116 bytes: about 70 MB of data, written in random order then read at
    -- random, with an 8 MB block cache and 4 MB memtables (two of them at most).
    local dir = helpers.tmpdir("bench-rss")
    local code, out, err = run_env({ QUARRY_DB_BLOCK_CACHE_MB = "8", QUARRY_DB_WRITE_BUFFER_MB = "4" },
      "bench fillrandom readrandom readseq --num 600000 --reads 300000 --json --db", dir)
    assert.are.equal(0, code, err)
    local report = json.decode(out, { numbers = "float" })
    assert.are.equal(8, report.tuning.block_cache_mb)
    assert.are.equal(4, report.tuning.write_buffer_mb)
    local bound_mb = 8 + 2 * 4 + 48 -- the constant: interpreter, module, RocksDB's own, value pool
    for _, r in ipairs(report.results) do
      assert.is_number(r.quarry.rss_kb, r.workload)
      assert.is_true(r.quarry.rss_kb / 1024 <= bound_mb,
        ("%s: peak RSS %.0f MB over %d MB"):format(r.workload, r.quarry.rss_kb / 1024, bound_mb))
    end
    assert.are.equal(300000, report.results[3].quarry.ops) -- readseq read 300,000 entries of 70 MB
  end)

  it("chain-query: migrates a generated account chain and times every kind of query", function()
    local dir = helpers.tmpdir("bench-acct")
    local code, out, err = run("bench chain-query --blocks 300 --queries 4 --range 50 --limit 5 --output json --dir", dir)
    assert.are.equal(0, code, err)
    local r = json.decode(out, { numbers = "float" })
    assert.are.equal(300, r.counts.blocks)
    assert.is_true(r.gen_seconds > 0 and r.migrate_seconds > 0)
    local names = {}
    for _, w in ipairs(r.workloads) do
      names[#names + 1] = w.name
      assert.is_true(w.queries > 0, w.name)
      assert.is_true(w.p50 <= w.p90 and w.p90 <= w.p99 and w.p99 <= w.max, w.name)
      if w.name:match("^history") then assert.is_true(w.mean_results <= 5, w.name) end
      -- the address and topic0 pairs come from logs of the store: each query finds one at least
      if w.name == "logs: address + topic0, whole chain" then assert.is_true(w.mean_results >= 1) end
    end
    assert.are.equal(10, #names, table.concat(names, "; "))
    assert.is_true(helpers.exists(dir .. "/db"))
  end)

  it("refuses unknown workloads and bad sizes with exit status 2", function()
    local code, _, err = run("bench nosuchload")
    assert.are.equal(2, code)
    assert.truthy(err:find("unknown workload 'nosuchload'", 1, true), err)
    code, _, err = run("bench fillseq --key-size 4")
    assert.are.equal(2, code)
    assert.truthy(err:find("--key-size", 1, true), err)
    code = run("bench fillseq --num 0")
    assert.are.equal(2, code)
    code, _, err = run("bench readrandom --reads 0")
    assert.are.equal(2, code)
    assert.truthy(err:find("--reads must be a positive integer", 1, true), err)
  end)

  it("lists its workloads in --help", function()
    local code, out = run("bench --help")
    assert.are.equal(0, code)
    for _, w in ipairs({ "fillseq", "readrandom", "multireadrandom", "seekrandom", "migrate" }) do
      assert.truthy(out:find(w, 1, true), w)
    end
  end)
end)
