-- spec/reliability/diskfull.lua: writers on a small file system until it is full.
--   lua5.4 spec/reliability/diskfull.lua run DB ACKFILE [sync]
-- writes 16 KiB values (puts, and 4-family batches every 10th step) until a write fails; every
-- failure must be a quarry error NoSpace or IOError, and the failed handle must keep refusing
-- writes with the same code. Each acknowledged key is appended to ACKFILE (kept outside the full
-- file system). M.verify(db, ackfile) reopens and checks every acknowledged key and value, then
-- db:verify() (or, before it existed, a full scan with verify_checksums).
local M = {}
local FAMILIES = { "f1", "f2", "f3" }

local function value(i) return (("%08d"):format(i)):rep(2048) end -- 16 KiB
M.value = value

local function open(quarry, dir)
  return quarry.open(dir, { column_families = FAMILIES, write_buffer_mb = 1, env = false,
    max_background_jobs = 2 })
end

function M.run(dir, ackfile, sync)
  local quarry = require("quarry")
  local ack = assert(io.open(ackfile, "w"))
  local db = open(quarry, dir)
  local wo = { sync = sync }
  local i, code = 0, nil
  while i < 100000 do
    i = i + 1
    local ok, e
    if i % 10 == 0 then
      ok, e = pcall(db.write, db, function(b)
        for _, f in ipairs(FAMILIES) do b:put(db:cf(f), ("k%08d"):format(i), value(i)) end
      end, wo)
    else
      ok, e = pcall(db.put, db, ("k%08d"):format(i), value(i), wo)
    end
    if ok then
      ack:write(i, "\n")
      ack:flush()
    else
      if not quarry.is_error(e) or (e.code ~= "NoSpace" and e.code ~= "IOError") then
        print("UNCLEAR error at write " .. i .. ": " .. tostring(e))
        os.exit(3, true)
      end
      code = e.code
      print(("full after %d writes: %s: %s"):format(i - 1, e.code, e.message))
      break
    end
  end
  if not code then print("UNCLEAR: the file system never filled"); os.exit(3, true) end
  for _ = 1, 3 do -- the failed handle keeps refusing writes, naming the way out
    local ok, e = pcall(db.put, db, "again", "x")
    if ok or not quarry.is_error(e) or e.code ~= code or not e.message:find("close and reopen", 1, true) then
      print("UNCLEAR after the failure: " .. (ok and "write accepted" or tostring(e)))
      os.exit(3, true)
    end
  end
  assert(db:get(("k%08d"):format(1)) == value(1), "reads work on the failed handle")
  local ok, e = pcall(db.close, db)
  if not ok then print("close: " .. tostring(e)) end
  ack:close()
  print("clean")
  return 0
end

function M.verify(dir, ackfile)
  local quarry = require("quarry")
  local acked = {}
  for l in io.lines(ackfile) do acked[#acked + 1] = tonumber(l) end
  local db = open(quarry, dir)
  local lost = 0
  for _, i in ipairs(acked) do
    local k = ("k%08d"):format(i)
    if i % 10 == 0 then
      for _, f in ipairs(FAMILIES) do
        if db:cf(f):get(k) ~= value(i) then lost = lost + 1 end
      end
    elseif db:get(k) ~= value(i) then
      lost = lost + 1
    end
  end
  local how
  if db.verify then
    db:verify()
    how = "db:verify()"
  else
    for _, f in ipairs({ "default", table.unpack(FAMILIES) }) do
      local cf = f == "default" and db or db:cf(f)
      for _ in cf:pairs({ keys_only = true }) do end
      local it <close> = cf:iterator()
      it:first()
      while it:valid() do it:next() end
    end
    how = "full scan"
  end
  db:close()
  return #acked, lost, how
end

if arg and arg[0] and arg[0]:match("diskfull%.lua$") and arg[1] == "run" then
  os.exit(M.run(arg[2], arg[3], arg[4] == "sync"), true)
end
return M
