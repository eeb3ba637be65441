/* whitelist: the per-operation path allowlist in openEuler qtfs's INI form, extended. */
#ifndef QTFS_WHITELIST_H
#define QTFS_WHITELIST_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

/*
 * Sections as in openEuler's /etc/qtfs/whitelist, plus the operations the
 * kernel qtfs left unchecked. A section absent from the file leaves its
 * operation unrestricted; a section present allows the operation only on
 * paths at or below one of its Path= entries (none: on nothing).
 */
enum qtfs_wl_op {
	QTFS_WL_OPEN,
	QTFS_WL_WRITE,
	QTFS_WL_READ,
	QTFS_WL_READDIR,
	QTFS_WL_MKDIR,
	QTFS_WL_RMDIR,
	QTFS_WL_CREATE,
	QTFS_WL_UNLINK,
	QTFS_WL_RENAME,
	QTFS_WL_SETATTR,
	QTFS_WL_SETXATTR,
	QTFS_WL_MOUNT,
	QTFS_WL_LOOKUP,
	QTFS_WL_GETATTR,
	QTFS_WL_SYMLINK,
	QTFS_WL_LINK,
	QTFS_WL_GETXATTR,
	QTFS_WL_COUNT,
};

struct qtfs_wl;

const char *qtfs_wl_op_name(enum qtfs_wl_op op);
/* Parses the INI text; NULL with errno and "name:line: reason" on bad input. */
struct qtfs_wl *qtfs_wl_parse(const char *text, size_t len, const char *name, struct errmsg *e);
/* Loads a file that must be root-owned and not group/world-writable. */
struct qtfs_wl *qtfs_wl_load(const char *path, struct errmsg *e);
void qtfs_wl_free(struct qtfs_wl *wl);

/* Whether the operation is restricted at all (so callers can skip finding the path). */
bool qtfs_wl_restricted(const struct qtfs_wl *wl, enum qtfs_wl_op op);
/* Whether op may act on the absolute, resolved path. A NULL list allows everything. */
bool qtfs_wl_allows(const struct qtfs_wl *wl, enum qtfs_wl_op op, const char *path);
/* Number of Path= entries of op (-1 when the section is absent). */
int qtfs_wl_count(const struct qtfs_wl *wl, enum qtfs_wl_op op);

#endif
