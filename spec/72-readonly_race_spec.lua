-- spec/72-readonly_race_spec.lua: read-only opens beside a writer that flushes and compacts in a
-- loop (spec/reliability/rorace.lua): the race with the writer's deletion of compacted table files
-- is retried (docs/design.md#f14), so no open reports Corruption; bounded: 200 opens or 20 s.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")

describe("read-only open beside a compacting writer", function()
  it("never reports the file-deletion race as Corruption", function()
    local dir = R.dir("rorace") .. "/db"
    local cmd = ("%s %s spec/reliability/rorace.lua"):format(R.lua_env(), R.lua)
    local w = assert(io.popen(("%s writer %s 24"):format(cmd, R.q(dir))))
    assert(w:read("l") == "ready")
    local out = R.run(("%s reader %s 200 20"):format(cmd, R.q(dir)))
    w:close()
    local s = R.summary(out, "rorace:")
    R.expect(s ~= nil, out, "no summary")
    print(s.line)
    R.expect(s.corruption == 0, out, "the race reached the user as Corruption")
    R.expect(s.other == 0, out, "another error")
    R.expect(s.ok > 0, out, "no open succeeded")
  end)
end)
