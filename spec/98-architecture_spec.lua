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

describe("architecture", function()
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
    for _, room in ipairs({ "core/", "bindings/lua/", "scripts/quarry/cli/", "scripts/quarry/chain/",
      "scripts/quarry/chain/formats/", "scripts/quarry/chain/layouts/", "scripts/quarry/chain/account/", "spec/reliability/", "spec/fuzz/" }) do
      assert.truthy(doc:find(room, 1, true), "docs/architecture.md does not name " .. room)
      assert.is_true(helpers.exists(room), room .. " is in the picture but not in the tree")
    end
  end)
end)
