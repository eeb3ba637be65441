/* rexec env policy: which client variables reach the remote program. */
#ifndef SV_REXEC_ENV_H
#define SV_REXEC_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

#define REXEC_DEFAULT_ENV_ALLOW "TERM LANG LANGUAGE LC_* TZ COLORTERM"

struct rexec_envpolicy {
	size_t n;
	char **allow;	       /* names; a trailing '*' matches a prefix */
	bool refuse_dangerous; /* refuse the request instead of dropping the variable */
};

/* Parses a space-separated allow list ("TERM LANG LC_*"); -EINVAL naming the bad pattern. */
int rexec_envpolicy_init(struct rexec_envpolicy *p, const char *allow, bool refuse_dangerous,
			 struct errmsg *e);
void rexec_envpolicy_free(struct rexec_envpolicy *p);

/* Loader, sanitizer and interpreter-hook variables that are never passed (LD_*, ...). */
bool rexec_env_dangerous(const char *name, size_t len);

/*
 * Builds the remote environment: PATH=search_path and HOME=/root first, then each
 * client variable whose name is allowed and not dangerous. A dangerous variable is
 * dropped, or with refuse_dangerous makes this fail with -EACCES naming it.
 * *out is a NULL-terminated malloc'd array of malloc'd strings.
 */
int rexec_env_build(const struct rexec_envpolicy *p, char *const *in, size_t n,
		    const char *search_path, char ***out, struct errmsg *e);
void rexec_env_free(char **env);

#endif
