-- spec/reliability/killmigrate.lua: kills `quarry migrate` with SIGKILL at random moments (several
-- times per cycle, also during --resume), finishes it with --resume, and compares the result with
-- an uninterrupted migration: `quarry verify` must pass and every key and value of every family
-- must be identical (a full content digest).
--   lua5.4 spec/reliability/killmigrate.lua BUILD_DIR WORK_DIR CYCLES [SEED] [BLOCKS]
local M = {}
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  local ok, how, code = p:close()
  return ok == true, out, how, code
end

-- A digest of every family: sha256 over "family\0key\0value\0" in order (via the in-process module).
local function digest(dir)
  local quarry = require("quarry")
  local db = quarry.open(dir, { mode = "read_only" })
  local parts, n = {}, 0
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  for _, name in ipairs(db:column_families()) do
    for k, v in db:cf(name):pairs() do
      f:write(name, "\0", #k, "\0", k, "\0", #v, "\0", v, "\0")
      n = n + 1
    end
  end
  f:close()
  db:close()
  local ok, out = sh("sha256sum " .. q(tmp))
  os.remove(tmp)
  parts[1] = out:match("^(%x+)")
  return parts[1], n
end
M.digest = digest

function M.run(o)
  local quarry_bin = o.build .. "/quarry"
  local src = o.work .. "/chain.json.lz4"
  os.execute("mkdir -p " .. q(o.work))
  assert(sh(("%s gen --blocks %d --seed 42 --out %s"):format(q(quarry_bin), o.blocks or 2000, q(src))))
  local ref = o.work .. "/ref"
  os.execute("rm -rf " .. q(ref))
  local t0 = os.clock()
  local ok, out = sh(("%s migrate --json %s --db %s --group 50 --quiet"):format(q(quarry_bin), q(src), q(ref)))
  assert(ok, "uninterrupted migrate failed:\n" .. out)
  local want, nkeys = digest(ref)
  math.randomseed(o.seed or os.time())
  local t = { cycles = 0, kills = 0, killed_running = 0, resumes = 0, verify_failures = 0,
    digest_mismatches = 0, resume_failures = 0, keys = nkeys }
  for c = 1, o.cycles do
    local db = o.work .. "/db"
    os.execute("rm -rf " .. q(db))
    for k = 1, 1 + math.random(0, 2) do
      local delay = math.random() * 1.8
      local resume = k > 1 and " --resume" or ""
      -- start, sleep, kill -9; `wait` reports 137 when the kill landed while it ran
      local _, o2 = sh(("%s migrate --json %s --db %s --group 50 --quiet%s >/dev/null 2>&1 & p=$!; " ..
        "sleep %.3f; kill -9 $p 2>/dev/null; wait $p; echo status=$?"):format(q(quarry_bin), q(src),
        q(db), resume, delay))
      t.kills = t.kills + 1
      if o2:match("status=137") then t.killed_running = t.killed_running + 1 end
    end
    local okr, outr = sh(("%s migrate --json %s --db %s --group 50 --quiet --resume"):format(
      q(quarry_bin), q(src), q(db)))
    if not okr then
      -- nothing was stored before the first kill: a plain migrate must then work
      okr, outr = sh(("%s migrate --json %s --db %s --group 50 --quiet"):format(q(quarry_bin), q(src), q(db)))
    end
    t.resumes = t.resumes + 1
    if not okr then
      t.resume_failures = t.resume_failures + 1
      if o.log then o.log(("cycle %d: resume failed:\n%s"):format(c, outr)) end
    else
      local okv, outv = sh(("%s verify --db %s --json %s"):format(q(quarry_bin), q(db), q(src)))
      if not okv then
        t.verify_failures = t.verify_failures + 1
        if o.log then o.log(("cycle %d: verify failed:\n%s"):format(c, outv)) end
      end
      local got = digest(db)
      if got ~= want then
        t.digest_mismatches = t.digest_mismatches + 1
        if o.log then o.log(("cycle %d: digest %s, uninterrupted %s"):format(c, got, want)) end
      end
    end
    t.cycles = c
  end
  t.line = ("killmigrate: cycles=%d kills=%d killed_while_running=%d resumes=%d resume_failures=%d " ..
    "verify_failures=%d digest_mismatches=%d keys=%d digest=%s"):format(t.cycles, t.kills,
    t.killed_running, t.resumes, t.resume_failures, t.verify_failures, t.digest_mismatches, t.keys,
    want:sub(1, 16))
  return t
end

if arg and arg[0] and arg[0]:match("killmigrate%.lua$") then
  local t0 = os.time()
  local t = M.run({ build = arg[1], work = arg[2], cycles = tonumber(arg[3] or "10"),
    seed = tonumber(arg[4] or ""), blocks = tonumber(arg[5] or ""), log = print })
  print(t.line .. (" seconds=%d"):format(os.time() - t0))
  os.exit(t.resume_failures + t.verify_failures + t.digest_mismatches == 0, true)
end
return M
