-- spec/account_targets.lua: what the account-chain query specs (80, 81) ask about and how
-- eth_getLogs presents a stored log: the addresses and topics a dump's records mention (the
-- targets of the queries; the answers come from spec/account_oracle.lua), and a log with the
-- members eth_getLogs adds.
local json = require("quarry.json")

local M = {}
local lower = string.lower

-- The addresses and topics the records mention (lowercase, sorted), plus one of each they do not:
-- the targets of the queries (the answers come from the oracle).
function M.population(records)
  local a, t = {}, {}
  for _, rec in ipairs(records) do
    local block = rec.block or rec
    for _, tx in ipairs(block.transactions) do
      a[lower(tx.from)] = true
      if type(tx.to) == "string" then a[lower(tx.to)] = true end
    end
    for _, r in ipairs(rec.receipts or {}) do
      if type(r.contractAddress) == "string" then a[lower(r.contractAddress)] = true end
      for _, log in ipairs(r.logs) do
        a[lower(log.address)] = true
        for _, x in ipairs(log.topics) do t[lower(x)] = true end
      end
    end
  end
  local addrs, topics = {}, {}
  for k in pairs(a) do addrs[#addrs + 1] = k end
  for k in pairs(t) do topics[#topics + 1] = k end
  table.sort(addrs)
  table.sort(topics)
  addrs[#addrs + 1] = ("0x%040x"):format(0xdead)
  topics[#topics + 1] = ("0x%064x"):format(0xbeef)
  return addrs, topics
end

-- A log as eth_getLogs gives it: the stored log, with "removed": false appended when it lacks it
-- (old receipts, as ethereum-etl recorded them); the other members eth_getLogs has must be there.
function M.as_get_logs(log)
  for _, k in ipairs({ "blockHash", "blockNumber", "transactionHash", "transactionIndex", "logIndex" }) do
    assert(log[k] ~= nil, "a recorded log lacks " .. k .. ": this spec expects receipts' logs to have it")
  end
  if log.removed ~= nil then return log end
  local c = json.object()
  for _, k in ipairs(json.keys(log)) do c[#c + 1] = k; c[k] = log[k] end
  c[#c + 1] = "removed"
  c.removed = false
  return c
end

return M
