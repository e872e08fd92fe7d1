-- spec/reliability/relspec.lua: what the reliability specs (spec/6x) share: where the programs are,
-- running a command and capturing its output and exit, parsing "key=value" summary lines, and
-- whether this is the sanitizer build (where the CI forms run fewer rounds).
local M = {}

M.build = os.getenv("QUARRY_BUILD_DIR") or "build"
M.tmp = (os.getenv("QUARRY_TEST_TMP") or "/tmp") .. "/reliability"
M.lua = os.getenv("LUA") or "lua5.4"
M.sanitized = (os.getenv("LD_PRELOAD") or ""):find("libasan") ~= nil

-- The seed every randomized reliability spec runs with: fixed, unless $QUARRY_SPEC_SEED says
-- otherwise (spec/helpers.lua seed); every failure raised by expect names it.
local helpers = require("spec.helpers")
M.seed = helpers.seed(20240601)

function M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.path(name) return M.build .. "/" .. name end

--- A fresh directory under the build's tmp (removed first if left over).
function M.dir(name)
  local d = M.tmp .. "/" .. name
  os.execute("rm -rf " .. M.q(d) .. " && mkdir -p " .. M.q(d))
  return d
end

--- Runs a shell command; returns its output (stdout and stderr), true/false, and the exit code
--- or signal ("exit", n) / ("signal", n).
function M.run(cmd)
  local f = assert(io.popen("(" .. cmd .. ") 2>&1", "r"))
  local out = f:read("a")
  local ok, how, code = f:close()
  return out, ok == true, how, code
end

--- The last line of out starting with prefix, as a table of its key=value pairs (numbers
--- converted).
function M.summary(out, prefix)
  local line
  for l in out:gmatch("[^\n]+") do
    if l:sub(1, #prefix) == prefix then line = l end
  end
  if not line then return nil end
  local t = { line = line }
  for k, v in line:gmatch("([%w_]+)=(%S+)") do t[k] = tonumber(v) or v end
  return t
end

--- Raises with the command's output when a check fails (so CTest shows why).
function M.expect(cond, out, what)
  if not cond then
    error(what .. " " .. helpers.seed_note(M.seed) .. "\n---- output ----\n" .. out, 2)
  end
end

--- Runs the crash loop (rel_crashloop driving rel_writer) with the further arguments args (a
--- shell-quoted string). Returns its summary line as a table (raising with the output when
--- there is none), whether it exited 0, and its output.
function M.crashloop(args)
  local cmd = ("%s --writer %s --seed %d %s"):format(M.q(M.path("rel_crashloop")),
    M.q(M.path("rel_writer")), M.seed, args)
  local out, ok = M.run(cmd)
  local s = M.summary(out, "crashloop: seed=")
  M.expect(s ~= nil, out, "no summary line")
  return s, ok, out
end

--- Environment for a lua5.4 child that loads the in-tree module (the specs' own paths).
function M.lua_env()
  return "LUA_PATH=" .. M.q(os.getenv("LUA_PATH") or "") .. " LUA_CPATH=" ..
    M.q(os.getenv("LUA_CPATH") or "")
end

return M
