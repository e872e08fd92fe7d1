-- docscov.lua: checks that every public Lua name of quarry has a heading in docs/*.md.
-- Loads the module, opens a temporary database, lists the methods of every handle type (db, cf,
-- batch, iterator, snapshot) and the module's functions, and looks for a heading
-- "### <prefix><name>(" for each (prefixes: quarry. db: cf: b: it: s: json. r: w: n: sys. bytes. u256. v:).
-- It also checks that the presets table in docs/lua-api.md matches the values the module reports.
--
-- Usage (LUA_PATH / LUA_CPATH pointing at the module, as CTest sets them):
--   lua5.4 scripts/docscov.lua            check; exit 1 listing every undocumented name
--   lua5.4 scripts/docscov.lua --presets  print the presets table to paste into docs/lua-api.md
local quarry = require("quarry")

local script_dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local docs_dir = os.getenv("QUARRY_DOCS_DIR") or (script_dir .. "/../docs")

-- ---- the presets table ------------------------------------------------------------------------
local function presets_table()
  local lines = {
    "| tuning option | type | `default` | `production` | `development` | meaning |",
    "|---|---|---|---|---|---|",
  }
  for _, o in ipairs(quarry.option_list) do
    if o.tuning then
      local cells = { "`" .. o.name .. "`", o.type }
      for _, p in ipairs({ "default", "production", "development" }) do
        cells[#cells + 1] = "`" .. tostring(quarry.presets[p][o.name]) .. "`"
      end
      cells[#cells + 1] = o.doc
      lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
    end
  end
  return table.concat(lines, "\n")
end

if arg and arg[1] == "--presets" then
  print(presets_table())
  os.exit(0)
end

-- ---- the names to document --------------------------------------------------------------------
local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local tmp = os.tmpname()
os.remove(tmp)
local dir = (os.getenv("QUARRY_TEST_TMP") or "/tmp") .. "/docscov-" .. tmp:match("[^/]+$")
assert(os.execute("mkdir -p " .. sh_quote(dir)))

local names = {} -- { {prefix, name}, ... }
local function add_functions(prefix, t)
  for name, v in pairs(t) do
    if type(v) == "function" and type(name) == "string" and name:sub(1, 1) ~= "_" then
      names[#names + 1] = { prefix, name }
    end
  end
end

add_functions("quarry.", quarry)
add_functions("sys.", require("quarry.sys"))
add_functions("bytes.", require("quarry.bytes"))
do
  local db <close> = quarry.open(dir .. "/db", { column_families = { "c" } })
  local handles = {
    { "db:", db },
    { "cf:", db:cf("c") },
    { "b:", db:batch() },
    { "it:", db:iterator() },
    { "s:", db:snapshot() },
  }
  for _, h in ipairs(handles) do
    add_functions(h[1], getmetatable(h[2]).__index)
  end
end

-- quarry.json: the module's functions and the methods of its reader, writer and number objects.
do
  local json = require("quarry.json")
  add_functions("json.", json)
  local path = dir .. "/docscov.jsonl"
  local w = json.writer(path, { format = "jsonl" })
  add_functions("w:", getmetatable(w).__index)
  w:write({ 1 })
  w:close()
  local r = json.reader(path)
  add_functions("r:", getmetatable(r).__index)
  r:close()
  add_functions("n:", getmetatable(json.number("1.5")).__index)
end

-- quarry.chain.fast (docs/chain-fast.md): the module's functions and the methods of a migrator.
do
  local fast = require("quarry.chain.fast")
  add_functions("fast.", fast)
  local fams = { "blocks", "hashes", "txs", "utxo", "undo", "meta" }
  local db <close> = quarry.open(dir .. "/fastdb", { column_families = fams })
  local cfs = {}
  for _, n in ipairs(fams) do cfs[n] = db:cf(n) end
  local json = require("quarry.json")
  local m = fast.new(db, cfs, { object_mt = json.object_mt, array_mt = json.array_mt,
    number_mt = json.number_mt })
  add_functions("m:", getmetatable(m).__index)
  m:close()
end

-- quarry.u256 (docs/amounts.md): the module's functions and the methods of its values.
do
  local u256 = require("quarry.u256")
  add_functions("u256.", u256)
  add_functions("v:", getmetatable(u256.zero).__index)
end
os.execute("rm -rf " .. sh_quote(dir))

-- ---- the headings -------------------------------------------------------------------------------
local headings, lua_api = {}, nil
local ls = assert(io.popen("ls " .. sh_quote(docs_dir) .. "/*.md 2>/dev/null"))
for file in ls:lines() do
  local f = assert(io.open(file, "r"))
  local text = f:read("a")
  f:close()
  if file:match("/lua%-api%.md$") then lua_api = text end
  for line in text:gmatch("[^\n]+") do
    if line:match("^###") then headings[#headings + 1] = line end
  end
end
ls:close()

local function documented(prefix, name)
  local needle = prefix .. name .. "("
  for _, h in ipairs(headings) do
    if h:find(needle, 1, true) then return true end
  end
  return false
end

table.sort(names, function(a, b) return a[1] .. a[2] < b[1] .. b[2] end)
local missing = {}
for _, n in ipairs(names) do
  if not documented(n[1], n[2]) then missing[#missing + 1] = n[1] .. n[2] end
end

local problems = 0
if #missing > 0 then
  io.stderr:write(("docscov: %d of %d names have no \"### %s(\" heading in %s/*.md:\n"):format(
    #missing, #names, "<name>", docs_dir))
  for _, m in ipairs(missing) do io.stderr:write("  ", m, "\n") end
  problems = problems + 1
end

if not lua_api then
  io.stderr:write("docscov: ", docs_dir, "/lua-api.md is missing\n")
  problems = problems + 1
else
  local current = lua_api:match("<!%-%- presets:begin %-%->\n(.-)\n<!%-%- presets:end %-%->")
  if current ~= presets_table() then
    io.stderr:write("docscov: the presets table in docs/lua-api.md differs from the module's values;\n",
      "  regenerate it with: lua5.4 scripts/docscov.lua --presets\n")
    problems = problems + 1
  end
end

if problems > 0 then os.exit(1) end
print(("docscov: %d names documented, presets table up to date"):format(#names))
