/*
 * virtio_drv: a minimal polled virtio-mmio (version 2) driver for the freestanding test
 * guests, plus the small runtime they share (serial output, command-line options, power).
 * Devices are found from the virtio_mmio.device= entries (SIZE@BASE:IRQ) on the command line,
 * which splitvm and QEMU microvm both append.
 */
#ifndef SV_GUEST_VIRTIO_DRV_H
#define SV_GUEST_VIRTIO_DRV_H

#include <stddef.h>
#include <stdint.h>

/* ---- runtime (virtio_guest.c) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t g_strlen(const char *s);
int g_strncmp(const char *a, const char *b, size_t n);
void g_puts(const char *s);
void g_put_hex(uint64_t v);
void g_put_dec(uint64_t v);
void g_report(const char *what, int ok, const char *detail);
/* Value of key= on the command line into out; 0 if absent. */
int g_opt(const char *key, char *out, size_t outlen);
uint64_t g_opt_u64(const char *key, uint64_t dflt);
const char *g_cmdline(void);
void g_power_off(int failed) __attribute__((noreturn));
uint64_t g_rdtsc(void);
static inline void g_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}
static inline uint8_t g_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void g_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* ---- driver (virtio_drv.c) ---- */
#define VD_ID_NET     1
#define VD_ID_BLK     2
#define VD_ID_CONSOLE 3
#define VD_ID_RNG     4
#define VD_ID_BALLOON 5
#define VD_ID_VSOCK   19

#define VD_F_VERSION_1 32

#define VQ_F_NEXT  1
#define VQ_F_WRITE 2

#define VD_QMAX 64 /* ring size the driver uses (or the device's maximum if smaller) */

struct vd_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vd_queue {
	uint16_t size;
	uint16_t idx; /* queue index on the device */
	volatile struct vd_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint32_t *used;  /* flags|idx, then {id, len} pairs */
	uint16_t avail_idx;
	uint16_t last_used;
	uint16_t free_head;
	uint16_t nfree;
	uint16_t chain_len[VD_QMAX];
};

struct vd_dev {
	uint64_t base;
	uint32_t irq;
	uint32_t device_id;
	uint64_t features; /* negotiated */
};

/* One buffer of a request. */
struct vd_buf {
	void *addr;
	uint32_t len;
	int writable; /* device writes into it */
};

/* Fills up to max devices from the command line; returns how many were found. */
int vd_find(struct vd_dev *out, int max);
/* The first device of that id, or 0. */
int vd_find_id(uint32_t id, struct vd_dev *out);
uint32_t vd_read32(const struct vd_dev *d, uint32_t off);
void vd_write32(const struct vd_dev *d, uint32_t off, uint32_t v);
uint8_t vd_config8(const struct vd_dev *d, uint32_t off);
uint32_t vd_config32(const struct vd_dev *d, uint32_t off);
void vd_config_write32(const struct vd_dev *d, uint32_t off, uint32_t v);
/* Reset, ACKNOWLEDGE, DRIVER, features (want & offered, VERSION_1 always), FEATURES_OK.
 * 0 or -1 (the device refused). */
int vd_init(struct vd_dev *d, uint64_t want);
/* Sets up queue idx (slot must be a distinct static index < 8). 0 or -1. */
int vd_queue_setup(struct vd_dev *d, uint32_t idx, struct vd_queue *q);
void vd_driver_ok(struct vd_dev *d);
/* Forgets every queue's ring memory (after the devices using it were reset). */
void vd_release_rings(void);
/* Adds one chain; returns its head or -1 when the ring is full. */
int vd_add(struct vd_queue *q, const struct vd_buf *bufs, int n);
void vd_kick(const struct vd_dev *d, const struct vd_queue *q);
/* Takes one used entry: 1 with head and len set, 0 if none. */
int vd_get(struct vd_queue *q, uint16_t *head, uint32_t *len);
/* Waits for one used entry for up to tsc_budget cycles (0: forever). 1 or 0 on timeout. */
int vd_wait(struct vd_queue *q, uint16_t *head, uint32_t *len, uint64_t tsc_budget);
/* Acknowledges pending interrupts (the tests poll, but a level line must be lowered). */
void vd_ack(const struct vd_dev *d);

#endif
