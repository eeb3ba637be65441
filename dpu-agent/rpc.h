/* rpc: the JSON-RPC 2.0 messages between the splitvirt CLI and splitvirt-dpud (one per line). */
#ifndef SV_DPUD_RPC_H
#define SV_DPUD_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "errmsg.h"

#define RPC_SOCKET     "/run/splitvirt/dpud.sock"
#define RPC_LINE_MAX   (4u << 20) /* a request line longer than this closes the connection */
#define RPC_METHOD_MAX 32

/* JSON-RPC error codes: the standard ones and ours (-32000..-32099). */
enum rpc_code {
	RPC_E_PARSE = -32700,
	RPC_E_INVALID = -32600,
	RPC_E_METHOD = -32601,
	RPC_E_PARAMS = -32602,
	RPC_E_INTERNAL = -32603,
	RPC_E_NO_DOMAIN = -32001, /* no domain with that name */
	RPC_E_STATE = -32002,	  /* the verb does not apply in the domain's state */
	RPC_E_EXISTS = -32003,	  /* define: the name belongs to another uuid / is running */
	RPC_E_BAD_XML = -32004,	  /* define: the XML was refused */
	RPC_E_HOST = -32005,	  /* the host side (rexec, splitvm, QMP, netctl) failed */
};

struct rpc_req {
	json_object *id; /* owned reference; NULL for a notification */
	char method[RPC_METHOD_MAX + 1];
	json_object *params; /* owned reference; an object (empty if absent) */
};

/*
 * Parses one request line. Refuses (with the JSON-RPC code in *code and a
 * message) anything but an object with "jsonrpc":"2.0", a string method of
 * [a-z_.] characters, an optional id (integer, string or null) and optional
 * object params.
 */
int rpc_parse_request(const char *line, size_t len, struct rpc_req *req, int *code,
		      struct errmsg *e);
void rpc_req_free(struct rpc_req *req);

/*
 * Parameter getters: a missing required key or a value of the wrong type is
 * -EINVAL with a message naming the key. Optional keys keep *out unchanged.
 */
int rpc_param_str(const struct rpc_req *req, const char *key, bool required, size_t max,
		  const char **out, struct errmsg *e);
int rpc_param_bool(const struct rpc_req *req, const char *key, bool *out, struct errmsg *e);

/* Builds the response line (with "\n"); malloc'd. result is consumed. */
char *rpc_result_line(json_object *id, json_object *result);
char *rpc_error_line(json_object *id, int code, const char *message);
char *rpc_request_line(int id, const char *method, json_object *params);

/*
 * Parses a response line (the client side). 0 with *result (owned, may be
 * NULL) or the server's error: *code and the message in e, return -EREMOTEIO.
 */
int rpc_parse_response(const char *line, size_t len, json_object **result, int *code,
		       struct errmsg *e);

/* Reads one line (without the '\n') into a growing buffer from a blocking reader. */
struct rpc_lines {
	char *buf;
	size_t len, cap, start;
};
void rpc_lines_init(struct rpc_lines *l);
void rpc_lines_free(struct rpc_lines *l);
/*
 * Returns 1 with *line (NUL-terminated, valid until the next call) when a whole
 * line is buffered, 0 when more bytes are needed, -EMSGSIZE past RPC_LINE_MAX.
 */
int rpc_lines_next(struct rpc_lines *l, char **line, size_t *len);
/* Space to read into: at least `want` bytes at *p. */
int rpc_lines_space(struct rpc_lines *l, size_t want, char **p);
void rpc_lines_commit(struct rpc_lines *l, size_t n);

#endif
