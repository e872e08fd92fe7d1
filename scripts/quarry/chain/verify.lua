-- quarry.chain.verify: checks every invariant of a chain store by reading it whole once, and
-- optionally compares every block with the JSON source. Memory: the replayed UTXO set.
local codec = require("quarry.chain.codec")
local J = require("quarry.chain.jsonvalue")

local hkey, skey, ukey, tohex = codec.hkey, codec.skey, codec.ukey, codec.tohex
local MAXINT = math.maxinteger

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
}
local MAX_SHOWN = 5

local function new_report()
  local r = { checks = {}, order = {}, ok = true }
  for _, c in ipairs(M.CHECKS) do
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


-- Compares a source block with the stored one; returns nil or a message.
function M.compare(src, got)
  local json = J.json
  if json.encode(src) == json.encode(got) then return nil end
  local p, u, v = diff(src, got, "")
  if not p then return "encodings differ" end
  return ("%s: source %s, store %s"):format(p == "" and "(block)" or p:sub(1, 1) == "." and p:sub(2) or p,
    J.show(u), J.show(v))
end

-- verify.run(store [, options]) -> report
-- options: source (an open quarry.json reader of the dump: every block is compared),
-- progress(height, tip) called now and then.
-- report = { ok, checks = { name = { ok, failures, first = { messages } } }, order = { names },
--            summary = { base, tip, tip_hash, blocks, txs, utxos, supply } }
function M.run(store, options)
  options = options or {}
  local r = new_report()
  local cf = store.cf
  local db = store.db
  local source = options.source
  local want_json = source ~= nil
  local progress = options.progress

  local meta_fmt = cf.meta:get("format")
  local meta_tip = cf.meta:get("tip")
  local meta_base = cf.meta:get("base")
  if meta_fmt ~= codec.FORMAT and not (meta_fmt == nil and meta_tip == nil) then
    fail(r, "format", "meta format is %s, expected %q", J.show(meta_fmt), codec.FORMAT)
  end
  local tip = meta_tip and string.unpack(">I8", meta_tip) or nil
  local base = meta_base and codec.ruv(meta_base, 1) or nil

  local resolve, remember = store:_resolver(8192)
  local live = {}          -- utxo key -> amount (the replay)
  local nlive, supply, ntxs, nblocks = 0, 0, 0, 0
  local prev_hash, expect = nil, base
  local last
  local undo_floor = store:undo_floor()
  local undo_it = cf.undo:iterator()
  undo_it:first()

  for k, v in cf.blocks:pairs() do
    local ok_key, h = pcall(codec.height_of, k)
    if not ok_key then
      fail(r, "heights", "blocks key %s is not an 8-byte height", hexkey(k))
      goto continue
    end
    if expect == nil then
      fail(r, "heights", "block %d exists but the store has no tip/base record", h)
      expect = h
    end
    if h ~= expect then
      if h < expect then
        fail(r, "heights", "block %d below the base %d", h, expect)
      else
        fail(r, "heights", "gap: blocks %d..%d missing (key %s follows)", expect, h - 1, hexkey(k))
      end
      prev_hash = nil
    end
    expect = h + 1
    last = h
    nblocks = nblocks + 1

    -- Decode (the JSON only when comparing with the source).
    local prev_arg
    if h ~= base then
      if prev_hash == nil then
        fail(r, "links", "block %d: cannot derive previous_hash (block %d unreadable or missing)", h, h - 1)
      end
      prev_arg = prev_hash or "?"
    end
    local ok, block, skel = pcall(codec.decode_block, v, h, prev_arg, resolve, want_json)
    if not ok then
      fail(r, "blocks", "block %d (key %s): %s", h, hexkey(k), type(block) == "table" and block.message or tostring(block))
      prev_hash = nil
      if source then
        local src = source:next()
        if src == nil then fail(r, "source", "block %d: the source has no more blocks", h) end
      end
      goto continue
    end
    remember(h, v)
    prev_hash = skel.hash

    -- Hash index, forward, with the value checksum.
    do
      local hk = skey(skel.hash)
      local hv = cf.hashes:get(hk)
      if not hv then
        fail(r, "hash index", "block %d: no hashes entry for %s (key %s)", h, skel.hash, hexkey(hk))
      else
        local okp, hh, sum = pcall(codec.parse_hashes_value, hv)
        if not okp then
          fail(r, "hash index", "hashes key %s: undecodable value", hexkey(hk))
        elseif hh ~= h then
          fail(r, "hash index", "hashes key %s points at height %d, the block is at %d", hexkey(hk), hh, h)
        elseif sum ~= codec.fnv(v) then
          fail(r, "blocks", "block %d (key %s): the value does not match its checksum (changed)", h, hexkey(k))
        end
      end
    end

    -- Undo record of this block (walked alongside).
    local undo
    while undo_it:valid() and undo_it:key() < k do
      fail(r, "undo", "undo record %s has no block", hexkey(undo_it:key()))
      undo_it:next()
    end
    if undo_it:valid() and undo_it:key() == k then
      local oku, u = pcall(codec.decode_undo, undo_it:value(), h)
      if oku then undo = u else fail(r, "undo", "undo key %s: undecodable", hexkey(k)) end
      undo_it:next()
    elseif not (undo_floor and h < undo_floor) then -- below the floor: pruned (quarry prune)
      fail(r, "undo", "block %d: undo record missing (key %s)", h, hexkey(k))
    end

    -- Transactions: tx index forward, replay.
    local spent_i = 0
    for t, tx in ipairs(skel.txs) do
      ntxs = ntxs + 1
      local idk = skey(tx.id)
      local tv = cf.txs:get(idk)
      if not tv then
        fail(r, "tx index", "block %d tx %s: no txs entry (key %s)", h, tx.id, hexkey(idk))
      else
        local okp, th, tt, tn = pcall(codec.parse_txs_value, tv)
        if not okp or th ~= h or tt ~= t - 1 or tn ~= tx.nout then
          fail(r, "tx index", "txs key %s: points at %s, the transaction is block %d #%d (%d outputs)",
            hexkey(idk), okp and ("block %d #%d (%d outputs)"):format(th, tt, tn) or "garbage",
            h, t - 1, tx.nout)
        end
      end
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
          nlive = nlive - 1
        end
        if undo and (not u or u[1] ~= ref[1] or u[2] ~= ref[2] or u[3] ~= ref[3] or u[4] ~= a) then
          fail(r, "undo", "block %d tx %s input %d: the undo record does not match (key %s)",
            h, tx.id, i - 1, hexkey(k))
        end
        sum_in = sum_in + a
        supply = supply - a
      end
      local sum_out = 0
      for n = 1, tx.nout do
        local a = tx.amounts[n]
        live[ukey(h, t - 1, n - 1)] = a
        nlive = nlive + 1
        sum_out = sum_out + a
        supply = supply + a
      end
      if not (t == 1 and #tx.refs == 0) and sum_out > sum_in then
        fail(r, "spends", "block %d tx %s: outputs (%d) exceed inputs (%d)", h, tx.id, sum_out, sum_in)
      end
    end
    if undo and #undo ~= spent_i then
      fail(r, "undo", "block %d: the undo record lists %d spent outputs, the block spends %d (key %s)",
        h, #undo, spent_i, hexkey(k))
    end

    -- Compare with the source.
    if source then
      local src = source:next()
      if src == nil then
        fail(r, "source", "block %d: the source has no more blocks", h)
        source = nil
      else
        local msg = M.compare(src, block)
        if msg then fail(r, "source", "block %d: %s", h, msg) end
      end
    end
    if progress and nblocks % 1000 == 0 then progress(h, tip) end
    ::continue::
  end
  while undo_it:valid() do
    fail(r, "undo", "undo record %s has no block", hexkey(undo_it:key()))
    undo_it:next()
  end
  undo_it:close()
  if source then
    local extra = source:next()
    if extra ~= nil then
      fail(r, "source", "the source has more blocks than the store (next: index %s)", J.show(J.get(extra, "index")))
    end
  end
  if options.source then
    r.checks.source = r.checks.source or { name = "source", ok = true, failures = 0, first = {} }
    r.checks.source.what = "every block equals the source exactly"
    local seen = false
    for _, n in ipairs(r.order) do if n == "source" then seen = true end end
    if not seen then r.order[#r.order + 1] = "source" end
  end

  -- Tip and base records.
  if last ~= tip then
    fail(r, "heights", "meta tip is %s, the last block is %s", tostring(tip), tostring(last))
  end
  local first_key = require("quarry.chain").first_key(cf.blocks)
  local first_h = first_key and #first_key == 8 and codec.height_of(first_key) or nil
  if first_h ~= base then
    fail(r, "heights", "meta base is %s, the first block is %s", tostring(base), tostring(first_h))
  end

  -- Reverse directions: every index entry belongs to a block.
  local function count(name)
    local n = 0
    for _ in cf[name]:pairs({ keys_only = true }) do n = n + 1 end
    return n
  end
  -- With every forward entry right and as many entries as blocks, the sets are equal; else walk
  -- the family to name the entries that belong to no block.
  if count("hashes") ~= nblocks or not r.checks["hash index"].ok then
    for hk, hv in cf.hashes:pairs() do
      local okp, hh = pcall(codec.parse_hashes_value, hv)
      local bv = okp and cf.blocks:get(hkey(hh))
      local okh, bh = pcall(function() return bv and codec.block_hash(bv) end)
      if not (okh and bh and skey(bh) == hk) then
        fail(r, "hash index", "hashes key %s does not name the hash of block %s", hexkey(hk),
          okp and tostring(hh) or "?")
      end
    end
  end
  if count("txs") ~= ntxs or not r.checks["tx index"].ok then
    for idk, tv in cf.txs:pairs() do
      local okp, th, tt = pcall(codec.parse_txs_value, tv)
      local okr, id = false, nil
      if okp then okr, id = pcall(resolve, th, tt) end
      if not (okr and skey(id) == idk) then
        fail(r, "tx index", "txs key %s does not name transaction %s of block %s", hexkey(idk),
          okp and tostring(tt) or "?", okp and tostring(th) or "?")
      end
    end
  end

  -- UTXO family against the replay.
  local nfam = 0
  for pk, v in cf.utxo:pairs() do
    nfam = nfam + 1
    local a = live[pk]
    local okp, got = pcall(codec.parse_utxo_value, v)
    if a == nil then
      fail(r, "utxo", "utxo key %s: not unspent in the replay (value %s)", hexkey(pk),
        okp and tostring(got) or "garbage")
    else
      if not okp or got ~= a then
        fail(r, "utxo", "utxo key %s: amount %s, the replay says %d", hexkey(pk),
          okp and tostring(got) or "garbage", a)
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

  -- Supply and counters.
  local meta_supply = codec.ruv(cf.meta:get("supply") or "\0", 1)
  if meta_supply ~= supply then
    fail(r, "supply", "meta supply is %d, the replayed unspent amounts sum to %d", meta_supply, supply)
  end
  if supply < 0 or supply > MAXINT then fail(r, "supply", "replayed supply out of range") end
  local meta_txs = codec.ruv(cf.meta:get("txs") or "\0", 1)
  local meta_utxos = codec.ruv(cf.meta:get("utxos") or "\0", 1)
  if meta_txs ~= ntxs then fail(r, "counts", "meta txs is %d, the blocks hold %d transactions", meta_txs, ntxs) end
  if meta_utxos ~= nlive then fail(r, "counts", "meta utxos is %d, the replay has %d unspent outputs", meta_utxos, nlive) end
  if nfam ~= nlive then fail(r, "counts", "the utxo family holds %d entries, the replay %d", nfam, nlive) end

  r.summary = { base = base, tip = last, tip_hash = prev_hash, blocks = nblocks, txs = ntxs,
    utxos = nlive, supply = supply }
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
