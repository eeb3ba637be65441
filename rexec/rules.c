/* rexec allowlist rules: parsing whitelist options and deciding whether an argv may run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "allow.h"
#include "rules.h"
#include "util.h"

static void argprefix_free(struct rexec_argprefix *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->args[i]);
	free(p->args);
}

static void rule_free(struct rexec_rule *rule)
{
	size_t i;

	free(rule->path);
	free(rule->real);
	for (i = 0; i < rule->n_prefixes; i++)
		argprefix_free(&rule->prefixes[i]);
	free(rule->prefixes);
}

void rexec_rules_free(struct rexec_rules *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		rule_free(&r->v[i]);
	free(r->v);
	free(r->name);
	free(r);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX escapes of [s, s+len) into a new string; NUL bytes and bad escapes refused. */
static int unescape(const char *s, size_t len, char **out)
{
	char *d = malloc(len + 1);
	size_t i, n = 0;

	if (!d)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				goto bad;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			d[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			d[n++] = s[i];
		}
	}
	d[n] = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return -EINVAL;
}

/* args=A,B,C: a new alternative whose arguments are the comma-separated, %-decoded items. */
static int parse_args_opt(const char *v, struct rexec_argprefix *p)
{
	const char *s = v;
	int ret;

	memset(p, 0, sizeof(*p));
	if (*v == '\0')
		return -EINVAL;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char **nv;

		if (p->n >= 4096) {
			ret = -E2BIG;
			goto err;
		}
		nv = realloc(p->args, (p->n + 1) * sizeof(*nv));
		if (!nv) {
			ret = -ENOMEM;
			goto err;
		}
		p->args = nv;
		ret = unescape(s, len, &p->args[p->n]);
		if (ret)
			goto err;
		p->n++;
		if (!comma)
			break;
		s = comma + 1;
	}
	return 0;
err:
	argprefix_free(p);
	memset(p, 0, sizeof(*p));
	return ret;
}

