/* ident: the server acts with the caller's (or the export's) ids, one thread at a time. */
#include "qtfs-user/ident.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

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
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, 0, NULL);
}
