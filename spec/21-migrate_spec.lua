-- 21-migrate: the chain tools end to end through the quarry command: gen -> migrate -> verify ->
-- export -> migrate with identical databases, LZ4 in and out, invalid chains refused with nothing
-- of the offending group written, SIGKILL mid-way then --resume, the disk budget.
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")
local json = require("quarry.json")
local chain = require("quarry.chain")

local function tip_of(db)
  local store = chain.open_reader(db)
  local tip = store:tip()
  local marker = store:meta("migrate")
  store:close()
  return tip, marker
end

describe("quarry migrate", function()
  after_each(helpers.collect_and_cleanup)

  it("gen -> migrate -> verify -> export -> migrate gives identical databases and the same JSON", function()
    local dir = helpers.tmpdir("rt")
    local src = ch.gen(dir, "chain.json", 400)
    local out = ch.ok({ "migrate", "--json", src, "--db", dir .. "/db", "--verify" })
    assert.matches("migrated 400 blocks", out)
    assert.matches("integrity     ok", out)
    local v = ch.ok({ "verify", "--db", dir .. "/db", "--json", src })
    assert.matches("all 13 checks passed", v)
    assert.matches("ok   source", v)
    ch.ok({ "export", "--db", dir .. "/db", "--json", dir .. "/back.json" })
    -- gen writes compact JSON in the reference key order: the export is the same file, byte for byte
    assert.equal(helpers.read_file(src), helpers.read_file(dir .. "/back.json"))
    ch.ok({ "migrate", "--json", dir .. "/back.json", "--db", dir .. "/db2" })
    local d1, per1 = ch.digest(dir .. "/db")
    local d2, per2 = ch.digest(dir .. "/db2")
    assert.same(per1, per2)
    assert.equal(d1, d2)
  end)

  it("keeps unknown fields and odd types through migrate and export (semantically identical)", function()
    local dir = helpers.tmpdir("fx")
    local src = ch.fixtures .. "/small.json"
    ch.ok({ "migrate", "--json", src, "--db", dir .. "/db", "--verify" })
    for _, name in ipairs({ "back.json", "back.jsonl", "back-array.json.lz4" }) do
      local args = { "export", "--db", dir .. "/db", "--json", dir .. "/" .. name }
      if name:match("array") then args[#args + 1] = "--format"; args[#args + 1] = "array" end
      ch.ok(args)
      local a, ha = ch.read_blocks(src)
      local b, hb = ch.read_blocks(dir .. "/" .. name)
      assert.equal(#a, #b)
      for i = 1, #a do assert.equal(ch.encode(a[i]), ch.encode(b[i])) end
      if name == "back.json" then
        assert.equal(ch.encode(ha), ch.encode(hb))
        assert.equal(json.encode(json.decode(helpers.read_file(src))),
          json.encode(json.decode(helpers.read_file(dir .. "/back.json"))))
      end
    end
    -- and back in again: the same data
    ch.ok({ "migrate", "--json", dir .. "/back.jsonl", "--db", dir .. "/db2", "--verify" })
    assert.same(select(2, ch.digest(dir .. "/db", ch.DATA)), select(2, ch.digest(dir .. "/db2", ch.DATA)))
  end)

  it("reads and writes LZ4 frames", function()
    local dir = helpers.tmpdir("lz4")
    local plain = ch.gen(dir, "chain.json", 300)
    local packed = ch.gen(dir, "chain.json.lz4", 300)
    assert.equal("\x04\x22\x4d\x18", helpers.read_file(packed):sub(1, 4)) -- LZ4 frame magic
    assert.is_true(#helpers.read_file(packed) < #helpers.read_file(plain))
    ch.ok({ "migrate", "--json", packed, "--db", dir .. "/db", "--verify" })
    ch.ok({ "migrate", "--json", plain, "--db", dir .. "/dbp" })
    assert.equal(ch.digest(dir .. "/dbp"), ch.digest(dir .. "/db"))
    ch.ok({ "verify", "--db", dir .. "/db", "--json", packed })
    ch.ok({ "export", "--db", dir .. "/db", "--json", dir .. "/back.json.lz4" })
    assert.equal("\x04\x22\x4d\x18", helpers.read_file(dir .. "/back.json.lz4"):sub(1, 4))
    assert.equal(helpers.read_file(plain), json.lz4_decompress(helpers.read_file(dir .. "/back.json.lz4")))
    ch.ok({ "migrate", "--json", dir .. "/back.json.lz4", "--db", dir .. "/db2" })
    assert.equal(ch.digest(dir .. "/db"), ch.digest(dir .. "/db2"))
  end)

  it("prints the report as JSON with --report json", function()
    local dir = helpers.tmpdir("rep")
    local src = ch.gen(dir, "chain.json", 100)
    local out = ch.ok({ "migrate", "--json", src, "--db", dir .. "/db", "--report", "json", "--verify" })
    local r = json.decode(out)
    assert.equal(100, r.blocks)
    assert.equal(100, r.added)
    assert.equal(0, r.base)
    assert.equal(99, r.tip)
    assert.is_true(r.txs > 100)
    assert.is_true(r.utxos > 0)
    assert.is_true(r.supply > 0)
    assert.is_true(r.db_size > 0)
    assert.equal(#helpers.read_file(src), r.json_bytes)
    assert.is_true(r.verify.ok)
    assert.is_true(r.verify.checks.utxo.ok)
  end)

  it("keeps the database at most half the size of the generated sample's JSON", function()
    local dir = helpers.tmpdir("ratio")
    local src = dir .. "/chain.json.lz4"
    ch.ok({ "gen", "--blocks", "2000", "--seed", "42", "--out", src })
    local r = json.decode(ch.ok({ "migrate", "--json", src, "--db", dir .. "/db", "--report", "json" }))
    local ratio = r.ratio:value()
    assert.is_true(ratio <= 0.5, "ratio " .. tostring(r.ratio))
    assert.near(r.db_size / r.json_bytes, ratio, 1e-9)
  end)

  it("refuses a non-empty database without --resume", function()
    local dir = helpers.tmpdir("ne")
    local src = ch.gen(dir, "chain.json", 50)
    ch.ok({ "migrate", "--json", src, "--db", dir .. "/db" })
    local before = ch.digest(dir .. "/db")
    local ok, code, _, err = ch.quarry({ "migrate", "--json", src, "--db", dir .. "/db" })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("already holds blocks 0..49: use --resume", err, 1, true)
    assert.equal(before, ch.digest(dir .. "/db"))
    -- --resume on a complete migration: nothing to add, the same database
    local out = ch.ok({ "migrate", "--json", src, "--db", dir .. "/db", "--resume" })
    assert.matches("migrated 0 blocks (50 already there)", out, 1, true)
    assert.equal(before, ch.digest(dir .. "/db"))
  end)

  it("refuses to resume from a different chain", function()
    local dir = helpers.tmpdir("other")
    local a = ch.gen(dir, "a.json", 30)
    local b = dir .. "/b.json"
    ch.ok({ "gen", "--blocks", "40", "--seed", "8", "--out", b })
    ch.ok({ "migrate", "--json", a, "--db", dir .. "/db" })
    local ok, code, _, err = ch.quarry({ "migrate", "--json", b, "--db", dir .. "/db", "--resume" })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("not the same chain", err)
  end)

  it("exits 2 on bad usage", function()
    local ok, code = ch.quarry({ "migrate", "--json", "x.json" })
    assert.is_false(ok)
    assert.equal(2, code)
    ok, code = ch.quarry({ "migrate", "--json", "x", "--db", "y", "--group", "0" })
    assert.equal(2, code)
  end)

  describe("invalid chains", function()
    -- Each kind of invalid block, at height 70 of a generated chain: what to change, the message,
    -- and false when the message names no transaction (block-level faults).
    local D = 70
    local kinds = {
      { "a broken link", function(b) b.previous_hash = string.rep("0", 64) end, "block 70: broken link", false },
      { "a gap", function(b) b.index = 71 end, "block 71: gap: expected height 70 after 69", false },
      { "a duplicate height", function(b) b.index = 69 end, "block 69: duplicate height", false },
      { "a duplicate transaction", function(b, blocks)
        b.transactions[1].id = blocks[60].transactions[1].id
      end, "duplicate transaction id (already in block 59)" },
      { "a double spend", function(b, blocks)
        local spent = blocks[61].transactions[2].inputs[1]
        b.transactions[2].inputs[1] = ch.copy(spent)
      end, "double spend of" },
      { "a spend of a missing output", function(b)
        b.transactions[2].inputs[1].output_index = 99
      end, "spend of a missing output" },
      { "outputs exceeding inputs", function(b)
        local outs = b.transactions[2].outputs
        outs[1].amount = outs[1].amount + (1 << 40)
      end, "exceed inputs" },
    }
    -- One good dump and one clean migration of its blocks 0..49, shared by the cases.
    local gdir, good, blocks, header, clean_data
    setup(function()
      -- not a helpers.tmpdir: after_each removes those
      local name = os.tmpname()
      os.remove(name)
      gdir = (os.getenv("QUARRY_TEST_TMP") or "/tmp") .. "/quarry-spec/good-" .. name:match("[^/]+$")
      assert(os.execute("mkdir -p " .. helpers.shell_quote(gdir)))
      good = ch.gen(gdir, "good.json", 120)
      blocks, header = ch.read_blocks(good)
      local prefix = ch.write_blocks(gdir .. "/prefix.json", table.move(blocks, 1, 50, 1, {}), header)
      ch.ok({ "migrate", "--json", prefix, "--db", gdir .. "/clean" })
      clean_data = select(2, ch.digest(gdir .. "/clean", ch.DATA))
    end)
    teardown(function() helpers.rmrf(gdir) end)

    for _, kind in ipairs(kinds) do
      it("refuses " .. kind[1] .. ", naming the block and transaction, writing nothing of its group", function()
        local dir = helpers.tmpdir("bad")
        assert.is_true(#blocks[D + 1].transactions >= 2, "the generated block needs a spend")
        local bad = {}
        for i, b in ipairs(blocks) do bad[i] = ch.copy(b) end
        kind[2](bad[D + 1], blocks)
        local badfile = ch.write_blocks(dir .. "/bad.json", bad, header)

        -- Groups of 25: 0-24 and 25-49 commit, the group of 50-74 is refused whole.
        local ok, code, _, err = ch.quarry({ "migrate", "--json", badfile, "--db", dir .. "/db", "--group", "25" })
        assert.is_false(ok)
        assert.equal(1, code)
        assert.matches(kind[3], err, 1, true)
        assert.matches("--resume", err, 1, true)
        local tx_named = err:match(" tx (%S+)")
        if kind[4] ~= false then
          assert.is_not_nil(tx_named, "the message names the transaction: " .. err)
        end
        local tip, marker = tip_of(dir .. "/db")
        assert.equal(49, tip)
        assert.is_not_nil(marker)
        ch.ok({ "verify", "--db", dir .. "/db" })
        -- the same data as a clean migration of blocks 0..49
        assert.same(clean_data, select(2, ch.digest(dir .. "/db", ch.DATA)))

        -- Resuming with the default group (everything after 49 in one group): nothing changes at all.
        local before = ch.digest(dir .. "/db")
        ok, code, _, err = ch.quarry({ "migrate", "--json", badfile, "--db", dir .. "/db", "--resume" })
        assert.equal(1, code)
        assert.matches(kind[3], err, 1, true)
        assert.equal(before, ch.digest(dir .. "/db"))
        -- and the good dump completes it
        ch.ok({ "migrate", "--json", good, "--db", dir .. "/db", "--resume" })
        assert.equal(119, (tip_of(dir .. "/db")))
      end)
    end

    it("refuses malformed JSON with its line, column and offset, keeping the groups before", function()
      local dir = helpers.tmpdir("malformed")
      local src = ch.gen(dir, "chain.json", 60)
      local text = helpers.read_file(src)
      local cut = text:find('{"index":40,', 1, true)
      helpers.write_file(dir .. "/broken.json", text:sub(1, cut + 30) .. "%%%" .. text:sub(cut + 31))
      local ok, code, _, err = ch.quarry({ "migrate", "--json", dir .. "/broken.json", "--db", dir .. "/db", "--group", "10" })
      assert.is_false(ok)
      assert.equal(1, code)
      assert.matches("line 42", err, 1, true)
      local tip = tip_of(dir .. "/db")
      assert.equal(39, tip)
      ch.ok({ "verify", "--db", dir .. "/db" })
    end)
  end)

  describe("a migration killed with SIGKILL", function()
    local function reference(dir, src)
      ch.ok({ "migrate", "--json", src, "--db", dir .. "/ref" })
      return ch.digest(dir .. "/ref")
    end

    it("mid-group resumes to the same database as an uninterrupted run", function()
      local dir = helpers.tmpdir("kill")
      local src = ch.gen(dir, "chain.json.lz4", 600)
      local ref = reference(dir, src)
      -- The test hook sends SIGKILL to the migration itself while block 333 is pending in its group.
      local ok, code = ch.quarry({ "migrate", "--json", src, "--db", dir .. "/db", "--group", "50" },
        { QUARRY_TEST_KILL_AT = "333" })
      assert.is_false(ok)
      assert.is_true(code == 137 or code == 9, "exit " .. tostring(code)) -- SIGKILL (128 + 9 through a shell)
      local tip, marker = tip_of(dir .. "/db")
      assert.equal(299, tip)
      assert.matches('"state":"running"', marker, 1, true)
      assert.matches('"tip":299', marker, 1, true)
      local out = ch.ok({ "migrate", "--json", src, "--db", dir .. "/db", "--resume", "--verify", "--group", "50" })
      assert.matches("migrated 300 blocks (300 already there)", out, 1, true)
      assert.equal(ref, ch.digest(dir .. "/db"))
    end)

    it("from outside, at whatever point it has reached, resumes to the same database", function()
      local dir = helpers.tmpdir("killx")
      local src = ch.gen(dir, "chain.json", 600)
      local ref = reference(dir, src)
      local db = dir .. "/db"
      local q = helpers.shell_quote
      -- Start it in the background (slowed down a little per block so it is surely mid-way).
      local p = assert(io.popen(("QUARRY_TEST_DELAY=0.004 %s migrate --json %s --db %s --group 20 >%s 2>&1 & echo $!")
        :format(q(ch.bin), q(src), q(db), q(dir .. "/log"))))
      local pid = assert(tonumber(p:read("l")))
      p:close()
      local progress = require("quarry.cli.progress")
      local tip
      local deadline = progress.now() + 60
      repeat
        progress.sleep(0.05)
        local okt, t = pcall(tip_of, db)
        tip = okt and t or nil
      until (tip and tip >= 100) or progress.now() > deadline
      assert.is_true(os.execute("kill -KILL " .. pid))
      -- wait until it is gone (or a zombie): its lock is released
      repeat
        progress.sleep(0.02)
        local st = helpers.read_file("/proc/" .. pid .. "/stat")
      until st == nil or st:match("^%d+ %b() Z")
      local killed_at = tip_of(db)
      assert.is_true(killed_at >= 100 and killed_at < 599, "killed at " .. tostring(killed_at))
      ch.ok({ "migrate", "--json", src, "--db", db, "--resume" })
      assert.equal(ref, ch.digest(db))
      ch.ok({ "verify", "--db", db, "--json", src })
    end)
  end)
end)
