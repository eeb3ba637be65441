/* Unit tests for vmm/cmdline: every -smp/-m/-machine rule of the StratoVirt guidebook, the
 * other options' values and bounds, and the one-line errors for bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/vm_config.h"

#define MAXARGS 64

/* Parses "splitvm -kernel /k ARGS..." (the kernel is added unless told not to). */
static int parse_v(struct vm_config *cfg, struct errmsg *e, bool add_kernel, va_list ap)
{
	char *argv[MAXARGS];
	int argc = 0;
	const char *a;

	argv[argc++] = "splitvm";
	if (add_kernel) {
		argv[argc++] = "-kernel";
		argv[argc++] = "/boot/vmlinuz";
	}
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAXARGS - 1);
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return vm_config_parse(cfg, argc, argv, e);
}

static int parse_with_kernel(struct vm_config *cfg, struct errmsg *e, ...)
{
	va_list ap;
	int ret;

	va_start(ap, e);
	ret = parse_v(cfg, e, true, ap);
	va_end(ap);
	return ret;
}

static int parse_raw(struct vm_config *cfg, struct errmsg *e, ...)
{
	va_list ap;
	int ret;

	va_start(ap, e);
	ret = parse_v(cfg, e, false, ap);
	va_end(ap);
	return ret;
}

/* Parses ARGS (with a kernel) and expects success. */
#define OK(cfg, ...)                                                       \
	do {                                                               \
		struct errmsg _e;                                          \
		int _r = parse_with_kernel(cfg, &_e, __VA_ARGS__, NULL);   \
		if (_r)                                                    \
			fail_msg("unexpected error: %s", errmsg_str(&_e)); \
	} while (0)

/* Parses ARGS (with a kernel) and expects exactly the error message msg. */
#define ERR(msg, ...)                                                    \
	do {                                                             \
		struct vm_config _c;                                     \
		struct errmsg _e;                                        \
		int _r = parse_with_kernel(&_c, &_e, __VA_ARGS__, NULL); \
		assert_int_not_equal(_r, 0);                             \
		assert_string_equal(errmsg_str(&_e), msg);               \
		vm_config_free(&_c);                                     \
	} while (0)

/* ---- -smp ----------------------------------------------------------------------------- */

static void assert_smp(const struct vm_config *c, uint32_t cpus, uint32_t maxcpus, uint32_t sockets,
		       uint32_t dies, uint32_t clusters, uint32_t cores, uint32_t threads)
{
	assert_int_equal(c->smp.cpus, cpus);
	assert_int_equal(c->smp.maxcpus, maxcpus);
	assert_int_equal(c->smp.sockets, sockets);
	assert_int_equal(c->smp.dies, dies);
	assert_int_equal(c->smp.clusters, clusters);
	assert_int_equal(c->smp.cores, cores);
	assert_int_equal(c->smp.threads, threads);
}

static void test_smp_defaults_to_one_cpu(void **state)
{
	struct vm_config c;

	OK(&c, "-m", "256");
	assert_smp(&c, 1, 1, 1, 1, 1, 1, 1);
	vm_config_free(&c);
}

static void test_smp_bare_number_is_cpus_with_one_socket_of_n_cores(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "4");
	assert_smp(&c, 4, 4, 1, 1, 1, 4, 1);
	vm_config_free(&c);
	OK(&c, "-smp", "cpus=2");
	assert_smp(&c, 2, 2, 1, 1, 1, 2, 1);
	vm_config_free(&c);
}

static void test_smp_maxcpus_defaults_to_cpus(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "3,sockets=3");
	assert_smp(&c, 3, 3, 3, 1, 1, 1, 1);
	vm_config_free(&c);
}

static void test_smp_maxcpus_defaults_to_topology_product(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "2,sockets=2,cores=2,threads=2");
	assert_smp(&c, 2, 8, 2, 1, 1, 2, 2);
	vm_config_free(&c);
}

static void test_smp_cores_derived_from_maxcpus_sockets_and_threads(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "4,maxcpus=8,sockets=2");
	assert_smp(&c, 4, 8, 2, 1, 1, 4, 1);
	vm_config_free(&c);
	OK(&c, "-smp", "8,threads=2");
	assert_smp(&c, 8, 8, 1, 1, 1, 4, 2);
	vm_config_free(&c);
}

static void test_smp_sockets_derived_when_cores_given(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "8,cores=2,threads=2");
	assert_smp(&c, 8, 8, 2, 1, 1, 2, 2);
	vm_config_free(&c);
	OK(&c, "-smp", "8,cores=4");
	assert_smp(&c, 8, 8, 2, 1, 1, 4, 1);
	vm_config_free(&c);
}

static void test_smp_threads_derived_when_sockets_and_cores_given(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "8,sockets=2,cores=2");
	assert_smp(&c, 8, 8, 2, 1, 1, 2, 2);
	vm_config_free(&c);
}

static void test_smp_dies_and_clusters_default_to_one_and_count_in_the_product(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "8,dies=2,clusters=2");
	assert_smp(&c, 8, 8, 1, 2, 2, 2, 1);
	vm_config_free(&c);
	OK(&c, "-smp", "cpus=16,maxcpus=16,sockets=2,dies=2,clusters=2,cores=2,threads=1");
	assert_smp(&c, 16, 16, 2, 2, 2, 2, 1);
	vm_config_free(&c);
}

static void test_smp_accepts_254_cpus(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "254");
	assert_smp(&c, 254, 254, 1, 1, 1, 254, 1);
	vm_config_free(&c);
}

static void test_smp_rejects_maxcpus_below_cpus(void **state)
{
	ERR("-smp: maxcpus (4) must be >= cpus (8)", "-smp", "8,maxcpus=4");
	ERR("-smp: maxcpus (4) must be >= cpus (8)", "-smp", "8,sockets=2,cores=2,threads=1");
}

static void test_smp_rejects_more_than_254_cpus(void **state)
{
	ERR("-smp: cpus (255) must be between 1 and 254", "-smp", "255");
}

static void test_smp_rejects_maxcpus_above_254(void **state)
{
	ERR("-smp: maxcpus (255) must be at most 254", "-smp", "4,maxcpus=255");
	ERR("-smp: the topology gives maxcpus 256, more than 254", "-smp",
	    "4,sockets=16,cores=16,threads=1");
}

