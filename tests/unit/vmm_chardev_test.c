/* Unit tests for vmm/chardev: file output, unix socket server (reconnect, no-client drop),
 * pty (path, both directions, non-blocking output), stdio raw mode and its restore, and
 * input flow control through can_read/chardev_input_ready. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"
#include "vmm/chardev.h"

struct sink {
	uint8_t buf[65536];
	size_t len;
	size_t room; /* what can_read reports */
};

static size_t sink_can_read(void *o)
{
	struct sink *s = o;

	return s->room;
}

static void sink_read(void *o, const uint8_t *buf, size_t len)
{
	struct sink *s = o;

	assert_true(len <= s->room);
	assert_true(s->len + len <= sizeof(s->buf));
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	s->room -= len;
}

struct fixture {
	struct loop *l;
	char dir[64];
	struct sink sink;
	struct chardev_frontend fe;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->l = loop_new();
	assert_non_null(f->l);
	strcpy(f->dir, "/tmp/chardev_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->sink.room = sizeof(f->sink.buf);
	f->fe = (struct chardev_frontend){sink_can_read, sink_read, &f->sink};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	loop_free(f->l);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Runs the loop until the sink holds want bytes or 2 s pass. */
static void pump_until(struct fixture *f, size_t want)
{
	uint64_t end = now_ms() + 2000;

	while (f->sink.len < want && now_ms() < end)
		loop_run_once(f->l, 10);
}

static void pump(struct fixture *f, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (now_ms() < end)
		loop_run_once(f->l, 5);
}

static struct chardev *open_cd(struct fixture *f, enum vm_chardev_backend b, const char *path)
{
	struct vm_chardev_config cfg = {
		.id = "c0", .backend = b, .path = (char *)path, .server = true, .nowait = true};
	struct errmsg e;
	struct chardev *c = chardev_open(f->l, &cfg, &e);

	if (!c)
		fail_msg("chardev_open: %s", errmsg_str(&e));
	return c;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static ssize_t read_timeout(int fd, void *buf, size_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	return read(fd, buf, len);
}

static void test_chardev_file_appends_output(void **state)
{
	struct fixture *f = *state;
	char path[128], *data;
	size_t len;
	struct chardev *c;
	struct stat st;

	snprintf(path, sizeof(path), "%s/serial.log", f->dir);
	c = open_cd(f, VM_CHARDEV_FILE, path);
	assert_int_equal(chardev_write(c, "hello ", 6), 6);
	assert_int_equal(chardev_write(c, "world\n", 6), 6);
	assert_true(chardev_connected(c));
	assert_null(chardev_pty_path(c));
	assert_string_equal(chardev_id(c), "c0");
	chardev_close(c);
	assert_int_equal(read_file(path, 1024, &data, &len), 0);
	assert_string_equal(data, "hello world\n");
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_chardev_file_in_missing_directory_is_refused(void **state)
{
	struct fixture *f = *state;
	struct vm_chardev_config cfg = {
		.id = "ser", .backend = VM_CHARDEV_FILE, .path = "/nonexistent/dir/out"};
	struct errmsg e;

	assert_null(chardev_open(f->l, &cfg, &e));
	assert_string_equal(errmsg_str(&e),
			    "chardev ser: /nonexistent/dir/out: No such file or directory");
}

static void test_chardev_socket_passes_bytes_both_ways_and_accepts_a_new_client(void **state)
{
	struct fixture *f = *state;
	char path[128], buf[64];
	struct chardev *c;
	int fd;

	snprintf(path, sizeof(path), "%s/con.sock", f->dir);
	c = open_cd(f, VM_CHARDEV_SOCKET, path);
	chardev_set_frontend(c, &f->fe);
	/* no client yet: output is dropped, never blocks */
	assert_false(chardev_connected(c));
	assert_int_equal(chardev_write(c, "lost", 4), 0);

	fd = connect_unix(path);
	pump(f, 20);
	assert_true(chardev_connected(c));
	assert_int_equal(write_full(fd, "ping", 4), 0);
	pump_until(f, 4);
	assert_int_equal(f->sink.len, 4);
	assert_memory_equal(f->sink.buf, "ping", 4);
	assert_int_equal(chardev_write(c, "pong", 4), 4);
	assert_int_equal(read_timeout(fd, buf, sizeof(buf), 1000), 4);
	assert_memory_equal(buf, "pong", 4);
	close(fd);
	pump(f, 20);
	assert_false(chardev_connected(c));

	/* a second client is served the same way */
	fd = connect_unix(path);
	pump(f, 20);
	assert_int_equal(write_full(fd, "again", 5), 0);
	pump_until(f, 9);
	assert_memory_equal(f->sink.buf + 4, "again", 5);
	assert_int_equal(chardev_write(c, "ok", 2), 2);
	assert_int_equal(read_timeout(fd, buf, sizeof(buf), 1000), 2);
	close(fd);
	pump(f, 20);
	chardev_close(c);
	assert_int_equal(access(path, F_OK), -1); /* socket file removed */
}

static void test_chardev_socket_serves_one_client_at_a_time(void **state)
{
	struct fixture *f = *state;
	char path[128], buf[16];
	struct chardev *c;
	int a, b;

	snprintf(path, sizeof(path), "%s/one.sock", f->dir);
	c = open_cd(f, VM_CHARDEV_SOCKET, path);
	chardev_set_frontend(c, &f->fe);
	a = connect_unix(path);
	pump(f, 20);
	b = connect_unix(path); /* waits in the backlog */
	pump(f, 20);
	assert_int_equal(write_full(b, "B", 1), 0);
	assert_int_equal(write_full(a, "A", 1), 0);
	pump_until(f, 1);
	pump(f, 20);
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.buf[0], 'A');
	close(a);
	pump_until(f, 2);
	assert_int_equal(f->sink.len, 2);
	assert_int_equal(f->sink.buf[1], 'B');
	assert_int_equal(chardev_write(c, "b", 1), 1);
	assert_int_equal(read_timeout(b, buf, sizeof(buf), 1000), 1);
	close(b);
	chardev_close(c);
}

static void test_chardev_socket_refuses_a_live_path(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct chardev *c;
	struct vm_chardev_config cfg = {.id = "c1", .backend = VM_CHARDEV_SOCKET, .path = path};
	struct errmsg e;

	snprintf(path, sizeof(path), "%s/live.sock", f->dir);
	c = open_cd(f, VM_CHARDEV_SOCKET, path);
	assert_null(chardev_open(f->l, &cfg, &e));
	assert_non_null(strstr(errmsg_str(&e), "another process is listening on it"));
	chardev_close(c);
	/* now stale-free: the path is gone, and opening works again */
	c = open_cd(f, VM_CHARDEV_SOCKET, path);
	chardev_close(c);
}

struct kicker {
	struct chardev *c;
	struct sink *sink;
};

static void *kick_thread(void *arg)
{
	struct kicker *k = arg;

	usleep(20000);
	k->sink->room = 3;
	chardev_input_ready(k->c); /* from a non-loop thread, like a vCPU */
	return NULL;
}

static void test_chardev_input_waits_for_frontend_room(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct chardev *c;
	struct kicker k;
	pthread_t t;
	int fd;

	snprintf(path, sizeof(path), "%s/fc.sock", f->dir);
	c = open_cd(f, VM_CHARDEV_SOCKET, path);
	f->sink.room = 2;
	chardev_set_frontend(c, &f->fe);
	fd = connect_unix(path);
	pump(f, 20);
	assert_int_equal(write_full(fd, "abcdefg", 7), 0);
	pump(f, 50);
	/* only what the frontend said it could take */
	assert_int_equal(f->sink.len, 2);
	pump(f, 50);
	assert_int_equal(f->sink.len, 2);
	k.c = c;
	k.sink = &f->sink;
	assert_int_equal(pthread_create(&t, NULL, kick_thread, &k), 0);
	pump_until(f, 5);
	pthread_join(t, NULL);
	assert_int_equal(f->sink.len, 5);
	assert_memory_equal(f->sink.buf, "abcde", 5);
	f->sink.room = 100;
	chardev_input_ready(c);
	pump_until(f, 7);
	assert_memory_equal(f->sink.buf, "abcdefg", 7);
	close(fd);
	chardev_close(c);
}

static void test_chardev_pty_prints_its_path_and_passes_bytes(void **state)
{
	struct fixture *f = *state;
	struct chardev *c = open_cd(f, VM_CHARDEV_PTY, NULL);
	const char *p = chardev_pty_path(c);
	char buf[64];
	int s;
	struct termios t;

	assert_non_null(p);
	assert_true(str_has_prefix(p, "/dev/pts/"));
	chardev_set_frontend(c, &f->fe);
	s = open(p, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(s >= 0);
	/* the line is raw: bytes are not echoed or cooked */
	assert_int_equal(tcgetattr(s, &t), 0);
	assert_int_equal(t.c_lflag & (ICANON | ECHO), 0);
	assert_int_equal(write_full(s, "key\r", 4), 0);
	pump_until(f, 4);
	assert_memory_equal(f->sink.buf, "key\r", 4);
	assert_int_equal(chardev_write(c, "out\n", 4), 4);
	assert_int_equal(read_timeout(s, buf, sizeof(buf), 1000), 4);
	assert_memory_equal(buf, "out\n", 4);
	close(s);
	chardev_close(c);
}

static void test_chardev_pty_output_without_reader_never_blocks(void **state)
{
	struct fixture *f = *state;
	struct chardev *c = open_cd(f, VM_CHARDEV_PTY, NULL);
	char block[4096];
	size_t total = 0;
	uint64_t start = now_ms();
	int i;

	memset(block, 'x', sizeof(block));
	for (i = 0; i < 256; i++) {
		ssize_t n = chardev_write(c, block, sizeof(block));

		assert_true(n >= 0);
		total += (size_t)n;
	}
	/* 1 MiB offered, the pty buffer took a bounded part, and nothing waited for a reader */
	assert_true(total < 256u * sizeof(block));
	assert_true(now_ms() - start < 5000);
	chardev_close(c);
}

static void test_chardev_stdio_is_raw_and_restored(void **state)
{
	struct fixture *f = *state;
	int m, s, save_in, save_out;
	char name[64], buf[16];
	struct termios t;
	struct chardev *c;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_int_equal(ptsname_r(m, name, sizeof(name)), 0);
	s = open(name, O_RDWR | O_NOCTTY);
	assert_true(s >= 0);
	assert_int_equal(tcgetattr(s, &t), 0);
	assert_true(t.c_lflag & ICANON); /* a fresh pty is cooked */
	save_in = dup(0);
	save_out = dup(1);
	fflush(stdout);
	dup2(s, 0);
	dup2(s, 1);

	c = open_cd(f, VM_CHARDEV_STDIO, NULL);
	tcgetattr(0, &t);
	bool raw = !(t.c_lflag & (ICANON | ECHO));
	chardev_set_frontend(c, &f->fe);
	bool wrote = write_full(m, "q", 1) == 0;
	pump_until(f, 1);
	bool out_ok = chardev_write(c, "Z", 1) == 1;
	/* a signal handler's restore works while the chardev is open */
	chardev_restore_tty();
	tcgetattr(0, &t);
	bool restored_by_handler = t.c_lflag & ICANON;
	chardev_close(c);
	tcgetattr(0, &t);
	bool restored = t.c_lflag & ICANON;

	dup2(save_in, 0);
	dup2(save_out, 1);
	close(save_in);
	close(save_out);
	assert_true(raw);
	assert_true(wrote);
	assert_int_equal(f->sink.len, 1);
	assert_int_equal(f->sink.buf[0], 'q');
	assert_true(out_ok);
	assert_int_equal(read_timeout(m, buf, sizeof(buf), 1000), 1);
	assert_int_equal(buf[0], 'Z');
	assert_true(restored_by_handler);
	assert_true(restored);
	close(s);
	close(m);
}

static void test_chardev_stdio_without_tty_input_still_writes(void **state)
{
	struct fixture *f = *state;
	int devnull = open("/dev/null", O_RDONLY), p[2], save_in, save_out;
	struct chardev *c;
	char buf[8];

	assert_true(devnull >= 0);
	assert_int_equal(pipe(p), 0);
	save_in = dup(0);
	save_out = dup(1);
	fflush(stdout);
	dup2(devnull, 0);
	dup2(p[1], 1);
	c = open_cd(f, VM_CHARDEV_STDIO, NULL);
	chardev_set_frontend(c, &f->fe);
	pump(f, 20);
	ssize_t n = chardev_write(c, "ok", 2);
	chardev_close(c);
	dup2(save_in, 0);
	dup2(save_out, 1);
	close(save_in);
	close(save_out);
	assert_int_equal(n, 2);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
	assert_int_equal(f->sink.len, 0);
	close(p[0]);
	close(p[1]);
	close(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chardev_file_appends_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chardev_file_in_missing_directory_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_chardev_socket_passes_bytes_both_ways_and_accepts_a_new_client, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_chardev_socket_serves_one_client_at_a_time,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_chardev_socket_refuses_a_live_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chardev_input_waits_for_frontend_room, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chardev_pty_prints_its_path_and_passes_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_chardev_pty_output_without_reader_never_blocks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_chardev_stdio_is_raw_and_restored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chardev_stdio_without_tty_input_still_writes,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
