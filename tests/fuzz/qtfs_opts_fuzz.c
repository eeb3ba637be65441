/* Fuzz target: the qtfs mount option parser (-o ...); whatever it accepts stays within
 * its fixed buffers and its enumerations. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qtfs-user/client_opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qc_opts o;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	qc_opts_init(&o);
	if (qc_opts_parse(&o, s, NULL) == 0) {
		if (strnlen(o.server, sizeof(o.server)) == sizeof(o.server) ||
		    strnlen(o.passthrough, sizeof(o.passthrough)) == sizeof(o.passthrough))
			abort();
		if (o.kind > QC_KIND_SYS || o.cache > QC_CACHE_ALWAYS)
			abort();
		if (o.attr_timeout > 86400 || o.entry_timeout > 86400)
			abort();
	}
	free(s);
	return 0;
}
