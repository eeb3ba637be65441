/*
 * Unit tests for dpu-agent/api.c + mgr.c without a host: the JSON-RPC methods
 * that need no VM (define, list, dumpxml, dominfo, autostart, undefine, errors)
 * against a real store in a temporary directory, and qmp_client against a
 * scripted peer on a real socketpair.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpu-agent/api.h"
#include "dpu-agent/mgr.h"
#include "dpu-agent/qmp_client.h"
#include "dpu-agent/rpc.h"
#include "log.h"

struct fx {
	char dir[64];
	struct mgr *m;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mgr_config c;
	struct errmsg e;

	log_init("dpud_api_test", NULL, LOG_LVL_ERROR);
	strcpy(f->dir, "/tmp/dpud_api_test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	mgr_config_defaults(&c);
	snprintf(c.store_dir, sizeof(c.store_dir), "%s/domains", f->dir);
	snprintf(c.run_dir, sizeof(c.run_dir), "%s/vms", f->dir);
	c.exec.mode = HOSTEXEC_LOCAL;
	c.sock.mode = HOSTSOCK_LOCAL;
	strcpy(c.splitvm, "/bin/false");
	if (mgr_new(&c, &f->m, &e)) {
		fprintf(stderr, "%s\n", e.text);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	mgr_free(f->m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* Calls a method; returns the response object (owned). */
static json_object *call(struct mgr *m, const char *method, json_object *params)
{
	char *req = rpc_request_line(1, method, params), *resp;
	json_object *o;
	int cfd;

	resp = api_handle_line(m, req, strlen(req) - 1, &cfd);
	assert_non_null(resp);
	assert_int_equal(cfd, -1);
	o = json_tokener_parse(resp);
	assert_non_null(o);
	free(req);
	free(resp);
	return o;
}

static int err_code(json_object *resp, const char **msg)
{
	json_object *err, *v;

	if (!json_object_object_get_ex(resp, "error", &err))
		return 0;
	json_object_object_get_ex(err, "message", &v);
	*msg = json_object_get_string(v);
	json_object_object_get_ex(err, "code", &v);
	return json_object_get_int(v);
}

static json_object *name_p(const char *n)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "name", json_object_new_string(n));
	return p;
}

static json_object *xml_p(const char *name, const char *uuid)
{
	char xml[512];
	json_object *p = json_object_new_object();

	snprintf(xml, sizeof(xml),
		 "<domain type='kvm'><name>%s</name>%s%s%s<memory unit='MiB'>128</memory>"
		 "<clock offset='utc'/><os><type>hvm</type><kernel>/k</kernel></os></domain>",
		 name, uuid ? "<uuid>" : "", uuid ? uuid : "", uuid ? "</uuid>" : "");
	json_object_object_add(p, "xml", json_object_new_string(xml));
	return p;
}

static void test_api_define_list_dumpxml_undefine(void **state)
{
	struct fx *f = *state;
	json_object *r, *res, *v, *arr;
	const char *msg = NULL;

	r = call(f->m, "define", xml_p("web1", "11111111-2222-4333-8444-555555555555"));
	assert_int_equal(err_code(r, &msg), 0);
	assert_true(json_object_object_get_ex(r, "result", &res));
	json_object_object_get_ex(res, "warnings", &v);
	/* <clock> ignored, <vcpu> missing */
	assert_int_equal(json_object_array_length(v), 2);
	assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(v, 0)), "clock"));
	json_object_put(r);

	r = call(f->m, "list", NULL);
	json_object_object_get_ex(r, "result", &res);
	json_object_object_get_ex(res, "domains", &arr);
	assert_int_equal(json_object_array_length(arr), 0); /* inactive: only with all */
	json_object_put(r);
	v = json_object_new_object();
	json_object_object_add(v, "all", json_object_new_boolean(1));
	r = call(f->m, "list", v);
	json_object_object_get_ex(r, "result", &res);
	json_object_object_get_ex(res, "domains", &arr);
	assert_int_equal(json_object_array_length(arr), 1);
	json_object_object_get_ex(json_object_array_get_idx(arr, 0), "state", &v);
	assert_string_equal(json_object_get_string(v), "shut off");
	json_object_put(r);

	r = call(f->m, "dumpxml", name_p("web1"));
	json_object_object_get_ex(r, "result", &res);
	json_object_object_get_ex(res, "xml", &v);
	assert_non_null(strstr(json_object_get_string(v), "11111111-2222-4333-8444-555555555555"));
	json_object_put(r);

	r = call(f->m, "undefine", name_p("web1"));
	assert_int_equal(err_code(r, &msg), 0);
	json_object_put(r);
	r = call(f->m, "dominfo", name_p("web1"));
	assert_int_equal(err_code(r, &msg), RPC_E_NO_DOMAIN);
	assert_string_equal(msg, "Domain not found: no domain with matching name 'web1'");
	json_object_put(r);
}

