/*
 * transport.c - the network side: TCP with RPC record marking (RFC 5531
 * section 11) and UDP, on one port, driven by a libevent loop.
 *
 * The loop thread only frames records and queues them (answering NULL
 * itself); workers execute them and send the reply straight to the
 * socket, or, behind other output, add it to the connection's output by
 * reference.  Each record is assembled by the framer (record.c) into one
 * malloc'd buffer with a single copy out of the socket's input buffer; the body of a large
 * fragment (a WRITE's data) skips that buffer and is read from the socket
 * straight into the record (see read_direct()).  Each reply leaves in one
 * buffer that is never copied again.
 *
 * A connection is reference counted: one reference for being open, one
 * per request in flight, so a reply that finishes after its client has
 * gone is dropped without touching freed memory.  The bufferevent's lock
 * protects the fields shared with workers (inflight, closed, paused).
 *
 * RPC-with-TLS (RFC 9289): an AUTH_TLS probe on a connection with nothing
 * else in flight is answered on the loop thread with "STARTTLS"; from
 * then on the socket belongs to direct_ev, as in read_direct(), and a
 * GnuTLS session sits between it and the framer.  The handshake runs on
 * the loop thread, non-blocking, one step per readable event; its CPU
 * is paid once per connection (0.45 ms with an ECDSA P-256 key, more
 * with RSA) and never waits for the client.
 * Decrypted bytes go straight into the record, a fragment's body to
 * where it belongs.  Workers send their replies through the session
 * under the bufferevent lock, as they write plaintext ones, while the
 * loop thread receives: GnuTLS allows one sender and one receiver at a
 * time.  Ciphertext leaves by tls_push(): straight to the socket when
 * nothing is queued, else into the bufferevent's output, in order.
 *
 * The memory budget (max-buffered): the connection limits above bound
 * one client, but not a thousand of them.  t->buffered counts the bytes
 * of replies waiting in output buffers (an evbuffer callback, so only
 * replies that could not be sent at once pay for it) and of records
 * still being received (once per read event).  Over the budget, a
 * connection with replies queued is no longer read from, and its
 * requests not yet begun wait (parked, holding only their call) until
 * its queue is empty: so the budget is exceeded by at most the replies
 * being made at that moment, one per worker.  A client that has taken
 * nothing for BUDGET_STALL_SECONDS while the budget is spent is
 * disconnected, the one with the most unread bytes first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "log.h"
#include "record.h"
#include "server.h"
#include "stats.h"
#include "tls.h"

/* Back-pressure: a client that sends faster than we answer, or stops
 * reading its replies, is no longer read from until it catches up. */
#define CONN_MAX_INFLIGHT 64
#define CONN_MAX_OUTPUT (8u << 20)
#define CONN_OUTPUT_LOW (1u << 20)
#define READ_CHUNK (256 << 10)
#define SMALL_REPLY 512
#define UDP_MAX_INFLIGHT 256
#define UDP_MAX_DGRAM 65536
#define UDP_BATCH 32
#define FLUSH_SECONDS 2
/* Fragment bytes still to come above which they bypass the bufferevent. */
#define DIRECT_MIN (64 << 10)
/* Silence allowed in a TLS handshake before the connection is closed. */
#define TLS_HANDSHAKE_SECONDS 15
/* Over max-buffered: how long a client may take none of its replies
 * before it is disconnected, and how often that is looked at. */
#define BUDGET_STALL_SECONDS 10
#define BUDGET_TICK_SECONDS 1

/* A request held back by the memory budget; FIFO per connection. */
struct parked {
	struct rpc_req *req;
	struct parked *next;
};

struct conn {
	struct transport *t;
	struct bufferevent *bev;
	struct conn *prev, *next; /* open connections; loop thread only */
	int refs;		  /* atomic */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char name[INET6_ADDRSTRLEN + 8];

	struct record rec; /* record assembly; loop thread only */
	struct event *direct_ev; /* the socket, while read_direct() owns it */

	/* Under the bufferevent lock. */
	unsigned inflight;
	bool closed, paused;
	bool direct; /* reading a fragment past the bufferevent */
	bool portmap; /* accepted on the portmapper's port */
	/* The memory budget: requests held back, and when the queued
	 * replies last moved (coarse monotonic seconds). */
	struct parked *parked, **parked_tail;
	time_t stalled_since;
	struct evbuffer_cb_entry *counting; /* output_changed() */

	size_t partial; /* bytes of rec counted in t->buffered; loop thread */

	/* RPC-with-TLS; NULL while plaintext.  Set on the loop thread while
	 * no request is in flight, so workers only ever see it set. */
	gnutls_session_t tls;
	bool handshaking;
	uint8_t xprtsec; /* its requests' rpc_req.xprtsec */
};

struct transport {
	struct server *srv;
	struct event_base *base;
	struct evconnlistener *listener;
	int udp_fd;
	struct event *udp_ev;
	struct event *sigs[3];
	struct event *stop_ev;
	struct conn *conns;
	unsigned nconns;
	int udp_inflight; /* atomic */
	bool stopping;
	uint16_t port;
	/* Our own portmapper ("portmap yes"): its port, same address. */
	struct evconnlistener *pmap_listener;
	int pmap_udp_fd;
	struct event *pmap_udp_ev;
	uint16_t pmap_port;
	/* Copied from the configuration, which a reload may replace. */
	uint32_t max_record, max_connections;
	unsigned idle_timeout;
	/* The memory budget: bytes counted (atomic), their limit, and the
	 * loop's timer that disconnects stalled clients while it is spent. */
	int64_t buffered;
	int64_t max_buffered;
	struct event *budget_ev;
	bool budget_armed; /* atomic: budget_ev is active or pending */
	struct tls_server *tls; /* NULL: no tls-certificate */
};

