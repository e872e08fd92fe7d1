-- spec/97-rock_spec.lua: the LuaRocks package installs a working command from a rock tree alone.
-- Statically: every third-party module the installed Lua code requires is a declared dependency
-- of the rockspec (or optional: loaded with pcall, with a fallback), every declared dependency is
-- used, and the LICENSE the rockspec names is there. Then, offline (no rocks server: LuaRocks is
-- told that Debian's lua-argparse and lua-socket provide the declared rocks, `rocks_provided`,
-- so the dependency check still runs and would fail on an undeclared or missing one): a release
-- tarball of the working tree is built with `luarocks make` (from a checkout), `luarocks build`
-- (the rockspec next to the tarball) and from a source rock (`luarocks new_version` + `pack`),
-- each into a fresh tree; the installed `quarry` runs --help, `scan --help` and gen + migrate +
-- verify with only that tree's paths and Debian's Lua directories; the installed rock is packed
-- as a binary rock and installed into another tree. Pending when luarocks (or git, or Debian's
-- Lua libraries) is not installed.
local helpers = require("spec.helpers")

local q = helpers.shell_quote
local VERSION = "0.1.0-1"
local ROCKSPEC = "rockspec/quarry-" .. VERSION .. ".rockspec"
local TARBALL = "quarry-0.1.0.tar.gz"
local TOPDIR = "quarry-0.1.0"

