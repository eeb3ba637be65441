/* status: the text `udsproxyd --status` prints: peer link state, streams, bytes, errors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

struct out {
	char *buf;
	size_t len, off;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->off >= o->len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->off, o->len - o->off, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	o->off += (size_t)r < o->len - o->off ? (size_t)r : o->len - o->off - 1;
}

int udsp_status_format(struct udsp_daemon *d, char *buf, size_t len)
{
	struct out o = {buf, len, 0};
	struct udsp_mirror_sock *m;
	unsigned b, shown = 0;
	size_t i;

	buf[0] = '\0';
	outf(&o, "listen: %s\npeer: %s\n", d->listen_addr[0] ? d->listen_addr : "-",
	     d->peer_addr[0] ? d->peer_addr : "-");
	if (d->link.up)
		outf(&o, "link: up %s (%s), out queue %zu bytes\n", d->link.desc,
		     d->link.we_dialed ? "dialled" : "accepted",
		     d->link.out_len - d->link.out_head);
	else
		outf(&o, "link: down (%s)\n",
		     d->peer_addr[0] ? "dialling" : "waiting for the peer");
	outf(&o, "links up: %llu, drops: %llu, duplicates: %llu, protocol errors: %llu\n",
	     (unsigned long long)d->stats.links_up, (unsigned long long)d->stats.link_drops,
	     (unsigned long long)atomic_load(&d->dup_links),
	     (unsigned long long)d->stats.proto_errors);
	outf(&o,
	     "streams: %zu open, %llu opened, %llu refused, %llu messages too big, "
	     "%llu mirrored datagrams dropped\n",
	     d->n_streams, (unsigned long long)d->stats.streams_opened,
	     (unsigned long long)d->stats.streams_refused,
	     (unsigned long long)d->stats.msgs_too_big,
	     (unsigned long long)d->stats.dgrams_dropped);
	outf(&o, "link bytes: %llu sent, %llu received\n", (unsigned long long)d->stats.bytes_tx,
	     (unsigned long long)d->stats.bytes_rx);
	for (i = 0; i < d->n_mirror_dirs; i++)
		outf(&o, "mirror dir: %s\n", d->mirror_dirs[i]);
	for (m = d->mirrors; m; m = m->next)
		outf(&o, "mirror socket: %s (%s)\n", m->path, udsp_socktype_name(m->socktype));
	for (i = 0; i < d->n_watch_dirs; i++)
		outf(&o, "exporting listeners under: %s\n", d->watch_dirs[i]);
	for (i = 0; i < d->n_shared; i++)
		outf(&o, "shared tree: %s\n", d->shared[i]);
	for (b = 0; b < UDSP_STREAM_BUCKETS && shown < 200; b++) {
		struct udsp_stream *s;

		for (s = d->buckets[b]; s && shown < 200; s = s->hnext, shown++)
			outf(&o, "stream %u %s %s %s: %llu bytes out, %llu in, %zu queued\n", s->id,
			     udsp_socktype_name(s->socktype), s->path[0] ? s->path : "-",
			     s->state == UDSP_ST_OPEN ? "open" : "opening",
			     (unsigned long long)s->bytes_tx, (unsigned long long)s->bytes_rx,
			     s->q_bytes);
	}
	if (shown < d->n_streams)
		outf(&o, "(%zu more streams)\n", d->n_streams - shown);
	return 0;
}
