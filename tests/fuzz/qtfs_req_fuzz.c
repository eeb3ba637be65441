/* Fuzz target: qtfsd's request decoder. A decoded request must re-encode to the same
 * bytes (the decoder accepts nothing the encoder would not produce) and its names must
 * be single path components. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qtfs-user/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qtfs_req *rq = malloc(sizeof(*rq));
	struct wire_buf b;

	if (!rq)
		return 0;
	if (qtfs_req_decode(data, size, rq) == 0) {
		if (rq->op == QTFS_OP_LOOKUP || rq->op == QTFS_OP_UNLINK)
			if (!qtfs_name_valid(rq->name))
				abort();
		if (rq->op == QTFS_OP_RENAME && !qtfs_name_valid(rq->name2))
			abort();
		wire_buf_init(&b);
		if (qtfs_req_encode(&b, rq) != 0 || b.len != size || memcmp(b.data, data, size))
			abort();
		wire_buf_free(&b);
	}
	free(rq);
	return 0;
}
