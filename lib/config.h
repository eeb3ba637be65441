/* config: INI files parsed with inih into entries with typed, range-checked getters. */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

/*
 * The longest line accepted, without its line ending. Longer lines are an
 * error ("file:line: line too long"), never silently split or cut. Section
 * names are at most 49 characters.
 */
#define CONFIG_MAX_LINE 197

struct config_entry {
	const char *section; /* "" for keys before the first section */
	const char *key;
	const char *value;
	unsigned line;
};

struct config;

/*
 * Parses an INI file. Errors (unreadable file, syntax error, a line longer
 * than the parser's limit) return NULL with errno set and a message naming
 * "file:line". Keys may repeat; every occurrence is kept in file order.
 */
struct config *config_load(const char *path, struct errmsg *e);
/* Same, from memory; `name` stands for the file in messages. */
struct config *config_parse(const char *text, size_t len, const char *name, struct errmsg *e);
void config_free(struct config *cfg);

const char *config_name(const struct config *cfg);
size_t config_count(const struct config *cfg);
const struct config_entry *config_entry_at(const struct config *cfg, size_t i);
/* The last occurrence of section/key, or NULL. Section and key match case-sensitively. */
const struct config_entry *config_find(const struct config *cfg, const char *section,
				       const char *key);

/*
 * Typed getters: when the key is absent *out = def and 0 is returned.
 * A malformed or out-of-range value returns -EINVAL with a message
 * "file:line: [section] key: reason".
 */
int config_get_str(const struct config *cfg, const char *section, const char *key, const char *def,
		   const char **out, struct errmsg *e);
int config_get_int(const struct config *cfg, const char *section, const char *key, int64_t min,
		   int64_t max, int64_t def, int64_t *out, struct errmsg *e);
/* true/false, yes/no, on/off, 1/0 */
int config_get_bool(const struct config *cfg, const char *section, const char *key, bool def,
		    bool *out, struct errmsg *e);

/*
 * Rejects keys a program does not know: `known` is a NULL-terminated list of
 * "section.key" strings ("section.*" allows any key of a section). Returns
 * -EINVAL naming the first unknown entry.
 */
int config_check_known(const struct config *cfg, const char *const *known, struct errmsg *e);

#endif
