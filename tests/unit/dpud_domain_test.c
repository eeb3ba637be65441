/* Unit tests for dpu-agent/domain_xml.c: parsing, validation and round-trip of domain XML. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpu-agent/domain.h"

#define HEAD "<domain type='kvm'><name>web1</name>"
#define OS   "<os><type arch='x86_64'>hvm</type><kernel>/img/guest.bin</kernel></os>"
#define MEM  "<memory unit='MiB'>256</memory>"

static struct domain_def *parse_ok(const char *xml, struct dom_warnings *w)
{
	struct domain_def *d = NULL;
	struct errmsg e = {{0}};
	int ret = domain_parse(xml, strlen(xml), &d, w, &e);

	if (ret)
		fail_msg("parse failed: %s", e.text);
	return d;
}

/* Parses expecting a refusal whose message contains `needle`. */
static void parse_bad(const char *xml, const char *needle)
{
	struct domain_def *d = NULL;
	struct errmsg e = {{0}};
	int ret = domain_parse(xml, strlen(xml), &d, NULL, &e);

	assert_int_equal(ret, -EINVAL);
	assert_null(d);
	if (!strstr(e.text, needle))
		fail_msg("message '%s' does not name '%s'", e.text, needle);
}

static void test_domain_parses_full_example(void **state)
{
	const char *xml =
		"<domain type='kvm'>\n"
		"  <name>web1</name>\n"
		"  <uuid>ab472210-db8c-4018-9b3e-fc5319a769f7</uuid>\n"
		"  <memory unit='GiB'>1</memory>\n"
		"  <currentMemory unit='MiB'>512</currentMemory>\n"
		"  <vcpu placement='static' current='2'>4</vcpu>\n"
		"  <os><type arch='x86_64' machine='microvm'>hvm</type>\n"
		"    <kernel>/var/lib/splitvirt/images/vmlinux</kernel>\n"
		"    <initrd>/var/lib/splitvirt/images/initrd</initrd>\n"
		"    <cmdline>console=ttyS0 reboot=k panic=1</cmdline></os>\n"
		"  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>\n"
		"  <on_crash>restart</on_crash>\n"
		"  <devices>\n"
		"    <emulator>/usr/bin/splitvm</emulator>\n"
		"    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' "
		"io='io_uring'/><source file='/img/root.img'/><target dev='vda' bus='virtio'/>"
		"<serial>disk-0</serial></disk>\n"
		"    <disk type='file'><source file='/img/data.img'/><target dev='vdb'/><readonly/>"
		"</disk>\n"
		"    <interface type='bridge'><mac address='52:54:00:12:34:56'/><source "
		"bridge='br0'/><target dev='svtap0'/><model type='virtio'/><driver queues='2'/>"
		"<mtu size='9000'/></interface>\n"
		"    <serial type='pty'><target port='0'/></serial>\n"
		"    <console type='pty'><target type='serial' port='0'/></console>\n"
		"    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
		"    <memballoon model='virtio' autodeflate='on'/>\n"
		"    <vsock model='virtio'><cid auto='no' address='5'/></vsock>\n"
		"  </devices>\n"
		"</domain>\n";
	struct domain_def *d = parse_ok(xml, NULL);
	char uuid[37];

	assert_string_equal(d->name, "web1");
	domain_uuid_format(d->uuid, uuid);
	assert_string_equal(uuid, "ab472210-db8c-4018-9b3e-fc5319a769f7");
	assert_int_equal(d->memory_kib, 1024 * 1024);
	assert_int_equal(d->current_memory_kib, 512 * 1024);
	assert_int_equal(d->vcpus, 4);
	assert_int_equal(d->vcpus_cur, 2);
	assert_string_equal(d->kernel, "/var/lib/splitvirt/images/vmlinux");
	assert_string_equal(d->initrd, "/var/lib/splitvirt/images/initrd");
	assert_string_equal(d->cmdline, "console=ttyS0 reboot=k panic=1");
	assert_int_equal(d->on_crash, DOM_ACT_RESTART);
	assert_int_equal(d->n_disks, 2);
	assert_int_equal(d->disks[0].cache, DOM_CACHE_NONE);
	assert_int_equal(d->disks[0].io, DOM_IO_URING);
	assert_string_equal(d->disks[0].serial, "disk-0");
	assert_true(d->disks[1].readonly);
	assert_int_equal(d->n_ifaces, 1);
	assert_string_equal(d->ifaces[0].bridge, "br0");
	assert_string_equal(d->ifaces[0].target, "svtap0");
	assert_int_equal(d->ifaces[0].queues, 2);
	assert_int_equal(d->ifaces[0].mtu, 9000);
	assert_int_equal(d->ifaces[0].mac[5], 0x56);
	assert_int_equal(d->serial, DOM_SERIAL_PTY);
	assert_true(d->rng);
	assert_true(d->balloon);
	assert_true(d->balloon_deflate_on_oom);
	assert_true(d->vsock);
	assert_int_equal(d->vsock_cid, 5);
	domain_free(d);
}

