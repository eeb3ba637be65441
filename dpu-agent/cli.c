/*
 * splitvirt: the command-line client of splitvirt-dpud, with virsh's verbs,
 * output and exit codes (0 success, 1 failure), --json for scripts and
 * -c ADDR for a remote dpud.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli_fmt.h"
#include "domain.h"
#include "rpc.h"
#include "util.h"
#include "xport.h"

#define CONSOLE_ESCAPE 0x1d /* ^] */

struct cli {
	const char *addr;
	bool json;
	bool test_mode;
	struct xport_conn *c;
	struct rpc_lines lines;
	int next_id;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: splitvirt [-c ADDR] [--json] [--test-mode] COMMAND [ARGS]\n"
		"  list [--all] [--name]      domains (running ones, or all)\n"
		"  dominfo NAME               basic information\n"
		"  domstate NAME [--reason]   state\n"
		"  dumpxml NAME               the domain XML\n"
		"  define FILE                define (or update) a domain from XML ('-': stdin)\n"
		"  undefine NAME              remove an inactive domain's definition\n"
		"  start NAME | shutdown NAME | destroy NAME | reboot NAME\n"
		"  suspend NAME | resume NAME\n"
		"  autostart NAME [--disable] mark (or unmark) for start with dpud\n"
		"  console NAME               the serial console; ^] leaves\n"
		"  version\n"
		"  -c, --connect ADDR         dpud address (default unix:" RPC_SOCKET
		"; tls:HOST:PORT with\n"
		"                             SPLITVIRT_TLS_CERT/KEY/CA)\n");
}

static void die_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void die_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (cli->c)
		xport_close(cli->c);
	exit(1);
}

static const char *env_or(const char *var, const char *def)
{
	const char *v = getenv(var);

	if (v && v[0])
		return v;
	return access(def, R_OK) == 0 ? def : NULL;
}

static void cli_connect(struct cli *cli)
{
	struct xport_opts o = {.test_mode = cli->test_mode};
	struct errmsg e = {{0}};

	o.tls_cert = env_or("SPLITVIRT_TLS_CERT", "/etc/splitvirt/tls/client.crt");
	o.tls_key = env_or("SPLITVIRT_TLS_KEY", "/etc/splitvirt/tls/client.key");
	o.tls_ca = env_or("SPLITVIRT_TLS_CA", "/etc/splitvirt/tls/ca.crt");
	cli->c = xport_connect(cli->addr, &o, &e);
	if (!cli->c)
		die_error(cli, "failed to connect to the daemon: %s", errmsg_str(&e));
}

/* Sends one request and returns its result (owned), or exits with the error. */
static json_object *call(struct cli *cli, const char *method, json_object *params)
{
	char *line, *p, *resp;
	json_object *result;
	struct errmsg e = {{0}};
	size_t len;
	int r, code;

	/* Connect first: a failed connect exits, and nothing may be held then. */
	if (!cli->c)
		cli_connect(cli);
	line = rpc_request_line(++cli->next_id, method, params);
	if (!line)
		die_error(cli, "out of memory");
	r = xport_write_all(cli->c, line, strlen(line));
	free(line);
	if (r)
		die_error(cli, "cannot send to the daemon: %s", strerror(-r));
	for (;;) {
		ssize_t n;

		r = rpc_lines_next(&cli->lines, &resp, &len);
		if (r < 0)
			die_error(cli, "daemon reply too long");
		if (r > 0)
			break;
		if (rpc_lines_space(&cli->lines, 65536, &p))
			die_error(cli, "out of memory");
		n = xport_read(cli->c, p, 65536);
		if (n < 0)
			die_error(cli, "cannot read from the daemon: %s", strerror(errno));
		if (n == 0)
			die_error(cli, "the daemon closed the connection");
		rpc_lines_commit(&cli->lines, (size_t)n);
	}
	r = rpc_parse_response(resp, len, &result, &code, &e);
	if (r)
		die_error(cli, "%s", errmsg_str(&e));
	return result;
}

