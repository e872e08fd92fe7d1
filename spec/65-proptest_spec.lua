-- spec/65-proptest_spec.lua: the CI form of the property-based random-operation tester
-- (spec/reliability/proptest.lua): random sequences of the Lua API against an in-memory model.
-- The base seed is fixed (QUARRY_SPEC_SEED overrides it); a failure names it, and the failing
-- sequence's own seed: rerun with `lua5.4 spec/reliability/proptest.lua DIR 1 SEED`.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local P = require("proptest")

describe("property-based random operations", function()
  it("agrees with the model on every result", function()
    local seed = R.seed
    local ok, s = pcall(P.run, { work = R.dir("proptest"), sequences = R.sanitized and 40 or 100,
      seed = seed })
    assert(ok, tostring(s) .. "\nbase " .. require("spec.helpers").seed_note(seed))
    print(s.line)
    assert.is_true(s.ops > 0)
  end)
end)
