/* mgr: the domain manager: the table of domains, their lifecycle and state from QMP. */
#ifndef SV_DPUD_MGR_H
#define SV_DPUD_MGR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "domain.h"
#include "errmsg.h"
#include "hostexec.h"
#include "hostsock.h"
#include "store.h"

struct mgr_config {
	char store_dir[256];
	char run_dir[256]; /* VM run directories: the same path on host and DPU */
	char splitvm[256]; /* host path of splitvm */
	char netctl[256];  /* host path of splitvirt-netctl */
	char tap_prefix[8];
	char splitvm_args[256]; /* extra words appended to every splitvm command line */
	struct hostexec exec;
	struct hostsock sock;
	bool make_run_dirs; /* create NAME/ under run_dir here (a qtfs mount of the host's) */
	int start_timeout_ms;
	int shutdown_timeout_ms;
	int command_timeout_ms;
};

void mgr_config_defaults(struct mgr_config *c);

struct mgr_dominfo {
	char name[DOM_NAME_MAX + 1];
	uint8_t uuid[16];
	int32_t id; /* -1 when inactive */
	enum dom_state state;
	char reason[32];
	bool autostart;
	uint32_t vcpus;
	uint64_t memory_kib;
	uint64_t current_memory_kib;
	pid_t pid;
	uint64_t started_ms;
};

struct mgr;

/*
 * Opens the store and loads every definition (a file that does not parse is
 * logged and skipped). 0 or -errno with a message.
 */
int mgr_new(const struct mgr_config *cfg, struct mgr **out, struct errmsg *e);
/* Finds running VMs again through their QMP sockets; starts autostart domains. */
void mgr_reconcile(struct mgr *m);
void mgr_free(struct mgr *m);

/*
 * The verbs. Each returns 0 or -errno with a one-line message:
 *   -ENOENT no such domain, -EPERM the verb does not apply in this state,
 *   -EEXIST name/uuid conflict, -EINVAL refused XML, -EIO the host side failed,
 *   -ETIMEDOUT the VM did not react in time.
 */
int mgr_list(struct mgr *m, bool all, struct mgr_dominfo **out, size_t *n);
int mgr_info(struct mgr *m, const char *name, struct mgr_dominfo *out, struct errmsg *e);
int mgr_dumpxml(struct mgr *m, const char *name, char **xml, struct errmsg *e);
int mgr_define(struct mgr *m, const char *xml, size_t len, char name[DOM_NAME_MAX + 1],
	       struct dom_warnings *w, struct errmsg *e);
int mgr_undefine(struct mgr *m, const char *name, struct errmsg *e);
int mgr_start(struct mgr *m, const char *name, struct errmsg *e);
int mgr_shutdown(struct mgr *m, const char *name, struct errmsg *e);
int mgr_destroy(struct mgr *m, const char *name, struct errmsg *e);
int mgr_reboot(struct mgr *m, const char *name, struct errmsg *e);
int mgr_suspend(struct mgr *m, const char *name, struct errmsg *e);
int mgr_resume(struct mgr *m, const char *name, struct errmsg *e);
int mgr_autostart(struct mgr *m, const char *name, bool on, struct errmsg *e);
/* A connected fd to the domain's serial socket (the caller owns it). */
int mgr_console(struct mgr *m, const char *name, int *fd, struct errmsg *e);

#endif
