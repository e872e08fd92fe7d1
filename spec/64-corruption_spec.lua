-- spec/64-corruption_spec.lua: random byte flips in SST files, the MANIFEST and the WAL tail
-- (spec/reliability/corrupt.lua). Each damaged copy is reopened in a child process that reads every
-- key: damage is reported as Corruption (at open, by db:verify()/a checksummed scan, or by the
-- read), and no read ever returns bytes that were never written.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local C = require("corrupt")

describe("corruption injection", function()
  it("flipped bytes are reported, never returned as data", function()
    local log = {}
    local r = C.campaign({ build = R.build, work = R.dir("corrupt"), lua = R.lua, seed = R.seed,
      trials = R.sanitized and 6 or 15, log = function(l) log[#log + 1] = l end })
    local out = table.concat(log, "\n")
    for _, target in ipairs({ "sst", "manifest", "wal" }) do
      local c = r.by[target]
      print(c.line)
      R.expect(c.altered == 0, out, target .. ": a read returned altered data")
      R.expect(c.crashed == 0, out, target .. ": the reader crashed")
      R.expect(c.unclear == 0, out, target .. ": an error other than Corruption/IOError")
    end
    local sst = r.by.sst
    -- a damaged table file is reported naming the file
    R.expect(sst.detected_read + sst.detected_open > 0, out, "no SST damage was detected")
    R.expect(sst.named == sst.detected_read + sst.detected_open, out,
      "an SST corruption error did not name the file")
  end)

  -- RocksDB 7.8 drops a damaged record at the MANIFEST's tail (here the edit that installed the
  -- flushed table file of "blocks") like a torn write and would open without those keys (2 of 200
  -- MANIFEST trials, seed 424242; byte 239 of the 361-byte MANIFEST-000005 XOR 0xc7). The core's
  -- open-time check (docs/design.md#f13) refuses it with Corruption naming the table file.
  it("a damaged MANIFEST tail is refused at open, naming the lost table file", function()
    local dir = R.dir("manifest-tail")
    C.build(dir .. "/db")
    local f = assert(io.open(dir .. "/db/MANIFEST-000005", "r+b"))
    f:seek("set", 239)
    local b = f:read(1):byte()
    f:seek("set", 239)
    f:write(string.char(b ~ 0xc7))
    f:close()
    local out = R.run(("%s %s %s trial %s MANIFEST-000005"):format(R.lua_env(), R.lua,
      "spec/reliability/corrupt.lua", R.q(dir .. "/db")))
    R.expect(not out:find("outcome=silent_loss", 1, true), out, "flushed keys silently lost")
    R.expect(out:find("outcome=detected_open named=1", 1, true), out, "not refused naming the MANIFEST")
    R.expect(out:find("000012.sst", 1, true), out, "the lost table file is not named")
    -- nothing was deleted: the lost table file is still there for a repair
    R.expect(io.open(dir .. "/db/000012.sst", "rb") ~= nil, out, "the lost table file was deleted")
  end)
end)
