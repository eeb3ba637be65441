/* serial: a 16550A UART (16-byte FIFOs, interrupts on its ISA line) wired to a chardev. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmm/chardev.h"
#include "x86.h"

#define UART_FIFO 16

#define UART_IER_RDI	  0x01
#define UART_IER_THRI	  0x02
#define UART_IER_RLSI	  0x04
#define UART_IER_MSI	  0x08
#define UART_IIR_NO_INT	  0x01
#define UART_IIR_MSI	  0x00
#define UART_IIR_THRI	  0x02
#define UART_IIR_RDI	  0x04
#define UART_IIR_RLSI	  0x06
#define UART_IIR_TIMEOUT  0x0c
#define UART_IIR_FIFO	  0xc0
#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_LCR_DLAB	  0x80
#define UART_MCR_DTR	  0x01
#define UART_MCR_RTS	  0x02
#define UART_MCR_OUT1	  0x04
#define UART_MCR_OUT2	  0x08
#define UART_MCR_LOOP	  0x10
#define UART_LSR_DR	  0x01
#define UART_LSR_OE	  0x02
#define UART_LSR_THRE	  0x20
#define UART_LSR_TEMT	  0x40
#define UART_MSR_DCTS	  0x01
#define UART_MSR_DDSR	  0x02
#define UART_MSR_TERI	  0x04
#define UART_MSR_DDCD	  0x08
#define UART_MSR_CTS	  0x10
#define UART_MSR_DSR	  0x20
#define UART_MSR_RI	  0x40
#define UART_MSR_DCD	  0x80
#define UART_MSR_DELTA	  0x0f

struct serial8250 {
	struct machine *m;
	struct chardev *chr;
	struct irq_line irq;
	struct chardev_frontend fe; /* handed to the chardev, which may keep the pointer */
	uint16_t port;
	pthread_mutex_t lock; /* all fields below; taken by vCPU threads and the main loop */
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	bool thr_pending; /* THR-empty interrupt pending (cleared by reading IIR or writing THR) */
	bool line_high;
	uint8_t rx[UART_FIFO];
	unsigned int rx_head, rx_count;
};

static unsigned int uart_rx_cap(const struct serial8250 *s)
{
	return (s->fcr & UART_FCR_ENABLE) ? UART_FIFO : 1;
}

static uint8_t uart_iir(const struct serial8250 *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;

	if ((s->ier & UART_IER_RLSI) && (s->lsr & UART_LSR_OE))
		return fifo | UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_pending)
		return fifo | UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_DELTA))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NO_INT;
}

/* Drives the interrupt line from the current state (lock held). */
static void uart_update_irq(struct serial8250 *s)
{
	bool high = !(uart_iir(s) & UART_IIR_NO_INT);
	int ret;

	if (high == s->line_high)
		return;
	s->line_high = high;
	ret = irq_line_set(&s->irq, high);
	if (ret)
		log_warn("serial: IRQ %u: %s", s->irq.gsi, strerror(-ret));
}

static void uart_rx_push(struct serial8250 *s, uint8_t b)
{
	if (s->rx_count >= uart_rx_cap(s)) {
		s->lsr |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % UART_FIFO] = b;
	s->rx_count++;
	s->lsr |= UART_LSR_DR;
}

