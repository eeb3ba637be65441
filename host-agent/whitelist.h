/* whitelist: the rexec allowlist entries hostd manages (splitvm, netctl), pinned by SHA-256. */
#ifndef SV_HOSTD_WHITELIST_H
#define SV_HOSTD_WHITELIST_H

#include <stddef.h>

#include "errmsg.h"

#define WL_BEGIN "# BEGIN splitvirt-hostd (managed; edits inside are replaced)"
#define WL_END	 "# END splitvirt-hostd"

/* SHA-256 of a file as 64 lowercase hex digits. 0 or -errno with a message. */
int wl_sha256_file(const char *path, char hex[65], struct errmsg *e);

/*
 * The new allowlist text: `old` (may be NULL) with the managed block replaced
 * (or appended) by `block`. Lines outside the block are kept byte for byte.
 * malloc'd; NULL on ENOMEM.
 */
char *wl_merge(const char *old, const char *block);

/*
 * Builds the block for splitvm (any arguments) and netctl (its verbs only),
 * each pinned by its current SHA-256, and writes the merged file atomically
 * (mode 0400). 0 or -errno with a message naming the file.
 */
int wl_update(const char *file, const char *splitvm, const char *netctl, struct errmsg *e);

#endif
