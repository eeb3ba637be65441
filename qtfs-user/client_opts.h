/* client_opts: qtfs mount options (-o server=ADDR,ro,kind=...,cache=...) and client.conf. */
#ifndef QTFS_CLIENT_OPTS_H
#define QTFS_CLIENT_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

#define QTFS_CLIENT_CONF "/etc/qtfs/client.conf"

enum qc_cache { QC_CACHE_AUTO, QC_CACHE_NONE, QC_CACHE_ALWAYS };
enum qc_kind { QC_KIND_NORMAL, QC_KIND_PROC, QC_KIND_SYS };

struct qc_opts {
	char server[300];
	bool ro;
	enum qc_kind kind;
	enum qc_cache cache;
	double attr_timeout, entry_timeout; /* < 0: the default for the kind and cache mode */
	bool writeback;
	/* fifo=remote: the host's FIFOs appear as non-seekable regular files whose opens,
	 * reads and writes happen on the host (a FIFO inode's I/O never leaves the DPU
	 * kernel). fifo=local (default): FIFOs are FIFOs of the DPU kernel. */
	bool fifo_remote;
	bool test_mode; /* allow tcp: (cleartext) */
	bool allow_other;
	char tls_cert[256], tls_key[256], tls_ca[256];
	char conf[256];
	/* options the kernel's mount takes as they are (nosuid, nodev, noexec, noatime, ...) */
	char passthrough[512];
};

void qc_opts_init(struct qc_opts *o);
/*
 * Parses a comma-separated option list into o; later options win. Known
 * mount(8) generic options (rw, defaults, auto, _netdev, ...) are accepted.
 * -EINVAL with a message naming the option on anything else.
 */
int qc_opts_parse(struct qc_opts *o, const char *list, struct errmsg *e);
/* Fills what is unset from the client config file ([client] Server= TlsCert= TlsKey=
 * TlsCa= TestMode=). A missing file is fine unless it was named with conf=. */
int qc_opts_load_conf(struct qc_opts *o, struct errmsg *e);

#endif
