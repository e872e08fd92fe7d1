-- 45-cli_args: the argument layer of the `quarry` command (docs/tools.md "Command-line
-- conventions"): `quarry help COMMAND`, `--output json` everywhere a machine form exists, the old
-- spellings with their deprecation note, the node operators' aliases, the `--db-<option>` tuning
-- flags and their precedence, and the man page and completions generated from the parsers.
local helpers = require("spec.helpers")

local function expect(code, args, opts)
  local got, out, err = helpers.run_quarry(args, opts)
  assert(got == code, ("quarry %s: exit %s, expected %d\nstdout: %s\nstderr: %s"):format(
    table.concat(args, " "), tostring(got), code, out, err))
  return out, err
end

local function has(text, want)
  assert(text:find(want, 1, true), ("%q lacks %q"):format(text, want))
end

after_each(function()
  helpers.collect_and_cleanup()
end)

describe("quarry help", function()
  it("prints a command's own help with COMMAND, the top level without", function()
    local top = expect(0, { "help" })
    has(top, "usage: quarry <command>")
    for _, name in ipairs({ "scan", "migrate", "stats", "compact" }) do
      local out = expect(0, { "help", name })
      has(out, "Usage: quarry " .. name)
      assert.are.equal(expect(0, { name, "--help" }), out)
    end
    has(expect(0, { "help", "backup", "create" }), "Usage: quarry backup create")
    local _, err = expect(2, { "help", "nosuch" })
    has(err, "unknown command 'nosuch'")
  end)
end)
