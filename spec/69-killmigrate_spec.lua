-- spec/69-killmigrate_spec.lua: `quarry migrate` killed with SIGKILL (also during --resume),
-- finished with --resume: `quarry verify` passes and the content digest equals an uninterrupted
-- migration's (spec/reliability/killmigrate.lua).
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local K = require("killmigrate")

describe("kill during quarry migrate", function()
  it("resumes to exactly the uninterrupted result", function()
    local log = {}
    local t = K.run({ build = R.build, work = R.dir("killmigrate"), cycles = R.sanitized and 2 or 4,
      blocks = 1500, seed = R.seed, log = function(l) log[#log + 1] = l end })
    print(t.line)
    local out = table.concat(log, "\n")
    R.expect(t.resume_failures == 0, out, "a resume failed")
    R.expect(t.verify_failures == 0, out, "quarry verify failed after a resume")
    R.expect(t.digest_mismatches == 0, out, "the resumed store differs from the uninterrupted one")
    assert.is_true(t.kills > 0)
  end)
end)
