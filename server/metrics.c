/*
 * metrics.c - the Prometheus text exposition (format 0.0.4) at
 * GET /metrics, served by libevent's evhttp on the transport's loop.
 *
 * The request counters are read from the statistics shards, which costs
 * no I/O.  What needs the catalog or the export table (its size, the
 * copy-up counts) is refreshed on a worker every REFRESH_SECONDS and the
 * last values served, so that a scrape never waits on the disk or on a
 * reload holding the server lock.
 *
 * The endpoint listens on loopback unless an address is written out: the
 * numbers are not secret, but they tell how busy the server is and what
 * its exports are called.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "server.h"
#include "stats.h"

#define REFRESH_SECONDS 10
#define HTTP_TIMEOUT 10

/* An export as the last refresh saw it. */
struct export_view {
	uint32_t id;
	char *name;
	uint64_t copyups;
};

/* What a worker last read from the union: atomics, and the export list
 * under a mutex that only the refresh and a scrape take. */
struct union_view {
	uint64_t copyups, copyups_active;
	uint64_t cat_objects, cat_bytes;
	int refreshing;
	pthread_mutex_t lock;
	struct export_view *exports;
	unsigned nexports;
};

struct metrics {
	struct server *srv;
	struct evhttp *http;
	struct event *tick;
	char addr[INET6_ADDRSTRLEN + 8];
	struct union_view uv;
};

int metrics_parse_addr(const char *s, struct sockaddr_storage *out,
		       socklen_t *len)
{
	struct config tmp;
	struct sockaddr_in *sin = (struct sockaddr_in *)&tmp.listen;

	if (config_parse_listen(&tmp, s) < 0)
		return -1;
	/* A bare port is loopback: exposing it takes writing an address. */
	if (!strchr(s, ':'))
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (out) {
		*out = tmp.listen;
		*len = tmp.listen_len;
	}
	return 0;
}

/* ---- refresh on a worker ------------------------------------------------ */

static void free_exports(struct export_view *v, unsigned n)
{
	while (n--)
		free(v[n].name);
	free(v);
}

/* srv->lock held for reading. */
static void refresh_exports(struct metrics *m)
{
	struct server *srv = m->srv;
	struct export_view *v = calloc(srv->nexports + 1, sizeof(*v)), *old;
	struct un_stats us;
	unsigned i, n = 0, old_n;

	if (!v)
		return;
	for (i = 0; i < srv->nexports; i++) {
		un_stats(srv->exports[i].ux, &us);
		v[n].id = srv->exports[i].id;
		v[n].copyups = us.copyups;
		if ((v[n].name = strdup(srv->exports[i].conf->u.name)))
			n++;
	}
	pthread_mutex_lock(&m->uv.lock);
	old = m->uv.exports;
	old_n = m->uv.nexports;
	m->uv.exports = v;
	m->uv.nexports = n;
	pthread_mutex_unlock(&m->uv.lock);
	free_exports(old, old_n);
}

static void refresh_work(void *arg)
{
	struct metrics *m = arg;
	struct server *srv = m->srv;
	uint64_t copyups = 0, active = 0, objects, bytes;
	struct un_stats us;
	unsigned i;

	pthread_rwlock_rdlock(&srv->lock);
	for (i = 0; i < srv->nexports; i++) {
		un_stats(srv->exports[i].ux, &us);
		copyups += us.copyups;
		active += us.copyups_active;
	}
	refresh_exports(m);
	if (un_catalog_size(srv->cat, &objects, &bytes) == 0) {
		__atomic_store_n(&m->uv.cat_objects, objects, __ATOMIC_RELAXED);
		__atomic_store_n(&m->uv.cat_bytes, bytes, __ATOMIC_RELAXED);
	}
	pthread_rwlock_unlock(&srv->lock);
	__atomic_store_n(&m->uv.copyups, copyups, __ATOMIC_RELAXED);
	__atomic_store_n(&m->uv.copyups_active, active, __ATOMIC_RELAXED);
	__atomic_store_n(&m->uv.refreshing, 0, __ATOMIC_RELEASE);
}

static void refresh(struct metrics *m)
{
	if (__atomic_exchange_n(&m->uv.refreshing, 1, __ATOMIC_ACQ_REL))
		return; /* the last one is still running */
	workers_submit(m->srv->workers, refresh_work, m);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	refresh(arg);
}

/* ---- exposition --------------------------------------------------------- */

