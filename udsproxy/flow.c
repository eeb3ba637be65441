/* flow: credit accounting for one stream (see flow.h for the rules). */
#include <errno.h>

#include "flow.h"

void udsp_flow_init(struct udsp_flow *f, uint32_t recv_window, uint32_t max_msg)
{
	f->send_credit = 0;
	f->send_window = 0;
	f->recv_window = recv_window;
	f->recv_allowed = recv_window;
	f->recv_held = 0;
	f->recv_unacked = 0;
	f->max_msg = max_msg;
}

void udsp_flow_set_send_window(struct udsp_flow *f, uint32_t window)
{
	f->send_window = window;
	f->send_credit = window;
}

size_t udsp_flow_send_room(const struct udsp_flow *f, size_t bufsize)
{
	if (f->send_credit <= 0)
		return 0;
	if ((uint64_t)f->send_credit < bufsize)
		return (size_t)f->send_credit;
	return bufsize;
}

void udsp_flow_sent(struct udsp_flow *f, size_t len)
{
	f->send_credit -= (int64_t)len;
}

int udsp_flow_credit(struct udsp_flow *f, uint32_t n)
{
	int64_t c;

	if (__builtin_add_overflow(f->send_credit, (int64_t)n, &c) || c > (int64_t)f->send_window)
		return -EPROTO;
	f->send_credit = c;
	return 0;
}

int udsp_flow_received(struct udsp_flow *f, size_t len)
{
	/* The peer may send only while it holds credit, and overdraw by one message. */
	if (f->recv_allowed <= 0 || len > f->max_msg)
		return -EPROTO;
	f->recv_allowed -= (int64_t)len;
	f->recv_held += len;
	return 0;
}

uint32_t udsp_flow_delivered(struct udsp_flow *f, size_t len)
{
	uint64_t grant;

	if (len > f->recv_held)
		len = f->recv_held;
	f->recv_held -= len;
	f->recv_unacked += len;
	/*
	 * Give credit back once a quarter of the window was delivered, or when the
	 * peer is about to run dry (small request/reply traffic never waits on it).
	 */
	if (f->recv_unacked < f->recv_window / 4 && f->recv_allowed > (int64_t)f->recv_window / 2)
		return 0;
	grant = f->recv_unacked;
	/* Never let the peer hold more than the window. */
	if ((int64_t)grant + f->recv_allowed > (int64_t)f->recv_window)
		grant = (uint64_t)((int64_t)f->recv_window - f->recv_allowed);
	if (grant == 0)
		return 0;
	f->recv_unacked -= grant;
	f->recv_allowed += (int64_t)grant;
	return (uint32_t)grant;
}
