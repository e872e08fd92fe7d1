/* backend.c: the public operations of quarry.h that take a database or one of its children,
 * dispatched to the backend serving it (backend.h). A NULL object goes to the RocksDB backend,
 * whose functions report it (ECLOSED, EINVAL) as they always did. */
#include "backend.h"

static inline const q_backend *be_of_db(const quarry_db *db) {
  return db && db->be ? db->be : &q_backend_rocksdb;
}

/* Every child starts with its q_child (iter.c, snapshot.c, batch.c, backend_postgresql.c). */
static inline const q_backend *be_of_child(const void *c) {
  const q_child *ch = (const q_child *)c;
  return ch && ch->be ? ch->be : &q_backend_rocksdb;
}

#define be_of_b(x) be_of_child(x)
#define be_of_s(x) be_of_child(x)
#define be_of_it(x) be_of_child(x)

#define Q_DISPATCH(ret, field, pub, params, args, obj) \
  ret pub params { return be_of_##obj(obj)->field args; }
#define Q_VDISPATCH(field, pub, params, args, obj) \
  void pub params { be_of_##obj(obj)->field args; }
Q_BACKEND_OPS(Q_DISPATCH)
Q_BACKEND_VOID_OPS(Q_VDISPATCH)
#undef Q_DISPATCH
#undef Q_VDISPATCH