static void test_smp_rejects_topology_that_does_not_multiply_to_maxcpus(void **state)
{
	ERR("-smp: sockets (2) * dies (1) * clusters (1) * cores (3) * threads (1) must equal "
	    "maxcpus (8)",
	    "-smp", "8,maxcpus=8,sockets=2,cores=3,threads=1");
	ERR("-smp: sockets (2) * dies (1) * clusters (1) * cores (1) * threads (1) must equal "
	    "maxcpus (3)",
	    "-smp", "3,sockets=2");
	ERR("-smp: sockets (1) * dies (2) * clusters (1) * cores (2) * threads (1) must equal "
	    "maxcpus (8)",
	    "-smp", "8,maxcpus=8,sockets=1,dies=2,cores=2,threads=1");
	/* more sockets than maxcpus: cores would be 0 */
	ERR("-smp: sockets (4) * dies (1) * clusters (1) * cores (0) * threads (1) must equal "
	    "maxcpus (2)",
	    "-smp", "2,sockets=4");
}

static void test_smp_rejects_zero_values(void **state)
{
	ERR("-smp: cpus must be at least 1", "-smp", "0");
	ERR("-smp: maxcpus must be at least 1", "-smp", "1,maxcpus=0");
	ERR("-smp: sockets must be at least 1", "-smp", "1,sockets=0");
	ERR("-smp: dies must be at least 1", "-smp", "1,dies=0");
	ERR("-smp: clusters must be at least 1", "-smp", "1,clusters=0");
	ERR("-smp: cores must be at least 1", "-smp", "1,cores=0");
	ERR("-smp: threads must be at least 1", "-smp", "1,threads=0");
}

static void test_smp_rejects_non_numbers(void **state)
{
	ERR("-smp: cpus: 'x' is not a positive integer", "-smp", "x");
	ERR("-smp: cores: '-1' is not a positive integer", "-smp", "2,cores=-1");
	ERR("-smp: cpus: '99999999999' is not in range", "-smp", "99999999999");
	ERR("-smp: threads: needs a value", "-smp", "2,threads=");
	ERR("-smp: threads: needs a value", "-smp", "2,threads");
}

static void test_smp_requires_cpus(void **state)
{
	ERR("-smp: cpus= is required", "-smp", "maxcpus=4");
}

static void test_smp_rejects_unknown_and_duplicate_properties(void **state)
{
	ERR("-smp: unknown property 'books'", "-smp", "2,books=1");
	ERR("-smp: duplicate property 'cpus'", "-smp", "2,cpus=2");
	ERR("-smp: empty property in ',2'", "-smp", ",2");
	ERR("-smp: cpus: '2,' is not a positive integer", "-smp", "2,,");
	ERR("-smp: empty value", "-smp", "");
}

/* ---- -m ----------------------------------------------------------------------------- */

static void test_mem_defaults_to_256m(void **state)
{
	struct vm_config c;

	OK(&c, "-smp", "1");
	assert_int_equal(c.mem_size, 256ull << 20);
	vm_config_free(&c);
}

static void test_mem_default_unit_is_m_and_g_is_allowed(void **state)
{
	static const struct {
		const char *arg;
		uint64_t bytes;
	} cases[] = {
		{"512", 512ull << 20}, {"512m", 512ull << 20}, {"512M", 512ull << 20},
		{"1G", 1ull << 30},    {"2g", 2ull << 30},     {"size=1G", 1ull << 30},
		{"128", 128ull << 20}, {"512G", 512ull << 30}, {"524288M", 512ull << 30},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_config c;

		OK(&c, "-m", cases[i].arg);
		assert_int_equal(c.mem_size, cases[i].bytes);
		vm_config_free(&c);
	}
}

static void test_mem_rejects_below_128m(void **state)
{
	ERR("-m: '127' is below the minimum of 128M", "-m", "127");
	ERR("-m: '0G' is below the minimum of 128M", "-m", "0G");
}

static void test_mem_rejects_above_512g(void **state)
{
	ERR("-m: '513G' is above the maximum of 512G", "-m", "513G");
	ERR("-m: '524289M' is above the maximum of 512G", "-m", "524289M");
	ERR("-m: '99999999999999999999G' is above the maximum of 512G", "-m",
	    "99999999999999999999G");
	ERR("-m: '18014398509481984G' is above the maximum of 512G", "-m", "18014398509481984G");
}

static void test_mem_rejects_non_integers_and_other_units(void **state)
{
	ERR("-m: '1.5G' is not a memory size (an integer with optional unit M or G)", "-m", "1.5G");
	ERR("-m: 'abc' is not a memory size (an integer with optional unit M or G)", "-m", "abc");
	ERR("-m: '256MB' is not a memory size (an integer with optional unit M or G)", "-m",
	    "256MB");
	ERR("-m: '262144K': unit 'K' is not supported (M or G)", "-m", "262144K");
	ERR("-m: '1T': unit 'T' is not supported (M or G)", "-m", "1T");
	ERR("-m: empty value", "-m", "");
	ERR("-m: unknown property 'slots'", "-m", "1G,slots=2");
	ERR("-m: given more than once", "-m", "1G", "-m", "2G");
}

/* ---- -machine ------------------------------------------------------------------------- */

static void test_machine_defaults(void **state)
{
	struct vm_config c;

	OK(&c, "-m", "128");
	assert_int_equal(c.machine.type, VM_MACHINE_MICROVM);
	assert_true(c.machine.dump_guest_core);
	assert_false(c.machine.mem_share);
	assert_true(c.machine.acpi);
	vm_config_free(&c);
}

static void test_machine_accepts_type_with_and_without_key_and_properties(void **state)
{
	struct vm_config c;

	OK(&c, "-machine", "microvm");
	assert_int_equal(c.machine.type, VM_MACHINE_MICROVM);
	vm_config_free(&c);
	OK(&c, "-machine",
	   "type=microvm,dump-guest-core=off,mem-share=on,accel=kvm,acpi=off,usb=off");
	assert_false(c.machine.dump_guest_core);
	assert_true(c.machine.mem_share);
	assert_false(c.machine.acpi);
	vm_config_free(&c);
}

