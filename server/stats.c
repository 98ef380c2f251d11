/*
 * stats.c - per-thread counters of RPC calls, added up when read.
 *
 * Each thread that runs requests (workers, and the loop thread for NULL)
 * owns a shard and is its only writer: increments are relaxed atomic
 * loads and stores, so they cost what plain ones do, with no lock and no
 * cache line shared between threads.  A reader may see a call's counters
 * half-updated; they are counters, not a transaction.
 *
 * The per-client table of a shard is bounded: a slot changes hands under
 * a sequence count (odd while its key is rewritten), which readers check
 * so that a request count is never added to the wrong client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc.h"
#include "server.h" /* portmap_program */
#include "stats.h"

#define SHARD_CLIENTS 64
#define CLIENT_PROBE 4
#define MAX_VERSIONS 32
#define NFS_PROG 100003

/* 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 per decade, 1 us .. 80 s: the
 * error of a percentile is at most a third of its value. */
const uint64_t stats_bounds[STATS_NBOUNDS] = {
#define DEC(p) 100 * p, 125 * p, 150 * p, 200 * p, 250 * p, \
	       300 * p, 400 * p, 500 * p, 600 * p, 800 * p
	DEC(10ULL), DEC(100ULL), DEC(1000ULL), DEC(10000ULL),
	DEC(100000ULL), DEC(1000000ULL), DEC(10000000ULL), DEC(100000000ULL),
#undef DEC
};

const char *const stats_accept_names[STATS_NACCEPT] = {
	"success",	 "prog_unavail",  "prog_mismatch", "proc_unavail",
	"garbage_args", "system_err",	  "denied",	   "dropped",
};

struct proc_counter {
	uint64_t calls, sum_ns;
	uint64_t hist[STATS_NBUCKETS];
};

struct client_slot {
	uint32_t seq;
	uint32_t export_id;
	uint32_t family;
	uint64_t addr[2];
	uint64_t requests;
	uint64_t last_ns;
};

struct shard {
	struct shard *next;
	uint64_t requests, bytes_in, bytes_out;
	uint64_t accept[STATS_NACCEPT];
	uint64_t nfsstat[2][STATS_NSTATUS];
	uint64_t export_calls[STATS_MAX_EXPORT_ID];
	struct client_slot clients[SHARD_CLIENTS];
	struct proc_counter procs[]; /* nslots */
};

/* One served program version: its procedures' slots start at base. */
struct vslot {
	const struct rpc_program *program;
	const struct rpc_version *version;
	uint32_t base;
};

static struct {
	bool ready;
	struct vslot v[MAX_VERSIONS];
	unsigned nv;
	uint32_t nslots; /* every procedure, plus one for the rest */
	pthread_mutex_t lock; /* the shard list */
	struct shard *shards;
	uint64_t conns_open, conns_total;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER };

static __thread struct shard *my_shard;
static __thread uint32_t cur_export = STATS_NO_EXPORT;

static inline uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Only the shard's own thread writes: no read-modify-write needed. */
static inline void bump(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, load(p) + v, __ATOMIC_RELAXED);
}

uint64_t stats_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The i-th program counted: those of rpc_programs[], then the portmapper
 * (served on a port of its own, so not in that list). */
static const struct rpc_program *program(size_t i)
{
	return i < rpc_nprograms ? rpc_programs[i] : &portmap_program;
}

int stats_init(void)
{
	size_t i;
	uint32_t j;

	st.nv = 0;
	st.nslots = 0;
	for (i = 0; i < rpc_nprograms + 1; i++) {
		const struct rpc_program *p = program(i);

		for (j = 0; j < p->nversions; j++) {
			if (st.nv == MAX_VERSIONS) {
				st.nv = st.nslots = 0; /* count nothing */
				return -ENOSPC;
			}
			st.v[st.nv].program = p;
			st.v[st.nv].version = &p->versions[j];
			st.v[st.nv].base = st.nslots;
			st.nslots += p->versions[j].nprocs;
			st.nv++;
		}
	}
	st.nslots++; /* unknown program, version or procedure */
	__atomic_store_n(&st.ready, true, __ATOMIC_RELEASE);
	return 0;
}

