/* rexec allowlist rules: /etc/rexec/whitelist entries with options, and the exec decision. */
#ifndef SV_REXEC_RULES_H
#define SV_REXEC_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define REXEC_DEFAULT_WHITELIST "/etc/rexec/whitelist"
#define REXEC_DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* One `args=` alternative: the arguments must begin with these, byte for byte. */
struct rexec_argprefix {
	size_t n;
	char **args;
};

struct rexec_rule {
	char *path; /* absolute, as listed */
	char *real; /* realpath(path) when loaded, or NULL if it did not resolve then */
	unsigned line;
	bool has_sha256;
	uint8_t sha256[32];
	bool noargs;
	long maxargs; /* -1: no limit */
	size_t n_prefixes;
	struct rexec_argprefix *prefixes;
};

struct rexec_rules {
	char *name; /* the file, for messages */
	size_t n;
	struct rexec_rule *v;
};

/* Parses whitelist text (see docs/rexec.md); NULL with errno and "file:line: reason". */
struct rexec_rules *rexec_rules_parse(const char *text, size_t len, const char *name,
				      struct errmsg *e);
/* Loads a file; with check_perms refuses one not root-owned or group/world-writable. */
struct rexec_rules *rexec_rules_load(const char *path, bool check_perms, struct errmsg *e);
void rexec_rules_free(struct rexec_rules *r);

/* The outcome of an allowed request. */
struct rexec_decision {
	int fd;	     /* the program, opened O_RDONLY|O_CLOEXEC: exec it with execveat */
	bool script; /* starts with "#!": executed by path (its interpreter reopens it) */
	char *path;  /* the resolved (canonical) path */
	char *argv0; /* what the program sees as argv[0] */
	const struct rexec_rule *rule;
};

void rexec_decision_free(struct rexec_decision *d);

/*
 * Decides whether argv may run. The program (argv[0]) is an absolute path or a
 * bare name looked up in search_path (the server's fixed PATH); it is resolved
 * with realpath, must be a regular executable file owned by root and not
 * writable by group or others, and must match a rule whose path resolves to
 * the same file and whose argument constraints and SHA-256 pin hold.
 * Returns 0 and fills d; -EACCES (refused) or -ENOENT (no such program) with
 * a one-line reason in e; other -errno on system failures.
 */
int rexec_rules_check(const struct rexec_rules *r, const char *search_path, char *const *argv,
		      size_t argc, struct rexec_decision *d, struct errmsg *e);

/* SHA-256 of an open file's whole contents (from offset 0) with OpenSSL EVP. 0 or -errno. */
int rexec_sha256_fd(int fd, uint8_t out[32]);

/* Does the argument list argv[1..argc-1] satisfy the rule's argument constraints? */
bool rexec_rule_args_ok(const struct rexec_rule *rule, char *const *argv, size_t argc);

#endif
