/* server: qtfsd's exports, connections, open files and worker pool. */
#ifndef QTFS_SERVER_H
#define QTFS_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "qtfs-user/handle.h"
#include "qtfs-user/link.h"
#include "qtfs-user/proto.h"
#include "qtfs-user/whitelist.h"
#include "xport.h"

enum qtfsd_kind { QTFSD_KIND_NORMAL, QTFSD_KIND_PROC, QTFSD_KIND_SYS };
enum qtfsd_idmode { QTFSD_ID_FIXED, QTFSD_ID_CALLER };

struct qtfsd_export {
	char name[64];
	char path[4096];
	bool ro;
	bool allow_devices;
	bool root_squash;
	enum qtfsd_kind kind;
	enum qtfsd_idmode idmode;
	uid_t uid; /* fixed mode: who the server acts as */
	gid_t gid;
	struct qh_store hs;
	bool hs_ready;
};

#define QTFSD_MAX_EXPORTS 64
#define QTFSD_MAX_LISTEN  8

struct qtfsd_conf {
	char *listen[QTFSD_MAX_LISTEN];
	size_t nlisten;
	bool test_mode;
	char *tls_cert, *tls_key, *tls_ca;
	char *whitelist;
	char *handle_key;
	char *log_file;
	int log_level; /* -1: unset */
	unsigned workers, max_workers;
	struct qtfsd_export exports[QTFSD_MAX_EXPORTS];
	size_t nexports;
};

int qtfsd_conf_load(struct qtfsd_conf *c, const char *path, struct errmsg *e);
/* "-e PATH[:opt,opt]" on the command line: rw,ro,caller,proc,sys,root_squash */
int qtfsd_conf_add_export(struct qtfsd_conf *c, const char *spec, struct errmsg *e);
void qtfsd_conf_free(struct qtfsd_conf *c);

struct qtfsd;

/* An open file of one connection, under the client's id for it. */
struct qtfsd_fh {
	struct qtfsd_fh *next;
	uint64_t id;
	int fd;
	uint32_t flags;
	unsigned refs;
	atomic_bool released;
	pthread_mutex_t dir_lock; /* readdir: seek + getdents must not interleave */
};

struct qtfsd_job;

/* The fd carrying one lock owner's POSIX locks on one file, as OFD locks: owners on the
 * DPU conflict with each other and with host processes, as processes would locally. */
struct qtfsd_lockfd {
	struct qtfsd_lockfd *next;
	uint64_t owner;
	dev_t dev;
	ino_t ino;
	int fd;
};

struct qtfsd_conn {
	struct qtfsd *srv;
	struct qtfs_link link;
	struct qtfsd_export *exp; /* set by ATTACH, fixed afterwards */
	bool ro;
	pthread_mutex_t lock; /* guards fhs, jobs, refs, dead */
	pthread_cond_t cond;
	struct qtfsd_fh *fhs[256];
	struct qtfsd_job *jobs; /* in flight, for interrupts */
	struct qtfsd_lockfd *lockfds;
	unsigned refs; /* queued or running jobs */
	bool dead;     /* the link closed */
	char peer[256];
	struct xport_conn *xc; /* until the connection thread has done the handshake */
};

struct qtfsd_job {
	struct qtfsd_job *next;		 /* pool queue */
	struct qtfsd_job *cnext, *cprev; /* conn's in-flight list */
	struct qtfsd_conn *conn;
	struct wire_frame f;
	pthread_t worker;
	bool running;
	bool oneway; /* QTFS_T_ONEWAY: no reply */
	atomic_bool intr;
};

struct qtfsd {
	struct qtfsd_conf *conf;
	struct qtfs_wl *wl;
	struct xport_opts xopts;
	uint8_t key[QTFS_KEY_LEN];
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct qtfsd_job *qhead, *qtail;
	unsigned nworkers, idle;
	atomic_bool stopping;
};

/* Runs one request and fills rep; *to_free is released after the reply is sent. */
void qtfsd_execute(struct qtfsd_conn *c, struct qtfsd_job *job, struct qtfs_req *rq,
		   struct qtfs_rep *rp, void **to_free);
/* Closes every open file of a connection. */
void qtfsd_conn_close_files(struct qtfsd_conn *c);

int qtfsd_start(struct qtfsd *s, struct qtfsd_conf *conf, struct errmsg *e);
/* Accepts and serves until qtfsd_stop (from a signal handler thread). */
int qtfsd_serve(struct qtfsd *s, struct errmsg *e);
void qtfsd_stop(struct qtfsd *s);

#endif