static void test_domain_memory_units_follow_libvirt(void **state)
{
	static const struct {
		const char *mem;
		uint64_t kib;
	} cases[] = {
		{"<memory>262144</memory>", 262144},
		{"<memory unit='KiB'>131072</memory>", 131072},
		{"<memory unit='k'>131072</memory>", 131072},
		{"<memory unit='M'>200</memory>", 200 * 1024},
		{"<memory unit='G'>2</memory>", 2 * 1024 * 1024},
		{"<memory unit='b'>268435456</memory>", 262144},
		{"<memory unit='bytes'>268435457</memory>", 262145}, /* rounds up */
		{"<memory unit='MB'>1000</memory>", 976563},	     /* 1e9 bytes, rounded up */
		{"<memory unit='GB'>1</memory>", 976563},
		{"<memory unit='TiB'>0</memory>", 0},
	};
	char xml[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(xml, sizeof(xml), HEAD "%s" OS "</domain>", cases[i].mem);
		if (cases[i].kib == 0) {
			parse_bad(xml, "memory");
			continue;
		}
		struct domain_def *d = parse_ok(xml, NULL);
		assert_int_equal(d->memory_kib, cases[i].kib);
		assert_int_equal(d->current_memory_kib, cases[i].kib);
		domain_free(d);
	}
}

static void test_domain_refuses_memory_out_of_range(void **state)
{
	parse_bad(HEAD "<memory unit='MiB'>64</memory>" OS "</domain>",
		  "memory: 64 MiB is out of range");
	parse_bad(HEAD "<memory unit='TiB'>1</memory>" OS "</domain>", "out of range");
	parse_bad(HEAD "<memory unit='EiB'>1</memory>" OS "</domain>", "unknown unit 'EiB'");
	parse_bad(HEAD "<memory unit='b'>18446744073709551615</memory>" OS "</domain>",
		  "out of range");
	parse_bad(HEAD "<memory unit='GiB'>18446744073709551615</memory>" OS "</domain>",
		  "out of range");
	parse_bad(HEAD "<memory>-1</memory>" OS "</domain>", "not a number");
	parse_bad(HEAD "<memory> 0x100000</memory>" OS "</domain>", "not a number");
	parse_bad(HEAD MEM "<currentMemory unit='MiB'>512</currentMemory>" OS "</domain>",
		  "currentMemory: larger than memory");
	parse_bad(HEAD OS "</domain>", "memory: missing");
}

static void test_domain_refuses_missing_kernel(void **state)
{
	parse_bad(HEAD MEM "<os><type>hvm</type></os></domain>", "os/kernel: missing");
	parse_bad(HEAD MEM "</domain>", "os/kernel: missing");
	parse_bad(HEAD MEM "<os><type>hvm</type><kernel>relative/k</kernel></os></domain>",
		  "not an absolute path");
	parse_bad(HEAD MEM
		  "<os><type>hvm</type><loader>/x</loader><kernel>/k</kernel></os></domain>",
		  "os/loader: not supported");
	parse_bad(HEAD MEM "<os><type>xen</type><kernel>/k</kernel></os></domain>",
		  "os/type: 'xen'");
	parse_bad(HEAD MEM "<os><type arch='aarch64'>hvm</type><kernel>/k</kernel></os></domain>",
		  "arch 'aarch64'");
}

