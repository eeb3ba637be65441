/* config: INI files parsed with inih into a flat list of entries, plus typed getters. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

/*
 * inih reads into a fixed buffer of INI_MAX_LINE bytes (200 in Debian, on the
 * stack) and would hand the rest of a longer line back as a new line, and it
 * silently cuts section names to 49 characters. We check both ourselves so
 * nothing is ever truncated: longer lines and names are errors.
 */
#define CONFIG_INI_SECTION_MAX 49
_Static_assert(CONFIG_MAX_LINE + 3 <= INI_MAX_LINE, "CONFIG_MAX_LINE must fit inih's buffer");

/* A configuration file larger than this is certainly a mistake. */
#define CONFIG_MAX_FILE (1u << 20)

struct config {
	char *name;
	struct config_entry *entries; /* each entry's strings live in one allocation at .section */
	size_t count;
	size_t cap;
};

/* State shared by our line reader and the inih handler during one parse. */
struct config_parse_ctx {
	struct config *cfg;
	const char *p;	   /* next unread byte */
	const char *end;   /* one past the last byte */
	unsigned line;	   /* number of the line last handed to inih */
	unsigned err_line; /* first error we found ourselves (0: none) */
	int err;
	struct errmsg *e;
};

static void ctx_error(struct config_parse_ctx *ctx, int err, const char *reason)
{
	if (ctx->err_line)
		return; /* keep the first */
	ctx->err_line = ctx->line;
	ctx->err = err;
	errmsg_set(ctx->e, "%s:%u: %s", ctx->cfg->name, ctx->line, reason);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A section header line (already left-trimmed): "[name]" then a comment or nothing. */
static void check_section_line(struct config_parse_ctx *ctx, const char *s, size_t len)
{
	const char *close = memchr(s, ']', len);
	size_t i, name_len;

	if (!close)
		return; /* inih reports it as a syntax error; we explain it afterwards */
	name_len = (size_t)(close - s - 1);
	if (name_len == 0) {
		ctx_error(ctx, EINVAL, "empty section name");
		return;
	}
	if (name_len > CONFIG_INI_SECTION_MAX) {
		ctx_error(ctx, EINVAL, "section name longer than 49 characters");
		return;
	}
	for (i = (size_t)(close - s) + 1; i < len; i++) {
		if (s[i] == ';' || s[i] == '#')
			break;
		if (!is_blank(s[i])) {
			ctx_error(ctx, EINVAL, "unexpected text after section header");
			return;
		}
	}
}

/*
 * The fgets-style reader inih pulls lines through. It checks each line before
 * inih sees it, and strips leading blanks so that indented keys are keys: inih
 * would otherwise treat an indented line as a continuation of the previous
 * value (its multi-line mode), which is never what a config file means here.
 */
static char *config_read_line(char *str, int num, void *stream)
{
	struct config_parse_ctx *ctx = stream;
	const char *nl, *s, *view;
	size_t len, raw_len, bom = 0;

	if (ctx->p >= ctx->end || ctx->err_line)
		return NULL;
	nl = memchr(ctx->p, '\n', (size_t)(ctx->end - ctx->p));
	raw_len = nl ? (size_t)(nl - ctx->p) : (size_t)(ctx->end - ctx->p);
	s = ctx->p;
	ctx->p = nl ? nl + 1 : ctx->end;
	ctx->line++;

	if (raw_len > CONFIG_MAX_LINE) {
		ctx_error(ctx, EINVAL, "line too long");
		return NULL;
	}
	if (memchr(s, '\0', raw_len)) {
		ctx_error(ctx, EINVAL, "NUL byte in line");
		return NULL;
	}
	/*
	 * inih drops one UTF-8 byte-order mark at the start of the first line. The checks
	 * look past it the same way, and the mark is handed on to inih, so a second mark
	 * is text to both (not a way to hide a section header from the checks).
	 */
	view = s;
	len = raw_len;
	if (ctx->line == 1 && len >= 3 && !memcmp(view, "\xef\xbb\xbf", 3)) {
		bom = 3;
		view += 3;
		len -= 3;
	}
	while (len > 0 && is_blank(*view)) {
		view++;
		len--;
	}
	/* inih would drop a mark here too and read what follows as the line. */
	if (ctx->line == 1 && len >= 3 && !memcmp(view, "\xef\xbb\xbf", 3)) {
		ctx_error(ctx, EINVAL, "misplaced byte-order mark");
		return NULL;
	}
	if (len > 0 && view[0] == '[') {
		check_section_line(ctx, view, len);
		if (ctx->err_line)
			return NULL;
	}
	/* bom + len <= raw_len <= CONFIG_MAX_LINE, and CONFIG_MAX_LINE + 3 <= INI_MAX_LINE. */
	if (num < 0 || bom + len + 2 > (size_t)num) {
		ctx_error(ctx, EINVAL, "line too long");
		return NULL;
	}
	memcpy(str, s, bom);
	memcpy(str + bom, view, len);
	str[bom + len] = '\n';
	str[bom + len + 1] = '\0';
	return str;
}

static int config_append(struct config *cfg, const char *section, const char *key,
			 const char *value, unsigned line)
{
	size_t ls = strlen(section) + 1, lk = strlen(key) + 1, lv = strlen(value) + 1, total;
	struct config_entry *ent;
	char *buf;

	if (cfg->count == cfg->cap) {
		size_t ncap = cfg->cap ? cfg->cap * 2 : 16, bytes;
		struct config_entry *n;

		if (__builtin_mul_overflow(ncap, sizeof(*n), &bytes))
			return -ENOMEM;
		n = realloc(cfg->entries, bytes);
		if (!n)
			return -ENOMEM;
		cfg->entries = n;
		cfg->cap = ncap;
	}
	if (__builtin_add_overflow(ls, lk, &total) || __builtin_add_overflow(total, lv, &total))
		return -ENOMEM;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, section, ls);
	memcpy(buf + ls, key, lk);
	memcpy(buf + ls + lk, value, lv);
	ent = &cfg->entries[cfg->count++];
	ent->section = buf;
	ent->key = buf + ls;
	ent->value = buf + ls + lk;
	ent->line = line;
	return 0;
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse_ctx *ctx = user;
	int ret;

	if (ctx->err_line)
		return 1; /* already failed; the first error is what we report */
	if (!name || !*name) {
		ctx_error(ctx, EINVAL, "empty key");
		return 0;
	}
	ret = config_append(ctx->cfg, section ? section : "", name, value ? value : "", ctx->line);
	if (ret) {
		ctx_error(ctx, -ret, "out of memory");
		return 0;
	}
	return 1;
}

