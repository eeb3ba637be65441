/* Unit tests for dpu-agent/render.c: the exact splitvm argv a domain renders to. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpu-agent/render.h"

static const struct render_opts opts = {
	.splitvm = "/usr/bin/splitvm",
	.run_dir = "/run/splitvirt/vms",
	.tap_prefix = "sv",
};

static struct domain_def *parse(const char *xml)
{
	struct domain_def *d = NULL;
	struct errmsg e = {{0}};

	if (domain_parse(xml, strlen(xml), &d, NULL, &e))
		fail_msg("parse: %s", e.text);
	return d;
}

static void expect_argv(const struct argv *a, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		if (i >= a->n)
			fail_msg("argv ends at %zu, expected '%s'", i, want[i]);
		if (strcmp(a->v[i], want[i]) != 0)
			fail_msg("argv[%zu] = '%s', expected '%s'", i, a->v[i], want[i]);
	}
	assert_int_equal(a->n, i);
	assert_null(a->v[a->n]);
}

static void test_render_minimal_domain(void **state)
{
	struct domain_def *d = parse("<domain type='kvm'><name>g1</name><memory>262144</memory>"
				     "<os><type>hvm</type><kernel>/img/guest.bin</kernel>"
				     "<cmdline>console=ttyS0 a b</cmdline></os>"
				     "<devices><serial type='pty'/></devices></domain>");
	static const char *const want[] = {
		"/usr/bin/splitvm",
		"-name",
		"g1",
		"-machine",
		"microvm",
		"-smp",
		"1",
		"-m",
		"256M",
		"-kernel",
		"/img/guest.bin",
		"-append",
		"console=ttyS0 a b",
		"-serial",
		"socket,path=/run/splitvirt/vms/g1/serial.sock,server,nowait",
		"-qmp",
		"unix:/run/splitvirt/vms/g1/qmp.sock,server,nowait",
		"-S",
		"-D",
		"/run/splitvirt/vms/g1/splitvm.log",
		"-daemonize",
		"-pidfile",
		"/run/splitvirt/vms/g1/pid",
		NULL,
	};
	struct argv a;
	struct errmsg e;

	assert_int_equal(render_argv(d, &opts, &a, &e), 0);
	expect_argv(&a, want);
	argv_free(&a);
	domain_free(d);
}

static void test_render_all_devices(void **state)
{
	struct domain_def *d = parse(
		"<domain "
		"type='kvm'><name>full</name><uuid>0a0b0c0d-2222-3333-4444-555555555555</uuid>"
		"<memory unit='KiB'>300001</memory><vcpu current='2'>4</vcpu>"
		"<os><type>hvm</type><kernel>/k</kernel><initrd>/i</initrd></os><devices>"
		"<emulator>/opt/splitvm</emulator>"
		"<disk type='file'><driver cache='none' io='native'/><source file='/img/a.img'/>"
		"<target dev='vda'/><serial>sn1</serial></disk>"
		"<disk type='file'><source file='/img/b.img'/><target dev='vdb'/><readonly/></disk>"
		"<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
		"<target dev='svweb0'/><driver queues='4'/></interface>"
		"<interface type='ethernet'><mac address='52:54:00:00:00:02'/></interface>"
		"<serial type='unix'><source mode='bind' path='/run/con.sock'/></serial>"
		"<rng model='virtio'><rate period='1000' bytes='4096'/><backend "
		"model='random'>/dev/random</backend></rng>"
		"<memballoon model='virtio' autodeflate='on'/>"
		"<vsock><cid auto='no' address='7'/></vsock></devices></domain>");
	static const char *const want[] = {
		"/opt/splitvm",
		"-name",
		"full",
		"-machine",
		"microvm",
		"-smp",
		"2,maxcpus=4",
		"-m",
		"293M",
		"-kernel",
		"/k",
		"-initrd",
		"/i",
		"-drive",
		"id=drive-vda,file=/img/a.img,readonly=off,direct=on,aio=native",
		"-device",
		"virtio-blk-device,drive=drive-vda,id=vda,serial=sn1",
		"-drive",
		"id=drive-vdb,file=/img/b.img,readonly=on,direct=off",
		"-device",
		"virtio-blk-device,drive=drive-vdb,id=vdb",
		"-netdev",
		"tap,id=net0,ifname=svweb0,queues=4",
		"-device",
		"virtio-net-device,id=net0-dev,netdev=net0,mac=52:54:00:00:00:01,mq=on",
		"-netdev",
		"tap,id=net1,ifname=sv0a0b0c0d1",
		"-device",
		"virtio-net-device,id=net1-dev,netdev=net1,mac=52:54:00:00:00:02",
		"-serial",
		"socket,path=/run/con.sock,server,nowait",
		"-object",
		"rng-random,id=rng0,filename=/dev/random",
		"-device",
		"virtio-rng-device,rng=rng0,max-bytes=4096,period=1000",
		"-device",
		"virtio-balloon-device,deflate-on-oom=true",
		"-device",
		"vhost-vsock-device,id=vsock0,guest-cid=7",
		"-qmp",
		"unix:/run/splitvirt/vms/full/qmp.sock,server,nowait",
		"-S",
		"-D",
		"/run/splitvirt/vms/full/splitvm.log",
		"-daemonize",
		"-pidfile",
		"/run/splitvirt/vms/full/pid",
		NULL,
	};
	struct argv a;
	struct errmsg e;

	assert_int_equal(render_argv(d, &opts, &a, &e), 0);
	expect_argv(&a, want);
	argv_free(&a);
	domain_free(d);
}

static void test_render_tap_names_fit_ifnamsiz(void **state)
{
	struct domain_def *d = parse("<domain type='kvm'><name>t</name><memory>262144</memory>"
				     "<os><type>hvm</type><kernel>/k</kernel></os><devices>"
				     "<interface type='ethernet'/></devices></domain>");
	struct render_opts o = opts;
	char tap[32];

	o.tap_prefix = "svtap-";
	assert_int_equal(render_tap_name(&o, d, 0, tap, sizeof(tap)), 0);
	assert_true(strlen(tap) <= 15);
	assert_true(strncmp(tap, "svtap-", 6) == 0);
	o.tap_prefix = "toolong";
	assert_int_equal(render_tap_name(&o, d, 0, tap, sizeof(tap)), -ENAMETOOLONG);
	assert_int_equal(render_tap_name(&o, d, 1, tap, sizeof(tap)), -EINVAL);
	domain_free(d);
}

static void test_render_refuses_socket_path_too_long(void **state)
{
	struct domain_def *d = parse(
		"<domain "
		"type='kvm'><name>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</name>"
		"<memory>262144</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>");
	struct render_opts o = opts;
	struct argv a;
	struct errmsg e;

	o.run_dir = "/a/very/long/run/directory/that/pushes/the/socket/path/over";
	assert_int_equal(render_argv(d, &o, &a, &e), -ENAMETOOLONG);
	assert_non_null(strstr(e.text, "QMP socket path too long"));
	assert_null(a.v);
	domain_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_minimal_domain),
		cmocka_unit_test(test_render_all_devices),
		cmocka_unit_test(test_render_tap_names_fit_ifnamsiz),
		cmocka_unit_test(test_render_refuses_socket_path_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