static void conn_get(struct conn *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

static void conn_put(struct conn *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	bufferevent_free(c->bev);
	record_free(&c->rec);
	if (c->tls)
		gnutls_deinit(c->tls);
	free(c);
}

/* ---- the memory budget ------------------------------------------------ */

static time_t coarse_now(void)
{
	struct timespec ts;

	/* vDSO, no system call: cheap enough for every output change. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static void budget_add(struct transport *t, int64_t n)
{
	__atomic_add_fetch(&t->buffered, n, __ATOMIC_RELAXED);
}

static bool over_budget(struct transport *t)
{
	return __atomic_load_n(&t->buffered, __ATOMIC_RELAXED) >
	       t->max_buffered;
}

/* Any thread: have the loop thread watch for stalled clients. */
static void budget_alarm(struct transport *t)
{
	if (!__atomic_exchange_n(&t->budget_armed, true, __ATOMIC_RELAXED))
		event_active(t->budget_ev, EV_TIMEOUT, 0);
}

/* Every change of a connection's queued replies (bufferevent locked).
 * Replies sent straight from the worker never come here. */
static void output_changed(struct evbuffer *o,
			   const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	budget_add(c->t, (int64_t)info->n_added - (int64_t)info->n_deleted);
	/* A stall counts from the last bytes the client took, or from the
	 * first reply that had to wait. */
	if (info->n_deleted > 0 || info->orig_size == 0)
		c->stalled_since = coarse_now();
}

/* Loop thread: count the record being received as its buffer grows. */
static void note_partial(struct conn *c)
{
	size_t cap = c->closed ? 0 : c->rec.cap;

	if (cap != c->partial) {
		budget_add(c->t, (int64_t)cap - (int64_t)c->partial);
		c->partial = cap;
	}
}

/* Bufferevent locked, at close: requests held back never run. */
static void drop_parked(struct conn *c)
{
	struct parked *p;

	while ((p = c->parked)) {
		c->parked = p->next;
		c->inflight--;
		free(p->req->rec);
		free(p->req);
		free(p);
		conn_put(c); /* not the last: the caller holds one */
	}
	c->parked_tail = &c->parked;
}

/* Loop thread, bufferevent locked (or not yet shared). */
static void conn_close(struct conn *c)
{
	struct transport *t = c->t;

	bufferevent_lock(c->bev);
	if (c->closed) {
		bufferevent_unlock(c->bev);
		return;
	}
	/* A TLS peer learns that the end is deliberate (close_notify), if
	 * that can still go out. */
	if (c->tls && !c->handshaking)
		(void)gnutls_bye(c->tls, GNUTLS_SHUT_WR);
	c->closed = true;
	/* No callback may run for c once its last reference is gone. */
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	event_free(c->direct_ev);
	c->direct_ev = NULL;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	/* Tell the peer now, not when the last worker lets go. */
	shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
	/* Nothing queued can leave any more: give the budget back now (the
	 * output cannot be drained here, the bufferevent froze its start;
	 * it goes with the last reference). */
	drop_parked(c);
	(void)evbuffer_remove_cb_entry(bufferevent_get_output(c->bev),
				       c->counting);
	budget_add(t, -(int64_t)evbuffer_get_length(
			      bufferevent_get_output(c->bev)));
	bufferevent_unlock(c->bev);
	note_partial(c);

	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->nconns--;
	stats_conn_closed();
	conn_put(c);
}

static void tls_resume(struct conn *c);

static bool may_resume(struct conn *c)
{
	size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));

	return c->inflight < CONN_MAX_INFLIGHT && out <= CONN_OUTPUT_LOW &&
	       (out == 0 || !over_budget(c->t));
}

static void conn_pause(struct conn *c)
{
	if (c->paused)
		return;
	c->paused = true;
	bufferevent_disable(c->bev, EV_READ);
}

static void tcp_work(void *arg);

/* Bufferevent locked: requests held back go to the workers once the
 * client has taken its replies, or the budget has room again. */
static void conn_unpark(struct conn *c)
{
	struct parked *p;

	if (!c->parked || c->closed || c->t->stopping ||
	    (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 &&
	     over_budget(c->t)))
		return;
	while ((p = c->parked)) {
		c->parked = p->next;
		workers_submit(c->t->srv->workers, tcp_work, p->req);
		free(p);
	}
	c->parked_tail = &c->parked;
}

/* Any thread, bufferevent locked.  Records already buffered are picked
 * up by a read callback deferred to the loop. */