static uint8_t uart_loop_msr(uint8_t mcr)
{
	return (uint8_t)(((mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
			 ((mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
			 ((mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
			 ((mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
}

static void uart_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	bool room = false;
	uint8_t v = 0;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	switch (off) {
	case 0:
		if (s->lcr & UART_LCR_DLAB) {
			v = s->dll;
		} else if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % UART_FIFO;
			if (--s->rx_count == 0)
				s->lsr &= ~UART_LSR_DR;
			room = true;
		}
		break;
	case 1:
		v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
		break;
	case 2:
		v = uart_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thr_pending = false;
		break;
	case 3:
		v = s->lcr;
		break;
	case 4:
		v = s->mcr;
		break;
	case 5:
		v = s->lsr;
		s->lsr &= ~UART_LSR_OE;
		break;
	case 6:
		v = s->msr;
		s->msr &= ~UART_MSR_DELTA;
		break;
	case 7:
		v = s->scr;
		break;
	}
	data[0] = v;
	uart_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (room && s->chr)
		chardev_input_ready(s->chr);
}

static void uart_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	uint8_t v = data[0], out = 0;
	bool send = false, room = false;

	pthread_mutex_lock(&s->lock);
	switch (off) {
	case 0:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (s->mcr & UART_MCR_LOOP) {
			uart_rx_push(s, v);
		} else {
			out = v;
			send = true;
		}
		/* Transmission is instantaneous: THR is empty again at once. */
		s->thr_pending = true;
		s->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
		break;
	case 1:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with THR already empty raises it (8250 behaviour). */
		if (!(s->ier & UART_IER_THRI) && (v & UART_IER_THRI))
			s->thr_pending = true;
		s->ier = v & 0x0f;
		break;
	case 2:
		if ((v & UART_FCR_ENABLE) != (s->fcr & UART_FCR_ENABLE) ||
		    (v & UART_FCR_CLEAR_RX)) {
			s->rx_count = s->rx_head = 0;
			s->lsr &= ~(UART_LSR_DR | UART_LSR_OE);
			room = true;
		}
		s->fcr = v & 0xc9;
		break;
	case 3:
		s->lcr = v;
		break;
	case 4: {
		uint8_t old = s->mcr;

		s->mcr = v & 0x1f;
		if (s->mcr & UART_MCR_LOOP) {
			uint8_t nm = uart_loop_msr(s->mcr), om = s->msr;

			s->msr = nm | (om & UART_MSR_DELTA);
			if ((nm ^ om) & UART_MSR_CTS)
				s->msr |= UART_MSR_DCTS;
			if ((nm ^ om) & UART_MSR_DSR)
				s->msr |= UART_MSR_DDSR;
			if ((nm ^ om) & UART_MSR_DCD)
				s->msr |= UART_MSR_DDCD;
			if ((om & UART_MSR_RI) && !(nm & UART_MSR_RI))
				s->msr |= UART_MSR_TERI;
		} else if (old & UART_MCR_LOOP) {
			s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
		}
		break;
	}
	case 5:
		break; /* LSR is read-only */
	case 6:
		break;
	case 7:
		s->scr = v;
		break;
	}
	uart_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (send && s->chr) {
		ssize_t n = chardev_write(s->chr, &out, 1);

		if (n < 0)
			log_debug("serial: output: %s", strerror((int)-n));
	}
	if (room && s->chr)
		chardev_input_ready(s->chr);
}

static size_t uart_can_read(void *opaque)
{
	struct serial8250 *s = opaque;
	size_t n;

	pthread_mutex_lock(&s->lock);
	/* In loopback the line is disconnected from the outside. */
	n = (s->mcr & UART_MCR_LOOP) ? 0 : uart_rx_cap(s) - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void uart_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct serial8250 *s = opaque;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < len; i++)
		uart_rx_push(s, buf[i]);
	uart_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void uart_reset_locked(struct serial8250 *s)
{
	s->ier = s->lcr = s->scr = s->fcr = 0;
	s->mcr = UART_MCR_OUT2;
	s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	s->dll = 0x0c; /* 9600 baud */
	s->dlm = 0;
	s->thr_pending = false;
	s->rx_head = s->rx_count = 0;
	uart_update_irq(s);
}

void serial8250_reset(void *opaque)
{
	struct serial8250 *s = opaque;

	pthread_mutex_lock(&s->lock);
	uart_reset_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (s->chr)
		chardev_input_ready(s->chr);
}

static const struct bus_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
};

int serial8250_create(struct machine *m, uint16_t port, uint32_t gsi, struct serial8250 **out)
{
	struct serial8250 *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->m = m;
	s->chr = m->serial_chr;
	s->port = port;
	s->irq = (struct irq_line){m->vm_fd, gsi};
	pthread_mutex_init(&s->lock, NULL);
	uart_reset_locked(s);
	ret = bus_register(m->pio, port, 8, &uart_ops, s, "serial");
	if (ret) {
		free(s);
		return ret;
	}
	if (s->chr) {
		s->fe = (struct chardev_frontend){
			.can_read = uart_can_read,
			.read = uart_input,
			.opaque = s,
		};
		chardev_set_frontend(s->chr, &s->fe);
	}
	*out = s;
	return 0;
}

void serial8250_destroy(struct serial8250 *s)
{
	if (s->chr)
		chardev_set_frontend(s->chr, NULL);
	bus_unregister(s->m->pio, s->port);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
