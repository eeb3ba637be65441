/* Fuzz target: domain_parse (libvirt domain XML) and, when it accepts, the dumpxml round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "dpu-agent/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain_def *d = NULL, *d2 = NULL;
	struct dom_warnings w;
	struct errmsg e;
	char *x;

	if (domain_parse((const char *)data, size, &d, &w, &e))
		return 0;
	x = domain_format(d);
	if (x) {
		/* What we print must parse again. */
		if (domain_parse(x, strlen(x), &d2, NULL, &e))
			abort();
		domain_free(d2);
		free(x);
	}
	domain_free(d);
	return 0;
}
