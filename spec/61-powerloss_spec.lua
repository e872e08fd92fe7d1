-- spec/61-powerloss_spec.lua: the crash loop under the power-loss shim
-- (spec/reliability/shim_powerloss.c: writes under the database directory are held in memory until
-- fsync, so a SIGKILL also drops everything not synced, as a power cut drops the page cache).
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")

-- The crash loop with the shim loaded into the writer, on a fresh database in R.dir(name).
local function powerloss(name, args)
  return R.crashloop(("--shim %s --db %s %s"):format(R.q(R.path("librel_shim_powerloss.so")),
    R.q(R.dir(name) .. "/db"), args))
end

describe("power loss (writes held until fsync, then SIGKILL)", function()
  local cycles = R.sanitized and 10 or 30

  it("sync = true: nothing acknowledged is lost", function()
    local s, ok, out = powerloss("power-sync", ("--cycles %d --sync 1"):format(cycles))
    R.expect(ok and s.result == "PASS", out, "power-loss loop failed")
    assert.are.equal(0, s.lost)
    assert.are.equal(0, s.torn)
    assert.are.equal(0, s.gaps)
    assert.is_true(s.acknowledged > 0)
  end)

  it("sync = false: losses happen (the shim works) but never torn, never a gap", function()
    local s, ok, out = powerloss("power-nosync",
      ("--cycles %d --sync 0 --pace-us 100 --min-ms 150 --max-ms 400 --allow-loss"):format(cycles))
    R.expect(ok and s.result == "PASS", out, "power-loss loop failed")
    R.expect(s.lost > 0, out, "no acknowledged batch was lost: the shim did not hold the writes")
    assert.are.equal(0, s.torn)
    assert.are.equal(0, s.gaps)
    assert.are.equal(0, s.altered)
    assert.are.equal(0, s.lost_earlier)
  end)
end)
