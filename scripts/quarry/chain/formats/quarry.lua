-- quarry.chain.formats.quarry: the store's own dump format (docs/chain-format.md), the default.
-- The model's names are its names, amounts are integers in base units, nothing is relaxed.
return {
  name = "quarry",
  summary = "Quarry's own dump: {\"blocks\": [...]} with a header, a bare array, or JSON Lines",
  container = { { member = "blocks" }, "array", "jsonl" },
  fields = {},
  amount = { unit = "integer" },
  -- coinbase: the default rule (the first transaction, when it has no inputs)
  relax = {},
}
