-- spec/pg_helpers.lua: PostgreSQL servers of a spec's own (scripts/pg-server.sh), for the specs
-- that stop, kill or promote one (the failover and bad-input specs): the shared test server of
-- scripts/test.sh is never touched. Every server started here is stopped and removed by
-- stop_all() (use it in teardown), whatever the test did to it.
local helpers = require("spec.helpers")

local M = {}

M.script = "scripts/pg-server.sh"
local started = {}

local function pg_server(args)
  local status, out, err = helpers.run("bash", { M.script, table.unpack(args) })
  return status, (out:gsub("%s+$", "")), err
end

--- Starts a server (opts.durable: fsync on; opts.sync_standby: commits wait for a standby).
--- Returns an object: dir, url (the test role's, with its password), admin (superuser conninfo),
--- port, and methods standby(), kill(), promote(), stop(), sql(text).
function M.start(opts)
  opts = opts or {}
  local args = { "start" }
  if opts.durable then args[#args + 1] = "--durable" end
  if opts.sync_standby then args[#args + 1] = "--sync-standby" end
  local status, dir, err = pg_server(args)
  assert(status == 0, "scripts/pg-server.sh start failed: " .. err)
  return M.wrap(dir)
end

function M.wrap(dir)
  started[#started + 1] = dir
  local s = { dir = dir }
  local _, url = pg_server({ "url", dir })
  local _, admin = pg_server({ "admin", dir })
  s.url, s.admin = url, admin
  s.port = tonumber(helpers.read_file(dir .. "/port"))
  s.password = helpers.read_file(dir .. "/password")
  --- This server's URL for another database name.
  function s.url_for(dbname)
    return (url:gsub("/[^/?]*$", "/" .. dbname, 1))
  end
  --- A streaming standby of this server (pg_basebackup -R), started.
  function s.standby()
    local st, sdir, e = pg_server({ "standby", dir })
    assert(st == 0, "scripts/pg-server.sh standby failed: " .. e)
    return M.wrap(sdir)
  end
  function s.kill()
    local st, _, e = pg_server({ "kill", dir })
    assert(st == 0, "scripts/pg-server.sh kill failed: " .. e)
  end
  function s.promote()
    local st, _, e = pg_server({ "promote", dir })
    assert(st == 0, "scripts/pg-server.sh promote failed: " .. e)
  end
  function s.stop()
    pg_server({ "stop", dir })
    for i = #started, 1, -1 do
      if started[i] == dir then table.remove(started, i) end
    end
  end
  --- Runs SQL as the superuser; returns psql's unaligned, tuples-only output.
  function s.sql(text)
    return helpers.psql(admin, text)
  end
  return s
end

--- The reason servers cannot be started here (PostgreSQL 15 is not installed), or nil. Under
--- scripts/test.sh ($QUARRY_TEST_PG_REQUIRED=1) nil: start() then fails the test.
function M.unavailable()
  if os.getenv("QUARRY_TEST_PG_REQUIRED") == "1" then return nil end
  local ok, bin = pcall(helpers.pg_bin, "initdb")
  if ok and helpers.exists(bin) then return nil end
  return "PostgreSQL 15 is not installed (initdb not found): scripts/setup.sh installs it, as root"
end

--- Stops and removes every server started by this module.
function M.stop_all()
  for i = #started, 1, -1 do
    pg_server({ "stop", started[i] })
    started[i] = nil
  end
end

--- A TCP port on 127.0.0.1 nothing listens on (bound to port 0, then released).
function M.closed_port()
  local socket = require("socket")
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return M