static void test_machine_none_needs_no_kernel_and_refuses_one(void **state)
{
	struct vm_config c;
	struct errmsg e;

	assert_int_equal(
		parse_raw(&c, &e, "-machine", "none", "-qmp", "unix:/tmp/q,server,nowait", NULL),
		0);
	assert_int_equal(c.machine.type, VM_MACHINE_NONE);
	assert_string_equal(c.qmp_path, "/tmp/q");
	vm_config_free(&c);
	ERR("-machine: type none runs no VM; -kernel, -initrd and -device are not allowed",
	    "-machine", "none");
}

static void test_machine_rejects_other_types_and_bad_properties(void **state)
{
	ERR("-machine: type 'q35' is not supported (microvm, none)", "-machine", "q35");
	ERR("-machine: type 'virt' is not supported (microvm, none)", "-machine", "type=virt");
	ERR("-machine: type= is required", "-machine", "dump-guest-core=on");
	ERR("-machine: dump-guest-core: 'maybe' is not on/off or true/false", "-machine",
	    "microvm,dump-guest-core=maybe");
	ERR("-machine: mem-share: 'x' is not on/off or true/false", "-machine",
	    "microvm,mem-share=x");
	ERR("-machine: accel 'tcg' is not supported (kvm)", "-machine", "microvm,accel=tcg");
	ERR("-machine: usb=on is not supported (off)", "-machine", "microvm,usb=on");
	ERR("-machine: acpi: 'y' is not on/off or true/false", "-machine", "microvm,acpi=y");
	ERR("-machine: unknown property 'kernel-irqchip'", "-machine", "microvm,kernel-irqchip=on");
	ERR("-machine: duplicate property 'acpi'", "-machine", "microvm,acpi=on,acpi=off");
	ERR("-machine: given more than once", "-machine", "microvm", "-machine", "microvm");
}

/* ---- general options -------------------------------------------------------------------- */

static void test_plain_options_are_stored(void **state)
{
	struct vm_config c;

	OK(&c, "-append", "console=ttyS0 reboot=k", "-initrd", "/tmp/initrd", "-name", "web1", "-S",
	   "-D", "/tmp/log", "-pidfile", "/tmp/pid", "-disable-seccomp", "-mem-path",
	   "/dev/hugepages", "-mem-prealloc", "-cpu", "host", "-daemonize", "-no-reboot");
	assert_string_equal(c.kernel, "/boot/vmlinuz");
	assert_string_equal(c.append, "console=ttyS0 reboot=k");
	assert_string_equal(c.initrd, "/tmp/initrd");
	assert_string_equal(c.name, "web1");
	assert_true(c.start_paused);
	assert_true(c.log);
	assert_string_equal(c.log_file, "/tmp/log");
	assert_string_equal(c.pidfile, "/tmp/pid");
	assert_false(c.seccomp);
	assert_string_equal(c.mem_path, "/dev/hugepages");
	assert_true(c.mem_prealloc);
	assert_true(c.daemonize);
	assert_true(c.no_reboot);
	assert_int_equal(c.serial, -1);
	assert_null(c.qmp_path);
	vm_config_free(&c);
}

static void test_defaults_without_options(void **state)
{
	struct vm_config c;

	OK(&c, "-S");
	assert_true(c.seccomp);
	assert_false(c.log);
	assert_null(c.log_file);
	assert_false(c.daemonize);
	assert_false(c.no_reboot);
	assert_null(c.append);
	vm_config_free(&c);
}

static void test_log_option_takes_an_optional_file(void **state)
{
	struct vm_config c;

	OK(&c, "-D", "-S");
	assert_true(c.log);
	assert_null(c.log_file);
	assert_true(c.start_paused);
	vm_config_free(&c);
	OK(&c, "-S", "-D");
	assert_true(c.log);
	assert_null(c.log_file);
	vm_config_free(&c);
}

static void test_libvirt_name_form_is_accepted(void **state)
{
	struct vm_config c;

	OK(&c, "-name", "guest=vm1,debug-threads=on");
	assert_string_equal(c.name, "vm1");
	vm_config_free(&c);
	ERR("-name: unknown property 'process'", "-name", "guest=vm1,process=x");
}

static void test_libvirt_noop_options_are_accepted_and_ignored(void **state)
{
	struct vm_config c;

	OK(&c, "-overcommit", "mem-lock=off", "-uuid", "0f3c8f6e-0000-4000-8000-000000000001",
	   "-no-user-config", "-nodefaults", "-sandbox", "off", "-msg", "timestamp=on", "-rtc",
	   "base=utc", "-no-shutdown", "-nographic", "-realtime", "mlock=off", "-display", "none",
	   "-usb", "-boot", "strict=on", "-nodefaults");
	assert_int_equal(c.smp.cpus, 1);
	vm_config_free(&c);
}

static void test_help_and_version_are_actions(void **state)
{
	struct vm_config c;
	struct errmsg e;

	assert_int_equal(parse_raw(&c, &e, "-h", NULL), 0);
	assert_int_equal(c.action, VM_ACTION_HELP);
	vm_config_free(&c);
	assert_int_equal(parse_raw(&c, &e, "--help", NULL), 0);
	assert_int_equal(c.action, VM_ACTION_HELP);
	vm_config_free(&c);
	assert_int_equal(parse_raw(&c, &e, "-version", NULL), 0);
	assert_int_equal(c.action, VM_ACTION_VERSION);
	vm_config_free(&c);
	assert_non_null(strstr(vm_config_usage(), "-smp"));
}

static void test_general_option_errors(void **state)
{
	struct vm_config c;
	struct errmsg e;

	ERR("-bogus: unknown option (see -h)", "-bogus");
	ERR("'stray': unexpected argument (options start with '-')", "stray");
	ERR("-append: needs an argument", "-append");
	ERR("-kernel: given more than once", "-kernel", "/other");
	ERR("-S: given more than once", "-S", "-S");
	ERR("-mem-path: 'hugepages' is not an absolute path", "-mem-path", "hugepages");
	ERR("-initrd: empty path", "-initrd", "");
	ERR("-cpu: model 'qemu64' is not supported (host)", "-cpu", "qemu64");
	ERR("-cpu: pmu=on is only supported on aarch64", "-cpu", "host,pmu=on");
	ERR("-cpu: unknown property 'vmx'", "-cpu", "host,vmx=on");
	assert_int_not_equal(parse_raw(&c, &e, "-m", "256", NULL), 0);
	assert_string_equal(errmsg_str(&e), "-kernel: is required for machine type microvm");
	vm_config_free(&c);
	assert_int_not_equal(parse_raw(&c, &e, "-machine", "none", "-initrd", "/x", NULL), 0);
	vm_config_free(&c);
}

