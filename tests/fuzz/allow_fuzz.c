/* Fuzz target: allow_parse and allow_path_match on arbitrary bytes. Parsed entries must be
 * single tokens; a path match must really be a component prefix of a clean absolute path. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Absolute, no empty/"."/".." components except one trailing slash (an oracle written
 * differently from lib/allow.c's). */
static bool clean_abs(const char *s)
{
	size_t len = strlen(s), start;

	if (len == 0 || s[0] != '/')
		return false;
	if (len > 1 && s[len - 1] == '/' && s[len - 2] != '/')
		len--; /* one trailing slash; "//" and "/a//" keep an empty component */
	if (len == 1)
		return true;
	for (start = 1; start <= len;) {
		const char *slash = memchr(s + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - s) : len;
		size_t n = end - start;

		if (n == 0 || (n == 1 && s[start] == '.') ||
		    (n == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
		start = end + 1;
	}
	return true;
}

static void check_match(const char *prefix, const char *path)
{
	size_t pl = strlen(prefix);

	if (!allow_path_match(prefix, path))
		return;
	if (!clean_abs(prefix) || !clean_abs(path))
		abort();
	if (pl > 1 && prefix[pl - 1] == '/')
		pl--;
	if (pl == 1)
		return; /* "/" prefixes everything absolute */
	if (strncmp(prefix, path, pl) || (path[pl] != '\0' && path[pl] != '/'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errmsg e = {{0}};
	struct allowlist *list;
	const char *nul;
	char *copy;
	size_t i;

	errno = 0;
	list = allow_parse((const char *)data, size, "fuzz.list", &e);
	if (!list) {
		if (errno == 0 || strncmp(errmsg_str(&e), "fuzz.list:", 10))
			abort();
	} else {
		for (i = 0; i < allow_count(list); i++) {
			const struct allow_entry *ent = allow_entry_at(list, i);
			size_t ol = strlen(ent->options);

			if (!ent->value[0] || ent->line < 1)
				abort();
			/* value and options are text of the input, neither cut nor joined */
			if (!memmem(data, size, ent->value, strlen(ent->value)) ||
			    !memmem(data, size, ent->options, ol))
				abort();
			for (const char *c = ent->value; *c; c++)
				if (blank(*c) || *c == '\n')
					abort();
			if (ol && (blank(ent->options[0]) || blank(ent->options[ol - 1])))
				abort();
			if (allow_match_exact(list, ent->value) == NULL)
				abort();
			if (allow_path_match(ent->value, ent->value) != clean_abs(ent->value))
				abort();
			check_match(ent->value, ent->value);
		}
		allow_free(list);
	}

	/* Path matching on two NUL-separated strings from the input. */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	nul = memchr(copy, '\0', size);
	if (nul && nul < copy + size)
		check_match(copy, nul + 1);
	check_match(copy, copy);
	free(copy);
	return 0;
}
