/* Fuzz target: the rexec registry record parsers (/var/run/rexec/procs/PID and PID.exit).
 * Whatever parses must be in range and print back to the same text. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rexec/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rexec_reg_entry ent;
	struct rexec_exit x;
	char text[256], back[256];
	uint64_t start;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (rexec_reg_parse_entry(text, &ent) == 0) {
		if (ent.pid <= 0)
			abort();
		snprintf(back, sizeof(back), "%d %" PRIu64 " %d", (int)ent.pid, ent.start_time,
			 ent.detached ? 1 : 0);
		if (rexec_reg_parse_entry(back, &ent) != 0)
			abort();
	}
	if (rexec_reg_parse_exit(text, &start, &x) == 0) {
		if (x.how > 1 || (x.how == 0 && x.value > 255) ||
		    (x.how == 1 && (x.value < 1 || x.value > 64)))
			abort();
	}
	return 0;
}