void stats_fini(void)
{
	struct shard *s;

	pthread_mutex_lock(&st.lock);
	__atomic_store_n(&st.ready, false, __ATOMIC_RELEASE);
	while ((s = st.shards)) {
		st.shards = s->next;
		free(s);
	}
	pthread_mutex_unlock(&st.lock);
}

/* This thread's shard, made on its first call; NULL without memory. */
static struct shard *shard(void)
{
	struct shard *s = my_shard;

	if (s || !__atomic_load_n(&st.ready, __ATOMIC_ACQUIRE))
		return s;
	s = calloc(1, sizeof(*s) + st.nslots * sizeof(s->procs[0]));
	if (!s)
		return NULL;
	for (unsigned i = 0; i < SHARD_CLIENTS; i++)
		s->clients[i].export_id = STATS_NO_EXPORT;
	pthread_mutex_lock(&st.lock);
	s->next = st.shards;
	st.shards = s;
	pthread_mutex_unlock(&st.lock);
	my_shard = s;
	return s;
}

static uint32_t slot_of(uint32_t prog, uint32_t vers, uint32_t proc)
{
	for (unsigned i = 0; i < st.nv; i++)
		if (st.v[i].program->prog == prog &&
		    st.v[i].version->vers == vers)
			return proc < st.v[i].version->nprocs
				       ? st.v[i].base + proc
				       : st.nslots - 1;
	return st.nslots - 1;
}

