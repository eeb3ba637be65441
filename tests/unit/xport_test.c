/* Unit tests for lib/xport*.c over real sockets: addresses, unix, tcp, vsock, fd passing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/vm_sockets.h>

#include "log.h"
#include "util.h"
#include "xport.h"
#include "xport_impl.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xport_test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Sends "ping" from a to b and "pong" back, checking both. */
static void exchange(struct xport_conn *a, struct xport_conn *b)
{
	char buf[8];

	assert_int_equal(xport_write_all(a, "ping", 4), 0);
	assert_int_equal(xport_read_full(b, buf, 4), 0);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(xport_write_all(b, "pong", 4), 0);
	assert_int_equal(xport_read_full(a, buf, 4), 0);
	assert_memory_equal(buf, "pong", 4);
}

/* ---- addresses ---- */

static void check_round_trip(const char *s, enum xport_kind kind)
{
	struct xport_addr a;
	struct errmsg e = {""};
	char buf[300];

	if (xport_addr_parse(s, &a, &e))
		fail_msg("parse '%s': %s", s, errmsg_str(&e));
	assert_int_equal(a.kind, kind);
	assert_int_equal(xport_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, s);
}

static void test_xport_addr_parse_accepts_each_kind_and_formats_back(void **state)
{
	struct xport_addr a;

	check_round_trip("unix:/run/splitvirt/x.sock", XPORT_UNIX);
	check_round_trip("unix:@splitvirt-abstract", XPORT_UNIX);
	check_round_trip("unix:relative/path", XPORT_UNIX);
	check_round_trip("tcp:127.0.0.1:4000", XPORT_TCP);
	check_round_trip("tcp:[::1]:0", XPORT_TCP);
	check_round_trip("tls:dpu.example-1.net:65535", XPORT_TLS);
	check_round_trip("tls:[fe80::1%eth0]:443", XPORT_TLS);
	check_round_trip("vsock:3:1024", XPORT_VSOCK);
	check_round_trip("vsock:any:5000", XPORT_VSOCK);

	assert_int_equal(xport_addr_parse("tcp:[::1]:80", &a, NULL), 0);
	assert_string_equal(a.host, "[::1]");
	assert_int_equal(a.port, 80);
	assert_int_equal(xport_addr_parse("vsock:4294967295:7", &a, NULL), 0);
	assert_int_equal(a.cid, 0xffffffffu);
	assert_int_equal(xport_addr_parse("unix:@abc", &a, NULL), 0);
	assert_string_equal(a.path, "@abc");
}

