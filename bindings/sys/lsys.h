/* lsys.h: what the files of the module quarry.sys share (module-internal, never installed). */
#ifndef LSYS_H
#define LSYS_H

#include "lcommon.h"

/* l_signal.c: the quarry.signals type and sys.catch_signals, added to the table on top. */
void ql_signal_open(lua_State *L);
/* l_output.c: sys.output (the quarry.sys.output type) and sys.mkdtemp, added to the table on top. */
void ql_output_open(lua_State *L);

QL_EXPORT int luaopen_quarry_sys(lua_State *L);

#endif
