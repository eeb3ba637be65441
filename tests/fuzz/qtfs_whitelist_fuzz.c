/* Fuzz target: the qtfs whitelist parser; every accepted entry must be absolute and clean,
 * and matching must never allow a path containing "..". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qtfs-user/whitelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qtfs_wl *wl = qtfs_wl_parse((const char *)data, size, "fuzz", NULL);
	int op;

	if (!wl)
		return 0;
	for (op = 0; op < QTFS_WL_COUNT; op++) {
		if (qtfs_wl_count(wl, op) > 0 && qtfs_wl_allows(wl, op, "/../../etc/shadow"))
			abort();
		(void)qtfs_wl_allows(wl, op, "/home/VMs/a");
	}
	qtfs_wl_free(wl);
	return 0;
}
