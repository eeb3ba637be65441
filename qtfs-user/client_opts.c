/* client_opts: mount option strings and /etc/qtfs/client.conf. */
#include "qtfs-user/client_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

void qc_opts_init(struct qc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->attr_timeout = -1;
	o->entry_timeout = -1;
}

static int qc_opt_timeout(const char *v, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d < 0 || d > 86400)
		return -EINVAL;
	*out = d;
	return 0;
}

static int qc_pass(struct qc_opts *o, const char *opt)
{
	size_t n = strlen(o->passthrough);

	if (n + 1 + strlen(opt) + 1 > sizeof(o->passthrough))
		return -E2BIG;
	if (n)
		o->passthrough[n++] = ',';
	strcpy(o->passthrough + n, opt);
	return 0;
}

static int qc_opt_one(struct qc_opts *o, char *opt, struct errmsg *e)
{
	static const char *const ignored[] = {
		"rw",	  "defaults", "auto",	"noauto",   "_netdev",
		"nofail", "user",     "nouser", "users",    "suid",
		"dev",	  "exec",     "atime",	"relatime", "default_permissions",
		NULL,
	};
	static const char *const pass[] = {
		"nosuid", "nodev", "noexec",  "noatime", "nodiratime",
		"sync",	  "async", "dirsync", NULL,
	};
	char *v = strchr(opt, '=');
	const char *const *p;
	int ret = 0;

	if (v)
		*v++ = 0;
	if (!strcmp(opt, "server") && v) {
		ret = str_copy(o->server, sizeof(o->server), v);
	} else if (!strcmp(opt, "ro") && !v) {
		o->ro = true;
	} else if (!strcmp(opt, "kind") && v) {
		if (!strcmp(v, "proc"))
			o->kind = QC_KIND_PROC;
		else if (!strcmp(v, "sys"))
			o->kind = QC_KIND_SYS;
		else if (!strcmp(v, "normal"))
			o->kind = QC_KIND_NORMAL;
		else
			ret = -EINVAL;
	} else if (!strcmp(opt, "cache") && v) {
		if (!strcmp(v, "none"))
			o->cache = QC_CACHE_NONE;
		else if (!strcmp(v, "auto"))
			o->cache = QC_CACHE_AUTO;
		else if (!strcmp(v, "always"))
			o->cache = QC_CACHE_ALWAYS;
		else
			ret = -EINVAL;
	} else if (!strcmp(opt, "attr_timeout") && v) {
		ret = qc_opt_timeout(v, &o->attr_timeout);
	} else if (!strcmp(opt, "entry_timeout") && v) {
		ret = qc_opt_timeout(v, &o->entry_timeout);
	} else if (!strcmp(opt, "fifo") && v) {
		if (!strcmp(v, "remote"))
			o->fifo_remote = true;
		else if (!strcmp(v, "local"))
			o->fifo_remote = false;
		else
			ret = -EINVAL;
	} else if (!strcmp(opt, "writeback") && !v) {
		o->writeback = true;
	} else if (!strcmp(opt, "test_mode") && !v) {
		o->test_mode = true;
	} else if (!strcmp(opt, "allow_other") && !v) {
		o->allow_other = true;
	} else if (!strcmp(opt, "tls_cert") && v) {
		ret = str_copy(o->tls_cert, sizeof(o->tls_cert), v);
	} else if (!strcmp(opt, "tls_key") && v) {
		ret = str_copy(o->tls_key, sizeof(o->tls_key), v);
	} else if (!strcmp(opt, "tls_ca") && v) {
		ret = str_copy(o->tls_ca, sizeof(o->tls_ca), v);
	} else if (!strcmp(opt, "conf") && v) {
		ret = str_copy(o->conf, sizeof(o->conf), v);
	} else {
		for (p = ignored; *p; p++)
			if (!v && !strcmp(opt, *p))
				return 0;
		for (p = pass; *p; p++)
			if (!v && !strcmp(opt, *p))
				return qc_pass(o, opt);
		if (v)
			v[-1] = '=';
		errmsg_set(e, "-o %s: unknown option", opt);
		return -EINVAL;
	}
	if (ret) {
		errmsg_set(e, "-o %s=%s: invalid value", opt, v ? v : "");
		return -EINVAL;
	}
	return 0;
}

int qc_opts_parse(struct qc_opts *o, const char *list, struct errmsg *e)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	copy = str_dup(list);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save))
		ret = qc_opt_one(o, tok, e);
	free(copy);
	return ret;
}

int qc_opts_load_conf(struct qc_opts *o, struct errmsg *e)
{
	static const char *const known[] = {
		"client.Server", "client.TlsCert",  "client.TlsKey",
		"client.TlsCa",	 "client.TestMode", NULL,
	};
	const char *path = o->conf[0] ? o->conf : QTFS_CLIENT_CONF;
	struct config *cfg;
	const char *v;
	bool b;
	int ret = 0;

	if (!o->conf[0] && access(path, F_OK) != 0)
		return 0;
	cfg = config_load(path, e);
	if (!cfg)
		return -EINVAL;
	ret = config_check_known(cfg, known, e);
	if (!ret && !o->server[0] && !config_get_str(cfg, "client", "Server", "", &v, e) && v[0])
		ret = str_copy(o->server, sizeof(o->server), v);
	if (!ret && !o->tls_cert[0] && !config_get_str(cfg, "client", "TlsCert", "", &v, e))
		ret = str_copy(o->tls_cert, sizeof(o->tls_cert), v);
	if (!ret && !o->tls_key[0] && !config_get_str(cfg, "client", "TlsKey", "", &v, e))
		ret = str_copy(o->tls_key, sizeof(o->tls_key), v);
	if (!ret && !o->tls_ca[0] && !config_get_str(cfg, "client", "TlsCa", "", &v, e))
		ret = str_copy(o->tls_ca, sizeof(o->tls_ca), v);
	if (!ret) {
		ret = config_get_bool(cfg, "client", "TestMode", false, &b, e);
		if (!ret && b)
			o->test_mode = true;
	}
	if (ret && !errmsg_str(e)[0])
		errmsg_set(e, "%s: value too long", path);
	config_free(cfg);
	return ret ? -EINVAL : 0;
}