static void test_api_define_conflicts_are_refused(void **state)
{
	struct fx *f = *state;
	json_object *r;
	const char *msg = NULL;

	json_object_put(call(f->m, "define", xml_p("a", "11111111-2222-4333-8444-555555555555")));
	r = call(f->m, "define", xml_p("a", "99999999-2222-4333-8444-555555555555"));
	assert_int_equal(err_code(r, &msg), RPC_E_EXISTS);
	assert_non_null(strstr(msg, "already exists with uuid 11111111"));
	json_object_put(r);
	r = call(f->m, "define", xml_p("b", "11111111-2222-4333-8444-555555555555"));
	assert_int_equal(err_code(r, &msg), RPC_E_EXISTS);
	json_object_put(r);
	/* The same name and uuid updates the definition. */
	r = call(f->m, "define", xml_p("a", "11111111-2222-4333-8444-555555555555"));
	assert_int_equal(err_code(r, &msg), 0);
	json_object_put(r);
	/* A refused XML leaves nothing behind. */
	r = call(f->m, "define", xml_p("../x", NULL));
	assert_int_equal(err_code(r, &msg), RPC_E_BAD_XML);
	assert_non_null(strstr(msg, "name: '../x'"));
	json_object_put(r);
	assert_int_not_equal(access("/tmp/x.xml", F_OK), 0);
}

static void test_api_verbs_on_inactive_domains_are_state_errors(void **state)
{
	struct fx *f = *state;
	static const char *const verbs[] = {"shutdown", "destroy", "reboot",
					    "suspend",	"resume",  "console"};
	json_object *r;
	const char *msg = NULL;

	json_object_put(call(f->m, "define", xml_p("idle", NULL)));
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		r = call(f->m, verbs[i], name_p("idle"));
		assert_int_equal(err_code(r, &msg), RPC_E_STATE);
		assert_non_null(strstr(msg, "'idle' is not running"));
		json_object_put(r);
	}
	/* start through a "splitvm" that fails: a host error, the domain stays shut off. */
	r = call(f->m, "start", name_p("idle"));
	assert_int_equal(err_code(r, &msg), RPC_E_HOST);
	assert_non_null(strstr(msg, "splitvm failed"));
	json_object_put(r);
	r = call(f->m, "domstate", name_p("idle"));
	assert_non_null(
		strstr(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), "\"shut off\""));
	json_object_put(r);
}

static void test_api_autostart_persists(void **state)
{
	struct fx *f = *state;
	json_object *p, *r;
	char path[128];

	json_object_put(call(f->m, "define", xml_p("auto", NULL)));
	p = name_p("auto");
	json_object_object_add(p, "enable", json_object_new_boolean(1));
	json_object_put(call(f->m, "autostart", p));
	snprintf(path, sizeof(path), "%s/domains/auto.autostart", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	r = call(f->m, "dominfo", name_p("auto"));
	assert_non_null(strstr(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			       "\"autostart\":true"));
	json_object_put(r);
}

static void test_api_bad_requests_get_jsonrpc_errors(void **state)
{
	struct fx *f = *state;
	const char *lines[] = {
		"garbage",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"explode\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"start\",\"params\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"start\",\"params\":{\"name\":\"a/b\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\",\"params\":{\"all\":1}}",
	};
	const int codes[] = {RPC_E_PARSE, RPC_E_METHOD, RPC_E_PARAMS, RPC_E_PARAMS, RPC_E_PARAMS};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int cfd;
		char *resp = api_handle_line(f->m, lines[i], strlen(lines[i]), &cfd);
		json_object *o = json_tokener_parse(resp);
		const char *msg;

		assert_non_null(o);
		assert_int_equal(err_code(o, &msg), codes[i]);
		json_object_put(o);
		free(resp);
	}
}

