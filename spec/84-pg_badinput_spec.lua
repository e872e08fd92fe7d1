-- 84-pg_badinput: what goes wrong between a client and a PostgreSQL server gives a quarry error
-- with a stable code and a message naming the URL (password shown as ***) and the cause: a URL
-- libpq cannot parse, a refused connection (a closed port), a wrong password, a listener that
-- never answers (bounded by connect_timeout), a server that goes away in the middle of an
-- iteration, a family's table dropped behind the handle's back. No crash, no hang, and the
-- password appears nowhere: not in a message, db:path(), tostring(db), db:metrics() or
-- db:prometheus(). The server that goes away is one of this spec's own (spec/pg_helpers.lua).
local quarry = require("quarry")
local helpers = require("spec.helpers")
local pg = require("spec.pg_helpers")
local socket = require("socket")

describe("bad inputs over PostgreSQL", function()
  if helpers.backend_pending(pending) then return end

  after_each(function()
    pg.stop_all()
    helpers.collect_and_cleanup()
  end)

  -- The password of the test URL never appears in text.
  local function no_password(text, what)
    assert(not tostring(text):find(helpers.pg_password(), 1, true), "the password appears in " .. what)
  end

  -- Asserts quarry.open(url, opts) raises code, with each plain fragment in the message; returns it.
  local function open_fails(code, fragments, url, opts)
    local err = helpers.raises_code(code, nil, quarry.open, url, opts)
    assert.are.equal("open", err.op)
    for _, f in ipairs(fragments) do assert.matches(f, err.message, 1, true) end
    no_password(err.message, "the message: " .. err.message)
    return err
  end

  it("refuses URLs libpq cannot parse, naming the URL and what is wrong", function()
    open_fails("InvalidArgument", { "bad PostgreSQL URL", "postgresql://[::1/q", "IPv6" },
      "postgresql://[::1/q")
    local url = helpers.pg_url() .. "?nosuchparam=1"
    open_fails("InvalidArgument", { "bad PostgreSQL URL", "nosuchparam", helpers.shown(url) }, url)
    open_fails("IOError", { "port", "notaport" }, "postgresql://quarry_test@127.0.0.1:notaport/q")
  end)

  it("reports a refused connection on a closed port as IOError naming host and port", function()
    local port = pg.closed_port()
    local url = helpers.pg_url():gsub(":%d+/", ":" .. port .. "/", 1)
    open_fails("IOError", { "cannot connect", "127.0.0.1", tostring(port), "refused" }, url)
  end)

  it("reports a wrong password as IOError saying so, without either password", function()
    local url = helpers.pg_url():gsub("^(postgresql://[^:]+:)[^@]+@", "%1not-the-password@", 1)
    local err = open_fails("IOError", { "password authentication failed", "quarry_test" }, url)
    assert.is_nil(err.message:find("not-the-password", 1, true), err.message)
  end)

  it("gives up on a listener that never answers after connect_timeout, as IOError", function()
    local listener = assert(socket.bind("127.0.0.1", 0)) -- accepts (the kernel's backlog), never answers
    local _, port = listener:getsockname()
    local url = ("postgresql://quarry_test:secretpw@127.0.0.1:%d/q?connect_timeout=1"):format(port)
    local err = open_fails("IOError", { "cannot connect", "timeout" }, url)
    assert.is_nil(err.message:find("secretpw", 1, true), err.message)
    listener:close()
  end)

  it("says a missing database's family tables are missing with create_if_missing = false", function()
    local url = helpers.backend("pgbad")
    open_fails("NotFound", { "does not exist", "create_if_missing" }, url, { create_if_missing = false })
  end)

  it("raises NotFound (SQLSTATE 42P01), no crash, when a family's table is dropped behind the handle", function()
    local url = helpers.backend("pgbad")
    local db <close> = quarry.open(url, { column_families = { "items" } })
    local items = db:cf("items")
    items:put("k", "v")
    local dbname = url:match("/([%w_]+)$")
    helpers.pg_admin_sql(("DROP TABLE %s.items"):format(dbname), dbname)
    local err = helpers.raises_code("NotFound", "42P01", items.get, items, "k")
    assert.are.equal("get", err.op)
    assert.matches("items", err.message, 1, true)
    no_password(err.message, "the message")
    err = helpers.raises_code("NotFound", "nothing was written", items.put, items, "k", "v2")
    assert.matches("items", err.message, 1, true)
    helpers.raises_code("NotFound", "42P01", function() for _ in items:pairs() do end end)
    -- the other families still work
    db:put("d", "1")
    assert.are.equal("1", db:get("d"))
  end)

  it("ends an iteration with IOError when the server goes away mid-way, and closes cleanly", function()
    local server = pg.start()
    server.sql("CREATE DATABASE gone OWNER quarry_test")
    local url = server.url_for("gone") .. "?connect_timeout=2"
    local db = quarry.open(url, { column_families = { "items" } })
    local items = db:cf("items")
    db:write(function(b)
      for i = 1, 3000 do b:put(items, ("k%05d"):format(i), ("v%d"):format(i)) end
    end)
    local it = items:iterator()
    it:first()
    local seen = 0
    while it:valid() and seen < 10 do
      seen = seen + 1
      it:next()
    end
    assert.are.equal(10, seen)
    server.kill()
    -- the rest of the first page may still come; the next page cannot
    local ok, err = pcall(function()
      while it:valid() do it:next() end
    end)
    assert.is_false(ok, "the iteration went on without the server")
    assert.is_true(quarry.is_error(err), tostring(err))
    assert.are.equal("IOError", err.code, tostring(err))
    assert.is_nil(err.message:find(server.password, 1, true), err.message)
    it:close()
    -- the handle reports the loss on its next use, and closes
    local e2 = helpers.quarry_error(db.get, db, "k00001")
    assert.are.equal("IOError", e2.code, tostring(e2))
    db:close()
  end)

  it("never shows the password in db:path(), tostring, metrics or the Prometheus text", function()
    local url = helpers.backend("pgbad")
    local db <close> = quarry.open(url)
    db:put("k", "v")
    assert.are.equal("v", db:get("k"))
    helpers.assert_db_path(url, db:path())
    no_password(tostring(db), "tostring(db)")
    local function walk(t, where)
      for k, v in pairs(t) do
        if type(v) == "table" then walk(v, where .. "." .. tostring(k)) else no_password(v, where .. "." .. tostring(k)) end
      end
    end
    walk(db:metrics(), "db:metrics()")
    no_password(db:prometheus(), "db:prometheus()")
  end)
end)
