-- quarry.chain.verify: checks every invariant of a chain store by reading it whole once, and
-- optionally compares every block with the JSON source. Memory: the replayed UTXO set.
local codec = require("quarry.chain.codec")
local J = require("quarry.chain.jsonvalue")
local formats = require("quarry.chain.formats")
local u256 = require("quarry.u256")

local hkey, skey, ukey, tohex = codec.hkey, codec.skey, codec.ukey, codec.tohex
local add, sub, cmp = u256.add, u256.sub, u256.cmp
local mtype = math.type

local M = {}

-- The checks, in report order, with what each one means.
M.CHECKS = {
  { "format", "the store's format record is known" },
  { "heights", "block heights are contiguous from the base to the tip" },
  { "blocks", "every block value decodes" },
  { "links", "previous_hash of each block is the hash of the block before it" },
  { "hash index", "hashes <-> blocks, both ways, with each block value's checksum" },
  { "tx index", "txs <-> transactions of the blocks, both ways" },
  { "spends", "every input spends an unspent output; outputs do not exceed inputs" },
  { "undo", "undo records equal the outputs each block spent" },
  { "utxo", "the utxo family equals a replay of every transaction" },
  { "supply", "the running supply equals the sum of the replayed unspent amounts" },
  { "counts", "the tip, transaction and UTXO counters match" },
  { "relaxed", "what the format does not check is counted as the blocks say" },
}
local MAX_SHOWN = 5

