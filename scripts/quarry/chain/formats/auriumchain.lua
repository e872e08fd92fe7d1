-- quarry.chain.formats.auriumchain: the JSON file an AuriumChain node writes (serde_json pretty
-- text of Vec<Block>), read through the engine's renames and written back byte for byte.
--
-- What it is built on (Hicham60290/Auriumchain, read, not copied; commits in docs/auriumchain.md):
--   src/blockchain/block.rs:6-39     Block, Transaction, TxInput, TxOutput: the field names and
--                                    order (serde's derive names the JSON members after them)
--   src/storage/mod.rs:13-14         save_to_file: fs::write(path, serde_json::to_string_pretty(
--                                    &self.chain)): a bare array, no trailing newline
--   src/storage/mod.rs:26            load_from_file reads a bare Vec<Block> only
--   src/blockchain/chain.rs:4-8      (2f84a1a4) `Blockchain { chain, difficulty }` derives
--                                    Serialize: the struct form {"chain": [...], "difficulty": 4}
--   src/blockchain/block.rs          Transaction::is_coinbase (its last function):
--                                    `self.inputs.is_empty()`
--   src/blockchain/chain.rs          (d7e3e35c) mine_pending_transactions inserts the coinbase,
--                                    id "coinbase-{height}", no inputs, at position 0;
--                                    (2f84a1a4) create_genesis_block: one input, prev_tx_id "0"
--   src/blockchain/block.rs:56       Block::new sets `hash: String::new()`, and the mining loop
--                                    of src/main.rs never mines: hash "" for every block, so
--                                    previous_hash "" after the genesis
local json = require("quarry.json")

local M = {
  name = "auriumchain",
  summary = "AuriumChain node JSON (serde_json::to_string_pretty of Vec<Block>, or {\"chain\": [...]})",
  -- save_to_file writes the bare array; a serialized Blockchain struct holds it under "chain".
  container = { "array", { member = "chain" } },
  -- Block, Transaction and TxInput already use the model's names but for these two.
  fields = {
    input = { tx_id = "prev_tx_id" },
    output = { amount = "value" },
  },
  -- TxOutput.value is a u64 (block.rs:37): a JSON integer, in the node's smallest unit.
  amount = { unit = "integer" },
  -- The node gives no hashes (main.rs mining loop: Block::new sets hash String::new() and the
  -- loop never calls mine()); every block then has the same hash "".
  relax = { empty_hash = true, duplicate_hash = true },
  -- coinbase() below is the rule quarry.chain.fast implements as "auriumchain" (the C hot path
  -- of a migration; spec/27 migrates the fixtures both ways and compares the stores).
  native = { coinbase = "auriumchain" },
}

--- coinbase(tx, t, block): the node's Transaction::is_coinbase (block.rs) is `inputs.is_empty()`,
--- at any position (chain.rs add_block checks only the reward of transactions[0]). The older
--- genesis of chain.rs (2f84a1a4, create_genesis_block) has a single input whose prev_tx_id is
--- "0" (the rule of src/blockchain/transaction.rs is_coinbase): that shape creates money too.
function M.coinbase(tx, t, block)
  local inputs = tx.inputs
  if inputs == nil or #inputs == 0 then return true end
  if #inputs == 1 then
    local i = inputs[1]
    local prev = i.tx_id
    if prev == nil then prev = i.prev_tx_id end
    return prev == "0"
  end
  return false
end

-- ---- the writer: serde_json's PrettyFormatter, one block at a time ---------------------------
--
-- serde_json::to_string_pretty indents by two spaces, writes `"key": value`, `[]` and `{}` for
-- empty containers, and escapes only `"`, `\` and 0x00-0x1F (\b \t \n \f \r, else \u00xx in
-- lowercase hex); `/`, DEL and non-ASCII are written as they are. quarry.json.encode with
-- indent = 2 writes each value exactly so (l_json_encode.c: put_string, newline, put_array,
-- put_object); json.writer's array framing does not indent the elements, so the framing is done
-- here: every element line gets two more spaces (a JSON text has no raw newline inside a string,
-- so each "\n" of the encoded element is structural).

local ENC = { indent = 2 }

local function encode_element(record)
  return (json.encode(record, ENC):gsub("\n", "\n  "))
end
M.encode_element = encode_element

local Writer = {}
Writer.__index = Writer
Writer.__name = "quarry.chain.formats.auriumchain.writer"

local function put(w, ...)
  w.f:write(...) -- quarry.sys.output: raises (and removes the temporary file) on a failure
end

--- w:write(record): appends one block. Raises like quarry.json.encode (the record is dropped,
--- the writer stays usable).
function Writer:write(record)
  if self.done then error("auriumchain writer: closed", 2) end
  local text = encode_element(record)
  put(self, self.n == 0 and "[\n  " or ",\n  ", text)
  self.n = self.n + 1
end

--- w:close(): ends the array; fsyncs and renames the temporary file over the target (or ends
--- the stream). Idempotent.
function Writer:close()
  if self.done then return end
  self.done = true
  put(self, self.n == 0 and "[]" or "\n]")
  self.f:close()
end

--- w:abort(): removes the temporary file; the target stays as it was. Idempotent.
function Writer:abort()
  if self.done then return end
  self.done = true
  self.f:abort()
end

--- w:count(): blocks written.
function Writer:count()
  return self.n
end

Writer.__close = function(w, err)
  if err ~= nil then w:abort() else w:close() end
end
Writer.__gc = function(w) w:abort() end

--- writer(path [, opts]) -> w: writes what the node's save_to_file writes, through
--- quarry.sys.output (the core's quarry_file_*): a new temporary file beside `path`
--- (O_CREAT|O_EXCL|O_NOFOLLOW, random name) fsynced and renamed over it by w:close(); "-", a FIFO
--- or a character device is streamed to; a symbolic link is refused. Options: none yet (`opts`
--- is accepted for the engine's sake; `compress = "lz4"` is refused: the node reads plain JSON
--- only).
function M.writer(path, opts)
  opts = opts or {}
  if opts.compress ~= nil and opts.compress ~= "none" then
    error("auriumchain writer: the node reads plain JSON only (compress = \"none\")", 2)
  end
  local f = require("quarry.sys").output(path)
  return setmetatable({ path = path, n = 0, done = false, f = f }, Writer)
end

return M
