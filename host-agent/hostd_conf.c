/* hostd_conf: host.conf ([hostd], [rexec], [netctl], [child.NAME]) with strict validation. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hostd_conf.h"
#include "log.h"
#include "util.h"

static const char *const known[] = {
	"hostd.log_level", "hostd.run_dir", "hostd.image_dirs",
	"rexec.whitelist", "rexec.splitvm", "rexec.netctl",
	"rexec.reload",	   "netctl.prefix", NULL,
};

static int get(const struct config *cfg, const char *sec, const char *key, const char *def,
	       char *out, size_t len, bool path, struct errmsg *e)
{
	const struct config_entry *ent = config_find(cfg, sec, key);
	const char *v;
	int r = config_get_str(cfg, sec, key, def, &v, e);

	if (r)
		return r;
	if (str_copy(out, len, v)) {
		errmsg_set(e, "%s:%u: [%s] %s: longer than %zu bytes", config_name(cfg),
			   ent ? ent->line : 0, sec, key, len - 1);
		return -EINVAL;
	}
	if (path && out[0] && out[0] != '/') {
		errmsg_set(e, "%s:%u: [%s] %s: '%s' is not an absolute path", config_name(cfg),
			   ent ? ent->line : 0, sec, key, out);
		return -EINVAL;
	}
	return 0;
}

static int check(const struct config *cfg, struct hostd_conf *c, struct sup *sup, struct errmsg *e)
{
	char dirs[HOSTD_MAX_DIRS * 256 + 1];
	enum log_level lv;
	int r;

	for (size_t i = 0; i < config_count(cfg); i++) {
		const struct config_entry *ent = config_entry_at(cfg, i);
		char full[128];
		size_t k;

		if (str_has_prefix(ent->section, "child."))
			continue; /* sup_load_config checks these */
		snprintf(full, sizeof(full), "%s.%s", ent->section, ent->key);
		for (k = 0; known[k]; k++)
			if (strcmp(known[k], full) == 0)
				break;
		if (!known[k]) {
			errmsg_set(e, "%s:%u: [%s] %s: unknown key", config_name(cfg), ent->line,
				   ent->section, ent->key);
			return -EINVAL;
		}
	}
	memset(c, 0, sizeof(*c));
	r = get(cfg, "hostd", "log_level", "info", c->log_level, sizeof(c->log_level), false, e);
	if (!r && log_level_parse(c->log_level, &lv)) {
		errmsg_set(e, "%s: [hostd] log_level: '%s' is not error, warn, info or debug",
			   config_name(cfg), c->log_level);
		return -EINVAL;
	}
	r = r
		    ?: get(cfg, "hostd", "run_dir", "/run/splitvirt/vms", c->run_dir,
			   sizeof(c->run_dir), true, e);
	r = r
		    ?: get(cfg, "hostd", "image_dirs", "/var/lib/splitvirt/images", dirs,
			   sizeof(dirs), false, e);
	if (r)
		return r;
	for (char *save = NULL, *t = strtok_r(dirs, " \t:", &save); t;
	     t = strtok_r(NULL, " \t:", &save)) {
		if (c->n_image_dirs == HOSTD_MAX_DIRS || t[0] != '/' ||
		    str_copy(c->image_dirs[c->n_image_dirs], sizeof(c->image_dirs[0]), t)) {
			errmsg_set(
				e,
				"%s: [hostd] image_dirs: '%s' is not an absolute path (at most %d)",
				config_name(cfg), t, HOSTD_MAX_DIRS);
			return -EINVAL;
		}
		c->n_image_dirs++;
	}
	r = r
		    ?: get(cfg, "rexec", "whitelist", "/etc/rexec/whitelist", c->whitelist,
			   sizeof(c->whitelist), true, e);
	r = r
		    ?: get(cfg, "rexec", "splitvm", "/usr/bin/splitvm", c->splitvm,
			   sizeof(c->splitvm), true, e);
	r = r
		    ?: get(cfg, "rexec", "netctl", "/usr/sbin/splitvirt-netctl", c->netctl,
			   sizeof(c->netctl), true, e);
	r = r
		    ?: get(cfg, "rexec", "reload", "rexec_server", c->reload_child,
			   sizeof(c->reload_child), false, e);
	r = r
		    ?: get(cfg, "netctl", "prefix", "sv", c->netctl_prefix,
			   sizeof(c->netctl_prefix), false, e);
	if (r)
		return r;
	if (!c->netctl_prefix[0] || strlen(c->netctl_prefix) > 6) {
		errmsg_set(e, "%s: [netctl] prefix: '%s' must be 1 to 6 bytes", config_name(cfg),
			   c->netctl_prefix);
		return -EINVAL;
	}
	return sup_load_config(sup, cfg, e);
}

int hostd_conf_parse(const char *text, size_t len, const char *name, struct hostd_conf *c,
		     struct sup *sup, struct errmsg *e)
{
	struct config *cfg = config_parse(text, len, name, e);
	int r;

	if (!cfg)
		return -EINVAL;
	r = check(cfg, c, sup, e);
	config_free(cfg);
	return r;
}

int hostd_conf_load(const char *path, struct hostd_conf *c, struct sup *sup, struct errmsg *e)
{
	struct config *cfg = config_load(path, e);
	int r;

	if (!cfg)
		return -EINVAL;
	r = check(cfg, c, sup, e);
	config_free(cfg);
	return r;
}
