-- 98-architecture: the rules of docs/architecture.md, checked on the sources: a library never
-- requires the command, the bindings' Lua never requires the Lua over them, each Lua module has
-- one home, and every room the picture names exists.
local helpers = require("spec.helpers")

-- The Lua files under dir (recursive), as paths.
local function lua_files(dir)
  local p = assert(io.popen("find " .. helpers.shell_quote(dir) .. " -name '*.lua' | sort"))
  local t = {}
  for line in p:lines() do t[#t + 1] = line end
  p:close()
  return t
end

-- The modules a file requires: require("x"), require "x", pcall(require, "x").
local function requires(path)
  local text = assert(helpers.read_file(path))
  local t = {}
  for name in text:gmatch("require%s*%(?%s*[\"']([%w_%.]+)[\"']") do t[#t + 1] = name end
  for name in text:gmatch("pcall%(%s*require%s*,%s*[\"']([%w_%.]+)[\"']") do t[#t + 1] = name end
  return t
end

local function offenders(files, forbidden)
  local bad = {}
  for _, f in ipairs(files) do
    for _, m in ipairs(requires(f)) do
      for _, prefix in ipairs(forbidden) do
        if m == prefix or m:sub(1, #prefix + 1) == prefix .. "." then bad[#bad + 1] = f .. " requires " .. m end
      end
    end
  end
  return bad
end

-- The direct calls of quarry.h functions (quarry_xxx(...)) in a C file, other than through a
-- pointer (A->get(...)) and other than the error-name helpers every binding links.
local function direct_core_calls(path)
  local text = assert(helpers.read_file(path))
  local bad = {}
  for pre, name in text:gmatch("(.)(quarry_[%w_]+)%s*%(") do
    if not pre:match("[%w_>.]") and name ~= "quarry_err_name" and not name:match("^quarry_chain_") then
      bad[#bad + 1] = path .. ": " .. name
    end
  end
  for inc in text:gmatch('#include%s*[<"]([^>"]+)[>"]') do
    if inc:match("^rocksdb/") then bad[#bad + 1] = path .. ": includes " .. inc end
  end
  return bad
end

describe("architecture", function()
  it("bindings/chain calls quarry.h only through quarry.core's lent functions, never RocksDB", function()
    local p = assert(io.popen("ls bindings/chain/*.c"))
    local files = {}
    for f in p:lines() do files[#files + 1] = f end
    p:close()
    assert.is_true(#files >= 1)
    local bad = {}
    for _, f in ipairs(files) do
      for _, b in ipairs(direct_core_calls(f)) do bad[#bad + 1] = b end
    end
    assert.same({}, bad)
    -- the check can fail
    local dir = helpers.tmpdir("arch-c")
    helpers.write_file(dir .. "/x.c", '#include <rocksdb/c.h>\nint f(void) { return quarry_get(0, 0, 0, 0, 0, 0) + A->get(0); }\n')
    assert.equal(2, #direct_core_calls(dir .. "/x.c"))
  end)

  it("the chain library never requires the command", function()
    local files = lua_files("scripts/quarry/chain")
    assert.is_true(#files >= 10)
    assert.same({}, offenders(files, { "quarry.cli" }))
  end)

  it("the bindings' Lua never requires the Lua written over them", function()
    local files = lua_files("bindings")
    assert.is_true(#files >= 1)
    assert.same({}, offenders(files, { "quarry.cli", "quarry.chain" }))
  end)

  it("the check finds a forbidden require (its oracle can fail)", function()
    local dir = helpers.tmpdir("arch")
    helpers.write_file(dir .. "/x.lua", 'local p = require("quarry.cli.progress")\nlocal q = require "quarry.cli"\n')
    assert.equal(2, #offenders({ dir .. "/x.lua" }, { "quarry.cli" }))
  end)

  it("a Lua module has one home among the source trees", function()
    local seen, dup = {}, {}
    for _, tree in ipairs({ "bindings/lua/quarry", "scripts/quarry" }) do
      for _, f in ipairs(lua_files(tree)) do
        local rel = f:sub(#tree + 2)
        if seen[rel] then dup[#dup + 1] = rel .. " in " .. seen[rel] .. " and " .. tree end
        seen[rel] = tree
      end
    end
    for _, d in ipairs(lua_files("bindings")) do
      local rel = d:match("^bindings/[%w_]+/quarry/(.*)$")
      if rel and d:sub(1, 13) ~= "bindings/lua/" then
        if seen[rel] then dup[#dup + 1] = rel .. " in " .. seen[rel] .. " and " .. d end
        seen[rel] = d
      end
    end
    assert.same({}, dup)
  end)

  it("every room of the picture exists", function()
    local doc = assert(helpers.read_file("docs/architecture.md"))
    for _, room in ipairs({ "core/", "bindings/lua/", "bindings/chain/", "scripts/quarry/cli/",
      "scripts/quarry/chain/", "scripts/quarry/chain/formats/", "scripts/quarry/chain/layouts/",
      "scripts/quarry/chain/account/", "spec/reliability/", "spec/fuzz/" }) do
      assert.truthy(doc:find(room, 1, true), "docs/architecture.md does not name " .. room)
      assert.is_true(helpers.exists(room), room .. " is in the picture but not in the tree")
    end
  end)
end)