static void test_domain_refuses_unknown_device_naming_it(void **state)
{
	parse_bad(HEAD MEM OS "<devices><graphics type='vnc'/></devices></domain>",
		  "devices/graphics: not supported");
	parse_bad(HEAD MEM OS "<devices><hostdev/></devices></domain>", "devices/hostdev");
	parse_bad(HEAD MEM OS "<blkiotune/></domain>", "blkiotune: not supported");
	parse_bad(HEAD MEM OS
		  "<devices><disk type='block'><source dev='/dev/sda'/></disk></devices>"
		  "</domain>",
		  "type 'block' is not supported");
	parse_bad(HEAD MEM OS "<devices><disk type='file' device='cdrom'/></devices></domain>",
		  "device 'cdrom'");
	parse_bad(HEAD MEM OS "<devices><disk type='file'><driver type='qcow2'/><source "
			      "file='/a'/><target dev='vda'/></disk></devices></domain>",
		  "driver type 'qcow2'");
	parse_bad(HEAD MEM OS "<devices><disk type='file'><driver io='posix'/><source "
			      "file='/a'/><target dev='vda'/></disk></devices></domain>",
		  "io 'posix'");
	parse_bad(HEAD MEM OS "<devices><disk type='file'><source file='/a'/><target dev='sda' "
			      "bus='sata'/></disk></devices></domain>",
		  "target bus 'sata'");
	parse_bad(HEAD MEM OS "<devices><interface type='network'><source network='default'/>"
			      "</interface></devices></domain>",
		  "type 'network' is not supported");
	parse_bad(HEAD MEM OS "<devices><interface type='bridge'><source bridge='br0'/><model "
			      "type='e1000'/></interface></devices></domain>",
		  "model 'e1000'");
	parse_bad(HEAD MEM OS "<devices><emulator>/usr/bin/qemu-kvm</emulator></devices></domain>",
		  "emulator: '/usr/bin/qemu-kvm' is not supported");
	parse_bad("<domain type='qemu'><name>a</name>" MEM OS "</domain>", "type 'qemu'");
	parse_bad("<vm/>", "root element must be <domain>");
}

static void test_domain_refuses_bad_values(void **state)
{
	parse_bad(HEAD MEM "<vcpu>0</vcpu>" OS "</domain>",
		  "vcpu: '0' must be a number from 1 to 254");
	parse_bad(HEAD MEM "<vcpu>255</vcpu>" OS "</domain>", "from 1 to 254");
	parse_bad(HEAD MEM "<vcpu current='3'>2</vcpu>" OS "</domain>", "vcpu: current");
	parse_bad(HEAD MEM OS "<on_crash>coredump-destroy</on_crash></domain>",
		  "on_crash: 'coredump-destroy'");
	parse_bad(HEAD MEM OS "<on_reboot>preserve</on_reboot></domain>", "on_reboot: 'preserve'");
	parse_bad(HEAD MEM OS "<uuid>not-a-uuid</uuid></domain>", "uuid: 'not-a-uuid'");
	parse_bad(HEAD MEM OS
		  "<devices><interface type='ethernet'><mac address='01:00:5e:00:00:01'/>"
		  "</interface></devices></domain>",
		  "not a unicast MAC");
	parse_bad(HEAD MEM OS
		  "<devices><interface type='ethernet'><mac address='52:54:00:zz:00:01'/>"
		  "</interface></devices></domain>",
		  "mac address '52:54:00:zz:00:01'");
	parse_bad(HEAD MEM OS "<devices><interface type='bridge'/></devices></domain>",
		  "source bridge missing");
	parse_bad(HEAD MEM OS "<devices><interface type='ethernet'><target "
			      "dev='a-very-long-interface-name'/></interface></devices></domain>",
		  "target dev");
	parse_bad(HEAD MEM OS "<devices><vsock><cid address='2'/></vsock></devices></domain>",
		  "cid address: '2'");
	parse_bad(HEAD MEM OS "<devices><vsock><cid auto='yes'/></vsock></devices></domain>",
		  "auto='yes'");
	parse_bad(HEAD MEM OS "<devices><serial type='tcp'/></devices></domain>", "type 'tcp'");
	parse_bad(HEAD MEM OS "<devices><serial type='pty'/><serial type='unix'><source "
			      "mode='bind' path='/run/x.sock'/></serial></devices></domain>",
		  "second, different serial");
	parse_bad(HEAD MEM OS "<devices><disk type='file'><source file='/a,b'/><target "
			      "dev='vda'/></disk></devices></domain>",
		  "','");
	parse_bad(HEAD MEM OS
		  "<devices><disk type='file'><source file='/a'/><target dev='vda'/>"
		  "</disk><disk type='file'><source file='/b'/><target dev='vda'/></disk>"
		  "</devices></domain>",
		  "'vda' used twice");
	parse_bad(HEAD MEM OS "<devices><disk type='file'><target dev='vda'/></disk></devices>"
			      "</domain>",
		  "source file missing");
	parse_bad(HEAD MEM OS "<devices><rng model='virtio'><rate bytes='1' period='1000'/></rng>"
			      "</devices></domain>",
		  "outside 64..1000000000");
}

