/* Fuzz target: the qtcfg list file parser and matching against what it accepted. */
#include <stddef.h>
#include <stdint.h>

#include "udsproxy/qtlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errmsg e = {""};
	struct qtlist l;

	if (qtlist_parse((const char *)data, size, "fuzz", &l, &e) == 0) {
		(void)qtlist_match(&l, "/var/lib/libvirt/qemu/x.sock");
		(void)qtlist_match(&l, "@abs");
		qtlist_free(&l);
	}
	return 0;
}
