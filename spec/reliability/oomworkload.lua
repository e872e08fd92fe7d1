-- spec/reliability/oomworkload.lua: the scripted workload run by rel_oomhost under an allocator that
-- fails. Globals from the host: DB (the database path) and ack(step) (records, in C, the last
-- step that completed). Steps 1..10 put k001..k010; step 11 is a 3-key batch in family x; step 12
-- a batch putting k011 and deleting k001; step 13 the close.
local quarry = require("quarry")
local db = quarry.open(DB, { column_families = { "x" }, env = false })
for i = 1, 10 do
  db:put(("k%03d"):format(i), ("v"):rep(i * 10))
  ack(i)
end
db:write(function(b)
  local x = db:cf("x")
  for j = 1, 3 do b:put(x, ("b%03d"):format(j), "batch") end
end)
ack(11)
local b = db:batch()
b:put("k011", "x"):delete("k001")
db:write(b)
b:close()
ack(12)
local seen = {}
for k, v in db:pairs({ from = "k", limit = 5 }) do seen[#seen + 1] = k .. v end
for k in db:cf("x"):pairs({ keys_only = true, reverse = true }) do seen[#seen + 1] = k end
local it = db:iterator({ prefix = "k0" })
it:seek("k005")
local _ = it:key(), it:value()
it:next()
it:last()
it:close()
local s = db:snapshot()
assert(db:get("k002", { snapshot = s }))
s:close()
local t = db:multi_get({ "k001", "k002", "zz" })
assert(t.n == 3)
local j = require("quarry.json").decode('{"a":[1,2,{"b":"c\\u00e9"}],"n":1.5e300,"s":"x"}')
require("quarry.json").encode(j)
local ok, e = pcall(db.put, db, ("k"):rep(8 * 1024 * 1024 + 1), "v")
assert(not ok and (quarry.is_error(e) or type(e) == "string"))
local dead = db:iterator() -- left open: the close below must release it
db:close()
ack(13)
