/* Fuzz target: the udsproxy peer protocol decoder, as the link reads it: frames split off a
 * byte stream, each decoded and validated. */
#include <stddef.h>
#include <stdint.h>

#include "udsproxy/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct wire_header h;
		const uint8_t *payload;
		struct errmsg e = {""};
		struct udsp_msg m;
		ssize_t n = udsp_frame_split(data + off, size - off, &h, &payload);

		if (n <= 0)
			break;
		if (udsp_msg_decode(&h, payload, &m, &e) == 0)
			udsp_msg_release(&m);
		off += (size_t)n;
	}
	return 0;
}
