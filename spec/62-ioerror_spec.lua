-- spec/62-ioerror_spec.lua: the CI form of the I/O-error sweep (spec/reliability/iosweep.lua with
-- spec/reliability/shim_fail.c): the Nth file-system call under the database directory fails with
-- ENOSPC or EIO, once or persistently, for a spread of N over the whole workload. Never an abort,
-- always a quarry error IOError/NoSpace, nothing acknowledged lost after reopen.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local sweep = require("iosweep")

describe("I/O error sweep", function()
  it("fails the Nth write/pwrite/fsync/fdatasync/rename/ftruncate/fallocate/create: no abort, " ..
     "a clear error, nothing acknowledged lost", function()
    local log = {}
    local t = sweep.sweep({
      build = R.build, work = R.dir("iosweep"), lua = R.lua,
      stride = R.sanitized and 37 or 19,
      variants = { "enospc-once", "eio-persist" },
      log = function(l) log[#log + 1] = l end,
    })
    print(t.line)
    local out = table.concat(log, "\n")
    R.expect(t.points > 10, out, "too few injection points")
    R.expect(t.aborts == 0, out, "the process aborted")
    R.expect(t.unclear == 0, out, "an error was not IOError/NoSpace")
    R.expect(t.lost == 0 and t.altered == 0 and t.unexpected == 0, out, "data lost or altered")
    R.expect(t.reopen_failures == 0, out, "the database did not reopen")
    R.expect(t.errors_raised > 0, out, "no injected failure surfaced as an error")
  end)

  -- Regression (docs/reliability.md, finding 1): with a size-rolled info LOG, RocksDB wrote the
  -- options dump into it whatever the level, and after one failed LOG write the next aborted the
  -- process, so quarry.open on a full disk died instead of raising NoSpace.
  it("open on a full disk raises NoSpace (the first write fails)", function()
    local dir = R.dir("log-abort")
    local cmd = ("LD_PRELOAD=%s QUARRY_FAIL_DIR=%s QUARRY_FAIL_OPS=write QUARRY_FAIL_N=1 " ..
      "QUARRY_FAIL_PERSIST=1 %s %s -e %s"):format(
      R.q(((os.getenv("LD_PRELOAD") or "") .. " " .. R.path("librel_shim_fail.so"))),
      R.q(dir), R.lua_env(), R.lua, R.q(([[
        local q = require("quarry")
        local ok, e = pcall(q.open, %q, { column_families = { "a", "b" } })
        assert(not ok and q.is_error(e) and e.code == "NoSpace", tostring(e))
        print("clean NoSpace")]]):format(dir)))
    local out, ok = R.run(cmd)
    R.expect(ok and out:find("clean NoSpace", 1, true), out, "open on a full disk did not raise NoSpace")
  end)
end)
