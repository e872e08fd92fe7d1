-- quarry man: prints the man page quarry.1 (roff), generated from the commands' parsers.
local cli = require("quarry.cli")

local M = { summary = "print the man page quarry.1 (generated from the commands' own options)" }

function M.run(argv)
  local p = cli.parser("man", M.summary)
  p:epilog("`quarry man | man -l -` reads it; CMake installs it as share/man/man1/quarry.1.")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  io.stdout:write(require("quarry.cli.docs_gen").man())
  return cli.EXIT_OK
end

return M
