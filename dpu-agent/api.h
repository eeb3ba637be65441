/* api: the JSON-RPC methods of splitvirt-dpud and the per-connection server loop. */
#ifndef SV_DPUD_API_H
#define SV_DPUD_API_H

#include <stddef.h>

struct mgr;
struct xport_conn;

/*
 * Handles one request line and returns the response line (malloc'd; NULL only
 * when out of memory). For a successful "console" request *console_fd is set
 * to the serial socket and the connection becomes a byte stream after the
 * response; otherwise it is -1.
 */
char *api_handle_line(struct mgr *m, const char *line, size_t len, int *console_fd);

/* Serves one client connection until it closes; takes ownership of c. */
void api_serve(struct mgr *m, struct xport_conn *c);

#endif
