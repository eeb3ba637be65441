/* Unit tests for dpu-agent/rpc.c: strict JSON-RPC request parsing, responses, line splitting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpu-agent/rpc.h"

static void bad(const char *line, int want_code, const char *needle)
{
	struct rpc_req req;
	struct errmsg e = {{0}};
	int code = 0;

	assert_int_equal(rpc_parse_request(line, strlen(line), &req, &code, &e), -EINVAL);
	assert_int_equal(code, want_code);
	if (!strstr(e.text, needle))
		fail_msg("message '%s' lacks '%s'", e.text, needle);
	assert_null(req.id);
	assert_null(req.params);
}

static void test_rpc_parses_a_valid_request(void **state)
{
	const char *line = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"start\",\"params\":{"
			   "\"name\":\"web1\"}}";
	struct rpc_req req;
	struct errmsg e;
	const char *name = NULL;
	int code;

	assert_int_equal(rpc_parse_request(line, strlen(line), &req, &code, &e), 0);
	assert_string_equal(req.method, "start");
	assert_int_equal(json_object_get_int(req.id), 7);
	assert_int_equal(rpc_param_str(&req, "name", true, 64, &name, &e), 0);
	assert_string_equal(name, "web1");
	rpc_req_free(&req);
}

static void test_rpc_params_default_to_an_empty_object(void **state)
{
	const char *line = "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"list\"}";
	struct rpc_req req;
	struct errmsg e;
	bool all = false;
	int code;

	assert_int_equal(rpc_parse_request(line, strlen(line), &req, &code, &e), 0);
	assert_non_null(req.params);
	assert_int_equal(rpc_param_bool(&req, "all", &all, &e), 0);
	assert_false(all);
	rpc_req_free(&req);
}

static void test_rpc_refuses_malformed_requests(void **state)
{
	bad("", RPC_E_PARSE, "not valid JSON");
	bad("{", RPC_E_PARSE, "not valid JSON");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"list\"} x", RPC_E_PARSE, "JSON");
	bad("[1,2]", RPC_E_INVALID, "not a JSON object");
	bad("42", RPC_E_INVALID, "not a JSON object");
	bad("{\"method\":\"list\"}", RPC_E_INVALID, "jsonrpc");
	bad("{\"jsonrpc\":\"1.0\",\"method\":\"list\"}", RPC_E_INVALID, "jsonrpc");
	bad("{\"jsonrpc\":\"2.0\"}", RPC_E_INVALID, "method: missing");
	bad("{\"jsonrpc\":\"2.0\",\"method\":5}", RPC_E_INVALID, "method: missing or not a string");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"\"}", RPC_E_INVALID, "method: empty");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"Start\"}", RPC_E_INVALID, "only [a-z_.]");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    RPC_E_INVALID, "longer than");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"list\",\"params\":[1]}", RPC_E_INVALID,
	    "params: must be an object");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"list\",\"id\":[1]}", RPC_E_INVALID, "id: must be");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"list\",\"id\":1.5}", RPC_E_INVALID, "id: must be");
	bad("{\"jsonrpc\":\"2.0\",\"method\":\"list\",\"extra\":1}", RPC_E_INVALID,
	    "unknown member 'extra'");
}

static void test_rpc_refuses_embedded_nul(void **state)
{
	static const char line[] = "{\"jsonrpc\":\"2.0\",\"method\":\"list\"}\0junk";
	struct rpc_req req;
	struct errmsg e;
	int code;

	assert_int_equal(rpc_parse_request(line, sizeof(line) - 1, &req, &code, &e), -EINVAL);
	assert_non_null(strstr(e.text, "NUL"));
}

static void test_rpc_param_getters_name_the_key(void **state)
{
	const char *line = "{\"jsonrpc\":\"2.0\",\"method\":\"start\",\"params\":{\"name\":5,"
			   "\"all\":\"yes\",\"long\":\"aaaaaaaaaa\",\"nul\":\"a\\u0000b\"}}";
	struct rpc_req req;
	struct errmsg e;
	const char *s;
	bool b;
	int code;

	assert_int_equal(rpc_parse_request(line, strlen(line), &req, &code, &e), 0);
	assert_int_equal(rpc_param_str(&req, "name", true, 64, &s, &e), -EINVAL);
	assert_non_null(strstr(e.text, "params.name: must be a string"));
	assert_int_equal(rpc_param_str(&req, "missing", true, 64, &s, &e), -EINVAL);
	assert_non_null(strstr(e.text, "params.missing: missing"));
	assert_int_equal(rpc_param_str(&req, "long", true, 4, &s, &e), -EINVAL);
	assert_non_null(strstr(e.text, "longer than 4"));
	assert_int_equal(rpc_param_str(&req, "nul", true, 64, &s, &e), -EINVAL);
	assert_non_null(strstr(e.text, "NUL"));
	assert_int_equal(rpc_param_bool(&req, "all", &b, &e), -EINVAL);
	assert_non_null(strstr(e.text, "params.all: must be true or false"));
	rpc_req_free(&req);
}

static void test_rpc_response_lines_round_trip(void **state)
{
	json_object *id = json_object_new_int(3), *res, *v;
	struct errmsg e;
	char *line;
	int code;

	res = json_object_new_object();
	json_object_object_add(res, "xml", json_object_new_string("<a>\n</a>"));
	line = rpc_result_line(id, res);
	assert_non_null(line);
	/* One line: the embedded newline is escaped. */
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_int_equal(rpc_parse_response(line, strlen(line) - 1, &res, &code, &e), 0);
	assert_true(json_object_object_get_ex(res, "xml", &v));
	assert_string_equal(json_object_get_string(v), "<a>\n</a>");
	json_object_put(res);
	free(line);
	line = rpc_error_line(id, RPC_E_NO_DOMAIN, "Domain not found: x");
	assert_int_equal(rpc_parse_response(line, strlen(line), &res, &code, &e), -EREMOTEIO);
	assert_int_equal(code, RPC_E_NO_DOMAIN);
	assert_string_equal(e.text, "Domain not found: x");
	free(line);
	json_object_put(id);
}