static unsigned bucket_of(uint64_t ns)
{
	unsigned lo = 0, hi = STATS_NBOUNDS;

	while (lo < hi) { /* the first bound >= ns */
		unsigned mid = (lo + hi) / 2;

		if (stats_bounds[mid] < ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* NFS statuses are 0..70 and 10001..10100 or so: one small table. */
static unsigned status_index(uint32_t s)
{
	if (s < 128)
		return s;
	if (s >= 10001 && s < 10001 + 127)
		return 128 + (s - 10001);
	return STATS_NSTATUS - 1;
}

uint32_t stats_status_code(unsigned i)
{
	return i < 128 ? i : 10001 + (i - 128);
}

/* ---- counting ----------------------------------------------------------- */

void stats_begin(struct stats_call *sc, const struct rpc_req *req)
{
	sc->t0 = req->t_recv ? req->t_recv : stats_clock();
	sc->bytes_in = req->reclen + (req->tcp ? 4 : 0);
	sc->peer = req->peer;
	cur_export = STATS_NO_EXPORT;
}

static uint32_t reply_word(const struct rpc_req *req, size_t len, size_t i)
{
	uint32_t w;

	if (len < 4 * (i + 1))
		return UINT32_MAX;
	memcpy(&w, req->out.base + 4 + 4 * i, 4);
	return ntohl(w);
}

/*
 * The reply as rpc.c framed it: xid, REPLY, MSG_ACCEPTED, verifier
 * (flavor, length 0), accept_stat, then the results, which for every
 * NFS procedure but NULL start with the status.
 */
void stats_reply(struct stats_call *sc, const struct rpc_req *req,
		 size_t len)
{
	uint32_t as;

	sc->prog = req->prog;
	sc->vers = req->vers;
	sc->proc = req->proc;
	sc->has_nfsstat = false;
	sc->bytes_out = 0;
	if (len == 0 || !req->out.base) {
		sc->accept = STATS_DROPPED;
		return;
	}
	if (reply_word(req, len, 2) != 0) {
		sc->accept = STATS_DENIED;
		return;
	}
	as = reply_word(req, len, 5);
	sc->accept = as <= SYSTEM_ERR ? (int)as : STATS_SYSTEM_ERR;
	if (as == SUCCESS && req->prog == NFS_PROG && req->proc != 0 &&
	    len >= 28) {
		sc->nfsstat = reply_word(req, len, 6);
		sc->has_nfsstat = true;
	}
	sc->bytes_out = len + (req->tcp ? 4 : 0);
}

void stats_export_used(uint32_t export_id)
{
	cur_export = export_id;
}

static void peer_key(const struct sockaddr_storage *ss, uint32_t *family,
		     uint64_t addr[2])
{
	addr[0] = addr[1] = 0;
	*family = ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static bool slot_is(const struct client_slot *c, uint32_t family,
		    const uint64_t addr[2], uint32_t export_id)
{
	return c->family == family && c->export_id == export_id &&
	       c->addr[0] == addr[0] && c->addr[1] == addr[1];
}

/* A new key in slot c, under its sequence count (see the top). */
static void slot_take(struct client_slot *c, uint32_t family,
		      const uint64_t addr[2], uint32_t export_id, uint64_t now)
{
	uint32_t seq = c->seq;

	__atomic_store_n(&c->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&c->family, family, __ATOMIC_RELAXED);
	__atomic_store_n(&c->export_id, export_id, __ATOMIC_RELAXED);
	__atomic_store_n(&c->addr[0], addr[0], __ATOMIC_RELAXED);
	__atomic_store_n(&c->addr[1], addr[1], __ATOMIC_RELAXED);
	__atomic_store_n(&c->requests, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->last_ns, now, __ATOMIC_RELAXED);
	__atomic_store_n(&c->seq, seq + 2, __ATOMIC_RELEASE);
}

/*
 * A few slots per key; when all are taken by others, the one seen least
 * recently goes: the table keeps the active clients, bounded.
 */
static void count_client(struct shard *s, const struct stats_call *sc,
			 uint64_t now)
{
	uint64_t addr[2], h;
	uint32_t family;
	struct client_slot *victim = NULL;

	peer_key(&sc->peer, &family, addr);
	h = (addr[0] ^ addr[1] * 0x9e3779b97f4a7c15ULL ^ cur_export) *
	    0xff51afd7ed558ccdULL;
	for (unsigned i = 0; i < CLIENT_PROBE; i++) {
		struct client_slot *c =
			&s->clients[(h + i) % SHARD_CLIENTS];

		if (slot_is(c, family, addr, cur_export)) {
			bump(&c->requests, 1);
			__atomic_store_n(&c->last_ns, now, __ATOMIC_RELAXED);
			return;
		}
		if (!victim || c->last_ns < victim->last_ns)
			victim = c;
	}
	slot_take(victim, family, addr, cur_export, now);
}

void stats_end(struct stats_call *sc)
{
	struct shard *s = shard();
	uint64_t now, ns;
	struct proc_counter *p;

	if (!s)
		return;
	now = stats_clock();
	ns = now > sc->t0 ? now - sc->t0 : 0;
	p = &s->procs[slot_of(sc->prog, sc->vers, sc->proc)];
	bump(&p->calls, 1);
	bump(&p->sum_ns, ns);
	bump(&p->hist[bucket_of(ns)], 1);
	bump(&s->requests, 1);
	bump(&s->bytes_in, sc->bytes_in);
	bump(&s->bytes_out, sc->bytes_out);
	bump(&s->accept[sc->accept], 1);
	if (sc->has_nfsstat && sc->nfsstat != 0)
		bump(&s->nfsstat[sc->vers == 4][status_index(sc->nfsstat)], 1);
	if (cur_export < STATS_MAX_EXPORT_ID)
		bump(&s->export_calls[cur_export], 1);
	count_client(s, sc, now);
	cur_export = STATS_NO_EXPORT;
}

void stats_conn_opened(void)
{
	__atomic_add_fetch(&st.conns_open, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st.conns_total, 1, __ATOMIC_RELAXED);
}

void stats_conn_closed(void)
{
	__atomic_sub_fetch(&st.conns_open, 1, __ATOMIC_RELAXED);
}

/* ---- reading ------------------------------------------------------------ */

static void add_procs(struct stats_snapshot *snap, const struct shard *s)
{
	for (size_t i = 0; i < snap->nprocs; i++) {
		struct stats_proc *d = &snap->procs[i];
		const struct proc_counter *p = &s->procs[i];

		d->calls += load(&p->calls);
		d->sum_ns += load(&p->sum_ns);
		for (unsigned b = 0; b < STATS_NBUCKETS; b++)
			d->hist[b] += load(&p->hist[b]);
	}
}

static void add_totals(struct stats_snapshot *snap, const struct shard *s)
{
	snap->requests += load(&s->requests);
	snap->bytes_in += load(&s->bytes_in);
	snap->bytes_out += load(&s->bytes_out);
	for (unsigned i = 0; i < STATS_NACCEPT; i++)
		snap->accept[i] += load(&s->accept[i]);
	for (unsigned v = 0; v < 2; v++)
		for (unsigned i = 0; i < STATS_NSTATUS; i++)
			snap->nfsstat[v][i] += load(&s->nfsstat[v][i]);
	for (unsigned i = 0; i < STATS_MAX_EXPORT_ID; i++)
		snap->export_calls[i] += load(&s->export_calls[i]);
}

/* A consistent copy of one slot, or false if it is empty. */
static bool read_slot(const struct client_slot *c, struct client_slot *out)
{
	uint32_t s1, s2;

	do {
		s1 = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		out->family = __atomic_load_n(&c->family, __ATOMIC_RELAXED);
		out->export_id = __atomic_load_n(&c->export_id,
						 __ATOMIC_RELAXED);
		out->addr[0] = __atomic_load_n(&c->addr[0], __ATOMIC_RELAXED);
		out->addr[1] = __atomic_load_n(&c->addr[1], __ATOMIC_RELAXED);
		out->requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
		out->last_ns = __atomic_load_n(&c->last_ns, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
	} while ((s1 & 1) || s1 != s2);
	return s1 != 0;
}

static void client_addr(const struct client_slot *c,
			struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)c->family;
	if (c->family == AF_INET)
		memcpy(&((struct sockaddr_in *)ss)->sin_addr, c->addr, 4);
	else if (c->family == AF_INET6)
		memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, c->addr, 16);
}

/* Merge one slot into the snapshot's list (the same client may be in
 * every shard). */
static void add_client(struct stats_snapshot *snap,
		       const struct client_slot *c, uint64_t mono_now,
		       time_t real_now)
{
	struct sockaddr_storage ss;
	uint64_t ago = mono_now > c->last_ns ? mono_now - c->last_ns : 0;
	uint64_t seen = (uint64_t)real_now - ago / 1000000000u;
	struct stats_client *d;
	size_t i;

	client_addr(c, &ss);
	for (i = 0; i < snap->nclients; i++) {
		d = &snap->clients[i];
		if (d->export_id == c->export_id &&
		    memcmp(&d->addr, &ss, sizeof(ss)) == 0)
			break;
	}
	d = &snap->clients[i];
	if (i == snap->nclients) {
		snap->nclients++;
		memset(d, 0, sizeof(*d));
		d->addr = ss;
		d->export_id = c->export_id;
	}
	d->requests += c->requests;
	if (seen > d->last_seen)
		d->last_seen = seen;
}

int stats_snapshot(struct stats_snapshot *snap)
{
	const struct shard *s;
	size_t nshards = 0;
	uint64_t mono = stats_clock();
	time_t real = time(NULL);

	memset(snap, 0, sizeof(*snap));
	pthread_mutex_lock(&st.lock);
	for (s = st.shards; s; s = s->next)
		nshards++;
	snap->nprocs = st.nslots;
	snap->procs = calloc(st.nslots ? st.nslots : 1, sizeof(*snap->procs));
	snap->clients = calloc(nshards * SHARD_CLIENTS + 1,
			       sizeof(*snap->clients));
	if (!snap->procs || !snap->clients) {
		pthread_mutex_unlock(&st.lock);
		stats_snapshot_free(snap);
		return -ENOMEM;
	}
	for (s = st.shards; s; s = s->next) {
		add_procs(snap, s);
		add_totals(snap, s);
		for (unsigned i = 0; i < SHARD_CLIENTS; i++) {
			struct client_slot c;

			if (read_slot(&s->clients[i], &c))
				add_client(snap, &c, mono, real);
		}
	}
	pthread_mutex_unlock(&st.lock);
	for (unsigned i = 0; i < st.nv; i++)
		for (uint32_t j = 0; j < st.v[i].version->nprocs; j++) {
			struct stats_proc *p = &snap->procs[st.v[i].base + j];

			p->program = st.v[i].program->name;
			p->prog = st.v[i].program->prog;
			p->vers = st.v[i].version->vers;
			p->name = st.v[i].version->procs[j].name;
		}
	snap->conns_open = __atomic_load_n(&st.conns_open, __ATOMIC_RELAXED);
	snap->conns_total = __atomic_load_n(&st.conns_total, __ATOMIC_RELAXED);
	return 0;
}

void stats_snapshot_free(struct stats_snapshot *snap)
{
	free(snap->procs);
	free(snap->clients);
	snap->procs = NULL;
	snap->clients = NULL;
	snap->nprocs = snap->nclients = 0;
}

uint64_t stats_percentile(const struct stats_proc *p, double fraction)
{
	double want = fraction * (double)p->calls, below = 0;
	unsigned b;

	if (p->calls == 0)
		return 0;
	for (b = 0; b < STATS_NBUCKETS; b++) {
		if (below + (double)p->hist[b] >= want && p->hist[b] > 0)
			break;
		below += (double)p->hist[b];
	}
	if (b >= STATS_NBOUNDS)
		return stats_bounds[STATS_NBOUNDS - 1];
	{
		double lo = b ? (double)stats_bounds[b - 1] : 0;
		double hi = (double)stats_bounds[b];
		double in = (want - below) / (double)p->hist[b];

		return (uint64_t)(lo + (hi - lo) * (in < 0 ? 0 : in));
	}
}

/* The names of RFC 1813 (NFS3ERR_*), which NFSv4 shares below 10008. */
static const struct {
	uint32_t code;
	const char *name;
} status_names[] = {
	{ 1, "PERM" },
	{ 2, "NOENT" },
	{ 5, "IO" },
	{ 6, "NXIO" },
	{ 13, "ACCES" },
	{ 17, "EXIST" },
	{ 18, "XDEV" },
	{ 19, "NODEV" },
	{ 20, "NOTDIR" },
	{ 21, "ISDIR" },
	{ 22, "INVAL" },
	{ 27, "FBIG" },
	{ 28, "NOSPC" },
	{ 30, "ROFS" },
	{ 31, "MLINK" },
	{ 63, "NAMETOOLONG" },
	{ 66, "NOTEMPTY" },
	{ 69, "DQUOT" },
	{ 70, "STALE" },
	{ 71, "REMOTE" },
	{ 10001, "BADHANDLE" },
	{ 10002, "NOT_SYNC" },
	{ 10003, "BAD_COOKIE" },
	{ 10004, "NOTSUPP" },
	{ 10005, "TOOSMALL" },
	{ 10006, "SERVERFAULT" },
	{ 10007, "BADTYPE" },
	{ 10008, "JUKEBOX" }, /* NFS4ERR_DELAY */
};

const char *stats_status_name(uint32_t status)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]);
	     i++)
		if (status_names[i].code == status)
			return status_names[i].name;
	return NULL;
}
