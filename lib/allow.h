/* allow: allowlist files (one entry a line, # comments) and path-component matching. */
#ifndef SV_ALLOW_H
#define SV_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

struct allow_entry {
	char *value;   /* first whitespace-separated token of the line */
	char *options; /* the rest of the line, trimmed ("" if none) */
	unsigned line;
};

struct allowlist;

enum {
	/* Refuse a file that is not root-owned or is group/world-writable. */
	ALLOW_CHECK_PERMS = 1u << 0,
};

/* 0 if path is a regular file owned by root and not writable by group or others;
 * -EINVAL (not a regular file), -EPERM (owner or mode), or the open/fstat -errno,
 * with a message naming the file and why. Symbolic links are followed. */
int allow_check_file_perms(const char *path, struct errmsg *e);

/* Loads a file; NULL with errno and a message naming the file (and line) on error.
 * Non-regular files are always refused; ALLOW_CHECK_PERMS adds the owner/mode check,
 * made on the same open file that is then read.
 * Format: blank lines ignored; "#" at the start of a line or after a blank starts a
 * comment; NUL and other control characters (except tab, and CR in a CRLF line
 * ending) are errors. */
struct allowlist *allow_load(const char *path, unsigned flags, struct errmsg *e);
/* Parses from memory; `name` stands for the file in messages. */
struct allowlist *allow_parse(const char *text, size_t len, const char *name, struct errmsg *e);
void allow_free(struct allowlist *list);

size_t allow_count(const struct allowlist *list);
const struct allow_entry *allow_entry_at(const struct allowlist *list, size_t i);

/*
 * Component-prefix match of absolute paths: "/var/lib/libvirt" (or with a
 * trailing "/") matches "/var/lib/libvirt" and "/var/lib/libvirt/qemu/x" but
 * not "/var/lib/libvirtX". Paths with "." or ".." components or empty
 * components other than a trailing slash never match: resolve them first.
 */
bool allow_path_match(const char *prefix, const char *path);
/* The first entry whose value prefixes path (allow_path_match), or NULL. */
const struct allow_entry *allow_match_path(const struct allowlist *list, const char *path);
/* The first entry whose value equals s exactly, or NULL. */
const struct allow_entry *allow_match_exact(const struct allowlist *list, const char *s);

#endif
