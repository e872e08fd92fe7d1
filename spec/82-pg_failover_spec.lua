-- 82-pg_failover: nothing acknowledged is lost when the primary dies. A primary (fsync on: this
-- spec tests durability) with a streaming standby (pg_basebackup -R) and synchronous replication
-- (synchronous_standby_names = '*': a commit returns once the standby has flushed it); a client
-- process writes a stream of batches over the PostgreSQL backend and reports each acknowledged
-- one; the primary is killed (SIGKILL) in the middle of the stream; the standby is promoted; the
-- client reconnects to it and writes again; every acknowledged batch is there, whole, and no
-- batch is there in part. Its own servers (spec/pg_helpers.lua), not the shared test server.
local quarry = require("quarry")
local helpers = require("spec.helpers")
local pg = require("spec.pg_helpers")

-- The client: writes batch 1, 2, ... (KEYS keys each, values derived from the seed) and prints
-- "ack N" once db:write returned; on the first error prints "fail CODE MESSAGE", then reads the
-- standby's URL on stdin, opens it, writes batch "after" and prints "reconnected".
local client_source = [[
  local quarry = require("quarry")
  local url, seed, keys = os.getenv("QUARRY_SPEC_URL"), tonumber(os.getenv("QUARRY_SPEC_SEED_N")),
    tonumber(os.getenv("QUARRY_SPEC_KEYS"))
  local function value(i, j) return ("v-%d-%d-%d"):format(seed, i, j) .. ("x"):rep((i * 7 + j) % 50) end
  local db = quarry.open(url, { column_families = { "stream" } })
  local cf = db:cf("stream")
  io.write("ready\n"); io.stdout:flush()
  local i = 0
  while true do
    i = i + 1
    local ok, err = pcall(db.write, db, function(b)
      for j = 1, keys do b:put(cf, ("b%06d/%03d"):format(i, j), value(i, j)) end
    end, { sync = true })
    if not ok then
      local msg = tostring(type(err) == "table" and err.message or err):gsub("%s+", " ")
      io.write(("fail %s %s\n"):format(tostring(type(err) == "table" and err.code), msg))
      io.stdout:flush()
      break
    end
    io.write(("ack %d\n"):format(i)); io.stdout:flush()
  end
  pcall(db.close, db)
  local standby = io.read("l")
  local db2 = quarry.open(standby, { column_families = { "stream" } })
  db2:cf("stream"):put("after", "reconnected", { sync = true })
  db2:close()
  io.write("reconnected\n"); io.stdout:flush()
  io.read("l")
]]

describe("PostgreSQL failover (primary killed, standby promoted)", function()
  local why = pg.unavailable()
  if why then pending(why) return end

  after_each(function()
    pg.stop_all()
    helpers.collect_and_cleanup()
  end)

  it("keeps every acknowledged batch, whole, after the primary is killed mid-stream", function()
    local seed = helpers.seed(8201)
    local note = helpers.seed_note(seed)
    local KEYS, BEFORE_KILL = 20, 40
    local primary = pg.start({ durable = true, sync_standby = true })
    local standby = primary.standby()
    -- the standby is streaming and synchronous before the first write
    local state
    for _ = 1, 300 do
      state = primary.sql("SELECT sync_state FROM pg_stat_replication")
      if state == "sync" then break end
      os.execute("sleep 0.1")
    end
    assert.are.equal("sync", state, "the standby never became synchronous")

    primary.sql("CREATE DATABASE failover OWNER quarry_test")
    local url = primary.url_for("failover") .. "?connect_timeout=5"
    local client = helpers.spawn_lua(client_source,
      { QUARRY_SPEC_URL = url, QUARRY_SPEC_SEED_N = tostring(seed), QUARRY_SPEC_KEYS = tostring(KEYS) })
    assert.are.equal("ready", client.recv(), client.stderr())

    local acked, failure = {}, nil
    while true do
      local line = client.recv()
      assert(line, "the client ended early: " .. client.stderr() .. " " .. note)
      local n = line:match("^ack (%d+)$")
      if n then
        acked[#acked + 1] = tonumber(n)
        if #acked == BEFORE_KILL then primary.kill() end
      else
        failure = line
        break
      end
    end
    -- the client saw the loss as an error with a stable code, without the password
    assert.matches("^fail %u%a+ ", failure)
    assert.is_nil(failure:find(primary.password, 1, true), "the password appears in: " .. failure)
    assert.is_true(#acked >= BEFORE_KILL, note)

    standby.promote()
    client.send(standby.url_for("failover") .. "?connect_timeout=5")
    assert.are.equal("reconnected", client.recv(), client.stderr())
    client.send("done")
    local ok, err = client.finish()
    assert(ok, "the client failed: " .. err)

    -- every acknowledged batch is on the promoted standby, whole; nothing is there in part
    local db <close> = quarry.open(standby.url_for("failover"), { column_families = { "stream" } })
    local cf = db:cf("stream")
    assert.are.equal("reconnected", cf:get("after"))
    local count = {}
    for k, v in cf:pairs({ prefix = "b" }) do
      local i, j = k:match("^b(%d+)/(%d+)$")
      i, j = tonumber(i), tonumber(j)
      assert.are.equal(("v-%d-%d-%d"):format(seed, i, j) .. ("x"):rep((i * 7 + j) % 50), v, note)
      count[i] = (count[i] or 0) + 1
    end
    for _, i in ipairs(acked) do
      assert.are.equal(KEYS, count[i], ("acknowledged batch %d: %s of %d keys %s"):format(i,
        tostring(count[i]), KEYS, note))
    end
    for i, c in pairs(count) do
      assert.are.equal(KEYS, c, ("batch %d is there in part %s"):format(i, note))
    end
  end)
end)
