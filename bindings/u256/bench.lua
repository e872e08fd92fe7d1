-- bindings/u256/bench.lua: what quarry.u256 costs per call, against plain Lua integers (a
-- benchmark, not a test; docs/amounts.md has the figures).
-- Usage: LUA_CPATH='build/lua/?.so;;' lua5.4 bindings/u256/bench.lua [calls, default 10000000]
local u256 = require("quarry.u256")
local N = math.tointeger(tonumber(arg and arg[1])) or 10000000

local function run(name, fn)
  local t0 = os.clock()
  local result = fn()
  print(("%-44s %6.1f ns/op  (%s)"):format(name, (os.clock() - t0) / N * 1e9, tostring(result)))
end

local WEI = "120000000000000000000000000"
run("s + i, Lua integers (for reference)", function()
  local s = 0
  for i = 1, N do s = s + i end
  return s
end)
run("u256.add(s, i), integers (no allocation)", function()
  local add, s = u256.add, 0
  for i = 1, N do s = add(s, i) end
  return s
end)
run("u256.add(s, i), s a u256", function()
  local add, s = u256.add, u256("0x10000000000000000")
  for i = 1, N do s = add(s, i) end
  return s
end)
run("s + i, s a u256 (metamethod)", function()
  local s = u256(0)
  for i = 1, N do s = s + i end
  return s
end)
run('u256.parse("50.00000000", 8)', function()
  local parse, r = u256.parse, nil
  for _ = 1, N do r = parse("50.00000000", 8) end
  return r
end)
run('u256("' .. WEI .. '")', function()
  local r
  for _ = 1, N do r = u256(WEI) end
  return r
end)
run("tostring(wei)", function()
  local v, r = u256(WEI), nil
  for _ = 1, N do r = tostring(v) end
  return r
end)