/* Why inih rejected line `line`: we hold the text, so say what is wrong with it. */
static void explain_syntax_error(struct config_parse_ctx *ctx, const char *text, size_t len,
				 unsigned line)
{
	const char *p = text, *end = text + len;
	unsigned n = 1;

	while (n < line && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl) {
			p = end;
			break;
		}
		p = nl + 1;
		n++;
	}
	while (p < end && is_blank(*p))
		p++;
	ctx->line = line;
	if (p < end && *p == '[')
		ctx_error(ctx, EINVAL, "section header without closing ']'");
	else
		ctx_error(ctx, EINVAL, "expected 'key = value'");
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->count; i++)
		free((char *)cfg->entries[i].section);
	free(cfg->entries);
	free(cfg->name);
	free(cfg);
}

struct config *config_parse(const char *text, size_t len, const char *name, struct errmsg *e)
{
	struct config_parse_ctx ctx = {0};
	struct config *cfg;
	int ret;

	if (!text && len) {
		errmsg_set(e, "%s: no text", name ? name : "(config)");
		errno = EINVAL;
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		goto err_nomem;
	cfg->name = str_dup(name ? name : "(config)");
	if (!cfg->name)
		goto err_nomem;

	ctx.cfg = cfg;
	ctx.p = text;
	ctx.end = text ? text + len : text;
	ctx.e = e;
	ret = ini_parse_stream(config_read_line, &ctx, config_handler, &ctx);
	if (ret > 0 && (!ctx.err_line || (unsigned)ret < ctx.err_line)) {
		/* inih found a syntax error before (or without) any of ours. */
		ctx.err_line = 0;
		explain_syntax_error(&ctx, text, len, (unsigned)ret);
	} else if (ret < 0 && !ctx.err_line) {
		ctx.line = 0;
		ctx_error(&ctx, ENOMEM, "out of memory");
	}
	if (ctx.err_line) {
		config_free(cfg);
		errno = ctx.err;
		return NULL;
	}
	return cfg;

err_nomem:
	errmsg_set(e, "%s: out of memory", name ? name : "(config)");
	config_free(cfg);
	errno = ENOMEM;
	return NULL;
}

struct config *config_load(const char *path, struct errmsg *e)
{
	struct config *cfg;
	size_t len;
	char *buf;
	int ret;

