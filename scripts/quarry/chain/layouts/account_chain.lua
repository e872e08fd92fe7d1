-- The account-chain layout: blocks, transactions, receipts and logs with their address and topic
-- indexes (docs/account-chain.md). Its engine is quarry.chain.account, not the UTXO store over a
-- layout module: migrate, verify and export hand a store of this layout to it.
local keys = require("quarry.chain.account.keys")

return {
  name = "account-chain",
  summary = "account-model chains: blocks, hashes, txs, receipts, addr_txs, logs_by_address, logs_by_topic, meta families",
  families = keys.FAMILIES,
  formats = { "ethereum-rpc" },
  account = true,
}
