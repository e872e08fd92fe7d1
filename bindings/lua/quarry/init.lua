-- quarry: the Lua face of Quarry (`require "quarry"`).
-- The C module quarry.core does the work (open, get, put, iteration, batches: all in C); this
-- file re-exports it and adds what reads better written in Lua. See docs/lua-api.md.
local core = require("quarry.core")
local bytes = require("quarry.bytes")
local sys = require("quarry.sys")

local M = {}
for name, value in pairs(core) do
  M[name] = value
end
-- Names of the contract that other modules provide (docs/lua-api.md): the key encodings of
-- quarry.bytes, the one monotonic clock of quarry.sys, and LZ4's version from quarry.json.core
-- (the module that links LZ4).
M.be64, M.uvarint, M.tohex, M.fromhex = bytes.be64, bytes.uvarint, bytes.tohex, bytes.fromhex
M.clock = sys.clock
M.lz4_version = require("quarry.json.core").lz4_version
-- Amounts: the one representation of an exact amount (docs/amounts.md), also as quarry.u256.
M.u256 = require("quarry.u256")

--- quarry.with(path, options, fn): opens the database, calls fn(db) and closes it whatever
--- happens (also when fn raises: the error propagates). Returns fn's results.
function M.with(path, options, fn)
  if fn == nil and type(options) == "function" then
    options, fn = nil, options
  end
  if type(fn) ~= "function" then
    error(("bad argument #3 to 'with' (function expected, got %s)"):format(type(fn)), 2)
  end
  local db <close> = core.open(path, options)
  return fn(db)
end

return M
