/* ident: the server acts with the caller's (or the export's) ids, one thread at a time. */
#include "qtfs-user/ident.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <grp.h>
#include <unistd.h>

/* Whether this thread runs with ids other than the daemon's own (root, no groups, which
 * qtfs_ident_init sets): leaving is free for the common root caller then. */
static __thread bool qtfs_ident_switched;

int qtfs_ident_init(void)
{
	/* the process-wide call (glibc's setgroups changes every thread) */
	if (setgroups(0, NULL) < 0)
		return -errno;
	return 0;
}

/* setfsuid reports the previous value, never an error: read it back to check. */
static int qtfs_set_fsuid(uid_t uid)
{
	syscall(SYS_setfsuid, uid);
	return (uid_t)syscall(SYS_setfsuid, (uid_t)-1) == uid ? 0 : -EPERM;
}

static int qtfs_set_fsgid(gid_t gid)
{
	syscall(SYS_setfsgid, gid);
	return (gid_t)syscall(SYS_setfsgid, (gid_t)-1) == gid ? 0 : -EPERM;
}

int qtfs_ident_enter(const struct qtfs_ident *id)
{
	int ret;

	if (id->uid == 0 && id->gid == 0 && id->ngroups == 0)
		return 0;
	qtfs_ident_switched = true;
	if (syscall(SYS_setgroups, (size_t)id->ngroups, id->groups) < 0) {
		ret = -errno;
		qtfs_ident_leave();
		return ret;
	}
	/* gid first: once fsuid is not 0 we could not change it any more */
	ret = qtfs_set_fsgid(id->gid);
	if (!ret)
		ret = qtfs_set_fsuid(id->uid);
	if (ret)
		qtfs_ident_leave();
	return ret;
}

void qtfs_ident_leave(void)
{
	if (!qtfs_ident_switched)
		return;
	qtfs_ident_switched = false;
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, 0, NULL);
}