local function new_report(checks)
  local r = { checks = {}, order = {}, ok = true }
  for _, c in ipairs(checks or M.CHECKS) do
    r.checks[c[1]] = { name = c[1], what = c[2], ok = true, failures = 0, first = {} }
    r.order[#r.order + 1] = c[1]
  end
  return r
end

local function fail(r, name, fmt, ...)
  local c = r.checks[name]
  if not c then
    c = { name = name, what = name, ok = true, failures = 0, first = {} }
    r.checks[name] = c
    r.order[#r.order + 1] = name
  end
  c.ok = false
  r.ok = false
  c.failures = c.failures + 1
  if #c.first < MAX_SHOWN then c.first[#c.first + 1] = fmt:format(...) end
end
-- for quarry.chain.account.verify: a report over its own checks ({ name, what } each), a failure
M._new_report, M._fail = new_report, fail


local function hexkey(k) return tohex(k) end

-- First difference between two JSON values: a path and both sides, or nil when equal.
local function diff(a, b, path)
  local ka, kb = J.kind(a), J.kind(b)
  if ka ~= kb then return path, a, b end
  if ka == "obj" then
    local keys_a, keys_b = J.keys(a), J.keys(b)
    for i = 1, math.max(#keys_a, #keys_b) do
      local x, y = keys_a[i], keys_b[i]
      if x ~= y then return path .. "{keys}", x or "(none)", y or "(none)" end
      local p, u, v = diff(J.get(a, x), J.get(b, x), path .. "." .. x)
      if p then return p, u, v end
    end
    return nil
  elseif ka == "arr" then
    if J.len(a) ~= J.len(b) then return path .. ".length", J.len(a), J.len(b) end
    for i = 1, J.len(a) do
      local p, u, v = diff(a[i], b[i], path .. "[" .. (i - 1) .. "]")
      if p then return p, u, v end
    end
    return nil
  elseif ka == "num" then
    if J.number_text(a) ~= J.number_text(b) then return path, a, b end
    return nil
  elseif ka == "float" then
    if string.pack("<d", a) ~= string.pack("<d", b) then return path, a, b end
    return nil
  end
  if a ~= b then return path, a, b end
  return nil
end


-- Compares a source block with the stored one; returns nil or a message. The walk finds equal
-- values without encoding them (two copies of each block); where it sees a difference the
-- encodings decide, as before (a json.number and a float of the same text encode alike).
function M.compare(src, got)
  local p, u, v = diff(src, got, "")
  if not p then return nil end
  local json = J.json
  if json.encode(src) == json.encode(got) then return nil end
  return ("%s: source %s, store %s"):format(p == "" and "(block)" or p:sub(1, 1) == "." and p:sub(2) or p,
    J.show(u), J.show(v))
end

---------------------------------------------------------------------------------------------------
-- The walk: one state, per-block steps, then the final checks. Each step is one named function;
-- the lists below are the order they run in.
---------------------------------------------------------------------------------------------------

-- The state of one verification over a store.
local function new_state(store, options)
  local cf = store.cf
  local fmt = store.format
  local meta_tip = cf.meta:get("tip")
  local meta_base = cf.meta:get("base")
  local resolve, remember = store:_resolver(8192)
  return {
    r = new_report(), store = store, cf = cf, fmt = fmt, options = options,
    source = options.source, progress = options.progress,
    -- the JSON of each block is built when it is compared, or when the format's rules need it
    want_json = options.source ~= nil or fmt.name ~= formats.DEFAULT,
    tip = meta_tip and string.unpack(">I8", meta_tip) or nil,
    base = meta_base and codec.ruv(meta_base, 1) or nil,
    resolve = resolve, remember = remember,
    live = {},        -- utxo key -> amount (the replay)
    nlive = 0, supply = 0, ntxs = 0, nblocks = 0, nindexed = 0,
    prev_hash = nil, expect = nil, last = nil,
    seen_hashes = fmt.relax.duplicate_hash and {} or nil, -- hash key -> height (first block)
    counts = { empty_hash = 0, duplicate_hash = 0, unlinked = 0, unspendable = 0, unspendable_amount = 0 },
    undo_floor = store:undo_floor(),
    undo_it = nil,
  }
end

-- The format record is known.
local function check_format(st)
  local meta_fmt = st.cf.meta:get("format")
  if meta_fmt ~= codec.FORMAT and not (meta_fmt == nil and st.tip == nil) then
    fail(st.r, "format", "meta format is %s, expected %q", J.show(meta_fmt), codec.FORMAT)
  end
  st.expect = st.base
end

-- Heights are contiguous from the base. Returns false when the key is not a height.
local function check_height(st, k)
  local ok_key, h = pcall(codec.height_of, k)
  if not ok_key then
    fail(st.r, "heights", "blocks key %s is not an 8-byte height", hexkey(k))
    return nil
  end
  if st.expect == nil then
    fail(st.r, "heights", "block %d exists but the store has no tip/base record", h)
    st.expect = h
  end
  if h ~= st.expect then
    if h < st.expect then
      fail(st.r, "heights", "block %d below the base %d", h, st.expect)
    else
      fail(st.r, "heights", "gap: blocks %d..%d missing (key %s follows)", st.expect, h - 1, hexkey(k))
    end
    st.prev_hash = nil
  end
  st.expect = h + 1
  st.last = h
  st.nblocks = st.nblocks + 1
  return h
end

-- The block value decodes. Returns the block (JSON, when wanted) and its skeleton, or nil.
local function decode_block(st, h, k, v)
  local prev_arg
  if h ~= st.base then
    if st.prev_hash == nil then
      fail(st.r, "links", "block %d: cannot derive previous_hash (block %d unreadable or missing)", h, h - 1)
    end
    prev_arg = st.prev_hash or "?"
  end
  local ok, block, skel = pcall(codec.decode_block, v, h, prev_arg, st.resolve, st.want_json)
  if not ok then
    fail(st.r, "blocks", "block %d (key %s): %s", h, hexkey(k),
      type(block) == "table" and block.message or tostring(block))
    st.prev_hash = nil
    return nil
  end
  st.remember(h, v)
  return block, skel
end

-- previous_hash is the hash of the block before (a stored previous_hash differs only where the
-- format relaxes links next to an empty hash).
local function check_link(st, h, block, skel)
  if block and h ~= st.base and st.prev_hash and block.previous_hash ~= st.prev_hash then
    if st.fmt.relax.empty_hash and (st.prev_hash == "" or block.previous_hash == "") then
      st.counts.unlinked = st.counts.unlinked + 1
    else
      fail(st.r, "links", "block %d: previous_hash %s is not the hash %s of block %d", h,
        J.show(block.previous_hash), J.show(st.prev_hash), h - 1)
    end
  end
  st.prev_hash = skel.hash
end

-- The hash index entry of the block, with the value's checksum (none for a hash the format
-- leaves unindexed: empty, or repeated).
local function check_hash_entry(st, h, k, v, skel)
  local r, relax = st.r, st.fmt.relax
  if skel.hash == "" and relax.empty_hash then
    st.counts.empty_hash = st.counts.empty_hash + 1
    return
  end
  local hk = skey(skel.hash)
  if st.seen_hashes then
    local first = st.seen_hashes[hk]
    if first then
      st.counts.duplicate_hash = st.counts.duplicate_hash + 1
      return
    end
    st.seen_hashes[hk] = h
  end
  st.nindexed = st.nindexed + 1
  local hv = st.cf.hashes:get(hk)
  if not hv then
    fail(r, "hash index", "block %d: no hashes entry for %s (key %s)", h, skel.hash, hexkey(hk))
    return
  end
  local okp, hh, sum = pcall(codec.parse_hashes_value, hv)
  if not okp then
    fail(r, "hash index", "hashes key %s: undecodable value", hexkey(hk))
  elseif hh ~= h then
    fail(r, "hash index", "hashes key %s points at height %d, the block is at %d", hexkey(hk), hh, h)
  elseif sum ~= codec.fnv(v) then
    fail(r, "blocks", "block %d (key %s): the value does not match its checksum (changed)", h, hexkey(k))
  end
end

-- The undo record of the block (walked alongside the blocks). Returns it, or nil.
local function next_undo(st, h, k)
  local it, r = st.undo_it, st.r
  while it:valid() and it:key() < k do
    fail(r, "undo", "undo record %s has no block", hexkey(it:key()))
    it:next()
  end
  if it:valid() and it:key() == k then
    local oku, u = pcall(codec.decode_undo, it:value(), h)
    it:next()
    if oku then return u end
    fail(r, "undo", "undo key %s: undecodable", hexkey(k))
  elseif not (st.undo_floor and h < st.undo_floor) then -- below the floor: pruned (quarry prune)
    fail(r, "undo", "block %d: undo record missing (key %s)", h, hexkey(k))
  end
  return nil
end

-- The txs index entry of transaction t.
local function check_tx_entry(st, h, t, tx)
  local idk = skey(tx.id)
  local tv = st.cf.txs:get(idk)
  if not tv then
    fail(st.r, "tx index", "block %d tx %s: no txs entry (key %s)", h, tx.id, hexkey(idk))
    return
  end
  local okp, th, tt, tn = pcall(codec.parse_txs_value, tv)
  if not okp or th ~= h or tt ~= t - 1 or tn ~= tx.nout then
    fail(st.r, "tx index", "txs key %s: points at %s, the transaction is block %d #%d (%d outputs)",
      hexkey(idk), okp and ("block %d #%d (%d outputs)"):format(th, tt, tn) or "garbage",
      h, t - 1, tx.nout)
  end
end

-- The amount of an output in base units (a stored amount that is not a Lua integer is the
-- record's own value, read with the format's unit).
local function units(st, a)
  if mtype(a) == "integer" then return a end
  local x = st.fmt.read_amount(a)
  if x == nil then return 0 end
  return x
end

-- Replays the inputs of a transaction against the replayed UTXO set and the undo record.
-- Returns their sum and the new position in the undo record.
local function replay_inputs(st, h, k, tx, undo, spent_i)
  local live, r = st.live, st.r
  local sum_in = 0
  for i, ref in ipairs(tx.refs) do
    local pk = ukey(ref[1], ref[2], ref[3])
    local a = live[pk]
    spent_i = spent_i + 1
    local u = undo and undo[spent_i]
    if a == nil then
      fail(r, "spends", "block %d tx %s input %d: output %d/%d/%d is not unspent (utxo key %s)",
        h, tx.id, i - 1, ref[1], ref[2], ref[3], hexkey(pk))
      a = u and u[4] or 0
    else
      live[pk] = nil
      st.nlive = st.nlive - 1
    end
    if undo and (not u or u[1] ~= ref[1] or u[2] ~= ref[2] or u[3] ~= ref[3] or cmp(u[4], a) ~= 0) then
      fail(r, "undo", "block %d tx %s input %d: the undo record does not match (key %s)",
        h, tx.id, i - 1, hexkey(k))
    end
    sum_in = add(sum_in, a)
    st.supply = sub(st.supply, a)
  end
  return sum_in, spent_i
end

-- Replays the outputs of transaction t: the spendable ones join the replayed UTXO set.
local function replay_outputs(st, h, t, tx, txj, block)
  local unspendable = st.want_json and st.fmt.unspendable
  local outs = txj and txj[st.outputs_name or "outputs"]
  local sum_out = 0
  for n = 1, tx.nout do
    local a = units(st, tx.amounts[n])
    sum_out = add(sum_out, a)
    if unspendable and outs and unspendable(outs[n], n, txj, t, block) then
      st.counts.unspendable = st.counts.unspendable + 1
      st.counts.unspendable_amount = add(st.counts.unspendable_amount, a)
    else
      st.live[ukey(h, t - 1, n - 1)] = a
      st.nlive = st.nlive + 1
      st.supply = add(st.supply, a)
    end
  end
  return sum_out
end

-- Does transaction t create money (the format's coinbase rule; without the JSON, the default)?
local function mints(st, t, tx, txj, block)
  if txj then return st.fmt.coinbase(txj, t, block) end
  return t == 1 and #tx.refs == 0
end

-- The transactions of the block: index entries, spends, outputs, undo record.
local function replay_block(st, h, k, block, skel)
  local undo = next_undo(st, h, k)
  local txsj = block and block.transactions
  local spent_i = 0
  for t, tx in ipairs(skel.txs) do
    st.ntxs = st.ntxs + 1
    check_tx_entry(st, h, t, tx)
    local txj = txsj and txsj[t]
    local sum_in
    sum_in, spent_i = replay_inputs(st, h, k, tx, undo, spent_i)
    local sum_out = replay_outputs(st, h, t, tx, txj, block)
    if not mints(st, t, tx, txj, block) and cmp(sum_out, sum_in) > 0 then
      fail(st.r, "spends", "block %d tx %s: outputs (%s) exceed inputs (%s)", h, tx.id,
        tostring(sum_out), tostring(sum_in))
    end
  end
  if undo and #undo ~= spent_i then
    fail(st.r, "undo", "block %d: the undo record lists %d spent outputs, the block spends %d (key %s)",
      h, #undo, spent_i, hexkey(k))
  end
end

-- The block equals the source's record (read into the model with the store's format).
local function compare_source(st, h, block)
  local source = st.source
  if not source then return end
  local src = source:next()
  if src == nil then
    fail(st.r, "source", "block %d: the source has no more blocks", h)
    st.source = nil
    return
  end
  if not block then return end
  if source.compare_block then -- what a stream gave a migration: digests of the blocks it read
    local msg = source:compare_block(src, block)
    if msg then fail(st.r, "source", "block %d: %s", h, msg) end
    return
  end
  local okd, model = pcall(formats.decode, st.fmt, src, "block " .. h)
  if not okd then
    fail(st.r, "source", "block %d: %s", h, tostring(model))
    return
  end
  local msg = M.compare(model, block)
  if msg then fail(st.r, "source", "block %d: %s", h, msg) end
end

-- One block: every per-block check, in order.
local function check_block(st, k, v)
  local h = check_height(st, k)
  if not h then return end
  local block, skel = decode_block(st, h, k, v)
  if not skel then
    if st.source and st.source:next() == nil then
      fail(st.r, "source", "block %d: the source has no more blocks", h)
    end
    return
  end
  check_link(st, h, block, skel)
  check_hash_entry(st, h, k, v, skel)
  replay_block(st, h, k, block, skel)
  compare_source(st, h, block)
  if st.progress and st.nblocks % 1000 == 0 then st.progress(h, st.tip) end
end

-- After the walk: no undo record without a block.
local function check_undo_rest(st)
  local it = st.undo_it
  while it:valid() do
    fail(st.r, "undo", "undo record %s has no block", hexkey(it:key()))
    it:next()
  end
  it:close()
end

-- After the walk: the source has no more blocks; the source check is listed.
local function check_source_rest(st)
  local r = st.r
  if st.source then
    local extra = st.source:next()
    if extra ~= nil then
      fail(r, "source", "the source has more blocks than the store (next: index %s)",
        J.show(J.get(extra, "index")))
    end
  end
  if st.options.source then
    r.checks.source = r.checks.source or { name = "source", ok = true, failures = 0, first = {} }
    r.checks.source.what = "every block equals the source exactly"
    local seen = false
    for _, n in ipairs(r.order) do if n == "source" then seen = true end end
    if not seen then r.order[#r.order + 1] = "source" end
  end
end

-- The tip and base records name the last and first blocks.
local function check_tip_base(st)
  if st.last ~= st.tip then
    fail(st.r, "heights", "meta tip is %s, the last block is %s", tostring(st.tip), tostring(st.last))
  end
  local first_key = require("quarry.chain").first_key(st.cf.blocks)
  local first_h = first_key and #first_key == 8 and codec.height_of(first_key) or nil
  if first_h ~= st.base then
    fail(st.r, "heights", "meta base is %s, the first block is %s", tostring(st.base), tostring(first_h))
  end
end

local function count_keys(cf)
  local n = 0
  for _ in cf:pairs({ keys_only = true }) do n = n + 1 end
  return n
end

-- Every hashes entry belongs to a block. With every forward entry right and as many entries as
-- indexed blocks, the sets are equal; else the family is walked to name the strays.
local function check_hash_index_reverse(st)
  local cf = st.cf
  if count_keys(cf.hashes) == st.nindexed and st.r.checks["hash index"].ok then return end
  for hk, hv in cf.hashes:pairs() do
    local okp, hh = pcall(codec.parse_hashes_value, hv)
    local bv = okp and cf.blocks:get(hkey(hh))
    local okh, bh = pcall(function() return bv and codec.block_hash(bv) end)
    if not (okh and bh and skey(bh) == hk) then
      fail(st.r, "hash index", "hashes key %s does not name the hash of block %s", hexkey(hk),
        okp and tostring(hh) or "?")
    end
  end
end

-- Every txs entry belongs to a transaction.
local function check_tx_index_reverse(st)
  local cf = st.cf
  if count_keys(cf.txs) == st.ntxs and st.r.checks["tx index"].ok then return end
  for idk, tv in cf.txs:pairs() do
    local okp, th, tt = pcall(codec.parse_txs_value, tv)
    local okr, id = false, nil
    if okp then okr, id = pcall(st.resolve, th, tt) end
    if not (okr and skey(id) == idk) then
      fail(st.r, "tx index", "txs key %s does not name transaction %s of block %s", hexkey(idk),
        okp and tostring(tt) or "?", okp and tostring(th) or "?")
    end
  end
end

-- The utxo family equals the replayed set.
local function check_utxo_family(st)
  local live, r = st.live, st.r
  local nfam = 0
  for pk, v in st.cf.utxo:pairs() do
    nfam = nfam + 1
    local a = live[pk]
    local okp, got = pcall(codec.parse_utxo_value, v)
    if a == nil then
      fail(r, "utxo", "utxo key %s: not unspent in the replay (value %s)", hexkey(pk),
        okp and tostring(got) or "garbage")
    else
      if not okp or cmp(got, a) ~= 0 then
        fail(r, "utxo", "utxo key %s: amount %s, the replay says %s", hexkey(pk),
          okp and tostring(got) or "garbage", tostring(a))
      end
      live[pk] = false -- seen
    end
  end
  for pk, a in pairs(live) do
    if a then
      local okk, h, t, n = pcall(codec.parse_ukey, pk)
      fail(r, "utxo", "utxo key %s (block %s tx #%s output %s) missing: the replay has it unspent",
        hexkey(pk), okk and h or "?", okk and t or "?", okk and n or "?")
    end
  end
  st.nfam = nfam
end

-- The running supply equals the replayed sum.
local function check_supply(st)
  local okm, meta_supply = pcall(codec.read_amount, st.cf.meta:get("supply") or "\0", 1)
  if not okm then
    fail(st.r, "supply", "meta supply is undecodable")
  elseif cmp(meta_supply, st.supply) ~= 0 then
    fail(st.r, "supply", "meta supply is %s, the replayed unspent amounts sum to %s",
      tostring(meta_supply), tostring(st.supply))
  end
end

-- The counters match.
local function check_counts(st)
  local r, meta = st.r, st.cf.meta
  local meta_txs = codec.ruv(meta:get("txs") or "\0", 1)
  local meta_utxos = codec.ruv(meta:get("utxos") or "\0", 1)
  if meta_txs ~= st.ntxs then fail(r, "counts", "meta txs is %d, the blocks hold %d transactions", meta_txs, st.ntxs) end
  if meta_utxos ~= st.nlive then fail(r, "counts", "meta utxos is %d, the replay has %d unspent outputs", meta_utxos, st.nlive) end
  if st.nfam ~= st.nlive then fail(r, "counts", "the utxo family holds %d entries, the replay %d", st.nfam, st.nlive) end
end

-- The relaxation counters (meta relaxed) match what the walk counted.
local function check_relaxed(st)
  local chain = require("quarry.chain")
  local stored = chain._decode_counts(st.cf.meta:get("relaxed"))
  for _, k in ipairs({ "empty_hash", "duplicate_hash", "unlinked", "unspendable", "unspendable_amount" }) do
    if cmp(stored[k], st.counts[k]) ~= 0 then
      fail(st.r, "relaxed", "meta relaxed %s is %s, the blocks say %s", k, tostring(stored[k]),
        tostring(st.counts[k]))
    end
  end
end

M.FINAL_STEPS = { check_undo_rest, check_source_rest, check_tip_base, check_hash_index_reverse,
  check_tx_index_reverse, check_utxo_family, check_supply, check_counts, check_relaxed }

-- verify.run(store [, options]) -> report
-- options: source (an open reader of the dump in the store's format: every block is compared;
-- a source with compare_block(token, block) -> nil | message compares each block itself),
-- progress(height, tip) called now and then.
-- report = { ok, checks = { name = { ok, failures, first = { messages } } }, order = { names },
--            summary = { base, tip, tip_hash, blocks, txs, utxos, supply }, relaxed = counts,
--            format = name }
function M.run(store, options)
  local st = new_state(store, options or {})
  st.outputs_name = "outputs"
  check_format(st)
  st.undo_it = st.cf.undo:iterator()
  st.undo_it:first()
  for k, v in st.cf.blocks:pairs() do check_block(st, k, v) end
  for _, step in ipairs(M.FINAL_STEPS) do step(st) end
  local r = st.r
  r.summary = { base = st.base, tip = st.last, tip_hash = st.prev_hash, blocks = st.nblocks,
    txs = st.ntxs, utxos = st.nlive, supply = st.supply }
  r.relaxed = st.counts
  r.format = st.fmt.name
  return r
end

-- Text of a report: one line per check, the first failures under each failed one.
function M.format(r)
  local out = {}
  for _, name in ipairs(r.order) do
    local c = r.checks[name]
    out[#out + 1] = ("%-4s %-11s %s%s"):format(c.ok and "ok" or "FAIL", name, c.what or "",
      c.ok and "" or (" (%d failure%s)"):format(c.failures, c.failures == 1 and "" or "s"))
    for _, m in ipairs(c.first) do out[#out + 1] = "       " .. m end
    if c.failures > #c.first then out[#out + 1] = ("       ... and %d more"):format(c.failures - #c.first) end
  end
  return table.concat(out, "\n")
end

return M
