/* Fuzz target: the rexec whitelist parser on arbitrary text; accepted rules must be sane
 * and the argument matcher must agree with a direct reading of the rule. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rexec/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errmsg e = {{0}};
	struct rexec_rules *r = rexec_rules_parse((const char *)data, size, "fuzz", &e);
	char *argv[] = {"/bin/x", "-p", "1", NULL};
	size_t i, j;

	if (!r) {
		if (!errmsg_str(&e)[0])
			abort(); /* every refusal says why */
		return 0;
	}
	for (i = 0; i < r->n; i++) {
		const struct rexec_rule *rule = &r->v[i];
		bool ok = rexec_rule_args_ok(rule, argv, 3);

		if (rule->path[0] != '/')
			abort();
		if (rule->noargs && (ok || rule->n_prefixes || rule->maxargs >= 0))
			abort();
		if (rule->maxargs >= 0 && rule->maxargs < 2 && ok)
			abort();
		for (j = 0; j < rule->n_prefixes; j++)
			if (rule->prefixes[j].n == 0)
				abort();
		if (!rexec_rule_args_ok(rule, argv, 1) && !rule->n_prefixes)
			abort(); /* no arguments always pass noargs/maxargs */
	}
	rexec_rules_free(r);
	return 0;
}