static void test_xport_addr_parse_rejects_hostile_strings(void **state)
{
	static const char *bad[] = {
		"",
		"unix:",
		"unix:@",
		"bogus:x",
		"/just/a/path",
		"tcp:",
		"tcp:1.2.3.4",
		"tcp:1.2.3.4:",
		"tcp:1.2.3.4:65536",
		"tcp:1.2.3.4:-1",
		"tcp:1.2.3.4:+1",
		"tcp:1.2.3.4: 1",
		"tcp:1.2.3.4:0x10",
		"tcp::80",
		"tcp:::1:80",
		"tcp:[::1]80",
		"tcp:[::1",
		"tcp:[]:80",
		"tcp:[1.2.3.4]:80",
		"tcp:a b:1",
		"tcp:a/b:1",
		"tls:host:99999999999",
		"vsock:x:1",
		"vsock:1:",
		"vsock:1",
		"vsock::1",
		"vsock:1:65536",
		"vsock:4294967296:1",
		"vsock:-1:1",
		"TCP:1.2.3.4:5",
	};
	struct xport_addr a;
	struct errmsg e;
	char longpath[200], longhost[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.text[0] = '\0';
		if (xport_addr_parse(bad[i], &a, &e) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		/* the message names the address */
		if (bad[i][0] && !strstr(errmsg_str(&e), bad[i]))
			fail_msg("message for '%s' does not name it: %s", bad[i], errmsg_str(&e));
	}
	memset(longpath, 'p', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[5 + 108] = '\0'; /* 108 path bytes: one too many */
	assert_int_equal(xport_addr_parse(longpath, &a, NULL), -EINVAL);
	longpath[5 + 107] = '\0';
	assert_int_equal(xport_addr_parse(longpath, &a, NULL), 0);
	memset(longhost, 'h', sizeof(longhost));
	memcpy(longhost, "tcp:", 4);
	memcpy(longhost + 270, ":80", 4);
	assert_int_equal(xport_addr_parse(longhost, &a, NULL), -EINVAL);
	assert_int_equal(xport_addr_parse(NULL, &a, NULL), -EINVAL);
}

static void test_xport_addr_format_reports_small_buffer(void **state)
{
	struct xport_addr a;
	char buf[8];

	assert_int_equal(xport_addr_parse("tcp:127.0.0.1:4000", &a, NULL), 0);
	assert_int_equal(xport_addr_format(&a, buf, sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(xport_kind_name(XPORT_VSOCK), "vsock");
	assert_string_equal(xport_kind_name(XPORT_TLS), "tls");
}

/* ---- unix ---- */

static void unix_addr(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "unix:%s/%s", tmpdir, name);
}

static void test_xport_unix_round_trip_reports_peer_credentials(void **state)
{
	struct xport_listener *l;
	struct xport_conn *c, *s;
	struct errmsg e = {""};
	char addr[128], want[64];

	unix_addr(addr, sizeof(addr), "rt.sock");
	l = xport_listen(addr, NULL, &e);
	assert_non_null(l);
	assert_int_equal(xport_listener_addr(l)->kind, XPORT_UNIX);
	c = xport_connect(addr, NULL, &e);
	assert_non_null(c);
	s = xport_accept(l, &e);
	assert_non_null(s);
	exchange(c, s);
	snprintf(want, sizeof(want), "pid=%d uid=%u", (int)getpid(), (unsigned)getuid());
	assert_non_null(strstr(xport_peer_desc(s), want));
	assert_non_null(strstr(xport_peer_desc(s), addr));
	assert_non_null(strstr(xport_peer_desc(c), want));
	assert_int_equal(xport_conn_kind(s), XPORT_UNIX);
	assert_true(fcntl(xport_fd(s), F_GETFD) & FD_CLOEXEC);
	assert_int_equal(xport_pending(s), 0);
	xport_close(c);
	xport_close(s);
	xport_listener_close(l);
}

static void test_xport_unix_abstract_round_trip_makes_no_file(void **state)
{
	struct xport_listener *l;
	struct xport_conn *c, *s;
	struct errmsg e = {""};
	char addr[64];

	snprintf(addr, sizeof(addr), "unix:@splitvirt-xport-test-%d", (int)getpid());
	l = xport_listen(addr, NULL, &e);
	assert_non_null(l);
	/* a second listener on the same name is refused */
	assert_null(xport_listen(addr, NULL, &e));
	assert_int_equal(errno, EADDRINUSE);
	c = xport_connect(addr, NULL, &e);
	assert_non_null(c);
	s = xport_accept(l, &e);
	assert_non_null(s);
	exchange(c, s);
	assert_non_null(strstr(xport_peer_desc(s), "@splitvirt-xport-test-"));
	xport_close(c);
	xport_close(s);
	xport_listener_close(l);
	/* after close the name is free again */
	l = xport_listen(addr, NULL, &e);
	assert_non_null(l);
	xport_listener_close(l);
}

static void test_xport_unix_listen_replaces_only_a_stale_socket(void **state)
{
	struct xport_listener *l, *l2;
	struct errmsg e = {""};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char addr[128];
	int fd;

	unix_addr(addr, sizeof(addr), "stale.sock");
	/* a socket file nobody listens on, as a crashed daemon leaves behind */
	assert_true(strlen(addr + 5) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, addr + 5, strlen(addr + 5) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	l = xport_listen(addr, NULL, &e);
	if (!l)
		fail_msg("stale socket not replaced: %s", errmsg_str(&e));
	/* a live one is not replaced */
	l2 = xport_listen(addr, NULL, &e);
	assert_null(l2);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(strstr(errmsg_str(&e), "another process is listening"));
	assert_non_null(strstr(errmsg_str(&e), addr));
	xport_listener_close(l);
}

static void test_xport_unix_listen_never_replaces_a_regular_file(void **state)
{
	struct errmsg e = {""};
	struct stat st;
	char addr[128];
	int fd;

	unix_addr(addr, sizeof(addr), "file");
	fd = open(addr + 5, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	assert_null(xport_listen(addr, NULL, &e));
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(errmsg_str(&e), "not a socket"));
	assert_int_equal(stat(addr + 5, &st), 0);
	assert_int_equal(st.st_size, 4);
}

static void test_xport_unix_listen_applies_mode_and_close_unlinks(void **state)
{
	struct xport_opts o = {.unix_mode = 0660};
	struct xport_listener *l;
	struct errmsg e = {""};
	struct stat st;
	char addr[128];

	unix_addr(addr, sizeof(addr), "mode.sock");
	l = xport_listen(addr, NULL, &e);
	assert_non_null(l);
	assert_int_equal(stat(addr + 5, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	xport_listener_close(l);
	assert_int_equal(stat(addr + 5, &st), -1);
	assert_int_equal(errno, ENOENT);

	l = xport_listen(addr, &o, &e);
	assert_non_null(l);
	assert_int_equal(stat(addr + 5, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	xport_listener_close(l);
	assert_int_equal(stat(addr + 5, &st), -1);
}

static void test_xport_unix_connect_to_missing_socket_names_it(void **state)
{
	struct errmsg e = {""};
	char addr[128];

	unix_addr(addr, sizeof(addr), "nobody.sock");
	assert_null(xport_connect(addr, NULL, &e));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(errmsg_str(&e), addr));
}

static void test_xport_unix_connect_times_out_on_full_backlog(void **state)
{
	struct xport_opts o = {.timeout_ms = 200};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct xport_conn *c[8];
	struct errmsg e = {""};
	char addr[128];
	int fd, i, n = 0;

	/* a listener (not ours) with the smallest backlog that never accepts */
	unix_addr(addr, sizeof(addr), "full.sock");
	memcpy(sun.sun_path, addr + 5, strlen(addr + 5) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 0), 0);
	for (i = 0; i < 8; i++) {
		c[i] = xport_connect(addr, &o, &e);
		if (!c[i])
			break;
		n++;
	}
	assert_true(i < 8);
	assert_int_equal(errno, ETIMEDOUT);
	assert_non_null(strstr(errmsg_str(&e), addr));
	for (i = 0; i < n; i++)
		xport_close(c[i]);
	close(fd);
	unlink(addr + 5);
}

/* ---- SCM_RIGHTS ---- */

static void test_xport_unix_passes_a_pipe_descriptor(void **state)
{
	int sv[2], p[2], got[4];
	size_t n = 4;
	char buf[16];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(xport_unix_send_fds(sv[0], "F", 1, &p[0], 1), 1);
	close(p[0]);
	assert_int_equal(xport_unix_recv_fds(sv[1], buf, sizeof(buf), got, &n), 1);
	assert_int_equal(buf[0], 'F');
	assert_int_equal(n, 1);
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(p[1], "through", 7), 7);
	assert_int_equal(read(got[0], buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "through", 7);
	close(got[0]);
	close(p[1]);
	/* data without descriptors */
	n = 4;
	assert_int_equal(xport_unix_send_fds(sv[0], "xy", 2, NULL, 0), 2);
	assert_int_equal(xport_unix_recv_fds(sv[1], buf, sizeof(buf), got, &n), 2);
	assert_int_equal(n, 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_xport_unix_recv_fds_overflow_closes_all_and_fails(void **state)
{
	int sv[2], p[2], fds[3], got[2];
	size_t n = 2;
	char buf[4];
	int before;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	fds[0] = p[0], fds[1] = p[1], fds[2] = p[0];
	before = count_fds();
	assert_int_equal(xport_unix_send_fds(sv[0], "3", 1, fds, 3), 1);
	errno = 0;
	assert_int_equal(xport_unix_recv_fds(sv[1], buf, sizeof(buf), got, &n), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(n, 0);
	/* nothing leaked: the descriptors that arrived were closed */
	assert_int_equal(count_fds(), before);
	/* capacity 0 and a descriptor sent: refused the same way */
	n = 0;
	assert_int_equal(xport_unix_send_fds(sv[0], "1", 1, fds, 1), 1);
	assert_int_equal(xport_unix_recv_fds(sv[1], buf, sizeof(buf), NULL, &n), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(count_fds(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_xport_unix_send_fds_rejects_empty_data(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(xport_unix_send_fds(sv[0], "", 0, &sv[0], 1), -1);
	assert_int_equal(errno, EINVAL);
	close(sv[0]);
	close(sv[1]);
}

/* ---- behaviour common to plain connections ---- */

static void test_xport_accept_nb_on_unix_is_ready_and_nonblocking(void **state)
{
	struct xport_listener *l;
	struct xport_conn *c, *s;
	struct errmsg e = {""};
	char addr[128];
	short ev = -1;

	unix_addr(addr, sizeof(addr), "nbacc.sock");
	l = xport_listen(addr, NULL, &e);
	assert_non_null(l);
	c = xport_connect(addr, NULL, &e);
	assert_non_null(c);
	s = xport_accept_nb(l, &e);
	assert_non_null(s);
	assert_true(fcntl(xport_fd(s), F_GETFL) & O_NONBLOCK);
	assert_int_equal(xport_handshake_step(s, &ev, &e), 0);
	assert_int_equal(ev, 0);
	assert_int_equal(xport_handshake_ms_left(s), -1);
	assert_non_null(strstr(xport_peer_desc(s), "pid="));
	exchange(c, s);
	xport_close(c);
	xport_close(s);
	xport_listener_close(l);
}

static void test_xport_nonblocking_read_and_accept_return_eagain(void **state)
{
	struct xport_listener *l;
	struct xport_conn *c, *s;
	struct errmsg e = {""};
	char addr[128], buf[4096];
	ssize_t n;
	size_t total = 0;

	unix_addr(addr, sizeof(addr), "nb.sock");
	l = xport_listen(addr, NULL, &e);
	assert_non_null(l);
	assert_int_equal(fcntl(xport_listener_fd(l), F_SETFL, O_NONBLOCK), 0);
	assert_null(xport_accept(l, &e));
	assert_int_equal(errno, EAGAIN);
	c = xport_connect(addr, NULL, &e);
	assert_non_null(c);
	s = xport_accept(l, &e);
	assert_non_null(s);
	/* accepted connections start blocking even from a non-blocking listener */
	assert_false(fcntl(xport_fd(s), F_GETFL) & O_NONBLOCK);
	assert_int_equal(xport_set_nonblock(s, true), 0);
	assert_int_equal(xport_read(s, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(xport_write(c, "abc", 3), 3);
	assert_int_equal(xport_read(s, buf, sizeof(buf)), 3);
	/* writes fill the socket buffer, then report EAGAIN */
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(xport_set_nonblock(c, true), 0);
	for (;;) {
		n = xport_write(c, buf, sizeof(buf));
		if (n < 0)
			break;
		total += (size_t)n;
		assert_true(total < 64u << 20);
	}
	assert_int_equal(errno, EAGAIN);
	assert_true(total > 0);
	xport_close(c);
	xport_close(s);
	xport_listener_close(l);
}

static void test_xport_write_all_waits_on_nonblocking_peer(void **state)
{
	int sv[2];
	struct xport_conn *a, *b;
	static char big[1 << 20], got[1 << 20];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a = xport_conn_from_fd(sv[0], XPORT_UNIX);
	b = xport_conn_from_fd(sv[1], XPORT_UNIX);
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 13);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = xport_read_full(b, got, sizeof(got)) == 0 &&
			 memcmp(got, big, sizeof(big)) == 0;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(xport_set_nonblock(a, true), 0);
	assert_int_equal(xport_write_all(a, big, sizeof(big)), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	xport_close(a);
	xport_close(b);
}

static void test_xport_shutdown_write_gives_eof_and_read_full_epipe(void **state)
{
	int sv[2];
	struct xport_conn *a, *b;
	char buf[8];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a = xport_conn_from_fd(sv[0], XPORT_UNIX);
	b = xport_conn_from_fd(sv[1], XPORT_UNIX);
	assert_int_equal(xport_write_all(a, "ab", 2), 0);
	assert_int_equal(xport_shutdown_write(a), 0);
	assert_int_equal(xport_read_full(b, buf, 4), -EPIPE);
	assert_int_equal(xport_read(b, buf, 4), 0);
	/* the other direction still works */
	assert_int_equal(xport_write_all(b, "cd", 2), 0);
	assert_int_equal(xport_read_full(a, buf, 2), 0);
	assert_memory_equal(buf, "cd", 2);
	/* writing to a closed peer is EPIPE, not a SIGPIPE death */
	xport_close(a);
	int r = xport_write_all(b, "x", 1);
	if (r == 0)
		r = xport_write_all(b, "x", 1);
	assert_int_equal(r, -EPIPE);
	xport_close(b);
	assert_null(xport_conn_from_fd(0, XPORT_TLS));
	assert_int_equal(errno, EINVAL);
}

/* ---- tcp ---- */

static void test_xport_tcp_refused_without_test_mode(void **state)
{
	struct errmsg e = {""};

	assert_null(xport_listen("tcp:127.0.0.1:0", NULL, &e));
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(errmsg_str(&e), "test mode"));
	assert_true(strncmp(errmsg_str(&e), "tcp:127.0.0.1:0: refused: ", 26) == 0);
	assert_null(strstr(errmsg_str(&e) + 1, "tcp:127.0.0.1:0"));
	e.text[0] = '\0';
	assert_null(xport_connect("tcp:127.0.0.1:9", NULL, &e));
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(errmsg_str(&e), "test mode"));
}

static void tcp_round_trip(const char *listen_addr, const char *host, const char *desc_prefix)
{
	struct xport_opts o = {.test_mode = true};
	struct xport_listener *l;
	struct xport_conn *c, *s;
	struct errmsg e = {""};
	char addr[300];
	int nodelay = 0;
	socklen_t sl = sizeof(nodelay);

	l = xport_listen(listen_addr, &o, &e);
	if (!l)
		fail_msg("listen %s: %s", listen_addr, errmsg_str(&e));
	assert_int_not_equal(xport_listener_addr(l)->port, 0); /* the real port */
	snprintf(addr, sizeof(addr), "tcp:%s:%u", host, xport_listener_addr(l)->port);
	c = xport_connect(addr, &o, &e);
	if (!c)
		fail_msg("connect %s: %s", addr, errmsg_str(&e));
	s = xport_accept(l, &e);
	assert_non_null(s);
	exchange(c, s);
	assert_true(strncmp(xport_peer_desc(s), desc_prefix, strlen(desc_prefix)) == 0);
	assert_int_equal(getsockopt(xport_fd(c), IPPROTO_TCP, TCP_NODELAY, &nodelay, &sl), 0);
	assert_int_equal(nodelay, 1);
	assert_int_equal(getsockopt(xport_fd(s), IPPROTO_TCP, TCP_NODELAY, &nodelay, &sl), 0);
	assert_int_equal(nodelay, 1);
	xport_close(c);
	xport_close(s);
	xport_listener_close(l);
}

static void test_xport_tcp_round_trip_on_ipv4_loopback(void **state)
{
	tcp_round_trip("tcp:127.0.0.1:0", "127.0.0.1", "tcp:127.0.0.1:");
}

static void test_xport_tcp_round_trip_by_host_name(void **state)
{
	tcp_round_trip("tcp:127.0.0.1:0", "localhost", "tcp:127.0.0.1:");
}

static void test_xport_tcp_round_trip_on_ipv6_loopback(void **state)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
		if (fd >= 0)
			close(fd);
		skip(); /* no IPv6 loopback in this network namespace */
	}
	close(fd);
	tcp_round_trip("tcp:[::1]:0", "[::1]", "tcp:[::1]:");
}

static void test_xport_tcp_connect_refused_names_the_address(void **state)
{
	struct xport_opts o = {.test_mode = true};
	struct xport_listener *l;
	struct errmsg e = {""};
	char addr[64];

	/* a port that was just free */
	l = xport_listen("tcp:127.0.0.1:0", &o, &e);
	assert_non_null(l);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", xport_listener_addr(l)->port);
	xport_listener_close(l);
	assert_null(xport_connect(addr, &o, &e));
	assert_int_equal(errno, ECONNREFUSED);
	assert_non_null(strstr(errmsg_str(&e), addr));
	assert_null(xport_connect("tcp:127.0.0.1:0", &o, &e));
	assert_null(xport_connect("tcp:no-such-host.invalid:80", &o, &e));
	assert_non_null(strstr(errmsg_str(&e), "no-such-host.invalid"));
}

static void test_xport_tcp_listener_reuses_address_after_close(void **state)
{
	struct xport_opts o = {.test_mode = true};
	struct xport_listener *l;
	struct xport_conn *c, *s;
	struct errmsg e = {""};
	char addr[64];
	int one = 0;
	socklen_t sl = sizeof(one);

	l = xport_listen("tcp:127.0.0.1:0", &o, &e);
	assert_non_null(l);
	assert_int_equal(getsockopt(xport_listener_fd(l), SOL_SOCKET, SO_REUSEADDR, &one, &sl), 0);
	assert_int_equal(one, 1);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", xport_listener_addr(l)->port);
	c = xport_connect(addr, &o, &e);
	s = xport_accept(l, &e);
	assert_non_null(c);
	assert_non_null(s);
	/* the server side closes first, leaving TIME_WAIT on the listening port */
	xport_close(s);
	xport_close(c);
	xport_listener_close(l);
	l = xport_listen(addr, &o, &e);
	if (!l)
		fail_msg("relisten: %s", errmsg_str(&e));
	xport_listener_close(l);
}

/* Every failure path closes what it opened. */
static void test_xport_failures_leak_no_descriptors(void **state)
{
	struct xport_opts t = {.test_mode = true, .timeout_ms = 200};
	struct xport_opts tls = {.tls_cert = "/nonexistent.crt", .tls_key = "/k", .tls_ca = "/c"};
	struct xport_listener *l;
	struct errmsg e;
	char addr[128];
	int before = count_fds();

	for (int i = 0; i < 20; i++) {
		unix_addr(addr, sizeof(addr), "none/x.sock");
		assert_null(xport_listen(addr, NULL, &e));
		assert_null(xport_connect(addr, NULL, &e));
		assert_null(xport_listen("tcp:127.0.0.1:0", NULL, &e));
		assert_null(xport_connect("tcp:127.0.0.1:1", &t, &e));
		assert_null(xport_listen("tls:127.0.0.1:0", &tls, &e));
		assert_null(xport_connect("tls:127.0.0.1:1", &tls, &e));
		assert_null(xport_listen("vsock:any:77", NULL, &e));
		assert_null(xport_listen("bogus", NULL, &e));
		/* a port in use */
		l = xport_listen("tcp:127.0.0.1:0", &t, &e);
		assert_non_null(l);
		snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", xport_listener_addr(l)->port);
		assert_null(xport_listen(addr, &t, &e));
		assert_int_equal(errno, EADDRINUSE);
		xport_listener_close(l);
	}
	assert_int_equal(count_fds(), before);
}

/* ---- vsock ---- */

static void test_xport_vsock_cid_allowlist(void **state)
{
	const uint32_t cids[] = {2, 3, 77};
	struct xport_opts o = {.vsock_cids = cids, .n_vsock_cids = 3};
	struct xport_opts none = {0};

	assert_true(xport_vsock_cid_allowed(&o, 3));
	assert_true(xport_vsock_cid_allowed(&o, 77));
	assert_false(xport_vsock_cid_allowed(&o, 4));
	assert_false(xport_vsock_cid_allowed(&o, 0xffffffffu));
	assert_false(xport_vsock_cid_allowed(&none, 3));
	assert_false(xport_vsock_cid_allowed(NULL, 3));
}

static void test_xport_vsock_listener_without_allowlist_is_refused(void **state)
{
	struct xport_opts o = {0};
	struct errmsg e = {""};

	assert_null(xport_listen("vsock:any:5555", &o, &e));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "allowlist"));
	assert_null(xport_listen("vsock:any:5555", NULL, &e));
}

static void test_xport_vsock_connect_to_cid_outside_list_is_refused(void **state)
{
	const uint32_t cids[] = {3};
	struct xport_opts o = {.vsock_cids = cids, .n_vsock_cids = 1, .timeout_ms = 500};
	struct errmsg e = {""};

	assert_null(xport_connect("vsock:4:5000", &o, &e));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(errmsg_str(&e), "vsock:4:5000"));
}

/*
 * There is no vsock loopback here, so the accept-side check is driven directly
 * with the sockaddr_vm accept4() would return.
 */
static void test_xport_vsock_accept_check_refuses_unlisted_cid_with_log_line(void **state)
{
	uint32_t cids[] = {3, 9};
	struct xport_listener l = {
		.addr = {.kind = XPORT_VSOCK, .cid = VMADDR_CID_ANY, .port = 1024},
		.fd = -1,
		.vsock_cids = cids,
		.n_vsock_cids = 2};
	struct sockaddr_vm svm = {.svm_family = AF_VSOCK, .svm_cid = 9, .svm_port = 5};
	struct errmsg e = {""};
	char logpath[128], *text;
	size_t len;

	assert_int_equal(xport_vsock_check_peer(&l, (struct sockaddr *)&svm, sizeof(svm), &e), 0);
	snprintf(logpath, sizeof(logpath), "%s/vsock.log", tmpdir);
	assert_int_equal(log_init("xport_test", logpath, LOG_LVL_INFO), 0);
	svm.svm_cid = 4;
	assert_int_equal(xport_vsock_check_peer(&l, (struct sockaddr *)&svm, sizeof(svm), &e),
			 -EACCES);
	/* a non-vsock address is refused too */
	svm.svm_family = AF_INET;
	assert_int_equal(xport_vsock_check_peer(&l, (struct sockaddr *)&svm, sizeof(svm), &e),
			 -EACCES);
	log_close();
	assert_int_equal(read_file(logpath, 65536, &text, &len), 0);
	assert_non_null(strstr(text, "refused connection from CID 4"));
	free(text);
}

static void test_xport_vsock_real_listen_when_kernel_has_vsock(void **state)
{
	const uint32_t cids[] = {3};
	struct xport_opts o = {.vsock_cids = cids, .n_vsock_cids = 1};
	struct xport_listener *l;
	struct errmsg e = {""};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0) {
		print_message("SKIP: no AF_VSOCK in this kernel: %s\n", strerror(errno));
		skip();
	}
	close(fd);
	l = xport_listen("vsock:any:0", &o, &e);
	if (!l && (errno == EADDRNOTAVAIL || errno == ENODEV || errno == EAFNOSUPPORT)) {
		print_message("SKIP: vsock listen unsupported here: %s\n", errmsg_str(&e));
		skip();
	}
	if (!l)
		fail_msg("vsock listen: %s", errmsg_str(&e));
	assert_true(xport_listener_fd(l) >= 0);
	assert_int_equal(xport_listener_addr(l)->kind, XPORT_VSOCK);
	assert_int_equal(fcntl(xport_listener_fd(l), F_SETFL, O_NONBLOCK), 0);
	assert_null(xport_accept(l, &e));
	assert_int_equal(errno, EAGAIN);
	xport_listener_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xport_addr_parse_accepts_each_kind_and_formats_back),
		cmocka_unit_test(test_xport_addr_parse_rejects_hostile_strings),
		cmocka_unit_test(test_xport_addr_format_reports_small_buffer),
		cmocka_unit_test(test_xport_unix_round_trip_reports_peer_credentials),
		cmocka_unit_test(test_xport_unix_abstract_round_trip_makes_no_file),
		cmocka_unit_test(test_xport_unix_listen_replaces_only_a_stale_socket),
		cmocka_unit_test(test_xport_unix_listen_never_replaces_a_regular_file),
		cmocka_unit_test(test_xport_unix_listen_applies_mode_and_close_unlinks),
		cmocka_unit_test(test_xport_unix_connect_to_missing_socket_names_it),
		cmocka_unit_test(test_xport_unix_connect_times_out_on_full_backlog),
		cmocka_unit_test(test_xport_unix_passes_a_pipe_descriptor),
		cmocka_unit_test(test_xport_unix_recv_fds_overflow_closes_all_and_fails),
		cmocka_unit_test(test_xport_unix_send_fds_rejects_empty_data),
		cmocka_unit_test(test_xport_accept_nb_on_unix_is_ready_and_nonblocking),
		cmocka_unit_test(test_xport_nonblocking_read_and_accept_return_eagain),
		cmocka_unit_test(test_xport_write_all_waits_on_nonblocking_peer),
		cmocka_unit_test(test_xport_shutdown_write_gives_eof_and_read_full_epipe),
		cmocka_unit_test(test_xport_tcp_refused_without_test_mode),
		cmocka_unit_test(test_xport_tcp_round_trip_on_ipv4_loopback),
		cmocka_unit_test(test_xport_tcp_round_trip_by_host_name),
		cmocka_unit_test(test_xport_tcp_round_trip_on_ipv6_loopback),
		cmocka_unit_test(test_xport_tcp_connect_refused_names_the_address),
		cmocka_unit_test(test_xport_tcp_listener_reuses_address_after_close),
		cmocka_unit_test(test_xport_failures_leak_no_descriptors),
		cmocka_unit_test(test_xport_vsock_cid_allowlist),
		cmocka_unit_test(test_xport_vsock_listener_without_allowlist_is_refused),
		cmocka_unit_test(test_xport_vsock_connect_to_cid_outside_list_is_refused),
		cmocka_unit_test(test_xport_vsock_accept_check_refuses_unlisted_cid_with_log_line),
		cmocka_unit_test(test_xport_vsock_real_listen_when_kernel_has_vsock),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