-- The rock providing each third-party module (its first name component) the command may require.
local ROCK_OF = {
  argparse = "argparse",
  socket = "luasocket", mime = "luasocket", ltn12 = "luasocket",
  readline = "readline",
}
-- Modules the command works without (each require is pcall'd, with a fallback): not declared.
local OPTIONAL = { readline = "the shell falls back to a plain prompt without history" }
-- The Debian package that provides each declared rock on this machine.
local DEBIAN = { argparse = "lua-argparse", luasocket = "lua-socket" }
local STDLIB = { string = true, table = true, math = true, io = true, os = true, utf8 = true,
  coroutine = true, debug = true, package = true }

local function capture(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out
end

local function have(program)
  return (capture("command -v " .. q(program) .. " >/dev/null 2>&1"))
end

-- The rockspec, evaluated as LuaRocks does: a chunk of assignments into an empty environment.
local function load_rockspec(path)
  local env = {}
  local chunk = assert(loadfile(path, "t", env))
  chunk()
  return env
end

-- The Lua files the rock installs (the three Lua trees of CMakeLists.txt) and the command.
local function installed_lua_files()
  local _, out = capture("find bindings/lua/quarry bindings/json/quarry scripts/quarry -name '*.lua' -type f | sort")
  local files = { "scripts/bin/quarry" }
  for f in out:gmatch("[^\n]+") do files[#files + 1] = f end
  return files
end

-- Every require with a literal module name: { module, file, line, guarded (pcall(require, ...)) }.
local function requires_of(files)
  local found = {}
  for _, f in ipairs(files) do
    local n = 0
    for line in io.lines(f) do
      n = n + 1
      local code = line:match("^(.-)%s%-%-[%s%[]") or line:match("^(.-)%-%-") or line
      if not line:match("^%s*%-%-") then
        for name in code:gmatch("require%s*%(?%s*[\"']([%w_%.]+)[\"']") do
          found[#found + 1] = { module = name, file = f, line = n, guarded = false }
        end
        for name in code:gmatch("pcall%(%s*require%s*,%s*[\"']([%w_%.]+)[\"']") do
          found[#found + 1] = { module = name, file = f, line = n, guarded = true }
        end
      end
    end
  end
  return found
end

local function declared_rocks(spec)
  local rocks = {}
  for _, d in ipairs(spec.dependencies or {}) do
    rocks[assert(d:match("^%s*([%w_%-%.]+)"), d)] = d
  end
  return rocks
end

describe("the rockspec", function()
  local spec = load_rockspec(ROCKSPEC)

  it("declares every third-party module the installed command requires, and only those", function()
    local declared = declared_rocks(spec)
    local problems, used = {}, {}
    for _, r in ipairs(requires_of(installed_lua_files())) do
      local top = r.module:match("^[^%.]+")
      local where = ("%s:%d"):format(r.file, r.line)
      if top ~= "quarry" and not STDLIB[top] then
        local rock = ROCK_OF[top]
        if not rock then
          problems[#problems + 1] = ("%s requires %q: no rock known for it (declare its rock in %s"
            .. " and add the module to ROCK_OF in this spec)"):format(where, r.module, ROCKSPEC)
        elseif declared[rock] then
          used[rock] = true
        elseif not OPTIONAL[top] then
          problems[#problems + 1] = ("%s requires %q: its rock %q is not a dependency in %s")
            :format(where, r.module, rock, ROCKSPEC)
        elseif not r.guarded then
          problems[#problems + 1] = ("%s requires the optional %q without pcall: a rock tree without"
            .. " it fails (declare %q or guard the require)"):format(where, r.module, rock)
        end
      end
    end
    for rock, d in pairs(declared) do
      if rock ~= "lua" and not used[rock] then
        problems[#problems + 1] = ("%s declares %q but no installed file requires it"):format(ROCKSPEC, d)
      end
    end
    table.sort(problems)
    assert.are.same({}, problems)
    assert.is_true(used.argparse and used.luasocket or false)
  end)

  it("names a source users can build from, not a placeholder", function()
    assert.are.equal(TARBALL, spec.source.url)
    assert.are.equal(TOPDIR, spec.source.dir)
    assert.are.equal(VERSION, spec.version)
  end)

  it("ships the MIT license it names", function()
    assert.are.equal("MIT", spec.description.license)
    local text = assert(helpers.read_file("LICENSE"), "no LICENSE file")
    assert.matches("^MIT License\n", text)
    assert.matches("Copyright %(c%) 2026 The Quarry authors", text)
    assert.matches("THE SOFTWARE IS PROVIDED \"AS IS\"", text, 1, true)
  end)
end)

-- ---- offline builds ---------------------------------------------------------------------------

-- Why the builds cannot run here, or nil.
local function missing()
  if not have("luarocks") then return "luarocks is not installed (apt-get install luarocks)" end
  if not have("git") or not capture("git rev-parse --is-inside-work-tree >/dev/null 2>&1") then
    return "needs git and a git checkout (the release tarball is made from the tracked files)"
  end
  for rock, pkg in pairs(DEBIAN) do
    local ok = capture("dpkg-query -W -f='${Version}' " .. pkg .. " >/dev/null 2>&1")
    if not ok then return ("needs Debian's %s (the %s rock, offline)"):format(pkg, rock) end
  end
  return nil
end

-- LuaRocks's version of a Debian package: 1:0.7.1-2+b1 -> 0.7.1-1.
local function provided_version(pkg)
  local _, v = capture("dpkg-query -W -f='${Version}' " .. pkg)
  v = v:gsub("^%d+:", ""):gsub("%-[^%-]*$", ""):gsub("[+~].*$", "")
  return v .. "-1"
end

local W, SRC, N, PROVIDED, LUA_DIRS, LUA_CDIRS
local count = 0

local function sh(cmd)
  count = count + 1
  local out = ("%s/log.%d"):format(W, count)
  local ok, how, code = os.execute(("%s >%s 2>&1"):format(cmd, q(out)))
  local status = ok and 0 or (how == "exit" and code or 128 + (code or 0))
  return status, helpers.read_file(out) or ""
end

-- A LuaRocks configuration of its own: one tree, no servers, what Debian provides.
local function config(name, tree, provided)
  local lines = { ("rocks_trees = { { name = %q, root = %q } }"):format(name, tree),
    "rocks_servers = {}", "rocks_provided = {" }
  for rock, v in pairs(provided) do lines[#lines + 1] = ("  [%q] = %q,"):format(rock, v) end
  lines[#lines + 1] = "}"
  local path = ("%s/config-%s.lua"):format(W, name)
  helpers.write_file(path, table.concat(lines, "\n") .. "\n")
  return path
end

-- Runs luarocks in dir with the configuration for tree (the spec's environment left out: its
-- LUA_PATH names the checkout, its LD_PRELOAD a sanitizer runtime the rock is not built with).
local function luarocks(dir, tree, args, provided)
  local cfg = config(tree:match("[^/]+$"), tree, provided or PROVIDED)
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  return sh(("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LD_PRELOAD"
    .. " -u ASAN_OPTIONS -u UBSAN_OPTIONS HOME=%s LUAROCKS_CONFIG=%s CMAKE_BUILD_PARALLEL_LEVEL=%s"
    .. " luarocks --lua-version 5.4 --tree %s %s"):format(q(dir), q(W), q(cfg), N, q(tree),
    table.concat(words, " ")))
end

-- LUA_PATH and LUA_CPATH with only the tree's entries of `luarocks path`, then Debian's
-- directories (where lua-argparse and lua-socket live): nothing of the checkout.
local function tree_env(tree)
  local status, out = luarocks(W, tree, { "path" })
  assert.are.equal(0, status, out)
  local function only_tree(var)
    local value = assert(out:match("export " .. var .. "='([^']*)'"), out)
    local keep = {}
    for entry in value:gmatch("[^;]+") do
      if entry:sub(1, #tree + 1) == tree .. "/" then keep[#keep + 1] = entry end
    end
    assert.is_true(#keep > 0, var .. " has no entry in " .. tree .. ": " .. value)
    return keep
  end
  local path, cpath = only_tree("LUA_PATH"), only_tree("LUA_CPATH")
  for _, d in ipairs(LUA_DIRS) do
    path[#path + 1] = d .. "/?.lua"
    path[#path + 1] = d .. "/?/init.lua"
  end
  for _, d in ipairs(LUA_CDIRS) do cpath[#cpath + 1] = d .. "/?.so" end
  return table.concat(path, ";"), table.concat(cpath, ";")
end

-- Runs the tree's quarry with args in dir, with nothing of the caller's environment but PATH.
local function installed(tree, dir, args)
  local path, cpath = tree_env(tree)
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  return sh(("cd %s && env -i PATH=/usr/bin:/bin HOME=%s LUA_PATH=%s LUA_CPATH=%s %s %s </dev/null")
    :format(q(dir), q(W), q(path), q(cpath), q(tree .. "/bin/quarry"), table.concat(words, " ")))
end

local function rock_dir(tree)
  return ("%s/lib/luarocks/rocks-5.4/quarry/%s"):format(tree, VERSION)
end

-- The release tarball of the working tree: every tracked or new (not ignored) file that exists,
-- under quarry-0.1.0/, as `git archive --prefix=quarry-0.1.0/` makes it of a commit.
local function make_tarball()
  local ok, out = capture("git ls-files -z --cached --others --exclude-standard")
  assert.is_true(ok, "git ls-files failed")
  local files = {}
  for f in out:gmatch("[^%z]+") do
    if helpers.exists(f) then files[#files + 1] = f end
  end
  helpers.write_file(W .. "/files", table.concat(files, "\0") .. "\0")
  local status, log = sh(("tar --null -czf %s --no-recursion --transform %s -T %s"):format(
    q(W .. "/" .. TARBALL), q("s,^," .. TOPDIR .. "/,"), q(W .. "/files")))
  assert.are.equal(0, status, log)
end

local function check_installed(tree)
  local run = W .. "/run-" .. tree:match("[^/]+$")
  assert(os.execute("mkdir -p " .. q(run)))
  local status, out = installed(tree, run, { "--help" })
  assert.are.equal(0, status, out)
  assert.matches("migrate", out)
  assert.matches("verify", out)
  status, out = installed(tree, run, { "scan", "--help" })
  assert.are.equal(0, status, out)
  assert.matches("Usage: quarry scan", out, 1, true)
  return run
end

describe("a rock built offline", function()
  -- luarocks compiles the rock's own modules with its own flags, never the sanitizer's: under the
  -- sanitizer build's preloaded runtimes these cases would test the normal build again, slower
  local why = missing() or ((os.getenv("LD_PRELOAD") or ""):find("asan", 1, true)
    and "the rock's modules are built by luarocks without the sanitizer (run in the normal build)")
  local T1, T2, T3, T4

  setup(function()
    if why then return end
    W = helpers.tmpdir("rock")
    local _, n = capture("nproc")
    N = tostring(math.tointeger(tonumber(n)) or 2)
    PROVIDED = {}
    for rock, pkg in pairs(DEBIAN) do PROVIDED[rock] = provided_version(pkg) end
    LUA_DIRS = { "/usr/share/lua/5.4" }
    local _, dirs = capture("ls -d /usr/lib/*/lua/5.4 /usr/lib/lua/5.4 2>/dev/null")
    LUA_CDIRS = {}
    for d in dirs:gmatch("[^\n]+") do LUA_CDIRS[#LUA_CDIRS + 1] = d end
    T1, T2, T3, T4 = W .. "/tree-make", W .. "/tree-build", W .. "/tree-srcrock", W .. "/tree-binary"
    make_tarball()
    SRC = W .. "/checkout"
    assert(os.execute(("mkdir -p %s && tar -xzf %s -C %s"):format(q(SRC), q(W .. "/" .. TARBALL), q(SRC))))
    SRC = SRC .. "/" .. TOPDIR
  end)

  teardown(function() helpers.cleanup() end)

  it("installs from a checkout (luarocks make) and runs gen, migrate, verify from the tree alone", function()
    if why then return pending(why) end
    local status, out = luarocks(SRC, T1, { "make", ROCKSPEC })
    assert.are.equal(0, status, out)
    assert.matches("quarry " .. VERSION:gsub("%-", "%%-") .. " is now installed", out)
    for rock in pairs(DEBIAN) do
      assert.matches("depends on " .. rock, out) -- checked against what Debian provides
    end
    local doc = rock_dir(T1) .. "/doc/LICENSE"
    assert.are.equal(helpers.read_file("LICENSE"), helpers.read_file(doc), "the rock's " .. doc)

    local run = check_installed(T1)
    status, out = installed(T1, run, { "gen", "--blocks", "60", "--seed", "7", "--out", "chain.json" })
    assert.are.equal(0, status, out)
    status, out = installed(T1, run, { "migrate", "--json", "chain.json", "--db", "db", "--verify" })
    assert.are.equal(0, status, out)
    assert.matches("migrated 60 blocks", out)
    status, out = installed(T1, run, { "verify", "--db", "db", "--json", "chain.json" })
    assert.are.equal(0, status, out)
    assert.matches("checks passed", out)

    -- Where the modules came from: the tree, and Debian for argparse.
    helpers.write_file(run .. "/where.lua", [[
      for _, m in ipairs({ "quarry", "quarry.cli", "quarry.chain", "argparse" }) do
        print(m, package.searchpath(m, package.path))
      end
      for _, m in ipairs({ "quarry.core", "quarry.json.core", "quarry.u256" }) do
        print(m, package.searchpath(m, package.cpath))
      end
    ]])
    status, out = installed(T1, run, { "run", "where.lua" })
    assert.are.equal(0, status, out)
    for _, m in ipairs({ "quarry", "quarry.cli", "quarry.chain", "quarry.core", "quarry.json.core",
        "quarry.u256" }) do
      local at = out:match("\n?" .. m:gsub("%.", "%%.") .. "\t([^\n]*)")
      assert.is_truthy(at and at:sub(1, #T1 + 1) == T1 .. "/", m .. " not from the tree: " .. out)
    end
    assert.matches("argparse\t/usr/share/lua/5.4/argparse.lua", out, 1, true)
  end)

  it("refuses to install when a declared dependency is neither provided nor on a server", function()
    if why then return pending(why) end
    local provided = {}
    for rock, v in pairs(PROVIDED) do provided[rock] = v end
    provided.luasocket = nil
    local status, out = luarocks(SRC, W .. "/tree-nosocket", { "make", ROCKSPEC }, provided)
    assert.are_not.equal(0, status, out)
    assert.matches("luasocket", out)
    assert.is_false(helpers.exists(W .. "/tree-nosocket/bin/quarry"))
  end)

  it("builds from the release tarball next to the rockspec (luarocks build)", function()
    if why then return pending(why) end
    local dl = W .. "/download"
    assert(os.execute(("mkdir -p %s && cp %s %s %s"):format(q(dl), q(W .. "/" .. TARBALL), q(ROCKSPEC), q(dl))))
    local status, out = luarocks(dl, T2, { "build", "quarry-" .. VERSION .. ".rockspec" })
    assert.are.equal(0, status, out)
    check_installed(T2)
  end)

  it("packs a source rock of the release (new_version + pack) that builds offline anywhere", function()
    if why then return pending(why) end
    local rel = W .. "/release"
    assert(os.execute("mkdir -p " .. q(rel)))
    -- The published rockspec: source.url where the tarball is published (here a file:// URL).
    local status, out = luarocks(W, T3, { "new_version", SRC .. "/" .. ROCKSPEC, VERSION,
      "file://" .. W .. "/" .. TARBALL, "--dir", rel })
    assert.are.equal(0, status, out)
    status, out = luarocks(rel, T3, { "pack", "quarry-" .. VERSION .. ".rockspec" })
    assert.are.equal(0, status, out)
    local srcrock = rel .. "/quarry-" .. VERSION .. ".src.rock"
    assert.is_true(helpers.exists(srcrock), out)
    local _, list = capture("unzip -l " .. q(srcrock))
    assert.matches(TARBALL, list, 1, true)
    assert.matches("quarry-" .. VERSION .. ".rockspec", list, 1, true)
    -- Built elsewhere, with the tarball gone: the source rock carries it.
    local elsewhere = W .. "/elsewhere"
    assert(os.execute(("mkdir -p %s && mv %s %s/"):format(q(elsewhere), q(srcrock), q(elsewhere))))
    assert(os.execute(("mv %s %s.moved"):format(q(W .. "/" .. TARBALL), q(W .. "/" .. TARBALL))))
    status, out = luarocks(elsewhere, T3, { "build", "quarry-" .. VERSION .. ".src.rock" })
    os.execute(("mv %s.moved %s"):format(q(W .. "/" .. TARBALL), q(W .. "/" .. TARBALL)))
    assert.are.equal(0, status, out)
    check_installed(T3)
  end)

  it("packs the installed rock as a binary rock that installs without building", function()
    if why then return pending(why) end
    if not helpers.exists(T1 .. "/bin/quarry") then
      local status, out = luarocks(SRC, T1, { "make", ROCKSPEC })
      assert.are.equal(0, status, out)
    end
    local bin = W .. "/binary"
    assert(os.execute("mkdir -p " .. q(bin)))
    local status, out = luarocks(bin, T1, { "pack", "quarry", VERSION })
    assert.are.equal(0, status, out)
    local _, arch = capture("ls " .. q(bin))
    local rock = assert(arch:match("(quarry%-[%w%.%-]+%.[%w_%-]+%.rock)"), arch)
    assert.is_nil(rock:match("%.src%.rock$"), rock)
    status, out = luarocks(bin, T4, { "install", rock })
    assert.are.equal(0, status, out)
    local run = check_installed(T4)
    status, out = installed(T4, run, { "gen", "--blocks", "20", "--out", "c.json" })
    assert.are.equal(0, status, out)
    status, out = installed(T4, run, { "migrate", "--json", "c.json", "--db", "db", "--verify" })
    assert.are.equal(0, status, out)
    assert.matches("migrated 20 blocks", out)
  end)
end)