static void test_domain_refuses_bad_names(void **state)
{
	parse_bad("<domain type='kvm'><name>../etc</name>" MEM OS "</domain>", "name: '../etc'");
	parse_bad("<domain type='kvm'><name>a/b</name>" MEM OS "</domain>", "name: 'a/b'");
	parse_bad("<domain type='kvm'><name></name>" MEM OS "</domain>", "name: empty");
	parse_bad("<domain type='kvm'>" MEM OS "</domain>", "name: missing");
	parse_bad("<domain "
		  "type='kvm'><name>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaa</name>" MEM OS "</domain>",
		  "name: value too long");
	parse_bad("<domain type='kvm'><name>a<b/></name>" MEM OS "</domain>",
		  "unexpected element <b>");
}

static void test_domain_refuses_malformed_and_hostile_xml(void **state)
{
	struct domain_def *d = NULL;
	struct errmsg e;

	parse_bad("<domain type='kvm'><name>a</name>", "domain XML: line");
	parse_bad("not xml at all", "domain XML");
	parse_bad("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
		  "<!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]><domain type='kvm'><name>&lol2;</name>"
		  "</domain>",
		  "DOCTYPE");
	parse_bad("<!DOCTYPE domain SYSTEM 'file:///etc/passwd'><domain/>", "DOCTYPE");
	parse_bad("<domain type='kvm'><name>&xxe;</name></domain>", "domain XML");
	assert_int_equal(domain_parse("", 0, &d, NULL, &e), -EINVAL);
	assert_int_equal(domain_parse("<domain/>", DOM_XML_MAX + 1, &d, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.text, "larger than"));
	/* Embedded NUL in the middle of the document. */
	assert_int_equal(domain_parse("<domain type='kvm'>\0</domain>", 26, &d, NULL, &e), -EINVAL);
	assert_null(d);
}

static void test_domain_warns_about_harmless_elements(void **state)
{
	struct dom_warnings w;
	struct domain_def *d = parse_ok(
		HEAD MEM "<clock offset='utc'/><features><acpi/><apic/></features><cpu "
			 "mode='host-passthrough'/>"
			 "<os><type machine='pc-q35-7.2'>hvm</type><kernel>/k</kernel><boot "
			 "dev='hd'/></os><devices><controller type='usb'/><input type='mouse' "
			 "bus='ps2'/></devices></domain>",
		&w);
	bool clock = false, machine = false, usb = false;

	for (size_t i = 0; i < w.n; i++) {
		clock |= strstr(w.text[i], "clock: ignored") != NULL;
		machine |= strstr(w.text[i], "machine 'pc-q35-7.2' ignored") != NULL;
		usb |= strstr(w.text[i], "devices/controller: ignored") != NULL;
	}
	assert_true(clock);
	assert_true(machine);
	assert_true(usb);
	domain_free(d);
}

static void test_domain_generates_uuid_when_absent(void **state)
{
	struct domain_def *a = parse_ok(HEAD MEM OS "</domain>", NULL);
	struct domain_def *b = parse_ok(HEAD MEM OS "</domain>", NULL);
	static const uint8_t zero[16];

	assert_memory_not_equal(a->uuid, zero, 16);
	assert_memory_not_equal(a->uuid, b->uuid, 16);
	assert_int_equal(a->uuid[6] >> 4, 4);
	domain_free(a);
	domain_free(b);
}

static void test_domain_defaults_follow_libvirt(void **state)
{
	struct domain_def *d = parse_ok(HEAD MEM OS "</domain>", NULL);

	assert_int_equal(d->vcpus, 1);
	assert_int_equal(d->on_poweroff, DOM_ACT_DESTROY);
	assert_int_equal(d->on_reboot, DOM_ACT_RESTART);
	assert_int_equal(d->on_crash, DOM_ACT_DESTROY);
	assert_int_equal(d->serial, DOM_SERIAL_NONE);
	assert_false(d->balloon);
	domain_free(d);
}

