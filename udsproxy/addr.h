/* addr: AF_UNIX socket addresses <-> the "/path" / "@abstract" strings udsproxy carries. */
#ifndef UDSP_ADDR_H
#define UDSP_ADDR_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* "/path" or "@name" into a sockaddr_un. -EINVAL/-ENAMETOOLONG. */
int udsp_addr_to_sockaddr(const char *path, struct sockaddr_un *sa, socklen_t *len);
/*
 * A sockaddr_un into "/path" or "@name" (out holds 108 bytes). Relative paths are made
 * absolute against the current directory. -EINVAL for unnamed addresses and abstract
 * names with NUL bytes, -ENAMETOOLONG if the result does not fit.
 */
int udsp_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, char *out, size_t n);

#endif
