/* l_box.c: the quarry.box type: a userdata owning a C pointer freed by its function at __gc (or
 * earlier by ql_box_free), so C memory held across calls that may raise is never leaked. */
#include "lquarry.h"

typedef struct {
  void *p;
  ql_free_fn fn;
} ql_box;

void **ql_box_new(lua_State *L, ql_free_fn fn) {
  ql_box *b = (ql_box *)lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->fn = fn;
  luaL_setmetatable(L, QL_BOX);
  return &b->p;
}

void ql_box_free(lua_State *L, int idx) {
  ql_box *b = (ql_box *)luaL_checkudata(L, idx, QL_BOX);
  void *p = b->p;
  b->p = NULL;
  if (p != NULL)
    b->fn(p);
}

static int box_gc(lua_State *L) {
  ql_box_free(L, 1);
  return 0;
}

void ql_box_open(lua_State *L) {
  luaL_newmetatable(L, QL_BOX);
  lua_pushcfunction(L, box_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}
