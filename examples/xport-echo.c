/*
 * xport-echo: the smallest program using lib/xport and lib/wire. The server echoes
 * every frame of each connection after a HELLO handshake; the client sends one
 * message and exits 0 only if the echo matches.
 *
 *   xport-echo server ADDR [--cert C --key K --ca CA] [--test-mode] [--once]
 *   xport-echo client ADDR MESSAGE [--cert C --key K --ca CA] [--test-mode]
 *                     [--repeat N] [--size BYTES]   (N round trips of BYTES, timed)
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"
#include "xport.h"

#define ECHO_PROTO	 "xport-echo"
#define ECHO_VERSION	 1
#define ROLE_CLIENT	 1
#define ROLE_SERVER	 2
#define ECHO_MAX_PAYLOAD (1 << 20)
#define ECHO_T_DATA	 WIRE_T_PROTO_FIRST

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xport-echo server ADDR [--cert C --key K --ca CA] [--test-mode] [--once]\n"
		"       xport-echo client ADDR MESSAGE [--cert C --key K --ca CA] [--test-mode]\n"
		"                 [--repeat N] [--size BYTES]\n"
		"ADDR is unix:/path, unix:@name, tcp:HOST:PORT (needs --test-mode),\n"
		"tls:HOST:PORT (needs --cert, --key and --ca) or vsock:CID:PORT.\n");
}

static struct wire_hello echo_hello(uint8_t role)
{
	struct wire_hello h = {
		.proto = ECHO_PROTO,
		.version = ECHO_VERSION,
		.role = role,
		.max_payload = ECHO_MAX_PAYLOAD,
	};
	return h;
}

/* Serves one connection: handshake, then every frame back as it came. */
static void serve(struct xport_conn *c, int timeout_ms)
{
	struct wire_hello mine = echo_hello(ROLE_SERVER), peer;
	struct errmsg e = {""};
	struct wire_frame f;
	unsigned long frames = 0;
	int ret;

	ret = wire_handshake(c, &mine, ROLE_CLIENT, &peer, timeout_ms, &e);
	if (ret) {
		log_warn("%s: %s", xport_peer_desc(c), errmsg_str(&e));
		return;
	}
	for (;;) {
		ret = wire_recv(c, ECHO_MAX_PAYLOAD, &f);
		if (ret)
			break;
		if (f.h.type == WIRE_T_PING)
			ret = wire_send(c, WIRE_T_PONG, f.h.stream, f.h.request, f.payload,
					f.h.length);
		else
			ret = wire_send(c, f.h.type, f.h.stream, f.h.request, f.payload,
					f.h.length);
		wire_frame_free(&f);
		if (ret)
			break;
		frames++;
	}
	if (ret == -EPIPE)
		log_info("%s: closed after %lu frame(s)", xport_peer_desc(c), frames);
	else
		log_warn("%s: dropped after %lu frame(s): %s", xport_peer_desc(c), frames,
			 wire_strerror(ret));
}

struct conn_job {
	struct xport_conn *c;
	int timeout_ms;
};

static void *conn_thread(void *arg)
{
	struct conn_job *j = arg;

	serve(j->c, j->timeout_ms);
	xport_close(j->c);
	free(j);
	return NULL;
}

static int run_server(const char *addr, const struct xport_opts *o, bool once)
{
	struct xport_listener *l;
	struct errmsg e = {""};
	char real[300];

	l = xport_listen(addr, o, &e);
	if (!l) {
		fprintf(stderr, "xport-echo: %s\n", errmsg_str(&e));
		return 1;
	}
	if (xport_addr_format(xport_listener_addr(l), real, sizeof(real)))
		snprintf(real, sizeof(real), "%s", addr);
	printf("xport-echo: listening on %s\n", real);
	fflush(stdout);
	for (;;) {
		struct xport_conn *c = xport_accept(l, &e);
		struct conn_job *j;
		pthread_attr_t attr;
		pthread_t t;

		if (!c) {
			/* A refused or broken peer costs only its own connection. */
			log_warn("%s", errmsg_str(&e));
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				usleep(100 * 1000);
			continue;
		}
		log_info("%s: connected", xport_peer_desc(c));
		if (once) {
			serve(c, o->timeout_ms);
			xport_close(c);
			break;
		}
		j = malloc(sizeof(*j));
		if (!j || pthread_attr_init(&attr)) {
			log_error("%s: out of memory", xport_peer_desc(c));
			free(j);
			xport_close(c);
			continue;
		}
		j->c = c;
		j->timeout_ms = o->timeout_ms;
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, conn_thread, j)) {
			log_error("%s: cannot start a thread", xport_peer_desc(c));
			xport_close(c);
			free(j);
		}
		pthread_attr_destroy(&attr);
	}
	xport_listener_close(l);
	return 0;
}