static void test_rpc_lines_split_and_bound(void **state)
{
	struct rpc_lines l;
	char *p, *line;
	size_t len;

	rpc_lines_init(&l);
	assert_int_equal(rpc_lines_next(&l, &line, &len), 0);
	assert_int_equal(rpc_lines_space(&l, 16, &p), 0);
	memcpy(p, "ab\ncd\nef", 8);
	rpc_lines_commit(&l, 8);
	assert_int_equal(rpc_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "ab");
	assert_int_equal(rpc_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "cd");
	assert_int_equal(rpc_lines_next(&l, &line, &len), 0);
	assert_int_equal(rpc_lines_space(&l, 16, &p), 0);
	memcpy(p, "g\n", 2);
	rpc_lines_commit(&l, 2);
	assert_int_equal(rpc_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "efg");
	/* A line that never ends is refused once past the limit. */
	for (size_t total = 0; total <= RPC_LINE_MAX; total += 65536) {
		assert_int_equal(rpc_lines_space(&l, 65536, &p), 0);
		memset(p, 'x', 65536);
		rpc_lines_commit(&l, 65536);
	}
	assert_int_equal(rpc_lines_next(&l, &line, &len), -EMSGSIZE);
	rpc_lines_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpc_parses_a_valid_request),
		cmocka_unit_test(test_rpc_params_default_to_an_empty_object),
		cmocka_unit_test(test_rpc_refuses_malformed_requests),
		cmocka_unit_test(test_rpc_refuses_embedded_nul),
		cmocka_unit_test(test_rpc_param_getters_name_the_key),
		cmocka_unit_test(test_rpc_response_lines_round_trip),
		cmocka_unit_test(test_rpc_lines_split_and_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
