-- spec/41-shell_spec.lua: `quarry shell` in a real terminal (tmux: send-keys, capture-pane) and
-- with piped input: completion, history across sessions, pretty printing, errors that do not end
-- the session, .refresh seeing another process's writes, the dot commands.
local helpers = require("spec.helpers")
local quarry = require("quarry")

local pack = string.pack
local BIN = helpers.quarry_bin
local q = helpers.shell_quote
local _

local function sleep(s) os.execute("sleep " .. s) end

-- A database: default family with fruit, binary and long values; "blocks" keyed by heights.
local function sample_db()
  local dir = helpers.tmpdir("shell") .. "/db"
  local db <close> = quarry.open(dir, { column_families = { "blocks", "meta" } })
  db:put("apple", "red")
  db:put("apricot", "orange")
  db:put("banana", "yellow")
  db:put("bin", "\0\1\2\3\4\5\6\7")
  db:put("long", ("x"):rep(5000))
  local blocks = db:cf("blocks")
  for h = 1, 20 do blocks:put(pack(">I8", h), "block " .. h) end
  db:cf("meta"):put("tip", pack(">I8", 20))
  return dir
end

local function env_words(env)
  local parts = { "env", "-u", "QUARRY_HISTORY" }
  for name, v in pairs(env or {}) do parts[#parts + 1] = name .. "=" .. q(v) end
  return table.concat(parts, " ")
end

-- ---- piped input ---------------------------------------------------------------------------------

-- Runs `quarry shell --db dir [extra...]` with input on stdin. Returns status, stdout, stderr.
local function piped(dir, input, extra, env)
  local args = { "shell", "--db", dir }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local e = { QUARRY_HISTORY = false }
  for name, v in pairs(env or {}) do e[name] = v end
  return helpers.run_quarry(args, { stdin = input, env = e })
end

-- ---- a terminal ----------------------------------------------------------------------------------

local terminals = {}

-- Starts `quarry shell --db dir` in a detached tmux session of its own (own server socket).
local function terminal(dir, env, extra)
  -- a server of its own, its socket in the test's directory (not /tmp/tmux-UID)
  local t = { socket = helpers.tmpdir("tmux") .. "/sock" }
  terminals[#terminals + 1] = t
  local tmux = "tmux -S " .. q(t.socket) .. " -f /dev/null "
  function t.run(args)
    local ok = os.execute(tmux .. args .. " >/dev/null 2>&1")
    return ok == true
  end
  function t.start()
    local cmd = ("%s %s shell --db %s %s"):format(env_words(env), q(BIN), q(dir), extra or "")
    assert(t.run("new-session -d -x 200 -y 50 " .. q(cmd)), "tmux new-session failed")
    t.run("set-option -g remain-on-exit on")
  end
  --- Types text literally.
  function t.type(text) assert(t.run("send-keys -l -- " .. q(text))) end
  --- Presses keys by name (Enter, Tab, Up, C-u ...).
  function t.keys(...)
    for _, k in ipairs({ ... }) do assert(t.run("send-keys " .. k)) end
  end
  function t.line(text)
    t.type(text)
    t.keys("Enter")
  end
  function t.screen()
    local p = io.popen(tmux .. "capture-pane -p -J -S -500 2>/dev/null")
    local s = p:read("a")
    p:close()
    return s
  end
  --- Waits (up to 10 s, polling) until the screen shows text count times (default once).
  function t.wait(text, count)
    count = count or 1
    local screen
    for _ = 1, 100 do
      screen = t.screen()
      local n, pos = 0, 1
      while true do
        local s, e = screen:find(text, pos, true)
        if not s then break end
        n, pos = n + 1, e + 1
      end
      if n >= count then return screen end
      sleep(0.1)
    end
    error(("the screen never showed %q (%d times); it shows:\n%s"):format(text, count, screen), 2)
  end
  --- Waits until the shell process has exited.
  function t.wait_exit()
    for _ = 1, 100 do
      local p = io.popen(tmux .. "list-panes -F '#{pane_dead}' 2>/dev/null")
      local s = p:read("a")
      p:close()
      if s:match("^1") or s == "" then return end
      sleep(0.1)
    end
    error("the shell did not exit; the screen shows:\n" .. t.screen(), 2)
  end
  function t.kill() t.run("kill-server") end
  t.start()
  t.wait("quarry> ")
  return t
end

local have_tmux = os.execute("command -v tmux >/dev/null 2>&1") == true

local function kill_terminals()
  for i = #terminals, 1, -1 do
    terminals[i].kill()
    terminals[i] = nil
  end
end

describe("quarry shell, piped", function()
  local dir
  setup(function() dir = sample_db() end)
  teardown(helpers.cleanup)

  it("prints expressions, runs statements, no prompts or banner", function()
    local st, out, err = piped(dir, table.concat({
      "1 + 1", "= 'a', 2", "x = 3", "x * 2", "db:get('apple')", "db:get('nope')",
      "local t = 1", "print('printed')", "",
    }, "\n"))
    assert.are.equal(0, st, err)
    assert.are.equal('2\n"a"\t2\n6\n"red"\nnil\nprinted\n', out)
    assert.are.equal("", err)
  end)

  it("reads multi-line chunks", function()
    local _, out = piped(dir, "function f(n)\n  return n * 10\nend\nf(4)\nfor i = 1, 2 do\nprint(i)\nend\n")
    assert.are.equal("40\n1\n2\n", out)
  end)

  it("prints errors on stderr, goes on, and exits 1", function()
    local st, out, err = piped(dir, "error('boom')\n1 +\n+\n.nosuch\n.get nofamily k\ndb:put('x', 'y')\n'still here'\n")
    assert.are.equal(1, st)
    assert.are.equal('"still here"\n', out)
    assert.matches("stdin:1: boom", err, 1, true)
    assert.matches("unexpected symbol", err, 1, true)
    assert.matches("unknown command .nosuch", err, 1, true)
    assert.matches("no column family 'nofamily'", err, 1, true)
    assert.matches("quarry: put: ", err, 1, true) -- read-only: the quarry error through tostring
  end)

  it("reports an unfinished chunk at the end of input", function()
    local st, _, err = piped(dir, "for i = 1, 2 do\n")
    assert.are.equal(1, st)
    assert.matches("<eof>", err, 1, true)
  end)

  it("runs the dot commands", function()
    local _, out, err = piped(dir, table.concat({
      ".cfs", ".scan --max 2", ".scan blocks --from height:3 --to height:5",
      ".scan blocks --prefix 0x00000000000000 --keys-only --max 1", ".scan --reverse --max 1 --keys-only",
      ".get blocks height:7", ".get apple", ".get nope", ".get bin --hex", ".count", ".count blocks --from height:18",
      ".props blocks estimate-num-keys", ".size blocks height:1 height:9", ".stats", ".help", ".help scan", ".refresh",
      ".scan meta --max 0", ".quit", "'not reached'", "",
    }, "\n"))
    assert.are.equal("", err)
    assert.matches("^family%s+keys %(est%.%)%s+sst%s+memtables\ndefault%s+5%s", out)
    assert.matches('\n"apple" : "red"\n"apricot" : "orange"\n%-%- 2 shown, more follow', out)
    assert.matches('\n0x0000000000000003 %(8 bytes%) : "block 3"\n0x0000000000000004 %(8 bytes%) : "block 4"\n', out)
    assert.matches("\n0x0000000000000001 %(8 bytes%)\n%-%- 1 shown", out)
    assert.matches('\n"long"\n%-%- 1 shown', out)
    assert.matches('\n"block 7"\n"red"\n%(not found%)\n0x0001020304050607 %(8 bytes%)\n5\n3\n', out)
    assert.matches("\nrocksdb.estimate%-num%-keys: 20\n%d+ bytes %(", out)
    assert.matches("DB Stats", out, 1, true)
    assert.matches("  .scan     pairs in key order", out, 1, true)
    assert.matches("\n.scan %[cf%] %[%-%-from K%]", out)
    assert.matches("\nreopened read%-only\n%-%- 0 shown, more follow %(%-%-max N shows more%)\n$", out)
    assert.is_nil(out:find("not reached", 1, true))
  end)

  it("tells families from keys by the number of words", function()
    local st, out, err = piped(dir, table.concat({
      ".get blocks", ".get meta tip", ".size blocks", ".size apple banana", ".props blocks estimate-num-keys",
      ".props estimate-num-keys", ".stats nope", "",
    }, "\n"))
    assert.are.equal(1, st)
    assert.matches('^%(not found%)\n0x0000000000000014 %(8 bytes%)\nfamily%s+sst%s+memtables\nblocks%s', out)
    assert.matches("\n%d+ bytes %([^)]*%)\nrocksdb.estimate%-num%-keys: 20\nrocksdb.estimate%-num%-keys: 5\n$", out)
    assert.matches("no column family 'nope'", err, 1, true)
  end)

  it("runs -c lines instead of reading input", function()
    local st, out = piped(dir, "'stdin is ignored'\n", { "-c", ".count blocks", "-c", "db:get('banana')" })
    assert.are.equal(0, st)
    assert.are.equal('20\n"yellow"\n', out)
  end)

  it("preloads K, hex, unhex, pp, json and quarry", function()
    local _, out = piped(dir, 'hex(K"height:1")\nunhex("6869")\npp({1, "a"})\njson.encode({1})\nquarry.version ~= nil\n')
    assert.are.equal('"0000000000000001"\n"hi"\n{ 1, "a" }\n"[1]"\ntrue\n', out)
  end)

  it("removes the secondary scratch directory also on os.exit", function()
    local tmp = helpers.tmpdir("scratch")
    local st = piped(dir, "db:mode()\nos.exit(3)\n", { "--secondary" }, { TMPDIR = tmp })
    assert.are.equal(3, st)
    local p = io.popen("ls -A " .. q(tmp))
    local listing = p:read("a")
    p:close()
    assert.are.equal("", listing)
  end)

  it("opens read-write only when asked", function()
    local rwdir = sample_db()
    local st, out, err = piped(rwdir, "db:mode()\ndb:put('k', 'v')\ndb:get('k')\n", { "--read-write" })
    assert.are.equal(0, st, err)
    assert.are.equal('"read_write"\n"v"\n', out)
    st, out = piped(rwdir, "db:mode()\n")
    assert.are.equal(0, st)
    assert.are.equal('"read_only"\n', out)
  end)

  it("preloads chain for a chain store", function()
    local ok, chain = pcall(require, "quarry.chain")
    if not ok then
      pending("quarry.chain is not installed")
      return
    end
    local cdir = helpers.tmpdir("chain") .. "/db"
    local store = chain.open(cdir)
    store:close()
    local st, out, err = piped(cdir, "chain ~= nil\nchain.db == db\n.cfs\n")
    assert.are.equal(0, st, err)
    assert.matches("^true\ntrue\nfamily", out)
    for _, name in ipairs(chain.FAMILIES) do assert.matches("\n" .. name .. " ", out) end
    _, out = piped(cdir, "chain == nil\n", { "--no-chain" })
    assert.are.equal("true\n", out)
    _, out = piped(dir, "chain == nil\n")
    assert.are.equal("true\n", out)
  end)
end)

describe("quarry shell in a terminal", function()
  if not have_tmux then
    it("needs tmux", function() pending("tmux is not installed") end)
    return
  end

  local dir
  setup(function() dir = sample_db() end)
  after_each(kill_terminals)
  teardown(function()
    kill_terminals()
    helpers.cleanup()
  end)

  local function private_env()
    local home = helpers.tmpdir("home")
    return { HOME = home, TMPDIR = home }, home
  end

  it("shows where it is and how it opened", function()
    local env = private_env()
    local t = terminal(dir, env)
    local screen = t.wait(".help lists the commands")
    assert.matches("quarry shell: " .. dir .. " (read-only: the LOCK is free)", screen, 1, true)
    assert.matches("families: default, blocks, meta; db = the database", screen, 1, true)
  end)

  it("completes methods, built-ins, family names and key prefixes", function()
    local t = terminal(dir, (private_env()))
    t.type("db:ge")
    t.keys("Tab")
    t.wait("quarry> db:get")
    t.type('("apr')
    t.keys("Tab")
    t.wait('quarry> db:get("apricot"') -- readline closes the quote of a unique match
    t.type(")")
    t.keys("Enter")
    t.wait('"orange"')

    t.type(".sc")
    t.keys("Tab")
    t.wait("quarry> .scan ")
    t.type("bl")
    t.keys("Tab")
    t.wait("quarry> .scan blocks ")
    t.type("--ma")
    t.keys("Tab")
    t.wait("quarry> .scan blocks --max ")
    t.line("2")
    t.wait('0x0000000000000002 (8 bytes) : "block 2"')

    t.type(".get ban")
    t.keys("Tab")
    t.wait("quarry> .get banana ")
    t.keys("Enter")
    t.wait('"yellow"')

    t.type(".scan --from=ban")
    t.keys("Tab")
    t.wait("quarry> .scan --from=banana ")
    t.line("--max 1")
    t.wait('"banana" : "yellow"\n-- 1 shown')

    t.type(".get blocks 0x000000000000001")
    t.keys("Tab", "Tab") -- several candidates: the second Tab lists them
    local screen = t.wait("0x0000000000000014")
    assert.matches("0x0000000000000010", screen, 1, true)
    assert.is_nil(screen:find("0x0000000000000009  ", 1, true))
    t.keys("C-u")

    t.type('db:cf("me')
    t.keys("Tab")
    t.wait('quarry> db:cf("meta"')
    t.type("):na")
    t.keys("Tab")
    t.wait('quarry> db:cf("meta"):name')
    t.line("()")
    t.wait('"meta"')
  end)

  it("keeps its history across sessions ($QUARRY_HISTORY)", function()
    local env, home = private_env()
    env.QUARRY_HISTORY = home .. "/hist"
    local t = terminal(dir, env)
    t.line('db:get("apple")')
    t.wait('"red"')
    t.line(".quit")
    t.wait_exit()
    t.kill()
    assert.are.equal('db:get("apple")\n.quit\n', helpers.read_file(home .. "/hist"))

    local t2 = terminal(dir, env)
    t2.keys("Up")
    t2.wait("quarry> .quit")
    t2.keys("Up")
    t2.wait('quarry> db:get("apple")')
    t2.keys("Enter")
    t2.wait('"red"')
  end)

  it("keeps its history in ~/.quarry_history by default", function()
    local env, home = private_env()
    local t = terminal(dir, env)
    t.line(".count blocks")
    t.wait("20")
    t.line(".quit")
    t.wait_exit()
    t.kill()
    assert.are.equal(".count blocks\n.quit\n", helpers.read_file(home .. "/.quarry_history"))
    local t2 = terminal(dir, env)
    t2.keys("Up", "Up")
    t2.wait("quarry> .count blocks")
  end)

  it("pretty-prints binary data, long values and tables", function()
    local t = terminal(dir, (private_env()))
    t.line('db:get("bin")')
    t.wait("0x0001020304050607 (8 bytes)")
    t.line('db:get("long")')
    t.wait('"' .. ("x"):rep(120) .. '"... (5000 bytes)')
    t.line('db:cf("blocks"):get(K"height:3"), "\\0\\1binary", "\\0\\1text"')
    local shown = t.wait('0x000174657874 (6 bytes)') -- a third of the bytes are odd: hex
    assert.matches('\n"block 3"%s+"\\0\\1binary"%s+0x000174657874 %(6 bytes%)\n', shown)
    t.line('{ name = "n", list = { 1, 2 }, raw = "\\0\\0\\0\\1", nested = { deep = { x = ("y"):rep(80) } } }')
    local screen = t.wait("}\n")
    assert.matches('  list = { 1, 2 },\n  name = "n",\n  nested = {\n    deep = {\n      x = "' ..
      ("y"):rep(80) .. '"\n    }\n  },\n  raw = 0x00000001 (4 bytes)\n}', screen, 1, true)
    t.line(".scan --from bin --max 2")
    t.wait('"bin" : 0x0001020304050607 (8 bytes)\n"long" : "' .. ("x"):rep(120) .. '"... (5000 bytes)')
  end)

  it("prints errors and goes on", function()
    local t = terminal(dir, (private_env()))
    t.line('error("boom")')
    t.wait("stdin:1: boom")
    t.line('db:put("x", "y")')
    t.wait("quarry: put: ")
    t.line(".get nofamily key")
    t.wait("no column family 'nofamily'")
    t.line(".bogus")
    t.wait("unknown command .bogus")
    t.line("1 +")
    t.wait(">> ")
    t.line("41")
    t.wait("\n42\n")
    t.line("for i = 1, 1e15 do end")
    sleep(0.3)
    t.keys("C-c")
    t.wait("interrupted")
    t.line("'alive'")
    t.wait('"alive"')
  end)

  it("Ctrl-C interrupts running code every time; at the prompt it discards the line", function()
    local t = terminal(dir, (private_env()))
    t.type("abc")
    t.wait("quarry> abc")
    -- the echo of "c" shows before readline's read_char returns: a Ctrl-C landing inside it was
    -- lost about once in four runs before RocksDB's threads were kept off the signals
    -- (docs/design.md#f15) and once in twelve after, under load; a human's Ctrl-C comes later
    sleep(0.2)
    t.keys("C-c")
    if type(require("quarry.sys").catch_signals) ~= "function" then
      -- without quarry.catch_signals, lua5.4's handler drops the line entered after a Ctrl-C
      t.keys("C-u")
      t.line("2 + 2")
      t.wait("interrupted (Ctrl-C): that line was dropped, enter it again")
      t.line("3 + 3")
      t.wait("\n6\n")
      return
    end
    t.wait("quarry> abc^C\nquarry> ") -- a fresh prompt, as readline shows in bash
    t.line("print(1)")
    local screen = t.wait("quarry> print(1)\n1\n") -- the typed text went with the Ctrl-C
    assert.is_nil(screen:find("abcprint", 1, true))
    t.type("db:ge")
    t.keys("C-c")
    t.line("2 + 2")
    t.wait("\n4\n") -- the Ctrl-C pressed at the prompt does not interrupt the next line
    for i = 1, 3 do
      t.line("for i = 1, 1e15 do end")
      sleep(0.3)
      t.keys("C-c")
      t.wait("stdin:1: interrupted!", i)
    end
    t.line(".scan --max 1 --keys-only")
    t.wait('"apple"\n-- 1 shown')
  end)

  it(".refresh shows keys another process wrote after the shell started", function()
    local live = sample_db()
    local writer = helpers.spawn_lua(([[
      local db = require("quarry").open(%q)
      io.write("open\n") io.stdout:flush()
      for line in io.lines() do
        if line == "quit" then break end
        local k, v = line:match("^put (%%S+) (%%S+)$")
        if k then db:put(k, v) io.write("ok\n") io.stdout:flush() end
      end
      db:close()
    ]]):format(live))
    assert.are.equal("open", writer.recv())
    local t = terminal(live, (private_env()))
    t.wait("(secondary: the LOCK is held by process")
    t.line(".get late")
    t.wait("(not found)")
    writer.send("put late v1")
    assert.are.equal("ok", writer.recv())
    t.line(".get late")
    t.wait("(not found)", 2) -- a secondary sees nothing new until it catches up
    t.line(".refresh")
    t.wait("caught up with the primary")
    t.line(".get late")
    t.wait('"v1"')
    writer.send("put later v2")
    assert.are.equal("ok", writer.recv())
    t.line(".refresh")
    t.wait("caught up with the primary", 2)
    t.line(".scan --from late --keys-only")
    t.wait('"late"\n"later"\n"long"')
    t.line("db:get('later')")
    t.wait('"v2"')
    t.line(".quit")
    t.wait_exit()
    -- the tmux server inherited the writer's stdin pipe: stop it, and tell the writer to quit
    -- rather than waiting for an end of file
    t.kill()
    writer.send("quit")
    assert.is_true((writer.finish()))
  end)
end)
