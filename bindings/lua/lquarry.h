/* lquarry.h: what the Lua binding's source files share (binding-internal, never installed).
 * The binding calls only core/include/quarry.h. Each l_<name>.c binds the core file of the same
 * name: a type (l_db.c, l_cf.c, l_batch.c, l_iter.c, l_snapshot.c, l_backup.c; l_box.c, the
 * binding's own) or the operations of one concern (l_maintenance.c, l_checkpoint.c, l_verify.c,
 * l_metrics.c, l_options.c), each with its ql_<name>_open. */
#ifndef LQUARRY_H
#define LQUARRY_H

#include "lcommon.h" /* error objects, class helpers (bindings/common) */

/* Metatable names (also the __name shown by tostring and luaL_typeerror). */
#define QL_DB "quarry.db"
#define QL_CF "quarry.cf"
#define QL_BATCH "quarry.batch"
#define QL_ITER "quarry.iterator"
#define QL_SNAPSHOT "quarry.snapshot"
#define QL_BOX "quarry.box"
#define QL_BACKUPS "quarry.backups"

/* ---- userdata layouts ------------------------------------------------------------------------
 * Every handle is created closed (pointer NULL) with its metatable before the core object is
 * acquired. Children keep their database userdata in user value 1, so `owner` (a pointer into
 * that userdata's memory) stays valid as long as the child userdata exists. */
typedef struct ql_db {
  quarry_db *db;               /* NULL once closed */
  quarry_value *pending;       /* get: a value not yet pushed (a Lua error may interrupt) */
  quarry_value **pending_vals; /* multi_get: values not yet pushed; memory in user value 2 */
  size_t pending_n;
  quarry_batch *scratch;       /* put_many's batch, reused (cleared) from call to call; NULL
                                  until the first call. Closed before the db. */
  quarry_iter *pending_iter;   /* seek: the iterator whose entry is being pushed */
} ql_db;
/* db user values: 1 = path (string), 2 = multi_get scratch (anchors pending_vals; reused by the
 * next multi_get when large enough). */
#define QL_DB_NUV 2

typedef struct ql_cf {
  quarry_cf *cf; /* owned by the core db; only valid while owner->db != NULL */
  ql_db *owner;
  int closed;    /* cf:close() was called */
} ql_cf;
/* cf user values: 1 = db userdata, 2 = family name (string). */

typedef struct ql_batch {
  quarry_batch *b;
  ql_db *owner;
} ql_batch;

typedef struct ql_iter {
  quarry_iter *it;
  ql_db *owner;
  int done; /* the pairs() walk reached its end (and released the iterator) */
} ql_iter;
/* iterator user values: 1 = db userdata, 2 = snapshot userdata used by iopts (or nil). */

typedef struct ql_snapshot {
  quarry_snapshot *s;
  ql_db *owner;
} ql_snapshot;

/* ---- l_box.c ---------------------------------------------------------------------------------- */
/* Boxes: a userdata owning a C pointer freed by fn at __gc (or earlier by ql_box_free), so C
 * memory held across calls that may raise is never leaked. Pushes the box. */
typedef void (*ql_free_fn)(void *p);
void **ql_box_new(lua_State *L, ql_free_fn fn);
void ql_box_free(lua_State *L, int idx);

/* Names arrays from the core (NULL-terminated, freed by quarry_free_names). */
void ql_free_names(void *p);
void ql_push_names(lua_State *L, char **names); /* pushes a sequence of the names */


/* ---- l_options.c: option tables -------------------------------------------------------------- */
/* Builds open options from the table at idx (or nil): preset < env < explicit. Pushes a box
 * owning the options and returns them. Raises InvalidArgument naming a bad option. */
quarry_options *ql_open_options(lua_State *L, int idx);
/* Parses ropts/wopts/iopts at idx (nil or none: defaults). Unknown keys raise InvalidArgument.
 * Strings in iopts point into the table at idx (keep it on the stack while they are used).
 * ql_iter_options returns 1 when iopts holds a snapshot (to anchor in the iterator), else 0. */
void ql_read_options(lua_State *L, int idx, const ql_db *owner, const char *op,
                     quarry_read_options *ro);
void ql_write_options(lua_State *L, int idx, const char *op, quarry_write_options *wo);
int ql_iter_options(lua_State *L, int idx, const ql_db *owner, const char *op,
                    quarry_iter_options *io);
/* The one walker of option tables: steps lua_next over the table at idx (push nil first).
 * Returns the key, with the value on top of the stack (pop it before the next call), or NULL at
 * the end. A key that is not a string raises InvalidArgument "<what> names must be strings". */
