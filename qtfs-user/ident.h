/* ident: per-thread filesystem identity (fsuid, fsgid, supplementary groups). */
#ifndef QTFS_IDENT_H
#define QTFS_IDENT_H

#include <stdint.h>
#include <sys/types.h>

struct qtfs_ident {
	uid_t uid;
	gid_t gid;
	uint32_t ngroups;
	gid_t groups[32];
};

/* Drops the daemon's supplementary groups (every thread): what a thread that has not
 * switched acts with. Call once at start, as root. 0 or -errno. */
int qtfs_ident_init(void);
/*
 * Switches only the calling thread (raw syscalls: glibc's setgroups would
 * change every thread). Returns 0 or -errno; on failure the thread is back
 * to root.
 */
int qtfs_ident_enter(const struct qtfs_ident *id);
/* Back to uid/gid 0 and no supplementary groups. */
void qtfs_ident_leave(void);

#endif