static void test_only_one_stdio_chardev(void **state)
{
	ERR("-chardev: only one stdio backend is allowed (#serial0 and c1)", "-serial", "stdio",
	    "-chardev", "stdio,id=c1");
}

static void test_daemonize_refuses_stdio(void **state)
{
	ERR("-daemonize: cannot be used with a stdio chardev (-serial stdio)", "-daemonize",
	    "-serial", "stdio");
	ERR("-daemonize: cannot be used with a stdio chardev (con0)", "-chardev", "stdio,id=con0",
	    "-daemonize");
	ERR("-daemonize: cannot log to stderr; give -D a file", "-daemonize", "-D");
}

/* ---- -qmp, -serial, -chardev ------------------------------------------------------------------ */

static void test_qmp_accepts_unix_server_nowait(void **state)
{
	struct vm_config c;

	OK(&c, "-qmp", "unix:/run/vm1.qmp,server,nowait");
	assert_string_equal(c.qmp_path, "/run/vm1.qmp");
	vm_config_free(&c);
	OK(&c, "-qmp", "unix:/run/vm1.qmp,server=on,wait=off");
	assert_string_equal(c.qmp_path, "/run/vm1.qmp");
	vm_config_free(&c);
}

static void test_qmp_rejects_other_forms(void **state)
{
	char longp[200];

	ERR("-qmp: 'tcp:1.2.3.4:4444': only unix:PATH sockets are supported", "-qmp",
	    "tcp:1.2.3.4:4444,server,nowait");
	ERR("-qmp: only server,nowait sockets are supported (unix:PATH,server,nowait)", "-qmp",
	    "unix:/tmp/q");
	ERR("-qmp: only server,nowait sockets are supported (unix:PATH,server,nowait)", "-qmp",
	    "unix:/tmp/q,server");
	ERR("-qmp: unix: needs a socket path", "-qmp", "unix:,server,nowait");
	ERR("-qmp: unknown property 'telnet'", "-qmp", "unix:/tmp/q,server,nowait,telnet");
	ERR("-qmp: server: 'maybe' is not on/off", "-qmp", "unix:/tmp/q,server=maybe,nowait");
	ERR("-qmp: given more than once", "-qmp", "unix:/a,server,nowait", "-qmp",
	    "unix:/b,server,nowait");
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:/", 6);
	strcpy(longp + 150, ",server,nowait");
	ERR("-qmp: socket path '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is longer than 107 "
	    "bytes",
	    "-qmp", longp);
}

static void test_serial_simple_forms_create_a_chardev(void **state)
{
	struct vm_config c;

	OK(&c, "-serial", "stdio");
	assert_int_equal(c.serial, 0);
	assert_int_equal(c.chardevs[0].backend, VM_CHARDEV_STDIO);
	assert_string_equal(c.chardevs[0].id, VMCFG_SERIAL_CHARDEV_ID);
	vm_config_free(&c);
	OK(&c, "-serial", "pty");
	assert_int_equal(c.chardevs[c.serial].backend, VM_CHARDEV_PTY);
	vm_config_free(&c);
	OK(&c, "-serial", "file,path=/tmp/out");
	assert_int_equal(c.chardevs[c.serial].backend, VM_CHARDEV_FILE);
	assert_string_equal(c.chardevs[c.serial].path, "/tmp/out");
	vm_config_free(&c);
	OK(&c, "-serial", "socket,path=/tmp/s.sock,server,nowait");
	assert_int_equal(c.chardevs[c.serial].backend, VM_CHARDEV_SOCKET);
	assert_true(c.chardevs[c.serial].server);
	assert_true(c.chardevs[c.serial].nowait);
	vm_config_free(&c);
}

static void test_serial_chardev_reference_may_come_before_the_chardev(void **state)
{
	struct vm_config c;

	OK(&c, "-serial", "chardev:con", "-chardev", "pty,id=con");
	assert_int_equal(c.n_chardevs, 1);
	assert_int_equal(c.serial, 0);
	assert_string_equal(c.chardevs[0].id, "con");
	vm_config_free(&c);
}

static void test_serial_and_chardev_errors(void **state)
{
	ERR("-serial: chardev 'nope' is not defined (-chardev ...,id=nope)", "-serial",
	    "chardev:nope");
	ERR("-serial: chardev: needs an id", "-serial", "chardev:");
	ERR("-serial: backend 'vc' is not supported (stdio, pty, socket, file)", "-serial", "vc");
	ERR("-serial: file: path= is required", "-serial", "file");
	ERR("-serial: stdio: path= is only for file and socket backends", "-serial",
	    "stdio,path=/x");
	ERR("-serial: socket: only server,nowait is supported", "-serial", "socket,path=/tmp/s");
	ERR("-serial: given more than once", "-serial", "pty", "-serial", "pty");
	ERR("-chardev: id= is required", "-chardev", "pty");
	ERR("-chardev: duplicate id 'c'", "-chardev", "pty,id=c", "-chardev", "stdio,id=c");
	ERR("-chardev: the first item must be the backend (stdio, pty, socket, file), not 'id='",
	    "-chardev", "id=c,pty");
	ERR("-chardev: socket: unknown property 'telnet'", "-chardev",
	    "socket,id=c,path=/tmp/s,server,nowait,telnet");
	ERR("-chardev: id 'a b' may only hold letters, digits, '-', '_' and '.'", "-chardev",
	    "pty,id=a b");
	ERR("-chardev: socket: path= is required", "-chardev", "socket,id=c,server,nowait");
}

/* ---- -drive, -netdev, -object, -device ----------------------------------------------------- */

