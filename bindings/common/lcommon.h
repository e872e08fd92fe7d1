/* lcommon.h: what every C module under bindings/ shares (never installed): quarry error objects
 * (one metatable, registry name "quarry.error", so quarry.is_error knows the errors of every
 * module) and the class helpers. Built once as the static library quarry_lua_common. */
#ifndef LCOMMON_H
#define LCOMMON_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>

#include "quarry.h"

/* A raise helper never returns (lua_error longjmps); call sites still write
 * `return ql_raise(...)`, like Lua's own `return luaL_error(...)`. */
#if defined(__GNUC__)
#define QL_NORETURN __attribute__((noreturn))
#else
#define QL_NORETURN _Noreturn
#endif

#define QL_ERROR "quarry.error"

/* ---- l_error.c: error objects ---------------------------------------------------------------- */
/* Pushes a quarry error {code, message, op} with the shared metatable (strings are copied). */
void ql_push_error(lua_State *L, const char *code, const char *op, const char *message);
/* Raises the error of a failed core call: code from rc, message from quarry_last_error(). */
QL_NORETURN int ql_raise(lua_State *L, int rc, const char *op);
/* Raises a quarry error with code rc (a QUARRY_E* value) and a formatted message
 * (lua_pushfstring formats). */
QL_NORETURN int ql_raisef(lua_State *L, int rc, const char *op, const char *fmt, ...);
/* Registers the error metatable (idempotent: the first module loaded creates it, the others
 * find it). Every module calls it before it can raise. */
void ql_error_open(lua_State *L);
/* quarry.is_error(v): true when v is a quarry error (of any binding module). */
int ql_is_error(lua_State *L);

/* ---- class.c: metatables and argument helpers --------------------------------------------- */
/* Creates the metatable tname (__name = tname) with metamethods meta and __index = a table of
 * methods. Leaves the stack unchanged. */
void ql_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta);
/* Adds functions to the methods (__index) table of the existing metatable tname. */
void ql_add_methods(lua_State *L, const char *tname, const luaL_Reg *methods);
/* Raises Closed: "<tname> is closed" (+ " (its database was closed)" when by_db). */
QL_NORETURN int ql_closed(lua_State *L, const char *tname, const char *op, int by_db);
/* A path argument at idx: a string. A number raises InvalidArgument "bad argument #argn to 'op'
 * (path string expected, got number)" (it is not turned into a directory named "42"); any other
 * type raises Lua's argument error, as luaL_checkstring. */
const char *ql_checkpath(lua_State *L, int idx, int argn, const char *op);
/* Argument helpers: strict strings (numbers are not converted: a key is bytes, not a number). */
const char *ql_checkbytes(lua_State *L, int idx, size_t *len);

/* A module entry point: the one exported symbol of each module (the build hides the others). */
#if defined(__GNUC__)
#define QL_EXPORT __attribute__((visibility("default")))
#else
#define QL_EXPORT
#endif

#endif
