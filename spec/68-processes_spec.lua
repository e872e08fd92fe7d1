-- spec/68-processes_spec.lua: two processes on one database. While rel_writer commits numbered
-- batches across four families: a second writer gets Locked with a message naming the way in
-- (read_only / secondary); read-only and secondary readers keep reading consistent views (no
-- batch torn across families) while the writer runs and after it is killed with SIGKILL; the
-- database opens for writing again once the writer is gone.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local quarry = require("quarry")

local FAMILIES = { "f0", "f1", "f2", "f3" }

local function be64(s) return (string.unpack(">I8", s)) end

-- The view of one handle: the "last" of each family must agree, and match the highest batch key.
local function consistent_view(db)
  local last
  for _, f in ipairs(FAMILIES) do
    local cf = db:cf(f)
    local v = cf:get("last")
    local n = v and be64(v) or 0
    local top = 0
    for k in cf:pairs({ prefix = "b", reverse = true, limit = 1, keys_only = true }) do
      top = be64(k:sub(2))
    end
    assert.are.equal(n, top, "family " .. f .. ": last " .. n .. " but highest batch " .. top)
    if last then assert.are.equal(last, n, "batch torn across families") end
    last = n
  end
  return last
end

local function sleep(s) os.execute("sleep " .. s) end

describe("two processes", function()
  it("Locked for a second writer; read-only and secondary readers survive a killed writer", function()
    local dir = R.dir("procs")
    local db_path = dir .. "/db"
    local log = dir .. "/writer.log"
    local p = io.popen(("%s %s --sync 1 --pace-us 200 > %s 2>&1 & echo $!"):format(
      R.q(R.path("rel_writer")), R.q(db_path), R.q(log)))
    local pid = p:read("n")
    p:close()
    assert.is_not_nil(pid)
    local function acked()
      local f = io.open(log, "r")
      local n = 0
      if f then
        for l in f:lines() do n = tonumber(l) or n end
        f:close()
      end
      return n
    end
    for _ = 1, 100 do if acked() > 50 then break end sleep(0.1) end
    assert.is_true(acked() > 50, "the writer did not start")

    -- a second writer
    local ok, e = pcall(quarry.open, db_path, { column_families = FAMILIES })
    assert.is_false(ok)
    assert.are.equal("Locked", e.code)
    assert.truthy(e.message:find("read_only", 1, true) and e.message:find("secondary", 1, true))

    -- readers while the writer runs
    local ro = quarry.open(db_path, { mode = "read_only" })
    local ro_last = consistent_view(ro)
    assert.is_true(ro_last > 0)
    local sec = quarry.open(db_path, { mode = "secondary", secondary_path = dir .. "/secondary" })
    local seen = consistent_view(sec)
    for _ = 1, 5 do
      sleep(0.1)
      sec:catch_up()
      local n = consistent_view(sec)
      assert.is_true(n >= seen)
      seen = n
    end
    assert.is_true(seen > ro_last, "the secondary did not follow the writer")
    assert.are.equal(ro_last, consistent_view(ro)) -- read_only: the view as of its open

    -- kill the writer: the readers keep working
    os.execute("kill -9 " .. pid)
    sleep(0.3)
    local final_ack = acked()
    sec:catch_up()
    local after = consistent_view(sec)
    assert.is_true(after >= seen)
    consistent_view(ro)
    local ro2 = quarry.open(db_path, { mode = "read_only" })
    assert.is_true(consistent_view(ro2) >= final_ack)
    ro2:close()

    -- the lock died with the writer: a new writer opens, recovers every acknowledged batch
    local w = quarry.open(db_path, { column_families = FAMILIES })
    assert.is_true(consistent_view(w) >= final_ack)
    w:close()
    sec:catch_up()
    consistent_view(sec)
    sec:close()
    ro:close()
  end)
end)
