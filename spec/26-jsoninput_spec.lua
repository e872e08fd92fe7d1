-- 26-jsoninput: what the chain tools do with awkward JSON input, end to end through the quarry
-- command: a duplicated member name is refused naming the file and the place; one huge string
-- costs a small multiple of its size in peak RSS (measured in the child by /usr/bin/time).
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")

local sanitized = (os.getenv("LD_PRELOAD") or ""):find("libasan") ~= nil

-- Runs quarry under /usr/bin/time; returns ok, stdout, stderr, peak RSS in MiB.
local function measured(args)
  local words = { "-f", "maxrss_kb %M", helpers.quarry_bin }
  for _, a in ipairs(args) do words[#words + 1] = a end
  local status, out, err = helpers.run("/usr/bin/time", words)
  local kb = tonumber(err:match("maxrss_kb (%d+)"))
  return status == 0, out, err, kb and kb / 1024
end

describe("chain dumps with awkward JSON", function()
  after_each(helpers.collect_and_cleanup)

  it("migrate and verify --json refuse a duplicated \"amount\", naming the file and the place", function()
    local dir = helpers.tmpdir("dup")
    local src = ch.gen(dir, "chain.json", 5)
    ch.ok({ "migrate", "--json", src, "--db", dir .. "/db" })
    local text = helpers.read_file(src)
    local at = text:find('"amount":', 1, true)
    local dup = text:sub(1, at - 1) .. '"amount":1,' .. text:sub(at)
    helpers.write_file(dir .. "/dup.json", dup)
    local line = select(2, dup:sub(1, at):gsub("\n", "")) + 1
    local col = at - (dup:sub(1, at):match(".*\n()") or 1) + #'"amount":1,' + 1
    local where = ('json: %s: duplicate member "amount" at line %d, column %d (byte %d)')
      :format(dir .. "/dup.json", line, col, at - 1 + #'"amount":1,')
    local ok, code, _, err = ch.quarry({ "migrate", "--json", dir .. "/dup.json", "--db", dir .. "/db2" })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches(where, err, 1, true)
    ok, code, _, err = ch.quarry({ "verify", "--db", dir .. "/db", "--json", dir .. "/dup.json" })
    assert.is_false(ok)
    assert.matches(where, err, 1, true)
    assert.is_nil(err:find("every block equals the source", 1, true))
  end)

  it("one 50 MB string: migrate and verify --json peak below 4 x 50 MB + 100 MB", function()
    local dir = helpers.tmpdir("big")
    local src = ch.gen(dir, "chain.json", 3)
    local text = helpers.read_file(src)
    local big = text:gsub('"miner":', '"memo":"' .. string.rep("x", 50 * 1024 * 1024) .. '","miner":', 1)
    text = nil
    helpers.write_file(dir .. "/big.json", big)
    big = nil
    collectgarbage()
    local bound = 4 * 50 + 100
    local ok, out, err, mig = measured({ "migrate", "--json", dir .. "/big.json", "--db", dir .. "/db" })
    assert(ok, out .. err)
    local ok2, out2, err2, ver = measured({ "verify", "--db", dir .. "/db", "--json", dir .. "/big.json" })
    assert(ok2, out2 .. err2)
    assert.matches("every block equals the source exactly", out2, 1, true)
    if sanitized then return end -- ASan's shadow memory and quarantine are not the program's
    assert(mig < bound, ("migrate peaked at %.0f MiB (bound %d)"):format(mig, bound))
    assert(ver < bound, ("verify --json peaked at %.0f MiB (bound %d)"):format(ver, bound))
  end)
end)
