/* rtc: the MC146818 CMOS clock and NVRAM at ports 0x70/0x71 (time from the host clock,
 * memory size bytes as PC firmware leaves them; NVRAM survives a VM reset). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layout.h"
#include "x86.h"

#define RTC_SECONDS  0x00
#define RTC_MINUTES  0x02
#define RTC_HOURS    0x04
#define RTC_WEEKDAY  0x06
#define RTC_DAY	     0x07
#define RTC_MONTH    0x08
#define RTC_YEAR     0x09
#define RTC_REG_A    0x0a
#define RTC_REG_B    0x0b
#define RTC_REG_C    0x0c
#define RTC_REG_D    0x0d
#define RTC_CENTURY  0x32
#define RTC_B_24H    0x02
#define RTC_B_BINARY 0x04

struct x86_rtc {
	struct machine *m;
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
	int64_t offset; /* guest time minus host time, seconds (the guest may set the clock) */
};

static uint8_t to_bcd(const struct x86_rtc *r, int v)
{
	if (r->cmos[RTC_REG_B] & RTC_B_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_bcd(const struct x86_rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & RTC_B_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0xf);
}

static void rtc_now(const struct x86_rtc *r, struct tm *tm)
{
	time_t t = time(NULL) + (time_t)r->offset;

	gmtime_r(&t, tm);
}

static uint8_t rtc_time_reg(const struct x86_rtc *r, uint8_t reg)
{
	struct tm tm;
	int hour;

	rtc_now(r, &tm);
	switch (reg) {
	case RTC_SECONDS:
		return to_bcd(r, tm.tm_sec);
	case RTC_MINUTES:
		return to_bcd(r, tm.tm_min);
	case RTC_HOURS:
		if (r->cmos[RTC_REG_B] & RTC_B_24H)
			return to_bcd(r, tm.tm_hour);
		hour = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
		return (uint8_t)(to_bcd(r, hour) | (tm.tm_hour >= 12 ? 0x80 : 0));
	case RTC_WEEKDAY:
		return to_bcd(r, tm.tm_wday + 1);
	case RTC_DAY:
		return to_bcd(r, tm.tm_mday);
	case RTC_MONTH:
		return to_bcd(r, tm.tm_mon + 1);
	case RTC_YEAR:
		return to_bcd(r, tm.tm_year % 100);
	default:
		return to_bcd(r, (tm.tm_year + 1900) / 100);
	}
}

/* A write to a time register moves the guest's clock (kept as an offset from the host's). */
static void rtc_set_time_reg(struct x86_rtc *r, uint8_t reg, uint8_t v)
{
	struct tm tm;
	time_t now = time(NULL), t;
	int val = from_bcd(r, v & (reg == RTC_HOURS ? 0x7f : 0xff));

	rtc_now(r, &tm);
	switch (reg) {
	case RTC_SECONDS:
		tm.tm_sec = val;
		break;
	case RTC_MINUTES:
		tm.tm_min = val;
		break;
	case RTC_HOURS:
		tm.tm_hour = val;
		break;
	case RTC_DAY:
		tm.tm_mday = val;
		break;
	case RTC_MONTH:
		tm.tm_mon = val - 1;
		break;
	case RTC_YEAR:
		tm.tm_year = (tm.tm_year / 100) * 100 + val;
		break;
	default:
		return;
	}
	t = timegm(&tm);
	if (t != (time_t)-1)
		r->offset = (int64_t)(t - now);
}

static void rtc_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct x86_rtc *r = opaque;
	uint8_t reg, v;

	memset(data, 0, len);
	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		data[0] = r->index;
		goto out;
	}
	reg = r->index & 0x7f;
	switch (reg) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_WEEKDAY:
	case RTC_DAY:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		v = rtc_time_reg(r, reg);
		break;
	case RTC_REG_A:
		v = r->cmos[RTC_REG_A] & 0x7f; /* never "update in progress" */
		break;
	case RTC_REG_C:
		v = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		break;
	case RTC_REG_D:
		v = 0x80; /* battery good */
		break;
	default:
		v = r->cmos[reg];
		break;
	}
	data[0] = v;
out:
	pthread_mutex_unlock(&r->lock);
}

static void rtc_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct x86_rtc *r = opaque;
	uint8_t reg;

	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		r->index = data[0]; /* bit 7 masks NMI on a PC; nothing to mask here */
		goto out;
	}
	reg = r->index & 0x7f;
	switch (reg) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY:
	case RTC_MONTH:
	case RTC_YEAR:
		rtc_set_time_reg(r, reg, data[0]);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[reg] = data[0];
		break;
	}
out:
	pthread_mutex_unlock(&r->lock);
}

static const struct bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

/* Memory size bytes as a PC BIOS leaves them (some guests size memory from CMOS). */
static void rtc_set_mem(struct x86_rtc *r, const struct gmem *mem)
{
	uint64_t low = gmem_size_below(mem, X86_HOLE_START);
	uint64_t high = mem->ram_size - low;
	uint64_t ext_kb = low > (1u << 20) ? (low - (1u << 20)) >> 10 : 0;
	uint64_t above16 = low > (16u << 20) ? (low - (16u << 20)) >> 16 : 0;
	uint64_t above4g = high >> 16;

	if (ext_kb > 0xffff)
		ext_kb = 0xffff;
	if (above16 > 0xffff)
		above16 = 0xffff;
	r->cmos[0x15] = 640 & 0xff;
	r->cmos[0x16] = 640 >> 8;
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext_kb;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext_kb >> 8);
	r->cmos[0x34] = (uint8_t)above16;
	r->cmos[0x35] = (uint8_t)(above16 >> 8);
	r->cmos[0x5b] = (uint8_t)above4g;
	r->cmos[0x5c] = (uint8_t)(above4g >> 8);
	r->cmos[0x5d] = (uint8_t)(above4g >> 16);
}

int x86_rtc_create(struct machine *m, struct x86_rtc **out)
{
	struct x86_rtc *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->m = m;
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz, 1024 Hz periodic rate */
	r->cmos[RTC_REG_B] = RTC_B_24H;
	rtc_set_mem(r, &m->mem);
	ret = bus_register(m->pio, X86_PORT_RTC, 2, &rtc_ops, r, "rtc");
	if (ret) {
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void x86_rtc_destroy(struct x86_rtc *r)
{
	bus_unregister(r->m->pio, X86_PORT_RTC);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
