/* Fuzz target: the client's reply decoder (first byte selects the operation) and the
 * READDIRPLUS entry walker over the decoded data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qtfs-user/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qtfs_rep rep;
	struct qtfs_dirent d;
	struct wire_reader r;
	uint16_t op;
	int ret, n = 0;

	if (size < 1)
		return 0;
	op = (uint16_t)(data[0] % (QTFS_OP_COUNT + 1));
	if (qtfs_rep_decode(op, data + 1, size - 1, &rep) != 0)
		return 0;
	if (rep.status > 0 || rep.node.len > QTFS_BLOB_MAX)
		abort();
	if (rep.data && (rep.data < data || rep.data + rep.data_len > data + size))
		abort();
	if (op == QTFS_OP_READDIRPLUS && rep.data) {
		wire_reader_init(&r, rep.data, rep.data_len);
		while ((ret = qtfs_dirent_next(&r, &d)) == 1) {
			if (strchr(d.name, '/') || !d.name[0])
				abort();
			if (++n > 1000000)
				abort();
		}
	}
	return 0;
}
