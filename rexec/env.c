/* rexec env policy: allowlisted client variables pass, loader/sanitizer variables never do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "util.h"

void rexec_envpolicy_free(struct rexec_envpolicy *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->allow[i]);
	free(p->allow);
	memset(p, 0, sizeof(*p));
}

static bool valid_name_char(char c, bool first)
{
	if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
		return true;
	return !first && c >= '0' && c <= '9';
}

int rexec_envpolicy_init(struct rexec_envpolicy *p, const char *allow, bool refuse_dangerous,
			 struct errmsg *e)
{
	char *copy = str_dup(allow ? allow : ""), *save = NULL, *tok;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	p->refuse_dangerous = refuse_dangerous;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		size_t len = strlen(tok), i;
		char **nv;

		for (i = 0; i < len; i++) {
			if (tok[i] == '*' && i == len - 1 && i > 0)
				continue;
			if (!valid_name_char(tok[i], i == 0)) {
				errmsg_set(e,
					   "env allow: '%s' is not a variable name or NAME* prefix",
					   tok);
				ret = -EINVAL;
				goto out;
			}
		}
		nv = realloc(p->allow, (p->n + 1) * sizeof(*nv));
		if (!nv) {
			ret = -ENOMEM;
			goto out;
		}
		p->allow = nv;
		p->allow[p->n] = str_dup(tok);
		if (!p->allow[p->n]) {
			ret = -ENOMEM;
			goto out;
		}
		p->n++;
	}
out:
	free(copy);
	if (ret)
		rexec_envpolicy_free(p);
	return ret;
}

bool rexec_env_dangerous(const char *name, size_t len)
{
	/* Prefixes: the dynamic loader, glibc's malloc/tunables, macOS's loader for completeness. */
	static const char *const prefixes[] = {"LD_", "MALLOC_", "GLIBC_", "DYLD_"};
	/* glibc's "unsecure" list plus sanitizer options and interpreter start-up hooks. */
	static const char *const exact[] = {
		"GCONV_PATH",	 "GETCONF_DIR",	  "HOSTALIASES",   "LOCALDOMAIN",
		"LOCPATH",	 "NIS_PATH",	  "NLSPATH",	   "RESOLV_HOST_CONF",
		"RES_OPTIONS",	 "TMPDIR",	  "TZDIR",	   "ASAN_OPTIONS",
		"UBSAN_OPTIONS", "LSAN_OPTIONS",  "MSAN_OPTIONS",  "TSAN_OPTIONS",
		"IFS",		 "BASH_ENV",	  "ENV",	   "SHELLOPTS",
		"BASHOPTS",	 "PS4",		  "CDPATH",	   "PYTHONPATH",
		"PYTHONHOME",	 "PYTHONSTARTUP", "PYTHONINSPECT", "PERL5LIB",
		"PERL5OPT",	 "PERLLIB",	  "PERL5DB",	   "RUBYLIB",
		"RUBYOPT",	 "NODE_OPTIONS",  "NODE_PATH",	   "LUA_PATH",
		"LUA_CPATH",	 "LUA_INIT",	  "OPENSSL_CONF",  "OPENSSL_ENGINES",
	};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (len >= strlen(prefixes[i]) &&
		    memcmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (len == strlen(exact[i]) && memcmp(name, exact[i], len) == 0)
			return true;
	/* Bash exported functions: BASH_FUNC_name%% */
	if (len > 9 && memcmp(name, "BASH_FUNC", 9) == 0)
		return true;
	return false;
}

static bool allowed(const struct rexec_envpolicy *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const char *a = p->allow[i];
		size_t alen = strlen(a);

		if (alen && a[alen - 1] == '*') {
			if (len >= alen - 1 && memcmp(name, a, alen - 1) == 0)
				return true;
		} else if (alen == len && memcmp(name, a, len) == 0) {
			return true;
		}
	}
	return false;
}

void rexec_env_free(char **env)
{
	size_t i;

	if (!env)
		return;
	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

static int push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

int rexec_env_build(const struct rexec_envpolicy *p, char *const *in, size_t n,
		    const char *search_path, char ***out, struct errmsg *e)
{
	char **v = NULL, *s;
	size_t nv = 0, i, j;
	int ret;

	if (asprintf(&s, "PATH=%s", search_path) < 0)
		return -ENOMEM;
	ret = push(&v, &nv, s);
	if (!ret)
		ret = push(&v, &nv, str_dup("HOME=/root"));
	for (i = 0; !ret && i < n; i++) {
		const char *eq = strchr(in[i], '=');
		size_t len = eq ? (size_t)(eq - in[i]) : 0;
		bool dup = false;

		if (!len)
			continue;
		if (rexec_env_dangerous(in[i], len)) {
			if (p->refuse_dangerous) {
				errmsg_set(e,
					   "refused: environment variable %.*s is not allowed "
					   "(loader/sanitizer/interpreter hook)",
					   (int)(len > 64 ? 64 : len), in[i]);
				ret = -EACCES;
			}
			continue;
		}
		if (!allowed(p, in[i], len))
			continue;
		/* The first occurrence wins, as getenv() would see it. */
		for (j = 0; j < nv; j++)
			if (strncmp(v[j], in[i], len + 1) == 0)
				dup = true;
		if (!dup)
			ret = push(&v, &nv, str_dup(in[i]));
	}
	if (ret) {
		rexec_env_free(v);
		return ret;
	}
	*out = v;
	return 0;
}
