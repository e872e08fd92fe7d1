-- 38-restore_staging: the leftovers of issue 15. A restore is staged in a private directory
-- beside its target (mkdtemp, mode 0700, the checkpoints' q_stage_dir), never at a predictable
-- name: a link or a directory planted at the old "<db>.restoring-<pid>" or "<db>.replaced-<pid>"
-- (or at the deep verify's old "<backup dir>.verify-<pid>-0") neither redirects nor breaks it, and
-- the link's target is untouched. A restore killed with SIGKILL at any point leaves its target
-- absent (or, with overwrite, the old database) or complete, never partial. json.writer's
-- messages carry their prefix once.
local quarry = require("quarry")
local helpers = require("spec.helpers")
local sys = require("quarry.sys")

local q = helpers.shell_quote

local function sh(cmd)
  assert(os.execute(cmd) == true, "failed: " .. cmd)
end

local ls_all, mode_of = helpers.ls_all, helpers.mode_of

-- This process's pid (the restoring process: the old staging names used it).
local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  return pid
end

local function digest_at(path)
  local db <close> = quarry.open(path, { mode = "read_only" })
  return db:digest()
end

local function fill(db, from, to, tag)
  db:write(function(b)
    for h = from, to do
      b:put(string.pack(">I8", h), ("%s %d %s"):format(tag, h, ("v"):rep(100)))
    end
  end)
end

-- A victim directory with one file, and a link to it at path.
local function plant_link(path, victim)
  if not helpers.exists(victim) then
    sh("mkdir " .. q(victim))
    helpers.write_file(victim .. "/data", "precious")
  end
  sh("ln -s " .. q(victim) .. " " .. q(path))
end

describe("backups:restore staged privately", function()
  local dir, db, bdir

  before_each(function()
    dir = helpers.tmpdir("restore-stage")
    bdir = dir .. "/backups"
    db = quarry.open(dir .. "/src")
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("a link or a directory at the old predictable names neither redirects nor breaks it", function()
    local b <close> = quarry.backups(bdir)
    fill(db, 1, 200, "one")
    local d1 = db:digest()
    b:create(db)
    fill(db, 201, 400, "two")
    local d2 = db:digest()
    b:create(db)
    local pid = my_pid()
    local victim = dir .. "/victim"

    -- a new target: links at its old staging name and at the name a replaced database went to
    plant_link(dir .. "/a.restoring-" .. pid, victim)
    plant_link(dir .. "/a.replaced-" .. pid, victim)
    assert.are.equal(1, b:restore(1, dir .. "/a"))
    assert.are.equal(d1, digest_at(dir .. "/a"))
    -- overwrite: the same links still there
    assert.are.equal(2, b:restore(2, dir .. "/a", { overwrite = true }))
    assert.are.equal(d2, digest_at(dir .. "/a"))

    -- a directory (someone's, with a file) at the staging name of an empty target
    sh("mkdir " .. q(dir .. "/e") .. " " .. q(dir .. "/e.restoring-" .. pid))
    helpers.write_file(dir .. "/e.restoring-" .. pid .. "/mine", "keep")
    sh("mkdir " .. q(dir .. "/e.replaced-" .. pid))
    assert.are.equal(2, b:restore(2, dir .. "/e"))
    assert.are.equal(d2, digest_at(dir .. "/e"))
    assert.are.equal(1, b:restore(1, dir .. "/e", { overwrite = true }))
    assert.are.equal(d1, digest_at(dir .. "/e"))

    -- the deep verify's old scratch name, beside the backup directory
    plant_link(bdir .. ".verify-" .. pid .. "-0", victim)
    b:verify(1, { deep = true })
    b:verify(2, { deep = true })

    -- nothing followed, nothing removed, nothing left behind (no staging directory)
    assert.are.same({ "data" }, ls_all(victim))
    assert.are.equal("precious", helpers.read_file(victim .. "/data"))
    for _, name in ipairs({ "a.restoring-" .. pid, "a.replaced-" .. pid }) do
      assert.are.equal("link", sys.file_kind(dir .. "/" .. name), name)
    end
    assert.are.equal("link", sys.file_kind(bdir .. ".verify-" .. pid .. "-0"))
    assert.are.equal("keep", helpers.read_file(dir .. "/e.restoring-" .. pid .. "/mine"))
    assert.are.same({ "a", "a.replaced-" .. pid, "a.restoring-" .. pid, "backups",
      "backups.verify-" .. pid .. "-0", "e", "e.replaced-" .. pid, "e.restoring-" .. pid, "src",
      "victim" }, ls_all(dir))
    -- the restored databases are the umask's, not the stage's 0700
    assert.are_not.equal("700", mode_of(dir .. "/a"))
  end)

  it("keeps the target checks and messages", function()
    local b <close> = quarry.backups(bdir)
    fill(db, 1, 10, "t")
    b:create(db)
    b:restore(1, dir .. "/r")
    helpers.raises_code("InvalidArgument", "restore target " .. dir .. "/r is not empty; choose a " ..
      "new directory, or restore with overwrite", b.restore, b, 1, dir .. "/r")
    sh("mkdir " .. q(dir .. "/docs"))
    helpers.write_file(dir .. "/docs/keep.txt", "precious")
    helpers.raises_code("InvalidArgument", "does not hold a database", b.restore, b, 1,
      dir .. "/docs", { overwrite = true })
    helpers.raises_code("IOError", "does not exist", b.restore, b, 1, dir .. "/no/parent/db")
    -- a parent without write permission (root ignores it: only checked as another user)
    local p = io.popen("id -u")
    local root = p:read("l") == "0"
    p:close()
    if not root then
      sh("mkdir " .. q(dir .. "/ro") .. " && chmod 555 " .. q(dir .. "/ro"))
      finally(function() os.execute("chmod 755 " .. q(dir .. "/ro")) end)
      helpers.raises_code("IOError", "cannot restore into " .. dir .. "/ro/x: mkdir " .. dir ..
        "/ro/x.restoring-", b.restore, b, 1, dir .. "/ro/x")
    end
    assert.are.same({ "backups", "docs", "r", "src" }, ls_all(dir))
  end)

  -- A child restores; it is killed at points spread over the restore's measured duration.
  it("killed with SIGKILL mid-restore: the target is absent (or the old database) or complete",
    function()
    -- about 12 MB of incompressible values, several table files: a restore of some tens of ms
    local r = 0x12345678
    for round = 1, 4 do
      db:write(function(bt)
        for i = 1, 3000 do
          local parts = {}
          for j = 1, 128 do
            r = (r * 6364136223846793005 + 1442695040888963407) & 0xffffffffffffffff
            parts[j] = string.pack("<i8", r)
          end
          bt:put(string.pack(">I8", round * 100000 + i), table.concat(parts))
        end
      end)
      db:flush()
    end
    local want = db:digest()
    local b = quarry.backups(bdir)
    b:create(db)
    fill(db, 1, 50, "old")
    local old_digest = db:digest()
    db:close()
    db = nil
    b:close()

    local child_src = ([[
      local quarry = require("quarry")
      local f = io.open("/proc/self/stat"); local pid = f:read("l"):match("^(%%d+)"); f:close()
      local b = quarry.backups(%q)
      io.write(pid, "\n"); io.stdout:flush()
      local target, overwrite = io.read("l"), io.read("l") == "1"
      b:restore(1, target, { overwrite = overwrite })
      io.write("done\n"); io.stdout:flush()
      io.read("l")
    ]]):format(bdir)

    -- the duration of a whole restore by a child, from the request to its answer
    local function now()
      local p = assert(io.popen("date +%s%N"))
      local ns = tonumber(p:read("l"))
      p:close()
      return ns / 1e9
    end
    local child = helpers.spawn_lua(child_src)
    assert(child.recv(), child.stderr())
    local t0 = now()
    child.send(dir .. "/timed")
    child.send("0")
    assert.are.equal("done", child.recv(), child.stderr())
    local secs = now() - t0
    child.finish()
    assert.are.equal(want, digest_at(dir .. "/timed"))

    local trials, interrupted, completed = 12, 0, 0
    for i = 1, trials do
      local overwrite = i % 2 == 0
      local target = ("%s/t%d"):format(dir, i)
      if overwrite then sh("cp -a " .. q(dir .. "/src") .. " " .. q(target)) end
      child = helpers.spawn_lua(child_src)
      local pid = assert(child.recv(), child.stderr())
      child.send(target)
      child.send(overwrite and "1" or "0")
      -- from right away to past the end of the restore
      sh(("sleep %.3f"):format(secs * 1.5 * (i - 1) / (trials - 1)))
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
      child.finish()
      local stages = {}
      for _, name in ipairs(ls_all(dir)) do
        if name:find("^t" .. i .. "%.restoring%-") then stages[#stages + 1] = name end
      end
      if #stages > 0 then
        interrupted = interrupted + 1
        for _, s in ipairs(stages) do assert.are.equal("700", mode_of(dir .. "/" .. s)) end
      end
      local kind = sys.file_kind(target)
      if kind == nil then
        assert.is_false(overwrite, "trial " .. i .. ": the old database is gone")
      else
        assert.are.equal("directory", kind)
        local got = digest_at(target)
        assert(got == want or (overwrite and got == old_digest),
          ("trial %d: the target is neither complete nor the old database"):format(i))
        if got == want then completed = completed + 1 end
      end
      if #stages > 0 then
        -- the next restore beside it removes the killed one's stage (its owner lock is gone)
        local again = quarry.backups(bdir)
        again:restore(1, target, { overwrite = true })
        again:close()
        for _, name in ipairs(ls_all(dir)) do
          assert.is_nil(name:find("^t" .. i .. "%.restoring%-"), "trial " .. i .. ": stage left: " .. name)
        end
        assert.are.equal(want, digest_at(target))
      end
    end
    print(("\n  38-restore_staging: %d of %d restores killed mid-way (their private stage left " ..
      "behind, removed by the next restore), %d complete (a restore: %.0f ms)"):format(interrupted, trials, completed, secs * 1000))
    assert(interrupted >= 1, "no kill landed during a restore")
  end)
end)

describe("json.writer's messages", function()
  local json = require("quarry.json")

  it("carry their prefix once", function()
    local dir = helpers.tmpdir("writer-msg")
    sh("ln -s " .. q(dir .. "/nowhere") .. " " .. q(dir .. "/link.json"))
    local ok, err = pcall(json.writer, dir .. "/link.json")
    assert.is_false(ok)
    assert.are.equal("json.writer", err.op)
    assert.is_nil(err.message:find("json.writer", 1, true), err.message)
    local s = tostring(err)
    assert(s:find("^quarry: json%.writer: " .. dir:gsub("%p", "%%%0") .. "/link%.json is a symbolic link"), s)
    ok, err = pcall(json.writer, dir .. "/x.json", { format = "csv" })
    assert.is_false(ok)
    assert.are.equal("option format: \"array\", \"object\" or \"jsonl\"", err.message)
    local w = json.writer(dir .. "/x.json")
    w:close()
    ok, err = pcall(w.write, w, 1)
    assert.is_false(ok)
    assert.are.equal("Closed", err.code)
    assert.are.equal("quarry: json.writer: the writer is closed", tostring(err))
    -- and the command says it once, without the op
    local code, _, stderr = helpers.run_quarry({ "gen", "--blocks", "3", "--out", dir .. "/link.json" })
    assert.are.equal(2, code)
    assert(stderr:find("^quarry gen: " .. dir:gsub("%p", "%%%0") .. "/link%.json is a symbolic link"), stderr)
    assert.is_nil(stderr:find("json.writer", 1, true), stderr)
    helpers.rmrf(dir)
  end)
end)
