/*
 * console: one broker per running VM that holds the VM's serial socket (splitvm
 * serves one client at a time), keeps the last output in a ring (so boot output
 * is not lost before anyone attaches) and lets one console client at a time attach.
 */
#ifndef SV_DPUD_CONSOLE_H
#define SV_DPUD_CONSOLE_H

#include "errmsg.h"
#include "hostsock.h"

#define CONSOLE_RING (64 * 1024)

struct console;

/* Starts the broker thread for the serial socket at path (reached through hs). NULL on ENOMEM. */
struct console *console_start(const struct hostsock *hs, const char *name, const char *path);
/* Waits up to timeout_ms for the broker to hold the serial socket: 0, or -ETIMEDOUT. A
 * VM started paused is resumed after this, so that no boot output goes unread (splitvm
 * drops serial output while nobody is connected). */
int console_wait_serial(struct console *c, int timeout_ms);
/*
 * Attaches a client: returns an fd (one end of a socketpair) that first yields
 * the buffered output, then live output, and whose input goes to the guest.
 * -EBUSY while another client is attached.
 */
int console_attach(struct console *c, struct errmsg *e);
/* Stops the broker and frees it (joins the thread). */
void console_stop(struct console *c);

#endif
