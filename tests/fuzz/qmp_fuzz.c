/* Fuzz target: the QMP server's streaming input parser and command dispatch. The first
 * byte picks whether the pseudo-client has negotiated; the rest is what it sends. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/qmp.h"

static enum qmp_run_state fuzz_state = QMP_RUN_STATE_RUNNING;
static struct qmp_server *fuzz_server;

static int op_pause(void *o)
{
	fuzz_state = QMP_RUN_STATE_PAUSED;
	return qmp_server_event_simple(fuzz_server, "STOP") < 0 ? -ENOMEM : 0;
}

static int op_resume(void *o)
{
	fuzz_state = QMP_RUN_STATE_RUNNING;
	return 0;
}

static int op_fail(void *o)
{
	return -EIO;
}

static enum qmp_run_state op_state(void *o)
{
	return fuzz_state;
}

static int op_cpus(void *o, struct qmp_cpu_info *out, size_t max, size_t *n)
{
	memset(out, 0, sizeof(*out));
	*n = max ? 1 : 0;
	return 0;
}

static const struct qmp_vm_ops ops = {
	.pause = op_pause,
	.resume = op_resume,
	.reset = op_fail,
	.powerdown = op_resume,
	.quit = op_resume,
	.run_state = op_state,
	.query_cpus = op_cpus,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_server *s = fuzz_server;
	struct qmp_server_info info = {.name = "fuzz", .package = "splitvirt"};
	struct errmsg e;
	char *out;

	if (!s) {
		s = qmp_server_new(NULL, &ops, NULL, &info, &e);
		if (!s)
			abort();
		fuzz_server = s;
	}
	if (size == 0)
		return 0;
	out = qmp_server_feed_for_test(s, data + 1, size - 1, data[0] & 1);
	if (!out)
		abort();
	/* Every reply line must itself be a JSON object. */
	for (char *line = out, *nl; (nl = strstr(line, "\r\n")) != NULL; line = nl + 2) {
		struct json_object *o;

		*nl = '\0';
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object))
			abort();
		json_object_put(o);
	}
	free(out);
	return 0;
}
