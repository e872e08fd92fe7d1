-- 83-pg_digest: the commands run unchanged over a PostgreSQL database. One generated chain is
-- migrated into a RocksDB directory and into a fresh database on the test server; the RocksDB
-- store is the oracle: the same `quarry digest` (every family and the total), the same bytes from
-- `quarry export`, the same answers from the ldb-style commands (count, scan, get), and `quarry
-- verify` passes against the source. The test role's password appears in no output.
local helpers = require("spec.helpers")

describe("the commands over PostgreSQL", function()
  if helpers.backend_pending(pending) then return end
  after_each(helpers.collect_and_cleanup)

  local function quarry_ok(args)
    local status, out, err = helpers.run_quarry(args)
    assert(status == 0, ("quarry %s failed (%d): %s%s"):format(table.concat(args, " "), status, out, err))
    if helpers.pg then
      local pw = helpers.pg_password()
      assert(not (out .. err):find(pw, 1, true), "the password appears in the output of quarry " .. args[1])
    end
    return out, err
  end

  it("gives the same digest, export and ldb-style answers as the same migration into RocksDB", function()
    local seed = helpers.seed(8001)
    local note = helpers.seed_note(seed)
    local dir = helpers.tmpdir("pgdigest")
    local dump = dir .. "/chain.json.lz4"
    quarry_ok({ "gen", "--blocks", "400", "--seed", tostring(seed), "--out", dump })
    local rdb, pgdb = dir .. "/db", helpers.backend("pgdigest")
    quarry_ok({ "migrate", "--json", dump, "--db", rdb, "--verify" })
    local report = quarry_ok({ "migrate", "--json", dump, "--db", pgdb, "--verify" })
    assert.matches("integrity     ok", report, 1, true)
    assert.matches(helpers.shown(pgdb), report, 1, true)

    local want = quarry_ok({ "digest", "--db", rdb })
    assert.matches("total %x+", want)
    assert.are.equal(want, quarry_ok({ "digest", "--db", pgdb }), note)

    local verify = quarry_ok({ "verify", "--db", pgdb, "--json", dump })
    assert.matches("checks passed", verify, 1, true)

    quarry_ok({ "export", "--db", rdb, "--json", dir .. "/from-rocksdb.json" })
    quarry_ok({ "export", "--db", pgdb, "--json", dir .. "/from-pg.json" })
    local a, b = helpers.read_file(dir .. "/from-rocksdb.json"), helpers.read_file(dir .. "/from-pg.json")
    assert.is_true(#a > 0)
    assert.is_true(a == b, "the exports differ " .. note)

    for _, args in ipairs({
      { "count", "--cf", "blocks" }, { "count", "--cf", "txs" },
      { "scan", "--cf", "meta" }, { "get", "--cf", "meta", "tip" },
    }) do
      local r = { table.unpack(args) }
      r[#r + 1], r[#r + 2] = "--db", rdb
      local p = { table.unpack(args) }
      p[#p + 1], p[#p + 2] = "--db", pgdb
      assert.are.equal(quarry_ok(r), quarry_ok(p), table.concat(args, " ") .. " " .. note)
    end
  end)
end)
