-- spec/chain_helpers.lua: what the chain specs (2x) share: running the quarry command, generating
-- and rewriting dumps, digests of databases.
local helpers = require("spec.helpers")

local M = {}

M.bin = helpers.quarry_bin
M.fixtures = "spec/fixtures/chain"

local q = helpers.shell_quote

-- Runs `quarry <args...>` with extra environment variables; returns ok, exit code, stdout, stderr.
function M.quarry(args, env)
  local status, out, err = helpers.run_quarry(args, { env = env })
  return status == 0, status, out, err
end

-- Asserts that the command succeeds; returns stdout.
function M.ok(args, env)
  local ok, code, out, err = M.quarry(args, env)
  assert(ok, ("quarry %s failed (exit %s):\n%s%s"):format(table.concat(args, " "), tostring(code), out, err))
  return out
end

-- Generates a dump (quarry gen) and returns its path.
function M.gen(dir, name, blocks, more)
  local path = dir .. "/" .. name
  local args = { "gen", "--blocks", tostring(blocks), "--seed", "7", "--out", path }
  for _, a in ipairs(more or {}) do args[#args + 1] = a end
  M.ok(args)
  return path
end

-- Every block of a dump (a list), and the reader's header.
function M.read_blocks(path)
  local migrate = require("quarry.chain.migrate")
  local r = migrate.open_source(path)
  local blocks = {}
  for b in r:each() do blocks[#blocks + 1] = b end
  local header = r:header()
  r:close()
  return blocks, header
end

-- Writes blocks as a dump (object format with header when given, else by extension).
function M.write_blocks(path, blocks, header, format)
  local json = require("quarry.json")
  local opts = { format = format or (header and "object") or nil }
  if header then opts.header = header end
  local w = json.writer(path, opts)
  for _, b in ipairs(blocks) do w:write(b) end
  w:close()
  return path
end

-- A deep copy of a JSON value (objects keep their key order).
function M.copy(v)
  if type(v) ~= "table" then return v end
  local json = require("quarry.json")
  local mt = getmetatable(v)
  if mt == json.number_mt then return v end
  local c = {}
  for k, x in next, v do c[k] = M.copy(x) end
  return setmetatable(c, mt)
end

-- Digest of the database at path (the six chain families, or the given ones), opened read-only.
function M.digest(path, families)
  local quarry = require("quarry")
  local digest = require("quarry.chain.digest")
  local db <close> = quarry.open(path, { mode = "read_only" })
  return digest.db(db, families or require("quarry.chain").FAMILIES)
end

-- Digest of everything but meta.
M.DATA = { "blocks", "hashes", "txs", "utxo", "undo" }

-- Copies a directory (a database) to a new temporary one.
function M.copy_db(path, tag)
  local dir = helpers.tmpdir(tag or "copy")
  assert(os.execute(("cp -r %s/. %s/"):format(q(path), q(dir))))
  return dir
end

-- Blocks of a generated chain, in memory (quarry gen's generator).
function M.gen_blocks(n, seed, plain)
  local blocks = {}
  require("quarry.cli.commands.gen").chain({ blocks = n, seed = seed or 7, plain = plain },
    function(b) blocks[#blocks + 1] = b end)
  return blocks
end

function M.encode(v) return require("quarry.json").encode(v) end

return M