static void test_drive_defaults_and_properties(void **state)
{
	struct vm_config c;
	const struct vm_drive_config *d;

	OK(&c, "-drive", "id=d0,file=/img/a.raw", "-drive",
	   "id=d1,file=/img/b.raw,readonly=on,direct=off,discard=unmap,detect-zeroes=unmap,"
	   "throttling.iops-total=1000,if=none,format=raw",
	   "-drive", "id=d2,file=/img/c.raw,aio=io_uring", "-drive",
	   "id=d3,file=/img/d.raw,direct=false,detect-zeroes=unmap");
	assert_int_equal(c.n_drives, 4);
	d = &c.drives[0];
	assert_string_equal(d->file, "/img/a.raw");
	assert_false(d->readonly);
	assert_true(d->direct);
	assert_int_equal(d->aio, VM_AIO_NATIVE);
	assert_int_equal(d->discard, VM_DISCARD_IGNORE);
	assert_int_equal(d->detect_zeroes, VM_DETECT_ZEROES_OFF);
	assert_int_equal(d->iops_total, 0);
	d = &c.drives[1];
	assert_true(d->readonly);
	assert_false(d->direct);
	assert_int_equal(d->aio, VM_AIO_OFF);
	assert_int_equal(d->discard, VM_DISCARD_UNMAP);
	assert_int_equal(d->detect_zeroes, VM_DETECT_ZEROES_UNMAP);
	assert_int_equal(d->iops_total, 1000);
	assert_int_equal(c.drives[2].aio, VM_AIO_IO_URING);
	/* detect-zeroes=unmap with discard=ignore means on */
	assert_int_equal(c.drives[3].detect_zeroes, VM_DETECT_ZEROES_ON);
	vm_config_free(&c);
}

static void test_drive_errors(void **state)
{
	ERR("-drive: id= is required", "-drive", "file=/x");
	ERR("-drive: file= is required", "-drive", "id=d0");
	ERR("-drive: duplicate id 'd0'", "-drive", "id=d0,file=/a", "-drive", "id=d0,file=/b");
	ERR("-drive: aio 'threads' is not supported (native, io_uring, off)", "-drive",
	    "id=d0,file=/a,aio=threads");
	ERR("-drive: aio=native needs direct=on (Linux AIO is only asynchronous with O_DIRECT)",
	    "-drive", "id=d0,file=/a,direct=off,aio=native");
	ERR("-drive: discard 'trim' is not supported (unmap, ignore)", "-drive",
	    "id=d0,file=/a,discard=trim");
	ERR("-drive: detect-zeroes 'yes' is not supported (unmap, on, off)", "-drive",
	    "id=d0,file=/a,detect-zeroes=yes");
	ERR("-drive: throttling.iops-total (0) must be between 1 and 1000000000", "-drive",
	    "id=d0,file=/a,throttling.iops-total=0");
	ERR("-drive: throttling.iops-total: 'fast' is not a non-negative integer", "-drive",
	    "id=d0,file=/a,throttling.iops-total=fast");
	ERR("-drive: if 'pflash' is not supported by microvm (none)", "-drive",
	    "id=d0,file=/a,if=pflash");
	ERR("-drive: format 'qcow2' is not supported by microvm (raw)", "-drive",
	    "id=d0,file=/a,format=qcow2");
	ERR("-drive: readonly: 'ro' is not on/off or true/false", "-drive",
	    "id=d0,file=/a,readonly=ro");
	ERR("-drive: unknown property 'cache'", "-drive", "id=d0,file=/a,cache=none");
}

static void test_blk_device_resolves_drive_and_defaults_queues_to_cpus(void **state)
{
	struct vm_config c;
	const struct vm_device_config *d;

	OK(&c, "-smp", "4", "-device", "virtio-blk-device,drive=d0,id=blk0,serial=abc", "-drive",
	   "id=d0,file=/a", "-object", "iothread,id=io1", "-drive", "id=d1,file=/b", "-device",
	   "virtio-blk-device,drive=d1,id=blk1,num-queues=2,queue-size=1024,iothread=io1,"
	   "bootindex=1");
	assert_int_equal(c.n_devices, 2);
	d = &c.devices[0];
	assert_int_equal(d->kind, VM_DEV_VIRTIO_BLK);
	assert_string_equal(d->id, "blk0");
	assert_int_equal(d->blk.drive, 0);
	assert_string_equal(d->blk.serial, "abc");
	assert_int_equal(d->blk.num_queues, 4);
	assert_int_equal(d->blk.queue_size, 256);
	assert_int_equal(d->iothread, -1);
	assert_int_equal(d->blk.bootindex, -1);
	d = &c.devices[1];
	assert_int_equal(d->blk.drive, 1);
	assert_int_equal(d->blk.num_queues, 2);
	assert_int_equal(d->blk.queue_size, 1024);
	assert_int_equal(d->iothread, 0);
	assert_int_equal(d->blk.bootindex, 1);
	vm_config_free(&c);
}

