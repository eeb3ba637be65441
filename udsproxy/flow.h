/* flow: per-stream credit accounting, one instance per stream for both directions.
 *
 * The receiver grants `window` bytes at OPEN. A sender may send while its credit
 * is positive (a datagram may take it below zero by one message); the receiver
 * returns credit as it delivers bytes to the local socket, in batches. So the
 * bytes a receiver ever holds for one stream are bounded by window + one message.
 */
#ifndef UDSP_FLOW_H
#define UDSP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct udsp_flow {
	/* sending direction */
	int64_t send_credit;  /* bytes we may still send */
	uint32_t send_window; /* the peer's window: credit can never exceed it */
	/* receiving direction */
	uint32_t recv_window;  /* what we granted at OPEN */
	int64_t recv_allowed;  /* credit the peer holds, as we account it */
	uint64_t recv_held;    /* bytes received and not yet delivered locally */
	uint64_t recv_unacked; /* bytes delivered and not yet credited back */
	uint32_t max_msg;      /* largest single message a sender may overdraw by */
};

void udsp_flow_init(struct udsp_flow *f, uint32_t recv_window, uint32_t max_msg);
/* Records the peer's window (OPEN or OPEN_OK). */
void udsp_flow_set_send_window(struct udsp_flow *f, uint32_t window);

/* How many bytes we may read from the local socket now (0: stop reading). */
size_t udsp_flow_send_room(const struct udsp_flow *f, size_t bufsize);
void udsp_flow_sent(struct udsp_flow *f, size_t len);
/* A CREDIT frame arrived: -EPROTO if it would exceed the peer's window. */
int udsp_flow_credit(struct udsp_flow *f, uint32_t n);

/* len bytes of data arrived: -EPROTO if the peer had no credit for them. */
int udsp_flow_received(struct udsp_flow *f, size_t len);
/*
 * len bytes were delivered to the local socket. Returns the credit to send
 * back now (0: not yet; batched so small writes do not each cost a frame).
 */
uint32_t udsp_flow_delivered(struct udsp_flow *f, size_t len);

#endif