const char *ql_next_option(lua_State *L, int idx, const char *op, const char *what);
/* Pushes a table of the tuning values (options with tuning = 1) of opts. */
void ql_push_tuning(lua_State *L, const quarry_options *opts);

/* ---- accessors (two per type: type only; checked = open, else raises Closed) ----------------- */
ql_db *ql_todb(lua_State *L, int idx);
ql_db *ql_checkdb(lua_State *L, int idx, const char *op);
ql_cf *ql_tocf(lua_State *L, int idx);
ql_cf *ql_checkcf(lua_State *L, int idx, const char *op);
ql_batch *ql_tobatch(lua_State *L, int idx);
ql_batch *ql_checkbatch(lua_State *L, int idx, const char *op);
ql_iter *ql_toiter(lua_State *L, int idx);
ql_iter *ql_checkiter(lua_State *L, int idx, const char *op);
ql_snapshot *ql_tosnapshot(lua_State *L, int idx);
ql_snapshot *ql_checksnapshot(lua_State *L, int idx, const char *op);

/* A data-operation target at idx: a db (family NULL = default) or a cf. Raises a type error for
 * anything else and Closed for a closed handle. */
ql_db *ql_checktarget(lua_State *L, int idx, const char *op, quarry_cf **cf);
/* Pushes the db userdata of the target (db or cf) at idx. */
void ql_push_owner(lua_State *L, int idx);

/* Constructors used across files: each pushes the new userdata. db_idx is the db userdata. */
ql_cf *ql_cf_push(lua_State *L, int db_idx); /* closed until the caller sets cf */
ql_batch *ql_batch_push(lua_State *L, int db_idx, const char *op);
/* Pushes a new iterator over the target at index 1 (checked with ql_target: the caller is
 * registered with ql_add_target_fns) with the iterator options at iopts_idx. */
void ql_iter_push(lua_State *L, int iopts_idx, const char *op);

/* An optional column family argument at idx: nil/none gives NULL (every family or default, as
 * the core function says); a cf of another database raises InvalidArgument. */
quarry_cf *ql_optcf(lua_State *L, int idx, const ql_db *owner, const char *op);

/* The data operations (get, multi_get, put, put_many, delete, delete_range) shared by db and cf
 * (l_db.c); l_iter.c adds pairs and iterator to both. ql_add_target_fns adds such functions to
 * the methods of tname (QL_DB or QL_CF) with upvalues 1 = the db metatable, 2 = the cf metatable,
 * 3 = the iterator metatable (a metatable missing yet is created, and later completed by its
 * ql_newclass). Such a function checks its self (argument 1) with ql_target: ql_checktarget's
 * checks and errors, without looking metatables up by name. */
extern const luaL_Reg ql_data_ops[];
void ql_add_target_fns(lua_State *L, const char *tname, const luaL_Reg *fns);
ql_db *ql_target(lua_State *L, const char *op, quarry_cf **cf);
/* Frees what a read parked in the db userdata while pushing its results (a Lua error may
 * interrupt a push): done by the next read and by close. */
void ql_release_pending(ql_db *d);
/* Pushes the db userdata of the target at idx, given the cf ql_target returned for it. */
#define QL_PUSH_TARGET_OWNER(L, idx, cf) \
  ((cf) != NULL ? (void)lua_getiuservalue((L), (idx), 1) : lua_pushvalue((L), (idx)))

/* ---- per-concern registration: each takes the module table on top of the stack, adds its
 * functions and metatables, and leaves the stack as it found it. Order (quarry.c): error, box,
 * options, db, cf, batch, iter, snapshot (later ones add methods to the db class). ---------- */
void ql_box_open(lua_State *L);
void ql_options_open(lua_State *L);
void ql_db_open(lua_State *L);
void ql_cf_open(lua_State *L);
void ql_batch_open(lua_State *L);
void ql_iter_open(lua_State *L);
void ql_snapshot_open(lua_State *L);
void ql_maintenance_open(lua_State *L); /* l_maintenance.c: flush, compact, property, sizes */
void ql_checkpoint_open(lua_State *L);  /* l_checkpoint.c: db:checkpoint */
void ql_verify_open(lua_State *L);      /* l_verify.c: db:verify, db:digest, cf:digest */
void ql_backup_open(lua_State *L);      /* l_backup.c: the quarry.backups type, quarry.backups */
void ql_metrics_open(lua_State *L);     /* l_metrics.c: db:metrics, db:prometheus */

/* The module entry point: the one exported symbol (the build hides the others). */
QL_EXPORT int luaopen_quarry_core(lua_State *L);

#endif
