-- spec/63-diskfull_spec.lua: writers on a size-limited tmpfs until it is full
-- (spec/reliability/diskfull.lua). Every failing call raises NoSpace/IOError; nothing acknowledged is
-- lost; after space is freed (remount with a larger size) the database reopens and verifies.
-- Needs root to mount: otherwise each case is reported pending, with the reason.
package.path = "spec/reliability/?.lua;" .. package.path
local R = require("relspec")
local D = require("diskfull")

local function mount(dir, size)
  local out, ok = R.run(("mount -t tmpfs -o size=%s quarry-rel %s"):format(size, R.q(dir)))
  return ok, out
end

describe("disk full (size-limited tmpfs)", function()
  for _, sync in ipairs({ true, false }) do
    it(("sync = %s: NoSpace, nothing acknowledged lost, reopens after space is freed"):format(sync),
      function()
      local base = R.dir("diskfull-" .. tostring(sync))
      local mnt = base .. "/mnt"
      os.execute("mkdir -p " .. R.q(mnt))
      local ok, why = mount(mnt, "6m")
      if not ok then
        pending("needs root: cannot mount a tmpfs here (" .. why:gsub("%s+$", "") .. ")")
        return
      end
      local ackfile = base .. "/ack"
      local out, clean = R.run(("%s %s %s run %s %s %s"):format(R.lua_env(), R.lua,
        "spec/reliability/diskfull.lua", R.q(mnt .. "/db"), R.q(ackfile), sync and "sync" or "nosync"))
      local remounted = R.run("mount -o remount,size=64m " .. R.q(mnt))
      local acked, lost, how
      local vok, verr = pcall(function() acked, lost, how = D.verify(mnt .. "/db", ackfile) end)
      os.execute("umount " .. R.q(mnt))
      print(("disk full: %s -> %s acknowledged writes, %s lost, %s after remount"):format(
        out:match("full after[^\n]*") or "?", tostring(acked), tostring(lost), tostring(how)))
      R.expect(clean and out:find("clean", 1, true), out, "the writer did not fail cleanly")
      R.expect(remounted ~= nil, out, "remount failed")
      R.expect(vok, tostring(verr) .. "\n" .. out, "reopen or verification failed")
      assert.is_true(acked > 0)
      assert.are.equal(0, lost)
    end)
  end
end)
