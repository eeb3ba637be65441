/* Fuzz target: the rexec message decoders on arbitrary payloads. The first byte picks the
 * message type; whatever decodes must re-encode and decode to the same value. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rexec/proto.h"
#include "wire.h"

static void check_exec(const uint8_t *p, size_t len)
{
	struct rexec_exec x, y;
	struct wire_buf b;
	size_t i;

	if (rexec_dec_exec(p, len, &x))
		return;
	/* Invariants the server relies on. */
	if (x.argc < 1 || !x.argv[0][0] || x.argv[x.argc] || x.env[x.envc])
		abort();
	for (i = 0; i < x.envc; i++)
		if (!strchr(x.env[i], '=') || x.env[i][0] == '=')
			abort();
	if (x.cwd[0] && x.cwd[0] != '/')
		abort();
	wire_buf_init(&b);
	if (rexec_enc_exec(&b, &x) == 0) {
		if (rexec_dec_exec(b.data + WIRE_HEADER_SIZE, b.len - WIRE_HEADER_SIZE, &y))
			abort();
		if (y.argc != x.argc || y.envc != x.envc || strcmp(y.cwd, x.cwd) ||
		    y.flags != x.flags || y.window != x.window)
			abort();
		for (i = 0; i < x.argc; i++)
			if (strcmp(x.argv[i], y.argv[i]))
				abort();
		rexec_exec_free(&y);
	}
	wire_buf_free(&b);
	rexec_exec_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rexec_exit ex;
	struct rexec_pid pid;
	struct rexec_kill k;
	uint16_t r, c;
	uint32_t v;
	int32_t wp;
	char msg[64];

	if (size < 1)
		return 0;
	switch (data[0] % 8) {
	case 0:
		check_exec(data + 1, size - 1);
		break;
	case 1:
		if (rexec_dec_exit(data + 1, size - 1, &ex) == 0 &&
		    (ex.how > 1 || (ex.how == 0 && ex.value > 255) ||
		     (ex.how == 1 && (ex.value < 1 || ex.value > 64))))
			abort();
		break;
	case 2:
		if (rexec_dec_pid(data + 1, size - 1, &pid) == 0 && pid.pid <= 0)
			abort();
		break;
	case 3:
		if (rexec_dec_kill(data + 1, size - 1, &k) == 0 && (k.pid <= 0 || k.signo > 64))
			abort();
		break;
	case 4:
		if (rexec_dec_wait(data + 1, size - 1, &wp) == 0 && wp <= 0)
			abort();
		break;
	case 5:
		(void)rexec_dec_winch(data + 1, size - 1, &r, &c);
		(void)rexec_dec_u32(data + 1, size - 1, &v);
		break;
	case 6:
		if (rexec_dec_error(data + 1, size - 1, &v, msg, sizeof(msg)) == 0) {
			size_t i;

			for (i = 0; msg[i]; i++)
				if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
					abort();
		}
		break;
	default:
		(void)rexec_dec_empty(data + 1, size - 1);
		break;
	}
	return 0;
}