	if (!path) {
		errmsg_set(e, "(config): no file name");
		errno = EINVAL;
		return NULL;
	}
	ret = read_file(path, CONFIG_MAX_FILE, &buf, &len);
	if (ret == -EFBIG) {
		errmsg_set(e, "%s: larger than %u bytes", path, CONFIG_MAX_FILE);
		errno = EFBIG;
		return NULL;
	}
	if (ret) {
		errmsg_set(e, "%s: %s", path, strerror(-ret));
		errno = -ret;
		return NULL;
	}
	cfg = config_parse(buf, len, path, e);
	ret = errno;
	free(buf);
	errno = ret;
	return cfg;
}

const char *config_name(const struct config *cfg)
{
	return cfg ? cfg->name : "";
}

size_t config_count(const struct config *cfg)
{
	return cfg ? cfg->count : 0;
}

const struct config_entry *config_entry_at(const struct config *cfg, size_t i)
{
	if (!cfg || i >= cfg->count)
		return NULL;
	return &cfg->entries[i];
}

const struct config_entry *config_find(const struct config *cfg, const char *section,
				       const char *key)
{
	size_t i;

	if (!cfg || !key)
		return NULL;
	if (!section)
		section = "";
	for (i = cfg->count; i-- > 0;) {
		const struct config_entry *ent = &cfg->entries[i];

		if (!strcmp(ent->key, key) && !strcmp(ent->section, section))
			return ent;
	}
	return NULL;
}

/* "file:line: [section] key: " (no brackets for keys before the first section). */
__attribute__((format(printf, 4, 5))) static void entry_error(const struct config *cfg,
							      const struct config_entry *ent,
							      struct errmsg *e, const char *fmt,
							      ...);

static void entry_error(const struct config *cfg, const struct config_entry *ent, struct errmsg *e,
			const char *fmt, ...)
{
	char reason[sizeof(e->text)];
	va_list ap;
	int n;

	if (!e)
		return;
	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (n < 0)
		reason[0] = '\0';
	if (ent->section[0])
		errmsg_set(e, "%s:%u: [%s] %s: %s", cfg->name, ent->line, ent->section, ent->key,
			   reason);
	else
		errmsg_set(e, "%s:%u: %s: %s", cfg->name, ent->line, ent->key, reason);
}

int config_get_str(const struct config *cfg, const char *section, const char *key, const char *def,
		   const char **out, struct errmsg *e)
{
	const struct config_entry *ent = config_find(cfg, section, key);

	if (!out)
		return -EINVAL;
	*out = ent ? ent->value : def;
	return 0;
}

int config_get_int(const struct config *cfg, const char *section, const char *key, int64_t min,
		   int64_t max, int64_t def, int64_t *out, struct errmsg *e)
{
	const struct config_entry *ent = config_find(cfg, section, key);
	int64_t v;
	int ret;

	if (!out)
		return -EINVAL;
	if (!ent) {
		*out = def;
		return 0;
	}
	ret = parse_i64(ent->value, 0, &v);
	if (ret == -ERANGE || (!ret && (v < min || v > max))) {
		entry_error(cfg, ent, e, "%s is out of range %lld..%lld", ent->value,
			    (long long)min, (long long)max);
		return -EINVAL;
	}
	if (ret) {
		entry_error(cfg, ent, e, "'%s' is not an integer", ent->value);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int config_get_bool(const struct config *cfg, const char *section, const char *key, bool def,
		    bool *out, struct errmsg *e)
{
	const struct config_entry *ent = config_find(cfg, section, key);

	if (!out)
		return -EINVAL;
	if (!ent) {
		*out = def;
		return 0;
	}
	if (parse_bool(ent->value, out)) {
		entry_error(cfg, ent, e, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
			    ent->value);
		return -EINVAL;
	}
	return 0;
}

/* Does "section.key" (or "key" for keys before any section) appear in known? */
static bool entry_known(const struct config_entry *ent, const char *const *known)
{
	size_t sl = strlen(ent->section);

	for (; *known; known++) {
		const char *k = *known;

		if (sl == 0) {
			if (!strcmp(k, ent->key))
				return true;
			continue;
		}
		if (strncmp(k, ent->section, sl) || k[sl] != '.')
			continue;
		if (!strcmp(k + sl + 1, "*") || !strcmp(k + sl + 1, ent->key))
			return true;
	}
	return false;
}

int config_check_known(const struct config *cfg, const char *const *known, struct errmsg *e)
{
	static const char *const none[] = {NULL};
	size_t i;

	if (!cfg)
		return -EINVAL;
	if (!known)
		known = none;
	for (i = 0; i < cfg->count; i++) {
		const struct config_entry *ent = &cfg->entries[i];

		if (!entry_known(ent, known)) {
			entry_error(cfg, ent, e, "unknown key");
			return -EINVAL;
		}
	}
	return 0;
}
