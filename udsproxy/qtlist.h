/* qtlist: the lists qtcfg manages (one address prefix a line, # comments), shared by qtcfg,
 * the preload shim (intercept list) and udsproxyd (allow list). */
#ifndef UDSP_QTLIST_H
#define UDSP_QTLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

#define QTLIST_MAX_ENTRIES  1024
#define QTLIST_ENTRY_MAX    107 /* a unix socket address */
#define QTLIST_TYPE_MAX	    32
#define QTLIST_FILE_MAX	    (QTLIST_MAX_ENTRIES * (QTLIST_ENTRY_MAX + 2) + 64 * 1024)
#define QTLIST_DEFAULT_TYPE "udsconnect"

struct qtlist {
	char *entries[QTLIST_MAX_ENTRIES];
	size_t n;
};

/* "<conf_dir>/<type>.list"; type is [a-z0-9_-]{1,32}. -EINVAL/-ENAMETOOLONG with a message. */
int qtlist_file(const char *conf_dir, const char *type, char *buf, size_t n, struct errmsg *e);
/* An entry: "/absolute/path[/]" or "@abstract", no spaces or control characters. */
int qtlist_entry_check(const char *s);
/* Parses file text; `name` for messages. 0, or -EINVAL naming "name:line". */
int qtlist_parse(const char *text, size_t len, const char *name, struct qtlist *l,
		 struct errmsg *e);
/* Loads a file; a missing file is an empty list. */
int qtlist_load(const char *path, struct qtlist *l, struct errmsg *e);
/* Writes atomically (temp file, fsync, rename), mode 0644. */
int qtlist_save(const char *path, const struct qtlist *l, struct errmsg *e);
int qtlist_add(struct qtlist *l, const char *entry);
int qtlist_del(struct qtlist *l, size_t idx);
/* True if an entry prefixes path by whole components (abstract: equal). */
bool qtlist_match(const struct qtlist *l, const char *path);
void qtlist_free(struct qtlist *l);

#endif
