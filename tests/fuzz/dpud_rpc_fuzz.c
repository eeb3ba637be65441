/* Fuzz target: the dpud JSON-RPC request parser and its parameter getters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dpu-agent/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_req req;
	struct errmsg e;
	const char *s;
	bool b;
	int code;
	char *line;

	if (rpc_parse_request((const char *)data, size, &req, &code, &e) == 0) {
		rpc_param_str(&req, "name", true, 64, &s, &e);
		rpc_param_str(&req, "xml", false, 1 << 20, &s, &e);
		rpc_param_bool(&req, "all", &b, &e);
		line = rpc_result_line(req.id, NULL);
		free(line);
		rpc_req_free(&req);
	} else {
		line = rpc_error_line(NULL, code, e.text);
		free(line);
	}
	/* The client side reads replies with the same care. */
	json_object *res;
	if (rpc_parse_response((const char *)data, size, &res, &code, &e) == 0 && res)
		json_object_put(res);
	return 0;
}