static void conn_resume(struct conn *c)
{
	conn_unpark(c);
	if (!c->paused || c->closed || c->t->stopping || !may_resume(c))
		return;
	c->paused = false;
	if (c->tls) {
		tls_resume(c);
		return;
	}
	if (c->direct)
		return; /* direct_end() turns the bufferevent back on */
	bufferevent_enable(c->bev, EV_READ);
	bufferevent_trigger(c->bev, EV_READ,
			    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* ---- requests --------------------------------------------------------- */

static void free_reply(const void *data, size_t len, void *arg)
{
	free(arg); /* the whole buffer: data may point into it */
}

static size_t execute(struct server *srv, struct rpc_req *req)
{
	size_t len;

	pthread_rwlock_rdlock(&srv->lock);
	len = rpc_execute(srv, req);
	pthread_rwlock_unlock(&srv->lock);
	return len;
}

/*
 * Bufferevent locked.  With nothing queued before it, the reply goes
 * straight to the socket from the worker: handing it to the loop thread
 * would cost a wakeup (and on 2 cores often a migration) per reply, the
 * biggest single cost of a small request.  The socket is non-blocking;
 * whatever does not fit now is queued for the loop to send.  Returns
 * the bytes written, 0 if none.
 */
static size_t conn_send_now(struct conn *c, struct evbuffer *o,
			    const uint8_t *p, size_t n)
{
	ssize_t w;

	if (evbuffer_get_length(o) > 0)
		return 0; /* keep the order: the loop sends the rest first */
	do
		w = send(bufferevent_getfd(c->bev), p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	/* Errors are left to the loop, which sees them on its next write
	 * or read and closes the connection there. */
	return w > 0 ? (size_t)w : 0;
}

static void conn_queue_reply(struct conn *c, struct rpc_buf *out, size_t n)
{
	struct evbuffer *o = bufferevent_get_output(c->bev);
	size_t sent = conn_send_now(c, o, out->base, n);

	if (sent == n)
		return;
	/* Small replies are copied: a reference costs a chain of its own,
	 * more than the bytes themselves. */
	if (n - sent <= SMALL_REPLY)
		evbuffer_add(o, out->base + sent, n - sent);
	else if (evbuffer_add_reference(o, out->base + sent, n - sent,
					free_reply, out->base) == 0)
		out->base = NULL; /* the evbuffer frees it when sent */
	if (evbuffer_get_length(o) > CONN_MAX_OUTPUT)
		conn_pause(c);
	if (over_budget(c->t)) {
		conn_pause(c);
		budget_alarm(c->t);
	}
}

static void tls_send(struct conn *c, const uint8_t *p, size_t n);

static void conn_reply(struct conn *c, struct rpc_buf *out, size_t len)
{
	uint32_t mark = htonl(RECORD_LAST_FRAG | (uint32_t)len);

	bufferevent_lock(c->bev);
	if (len && !c->closed) {
		memcpy(out->base, &mark, 4);
		if (c->tls)
			tls_send(c, out->base, len + 4);
		else
			conn_queue_reply(c, out, len + 4);
	}
	c->inflight--;
	conn_resume(c);
	bufferevent_unlock(c->bev);
	free(out->base);
}

/* Runs a request and sends its reply: true if that said "STARTTLS". */
static bool tcp_execute(struct rpc_req *req)
{
	struct conn *c = req->conn;
	struct stats_call sc;
	bool starttls;
	size_t len;

	stats_begin(&sc, req);
	len = execute(c->t->srv, req);
	starttls = len && req->starttls;
	stats_reply(&sc, req, len);
	conn_reply(c, &req->out, len);
	stats_end(&sc);
	conn_put(c);
	free(req);
	return starttls;
}

/*
 * Worker, before a request runs.  While the budget is spent, a client
 * whose earlier replies still wait gets no new one: the request waits,
 * costing only its call, until conn_unpark().  One relaxed load while
 * there is room.
 */
static bool conn_park(struct conn *c, struct rpc_req *req)
{
	struct parked *p;
	bool parked = false;

	if (!over_budget(c->t))
		return false;
	p = malloc(sizeof(*p));
	if (!p)
		return false; /* run it: answering beats failing */
	bufferevent_lock(c->bev);
	if (!c->closed &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		p->req = req;
		p->next = NULL;
		*c->parked_tail = p;
		c->parked_tail = &p->next;
		conn_pause(c);
		parked = true;
	}
	bufferevent_unlock(c->bev);
	if (!parked)
		free(p);
	return parked;
}

static void tcp_work(void *arg)
{
	struct rpc_req *req = arg;

	if (!conn_park(req->conn, req))
		(void)tcp_execute(req);
}

/*
 * NULL of NFS or MOUNT touches no file system and costs less than the
 * handoff to a worker, so the loop thread answers it itself.  Only the
 * call header is peeked at here (xid, type, rpcvers, prog, vers, proc);
 * rpc_execute() still decodes and checks everything.  Other programs'
 * NULL procedures, and any NULL with an RPCSEC_GSS credential (context
 * creation reads the keytab), are left to the workers.
 */
static bool is_cheap_call(const uint8_t *rec, size_t len)
{
	uint32_t w[7]; /* ... proc, credential flavor */

	if (len < sizeof(w))
		return false;
	memcpy(w, rec, sizeof(w));
	if (ntohl(w[5]) != 0 || ntohl(w[6]) == RPCSEC_GSS)
		return false;
	return ntohl(w[3]) == 100003 || ntohl(w[3]) == 100005;
}

/* The NULL call with an AUTH_TLS credential (peeked as above). */
static bool is_tls_probe(const uint8_t *rec, size_t len)
{
	uint32_t w[7];

	if (len < sizeof(w))
		return false;
	memcpy(w, rec, sizeof(w));
	return ntohl(w[5]) == 0 && ntohl(w[6]) == AUTH_TLS;
}

static void conn_start_tls(struct conn *c);

/*
 * Loop thread.  Only with nothing else in flight: a worker's plaintext
 * reply must not follow the handshake.  The probe is answered here, so
 * that no byte after it (the ClientHello) is read as a record.
 */
static void conn_probe(struct conn *c, struct rpc_req *req)
{
	req->starttls = c->inflight == 1 && !c->tls && !c->portmap &&
			!c->direct;
	if (tcp_execute(req) && !c->closed)
		conn_start_tls(c);
}

static void conn_submit(struct conn *c)
{
	struct rpc_req *req = calloc(1, sizeof(*req));

	if (!req) {
		log_ratelimited(LOG_ERR, "%s: out of memory; request dropped",
				c->name);
		record_free(&c->rec);
		return;
	}
	req->conn = c;
	req->peer = c->peer;
	req->peer_len = c->peer_len;
	req->tcp = true;
	req->portmap = c->portmap;
	req->xprtsec = c->xprtsec;
	req->rec = record_take(&c->rec, &req->reclen);
	req->t_recv = stats_clock();
	conn_get(c);
	if (++c->inflight >= CONN_MAX_INFLIGHT)
		conn_pause(c);
	/* conn_read() or on_direct() holds a reference on c. */
	if (c->t->tls && is_tls_probe(req->rec, req->reclen))
		conn_probe(c, req);
	else if (is_cheap_call(req->rec, req->reclen))
		tcp_work(req);
	else
		workers_submit(c->t->srv->workers, tcp_work, req);
}

/* ---- TCP record marking ----------------------------------------------- */

/* One line per bad record, rate-limited per kind: clients provoke these. */
#define conn_fail(c, why)                                                      \
	do {                                                                   \
		log_ratelimited(LOG_NOTICE, "%s: %s; closing connection",      \
				(c)->name, (why));                             \
		conn_close(c);                                                 \
	} while (0)

static void read_records(struct conn *c, struct evbuffer *in);

/*
 * The rest of a large fragment (a WRITE's data, mostly) is read from the
 * socket straight into the record instead of through the bufferevent's
 * input buffer, saving a copy of every byte.  Only while that buffer is
 * empty, so the bytes stay in order; and with the bufferevent's reading
 * off, so that it takes none of them.  Back-pressure waits for the end
 * of the fragment: its memory is already allocated.  A TLS transport
 * would have to read through its own layer here, or not go direct.
 */
enum direct_result { DIRECT_DONE, DIRECT_WAIT, DIRECT_FAILED };

static enum direct_result read_direct(struct conn *c, enum record_status *st)
{
	int fd = bufferevent_getfd(c->bev);
	uint32_t left;
	uint8_t *dest;
	ssize_t n;

	*st = RECORD_MORE;
	for (;;) {
		dest = record_frag_dest(&c->rec, &left);
		if (left == 0)
			break;
		n = read(fd, dest, left);
		if (n > 0) {
			*st = record_filled(&c->rec, (size_t)n);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return DIRECT_WAIT;
		} else {
			if (n < 0)
				log_debug("%s: %s", c->name, strerror(errno));
			conn_fail(c, "truncated record (peer closed mid-record)");
			return DIRECT_FAILED;
		}
	}
	return DIRECT_DONE;
}

static bool direct_begin(struct conn *c)
{
	struct timeval idle = { .tv_sec = (time_t)c->t->idle_timeout };

	if (event_add(c->direct_ev, c->t->idle_timeout ? &idle : NULL) < 0) {
		conn_fail(c, "cannot watch the socket");
		return false;
	}
	bufferevent_lock(c->bev);
	c->direct = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_unlock(c->bev);
	return true;
}

static void direct_end(struct conn *c)
{
	event_del(c->direct_ev);
	bufferevent_lock(c->bev);
	c->direct = false;
	if (!c->paused && !c->closed && !c->t->stopping)
		bufferevent_enable(c->bev, EV_READ);
	bufferevent_unlock(c->bev);
}

/* True once the fragment is complete; *st then says if the record is. */
static bool frag_fill_direct(struct conn *c, enum record_status *st)
{
	switch (read_direct(c, st)) {
	case DIRECT_DONE:
		if (c->direct)
			direct_end(c);
		return true;
	case DIRECT_WAIT:
		if (!c->direct)
			(void)direct_begin(c);
		return false;
	case DIRECT_FAILED:
		break;
	}
	return false;
}

static void conn_timeout(struct conn *c)
{
	if (c->handshaking) {
		log_ratelimited(LOG_NOTICE,
				"%s: TLS handshake silent for %u seconds; "
				"closing connection",
				c->name, TLS_HANDSHAKE_SECONDS);
		conn_close(c);
	} else if (c->inflight == 0) {
		log_info("%s: idle for %u seconds; closing connection",
			 c->name, c->t->idle_timeout);
		conn_close(c);
	}
}

static void tls_on_read(struct conn *c);

static void on_direct(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_get(c);
	if (what & EV_TIMEOUT) {
		conn_timeout(c);
	} else if (c->tls) {
		tls_on_read(c);
	} else {
		/* As in conn_read(): conn_submit() counts under the lock. */
		bufferevent_lock(c->bev);
		read_records(c, bufferevent_get_input(c->bev));
		bufferevent_unlock(c->bev);
	}
	note_partial(c);
	conn_put(c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* conn_fail() may drop the last reference: keep c until we return. */
	conn_get(c);
	read_records(c, in);
	note_partial(c);
	conn_put(c);
}

/*
 * Feeds the framer from the input buffer, chunk by chunk in place (the
 * framer's copy into the record is the only one), up to the end of the
 * next record.
 */
static enum record_status feed_input(struct conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec v[8];
	enum record_status st = RECORD_MORE;
	size_t used, total;
	int i, nv;

	while (st == RECORD_MORE && evbuffer_get_length(in) > 0) {
		nv = evbuffer_peek(in, -1, NULL, v, 8);
		if (nv > 8)
			nv = 8;
		total = 0;
		for (i = 0; i < nv && st == RECORD_MORE; i++) {
			st = record_feed(&c->rec, v[i].iov_base, v[i].iov_len,
					 &used);
			total += used;
		}
		if (total == 0 || evbuffer_drain(in, total) < 0)
			break;
	}
	return st;
}

static void read_records(struct conn *c, struct evbuffer *in)
{
	enum record_status st;
	uint32_t left;

	/* Once direct, the fragment is finished whatever the pressure;
	 * once TLS has started, tls_read() takes over. */
	while (!c->closed && (!c->paused || c->direct) && !c->tls &&
	       !__atomic_load_n(&c->t->stopping, __ATOMIC_RELAXED)) {
		st = feed_input(c, in);
		if (st == RECORD_MORE) {
			/* The input buffer is empty: the rest of a large
			 * fragment is better read in place. */
			(void)record_frag_dest(&c->rec, &left);
			if (!(c->direct || left >= DIRECT_MIN))
				return;
			if (!frag_fill_direct(c, &st))
				return;
			if (st == RECORD_MORE)
				continue;
		}
		if (st == RECORD_BAD) {
			conn_fail(c, record_error(&c->rec));
			return;
		}
		conn_submit(c);
	}
}

/* ---- RPC-with-TLS ------------------------------------------------------ */

/* Bytes the bufferevent read before the switch come first. */
static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	struct conn *c = p;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	ssize_t r;

	if (evbuffer_get_length(in) > 0)
		return evbuffer_remove(in, buf, n);
	do
		r = recv(bufferevent_getfd(c->bev), buf, n, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return r;
}

/* Never waits: the loop calls GnuTLS only when the socket is readable. */
static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct conn *c = p;
	struct pollfd pfd = { .fd = bufferevent_getfd(c->bev),
			      .events = POLLIN };

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		return 1;
	return poll(&pfd, 1, 0);
}

/*
 * Any thread.  As conn_send_now() for plaintext: straight to the socket
 * when nothing is queued, the rest queued for the loop, so GnuTLS never
 * sees EAGAIN and a worker never waits for the client.
 */
static ssize_t tls_push(gnutls_transport_ptr_t p, const giovec_t *iov,
			int iovcnt)
{
	struct conn *c = p;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov,
			      .msg_iovlen = (size_t)iovcnt };
	struct evbuffer *o;
	size_t total = 0, skip = 0;
	ssize_t w = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	bufferevent_lock(c->bev);
	o = bufferevent_get_output(c->bev);
	if (!c->closed && evbuffer_get_length(o) == 0) {
		do
			w = sendmsg(bufferevent_getfd(c->bev), &msg,
				    MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		skip = w > 0 ? (size_t)w : 0;
	}
	for (i = 0; i < iovcnt && !c->closed; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		if (evbuffer_add(o, (const uint8_t *)iov[i].iov_base + skip,
				 iov[i].iov_len - skip) < 0) {
			bufferevent_unlock(c->bev);
			gnutls_transport_set_errno(c->tls, ENOMEM);
			return -1;
		}
		skip = 0;
	}
	if (evbuffer_get_length(o) > CONN_MAX_OUTPUT)
		conn_pause(c);
	if (over_budget(c->t)) {
		conn_pause(c);
		budget_alarm(c->t);
	}
	bufferevent_unlock(c->bev);
	return (ssize_t)total;
}

/* Bufferevent locked (a worker's reply). */
static void tls_send(struct conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		/* tls_push() never says EAGAIN: no partial record to resume. */
		w = gnutls_record_send(c->tls, p, n);
		if (w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w < 0) {
			log_ratelimited(LOG_NOTICE, "%s: TLS send: %s", c->name,
					gnutls_strerror((int)w));
			/* The loop's reader sees the end and closes. */
			shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Any thread, bufferevent locked: conn_resume() in TLS mode. */
static void tls_resume(struct conn *c)
{
	struct timeval idle = { .tv_sec = (time_t)c->t->idle_timeout };

	/* GnuTLS may hold decrypted bytes already: read without waiting
	 * for the socket. */
	(void)event_add(c->direct_ev, c->t->idle_timeout ? &idle : NULL);
	event_active(c->direct_ev, EV_READ, 0);
}

/* Loop thread: whether to go on reading; a paused connection stops
 * watching the socket until tls_resume(). */
static bool tls_may_read(struct conn *c)
{
	bool ok;

	bufferevent_lock(c->bev);
	ok = !c->closed && !c->paused &&
	     !__atomic_load_n(&c->t->stopping, __ATOMIC_RELAXED);
	if (!c->closed && c->paused)
		event_del(c->direct_ev);
	bufferevent_unlock(c->bev);
	return ok;
}

static void tls_read_failed(struct conn *c, ssize_t n)
{
	char why[128];

	if (record_mid(&c->rec)) {
		conn_fail(c, "truncated record (peer closed mid-record)");
	} else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
		log_debug("%s: TLS session closed by the peer", c->name);
		conn_close(c);
	} else {
		snprintf(why, sizeof(why), "TLS: %s", gnutls_strerror((int)n));
		conn_fail(c, why);
	}
}

/*
 * Loop thread.  A fragment's body is decrypted straight into the
 * record; a fragment header (at most 4 bytes) goes through the framer.
 */
static void tls_read(struct conn *c)
{
	enum record_status st = RECORD_MORE;
	uint8_t hdr[4], *dest;
	uint32_t left;
	size_t used;
	ssize_t n;

	while (tls_may_read(c)) {
		dest = record_frag_dest(&c->rec, &left);
		if (left == 0) {
			n = gnutls_record_recv(c->tls, hdr, 4 - c->rec.hdrlen);
			if (n > 0)
				st = record_feed(&c->rec, hdr, (size_t)n,
						 &used);
		} else {
			n = gnutls_record_recv(c->tls, dest, left);
			if (n > 0)
				st = record_filled(&c->rec, (size_t)n);
		}
		if (n == GNUTLS_E_AGAIN)
			return;
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0) {
			tls_read_failed(c, n);
			return;
		}
		if (st == RECORD_BAD) {
			conn_fail(c, record_error(&c->rec));
			return;
		}
		if (st == RECORD_DONE) {
			bufferevent_lock(c->bev);
			conn_submit(c);
			bufferevent_unlock(c->bev);
			st = RECORD_MORE;
		}
	}
}

/* Loop thread: one step of the handshake, as far as the bytes in go. */
static void tls_handshake(struct conn *c)
{
	struct timeval idle = { .tv_sec = (time_t)c->t->idle_timeout };
	int rc;

	do
		rc = gnutls_handshake(c->tls);
	while (rc == GNUTLS_E_INTERRUPTED);
	if (rc == GNUTLS_E_AGAIN)
		return;
	if (rc < 0) {
		(void)gnutls_alert_send_appropriate(c->tls, rc);
		log_ratelimited(LOG_NOTICE,
				"%s: TLS handshake failed: %s; closing "
				"connection",
				c->name, gnutls_strerror(rc));
		conn_close(c);
		return;
	}
	c->xprtsec = (uint8_t)tls_session_mode(c->tls);
	c->handshaking = false;
	log_debug("%s: TLS session%s", c->name,
		  c->xprtsec == XPRTSEC_MTLS ? " with a client certificate"
					     : "");
	/* From the handshake's limit to the idle timeout. */
	if (event_add(c->direct_ev, c->t->idle_timeout ? &idle : NULL) < 0) {
		conn_fail(c, "cannot watch the socket");
		return;
	}
	tls_read(c); /* records may have come with the handshake's end */
}

static void tls_on_read(struct conn *c)
{
	if (c->handshaking)
		tls_handshake(c);
	else
		tls_read(c);
}

/* Loop thread, right after the "STARTTLS" reply went out (or queued). */
static void conn_start_tls(struct conn *c)
{
	struct timeval limit = { .tv_sec = TLS_HANDSHAKE_SECONDS };
	gnutls_session_t s = tls_session_new(c->t->tls, c->name);

	if (!s) {
		conn_close(c);
		return;
	}
	gnutls_transport_set_ptr(s, c);
	gnutls_transport_set_pull_function(s, tls_pull);
	gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
	gnutls_transport_set_vec_push_function(s, tls_push);
	bufferevent_lock(c->bev);
	c->tls = s;
	c->handshaking = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_unlock(c->bev);
	if (event_add(c->direct_ev, &limit) < 0) {
		conn_fail(c, "cannot watch the socket");
		return;
	}
	tls_handshake(c); /* the ClientHello may be in already */
}

static void conn_write(struct bufferevent *bev, void *arg)
{
	conn_resume(arg); /* the output drained below the low mark */
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	bool mid_record = record_mid(&c->rec);

	if (what & BEV_EVENT_TIMEOUT) {
		/* Not idle while it waits for our replies. */
		if (c->inflight > 0 || c->paused) {
			if (!c->paused && !c->direct)
				bufferevent_enable(bev, EV_READ);
			return;
		}
		log_info("%s: idle for %u seconds; closing connection",
			 c->name, c->t->idle_timeout);
	} else if (mid_record) {
		conn_fail(c, "truncated record (peer closed mid-record)");
		return;
	} else if (what & BEV_EVENT_ERROR) {
		log_debug("%s: %s", c->name, strerror(EVUTIL_SOCKET_ERROR()));
	}
	conn_close(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct transport *t = arg;
	struct timeval idle = { .tv_sec = (time_t)t->idle_timeout };
	char name[INET6_ADDRSTRLEN + 8];
	struct conn *c;
	int one = 1;

	if (t->stopping || t->nconns >= t->max_connections) {
		log_ratelimited(LOG_WARNING,
				"%s: %u connections open; refusing another",
				log_addr(sa, name, sizeof(name)), t->nconns);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->bev = bufferevent_socket_new(
			t->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE);
	if (!c || !c->bev) {
		log_ratelimited(LOG_ERR, "out of memory accepting a client");
		free(c);
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t = t;
	c->refs = 1;
	c->parked_tail = &c->parked;
	c->portmap = l == t->pmap_listener;
	record_init(&c->rec, t->max_record);
	memcpy(&c->peer, sa, (size_t)salen);
	c->peer_len = (socklen_t)salen;
	log_addr(sa, c->name, sizeof(c->name));
	c->direct_ev = event_new(t->base, fd, EV_READ | EV_PERSIST, on_direct, c);
	if (!c->direct_ev) {
		log_ratelimited(LOG_ERR, "out of memory accepting a client");
		bufferevent_free(c->bev); /* closes fd */
		free(c);
		return;
	}
	c->counting = evbuffer_add_cb(bufferevent_get_output(c->bev),
				      output_changed, c);
	if (!c->counting) {
		log_ratelimited(LOG_ERR, "out of memory accepting a client");
		event_free(c->direct_ev);
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_LOW, 0);
	bufferevent_set_max_single_read(c->bev, READ_CHUNK);
	if (t->idle_timeout)
		bufferevent_set_timeouts(c->bev, &idle, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->nconns++;
	stats_conn_opened();
	log_debug("%s: connected", c->name);
}

/* ---- UDP -------------------------------------------------------------- */

static void udp_work(void *arg)
{
	struct rpc_req *req = arg;
	struct transport *t = req->srv->transport;
	int fd = req->portmap ? t->pmap_udp_fd : t->udp_fd;
	char name[INET6_ADDRSTRLEN + 8];
	struct stats_call sc;
	size_t len;

	stats_begin(&sc, req);
	len = execute(req->srv, req);
	stats_reply(&sc, req, len);
	if (len && sendto(fd, req->out.base + 4, len, 0,
			  (struct sockaddr *)&req->peer, req->peer_len) < 0)
		log_ratelimited(LOG_NOTICE, "%s: UDP reply of %zu bytes: %s",
				log_addr((struct sockaddr *)&req->peer, name,
					 sizeof(name)),
				len, strerror(errno));
	stats_end(&sc);
	free(req->out.base);
	__atomic_sub_fetch(&t->udp_inflight, 1, __ATOMIC_RELAXED);
	free(req);
}

static void udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct transport *t = arg;
	struct rpc_req *req;
	uint8_t *buf, discard[4];
	ssize_t n;
	int i;

	for (i = 0; i < UDP_BATCH; i++) {
		if (__atomic_load_n(&t->udp_inflight, __ATOMIC_RELAXED) >=
		    UDP_MAX_INFLIGHT) {
			/* Overloaded: drop it; the client retransmits. */
			if (recv(fd, discard, sizeof(discard), 0) < 0)
				return;
			continue;
		}
		buf = malloc(UDP_MAX_DGRAM);
		req = calloc(1, sizeof(*req));
		if (!buf || !req) {
			free(buf);
			free(req);
			return;
		}
		req->peer_len = sizeof(req->peer);
		n = recvfrom(fd, buf, UDP_MAX_DGRAM, 0,
			     (struct sockaddr *)&req->peer, &req->peer_len);
		if (n <= 0) {
			free(buf);
			free(req);
			if (n < 0)
				return; /* EAGAIN: drained */
			continue;
		}
		req->srv = t->srv;
		req->portmap = fd == t->pmap_udp_fd;
		req->rec = buf;
		req->reclen = (size_t)n;
		req->t_recv = stats_clock();
		__atomic_add_fetch(&t->udp_inflight, 1, __ATOMIC_RELAXED);
		workers_submit(t->srv->workers, udp_work, req);
	}
}

/* ---- the memory budget: stalled clients ------------------------------- */

/* Loop thread: the open connection with the most replies queued that
 * has taken none of them for BUDGET_STALL_SECONDS, or NULL. */
static struct conn *stalled_worst(struct transport *t, size_t *bytes)
{
	time_t now = coarse_now();
	struct conn *c, *worst = NULL;
	size_t len;

	*bytes = 0;
	for (c = t->conns; c; c = c->next) {
		bufferevent_lock(c->bev);
		len = evbuffer_get_length(bufferevent_get_output(c->bev));
		if (len > *bytes &&
		    now - c->stalled_since >= BUDGET_STALL_SECONDS) {
			worst = c;
			*bytes = len;
		}
		bufferevent_unlock(c->bev);
	}
	return worst;
}

/*
 * Loop thread, while over max-buffered: back-pressure holds the clients
 * that do not read, but only disconnecting them gives their memory back
 * to the others.  Runs every BUDGET_TICK_SECONDS until under budget.
 */
static void budget_tick(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tick = { .tv_sec = BUDGET_TICK_SECONDS };
	struct transport *t = arg;
	struct conn *c;
	size_t unread;

	while (over_budget(t) && (c = stalled_worst(t, &unread))) {
		log_ratelimited(LOG_WARNING,
				"%s: %zu bytes of replies unread for %u "
				"seconds while over max-buffered (%lld MiB); "
				"closing connection",
				c->name, unread, BUDGET_STALL_SECONDS,
				(long long)(t->max_buffered >> 20));
		conn_close(c);
	}
	if (t->stopping)
		return; /* budget_armed stays set: nothing re-arms */
	if (over_budget(t)) {
		(void)evtimer_add(t->budget_ev, &tick);
		return;
	}
	__atomic_store_n(&t->budget_armed, false, __ATOMIC_RELAXED);
	/* A worker that found the budget spent just before the store saw
	 * budget_armed still set and left the alarm to us. */
	if (over_budget(t))
		budget_alarm(t);
}

/* ---- signals and shutdown --------------------------------------------- */

static void stop_accepting(struct transport *t)
{
	struct conn *c;

	if (t->stopping)
		return;
	__atomic_store_n(&t->stopping, true, __ATOMIC_RELAXED);
	evconnlistener_disable(t->listener);
	if (t->udp_ev)
		event_del(t->udp_ev);
	if (t->pmap_listener)
		evconnlistener_disable(t->pmap_listener);
	if (t->pmap_udp_ev)
		event_del(t->pmap_udp_ev);
	for (c = t->conns; c; c = c->next) {
		bufferevent_disable(c->bev, EV_READ);
		event_del(c->direct_ev);
	}
	event_base_loopbreak(t->base);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	stop_accepting(arg);
}

static void reload_work(void *arg)
{
	server_reload(arg);
	sd_notify_state("READY=1");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct transport *t = arg;

	if (sig == SIGHUP) {
		log_notice("SIGHUP: reloading configuration");
		sd_notify_reloading();
		/* Reloading reads files: not on the loop thread. */
		workers_submit(t->srv->workers, reload_work, t->srv);
		return;
	}
	log_notice("%s: shutting down", strsignal((int)sig));
	stop_accepting(t);
}

void transport_shutdown(struct transport *t)
{
	event_active(t->stop_ev, EV_READ, 0); /* any thread */
}

/* ---- setup ------------------------------------------------------------ */

static int bind_socket(const struct sockaddr_storage *ss, socklen_t len,
		       int type, char *err, size_t errlen)
{
	int fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
		snprintf(err, errlen, "bind %s: %s",
			 type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * TCP and UDP on the same port.  With port 0 the kernel picks TCP's; if
 * UDP cannot have the same one, try another.
 */
static int bind_both(struct transport *t, const struct config *cfg,
		     int *tcp, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int attempt, e;

	for (attempt = 0; attempt < 16; attempt++) {
		ss = cfg->listen;
		*tcp = bind_socket(&ss, cfg->listen_len, SOCK_STREAM, err,
				   errlen);
		if (*tcp < 0)
			return -1;
		len = sizeof(ss);
		if (getsockname(*tcp, (struct sockaddr *)&ss, &len) < 0) {
			snprintf(err, errlen, "getsockname: %s",
				 strerror(errno));
			close(*tcp);
			return -1;
		}
		t->port = get_port(&ss);
		if (!cfg->udp)
			return 0;
		t->udp_fd = bind_socket(&ss, cfg->listen_len, SOCK_DGRAM, err,
					errlen);
		if (t->udp_fd >= 0)
			return 0;
		e = errno;
		close(*tcp);
		if (e != EADDRINUSE || get_port(&cfg->listen) != 0)
			return -1; /* a fixed port: nothing else to try */
	}
	return -1;
}

static int setup_events(struct transport *t, int tcp, char *err,
			size_t errlen)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	t->listener = evconnlistener_new(t->base, on_accept, t,
					 LEV_OPT_CLOSE_ON_FREE |
						 LEV_OPT_CLOSE_ON_EXEC,
					 -1, tcp);
	if (!t->listener) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		close(tcp);
		return -1;
	}
	if (t->udp_fd >= 0) {
		t->udp_ev = event_new(t->base, t->udp_fd, EV_READ | EV_PERSIST,
				      udp_read, t);
		if (!t->udp_ev || event_add(t->udp_ev, NULL) < 0)
			goto nomem;
	}
	for (i = 0; i < 3; i++) {
		t->sigs[i] = evsignal_new(t->base, signals[i], on_signal, t);
		if (!t->sigs[i] || event_add(t->sigs[i], NULL) < 0)
			goto nomem;
	}
	t->stop_ev = event_new(t->base, -1, 0, on_stop, t);
	t->budget_ev = evtimer_new(t->base, budget_tick, t);
	if (!t->stop_ev || !t->budget_ev)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "cannot set up events");
	return -1;
}

/*
 * "portmap yes": TCP (and UDP, as on the NFS port) on the listen address's
 * portmapper port, for server/portmap.c.  A fixed port, so a second try
 * would meet the same owner (usually a running rpcbind).
 */
static int open_portmap(struct transport *t, const struct config *cfg,
			char *err, size_t errlen)
{
	struct sockaddr_storage ss = cfg->listen;
	char why[256] = "";
	int tcp;

	set_port(&ss, cfg->portmap_port);
	tcp = bind_socket(&ss, cfg->listen_len, SOCK_STREAM, why, sizeof(why));
	if (tcp < 0)
		goto fail;
	t->pmap_listener = evconnlistener_new(
		t->base, on_accept, t,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, tcp);
	if (!t->pmap_listener) {
		snprintf(why, sizeof(why), "listen: %s", strerror(errno));
		close(tcp);
		goto fail;
	}
	if (cfg->udp) {
		t->pmap_udp_fd = bind_socket(&ss, cfg->listen_len, SOCK_DGRAM,
					     why, sizeof(why));
		if (t->pmap_udp_fd < 0)
			goto fail;
		t->pmap_udp_ev = event_new(t->base, t->pmap_udp_fd,
					   EV_READ | EV_PERSIST, udp_read, t);
		if (!t->pmap_udp_ev || event_add(t->pmap_udp_ev, NULL) < 0) {
			snprintf(why, sizeof(why), "cannot set up events");
			goto fail;
		}
	}
	t->pmap_port = cfg->portmap_port;
	return 0;
fail:
	snprintf(err, errlen, "portmapper port %u: %s", cfg->portmap_port,
		 why);
	return -1;
}

/* max-buffered, or by default a quarter of the RAM (64 MiB at least):
 * what a host can lend its NFS clients' slowest readers. */
static int64_t max_buffered(const struct config *cfg)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	int64_t ram = (int64_t)4 << 30; /* if sysconf does not know */

	if (cfg->max_buffered)
		return (int64_t)cfg->max_buffered << 20;
	if (pages > 0 && size > 0)
		ram = (int64_t)pages * size;
	return ram / 4 > (64 << 20) ? ram / 4 : (64 << 20);
}

struct transport *transport_open(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;
	struct sockaddr_storage bound = cfg->listen;
	struct transport *t;
	char addr[INET6_ADDRSTRLEN + 8];
	int tcp;

	if (evthread_use_pthreads() < 0) {
		snprintf(err, errlen, "libevent: no thread support");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->srv = srv;
	t->udp_fd = -1;
	t->pmap_udp_fd = -1;
	t->max_record = cfg->max_record;
	t->max_connections = cfg->max_connections;
	t->idle_timeout = cfg->idle_timeout;
	t->max_buffered = max_buffered(cfg);
	t->base = event_base_new();
	if (!t->base) {
		snprintf(err, errlen, "cannot create event base");
		free(t);
		return NULL;
	}
	if (tls_server_open(cfg, &t->tls, err, errlen) < 0 ||
	    bind_both(t, cfg, &tcp, err, errlen) < 0 ||
	    setup_events(t, tcp, err, errlen) < 0 ||
	    (cfg->portmap && open_portmap(t, cfg, err, errlen) < 0)) {
		transport_close(t);
		return NULL;
	}
	srv->transport = t;
	set_port(&bound, t->port);
	log_notice("listening on %s (%s)",
		   log_addr((struct sockaddr *)&bound, addr, sizeof(addr)),
		   t->udp_fd >= 0 ? "tcp, udp" : "tcp");
	log_info("max-buffered %lld MiB (replies queued and records being "
		 "received, all connections)",
		 (long long)(t->max_buffered >> 20));
	if (t->tls)
		log_notice("RPC-with-TLS on TCP: certificate %s%s%s",
			   cfg->tls_cert, cfg->tls_ca ? ", client CA " : "",
			   cfg->tls_ca ? cfg->tls_ca : "");
	/* Not "listening on": scripts take the port from that line. */
	if (t->pmap_port) {
		set_port(&bound, t->pmap_port);
		log_notice("portmapper (rpcbind v2, v3, v4) on %s",
			   log_addr((struct sockaddr *)&bound, addr,
				    sizeof(addr)));
	}
	return t;
}

int transport_run(struct transport *t)
{
	if (event_base_dispatch(t->base) < 0) {
		log_err("event loop failed");
		return -1;
	}
	return 0;
}

uint16_t transport_port(const struct transport *t)
{
	return t->port;
}

struct event_base *transport_base(const struct transport *t)
{
	return t->base;
}

uint16_t transport_portmap_port(const struct transport *t)
{
	return t->pmap_port;
}

static bool outputs_pending(const struct transport *t)
{
	const struct conn *c;

	for (c = t->conns; c; c = c->next)
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return true;
	return false;
}

static void flush_tick(evutil_socket_t fd, short what, void *arg)
{
	struct transport *t = arg;

	if (!outputs_pending(t))
		event_base_loopbreak(t->base);
}

/*
 * After the workers have finished: give the replies they queued a moment
 * to reach the clients, then close everything.
 */
static void flush_replies(struct transport *t)
{
	struct timeval tick = { 0, 10000 }, limit = { FLUSH_SECONDS, 0 };
	struct event *ev;

	if (!outputs_pending(t))
		return;
	ev = event_new(t->base, -1, EV_PERSIST, flush_tick, t);
	if (!ev)
		return;
	event_add(ev, &tick);
	event_base_loopexit(t->base, &limit);
	event_base_dispatch(t->base);
	event_free(ev);
}

void transport_close(struct transport *t)
{
	size_t i;

	if (!t)
		return;
	if (t->listener)
		flush_replies(t);
	while (t->conns)
		conn_close(t->conns);
	/* Every byte counted was given back: the budget cannot leak. */
	if (t->buffered != 0)
		log_warn("max-buffered: %lld bytes still counted at exit",
			 (long long)t->buffered);
	if (t->listener)
		evconnlistener_free(t->listener);
	if (t->udp_ev)
		event_free(t->udp_ev);
	if (t->udp_fd >= 0)
		close(t->udp_fd);
	if (t->pmap_listener)
		evconnlistener_free(t->pmap_listener);
	if (t->pmap_udp_ev)
		event_free(t->pmap_udp_ev);
	if (t->pmap_udp_fd >= 0)
		close(t->pmap_udp_fd);
	for (i = 0; i < 3; i++)
		if (t->sigs[i])
			event_free(t->sigs[i]);
	if (t->stop_ev)
		event_free(t->stop_ev);
	if (t->budget_ev)
		event_free(t->budget_ev);
	if (t->srv && t->srv->transport == t)
		t->srv->transport = NULL;
	event_base_free(t->base);
	tls_server_close(t->tls);
	free(t);
}