static int parse_sha256(const char *v, uint8_t out[32])
{
	size_t i;

	if (strlen(v) != 64)
		return -EINVAL;
	for (i = 0; i < 32; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Parses the options of one entry into rule; a message "file:line: reason" on error. */
static int parse_options(struct rexec_rule *rule, const char *opts, const char *name,
			 struct errmsg *e)
{
	char *copy = str_dup(opts), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (tok[0] == '#')
			break; /* a trailing comment */
		if (strcmp(tok, "noargs") == 0) {
			rule->noargs = true;
		} else if (str_has_prefix(tok, "maxargs=")) {
			uint64_t v;

			if (parse_u64(tok + 8, 10, &v) || v > 65536) {
				errmsg_set(e, "%s:%u: maxargs: '%s' is not a number 0-65536", name,
					   rule->line, tok + 8);
				ret = -EINVAL;
				goto out;
			}
			rule->maxargs = (long)v;
		} else if (str_has_prefix(tok, "args=")) {
			struct rexec_argprefix *np;

			np = realloc(rule->prefixes, (rule->n_prefixes + 1) * sizeof(*np));
			if (!np) {
				ret = -ENOMEM;
				goto out;
			}
			rule->prefixes = np;
			ret = parse_args_opt(tok + 5, &np[rule->n_prefixes]);
			if (ret) {
				errmsg_set(e,
					   "%s:%u: args: '%s' is not a comma-separated list "
					   "(escape bytes as %%XX, no %%00)",
					   name, rule->line, tok + 5);
				ret = -EINVAL;
				goto out;
			}
			rule->n_prefixes++;
		} else if (str_has_prefix(tok, "sha256=")) {
			if (rule->has_sha256) {
				errmsg_set(e, "%s:%u: sha256 given twice", name, rule->line);
				ret = -EINVAL;
				goto out;
			}
			if (parse_sha256(tok + 7, rule->sha256)) {
				errmsg_set(e, "%s:%u: sha256: expected 64 hex digits, got '%s'",
					   name, rule->line, tok + 7);
				ret = -EINVAL;
				goto out;
			}
			rule->has_sha256 = true;
		} else {
			errmsg_set(e,
				   "%s:%u: unknown option '%s' (expected noargs, maxargs=N, "
				   "args=A[,B...] or sha256=HEX)",
				   name, rule->line, tok);
			ret = -EINVAL;
			goto out;
		}
	}
	if (rule->noargs && (rule->n_prefixes || rule->maxargs >= 0)) {
		errmsg_set(e, "%s:%u: noargs contradicts args=/maxargs=", name, rule->line);
		ret = -EINVAL;
	}
out:
	free(copy);
	return ret;
}

static struct rexec_rules *rules_from_allow(const struct allowlist *al, const char *name,
					    struct errmsg *e)
{
	struct rexec_rules *r = calloc(1, sizeof(*r));
	size_t i, n = allow_count(al);
	int ret = -ENOMEM;

	if (!r)
		goto err;
	r->name = str_dup(name);
	r->v = calloc(n ? n : 1, sizeof(*r->v));
	if (!r->name || !r->v)
		goto err;
	for (i = 0; i < n; i++) {
		const struct allow_entry *ae = allow_entry_at(al, i);
		struct rexec_rule *rule = &r->v[r->n];

		rule->line = ae->line;
		rule->maxargs = -1;
		if (ae->value[0] != '/') {
			errmsg_set(e, "%s:%u: '%s' is not an absolute path", name, ae->line,
				   ae->value);
			ret = -EINVAL;
			goto err;
		}
		rule->path = str_dup(ae->value);
		if (!rule->path)
			goto err;
		/* Resolved once, now: a later swap of the listed path changes nothing. */
		rule->real = realpath(ae->value, NULL);
		r->n++;
		ret = parse_options(rule, ae->options, name, e);
		if (ret)
			goto err;
	}
	return r;
err:
	if (ret == -ENOMEM)
		errmsg_set(e, "%s: out of memory", name);
	rexec_rules_free(r);
	errno = -ret;
	return NULL;
}

struct rexec_rules *rexec_rules_parse(const char *text, size_t len, const char *name,
				      struct errmsg *e)
{
	struct allowlist *al = allow_parse(text, len, name, e);
	struct rexec_rules *r;

	if (!al)
		return NULL;
	r = rules_from_allow(al, name, e);
	allow_free(al);
	return r;
}

struct rexec_rules *rexec_rules_load(const char *path, bool check_perms, struct errmsg *e)
{
	struct allowlist *al = allow_load(path, check_perms ? ALLOW_CHECK_PERMS : 0, e);
	struct rexec_rules *r;
	int saved;

	if (!al)
		return NULL;
	r = rules_from_allow(al, path, e);
	saved = errno;
	allow_free(al);
	errno = saved;
	return r;
}

void rexec_decision_free(struct rexec_decision *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d->argv0);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

int rexec_sha256_fd(int fd, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	static __thread uint8_t buf[65536];
	unsigned int outlen = 0;
	off_t off = 0;
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		ret = -EIO;
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			ret = -EIO;
			goto out;
		}
		off += n;
	}
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32)
		ret = -EIO;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

bool rexec_rule_args_ok(const struct rexec_rule *rule, char *const *argv, size_t argc)
{
	size_t nargs = argc ? argc - 1 : 0, i, j;

	if (rule->noargs && nargs)
		return false;
	if (rule->maxargs >= 0 && nargs > (size_t)rule->maxargs)
		return false;
	if (!rule->n_prefixes)
		return true;
	for (i = 0; i < rule->n_prefixes; i++) {
		const struct rexec_argprefix *p = &rule->prefixes[i];

		if (p->n > nargs)
			continue;
		for (j = 0; j < p->n; j++)
			if (strcmp(p->args[j], argv[1 + j]) != 0)
				break;
		if (j == p->n)
			return true;
	}
	return false;
}

/* Finds a bare name in the server's PATH: the first directory holding a regular file. */
static int search_path_for(const char *search_path, const char *name, char **out)
{
	const char *p = search_path;

	while (*p) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		char cand[PATH_MAX];
		struct stat st;

		/* Only absolute PATH entries: an empty or relative one would mean the cwd. */
		if (dlen > 0 && p[0] == '/' &&
		    snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, p, name) <
			    (int)sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			*out = str_dup(cand);
			return *out ? 0 : -ENOMEM;
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	return -ENOENT;
}

