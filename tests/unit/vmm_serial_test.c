/* Unit tests of the 16550A UART model through its port registers (loopback supplies input):
 * FIFO depth and overrun, interrupt identification and priorities, THR-empty interrupts,
 * divisor latch, scratch register, modem-status loopback wiring, reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "vmm/arch/x86_64/x86.h"
#include "vmm/machine.h"

#define COM1 0x3f8
#define RBR  0
#define IER  1
#define IIR  2
#define FCR  2
#define LCR  3
#define MCR  4
#define LSR  5
#define MSR  6
#define SCR  7

struct fixture {
	struct machine m;
	struct serial8250 *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_set_level(LOG_LVL_ERROR); /* no KVM: the interrupt line ioctls fail quietly */
	f->m.vm_fd = -1;
	f->m.pio = bus_new(BUS_PIO, -1);
	assert_non_null(f->m.pio);
	assert_int_equal(serial8250_create(&f->m, COM1, 4, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial8250_destroy(f->s);
	bus_free(f->m.pio);
	free(f);
	return 0;
}

static uint8_t in(struct fixture *f, uint16_t reg)
{
	uint8_t v = 0;

	assert_true(bus_read(f->m.pio, COM1 + reg, &v, 1));
	return v;
}

static void out(struct fixture *f, uint16_t reg, uint8_t v)
{
	assert_true(bus_write(f->m.pio, COM1 + reg, &v, 1));
}

static void test_uart_resets_to_an_idle_transmitter(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f, LSR), 0x60);	   /* THRE | TEMT */
	assert_int_equal(in(f, IIR) & 0x0f, 0x01); /* no interrupt */
	assert_int_equal(in(f, IER), 0);
	assert_int_equal(in(f, MSR) & 0xb0, 0xb0); /* DCD, DSR, CTS */
}

static void test_uart_scratch_and_divisor_latch(void **state)
{
	struct fixture *f = *state;

	out(f, SCR, 0x5a);
	assert_int_equal(in(f, SCR), 0x5a);
	out(f, LCR, 0x83); /* DLAB */
	out(f, 0, 0x01);
	out(f, 1, 0x02);
	assert_int_equal(in(f, 0), 0x01);
	assert_int_equal(in(f, 1), 0x02);
	out(f, LCR, 0x03);
	assert_int_equal(in(f, IER), 0); /* IER not overwritten by DLM */
}

static void test_uart_fifo_holds_sixteen_bytes_then_overruns(void **state)
{
	struct fixture *f = *state;
	int i;

	out(f, FCR, 0x07);
	out(f, MCR, 0x10); /* loopback */
	for (i = 0; i < 17; i++)
		out(f, RBR, (uint8_t)('a' + i));
	assert_int_equal(in(f, LSR) & 0x03, 0x03); /* DR | OE */
	assert_int_equal(in(f, LSR) & 0x02, 0);	   /* OE clears on read */
	for (i = 0; i < 16; i++)
		assert_int_equal(in(f, RBR), 'a' + i);
	assert_int_equal(in(f, LSR) & 0x01, 0);
}

static void test_uart_without_fifo_holds_one_byte(void **state)
{
	struct fixture *f = *state;

	out(f, MCR, 0x10);
	out(f, RBR, 'x');
	out(f, RBR, 'y');
	assert_int_equal(in(f, LSR) & 0x03, 0x03);
	assert_int_equal(in(f, RBR), 'x');
	assert_int_equal(in(f, LSR) & 0x01, 0);
}

static void test_uart_receive_interrupt_outranks_thr_empty(void **state)
{
	struct fixture *f = *state;

	out(f, FCR, 0x01);
	out(f, MCR, 0x10);
	out(f, IER, 0x03); /* RDI | THRI */
	out(f, RBR, 'z');
	assert_int_equal(in(f, IIR), 0xc4); /* FIFO bits | RDI */
	assert_int_equal(in(f, RBR), 'z');
	assert_int_equal(in(f, IIR), 0xc2); /* then THR empty */
	assert_int_equal(in(f, IIR), 0xc1); /* reading IIR acknowledged it */
}

static void test_uart_enabling_thri_raises_it_at_once(void **state)
{
	struct fixture *f = *state;

	out(f, IER, 0x02);
	assert_int_equal(in(f, IIR) & 0x0f, 0x02);
	assert_int_equal(in(f, IIR) & 0x0f, 0x01);
	out(f, RBR, 'q'); /* transmit: THR empty again, interrupt again */
	assert_int_equal(in(f, IIR) & 0x0f, 0x02);
}

static void test_uart_overrun_interrupt_has_top_priority(void **state)
{
	struct fixture *f = *state;

	out(f, MCR, 0x10);
	out(f, IER, 0x05); /* RLSI | RDI */
	out(f, RBR, '1');
	out(f, RBR, '2'); /* no FIFO: overrun */
	assert_int_equal(in(f, IIR) & 0x0f, 0x06);
	in(f, LSR);
	assert_int_equal(in(f, IIR) & 0x0f, 0x04);
}

static void test_uart_loopback_wires_modem_lines(void **state)
{
	struct fixture *f = *state;

	out(f, MCR, 0x10 | 0x01 | 0x02);	   /* loop, DTR, RTS */
	assert_int_equal(in(f, MSR) & 0xf0, 0x30); /* DSR, CTS; RI and DCD follow OUT1/OUT2 */
	out(f, MCR, 0x10 | 0x0c);
	assert_int_equal(in(f, MSR) & 0xf0, 0xc0);
	out(f, MCR, 0x08);
	assert_int_equal(in(f, MSR) & 0xb0, 0xb0);
}

static void test_uart_fcr_clears_the_receive_fifo(void **state)
{
	struct fixture *f = *state;

	out(f, FCR, 0x01);
	out(f, MCR, 0x10);
	out(f, RBR, 'a');
	out(f, RBR, 'b');
	out(f, FCR, 0x03); /* clear RX */
	assert_int_equal(in(f, LSR) & 0x01, 0);
}

static void test_uart_reset_clears_state(void **state)
{
	struct fixture *f = *state;

	out(f, IER, 0x0f);
	out(f, LCR, 0x1b);
	out(f, MCR, 0x10);
	out(f, RBR, 'a');
	serial8250_reset(f->s);
	assert_int_equal(in(f, IER), 0);
	assert_int_equal(in(f, LCR), 0);
	assert_int_equal(in(f, LSR), 0x60);
	assert_int_equal(in(f, IIR) & 0x0f, 0x01);
}

static void test_uart_wide_and_unclaimed_accesses(void **state)
{
	struct fixture *f = *state;
	uint8_t v[4] = {0};

	/* The UART is 8 registers: a 4-byte read at +6 crosses its end and is not claimed. */
	assert_false(bus_read(f->m.pio, COM1 + 6, v, 4));
	assert_int_equal(v[0], 0xff);
	assert_true(bus_read(f->m.pio, COM1 + 4, v, 4));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_uart_resets_to_an_idle_transmitter),
		T(test_uart_scratch_and_divisor_latch),
		T(test_uart_fifo_holds_sixteen_bytes_then_overruns),
		T(test_uart_without_fifo_holds_one_byte),
		T(test_uart_receive_interrupt_outranks_thr_empty),
		T(test_uart_enabling_thri_raises_it_at_once),
		T(test_uart_overrun_interrupt_has_top_priority),
		T(test_uart_loopback_wires_modem_lines),
		T(test_uart_fcr_clears_the_receive_fifo),
		T(test_uart_reset_clears_state),
		T(test_uart_wide_and_unclaimed_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
