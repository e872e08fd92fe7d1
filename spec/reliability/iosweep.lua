-- spec/reliability/iosweep.lua: the I/O-error sweep. For each injection point N of the workload in
-- spec/reliability/ioworkload.lua, runs it under spec/reliability/shim_fail.c failing the Nth watched
-- file-system call (write, pwrite, fsync, fdatasync, rename, ftruncate, fallocate, create) with
-- ENOSPC or EIO, once or persistently, then reopens without the shim and checks nothing
-- acknowledged was lost. Never an abort, always a clear quarry error.
--   lua5.4 spec/reliability/iosweep.lua BUILD_DIR WORK_DIR [--stride K] [--variants enospc-once,...]
-- Prints one line per failure found and a summary "iosweep: points=... runs=... aborts=0 ...".
package.path = "spec/reliability/?.lua;" .. package.path
local W = require("ioworkload")
local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local VARIANTS = {
  ["enospc-once"] = { errno = "ENOSPC", persist = 0 },
  ["eio-once"] = { errno = "EIO", persist = 0 },
  ["enospc-persist"] = { errno = "ENOSPC", persist = 1 },
  ["eio-persist"] = { errno = "EIO", persist = 1 },
}

local function run_child(o, n, variant, db, ackfile, countfile)
  local pre = os.getenv("LD_PRELOAD")
  pre = (pre and pre ~= "" and pre .. " " or "") .. o.build .. "/librel_shim_fail.so"
  local v = VARIANTS[variant] or VARIANTS["enospc-once"]
  local cmd = ("rm -rf %s; mkdir -p %s; LD_PRELOAD=%s QUARRY_FAIL_DIR=%s QUARRY_FAIL_N=%d " ..
    "QUARRY_FAIL_ERRNO=%s QUARRY_FAIL_PERSIST=%d QUARRY_FAIL_COUNT_FILE=%s QUARRY_FAIL_SKIP=%s " ..
    "%s %s run %s %s 2>&1")
    :format(q(db), q(db), q(pre), q(db), n, v.errno, v.persist, q(countfile), q(o.skip or ""), o.lua,
      q("spec/reliability/ioworkload.lua"), q(db), q(ackfile))
  local f = io.popen(cmd, "r")
  local out = f:read("a")
  local _, how, code = f:close()
  return out, how, code
end

local function read_count(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local calls, fails = f:read("n", "n")
  f:close()
  return calls, fails
end

-- o: {build=, work=, lua=, stride=, variants={...}, log=function(line)}
function M.sweep(o)
  o.lua = o.lua or "lua5.4"
  o.stride = o.stride or 1
  o.variants = o.variants or { "enospc-once", "eio-once", "enospc-persist", "eio-persist" }
  local log = o.log or print
  local db, ackfile, countfile = o.work .. "/db", o.work .. "/ack", o.work .. "/count"
  os.execute("mkdir -p " .. q(o.work))
  local t = { points = 0, runs = 0, aborts = 0, unclear = 0, lost = 0, altered = 0,
    unexpected = 0, reopen_failures = 0, errors_raised = 0, clean_runs = 0, injected = 0,
    errors_by_code = {} }
  -- Counting run: no failure injected; the workload must pass and be fully acknowledged.
  local out, how, code = run_child(o, 0, "enospc-once", db, ackfile, countfile)
  local total = read_count(countfile)
  if how ~= "exit" or code ~= 0 or not total then
    error("the workload fails without injected errors:\n" .. out)
  end
  local r = W.verify(db, ackfile)
  assert(r.lost == 0 and r.altered == 0 and r.unexpected == 0 and not r.open_error,
    "the workload's own check fails without injected errors")
  t.total_calls = total
  for n = 1, total, o.stride do
    t.points = t.points + 1
    for _, variant in ipairs(o.variants) do
      t.runs = t.runs + 1
      out, how, code = run_child(o, n, variant, db, ackfile, countfile)
      local _, fails = read_count(countfile)
      if fails and fails > 0 then t.injected = t.injected + 1 end
      local where = ("N=%d %s"):format(n, variant)
      if how == "signal" or (how == "exit" and code > 128) then
        t.aborts = t.aborts + 1
        log(("ABORT %s (%s %d):\n%s"):format(where, how, code, out))
      elseif code == 3 then
        t.unclear = t.unclear + 1
        log(("UNCLEAR %s:\n%s"):format(where, out))
      elseif code ~= 0 then
        t.unclear = t.unclear + 1
        log(("EXIT %d %s:\n%s"):format(code, where, out))
      end
      local c = out:match("error at step %d+ %([%w]+%): (%a+)")
      if c then
        t.errors_raised = t.errors_raised + 1
        t.errors_by_code[c] = (t.errors_by_code[c] or 0) + 1
      else
        t.clean_runs = t.clean_runs + 1
      end
      local res, msgs = W.verify(db, ackfile)
      if res.open_error then
        t.reopen_failures = t.reopen_failures + 1
        log(("REOPEN FAILED %s (acknowledged steps: %d): %s\n%s"):format(where, res.acked,
          res.open_error, out))
      end
      t.lost = t.lost + res.lost
      t.altered = t.altered + res.altered
      t.unexpected = t.unexpected + res.unexpected
      if res.lost + res.altered + res.unexpected > 0 then
        log(("DATA %s: %s\n%s"):format(where, table.concat(msgs, "; "), out))
      end
    end
  end
  local codes = {}
  for k, v in pairs(t.errors_by_code) do codes[#codes + 1] = k .. ":" .. v end
  table.sort(codes)
  t.line = ("iosweep: skip=%s calls=%d stride=%d points=%d runs=%d injected=%d errors_raised=%d (%s) " ..
    "no_error_runs=%d aborts=%d unclear=%d lost=%d altered=%d unexpected=%d reopen_failures=%d")
    :format(o.skip or "", total, o.stride, t.points, t.runs, t.injected, t.errors_raised,
      table.concat(codes, ","), t.clean_runs, t.aborts, t.unclear, t.lost, t.altered,
      t.unexpected, t.reopen_failures)
  return t
end

if arg and arg[0] and arg[0]:match("iosweep%.lua$") then
  local o = { build = arg[1], work = arg[2], lua = os.getenv("LUA") or "lua5.4" }
  local i = 3
  while arg[i] do
    if arg[i] == "--stride" then o.stride = tonumber(arg[i + 1])
    elseif arg[i] == "--skip" then o.skip = arg[i + 1]
    elseif arg[i] == "--variants" then
      o.variants = {}
      for v in arg[i + 1]:gmatch("[^,]+") do o.variants[#o.variants + 1] = v end
    end
    i = i + 2
  end
  local t0 = os.time()
  local t = M.sweep(o)
  print(t.line .. (" seconds=%d"):format(os.time() - t0))
  os.exit((t.aborts + t.unclear + t.lost + t.altered + t.unexpected + t.reopen_failures) == 0, true)
end
return M
