-- spec/60-crashloop_spec.lua: the CI form of the crash loop (spec/reliability/crashloop.c). A writer
-- commits numbered atomic batches across four families and prints each acknowledged number; it
-- is killed with SIGKILL at random moments; every reopen must find every acknowledged batch,
-- none torn, no gap, no altered value. The long form (500 cycles) is in docs/reliability.md.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")

local crashloop = R.crashloop

describe("crash loop (SIGKILL)", function()
  local cycles = R.sanitized and 15 or 50

  it("sync = true: every acknowledged batch survives, none torn", function()
    local s, ok, out = crashloop(("--db %s --cycles %d --sync 1"):format(
      R.q(R.dir("crash-sync") .. "/db"), cycles))
    R.expect(ok and s.result == "PASS", out, "crash loop failed")
    assert.are.equal(cycles, s.cycles)
    assert.are.equal(0, s.lost)
    assert.are.equal(0, s.torn)
    assert.are.equal(0, s.gaps)
    assert.are.equal(0, s.altered)
    assert.are.equal(0, s.open_failures)
    assert.is_true(s.acknowledged > 0)
  end)

  it("sync = false, WAL on: no torn batch, losses only a clean suffix", function()
    local s, ok, out = crashloop(("--db %s --cycles %d --sync 0 --pace-us 100 --allow-loss"):format(
      R.q(R.dir("crash-nosync") .. "/db"), math.max(10, cycles // 2)))
    R.expect(ok and s.result == "PASS", out, "crash loop failed")
    assert.are.equal(0, s.torn)
    assert.are.equal(0, s.gaps)
    assert.are.equal(0, s.altered)
    assert.are.equal(0, s.lost_earlier)
    assert.is_true(s.acknowledged > 0)
  end)

  for _, kind in ipairs({ "ckpt", "backup" }) do
    it(("SIGKILL during %s: an acknowledged copy is complete; one in flight is refused or " ..
        "complete, never damaged and accepted"):format(kind == "ckpt" and "checkpoints" or
        "backups:create"), function()
      local base = R.dir("crash-" .. kind)
      local s, ok, out = crashloop(("--db %s --%s %s --every %d --cycles %d --sync 1 --max-ms %d")
        :format(R.q(base .. "/db"), kind, R.q(base .. "/copies"), R.sanitized and 5 or 25,
          R.sanitized and 10 or 15, R.sanitized and 800 or 400))
      R.expect(ok and s.result == "PASS", out, "crash loop with copies failed")
      assert.are.equal(0, s.copies_bad)
      assert.are.equal(0, s.copies_corrupt_accepted)
      assert.are.equal(0, s.lost)
      assert.is_true(s.copies_acked > 0)
    end)
  end
end)
