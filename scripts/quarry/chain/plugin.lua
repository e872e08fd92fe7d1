-- quarry.chain.plugin: loads a format or layout given as a built-in name or as a user's Lua file
-- (`--format NAME|FILE.lua`, `--layout NAME|FILE.lua`): the one loader both registries use.
local M = {}

-- plugin.load(kind, spec, namespace, builtin) -> the table the module returns.
-- kind: "format" or "layout" (for messages); namespace: "quarry.chain.formats" (a `-` in a name
-- is `_` in the module); builtin: the built-in names (listed when spec is unknown).
function M.load(kind, spec, namespace, builtin)
  if spec:find("/", 1, true) or spec:match("%.lua$") then
    local chunk, err = loadfile(spec)
    if not chunk then error(("--%s %s: %s"):format(kind, spec, err), 0) end
    local ok, res = pcall(chunk)
    if not ok then error(("--%s %s: %s"):format(kind, spec, tostring(res)), 0) end
    return res
  end
  local modname = namespace .. "." .. spec:gsub("%-", "_")
  local ok, res = pcall(require, modname)
  if not ok then
    if tostring(res):find("module '" .. modname .. "' not found", 1, true) then
      error(("unknown %s %q: the built-in %ss are %s (or give a FILE.lua)"):format(kind, spec, kind,
        table.concat(builtin, ", ")), 0)
    end
    error(res, 0)
  end
  return res
end

return M
