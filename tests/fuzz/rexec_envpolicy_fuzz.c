/* Fuzz target: the rexec env policy ([env] allow patterns) and the environment filter.
 * Nothing dangerous may ever come out, and PATH/HOME always come first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rexec/env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	char *in[8], buf[1024], **out = NULL;
	size_t n = 0, i, half;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* First line: the allow list; the rest: NUL-free "NAME=VALUE" lines as the client env. */
	half = strcspn(buf, "\n");
	if (buf[half])
		buf[half++] = '\0';
	if (rexec_envpolicy_init(&p, buf, size & 1, &e))
		return 0;
	for (char *s = buf + half; *s && n < 8;) {
		char *nl = strchr(s, '\n');

		if (nl)
			*nl = '\0';
		in[n++] = s;
		if (!nl)
			break;
		s = nl + 1;
	}
	if (rexec_env_build(&p, in, n, "/usr/bin:/bin", &out, &e) == 0) {
		if (strcmp(out[0], "PATH=/usr/bin:/bin") || strcmp(out[1], "HOME=/root"))
			abort();
		for (i = 2; out[i]; i++) {
			const char *eq = strchr(out[i], '=');

			if (!eq || rexec_env_dangerous(out[i], (size_t)(eq - out[i])))
				abort();
		}
		rexec_env_free(out);
	}
	rexec_envpolicy_free(&p);
	return 0;
}