struct client_args {
	const char *msg;
	unsigned long repeat; /* round trips (1 unless --repeat) */
	size_t size;	      /* payload bytes: 0 sends MESSAGE as is, else MESSAGE repeated */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One round trip: send the payload, read the echo, compare. 0, or 1 after a message. */
static int round_trip(struct xport_conn *c, const uint8_t *p, size_t len, uint32_t req)
{
	struct wire_frame f = {0};
	int ret;

	ret = wire_send(c, ECHO_T_DATA, 1, req, p, len);
	if (!ret)
		ret = wire_recv(c, ECHO_MAX_PAYLOAD, &f);
	if (ret) {
		fprintf(stderr, "xport-echo: %s: %s\n", xport_peer_desc(c), wire_strerror(ret));
		return 1;
	}
	ret = f.h.type != ECHO_T_DATA || f.h.stream != 1 || f.h.request != req ||
	      f.h.length != len || (len && memcmp(f.payload, p, len) != 0);
	wire_frame_free(&f);
	if (ret)
		fprintf(stderr, "xport-echo: %s: the echo differs from what was sent\n",
			xport_peer_desc(c));
	return ret;
}

static int run_client(const char *addr, const struct client_args *a, const struct xport_opts *o)
{
	struct wire_hello mine = echo_hello(ROLE_CLIENT), peer;
	struct errmsg e = {""};
	struct xport_conn *c;
	size_t mlen = strlen(a->msg), len = a->size ? a->size : mlen;
	uint8_t *p;
	uint64_t t0, ns;
	int status = 1;

	if (len > ECHO_MAX_PAYLOAD) {
		fprintf(stderr, "xport-echo: MESSAGE: longer than %d bytes\n", ECHO_MAX_PAYLOAD);
		return 2;
	}
	p = malloc(len ? len : 1);
	if (!p) {
		fprintf(stderr, "xport-echo: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = mlen ? (uint8_t)a->msg[i % mlen] : 'x';
	c = xport_connect(addr, o, &e);
	if (!c) {
		fprintf(stderr, "xport-echo: %s\n", errmsg_str(&e));
		goto out_free;
	}
	if (wire_handshake(c, &mine, ROLE_SERVER, &peer, o->timeout_ms, &e)) {
		fprintf(stderr, "xport-echo: %s: %s\n", xport_peer_desc(c), errmsg_str(&e));
		goto out;
	}
	t0 = mono_ns();
	for (unsigned long i = 0; i < a->repeat; i++)
		if (round_trip(c, p, len, (uint32_t)(42 + i)))
			goto out;
	ns = mono_ns() - t0;
	if (a->size)
		printf("reply from %s: %zu bytes\n", xport_peer_desc(c), len);
	else
		printf("reply from %s: %.*s\n", xport_peer_desc(c), (int)len, a->msg);
	if (a->repeat > 1)
		printf("%lu round trips of %zu bytes in %.1f ms: %.0f/s, %.1f MiB/s each way\n",
		       a->repeat, len, ns / 1e6, a->repeat / (ns / 1e9),
		       (double)len * a->repeat / (ns / 1e9) / (1 << 20));
	status = 0;
out:
	xport_close(c);
out_free:
	free(p);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cert", required_argument, NULL, 'c'},	  {"key", required_argument, NULL, 'k'},
		{"ca", required_argument, NULL, 'a'},	  {"test-mode", no_argument, NULL, 't'},
		{"once", no_argument, NULL, 'o'},	  {"timeout", required_argument, NULL, 'T'},
		{"repeat", required_argument, NULL, 'R'}, {"size", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	struct xport_opts o = {.timeout_ms = 10000};
	struct client_args ca = {.repeat = 1};
	bool once = false;
	const char *mode, *addr;
	char *end;
	long v;
	int opt;

	log_init("xport-echo", NULL, LOG_LVL_INFO);
	/* Peers that vanish must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.tls_cert = optarg;
			break;
		case 'k':
			o.tls_key = optarg;
			break;
		case 'a':
			o.tls_ca = optarg;
			break;
		case 't':
			o.test_mode = true;
			break;
		case 'o':
			once = true;
			break;
		case 'T':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 3600000) {
				fprintf(stderr, "xport-echo: --timeout: '%s' is not 1-3600000 ms\n",
					optarg);
				return 2;
			}
			o.timeout_ms = (int)v;
			break;
		case 'R':
		case 'S':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < (opt == 'R') ||
			    v > (opt == 'R' ? 100000000 : ECHO_MAX_PAYLOAD)) {
				fprintf(stderr, "xport-echo: --%s: '%s' is out of range\n",
					opt == 'R' ? "repeat" : "size", optarg);
				return 2;
			}
			if (opt == 'R')
				ca.repeat = (unsigned long)v;
			else
				ca.size = (size_t)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[optind];
	addr = argv[optind + 1];
	if (strcmp(mode, "server") == 0 && argc - optind == 2)
		return run_server(addr, &o, once);
	if (strcmp(mode, "client") == 0 && argc - optind == 3) {
		ca.msg = argv[optind + 2];
		return run_client(addr, &ca, &o);
	}
	usage(stderr);
	return 2;
}