static void test_blk_device_errors(void **state)
{
	ERR("-device: virtio-blk-device: drive 'd9' is not defined (-drive id=d9,...)", "-device",
	    "virtio-blk-device,drive=d9,id=b");
	ERR("-device: virtio-blk-device: id= is required", "-drive", "id=d0,file=/a", "-device",
	    "virtio-blk-device,drive=d0");
	ERR("-device: virtio-blk-device: drive= is required", "-device", "virtio-blk-device,id=b");
	ERR("-device: virtio-blk-device: drive 'd0' is used by another device", "-drive",
	    "id=d0,file=/a", "-device", "virtio-blk-device,drive=d0,id=b0", "-device",
	    "virtio-blk-device,drive=d0,id=b1");
	ERR("-device: duplicate id 'b'", "-drive", "id=d0,file=/a", "-drive", "id=d1,file=/b",
	    "-device", "virtio-blk-device,drive=d0,id=b", "-device",
	    "virtio-blk-device,drive=d1,id=b");
	ERR("-device: queue-size (2) must be between 3 and 1024", "-drive", "id=d0,file=/a",
	    "-device", "virtio-blk-device,drive=d0,id=b,queue-size=2");
	ERR("-device: virtio-blk-device: queue-size (100) must be a power of 2 in (2, 1024]",
	    "-drive", "id=d0,file=/a", "-device", "virtio-blk-device,drive=d0,id=b,queue-size=100");
	ERR("-device: num-queues (33) must be between 1 and 32", "-drive", "id=d0,file=/a",
	    "-device", "virtio-blk-device,drive=d0,id=b,num-queues=33");
	ERR("-device: virtio-blk-device: serial '123456789012345678901' is longer than 20 bytes",
	    "-drive", "id=d0,file=/a", "-device",
	    "virtio-blk-device,drive=d0,id=b,serial=123456789012345678901");
	ERR("-device: bootindex (256) must be between 0 and 255", "-drive", "id=d0,file=/a",
	    "-device", "virtio-blk-device,drive=d0,id=b,bootindex=256");
	ERR("-device: virtio-blk-device: iothread 'io9' is not defined (-object iothread,id=io9)",
	    "-drive", "id=d0,file=/a", "-device", "virtio-blk-device,drive=d0,id=b,iothread=io9");
	ERR("-device: virtio-blk-device: unknown property 'bus'", "-drive", "id=d0,file=/a",
	    "-device", "virtio-blk-device,drive=d0,id=b,bus=pcie.0");
	ERR("-device: 'virtio-blk-pci' is not a supported device (virtio-blk-device, "
	    "virtio-net-device, vhost-vsock-device, virtio-rng-device, virtio-balloon-device, "
	    "virtio-serial-device, virtconsole, virtserialport)",
	    "-device", "virtio-blk-pci,drive=d0,id=b");
}

static void test_net_device_and_tap_netdev(void **state)
{
	struct vm_config c;
	const struct vm_device_config *d;

	OK(&c, "-netdev", "tap,id=n0,ifname=tap0", "-netdev", "tap,id=n1,fd=5,queues=4", "-device",
	   "virtio-net-device,id=net0,netdev=n0,mac=52:54:00:12:34:56", "-device",
	   "virtio-net-device,id=net1,netdev=n1,mq=on,queue-size=4096");
	assert_int_equal(c.n_netdevs, 2);
	assert_string_equal(c.netdevs[0].ifname, "tap0");
	assert_int_equal(c.netdevs[0].fd, -1);
	assert_int_equal(c.netdevs[0].queues, 1);
	assert_null(c.netdevs[1].ifname);
	assert_int_equal(c.netdevs[1].fd, 5);
	assert_int_equal(c.netdevs[1].queues, 4);
	d = &c.devices[0];
	assert_int_equal(d->kind, VM_DEV_VIRTIO_NET);
	assert_int_equal(d->net.netdev, 0);
	assert_true(d->net.mac_set);
	assert_memory_equal(d->net.mac, ((uint8_t[]){0x52, 0x54, 0, 0x12, 0x34, 0x56}), 6);
	assert_int_equal(d->net.queue_size, 256);
	assert_false(d->net.mq);
	d = &c.devices[1];
	assert_int_equal(d->net.netdev, 1);
	assert_true(d->net.mq);
	assert_false(d->net.mac_set);
	assert_int_equal(d->net.queue_size, 4096);
	vm_config_free(&c);
}

static void test_net_errors(void **state)
{
	ERR("-netdev: type 'user' is not supported (tap)", "-netdev", "user,id=n0");
	ERR("-netdev: tap: id= is required", "-netdev", "tap,ifname=tap0");
	ERR("-netdev: tap: ifname= or fd= is required", "-netdev", "tap,id=n0");
	ERR("-netdev: ifname 'abcdefghijklmnopq' is longer than 15 bytes", "-netdev",
	    "tap,id=n0,ifname=abcdefghijklmnopq");
	ERR("-netdev: queues (17) must be between 1 and 16", "-netdev",
	    "tap,id=n0,ifname=t,queues=17");
	ERR("-netdev: vhostfd= needs vhost=on", "-netdev", "tap,id=n0,ifname=t,vhostfd=3");
	ERR("-netdev: tap: unknown property 'script'", "-netdev", "tap,id=n0,ifname=t,script=no");
	ERR("-netdev: duplicate id 'n0'", "-netdev", "tap,id=n0,ifname=t", "-netdev",
	    "tap,id=n0,ifname=u");
	ERR("-device: virtio-net-device: netdev 'n9' is not defined (-netdev tap,id=n9,...)",
	    "-device", "virtio-net-device,id=net0,netdev=n9");
	ERR("-device: virtio-net-device: mac '52:54:00:12:34' is not xx:xx:xx:xx:xx:xx", "-netdev",
	    "tap,id=n0,ifname=t", "-device",
	    "virtio-net-device,id=net0,netdev=n0,mac=52:54:00:12:34");
	ERR("-device: virtio-net-device: mac '52:54:00:12:34:zz' is not xx:xx:xx:xx:xx:xx",
	    "-netdev", "tap,id=n0,ifname=t", "-device",
	    "virtio-net-device,id=net0,netdev=n0,mac=52:54:00:12:34:zz");
	ERR("-device: virtio-net-device: mac '01:00:5e:00:00:01' is a multicast address", "-netdev",
	    "tap,id=n0,ifname=t", "-device",
	    "virtio-net-device,id=net0,netdev=n0,mac=01:00:5e:00:00:01");
	ERR("-device: queue-size (128) must be between 256 and 4096", "-netdev",
	    "tap,id=n0,ifname=t", "-device", "virtio-net-device,id=net0,netdev=n0,queue-size=128");
	ERR("-device: virtio-net-device: queue-size (384) must be a power of 2 in [256, 4096]",
	    "-netdev", "tap,id=n0,ifname=t", "-device",
	    "virtio-net-device,id=net0,netdev=n0,queue-size=384");
	ERR("-device: virtio-net-device: mq=on needs a netdev with queues >= 2", "-netdev",
	    "tap,id=n0,ifname=t", "-device", "virtio-net-device,id=net0,netdev=n0,mq=on");
}

