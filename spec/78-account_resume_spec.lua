-- 78-account_resume: an ethereum-rpc migration killed with SIGKILL in the middle of a group (and
-- again during --resume) finishes with --resume into exactly the store an uninterrupted
-- migration writes (every key and value of every family: spec/reliability/killmigrate.lua's
-- digest), with the groups committed before each kill kept; the dump read from a stream (stdin)
-- and from LZ4 gives the same store. The chain is the generator's (quarry gen --format
-- ethereum-rpc, fixed seed), receipts on some blocks only.
package.path = "spec/reliability/?.lua;" .. package.path
local helpers = require("spec.helpers")
local K = require("killmigrate")
local account = require("quarry.chain.account")

local SEED = helpers.seed(14)
local BLOCKS = 300

local function quarry(args, opts) return helpers.run_quarry(args, opts) end

describe("account store: resume after kill -9", function()
  local dir, dump, ref, want
  setup(function()
    dir = helpers.tmpdir("acct-resume")
    dump = dir .. "/chain.jsonl"
    local code, _, err = quarry({ "gen", "--format", "ethereum-rpc", "--blocks", tostring(BLOCKS), "--seed",
      tostring(SEED), "--receipts", "mixed", "--out", dump })
    assert.are.equal(0, code, err)
    ref = dir .. "/ref"
    code, _, err = quarry({ "migrate", "--format", "ethereum-rpc", "--json", dump, "--db", ref, "--group", "50", "--quiet" })
    assert.are.equal(0, code, err)
    want = K.digest(ref)
  end)
  teardown(helpers.cleanup)

  it("keeps the committed groups and resumes to the uninterrupted store " .. helpers.seed_note(SEED), function()
    local db = dir .. "/db"
    local args = { "migrate", "--format", "ethereum-rpc", "--json", dump, "--db", db, "--group", "50", "--quiet" }
    local code = quarry(args, { env = { QUARRY_TEST_KILL_AT = "130" } })
    assert.are.equal(128 + 9, code, "the migration was not killed")
    local s = account.open(db, { mode = "read_only" })
    assert.are.same({ 0, 99 }, { s.base, s.tip_height }) -- two groups of 50; block 100..130 never committed
    assert.is_truthy(s:meta("migrate"), "the progress marker of a running migration")
    s:close()
    -- killed again during --resume
    local resume = { table.unpack(args) }
    resume[#resume + 1] = "--resume"
    code = quarry(resume, { env = { QUARRY_TEST_KILL_AT = "170" } })
    assert.are.equal(128 + 9, code)
    s = account.open(db, { mode = "read_only" })
    assert.are.equal(149, s.tip_height)
    s:close()
    local out, err
    code, out, err = quarry(resume)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("migrated 150 blocks (150 already there)", 1, true), out)
    code, out = quarry({ "verify", "--db", db, "--json", dump })
    assert.are.equal(0, code, out)
    assert.are.equal(want, (K.digest(db)))
    s = account.open(db, { mode = "read_only" })
    assert.is_nil(s:meta("migrate"), "the marker is gone once the migration is complete")
    s:close()
  end)

  it("reports progress by groups up to the whole dump", function()
    local states = {}
    local r = require("quarry.chain.migrate").run({ json = dump, db = dir .. "/progress", format = "ethereum-rpc",
      group_blocks = 40, on_progress = function(s) states[#states + 1] = s end })
    assert.are.equal(BLOCKS, r.added)
    assert.are.equal(math.ceil(BLOCKS / 40), r.groups)
    assert.is_true(#states >= BLOCKS // 40)
    for i = 2, #states do
      assert.is_true(states[i].blocks >= states[i - 1].blocks and states[i].fraction >= states[i - 1].fraction)
    end
    assert.are.same({ BLOCKS, 1 }, { states[#states].blocks, states[#states].fraction })
  end)

  it("reads the dump from stdin and from LZ4 into the same store", function()
    local db = dir .. "/stdin"
    local code, out, err = quarry({ "migrate", "--format", "ethereum-rpc", "--json", "-", "--db", db, "--verify",
      "--group", "50" }, { stdin = helpers.read_file(dump) })
    assert.are.equal(0, code, err)
    assert.truthy(out:find("every record equals the record read from the stream (digests)", 1, true), out)
    assert.are.equal(want, (K.digest(db)))
    local lz = dir .. "/chain.jsonl.lz4"
    local json = require("quarry.json")
    helpers.write_file(lz, json.lz4_compress(helpers.read_file(dump)))
    db = dir .. "/lz4"
    code, out, err = quarry({ "migrate", "--format", "ethereum-rpc", "--json", lz, "--db", db, "--group", "50" })
    assert.are.equal(0, code, err)
    assert.truthy(out:find("migrated " .. BLOCKS .. " blocks", 1, true), out)
    assert.are.equal(want, (K.digest(db)))
    local back = dir .. "/back.jsonl"
    code, out, err = quarry({ "export", "--db", db, "--json", back })
    assert.truthy(out:find("exported " .. BLOCKS .. " blocks", 1, true), out)
    assert.are.equal(0, code, err)
    assert.are.equal(helpers.read_file(dump), helpers.read_file(back))
  end)
end)