static json_object *name_params(const char *name)
{
	json_object *p = json_object_new_object();

	json_object_object_add(p, "name", json_object_new_string(name));
	return p;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o ? o : json_object_new_object(),
						      JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int read_input(const char *file, char **out, size_t *len)
{
	if (strcmp(file, "-") != 0)
		return read_file(file, DOM_XML_MAX, out, len);
	/* stdin */
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;

		if (n == cap) {
			if (cap >= DOM_XML_MAX) {
				free(buf);
				return -EFBIG;
			}
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(0, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			free(buf);
			return -errno;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static struct termios saved_tio;
static bool tio_saved;

static void restore_tty(void)
{
	if (tio_saved)
		tcsetattr(0, TCSAFLUSH, &saved_tio);
}

static int console(struct cli *cli, const char *name)
{
	json_object *r = call(cli, "console", name_params(name));
	bool tty = isatty(0), in_open = true;
	char buf[16384];

	json_object_put(r);
	fprintf(stderr, "Connected to domain '%s'\nEscape character is ^] (Ctrl + ])\n", name);
	if (tty && tcgetattr(0, &saved_tio) == 0) {
		struct termios raw = saved_tio;

		tio_saved = true;
		atexit(restore_tty);
		cfmakeraw(&raw);
		tcsetattr(0, TCSAFLUSH, &raw);
	}
	/* Bytes that followed the reply belong to the console. */
	{
		char *rest = cli->lines.buf ? cli->lines.buf + cli->lines.start : NULL;
		size_t n = cli->lines.len - cli->lines.start;

		if (rest && n && write_full(1, rest, n))
			return 1;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = xport_fd(cli->c), .events = POLLIN},
				      {.fd = in_open ? 0 : -1, .events = POLLIN}};
		ssize_t n;

		if (!xport_pending(cli->c) && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (xport_pending(cli->c) || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = xport_read(cli->c, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (write_full(1, buf, (size_t)n))
				break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				/* Input ended: keep showing output until the far end closes. */
				in_open = false;
				continue;
			}
			char *esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);
			if (esc) {
				if (esc > buf)
					xport_write_all(cli->c, buf, (size_t)(esc - buf));
				break;
			}
			if (xport_write_all(cli->c, buf, (size_t)n))
				break;
		}
	}
	restore_tty();
	tio_saved = false;
	if (tty)
		fprintf(stderr, "\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = {.addr = "unix:" RPC_SOCKET};
	const char *verb, *name = NULL;
	json_object *res, *p;
	int i = 1;

	signal(SIGPIPE, SIG_IGN);
	rpc_lines_init(&cli.lines);
	if (getenv("SPLITVIRT_DEFAULT_URI") && getenv("SPLITVIRT_DEFAULT_URI")[0])
		cli.addr = getenv("SPLITVIRT_DEFAULT_URI");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--connect") == 0) &&
		    i + 1 < argc)
			cli.addr = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			cli.json = true;
		else if (strcmp(argv[i], "--test-mode") == 0)
			cli.test_mode = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 1;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	verb = argv[i++];

	/* Verb options may come anywhere after the verb, as with virsh. */
	bool all = false, name_only = false, reason = false, disable = false;
	const char *pos[2] = {NULL, NULL};
	size_t npos = 0;

	for (; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0 && strcmp(verb, "list") == 0)
			all = true;
		else if (strcmp(argv[i], "--name") == 0 && strcmp(verb, "list") == 0)
			name_only = true;
		else if (strcmp(argv[i], "--reason") == 0 && strcmp(verb, "domstate") == 0)
			reason = true;
		else if (strcmp(argv[i], "--disable") == 0 && strcmp(verb, "autostart") == 0)
			disable = true;
		else if (strcmp(argv[i], "--json") == 0)
			cli.json = true;
		else if ((strcmp(argv[i], "--domain") == 0 || strcmp(argv[i], "--file") == 0) &&
			 i + 1 < argc && npos < 2)
			pos[npos++] = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "error: command '%s' doesn't support option %s\n", verb,
				argv[i]);
			return 1;
		} else if (npos < 2)
			pos[npos++] = argv[i];
		else {
			fprintf(stderr, "error: unexpected data '%s'\n", argv[i]);
			return 1;
		}
	}
	name = pos[0];

	if (strcmp(verb, "list") == 0) {
		if (npos) {
			fprintf(stderr, "error: unexpected data '%s'\n", pos[0]);
			return 1;
		}
		p = json_object_new_object();
		json_object_object_add(p, "all", json_object_new_boolean(all));
		res = call(&cli, "list", p);
		if (cli.json)
			print_json(res);
		else
			cli_fmt_list(stdout, res, name_only);
		json_object_put(res);
		goto out;
	}
	if (strcmp(verb, "version") == 0) {
		res = call(&cli, "version", NULL);
		if (cli.json)
			print_json(res);
		else {
			json_object *v;

			json_object_object_get_ex(res, "api", &v);
			printf("splitvirt CLI, dpud API %s\n", json_object_get_string(v));
		}
		json_object_put(res);
		goto out;
	}
	if (!name || npos > 1) {
		fprintf(stderr, "error: command '%s' requires exactly one %s argument\n", verb,
			strcmp(verb, "define") == 0 ? "<file>" : "<domain>");
		return 1;
	}
	if (strcmp(verb, "define") == 0) {
		char *xml;
		size_t len;
		int r = read_input(name, &xml, &len);
		json_object *w;

		if (r)
			die_error(&cli, "Failed to open file '%s': %s", name, strerror(-r));
		if (strlen(xml) != len)
			die_error(&cli, "%s: contains a NUL byte", name);
		p = json_object_new_object();
		json_object_object_add(p, "xml", json_object_new_string_len(xml, (int)len));
		free(xml);
		res = call(&cli, "define", p);
		if (json_object_object_get_ex(res, "warnings", &w))
			for (size_t k = 0; k < json_object_array_length(w); k++)
				fprintf(stderr, "warning: %s\n",
					json_object_get_string(json_object_array_get_idx(w, k)));
		if (cli.json)
			print_json(res);
		else {
			json_object *n;

			json_object_object_get_ex(res, "name", &n);
			printf("Domain '%s' defined from %s\n\n", json_object_get_string(n), name);
		}
		json_object_put(res);
		goto out;
	}
	{
		struct errmsg e;

		if (domain_name_check(name, &e)) {
			fprintf(stderr, "error: failed to get domain '%s'\n", name);
			return 1;
		}
	}
	if (strcmp(verb, "console") == 0) {
		int r = console(&cli, name);

		xport_close(cli.c);
		rpc_lines_free(&cli.lines);
		return r;
	}
	static const struct {
		const char *verb, *what;
	} simple[] = {
		{"undefine", "has been undefined"},
		{"start", "started"},
		{"shutdown", "is being shutdown"},
		{"destroy", "destroyed"},
		{"reboot", "is being rebooted"},
		{"suspend", "suspended"},
		{"resume", "resumed"},
	};
	for (size_t k = 0; k < ARRAY_SIZE(simple); k++) {
		if (strcmp(verb, simple[k].verb) != 0)
			continue;
		res = call(&cli, verb, name_params(name));
		if (cli.json)
			print_json(res);
		else {
			printf("Domain '%s' %s\n\n", name, simple[k].what);
		}
		json_object_put(res);
		goto out;
	}
	if (strcmp(verb, "autostart") == 0) {
		p = name_params(name);
		json_object_object_add(p, "enable", json_object_new_boolean(!disable));
		res = call(&cli, "autostart", p);
		if (cli.json)
			print_json(res);
		else
			printf("Domain '%s' %s as autostarted\n\n", name,
			       disable ? "unmarked" : "marked");
		json_object_put(res);
		goto out;
	}
	if (strcmp(verb, "dominfo") == 0 || strcmp(verb, "domstate") == 0 ||
	    strcmp(verb, "dumpxml") == 0) {
		res = call(&cli, verb, name_params(name));
		if (cli.json)
			print_json(res);
		else if (strcmp(verb, "dominfo") == 0)
			cli_fmt_dominfo(stdout, res);
		else if (strcmp(verb, "domstate") == 0)
			cli_fmt_domstate(stdout, res, reason);
		else {
			json_object *x;

			json_object_object_get_ex(res, "xml", &x);
			fputs(json_object_get_string(x), stdout);
		}
		json_object_put(res);
		goto out;
	}
	fprintf(stderr, "error: unknown command: '%s'\n", verb);
	return 1;
out:
	if (cli.c)
		xport_close(cli.c);
	rpc_lines_free(&cli.lines);
	return fflush(stdout) == 0 ? 0 : 1;
}
