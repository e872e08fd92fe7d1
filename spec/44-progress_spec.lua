-- spec/44-progress_spec.lua: the progress line of the long commands (quarry.cli.progress): the
-- formatting as a pure function of a state and a width; in a real terminal (tmux) of 40, 80 and
-- 200 columns, one line redrawn in place, never wider than the terminal, nothing stale left
-- after the command (gen, export, migrate, compact, checkpoint, backup create); and nothing at
-- all when stderr is not a terminal.
local helpers = require("spec.helpers")
local term = require("spec.tmux_helpers")
local progress = require("quarry.cli.progress")

local q = helpers.shell_quote
local BIN = helpers.quarry_bin

local DET = { label = "migrate", fraction = 0.4567, count = 123456, total = 270000, unit = "blocks",
  elapsed = 17.2, bytes = 2e8 }
local INDET = { label = "backup create", elapsed = 17.2, bytes = 2e8, tick = 3,
  detail = "190.7 MiB written (database 1.2 GiB)" }

describe("progress.format (no terminal)", function()
  it("is never wider than width - 1, one line, at any width", function()
    for w = 2, 220 do
      for _, state in ipairs({ DET, INDET, { label = "compact", fraction = 2 / 6, count = 2,
        total = 6, unit = "families", rate = false, detail = "family utxo", elapsed = 3 } }) do
        local s = progress.format(state, w)
        assert.is_true(#s <= w - 1 or (w == 2 and #s <= 1), ("width %d: %d columns: %q"):format(w, #s, s))
        assert.is_nil(s:find("[\r\n\27]"))
      end
    end
  end)

  it("shows every field when wide, drops the ETA first, then MB/s, as it narrows", function()
    local wide = progress.format(DET, 200)
    for _, part in ipairs({ "migrate", "[#", "45.7%", "123456/270000 blocks", "blocks/s", "MB/s", "ETA" }) do
      assert.is_truthy(wide:find(part, 1, true), part .. " in " .. wide)
    end
    local saw_mb_without_eta = false
    for w = 200, 20, -1 do
      local s = progress.format(DET, w)
      if not s:find("ETA", 1, true) and s:find("MB/s", 1, true) then saw_mb_without_eta = true end
      if s:find("ETA", 1, true) then assert.is_truthy(s:find("MB/s", 1, true), s) end
      if not s:find("MB/s", 1, true) then assert.is_nil(s:find("ETA", 1, true), s) end
    end
    assert.is_true(saw_mb_without_eta)
    local at80 = progress.format(DET, 80)
    assert.is_truthy(at80:find("[#", 1, true))
    assert.is_truthy(at80:find("45.7%", 1, true))
    local at40 = progress.format(DET, 40)
    assert.is_truthy(at40:find("^migrate %[[#-]+%]  45%.7%%$"), at40)
  end)

  it("indeterminate: a spinner, the elapsed time, the detail truncated last", function()
    assert.are.equal("backup create \\ 190.7 MiB written (database 1.2 GiB) 11.6 MB/s 0:17",
      progress.format(INDET, 200))
    assert.are.equal("backup create \\ 190.7 MiB written (data", progress.format(INDET, 40))
    local a, b = progress.format({ label = "x", tick = 1 }, 80), progress.format({ label = "x", tick = 2 }, 80)
    assert.are_not.equal(a, b)
  end)

  it("reads the width from COLUMNS, else the terminal, else a positive default", function()
    local src = "print(require('quarry.cli.progress').columns())"
    local ok, out = helpers.run_lua(src, { COLUMNS = "123" })
    assert.is_true(ok)
    assert.are.equal("123", out:match("%S+"))
    ok, out = helpers.run_lua(src, { COLUMNS = "junk" })
    assert.is_true(ok)
    assert.is_true(tonumber(out) > 0)
  end)
end)

-- A chain store and its dump, made once.
local fixture
local function chain_fixture()
  if fixture then return fixture end
  local dir = helpers.tmpdir("progress")
  local st = helpers.run_quarry({ "gen", "--blocks", "600", "--out", dir .. "/chain.json" })
  assert.are.equal(0, st)
  st = helpers.run_quarry({ "migrate", "--json", dir .. "/chain.json", "--db", dir .. "/db", "--quiet" })
  assert.are.equal(0, st)
  fixture = dir
  return dir
end

-- The commands, each with its label, run in dir (a fresh copy per run where it writes).
local function commands(dir, n)
  local out = dir .. "/run" .. n
  return {
    { label = "gen", cmd = ("%s gen --blocks 600 --out %s"):format(q(BIN), q(out .. ".gen.json")) },
    { label = "export", cmd = ("%s export --db %s --json %s"):format(q(BIN), q(dir .. "/db"), q(out .. ".json")) },
    { label = "migrate", cmd = ("%s migrate --json %s --db %s"):format(q(BIN), q(dir .. "/chain.json"), q(out .. ".db")) },
    { label = "compact", cmd = ("%s compact --db %s"):format(q(BIN), q(dir .. "/db")) },
    { label = "checkpoint", cmd = ("%s checkpoint --db %s --to %s"):format(q(BIN), q(dir .. "/db"), q(out .. ".cp")) },
    { label = "backup create", cmd = ("%s backup create --db %s --backup-dir %s"):format(q(BIN), q(dir .. "/db"), q(out .. ".bk")) },
  }
end

local function is_progress_row(row, label)
  local l = label:gsub("%p", "%%%0")
  return row:find("^" .. l .. " [%[|/\\%-]") ~= nil or row:find("%d%.%d%%") ~= nil
    or row:find("ETA ", 1, true) ~= nil
end

describe("progress in a terminal", function()
  if not term.available then
    it("needs tmux", function() pending("tmux is not installed") end)
    return
  end
  local n = 0
  for _, width in ipairs({ 40, 80, 200 }) do
    it(("one line, at most %d columns, nothing stale after, at %d columns"):format(width, width), function()
      local dir = chain_fixture()
      n = n + 1
      for _, c in ipairs(commands(dir, n)) do
        -- every redraw (and the helper's start) waits, so that the screen is caught mid-way
        local cmd = ("env COLUMNS=%d QUARRY_TEST_PROGRESS_DELAY=0.25 %s"):format(width, c.cmd)
        local captures, status = term.run(cmd, width)
        assert.are.equal(0, status, c.label .. ": " .. captures[#captures])
        local seen = 0
        for i, screen in ipairs(captures) do
          local rows = term.rows(screen)
          local prog = 0
          for _, row in ipairs(rows) do
            assert.is_true(#row <= width, ("%s: a row of %d columns: %q"):format(c.label, #row, row))
            if is_progress_row(row, c.label) then prog = prog + 1 end
          end
          if i < #captures and not term.finished(screen) then
            -- while it runs the screen holds the progress line alone (no wrapped, stale rows);
            -- once the report is being printed, no progress row is left
            assert.is_true(prog <= 1, c.label .. ": " .. prog .. " progress rows:\n" .. screen)
            assert.is_true(prog == 0 or #rows == 1, c.label .. ": more than the progress line:\n" .. screen)
            seen = seen + prog
          end
        end
        assert.is_true(seen > 0, c.label .. ": no progress line was ever seen:\n" .. captures[#captures])
        local final = captures[#captures]
        for _, row in ipairs(term.rows(final)) do
          assert.is_false(is_progress_row(row, c.label), c.label .. ": a stale progress row:\n" .. final)
        end
      end
    end)
  end
end)

describe("progress when stderr is not a terminal", function()
  it("draws nothing (stderr captured to a file)", function()
    local dir = chain_fixture()
    for _, c in ipairs(commands(dir, "file")) do
      local errf = dir .. "/stderr." .. c.label:gsub(" ", "_")
      local ok = os.execute(("env TERM=xterm QUARRY_TEST_PROGRESS_DELAY=0.01 %s >/dev/null 2>%s")
        :format(c.cmd, q(errf)))
      assert.is_true(ok, c.label)
      local err = helpers.read_file(errf) or ""
      assert.are.equal("", err, c.label)
    end
  end)
end)