static void test_vsock_rng_balloon_devices(void **state)
{
	struct vm_config c;

	OK(&c, "-device", "vhost-vsock-device,id=vs0,guest-cid=3,uds-path=/tmp/v.sock", "-object",
	   "rng-random,id=rng0,filename=/dev/urandom", "-device",
	   "virtio-rng-device,rng=rng0,max-bytes=1234,period=1000", "-device",
	   "virtio-balloon-device,deflate-on-oom=true,free-page-reporting=on");
	assert_int_equal(c.devices[0].kind, VM_DEV_VHOST_VSOCK);
	assert_int_equal(c.devices[0].vsock.guest_cid, 3);
	assert_string_equal(c.devices[0].vsock.uds_path, "/tmp/v.sock");
	assert_int_equal(c.devices[0].vsock.vhostfd, -1);
	assert_int_equal(c.devices[1].kind, VM_DEV_VIRTIO_RNG);
	assert_int_equal(c.devices[1].rng.rng, 0);
	assert_string_equal(c.rngs[0].filename, "/dev/urandom");
	assert_int_equal(c.devices[1].rng.max_bytes, 1234);
	assert_int_equal(c.devices[1].rng.period_ms, 1000);
	assert_string_equal(c.devices[1].id, "rng0");
	assert_int_equal(c.devices[2].kind, VM_DEV_VIRTIO_BALLOON);
	assert_true(c.devices[2].balloon.deflate_on_oom);
	assert_true(c.devices[2].balloon.free_page_reporting);
	assert_string_equal(c.devices[2].id, "balloon0");
	vm_config_free(&c);
}

static void test_vsock_rng_balloon_errors(void **state)
{
	ERR("-device: guest-cid (2) must be between 3 and 4294967294", "-device",
	    "vhost-vsock-device,id=v,guest-cid=2");
	ERR("-device: guest-cid (4294967295) must be between 3 and 4294967294", "-device",
	    "vhost-vsock-device,id=v,guest-cid=4294967295");
	ERR("-device: vhost-vsock-device: guest-cid= is required", "-device",
	    "vhost-vsock-device,id=v");
	ERR("-device: vhost-vsock-device: only one vsock device is supported", "-device",
	    "vhost-vsock-device,id=v,guest-cid=3", "-device",
	    "vhost-vsock-device,id=w,guest-cid=4");
	ERR("-device: virtio-rng-device: rng 'r' is not defined (-object "
	    "rng-random,id=r,filename=...)",
	    "-device", "virtio-rng-device,rng=r");
	ERR("-device: virtio-rng-device: max-bytes and period must be given together", "-object",
	    "rng-random,id=r,filename=/dev/random", "-device", "virtio-rng-device,rng=r,period=10");
	ERR("-device: virtio-rng-device: max-bytes/period*1000 (63 bytes/s) must be between 64 "
	    "and 1000000000",
	    "-object", "rng-random,id=r,filename=/dev/random", "-device",
	    "virtio-rng-device,rng=r,max-bytes=63,period=1000");
	ERR("-device: virtio-rng-device: max-bytes/period*1000 (1000000001000 bytes/s) must be "
	    "between 64 and 1000000000",
	    "-object", "rng-random,id=r,filename=/dev/random", "-device",
	    "virtio-rng-device,rng=r,max-bytes=1000000001,period=1");
	ERR("-device: period (0) must be between 1 and 4294967295", "-object",
	    "rng-random,id=r,filename=/dev/random", "-device",
	    "virtio-rng-device,rng=r,max-bytes=100,period=0");
	ERR("-object: rng-random: filename= is required", "-object", "rng-random,id=r");
	ERR("-object: type 'memory-backend-ram' is not supported (iothread, rng-random)", "-object",
	    "memory-backend-ram,id=m,size=1G");
	ERR("-object: duplicate id 'x'", "-object", "iothread,id=x", "-object",
	    "rng-random,id=x,filename=/dev/random");
	ERR("-object: iothread: unknown property 'poll-max-ns'", "-object",
	    "iothread,id=x,poll-max-ns=1");
	ERR("-device: deflate-on-oom: 'perhaps' is not on/off or true/false", "-device",
	    "virtio-balloon-device,deflate-on-oom=perhaps");
	ERR("-device: virtio-balloon-device: only one balloon device is supported", "-device",
	    "virtio-balloon-device", "-device", "virtio-balloon-device");
}

static void test_console_ports_get_numbers_and_chardevs(void **state)
{
	struct vm_config c;

	OK(&c, "-device", "virtio-serial-device", "-chardev",
	   "socket,id=c0,path=/tmp/c0,server,nowait", "-device", "virtconsole,id=con0,chardev=c0",
	   "-chardev", "pty,id=c1", "-device", "virtserialport,id=p1,chardev=c1");
	assert_int_equal(c.devices[0].kind, VM_DEV_VIRTIO_SERIAL);
	assert_int_equal(c.devices[0].serial.max_ports, 31);
	assert_string_equal(c.devices[0].id, "virtio-serial0");
	assert_int_equal(c.devices[1].kind, VM_DEV_VIRTCONSOLE);
	assert_int_equal(c.devices[1].port.chardev, 0);
	assert_int_equal(c.devices[1].port.nr, 0);
	assert_int_equal(c.devices[1].port.bus, 0);
	assert_int_equal(c.devices[2].kind, VM_DEV_VIRTSERIALPORT);
	assert_int_equal(c.devices[2].port.chardev, 1);
	assert_int_equal(c.devices[2].port.nr, 1);
	vm_config_free(&c);
}

static void test_console_port_errors(void **state)
{
	ERR("-device: virtconsole/virtserialport need a virtio-serial-device", "-chardev",
	    "pty,id=c0", "-device", "virtconsole,id=con0,chardev=c0");
	ERR("-device: virtserialport: nr=0 is reserved for virtconsole", "-device",
	    "virtio-serial-device", "-chardev", "pty,id=c0", "-device",
	    "virtserialport,id=p,chardev=c0,nr=0");
	ERR("-device: nr= must be set on every virtconsole/virtserialport or on none", "-device",
	    "virtio-serial-device", "-chardev", "pty,id=c0", "-chardev", "pty,id=c1", "-device",
	    "virtconsole,id=con0,chardev=c0,nr=0", "-device", "virtserialport,id=p,chardev=c1");
	ERR("-device: virtconsole: chardev 'c0' is used by another frontend", "-serial",
	    "chardev:c0", "-device", "virtio-serial-device", "-chardev", "pty,id=c0", "-device",
	    "virtconsole,id=con0,chardev=c0");
	ERR("-device: p: nr (2) must be below max_ports (2)", "-device",
	    "virtio-serial-device,max_ports=2", "-chardev", "pty,id=c0", "-chardev", "pty,id=c1",
	    "-device", "virtconsole,id=con0,chardev=c0,nr=0", "-device",
	    "virtserialport,id=p,chardev=c1,nr=2");
	ERR("-device: max_ports (32) must be between 1 and 31", "-device",
	    "virtio-serial-device,max_ports=32");
	ERR("-device: virtconsole: chardev= is required", "-device", "virtio-serial-device",
	    "-device", "virtconsole,id=con0");
}

