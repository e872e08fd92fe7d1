-- spec/67-oom_spec.lua: out of memory (spec/reliability/oomhost.c): a lua_State whose allocator fails
-- the Nth allocation of the workload (spec/reliability/oomworkload.lua), persistently or once, for a
-- spread of N: no crash, every handle released when the state closes (the database reopens in the
-- same process), acknowledged steps present and batches atomic. In the sanitize build the host
-- runs with LeakSanitizer on, so a leak fails the case.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")

local function oomhost(args)
  local env = R.sanitized and "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 " or ""
  local out, ok = R.run(("%s%s %s %s %s"):format(env, R.q(R.path("rel_oomhost")),
    "spec/reliability/oomworkload.lua", R.q(R.dir("oom") .. "/db"), args))
  local s = R.summary(out, "oomhost: mode=")
  R.expect(s ~= nil, out, "no summary line")
  return s, ok, out
end

describe("out of memory (failing Lua allocator)", function()
  it("fails every allocation from the Nth on: a clean error, nothing leaked or torn", function()
    local s, ok, out = oomhost(("--stride %d"):format(R.sanitized and 9 or 3))
    R.expect(ok and s.result == "PASS", out, "out-of-memory sweep failed")
    assert.is_true(s.points > 5)
    assert.are.equal(0, s.inconsistent)
    assert.are.equal(0, s.other_errors)
    assert.are.equal(s.points, s.out_of_memory)
  end)

  it("fails only the Nth allocation (Lua's emergency collection retries)", function()
    local s, ok, out = oomhost(("--once --stride %d"):format(R.sanitized and 11 or 5))
    R.expect(ok and s.result == "PASS", out, "out-of-memory sweep failed")
    assert.are.equal(0, s.inconsistent)
    assert.are.equal(0, s.other_errors)
  end)
end)
