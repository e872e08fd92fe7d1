-- spec/account_fixture.lua: ethereum-rpc dumps assembled from the recorded node answers in
-- spec/fixtures/ethereum/ (copied from /work/shared/realdata/ethereum/raw: sources and licenses
-- in its README). Each dump is one contiguous chain: blocks with their receipts where the
-- recording has them. The records keep the recorded JSON values (member order, hex text): they
-- are decoded with quarry.json and written back compact.
local json = require("quarry.json")
local helpers = require("spec.helpers")

local M = {}
M.DIR = "spec/fixtures/ethereum"

local function read(path)
  local text = assert(helpers.read_file(M.DIR .. "/" .. path), path)
  return text
end

-- The result of the answer ("<< " line) of an execution-apis .io recording.
local function io_result(path)
  for line in read(path):gmatch("[^\n]+") do
    if line:sub(1, 3) == "<< " then return json.decode(line:sub(4)).result end
  end
  error("no answer in " .. path)
end

-- The result of a recorded JSON-RPC response file ({"jsonrpc", "id", "result"}).
local function response_result(path) return json.decode(read(path)).result end

local function wrap(block, receipts)
  local r = json.object()
  r[1], r[2] = "block", "receipts"
  r.block, r.receipts = block, json.array(receipts)
  return r
end

-- The receipts of block's transactions from a table tx hash -> receipt; nil when one is missing.
local function receipts_of(block, by_hash)
  local t = {}
  for i, tx in ipairs(block.transactions) do
    local rc = by_hash[tx.hash]
    if not rc then return nil end
    t[i] = rc
  end
  return t
end

local function etl_dir(dir, block_files)
  local by_hash = {}
  local p = assert(io.popen("ls " .. helpers.shell_quote(M.DIR .. "/ethereum-etl/" .. dir)))
  for name in p:lines() do
    if name:lower():find("receipt", 1, true) then
      local rc = response_result("ethereum-etl/" .. dir .. "/" .. name)
      by_hash[rc.transactionHash] = rc
    end
  end
  p:close()
  local records = {}
  for _, f in ipairs(block_files) do
    local b = response_result("ethereum-etl/" .. dir .. "/" .. f)
    local rcs = receipts_of(b, by_hash)
    records[#records + 1] = rcs and wrap(b, rcs) or b
  end
  return records
end

-- M.dumps() -> { name = { records = {...}, container = "jsonl"|"array", what = "..." } }
function M.dumps()
  local d = {}
  d.hive = { container = "jsonl", what = "execution-apis: geth's hive test chain, blocks 0 and 1 with receipts",
    records = {
      wrap(io_result("execution-apis.get-genesis.io"), io_result("execution-apis.get-block-receipts-0.io")),
      wrap(io_result("execution-apis.get-block-by-hash.io"), io_result("execution-apis.get-block-receipts-n.io")),
    } }
  d.hive_latest = { container = "array", what = "execution-apis: the hive chain's latest block (0x36) with receipts and logs",
    records = { wrap(io_result("execution-apis.get-latest.io"), io_result("execution-apis.get-block-receipts-latest.io")) } }
  d.etl_47218 = { container = "jsonl", what = "ethereum-etl: mainnet blocks 47218 and 47219 with receipts",
    records = etl_dir("blocks_with_transactions", { "ipc_response.block.47218.json", "ipc_response.block.47219.json" }) }
  d.etl_483920 = { container = "array", what = "ethereum-etl: mainnet block 483920 with receipts and logs",
    records = etl_dir("block_with_logs", { "ipc_response.block.483920.json" }) }
  d.etl_1755634 = { container = "jsonl", what = "ethereum-etl: mainnet blocks 1755634 and 1755635",
    records = etl_dir("blocks_1755634_1755635", { "web3_response.eth_getBlockByNumber_0x1ac9f2_true.json",
      "web3_response.eth_getBlockByNumber_0x1ac9f3_true.json" }) }
  d.homestead = { container = "jsonl", what = "nimbus: a mainnet Homestead block (a value beyond 2^64, a creation)",
    records = { json.decode(read("nimbus/Homestead.json")) } }
  d.cancun = { container = "jsonl", what = "nimbus: a mainnet Cancun block (withdrawals, blobGasUsed, yParity, accessList)",
    records = { json.decode(read("nimbus/Cancun.json")) } }
  d.prague = { container = "array", what = "nimbus: mainnet block 22431082 (type-3 blob transactions)",
    records = { json.decode(read("nimbus/22431082.json")) } }
  return d
end

M.NAMES = { "hive", "hive_latest", "etl_47218", "etl_483920", "etl_1755634", "homestead", "cancun", "prague" }

-- M.unhex(hex) -> bytes: an independent hex decoder (two digits at a time through tonumber), for
-- the specs' oracles of the key bytes.
function M.unhex(h)
  h = h:gsub("^0x", "")
  local t = {}
  for i = 1, #h, 2 do t[#t + 1] = string.char(tonumber(h:sub(i, i + 1), 16)) end
  return table.concat(t)
end

-- M.read_dump(path, container) -> the records of a dump file, parsed with quarry.json.
function M.read_dump(path, container)
  local text = assert(helpers.read_file(path), path)
  if container ~= "jsonl" then return json.decode(text), text end
  local recs = {}
  for line in text:gmatch("[^\n]+") do recs[#recs + 1] = json.decode(line) end
  return recs, text
end

-- M.write(dump, path [, container]) -> path: the records as JSON Lines or an array.
function M.write(dump, path, container)
  container = container or dump.container
  local parts = {}
  for i, r in ipairs(dump.records) do parts[i] = json.encode(r) end
  local text
  if container == "jsonl" then text = table.concat(parts, "\n") .. "\n"
  else text = "[\n" .. table.concat(parts, ",\n") .. "\n]\n" end
  helpers.write_file(path, text)
  return path
end

return M