static void test_domain_dumpxml_round_trips(void **state)
{
	const char *xml =
		"<domain type='kvm'><name>rt</name><memory unit='MiB'>300</memory>"
		"<currentMemory unit='MiB'>200</currentMemory><vcpu current='1'>2</vcpu>"
		"<os><type>hvm</type><kernel>/k</kernel><initrd>/i</initrd>"
		"<cmdline>console=ttyS0 a=&quot;b c&quot; &lt;x&gt;</cmdline></os>"
		"<on_crash>preserve</on_crash><devices>"
		"<disk type='file'><driver cache='writeback' io='threads'/><source file='/d'/>"
		"<target dev='vdc'/><readonly/><serial>s1</serial></disk>"
		"<interface type='ethernet'><target dev='svtap7'/><mtu size='1400'/></interface>"
		"<serial type='unix'><source mode='bind' path='/run/c.sock'/></serial>"
		"<rng model='virtio'><rate period='100' bytes='1000'/><backend "
		"model='random'>/dev/random</backend></rng>"
		"<memballoon model='virtio' freePageReporting='on'/>"
		"<vsock><cid auto='no' address='42'/></vsock></devices></domain>";
	struct domain_def *a = parse_ok(xml, NULL), *b;
	char *x1, *x2;

	x1 = domain_format(a);
	assert_non_null(x1);
	assert_non_null(strstr(x1, "<domain type=\"kvm\">"));
	assert_null(strstr(x1, "<?xml"));
	b = parse_ok(x1, NULL);
	x2 = domain_format(b);
	assert_string_equal(x1, x2);
	assert_memory_equal(a->uuid, b->uuid, 16);
	assert_string_equal(b->cmdline, "console=ttyS0 a=\"b c\" <x>");
	assert_int_equal(b->vcpus_cur, 1);
	assert_int_equal(b->on_crash, DOM_ACT_PRESERVE);
	assert_int_equal(b->disks[0].cache, DOM_CACHE_WRITEBACK);
	assert_int_equal(b->disks[0].io, DOM_IO_THREADS);
	assert_memory_equal(a->ifaces[0].mac, b->ifaces[0].mac, 6);
	assert_int_equal(b->ifaces[0].mtu, 1400);
	assert_string_equal(b->serial_path, "/run/c.sock");
	assert_string_equal(b->rng_backend, "/dev/random");
	assert_int_equal(b->rng_bytes, 1000);
	assert_true(b->balloon_free_page_reporting);
	assert_int_equal(b->vsock_cid, 42);
	free(x1);
	free(x2);
	domain_free(a);
	domain_free(b);
}

static void test_domain_generated_macs_are_stable_and_distinct(void **state)
{
	const char *xml = HEAD MEM OS
		"<uuid>11111111-2222-3333-4444-555555555555</uuid><devices>"
		"<interface type='ethernet'/><interface type='ethernet'/></devices></domain>";
	struct domain_def *a = parse_ok(xml, NULL), *b = parse_ok(xml, NULL);

	assert_memory_equal(a->ifaces[0].mac, b->ifaces[0].mac, 6);
	assert_memory_not_equal(a->ifaces[0].mac, a->ifaces[1].mac, 6);
	assert_int_equal(a->ifaces[0].mac[0], 0x52);
	domain_free(a);
	domain_free(b);
}

static void test_domain_dup_copies_everything(void **state)
{
	struct domain_def *a = parse_ok(HEAD MEM OS "<devices><disk type='file'><source file='/x'/>"
						    "<target dev='vda'/></disk></devices></domain>",
					NULL);
	struct domain_def *b = domain_dup(a);

	assert_non_null(b);
	assert_string_equal(b->disks[0].source, "/x");
	assert_memory_equal(a->uuid, b->uuid, 16);
	domain_free(a);
	domain_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_parses_full_example),
		cmocka_unit_test(test_domain_memory_units_follow_libvirt),
		cmocka_unit_test(test_domain_refuses_memory_out_of_range),
		cmocka_unit_test(test_domain_refuses_missing_kernel),
		cmocka_unit_test(test_domain_refuses_unknown_device_naming_it),
		cmocka_unit_test(test_domain_refuses_bad_values),
		cmocka_unit_test(test_domain_refuses_bad_names),
		cmocka_unit_test(test_domain_refuses_malformed_and_hostile_xml),
		cmocka_unit_test(test_domain_warns_about_harmless_elements),
		cmocka_unit_test(test_domain_generates_uuid_when_absent),
		cmocka_unit_test(test_domain_defaults_follow_libvirt),
		cmocka_unit_test(test_domain_dumpxml_round_trips),
		cmocka_unit_test(test_domain_generated_macs_are_stable_and_distinct),
		cmocka_unit_test(test_domain_dup_copies_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
