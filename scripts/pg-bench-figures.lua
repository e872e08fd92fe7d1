-- pg-bench-figures.lua: measures the figures of docs/performance.md ("PostgreSQL backend"):
-- `quarry bench` over a PostgreSQL URL side by side with quarry_pg_native (the same statements
-- through libpq alone, scripts/quarry/cli/bench/pg_native.c), and `quarry bench` over RocksDB
-- for scale. Starts a server of its own (scripts/pg-server.sh: loopback, fsync=off; both sides
-- run with synchronous_commit = off, the backend's default). Each round runs every workload on
-- both sides back to back (Quarry first in odd rounds, native first in even ones, so that a drift
-- of the machine's load weighs on both), each side in its own schema of one database: a read
-- workload reads what the side's earlier workloads wrote (`quarry bench` runs an unreported
-- fillseq first when one invocation has written nothing). Prints a Markdown table: each side's
-- best ops/s, the ratio Quarry/native as the median of the rounds' ratios with their range, and
-- RocksDB's best; stops the server. A measurement, not a test.
--
-- Usage: build/quarry run scripts/pg-bench-figures.lua [NUM [ROUNDS]]   (default 20000, 3)
local json = require("quarry.json")

local num, rounds = tonumber(arg[1] or 20000), tonumber(arg[2] or 3)
local build = os.getenv("QUARRY_BUILD_DIR") or "build"
local WORKLOADS = { "fillseq", "fillrandom", "fillbatch", "readrandom", "multireadrandom", "readseq",
  "readreverse", "seekrandom", "deleterandom" }

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "failed: " .. cmd:gsub("postgresql://[^ ']*", "URL") .. "\n" .. out)
  return (out:gsub("%s+$", ""))
end

local dir = capture("bash scripts/pg-server.sh start")
local ok, err = pcall(function()
  local url = capture("bash scripts/pg-server.sh url " .. q(dir))
  local admin = capture("bash scripts/pg-server.sh admin " .. q(dir))
  capture(("%s -X -q -d %s -c 'CREATE DATABASE bench OWNER quarry_test'"):format(
    q(capture("pg_config --bindir") .. "/psql"), q(admin)))
  local burl = url:gsub("/[^/]*$", "/bench")
  local best = { quarry = {}, native = {}, rocksdb = {} }
  local this = { quarry = {}, native = {} } -- this round's ops/s
  local ratios = {}
  local function keep(side, w, ops)
    if not best[side][w] or ops > best[side][w] then best[side][w] = ops end
    if this[side] then this[side][w] = ops end
  end
  local function quarry_side(w)
    local doc = json.decode(capture(("%s/quarry bench %s --num %d --db %s --output json 2>/dev/null"):format(
      build, w, num, q(burl))), { numbers = "float" })
    keep("quarry", w, doc.results[1].quarry.ops_per_sec)
  end
  local function native_side(w)
    local line = capture(("%s/quarry_pg_native %s %s %d"):format(build, q(burl), w, num))
    keep("native", w, tonumber(line:match("^%S+ %S+ %S+ (%S+)")))
  end
  for round = 1, rounds do
    io.stderr:write(("round %d/%d\n"):format(round, rounds))
    for _, w in ipairs(WORKLOADS) do
      if round % 2 == 1 then quarry_side(w) native_side(w) else native_side(w) quarry_side(w) end
      ratios[w] = ratios[w] or {}
      table.insert(ratios[w], this.quarry[w] / this.native[w])
    end
    local doc = json.decode(capture(("%s/quarry bench %s --num %d --output json 2>/dev/null"):format(
      build, table.concat(WORKLOADS, " "), num)), { numbers = "float" })
    for _, r in ipairs(doc.results) do keep("rocksdb", r.workload, r.quarry.ops_per_sec) end
  end
  print("| workload | Quarry over PostgreSQL ops/s | native libpq ops/s | ratio Quarry/native (median, range) | Quarry over RocksDB ops/s |")
  print("|---|---|---|---|---|")
  for _, w in ipairs(WORKLOADS) do
    local r = ratios[w]
    table.sort(r)
    local med = #r % 2 == 1 and r[(#r + 1) // 2] or (r[#r // 2] + r[#r // 2 + 1]) / 2
    print(("| %s | %.0f | %.0f | %.2f (%.2f-%.2f) | %.0f |"):format(w, best.quarry[w], best.native[w],
      med, r[1], r[#r], best.rocksdb[w]))
  end
end)
capture("bash scripts/pg-server.sh stop " .. q(dir))
if not ok then error(err, 0) end
