/* Unit tests for vmm/virtio/net on a real tap inside a private network namespace: a frame
 * the guest sends appears on the tap, a frame sent to the tap reaches the guest (merged
 * across small buffers), and frames wait in the tap while the guest has no buffers. Skips
 * without root or network namespaces. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/virtio_driver.h"
#include "vmm/virtio/net.h"

#define TAP	   "svtest0"
#define ETH_P_TEST 0x88b5 /* IEEE local experimental */

static bool have_netns;

struct fx {
	struct vdrv d;
	struct vm_netdev_config nd;
	struct vm_device_config dev;
	struct virtio_net *net;
	int pkt; /* AF_PACKET socket on the tap's interface */
	int ifindex;
};

static int link_up(const char *name)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_net_params p;
	struct sockaddr_ll sll = {0};
	struct errmsg e;
	FILE *fp;

	*state = f;
	if (!have_netns)
		return 0;
	vd_init(&f->d);
	f->nd = (struct vm_netdev_config){
		.id = "n0", .ifname = TAP, .fd = -1, .queues = 1, .vhostfd = -1};
	f->dev.kind = VM_DEV_VIRTIO_NET;
	f->dev.id = "net0";
	f->dev.iothread = -1;
	f->dev.net.queue_size = VD_QSIZE;
	memcpy(f->dev.net.mac, "\x52\x54\x00\x12\x34\x56", 6);
	f->dev.net.mac_set = true;
	p = (struct virtio_net_params){.mem = &f->d.mem,
				       .mmio = f->d.bus,
				       .base = VD_BASE,
				       .irq = {.vm_fd = -1},
				       .loop = f->d.l,
				       .netdev = &f->nd,
				       .dev = &f->dev};
	f->net = virtio_net_create(&p, &e);
	if (!f->net)
		fail_msg("virtio_net_create: %s", errmsg_str(&e));
	/* no IPv6 chatter (router solicitations) on the test link */
	fp = fopen("/proc/sys/net/ipv6/conf/" TAP "/disable_ipv6", "w");
	if (fp) {
		fputs("1", fp);
		fclose(fp);
	}
	assert_int_equal(link_up(TAP), 0);
	f->ifindex = (int)if_nametoindex(TAP);
	f->pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_TEST));
	assert_true(f->pkt >= 0);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_TEST);
	sll.sll_ifindex = f->ifindex;
	assert_int_equal(bind(f->pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (have_netns) {
		close(f->pkt);
		virtio_net_destroy(f->net);
		vd_fini(&f->d);
	}
	free(f);
	return 0;
}

static size_t make_frame(uint8_t *buf, const char *payload)
{
	struct ether_header *eh = (struct ether_header *)buf;
	size_t len = strlen(payload);

	memcpy(eh->ether_dhost, "\x52\x54\x00\x12\x34\x56", 6);
	memcpy(eh->ether_shost, "\x02\x00\x00\x00\x00\x01", 6);
	eh->ether_type = htons(ETH_P_TEST);
	memcpy(buf + sizeof(*eh), payload, len);
	return sizeof(*eh) + len < 60 ? 60 : sizeof(*eh) + len;
}

static void send_to_guest(struct fx *f, const char *payload)
{
	uint8_t buf[1600] = {0};
	size_t len = make_frame(buf, payload);

	assert_int_equal(send(f->pkt, buf, len, 0), (ssize_t)len);
}

static void post_rx(struct fx *f, uint16_t slot, uint32_t len)
{
	vd_desc(&f->d, 0, slot, VD_BUF + 0x1000u * slot, len, 2, 0);
	vd_publish(&f->d, 0, slot);
	vd_wr(&f->d, 0x50, 0);
}

static void test_net_guest_frame_appears_on_the_tap(void **state)
{
	struct fx *f = *state;
	uint8_t frame[1600] = {0}, got[1600];
	struct pollfd pfd;
	size_t len;

	if (!have_netns)
		skip();
	assert_int_equal(vd_rd(&f->d, 0x8), VIRTIO_ID_NET);
	assert_int_equal(vd_rd(&f->d, 0x100) & 0xff, 0x52); /* mac[0] in config */
	assert_true(vd_start(&f->d, 2) & VIRTIO_STATUS_DRIVER_OK);
	len = make_frame(frame, "from the guest");
	/* guest tx: vnet header (12 zero bytes), then the frame */
	memset(f->d.ram + VD_BUF + 0x40000, 0, 12);
	memcpy(f->d.ram + VD_BUF + 0x41000, frame, len);
	vd_desc(&f->d, 1, 0, VD_BUF + 0x40000, 12, 1, 1);
	vd_desc(&f->d, 1, 1, VD_BUF + 0x41000, (uint32_t)len, 0, 0);
	vd_publish(&f->d, 1, 0);
	vd_wr(&f->d, 0x50, 1);
	assert_true(vd_wait_used(&f->d, 1, 1, 2000));
	pfd = (struct pollfd){.fd = f->pkt, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(recv(f->pkt, got, sizeof(got), 0), (ssize_t)len);
	assert_memory_equal(got + 14, "from the guest", 14);
}

static void test_net_tap_frame_reaches_the_guest(void **state)
{
	struct fx *f = *state;
	uint16_t nb;

	if (!have_netns)
		skip();
	assert_true(vd_start(&f->d, 2) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(f, 0, 2048);
	send_to_guest(f, "to the guest");
	assert_true(vd_wait_used(&f->d, 0, 1, 2000));
	assert_int_equal(vd_used_len(&f->d, 0, 0), 12 + 60);
	memcpy(&nb, f->d.ram + VD_BUF + 10, 2);
	assert_int_equal(le16toh(nb), 1); /* num_buffers */
	assert_memory_equal(f->d.ram + VD_BUF + 12 + 14, "to the guest", 12);
}

static void test_net_frame_spans_mergeable_buffers(void **state)
{
	struct fx *f = *state;
	char payload[900];
	uint16_t nb;

	if (!have_netns)
		skip();
	assert_true(vd_start(&f->d, 2) & VIRTIO_STATUS_DRIVER_OK);
	memset(payload, 'm', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	post_rx(f, 0, 512);
	post_rx(f, 1, 512);
	post_rx(f, 2, 512);
	send_to_guest(f, payload);
	assert_true(vd_wait_used(&f->d, 0, 2, 2000));
	memcpy(&nb, f->d.ram + VD_BUF + 10, 2);
	assert_int_equal(le16toh(nb), 2);
	assert_int_equal(vd_used_len(&f->d, 0, 0), 512);
	assert_int_equal(vd_used_len(&f->d, 0, 1), 12 + 14 + 899 - 512);
	assert_int_equal(f->d.ram[VD_BUF + 0x1000 + 10], 'm');
}

static void test_net_frames_wait_while_the_guest_has_no_buffers(void **state)
{
	struct fx *f = *state;
	int i;

	if (!have_netns)
		skip();
	assert_true(vd_start(&f->d, 2) & VIRTIO_STATUS_DRIVER_OK);
	for (i = 0; i < 5; i++) {
		char msg[32];

		snprintf(msg, sizeof(msg), "frame %d", i);
		send_to_guest(f, msg);
	}
	for (i = 0; i < 20; i++)
		loop_run_once(f->d.l, 5);
	assert_int_equal(vd_used_idx(&f->d, 0), 0);
	/* buffers arrive one by one: every frame comes through, in order */
	for (i = 0; i < 5; i++) {
		char msg[32];

		post_rx(f, (uint16_t)i, 2048);
		assert_true(vd_wait_used(&f->d, 0, (uint16_t)(i + 1), 2000));
		snprintf(msg, sizeof(msg), "frame %d", i);
		assert_memory_equal(f->d.ram + VD_BUF + 0x1000u * i + 12 + 14, msg, strlen(msg));
	}
}

static void ctrl_cmd(struct fx *f, uint16_t slot, uint8_t cls, uint8_t cmd, uint16_t arg,
		     uint16_t used_want)
{
	uint8_t *b = f->d.ram + VD_BUF + 0x60000 + 0x10u * slot;
	uint16_t a = htole16(arg);

	b[0] = cls;
	b[1] = cmd;
	memcpy(b + 2, &a, 2);
	b[8] = 0xee;
	vd_desc(&f->d, 4, slot, VD_BUF + 0x60000 + 0x10u * slot, 4, 1, (uint16_t)(slot + 1));
	vd_desc(&f->d, 4, (uint16_t)(slot + 1), VD_BUF + 0x60000 + 0x10u * slot + 8, 1, 2, 0);
	vd_publish(&f->d, 4, slot);
	vd_wr(&f->d, 0x50, 4);
	assert_true(vd_wait_used(&f->d, 4, used_want, 2000));
}

static void test_net_multiqueue_pairs_and_control_queue(void **state)
{
	struct fx *f = *state;
	struct virtio_net_params p;
	struct errmsg e;
	uint8_t frame[128] = {0}, got[128];
	struct pollfd pfd;
	size_t len;

	if (!have_netns)
		skip();
	/* a second device on a two-queue tap */
	virtio_net_destroy(f->net);
	close(f->pkt);
	f->nd = (struct vm_netdev_config){
		.id = "n0", .ifname = "svtest1", .fd = -1, .queues = 2, .vhostfd = -1};
	f->dev.net.mq = true;
	p = (struct virtio_net_params){.mem = &f->d.mem,
				       .mmio = f->d.bus,
				       .base = VD_BASE,
				       .irq = {.vm_fd = -1},
				       .loop = f->d.l,
				       .netdev = &f->nd,
				       .dev = &f->dev};
	f->net = virtio_net_create(&p, &e);
	if (!f->net)
		fail_msg("virtio_net_create: %s", errmsg_str(&e));
	assert_int_equal(link_up("svtest1"), 0);
	f->pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_TEST));
	{
		struct sockaddr_ll sll = {.sll_family = AF_PACKET,
					  .sll_protocol = htons(ETH_P_TEST),
					  .sll_ifindex = (int)if_nametoindex("svtest1")};

		assert_int_equal(bind(f->pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	}
	vd_wr(&f->d, 0x14, 0);
	assert_true(vd_rd(&f->d, 0x10) & (1u << 22));	   /* MQ */
	assert_true(vd_rd(&f->d, 0x10) & (1u << 17));	   /* CTRL_VQ */
	assert_int_equal(vd_rd(&f->d, 0x108) & 0xffff, 2); /* max_virtqueue_pairs */
	assert_true(vd_start(&f->d, 5) & VIRTIO_STATUS_DRIVER_OK);
	ctrl_cmd(f, 0, 4, 0, 2, 1); /* VQ_PAIRS_SET 2 */
	assert_int_equal(f->d.ram[VD_BUF + 0x60000 + 8], 0);
	ctrl_cmd(f, 2, 4, 0, 3, 2); /* more pairs than exist */
	assert_int_equal(f->d.ram[VD_BUF + 0x60000 + 0x20 + 8], 1);
	/* transmit on the second pair's queue (3) */
	len = make_frame(frame, "second pair");
	memcpy(f->d.ram + VD_BUF + 0x41000, frame, len);
	vd_desc(&f->d, 3, 0, VD_BUF + 0x40000, 12, 1, 1);
	vd_desc(&f->d, 3, 1, VD_BUF + 0x41000, (uint32_t)len, 0, 0);
	vd_publish(&f->d, 3, 0);
	vd_wr(&f->d, 0x50, 3);
	assert_true(vd_wait_used(&f->d, 3, 1, 2000));
	pfd = (struct pollfd){.fd = f->pkt, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(recv(f->pkt, got, sizeof(got), 0), (ssize_t)len);
	assert_memory_equal(got + 14, "second pair", 11);
}

static void test_net_fd_that_is_not_a_tap_is_refused(void **state)
{
	struct fx *f = *state;
	struct vm_netdev_config nd = {.id = "n1", .fd = 0, .queues = 1, .vhostfd = -1};
	struct vm_device_config dev = {.kind = VM_DEV_VIRTIO_NET, .id = "net1", .iothread = -1};
	struct virtio_net_params p;
	struct vdrv d;
	struct errmsg e;

	(void)f;
	vd_init(&d);
	p = (struct virtio_net_params){.mem = &d.mem,
				       .mmio = d.bus,
				       .base = VD_BASE,
				       .irq = {.vm_fd = -1},
				       .loop = d.l,
				       .netdev = &nd,
				       .dev = &dev};
	assert_null(virtio_net_create(&p, &e));
	assert_non_null(strstr(errmsg_str(&e), "-netdev n1: fd 0 is not a tap"));
	vd_fini(&d);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_net_guest_frame_appears_on_the_tap),
		T(test_net_tap_frame_reaches_the_guest),
		T(test_net_frame_spans_mergeable_buffers),
		T(test_net_frames_wait_while_the_guest_has_no_buffers),
		T(test_net_multiqueue_pairs_and_control_queue),
		T(test_net_fd_that_is_not_a_tap_is_refused),
	};

	/* A private network namespace: the tap never touches the host's networking. */
	have_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0 &&
		     access("/dev/net/tun", R_OK | W_OK) == 0;
	if (!have_netns)
		fprintf(stderr, "vmm_virtio_net_test: no root/netns/tun: tap tests skip\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
