/*
 * libFuzzer target for xport_addr_parse (addresses come from command lines and
 * config files): anything accepted must format back and re-parse to the same
 * address, and every refusal must come with a one-line message.
 */
#include <stdlib.h>
#include <string.h>

#include "xport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xport_addr a, b;
	struct errmsg e = {""};
	char *s, buf[400];

	if (size > 1024)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (xport_addr_parse(s, &a, &e) == 0) {
		if (xport_addr_format(&a, buf, sizeof(buf)) != 0)
			abort();
		memset(&b, 0, sizeof(b));
		if (xport_addr_parse(buf, &b, &e) != 0)
			abort();
		if (a.kind != b.kind || strcmp(a.path, b.path) || strcmp(a.host, b.host) ||
		    a.port != b.port || a.cid != b.cid)
			abort();
	} else if (errmsg_str(&e)[0] == '\0' || strlen(errmsg_str(&e)) >= sizeof(e.text)) {
		abort();
	}
	free(s);
	return 0;
}
