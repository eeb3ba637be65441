/* Fuzz target: udsproxyd's control-socket request and reply decoders. */
#include <stddef.h>
#include <stdint.h>

#include "udsproxy/ctlmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udsp_ctl_connect c;
	struct errmsg e = {""};
	char shared[256];
	uint32_t err;

	(void)udsp_ctl_decode_connect(data, size, &c, &e);
	(void)udsp_ctl_decode_result(data, size, &err, shared, sizeof(shared));
	return 0;
}
