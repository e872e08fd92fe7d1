/* l_durable.h: what the durability files of the binding share (l_maint.c registers both). */
#ifndef L_DURABLE_H
#define L_DURABLE_H

#include "lquarry.h"

#define QL_BACKUPS "quarry.backups"

/* l_backup.c: the quarry.backups type and the module function quarry.backups(dir [, opts]). */
void ql_backup_open(lua_State *L);

#endif
