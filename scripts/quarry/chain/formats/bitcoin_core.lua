-- quarry.chain.formats.bitcoin_core: the "bitcoin-core" format: blocks as `bitcoin-cli getblock
-- <hash> 2` prints them (Bitcoin Core 23 and later), one per line or in one JSON array.
--
-- The format only declares (docs/formats.md): the engine renames the members, reads the amounts
-- and calls coinbase() and unspendable(). See docs/bitcoin-core.md for how to make a dump.

-- OP_RETURN: a script that starts with it fails whatever the stack, so Bitcoin Core never adds
-- the output to the UTXO set (CScript::IsUnspendable), whatever type its Solver gives it.
local OP_RETURN_HEX = "6a"
-- MAX_SCRIPT_SIZE, 10,000 bytes: a longer scriptPubKey is unspendable too (the same function).
local MAX_SCRIPT_HEX = 2 * 10000

local function script_of(out)
  local s = out.scriptPubKey
  if type(s) ~= "table" then return nil end
  return s
end

-- True when the scriptPubKey can never be spent: Bitcoin Core's CScript::IsUnspendable() read
-- from the record (`hex` when present, else `type`).
local function unspendable_script(s)
  local hex = s.hex
  if type(hex) == "string" then
    if hex:sub(1, 2):lower() == OP_RETURN_HEX then return true end
    if #hex > MAX_SCRIPT_HEX then return true end
  end
  return s.type == "nulldata"
end

-- The genesis block's coinbase is never connected: ConnectBlock returns before adding its
-- outputs, so its 50 BTC is in no UTXO set (gettxoutsetinfo does not count it).
local function genesis_coinbase(t, block)
  if t ~= 1 or block == nil then return false end
  local height = block.index
  if height == nil then height = block.height end
  return height == 0 and block.previousblockhash == nil and block.previous_hash == nil
end

return {
  name = "bitcoin-core",
  summary = "Bitcoin Core `getblock <hash> 2` output (JSON Lines or a JSON array), amounts in BTC with 8 decimals",
  container = { "array", "jsonl" },
  fields = {
    block  = { index = "height", previous_hash = "previousblockhash", transactions = "tx" },
    tx     = { id = "txid", inputs = "vin", outputs = "vout" },
    input  = { tx_id = "txid", output_index = "vout" },
    output = { amount = "value" },
  },
  amount = { unit = "decimal", scale = 8 },

  -- coinbase(tx, t, block): the first transaction, whose single input has a `coinbase` member
  -- (TxToUniv prints `coinbase` instead of txid/vout/scriptSig for it). Reads the model's
  -- `inputs` and, before renaming, the record's `vin`.
  coinbase = function(tx, t)
    if t ~= 1 then return false end
    local ins = tx.inputs or tx.vin
    return type(ins) == "table" and #ins == 1 and type(ins[1]) == "table"
      and ins[1].coinbase ~= nil
  end,

  -- unspendable(out [, o, tx, t, block]): true when Bitcoin Core never puts the output in the
  -- UTXO set: a scriptPubKey starting with OP_RETURN (type "nulldata", or "nonstandard" when data
  -- other than pushes follows) or longer than 10,000 bytes, and the outputs of the genesis
  -- block's coinbase (when the engine passes o, tx, t and block). Its amount leaves the supply.
  unspendable = function(out, _, _, t, block)
    local s = script_of(out)
    if s ~= nil and unspendable_script(s) then return true end
    return genesis_coinbase(t, block)
  end,

  relax = {},
  -- coinbase() and unspendable() above are the rules quarry.chain.fast implements as
  -- "bitcoin-core" (the C hot path of a migration; spec/27 migrates the fixtures both ways and
  -- compares the stores).
  native = { coinbase = "bitcoin-core", unspendable = "bitcoin-core" },
}
