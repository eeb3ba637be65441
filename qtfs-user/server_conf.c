/* server_conf: /etc/qtfs/qtfsd.conf ([server] and one [export NAME] per export). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "qtfs-user/server.h"
#include "util.h"

static const char *const qtfsd_server_keys[] = {
	"Listen",    "TestMode", "TlsCert",    "TlsKey",   "TlsCa",   "Whitelist",
	"HandleKey", "Workers",	 "MaxWorkers", "LogLevel", "LogFile", NULL,
};
static const char *const qtfsd_export_keys[] = {
	"Path", "ReadOnly", "Kind", "Identity", "User", "Group", "RootSquash", "AllowDevices", NULL,
};

static bool qtfsd_key_known(const char *const *keys, const char *k)
{
	for (; *keys; keys++)
		if (strcmp(*keys, k) == 0)
			return true;
	return false;
}

static int qtfsd_set_str(char **dst, const char *v)
{
	char *s = str_dup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int qtfsd_export_path(struct qtfsd_export *x, const char *v)
{
	size_t n;

	if (v[0] != '/')
		return -EINVAL;
	if (str_copy(x->path, sizeof(x->path), v))
		return -ENAMETOOLONG;
	n = strlen(x->path);
	while (n > 1 && x->path[n - 1] == '/')
		x->path[--n] = 0;
	return 0;
}

static int qtfsd_export_set(struct qtfsd_export *x, const char *k, const char *v)
{
	bool b;
	uint32_t u;

	if (!strcmp(k, "Path"))
		return qtfsd_export_path(x, v);
	if (!strcmp(k, "ReadOnly"))
		return parse_bool(v, &b) ? -EINVAL : (x->ro = b, 0);
	if (!strcmp(k, "RootSquash"))
		return parse_bool(v, &b) ? -EINVAL : (x->root_squash = b, 0);
	if (!strcmp(k, "AllowDevices"))
		return parse_bool(v, &b) ? -EINVAL : (x->allow_devices = b, 0);
	if (!strcmp(k, "Kind")) {
		if (!strcmp(v, "normal"))
			x->kind = QTFSD_KIND_NORMAL;
		else if (!strcmp(v, "proc"))
			x->kind = QTFSD_KIND_PROC;
		else if (!strcmp(v, "sys"))
			x->kind = QTFSD_KIND_SYS;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "Identity")) {
		if (!strcmp(v, "caller"))
			x->idmode = QTFSD_ID_CALLER;
		else if (!strcmp(v, "fixed"))
			x->idmode = QTFSD_ID_FIXED;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "User"))
		return parse_u32(v, 10, &u) ? -EINVAL : (x->uid = u, 0);
	if (!strcmp(k, "Group"))
		return parse_u32(v, 10, &u) ? -EINVAL : (x->gid = u, 0);
	return -EINVAL;
}

static int qtfsd_server_set(struct qtfsd_conf *c, const char *k, const char *v)
{
	enum log_level lvl;
	uint32_t u;
	bool b;

	if (!strcmp(k, "Listen")) {
		if (c->nlisten == QTFSD_MAX_LISTEN)
			return -E2BIG;
		c->listen[c->nlisten] = str_dup(v);
		if (!c->listen[c->nlisten])
			return -ENOMEM;
		c->nlisten++;
		return 0;
	}
	if (!strcmp(k, "TestMode"))
		return parse_bool(v, &b) ? -EINVAL : (c->test_mode = b, 0);
	if (!strcmp(k, "TlsCert"))
		return qtfsd_set_str(&c->tls_cert, v);
	if (!strcmp(k, "TlsKey"))
		return qtfsd_set_str(&c->tls_key, v);
	if (!strcmp(k, "TlsCa"))
		return qtfsd_set_str(&c->tls_ca, v);
	if (!strcmp(k, "Whitelist"))
		return qtfsd_set_str(&c->whitelist, v);
	if (!strcmp(k, "HandleKey"))
		return qtfsd_set_str(&c->handle_key, v);
	if (!strcmp(k, "LogFile"))
		return qtfsd_set_str(&c->log_file, v);
	if (!strcmp(k, "LogLevel"))
		return log_level_parse(v, &lvl) ? -EINVAL : (c->log_level = (int)lvl, 0);
	if (!strcmp(k, "Workers"))
		return parse_u32(v, 10, &u) || u < 1 || u > 256 ? -EINVAL : (c->workers = u, 0);
	if (!strcmp(k, "MaxWorkers"))
		return parse_u32(v, 10, &u) || u < 1 || u > 1024 ? -EINVAL
								 : (c->max_workers = u, 0);
	return -EINVAL;
}

static struct qtfsd_export *qtfsd_new_export(struct qtfsd_conf *c, const char *name)
{
	struct qtfsd_export *x;

	if (c->nexports == QTFSD_MAX_EXPORTS)
		return NULL;
	x = &c->exports[c->nexports++];
	memset(x, 0, sizeof(*x));
	str_copy(x->name, sizeof(x->name), name);
	return x;
}

int qtfsd_conf_load(struct qtfsd_conf *c, const char *path, struct errmsg *e)
{
	struct qtfsd_export *cur = NULL;
	const char *cur_sec = NULL;
	struct config *cfg;
	size_t i;
	int ret = 0;

	cfg = config_load(path, e);
	if (!cfg)
		return -errno ? -errno : -EINVAL;
	for (i = 0; i < config_count(cfg) && !ret; i++) {
		const struct config_entry *ce = config_entry_at(cfg, i);

		if (!strcmp(ce->section, "server")) {
			if (!qtfsd_key_known(qtfsd_server_keys, ce->key)) {
				errmsg_set(e, "%s:%u: [server] unknown key '%s'", path, ce->line,
					   ce->key);
				ret = -EINVAL;
			} else if ((ret = qtfsd_server_set(c, ce->key, ce->value))) {
				errmsg_set(e, "%s:%u: [server] %s=%s: invalid value", path,
					   ce->line, ce->key, ce->value);
			}
		} else if (!strncmp(ce->section, "export ", 7) && ce->section[7]) {
			if (!qtfsd_key_known(qtfsd_export_keys, ce->key)) {
				errmsg_set(e, "%s:%u: [%s] unknown key '%s'", path, ce->line,
					   ce->section, ce->key);
				ret = -EINVAL;
				break;
			}
			if (!cur_sec || strcmp(cur_sec, ce->section)) {
				cur = qtfsd_new_export(c, ce->section + 7);
				cur_sec = ce->section;
				if (!cur) {
					errmsg_set(e, "%s:%u: more than %d exports", path, ce->line,
						   QTFSD_MAX_EXPORTS);
					ret = -E2BIG;
					break;
				}
			}
			if ((ret = qtfsd_export_set(cur, ce->key, ce->value)))
				errmsg_set(e, "%s:%u: [%s] %s=%s: invalid value", path, ce->line,
					   ce->section, ce->key, ce->value);
		} else {
			errmsg_set(
				e,
				"%s:%u: unknown section [%s] (expected [server] or [export NAME])",
				path, ce->line, ce->section);
			ret = -EINVAL;
		}
	}
	for (i = 0; i < c->nexports && !ret; i++) {
		if (!c->exports[i].path[0]) {
			errmsg_set(e, "%s: [export %s] has no Path=", path, c->exports[i].name);
			ret = -EINVAL;
		}
	}
	config_free(cfg);
	return ret;
}

int qtfsd_conf_add_export(struct qtfsd_conf *c, const char *spec, struct errmsg *e)
{
	char buf[4200], *opts, *tok, *save = NULL;
	struct qtfsd_export *x;

	if (str_copy(buf, sizeof(buf), spec)) {
		errmsg_set(e, "-e %.40s...: too long", spec);
		return -ENAMETOOLONG;
	}
	opts = strchr(buf, ':');
	if (opts)
		*opts++ = 0;
	x = qtfsd_new_export(c, buf);
	if (!x) {
		errmsg_set(e, "-e %s: too many exports", spec);
		return -E2BIG;
	}
	if (qtfsd_export_path(x, buf)) {
		errmsg_set(e, "-e %s: the path must be absolute", spec);
		return -EINVAL;
	}
	for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ro"))
			x->ro = true;
		else if (!strcmp(tok, "rw"))
			x->ro = false;
		else if (!strcmp(tok, "caller"))
			x->idmode = QTFSD_ID_CALLER;
		else if (!strcmp(tok, "root_squash"))
			x->root_squash = true;
		else if (!strcmp(tok, "proc"))
			x->kind = QTFSD_KIND_PROC;
		else if (!strcmp(tok, "sys"))
			x->kind = QTFSD_KIND_SYS;
		else if (!strcmp(tok, "devices"))
			x->allow_devices = true;
		else {
			errmsg_set(e, "-e %s: unknown option '%s'", spec, tok);
			return -EINVAL;
		}
	}
	return 0;
}

void qtfsd_conf_free(struct qtfsd_conf *c)
{
	size_t i;

	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->whitelist);
	free(c->handle_key);
	free(c->log_file);
	for (i = 0; i < c->nexports; i++)
		if (c->exports[i].hs_ready)
			qh_fini(&c->exports[i].hs);
}