static uint64_t uv_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void put_family(struct evbuffer *b, const char *name,
		       const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

static void put_proc_labels(struct evbuffer *b, const struct stats_proc *p)
{
	evbuffer_add_printf(b, "program=\"%s\",version=\"%u\",procedure=\"%s\"",
			    p->program, p->vers, p->name);
}

static void put_requests(struct evbuffer *b, const struct stats_snapshot *s)
{
	size_t i;

	put_family(b, "unionnfsd_rpc_requests_total", "counter",
		   "RPC calls answered, by program, version and procedure.");
	for (i = 0; i < s->nprocs; i++) {
		if (!s->procs[i].calls || !s->procs[i].name)
			continue;
		evbuffer_add_printf(b, "unionnfsd_rpc_requests_total{");
		put_proc_labels(b, &s->procs[i]);
		evbuffer_add_printf(b, "} %llu\n",
				    (unsigned long long)s->procs[i].calls);
	}
	if (s->nprocs == 0)
		return; /* statistics are off */
	put_family(b, "unionnfsd_rpc_unknown_requests_total", "counter",
		   "Calls of programs, versions or procedures not served.");
	evbuffer_add_printf(b, "unionnfsd_rpc_unknown_requests_total %llu\n",
			    (unsigned long long)s->procs[s->nprocs - 1].calls);
}

/* Three buckets a decade (1, 2.5, 5) out of the ten counted. */
static bool exposed_bound(unsigned i)
{
	unsigned m = i % 10;

	return m == 0 || m == 4 || m == 7;
}

static void put_histogram(struct evbuffer *b, const struct stats_proc *p)
{
	const char *n = "unionnfsd_rpc_duration_seconds";
	uint64_t cum = 0;
	unsigned i;

	for (i = 0; i < STATS_NBOUNDS; i++) {
		cum += p->hist[i];
		if (!exposed_bound(i))
			continue;
		evbuffer_add_printf(b, "%s_bucket{", n);
		put_proc_labels(b, p);
		evbuffer_add_printf(b, ",le=\"%g\"} %llu\n",
				    (double)stats_bounds[i] / 1e9,
				    (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "%s_bucket{", n);
	put_proc_labels(b, p);
	evbuffer_add_printf(b, ",le=\"+Inf\"} %llu\n%s_sum{",
			    (unsigned long long)p->calls, n);
	put_proc_labels(b, p);
	evbuffer_add_printf(b, "} %.9f\n%s_count{", (double)p->sum_ns / 1e9,
			    n);
	put_proc_labels(b, p);
	evbuffer_add_printf(b, "} %llu\n", (unsigned long long)p->calls);
}

static void put_latency(struct evbuffer *b, const struct stats_snapshot *s)
{
	size_t i;

	put_family(b, "unionnfsd_rpc_duration_seconds", "histogram",
		   "Time from a call's record received to its reply sent.");
	for (i = 0; i < s->nprocs; i++)
		if (s->procs[i].calls && s->procs[i].name)
			put_histogram(b, &s->procs[i]);
}

static void put_replies(struct evbuffer *b, const struct stats_snapshot *s)
{
	unsigned v, i;

	put_family(b, "unionnfsd_rpc_replies_total", "counter",
		   "RPC replies by accept status (or denied, or dropped).");
	for (i = 0; i < STATS_NACCEPT; i++)
		evbuffer_add_printf(b, "unionnfsd_rpc_replies_total"
				       "{status=\"%s\"} %llu\n",
				    stats_accept_names[i],
				    (unsigned long long)s->accept[i]);
	put_family(b, "unionnfsd_nfs_errors_total", "counter",
		   "NFS results with a status other than OK.");
	for (v = 0; v < 2; v++)
		for (i = 0; i < STATS_NSTATUS; i++) {
			uint32_t code = stats_status_code(i);
			const char *name = stats_status_name(code);

			if (!s->nfsstat[v][i])
				continue;
			evbuffer_add_printf(b, "unionnfsd_nfs_errors_total{"
					       "version=\"%u\",status=\"",
					    v ? 4 : 3);
			if (name)
				evbuffer_add_printf(b, "%s", name);
			else
				evbuffer_add_printf(b, "%u", code);
			evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)
						       s->nfsstat[v][i]);
		}
}

static void put_gauge(struct evbuffer *b, const char *name, const char *type,
		      const char *help, uint64_t v)
{
	put_family(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void put_server(struct evbuffer *b, const struct metrics *m,
		       const struct stats_snapshot *s)
{
	put_gauge(b, "unionnfsd_connections", "gauge",
		  "TCP connections open.", s->conns_open);
	put_gauge(b, "unionnfsd_connections_accepted_total", "counter",
		  "TCP connections accepted.", s->conns_total);
	put_gauge(b, "unionnfsd_received_bytes_total", "counter",
		  "Bytes of RPC calls received (with record marks).",
		  s->bytes_in);
	put_gauge(b, "unionnfsd_sent_bytes_total", "counter",
		  "Bytes of RPC replies sent (with record marks).",
		  s->bytes_out);
	put_gauge(b, "unionnfsd_copyups_total", "counter",
		  "Objects copied up to an upper layer (exports open now).",
		  uv_get(&m->uv.copyups));
	put_gauge(b, "unionnfsd_copyups_in_progress", "gauge",
		  "Copy-ups running.", uv_get(&m->uv.copyups_active));
	put_gauge(b, "unionnfsd_catalog_objects", "gauge",
		  "Objects in the handle catalog.", uv_get(&m->uv.cat_objects));
	put_gauge(b, "unionnfsd_catalog_bytes", "gauge",
		  "Size of the catalog database and its write-ahead log.",
		  uv_get(&m->uv.cat_bytes));
	put_gauge(b, "unionnfsd_start_time_seconds", "gauge",
		  "When the daemon started, in seconds since the epoch.",
		  m->srv->boot_time);
}

static void put_exports(struct evbuffer *b, struct metrics *m,
			const struct stats_snapshot *s)
{
	unsigned i;

	put_family(b, "unionnfsd_export_requests_total", "counter",
		   "Calls that worked on an export.");
	put_family(b, "unionnfsd_export_copyups_total", "counter",
		   "Objects copied up in an export.");
	pthread_mutex_lock(&m->uv.lock);
	for (i = 0; i < m->uv.nexports; i++) {
		const struct export_view *e = &m->uv.exports[i];

		evbuffer_add_printf(b, "unionnfsd_export_requests_total"
				       "{export=\"");
		put_label(b, e->name);
		evbuffer_add_printf(b, "\"} %llu\n",
				    e->id < STATS_MAX_EXPORT_ID
					    ? (unsigned long long)
						      s->export_calls[e->id]
					    : 0ULL);
		evbuffer_add_printf(b, "unionnfsd_export_copyups_total"
				       "{export=\"");
		put_label(b, e->name);
		evbuffer_add_printf(b, "\"} %llu\n",
				    (unsigned long long)e->copyups);
	}
	pthread_mutex_unlock(&m->uv.lock);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct stats_snapshot s;
	struct evbuffer *b;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	b = evbuffer_new();
	if (!b || stats_snapshot(&s) < 0) {
		if (b)
			evbuffer_free(b);
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	put_requests(b, &s);
	put_latency(b, &s);
	put_replies(b, &s);
	put_server(b, m, &s);
	put_exports(b, m, &s);
	stats_snapshot_free(&s);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* ---- setup -------------------------------------------------------------- */

static int listen_on(struct metrics *m, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (metrics_parse_addr(addr, &ss, &len) < 0) {
		log_err("metrics: bad address \"%s\"", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		log_err("metrics %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	log_addr((struct sockaddr *)&ss, m->addr, sizeof(m->addr));
	return fd;
}

struct metrics *metrics_open(struct server *srv, const char *addr)
{
	struct event_base *base = transport_base(srv->transport);
	struct timeval every = { REFRESH_SECONDS, 0 };
	struct metrics *m = calloc(1, sizeof(*m));
	int fd;

	if (!m)
		return NULL;
	m->srv = srv;
	pthread_mutex_init(&m->uv.lock, NULL);
	fd = listen_on(m, addr);
	if (fd < 0)
		goto fail;
	m->http = evhttp_new(base);
	if (!m->http || !evhttp_accept_socket_with_handle(m->http, fd)) {
		log_err("metrics %s: cannot serve HTTP", addr);
		close(fd);
		goto fail;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(m->http, HTTP_TIMEOUT);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	if (evhttp_set_cb(m->http, "/metrics", on_metrics, m) < 0)
		goto fail;
	m->tick = event_new(base, -1, EV_PERSIST, on_tick, m);
	if (!m->tick || event_add(m->tick, &every) < 0)
		goto fail;
	refresh(m);
	log_notice("metrics on http://%s/metrics", m->addr);
	return m;
fail:
	metrics_close(m);
	return NULL;
}

const char *metrics_address(const struct metrics *m)
{
	return m->addr;
}

/* After the workers stopped: no refresh can be running. */
void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	if (m->tick)
		event_free(m->tick);
	if (m->http)
		evhttp_free(m->http);
	free_exports(m->uv.exports, m->uv.nexports);
	pthread_mutex_destroy(&m->uv.lock);
	free(m);
}
