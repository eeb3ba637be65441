/* ports: small legacy and splitvm-specific port devices: the i8042 reset line, POST codes,
 * the boot-time marker, the test exit port and the ACPI hardware-reduced sleep/reset
 * registers. Guest requests go to the main loop through machine_request(). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "layout.h"
#include "log.h"
#include "util.h"
#include "x86.h"

#define I8042_CMD_WRITE_OUTPUT 0xd1
#define I8042_CMD_RESET	       0xfe
#define I8042_OUT_RESET_LINE   0x01 /* output port bit 0 low: CPU reset */

#define BOOT_MARKER_KERNEL 1
#define BOOT_MARKER_INIT   123 /* Firecracker's magic value for "init started" */

static void i8042_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	/* No keyboard: empty output buffer, input buffer ready, system flag set. */
	memset(data, 0, len);
	if (off == X86_PORT_I8042_CMD - X86_PORT_I8042_DATA)
		data[0] = 0x04;
}

static void i8042_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct machine *m = opaque;
	struct arch_machine *a = m->arch;
	bool reset = false;

	pthread_mutex_lock(&a->ports_lock);
	if (off == X86_PORT_I8042_CMD - X86_PORT_I8042_DATA) {
		a->i8042_cmd = data[0];
		reset = data[0] == I8042_CMD_RESET;
	} else if (a->i8042_cmd == I8042_CMD_WRITE_OUTPUT) {
		reset = !(data[0] & I8042_OUT_RESET_LINE);
		a->i8042_cmd = 0;
	}
	pthread_mutex_unlock(&a->ports_lock);
	if (reset) {
		log_info("guest reset through the i8042 keyboard controller");
		machine_request(m, MACHINE_REQ_RESET);
	}
}

static void ignore_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
}

static void ignore_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
}

static void marker_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct machine *m = opaque;
	uint64_t ms = (now_ns() - m->start_ns) / 1000000;

	if (data[0] == BOOT_MARKER_KERNEL)
		log_info("boot time: guest kernel started %" PRIu64 " ms after splitvm started",
			 ms);
	else if (data[0] == BOOT_MARKER_INIT)
		log_info("boot time: guest init started %" PRIu64 " ms after splitvm started", ms);
	else
		log_debug("boot time: marker %u at %" PRIu64 " ms", data[0], ms);
}

static void test_exit_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct machine *m = opaque;
	uint32_t v = 0;

	memcpy(&v, data, len > 4 ? 4 : len);
	/* isa-debug-exit semantics: status (v << 1) | 1, so a guest cannot fake exit 0. */
	atomic_store(&m->exit_code, (int)(((v << 1) | 1) & 0xff));
	machine_request(m, MACHINE_REQ_EXIT_CODE);
}

static void pm_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct machine *m = opaque;

	memset(data, 0, len);
	if (off == X86_PM_SLEEP_CTL - X86_PORT_PM_BASE) {
		pthread_mutex_lock(&m->arch->ports_lock);
		data[0] = m->arch->pm_sleep_ctl;
		pthread_mutex_unlock(&m->arch->ports_lock);
	} else if (off == X86_PM_SLEEP_STS - X86_PORT_PM_BASE) {
		/* bit 0: power button pressed (QMP system_powerdown), write 1 to clear */
		data[0] = atomic_load(&m->powerdown_pending) ? 1 : 0;
	}
}

static void pm_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct machine *m = opaque;
	uint8_t v = data[0];

	if (off == X86_PM_SLEEP_CTL - X86_PORT_PM_BASE) {
		pthread_mutex_lock(&m->arch->ports_lock);
		m->arch->pm_sleep_ctl = v & ~0x20;
		pthread_mutex_unlock(&m->arch->ports_lock);
		/* SLP_EN with SLP_TYP = S5: soft off. */
		if ((v & 0x20) && ((v >> 2) & 7) == X86_PM_SLP_TYP_S5)
			machine_request(m, MACHINE_REQ_POWEROFF);
	} else if (off == X86_PM_SLEEP_STS - X86_PORT_PM_BASE) {
		if (v & 1)
			atomic_store(&m->powerdown_pending, false);
	} else if (off == X86_PM_RESET - X86_PORT_PM_BASE && v == X86_PM_RESET_VALUE) {
		machine_request(m, MACHINE_REQ_RESET);
	}
}

static const struct bus_ops i8042_ops = {.read = i8042_read, .write = i8042_write};
static const struct bus_ops post_ops = {.read = ignore_read, .write = ignore_write};
static const struct bus_ops marker_ops = {.read = ignore_read, .write = marker_write};
static const struct bus_ops test_exit_ops = {.read = ignore_read, .write = test_exit_write};
static const struct bus_ops pm_ops = {.read = pm_read, .write = pm_write};

int x86_ports_create(struct machine *m)
{
	int ret;

	pthread_mutex_init(&m->arch->ports_lock, NULL);
	/* 0x60 and 0x64 as one range so a single handler keeps the command state. */
	ret = bus_register(m->pio, X86_PORT_I8042_DATA, 5, &i8042_ops, m, "i8042");
	if (!ret)
		ret = bus_register(m->pio, X86_PORT_POST, 1, &post_ops, m, "post");
	if (!ret)
		ret = bus_register(m->pio, X86_PORT_BOOT_MARKER, 1, &marker_ops, m, "boot-marker");
	if (!ret)
		ret = bus_register(m->pio, X86_PORT_TEST_EXIT, 4, &test_exit_ops, m, "test-exit");
	if (!ret)
		ret = bus_register(m->pio, X86_PORT_PM_BASE, 3, &pm_ops, m, "acpi-pm");
	return ret;
}
