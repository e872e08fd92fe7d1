-- spec/reliability/rorace.lua: a read-only open beside a compacting writer (docs/design.md#f14).
--   lua5.4 spec/reliability/rorace.lua writer DIR SECONDS   writes and compacts in a loop
--   lua5.4 spec/reliability/rorace.lua reader DIR OPENS SECONDS
-- The reader opens DIR read-only up to OPENS times (or until SECONDS pass) and prints
-- "rorace: opens=N ok=N tryagain=N corruption=N other=N" (and each unexpected error).
local quarry = require("quarry")
local mode, dir = arg[1], arg[2]

if mode == "writer" then
  local db = quarry.open(dir, { column_families = { "blocks" }, write_buffer_mb = 1 })
  local blocks, stop, i = db:cf("blocks"), os.time() + tonumber(arg[3]), 0
  io.stdout:write("ready\n"); io.stdout:flush()
  while os.time() < stop do
    for _ = 1, 200 do
      i = i + 1
      blocks:put(("k%08d"):format(i % 5000), ("v"):rep(400), { sync = false })
    end
    db:flush()
    if i % 1000 == 0 then db:compact(blocks) end
  end
  db:close()
  os.exit(0, true)
end

local opens, stop = tonumber(arg[3]), os.clock and (os.time() + tonumber(arg[4]))
local c = { opens = 0, ok = 0, tryagain = 0, corruption = 0, other = 0 }
while c.opens < opens and os.time() < stop do
  c.opens = c.opens + 1
  local ok, db = pcall(quarry.open, dir, { mode = "read_only", column_families = { "blocks" } })
  if ok then
    c.ok = c.ok + 1
    db:close()
  elseif quarry.is_error(db) and db.code == "TryAgain" then
    c.tryagain = c.tryagain + 1
    print("TryAgain: " .. tostring(db))
  elseif quarry.is_error(db) and db.code == "Corruption" then
    c.corruption = c.corruption + 1
    print("Corruption: " .. tostring(db))
  else
    c.other = c.other + 1
    print("other: " .. tostring(db))
  end
end
print(("rorace: opens=%d ok=%d tryagain=%d corruption=%d other=%d"):format(c.opens, c.ok,
  c.tryagain, c.corruption, c.other))
