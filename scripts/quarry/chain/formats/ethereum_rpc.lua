-- The ethereum-rpc dump format: what a node's JSON-RPC answers for each height, one record per
-- block: an eth_getBlockByNumber(n, true) result, or {"block": <that>, "receipts": [<the receipt
-- of each transaction, in order>]} (docs/account-chain.md). An account-model chain: it goes into
-- the account-chain layout (quarry.chain.account), never into the UTXO engine.
return {
  name = "ethereum-rpc",
  summary = "Ethereum JSON-RPC blocks (eth_getBlockByNumber(n, true)), bare or with their receipts; layout account-chain",
  amount = { unit = "quantity" },
  fields = { block = { index = "number", previous_hash = "parentHash" } },
  container = { "array", "jsonl" },
  account = true,
  layout = "account-chain",
  -- a record is a block (it has a number) or a wrapper {"block", "receipts"}, never a container
  is_record = function(e) return rawget(e, "number") ~= nil or rawget(e, "block") ~= nil end,
}