static void test_device_count_is_limited_to_eleven_mmio_slots(void **state)
{
	char drives[12][48], devs[12][80];
	char *argv[64];
	struct vm_config c;
	struct errmsg e;
	int argc = 0, i;

	argv[argc++] = "splitvm";
	argv[argc++] = "-kernel";
	argv[argc++] = "/k";
	for (i = 0; i < 11; i++) {
		snprintf(drives[i], sizeof(drives[i]), "id=d%d,file=/f%d", i, i);
		argv[argc++] = "-drive";
		argv[argc++] = drives[i];
	}
	for (i = 0; i < 12; i++) {
		snprintf(devs[i], sizeof(devs[i]), "virtio-blk-device,drive=d%d,id=b%d", i, i);
		argv[argc++] = "-device";
		argv[argc++] = devs[i];
	}
	assert_int_not_equal(vm_config_parse(&c, argc, argv, &e), 0);
	assert_string_equal(errmsg_str(&e),
			    "-device: virtio-blk-device: too many virtio-mmio devices (at most 11 "
			    "on microvm)");
	vm_config_free(&c);
	/* 11 fit */
	assert_int_equal(vm_config_parse(&c, argc - 2, argv, &e), 0);
	assert_int_equal(c.n_devices, 11);
	vm_config_free(&c);
}

static void test_commas_can_be_escaped_by_doubling(void **state)
{
	struct vm_config c;

	OK(&c, "-drive", "id=d0,file=/img/a,,b.raw");
	assert_string_equal(c.drives[0].file, "/img/a,b.raw");
	vm_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smp_defaults_to_one_cpu),
		cmocka_unit_test(test_smp_bare_number_is_cpus_with_one_socket_of_n_cores),
		cmocka_unit_test(test_smp_maxcpus_defaults_to_cpus),
		cmocka_unit_test(test_smp_maxcpus_defaults_to_topology_product),
		cmocka_unit_test(test_smp_cores_derived_from_maxcpus_sockets_and_threads),
		cmocka_unit_test(test_smp_sockets_derived_when_cores_given),
		cmocka_unit_test(test_smp_threads_derived_when_sockets_and_cores_given),
		cmocka_unit_test(
			test_smp_dies_and_clusters_default_to_one_and_count_in_the_product),
		cmocka_unit_test(test_smp_accepts_254_cpus),
		cmocka_unit_test(test_smp_rejects_maxcpus_below_cpus),
		cmocka_unit_test(test_smp_rejects_more_than_254_cpus),
		cmocka_unit_test(test_smp_rejects_maxcpus_above_254),
		cmocka_unit_test(test_smp_rejects_topology_that_does_not_multiply_to_maxcpus),
		cmocka_unit_test(test_smp_rejects_zero_values),
		cmocka_unit_test(test_smp_rejects_non_numbers),
		cmocka_unit_test(test_smp_requires_cpus),
		cmocka_unit_test(test_smp_rejects_unknown_and_duplicate_properties),
		cmocka_unit_test(test_mem_defaults_to_256m),
		cmocka_unit_test(test_mem_default_unit_is_m_and_g_is_allowed),
		cmocka_unit_test(test_mem_rejects_below_128m),
		cmocka_unit_test(test_mem_rejects_above_512g),
		cmocka_unit_test(test_mem_rejects_non_integers_and_other_units),
		cmocka_unit_test(test_machine_defaults),
		cmocka_unit_test(test_machine_accepts_type_with_and_without_key_and_properties),
		cmocka_unit_test(test_machine_none_needs_no_kernel_and_refuses_one),
		cmocka_unit_test(test_machine_rejects_other_types_and_bad_properties),
		cmocka_unit_test(test_plain_options_are_stored),
		cmocka_unit_test(test_defaults_without_options),
		cmocka_unit_test(test_log_option_takes_an_optional_file),
		cmocka_unit_test(test_libvirt_name_form_is_accepted),
		cmocka_unit_test(test_libvirt_noop_options_are_accepted_and_ignored),
		cmocka_unit_test(test_help_and_version_are_actions),
		cmocka_unit_test(test_general_option_errors),
		cmocka_unit_test(test_only_one_stdio_chardev),
		cmocka_unit_test(test_daemonize_refuses_stdio),
		cmocka_unit_test(test_qmp_accepts_unix_server_nowait),
		cmocka_unit_test(test_qmp_rejects_other_forms),
		cmocka_unit_test(test_serial_simple_forms_create_a_chardev),
		cmocka_unit_test(test_serial_chardev_reference_may_come_before_the_chardev),
		cmocka_unit_test(test_serial_and_chardev_errors),
		cmocka_unit_test(test_drive_defaults_and_properties),
		cmocka_unit_test(test_drive_errors),
		cmocka_unit_test(test_blk_device_resolves_drive_and_defaults_queues_to_cpus),
		cmocka_unit_test(test_blk_device_errors),
		cmocka_unit_test(test_net_device_and_tap_netdev),
		cmocka_unit_test(test_net_errors),
		cmocka_unit_test(test_vsock_rng_balloon_devices),
		cmocka_unit_test(test_vsock_rng_balloon_errors),
		cmocka_unit_test(test_console_ports_get_numbers_and_chardevs),
		cmocka_unit_test(test_console_port_errors),
		cmocka_unit_test(test_device_count_is_limited_to_eleven_mmio_slots),
		cmocka_unit_test(test_commas_can_be_escaped_by_doubling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