static void hex32(const uint8_t h[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[64] = '\0';
}

int rexec_rules_check(const struct rexec_rules *r, const char *search_path, char *const *argv,
		      size_t argc, struct rexec_decision *d, struct errmsg *e)
{
	const char *prog = argv[0];
	const struct rexec_rule *path_match = NULL, *rule = NULL;
	char *cand = NULL, *resolved = NULL;
	const char *base;
	struct stat st;
	size_t i;
	int ret, fd = -1;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (!r) {
		errmsg_set(e, "%s: refused: no whitelist loaded", prog);
		return -EACCES;
	}
	if (strchr(prog, '/')) {
		if (prog[0] != '/') {
			errmsg_set(e,
				   "%s: refused: a relative path (use an absolute path or a "
				   "bare name looked up in the server's PATH)",
				   prog);
			return -EACCES;
		}
		cand = str_dup(prog);
		if (!cand)
			return -ENOMEM;
	} else {
		ret = search_path_for(search_path, prog, &cand);
		if (ret == -ENOENT) {
			errmsg_set(e, "%s: not found in the server's PATH (%s)", prog, search_path);
			return ret;
		}
		if (ret)
			return ret;
	}
	resolved = realpath(cand, NULL);
	if (!resolved) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENOTDIR)
			errmsg_set(e, "%s: no such program on the server", prog);
		else
			errmsg_set(e, "%s: cannot resolve: %s", prog, strerror(-ret));
		goto out;
	}
	for (i = 0; i < r->n && !rule; i++) {
		const char *canon = r->v[i].real ? r->v[i].real : r->v[i].path;

		if (strcmp(canon, resolved) != 0)
			continue;
		if (!path_match)
			path_match = &r->v[i];
		if (rexec_rule_args_ok(&r->v[i], argv, argc))
			rule = &r->v[i];
	}
	ret = -EACCES;
	if (!path_match) {
		if (strcmp(resolved, prog) == 0)
			errmsg_set(e, "%s: refused: not in the whitelist %s", prog, r->name);
		else
			errmsg_set(e,
				   "%s: refused: resolves to %s, which is not in the whitelist %s",
				   prog, resolved, r->name);
		goto out;
	}
	if (!rule) {
		errmsg_set(e, "%s: refused: arguments not allowed by %s:%u", prog, r->name,
			   path_match->line);
		goto out;
	}
	/* O_NOFOLLOW: resolved has no symlinks; one appearing now is an attack. */
	fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		errmsg_set(e, "%s: cannot open %s: %s", prog, resolved, strerror(errno));
		if (ret == -ENOENT)
			ret = -EACCES;
		goto out;
	}
	ret = -EACCES;
	if (!S_ISREG(st.st_mode)) {
		errmsg_set(e, "%s: refused: %s is not a regular file", prog, resolved);
		goto out;
	}
	if (st.st_uid != 0) {
		errmsg_set(e, "%s: refused: %s is owned by uid %u, not root", prog, resolved,
			   (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		errmsg_set(e, "%s: refused: %s is writable by group or others (mode %04o)", prog,
			   resolved, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (!(st.st_mode & 0111)) {
		errmsg_set(e, "%s: refused: %s is not executable", prog, resolved);
		goto out;
	}
	if (rule->has_sha256) {
		uint8_t h[32];
		char want[65], got[65];

		ret = rexec_sha256_fd(fd, h);
		if (ret) {
			errmsg_set(e, "%s: cannot hash %s: %s", prog, resolved, strerror(-ret));
			goto out;
		}
		if (memcmp(h, rule->sha256, 32) != 0) {
			hex32(rule->sha256, want);
			hex32(h, got);
			errmsg_set(e, "%s: refused: sha256 of %s is %.16s..., %s:%u pins %.16s...",
				   prog, resolved, got, r->name, rule->line, want);
			ret = -EACCES;
			goto out;
		}
	}
	{
		char magic[2];

		d->script = pread(fd, magic, 2, 0) == 2 && magic[0] == '#' && magic[1] == '!';
	}
	/* A bare name keeps its name only if it is the file's own name (see docs/rexec.md). */
	base = strrchr(resolved, '/') + 1;
	d->argv0 = str_dup(!strchr(prog, '/') && strcmp(base, prog) == 0 ? prog : resolved);
	if (!d->argv0) {
		ret = -ENOMEM;
		goto out;
	}
	d->fd = fd;
	d->path = resolved;
	d->rule = rule;
	free(cand);
	return 0;
out:
	if (fd >= 0)
		close(fd);
	free(resolved);
	free(cand);
	free(d->argv0);
	d->argv0 = NULL;
	return ret;
}
