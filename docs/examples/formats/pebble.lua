-- pebble.lua: a format for the JSON dump of "pebble", a small made-up node (docs/formats.md,
-- "Writing your own format"). Its dump is one object: a header, then the blocks under "chain":
--   {"node": "pebble", "version": 3, "chain": [
--     {"height": 0, "hash": "...", "prev": "", "time": 1700000000,
--      "txs": [{"txid": "...", "ins": [{"from": TXID, "n": 0}], "outs": [{"sats": 5000, "to": "..."}]}]},
--     ...]}
-- Amounts are whole satoshis; a block's first transaction, with no inputs, mints the reward.
return {
  name = "pebble",
  summary = "pebble node JSON: blocks under \"chain\", amounts in whole sats",
  -- The blocks are the array under the top-level member "chain".
  container = { { member = "chain" } },
  -- The model's name = the pebble member's name; the members not listed (time, ...) are kept as
  -- they are and written back in their place.
  fields = {
    block  = { index = "height", previous_hash = "prev", transactions = "txs" },
    tx     = { id = "txid", inputs = "ins", outputs = "outs" },
    input  = { tx_id = "from", output_index = "n" },
    output = { amount = "sats", address = "to" },
  },
  amount = { unit = "integer" },
  -- coinbase: the default rule (the first transaction, when it has no inputs) is pebble's.
  -- unspendable: none; relax: none: every check applies.
}