static void test_api_definitions_survive_a_new_manager(void **state)
{
	struct fx *f = *state;
	struct mgr_config c;
	struct mgr *m2;
	struct mgr_dominfo *v;
	struct errmsg e;
	size_t n;

	json_object_put(call(f->m, "define", xml_p("keep", NULL)));
	mgr_config_defaults(&c);
	snprintf(c.store_dir, sizeof(c.store_dir), "%s/domains", f->dir);
	snprintf(c.run_dir, sizeof(c.run_dir), "%s/vms", f->dir);
	c.sock.mode = HOSTSOCK_LOCAL;
	assert_int_equal(mgr_new(&c, &m2, &e), 0);
	mgr_reconcile(m2);
	assert_int_equal(mgr_list(m2, true, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "keep");
	assert_int_equal(v[0].state, DOM_ST_SHUTOFF);
	free(v);
	mgr_free(m2);
}

/* qmp_client against a scripted peer: fragmented greeting, events before replies, errors. */
static void test_qmp_client_handles_fragments_events_and_errors(void **state)
{
	int sv[2];
	struct qmp_client c;
	struct errmsg e;
	json_object *ret = NULL;
	const char *script = "{\"QMP\": {\"version\": {}, \"capa"
			     "bilities\": []}}\r\n{\"return\": {}}\r\n"
			     "{\"event\":\"STOP\",\"data\":{}}\r\n{\"return\":{\"status\":"
			     "\"paused\",\"running\":false}}"
			     "\r\n{\"error\":{\"class\":\"GenericError\",\"desc\":\"nope\"}}\r\n";

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* The whole script is in the socket buffer before the client reads. */
	assert_int_equal(write(sv[1], script, strlen(script)), (ssize_t)strlen(script));
	assert_int_equal(qmp_client_open(&c, sv[0], 1000, &e), 0);
	assert_int_equal(qmp_client_execute(&c, "query-status", NULL, 1000, NULL, NULL, &ret, &e),
			 0);
	assert_string_equal(qmp_status_of(ret), "paused");
	json_object_put(ret);
	assert_int_equal(qmp_client_execute(&c, "cont", NULL, 1000, NULL, NULL, NULL, &e), -EIO);
	assert_non_null(strstr(e.text, "GenericError: nope"));
	assert_int_equal(qmp_client_execute(&c, "cont", NULL, 100, NULL, NULL, NULL, &e),
			 -ETIMEDOUT);
	close(sv[1]);
	json_object *msg;
	int r = qmp_client_read(&c, 1000, &msg);
	/* EOF, or a reset because the peer never read our commands. */
	assert_true(r == -EPIPE || r == -ECONNRESET);
	qmp_client_close(&c);
}

static void test_qmp_client_refuses_non_qmp_peers(void **state)
{
	int sv[2];
	struct qmp_client c;
	struct errmsg e;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "[1,2,3]\n", 8), 8);
	assert_int_equal(qmp_client_open(&c, sv[0], 1000, &e), -EBADMSG);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "{\"hello\":1}\n", 12), 12);
	assert_int_equal(qmp_client_open(&c, sv[0], 1000, &e), -EPROTO);
	assert_non_null(strstr(e.text, "not a QMP server"));
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_api_define_list_dumpxml_undefine, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_api_define_conflicts_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_api_verbs_on_inactive_domains_are_state_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_autostart_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_bad_requests_get_jsonrpc_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_api_definitions_survive_a_new_manager, setup,
						teardown),
		cmocka_unit_test(test_qmp_client_handles_fragments_events_and_errors),
		cmocka_unit_test(test_qmp_client_refuses_non_qmp_peers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
