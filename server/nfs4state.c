/*
 * nfs4state.c - NFSv4 clients, leases, sessions, owners, stateids and
 * share reservations (see nfs4state.h).
 *
 * Ids: a client id is the boot time (32 bits) and a counter; a stateid's
 * "other" is the boot time, the client id's counter and a counter of the
 * client's states.  So any id tells whether it is from this boot (else
 * STALE_*) and which client it belongs to (so a stateid of a client whose
 * lease expired answers EXPIRED rather than BAD_STATEID).
 *
 * All state is in lists behind st_lock.  The lists are walked linearly:
 * fine for the tens of clients and thousands of opens this daemon serves;
 * a hash by file and by id is the step after.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "nfs4state.h"
#include "nlm.h"

#define NFS4_SESSIONS 64
#define TOMBSTONE_LEASES 10 /* how long an expired client's ids say so */

struct nfs4_client {
	struct nfs4_client *next;
	uint64_t clientid;
	uint8_t verf[8];
	uint8_t confirm[8];
	uint8_t name[NFS4_OPAQUE_MAX];
	u_int namelen;
	bool confirmed;
	bool expired; /* its state is gone; its ids answer EXPIRED */
	time_t expires;
	uint32_t nstates;
	uint32_t cs_seq; /* 4.1: CREATE_SESSION sequence */
	bool recorded;	     /* its record is in the catalog */
	bool reclaim_done;   /* 4.1: RECLAIM_COMPLETE was sent */
};

struct nfs4_owner {
	struct nfs4_owner *next;
	uint64_t serial; /* names it across unlocked stretches */
	struct nfs4_client *cl;
	bool is_lock;
	uint8_t owner[NFS4_OPAQUE_MAX];
	u_int len;
	bool seen;	/* a first seqid was taken */
	uint32_t seqid; /* 4.0: the last seqid that ran */
	struct nfs4_replay last;
	struct nfs4_stid *closed; /* 4.0: kept for a CLOSE retransmission */
};

struct range {
	uint64_t start, end; /* end exclusive; UINT64_MAX: to EOF */
};

struct nfs4_stid {
	struct nfs4_stid *next;
	struct nfs4_client *cl;
	struct nfs4_owner *owner;
	struct nfs4_stid *open; /* lock stateid: the open it came from */
	bool is_lock;
	bool closed;
	uint8_t other[12];
	uint32_t seqid;
	struct nfs4_file obj;
	uint32_t access, deny; /* open */
	struct range *ranges;  /* lock: what it holds */
	unsigned nranges;
};

struct nfs4_slot {
	uint32_t seqid;
	bool busy;
	uint8_t *cache; /* the COMPOUND4res of the last request, or NULL */
	u_int cachelen;
};

struct nfs4_session {
	bool used;
	uint8_t id[16];
	uint64_t clientid;
	uint64_t last_used;
	uint32_t nslots;
	uint32_t maxops, maxreq; /* the fore channel's limits */
	struct nfs4_slot slots[NFS4_SLOTS];
};

static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nfs4_client *clients;
static struct nfs4_owner *owners;
static struct nfs4_stid *stids;
static struct nfs4_session sessions[NFS4_SESSIONS];
static uint64_t session_clock;
static uint64_t next_serial = 1;
static uint32_t next_client = 1;
static uint32_t epoch;
static unsigned lease = 90;

static const uint8_t zeros12[12];
static const uint8_t ones12[12] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static time_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- lookups (callers hold st_lock) ---- */

static struct nfs4_client *client_by_id(uint64_t id)
{
	for (struct nfs4_client *c = clients; c; c = c->next)
		if (c->clientid == id)
			return c;
	return NULL;
}

static struct nfs4_client *client_by_name(const void *name, u_int len,
					  bool confirmed)
{
	for (struct nfs4_client *c = clients; c; c = c->next)
		if (!c->expired && c->confirmed == confirmed &&
		    c->namelen == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

static struct nfs4_owner *owner_find(const struct nfs4_client *cl,
				     bool is_lock, const void *o, u_int len)
{
	for (struct nfs4_owner *ow = owners; ow; ow = ow->next)
		if (ow->cl == cl && ow->is_lock == is_lock && ow->len == len &&
		    !memcmp(ow->owner, o, len))
			return ow;
	return NULL;
}

static struct nfs4_owner *owner_by_serial(uint64_t serial)
{
	for (struct nfs4_owner *ow = owners; ow; ow = ow->next)
		if (ow->serial == serial)
			return ow;
	return NULL;
}

static struct nfs4_stid *stid_find(const char other[NFS4_OTHER_SIZE])
{
	for (struct nfs4_stid *s = stids; s; s = s->next)
		if (!memcmp(s->other, other, 12))
			return s;
	return NULL;
}

static bool same_obj(const struct nfs4_file *a, const struct nfs4_file *b)
{
	return a->export_id == b->export_id && a->fh.len == b->fh.len &&
	       !memcmp(a->fh.data, b->fh.data, a->fh.len);
}

/* ---- freeing (callers hold st_lock) ---- */

void nfs4_replay_free(struct nfs4_replay *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static void stid_unpin(struct nfs4_stid *s);

static void stid_free(struct nfs4_stid *s)
{
	struct nfs4_stid **pp;

	if (!s->is_lock && !s->closed) /* a closed one let go at CLOSE */
		stid_unpin(s);

	for (pp = &stids; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->owner && s->owner->closed == s)
		s->owner->closed = NULL;
	free(s->ranges);
	free(s);
}

static void owner_free(struct nfs4_owner *ow)
{
	struct nfs4_owner **pp;

	for (pp = &owners; *pp; pp = &(*pp)->next)
		if (*pp == ow) {
			*pp = ow->next;
			break;
		}
	nfs4_replay_free(&ow->last);
	free(ow);
}

/* An owner no state refers to any more goes (a 4.0 open owner stays
 * while its closed stateid waits for a CLOSE retransmission). */
static void owner_gc(struct nfs4_owner *ow)
{
	for (struct nfs4_stid *s = stids; s; s = s->next)
		if (s->owner == ow)
			return;
	owner_free(ow);
}

static void session_free(struct nfs4_session *se)
{
	for (unsigned i = 0; i < NFS4_SLOTS; i++)
		free(se->slots[i].cache);
	memset(se, 0, sizeof(*se));
}

/* Drop every state of cl (not cl itself); sessions in use by a running
 * COMPOUND (busy slot) are left to it. */
static void client_drop_state(struct nfs4_client *cl)
{
	struct nfs4_stid *s, *snext;
	struct nfs4_owner *ow, *onext;

	for (s = stids; s; s = snext) {
		snext = s->next;
		if (s->cl == cl)
			stid_free(s);
	}
	for (ow = owners; ow; ow = onext) {
		onext = ow->next;
		if (ow->cl == cl)
			owner_free(ow);
	}
	for (unsigned i = 0; i < NFS4_SESSIONS; i++) {
		struct nfs4_session *se = &sessions[i];
		bool busy = false;

		if (!se->used || se->clientid != cl->clientid)
			continue;
		for (unsigned j = 0; j < se->nslots; j++)
			busy |= se->slots[j].busy;
		if (!busy)
			session_free(se);
	}
}

static void client_unlink(struct nfs4_client *cl)
{
	struct nfs4_client **pp;

	for (pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	free(cl);
}

/* ---- client records and grace (RFC 7530 9.6, RFC 8881 8.4) ----
 * A client that got state is recorded in the catalog (kind "nfs4", its
 * id string in hex), so that after a restart it, and only it, may reclaim
 * during the grace period.  The writes block on the disk: they are made
 * under st_lock, which keeps the put and the del of one client in order,
 * and only once per client lifetime (first state, expiry, destruction);
 * they run on the workers and the laundromat, never on the event loop.
 */
#define REC_KIND "nfs4"

struct nfs4_rec {
	struct nfs4_rec *next;
	bool back; /* it came back: its record stays after the grace */
	char name[];
};

static struct un_catalog *rec_cat;
static struct nfs4_rec *recs; /* the clients of the last run, in grace */
static time_t grace_end;      /* 0: no grace (any more) */

/* An open pins its file: removed, it stays usable until CLOSE (the
 * union keeps it aside, see un_pin). */
static void stid_pin(struct nfs4_stid *s)
{
	if (rec_cat && un_pin(rec_cat, &s->obj.fh) < 0)
		log_warn("nfs4: cannot pin an open file: removed, it "
			 "would be lost");
}

static void stid_unpin(struct nfs4_stid *s)
{
	if (rec_cat)
		un_unpin(rec_cat, &s->obj.fh);
}

/* One grace for NLM and NFSv4 (nlm_grace_begin): NLM's reclaims also
 * make new NFSv4 OPENs and LOCKs wait. */
static bool in_grace(void)
{
	return (grace_end != 0 && now_sec() < grace_end) || nlm_in_grace();
}

/* The client's id string in hex; false if it does not fit a record. */
static bool rec_name(const struct nfs4_client *cl, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";

	if (cl->namelen == 0 || 2 * (size_t)cl->namelen >= size)
		return false;
	for (u_int i = 0; i < cl->namelen; i++) {
		buf[2 * i] = hex[cl->name[i] >> 4];
		buf[2 * i + 1] = hex[cl->name[i] & 15];
	}
	buf[2 * cl->namelen] = '\0';
	return true;
}

static struct nfs4_rec **rec_find(const char *name)
{
	struct nfs4_rec **pp;

	for (pp = &recs; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			return pp;
	return NULL;
}

/* cl got state: record it, unless its record of the last run stands. */
static void rec_put(struct nfs4_client *cl, const struct rpc_req *req)
{
	char name[UN_PEER_STR_MAX + 1], addr[NI_MAXHOST] = "unknown";
	struct nfs4_rec **rp;
	int rc;

	if (rec_cat == NULL || cl->recorded ||
	    !rec_name(cl, name, sizeof(name)))
		return;
	cl->recorded = true; /* also on failure: not retried per request */
	rp = rec_find(name);
	if (rp) {
		(*rp)->back = true;
		return;
	}
	if (req)
		(void)getnameinfo((const struct sockaddr *)&req->peer,
				  req->peer_len, addr, sizeof(addr), NULL, 0,
				  NI_NUMERICHOST);
	rc = un_catalog_peer_put(rec_cat, REC_KIND, name, addr);
	if (rc < 0)
		log_warn("nfs4: cannot record client %llx in the catalog: %s",
			 (unsigned long long)cl->clientid, strerror(-rc));
}

/* cl's state is gone for good: so is its record (and any reclaim). */
static void rec_del(struct nfs4_client *cl)
{
	char name[UN_PEER_STR_MAX + 1];
	struct nfs4_rec **rp, *r;
	int rc;

	if (!cl->recorded || !rec_name(cl, name, sizeof(name)))
		return;
	cl->recorded = false;
	rp = rec_find(name);
	if (rp) {
		r = *rp;
		*rp = r->next;
		free(r);
	}
	rc = un_catalog_peer_del(rec_cat, REC_KIND, name);
	if (rc < 0 && rc != -ENOENT)
		log_warn("nfs4: cannot remove client %llx from the catalog: "
			 "%s", (unsigned long long)cl->clientid, strerror(-rc));
}

/* The grace ran out: the clients that did not come back are forgotten. */
static void grace_sweep(time_t now)
{
	struct nfs4_rec *r;
	unsigned gone = 0;
	int rc;

	if (grace_end == 0 || now < grace_end)
		return;
	grace_end = 0;
	while ((r = recs) != NULL) {
		recs = r->next;
		if (!r->back) {
			rc = un_catalog_peer_del(rec_cat, REC_KIND, r->name);
			if (rc < 0 && rc != -ENOENT)
				log_warn("nfs4: cannot remove a client record: "
					 "%s", strerror(-rc));
			gone++;
		}
		free(r);
	}
	log_notice("nfs4: grace period over; %u client(s) did not reclaim",
		   gone);
}

static int rec_load_one(void *arg, const char *name, const char *addr)
{
	size_t len = strlen(name) + 1;
	struct nfs4_rec *r = calloc(1, sizeof(*r) + len);

	(void)arg;
	(void)addr;
	if (r == NULL)
		return -ENOMEM;
	memcpy(r->name, name, len);
	r->next = recs;
	recs = r;
	return 0;
}

void nfs4_state_start(struct un_catalog *cat, unsigned grace)
{
	unsigned n = 0;
	int rc;

	pthread_mutex_lock(&st_lock);
	rec_cat = cat;
	rc = un_catalog_peer_list(cat, REC_KIND, rec_load_one, NULL);
	for (struct nfs4_rec *r = recs; r; r = r->next)
		n++;
	if (n > 0) {
		grace_end = now_sec() + (time_t)grace;
		nlm_grace_begin(grace);
	}
	pthread_mutex_unlock(&st_lock);
	if (rc < 0)
		log_warn("nfs4: cannot read the client records: %s",
			 strerror(-rc));
	if (n > 0)
		log_notice("nfs4: %u client(s) held state before the restart: "
			   "%u s of grace for reclaims", n, grace);
}

/* May cl reclaim now?  Callers hold st_lock. */
static int reclaim_status(const struct nfs4_client *cl)
{
	char name[UN_PEER_STR_MAX + 1];

	if (!in_grace() || (cl && cl->reclaim_done))
		return NFS4ERR_NO_GRACE;
	if (cl == NULL || !rec_name(cl, name, sizeof(name)) ||
	    rec_find(name) == NULL)
		return NFS4ERR_RECLAIM_BAD;
	return NFS4_OK;
}

int nfs4_grace_check(uint64_t clientid, bool reclaim)
{
	int st;

	pthread_mutex_lock(&st_lock);
	if (reclaim)
		st = reclaim_status(client_by_id(clientid));
	else
		st = in_grace() ? NFS4ERR_GRACE : NFS4_OK;
	pthread_mutex_unlock(&st_lock);
	return st;
}

/*
 * Locks are released from the lock table after st_lock is dropped: the
 * table grants waiters from inside, and they may be anybody's.
 */
#define RELEASE_MAX 64
struct release_list {
	uint64_t ids[RELEASE_MAX];
	unsigned n;
};

static void release_add(struct release_list *rl, uint64_t id)
{
	if (rl->n < RELEASE_MAX)
		rl->ids[rl->n++] = id;
}

static void release_run(const struct release_list *rl)
{
	for (unsigned i = 0; i < rl->n; i++)
		lk_release_client(LK_PROTO_NFS4, &rl->ids[i],
				  sizeof(rl->ids[i]));
}

/* A client goes away for good (replaced by a new incarnation). */
static void client_destroy(struct nfs4_client *cl, struct release_list *rl)
{
	release_add(rl, cl->clientid);
	client_drop_state(cl);
	rec_del(cl);
	client_unlink(cl);
}

static bool tombstone_old(const struct nfs4_client *cl, time_t now)
{
	return now > cl->expires + TOMBSTONE_LEASES * (time_t)lease;
}

/*
 * Expire clients whose lease ran out: confirmed ones keep a tombstone so
 * their ids answer EXPIRED for a while; unconfirmed ones just go.
 */
static void sweep(struct release_list *rl)
{
	time_t now = now_sec();
	struct nfs4_client *cl, *next;

	grace_sweep(now);
	for (cl = clients; cl && rl->n < RELEASE_MAX; cl = next) {
		next = cl->next;
		if (now <= cl->expires)
			continue;
		if (!cl->confirmed || cl->expired) {
			/* an unconfirmed client just goes */
			if (!cl->confirmed || tombstone_old(cl, now))
				client_destroy(cl, rl);
			continue;
		}
		log_msg(LOG_INFO, "nfs4: client %llx lease expired",
			(unsigned long long)cl->clientid);
		release_add(rl, cl->clientid);
		client_drop_state(cl);
		rec_del(cl);
		cl->expired = true;
	}
}

/* The laundromat: expiry while no request comes to do it. */
static void *laundromat(void *arg)
{
	(void)arg;
	for (;;) {
		struct release_list rl = { .n = 0 };

		sleep(1);
		pthread_mutex_lock(&st_lock);
		sweep(&rl);
		pthread_mutex_unlock(&st_lock);
		release_run(&rl);
	}
	return NULL;
}

static void laundromat_start(void)
{
	pthread_t t;
	pthread_attr_t at;

	if (pthread_attr_init(&at) != 0)
		return;
	if (pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_create(&t, &at, laundromat, NULL) != 0)
		log_msg(LOG_WARNING, "nfs4: no lease thread; leases expire "
				     "on the next request");
	pthread_attr_destroy(&at);
}

void nfs4_state_tick(uint64_t boot_time, unsigned lease_secs)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static time_t last_sweep;
	struct release_list rl = { .n = 0 };
	time_t now = now_sec();

	pthread_once(&once, laundromat_start);
	pthread_mutex_lock(&st_lock);
	epoch = (uint32_t)boot_time;
	lease = lease_secs ? lease_secs : 90;
	if (now != last_sweep) { /* once a second is enough */
		last_sweep = now;
		sweep(&rl);
	}
	pthread_mutex_unlock(&st_lock);
	release_run(&rl);
}

/* ---- clients ---- */

static void renew(struct nfs4_client *cl)
{
	cl->expires = now_sec() + (time_t)lease;
}

static void random_bytes(uint8_t *p, size_t n)
{
	static uint64_t x;

	if (x == 0)
		x = (uint64_t)now_sec() * 0x9e3779b97f4a7c15ull ^
		    (uint64_t)getpid();
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static struct nfs4_client *client_new(const uint8_t verf[8],
				      const void *name, u_int len)
{
	struct nfs4_client *cl = calloc(1, sizeof(*cl));

	if (cl == NULL)
		return NULL;
	cl->clientid = (uint64_t)epoch << 32 | next_client++;
	memcpy(cl->verf, verf, 8);
	memcpy(cl->name, name, len);
	cl->namelen = len;
	random_bytes(cl->confirm, 8);
	cl->cs_seq = 1;
	renew(cl);
	cl->next = clients;
	clients = cl;
	return cl;
}

int nfs4_setclientid(const uint8_t verf[8], const void *name, u_int len,
		     uint64_t *clientid, uint8_t confirm[8])
{
	struct release_list rl = { .n = 0 };
	struct nfs4_client *cl, *old;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	/* an earlier unconfirmed attempt is replaced */
	old = client_by_name(name, len, false);
	if (old)
		client_destroy(old, &rl);
	cl = client_by_name(name, len, true);
	if (cl && !memcmp(cl->verf, verf, 8)) {
		/* the same incarnation: a new confirm, same id */
		random_bytes(cl->confirm, 8);
		renew(cl);
	} else {
		/* new, or rebooted: the old one goes at confirmation */
		cl = client_new(verf, name, len);
		if (cl == NULL)
			st = NFS4ERR_RESOURCE;
	}
	if (cl) {
		*clientid = cl->clientid;
		memcpy(confirm, cl->confirm, 8);
	}
	pthread_mutex_unlock(&st_lock);
	release_run(&rl);
	return st;
}

int nfs4_setclientid_confirm(uint64_t clientid, const uint8_t confirm[8])
{
	struct release_list rl = { .n = 0 };
	struct nfs4_client *cl, *old;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	cl = client_by_id(clientid);
	if (cl == NULL || cl->expired || memcmp(cl->confirm, confirm, 8)) {
		st = NFS4ERR_STALE_CLIENTID;
	} else if (!cl->confirmed) {
		old = client_by_name(cl->name, cl->namelen, true);
		if (old)
			client_destroy(old, &rl);
		cl->confirmed = true;
		renew(cl);
	} else {
		renew(cl);
	}
	pthread_mutex_unlock(&st_lock);
	release_run(&rl);
	return st;
}

int nfs4_exchange_id(const uint8_t verf[8], const void *name, u_int len,
		     uint64_t *clientid, uint32_t *seq, bool *confirmed)
{
	struct release_list rl = { .n = 0 };
	struct nfs4_client *cl, *old;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	cl = client_by_name(name, len, true);
	if (cl == NULL || memcmp(cl->verf, verf, 8)) {
		old = client_by_name(name, len, false);
		if (old && !memcmp(old->verf, verf, 8)) {
			cl = old; /* a retransmission */
		} else {
			if (old)
				client_destroy(old, &rl);
			cl = client_new(verf, name, len);
		}
	}
	if (cl == NULL) {
		st = NFS4ERR_RESOURCE;
	} else {
		renew(cl);
		*clientid = cl->clientid;
		*seq = cl->cs_seq;
		*confirmed = cl->confirmed;
	}
	pthread_mutex_unlock(&st_lock);
	release_run(&rl);
	return st;
}

/* A confirmed, live client: renewed.  Callers hold st_lock. */
static int client_get(uint64_t clientid, struct nfs4_client **out)
{
	struct nfs4_client *cl = client_by_id(clientid);

	if (cl == NULL || !cl->confirmed)
		return NFS4ERR_STALE_CLIENTID; /* unknown, or of another boot */
	if (cl->expired)
		return NFS4ERR_EXPIRED;
	renew(cl);
	*out = cl;
	return NFS4_OK;
}

int nfs4_client_renew(uint64_t clientid)
{
	struct nfs4_client *cl;
	int st;

	pthread_mutex_lock(&st_lock);
	st = client_get(clientid, &cl);
	pthread_mutex_unlock(&st_lock);
	return st;
}

static bool client_has_state(const struct nfs4_client *cl)
{
	for (struct nfs4_stid *s = stids; s; s = s->next)
		if (s->cl == cl && !s->closed)
			return true;
	return false;
}

int nfs4_destroy_clientid(uint64_t clientid, const struct nfs4_session *cur)
{
	struct release_list rl = { .n = 0 };
	struct nfs4_client *cl = NULL;
	int st;

	pthread_mutex_lock(&st_lock);
	cl = client_by_id(clientid);
	if (cl == NULL || cl->expired) {
		st = NFS4ERR_STALE_CLIENTID;
	} else if (client_has_state(cl)) {
		st = NFS4ERR_CLID_INUSE;
	} else {
		st = NFS4_OK;
		for (unsigned i = 0; i < NFS4_SESSIONS; i++)
			if (sessions[i].used &&
			    sessions[i].clientid == clientid &&
			    &sessions[i] != cur)
				st = NFS4ERR_CLID_INUSE;
		if (st == NFS4_OK && cur == NULL)
			client_destroy(cl, &rl);
	}
	pthread_mutex_unlock(&st_lock);
	release_run(&rl);
	return st;
}

/* ---- sessions ---- */

static struct nfs4_session *session_find(const uint8_t id[16])
{
	for (unsigned i = 0; i < NFS4_SESSIONS; i++)
		if (sessions[i].used && !memcmp(sessions[i].id, id, 16))
			return &sessions[i];
	return NULL;
}

/* A free entry, else the least recently used idle one. */
static struct nfs4_session *session_alloc(void)
{
	struct nfs4_session *lru = NULL;

	for (unsigned i = 0; i < NFS4_SESSIONS; i++) {
		struct nfs4_session *se = &sessions[i];
		bool busy = false;

		if (!se->used)
			return se;
		for (unsigned j = 0; j < se->nslots; j++)
			busy |= se->slots[j].busy;
		if (!busy && (lru == NULL || se->last_used < lru->last_used))
			lru = se;
	}
	if (lru)
		session_free(lru);
	return lru;
}

int nfs4_create_session(uint64_t clientid, const channel_attrs4 *fore,
			uint8_t id[16])
{
	struct release_list rl = { .n = 0 };
	struct nfs4_client *cl, *old;
	struct nfs4_session *se = NULL;
	uint64_t serial;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	cl = client_by_id(clientid);
	if (cl == NULL || cl->expired) {
		st = NFS4ERR_STALE_CLIENTID;
	} else {
		if (!cl->confirmed) {
			/* the first session confirms; an older incarnation
			 * of the same client owner goes */
			old = client_by_name(cl->name, cl->namelen, true);
			if (old)
				client_destroy(old, &rl);
			cl->confirmed = true;
		}
		cl->cs_seq++;
		renew(cl);
		se = session_alloc();
		if (se == NULL)
			st = NFS4ERR_DELAY; /* every session is busy */
	}
	if (se) {
		serial = next_serial++;
		memcpy(id, &clientid, 8);
		memcpy(id + 8, &serial, 8);
		se->used = true;
		memcpy(se->id, id, 16);
		se->clientid = clientid;
		se->nslots = fore->ca_maxrequests;
		se->maxops = fore->ca_maxoperations;
		se->maxreq = fore->ca_maxrequestsize;
		se->last_used = ++session_clock;
	}
	pthread_mutex_unlock(&st_lock);
	release_run(&rl);
	return st;
}

int nfs4_destroy_session(struct cstate *cs, const uint8_t id[16])
{
	struct nfs4_session *se;

	pthread_mutex_lock(&st_lock);
	se = session_find(id);
	/* The session of this very COMPOUND is in use: it is freed when
	 * the COMPOUND ends. */
	if (se && se == cs->session)
		cs->destroy_session = true;
	else if (se)
		session_free(se);
	pthread_mutex_unlock(&st_lock);
	return se ? NFS4_OK : NFS4ERR_BADSESSION;
}

int nfs4_bind_session(const uint8_t id[16])
{
	bool found;

	pthread_mutex_lock(&st_lock);
	found = session_find(id) != NULL;
	pthread_mutex_unlock(&st_lock);
	return found ? NFS4_OK : NFS4ERR_BADSESSION;
}

/* A retransmission: the slot's cached reply, or why there is none. */
static int slot_replay(struct cstate *cs, const struct nfs4_slot *sl)
{
	if (sl->cache == NULL)
		return NFS4ERR_RETRY_UNCACHED_REP;
	cs->replay = malloc(sl->cachelen);
	if (cs->replay == NULL)
		return NFS4ERR_DELAY;
	memcpy(cs->replay, sl->cache, sl->cachelen);
	cs->replaylen = sl->cachelen;
	return NFS4_OK;
}

int nfs4_sequence(struct cstate *cs, const uint8_t id[16], uint32_t seq,
		  uint32_t slotid, uint32_t *nslots)
{
	struct nfs4_session *se;
	struct nfs4_client *cl;
	struct nfs4_slot *sl;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	se = session_find(id);
	cl = se ? client_by_id(se->clientid) : NULL;
	if (se == NULL || cl == NULL || cl->expired) {
		st = NFS4ERR_BADSESSION;
	} else if (cs->nops > se->maxops) {
		st = NFS4ERR_TOO_MANY_OPS;
	} else if (cs->req->reclen > se->maxreq) {
		st = NFS4ERR_REQ_TOO_BIG;
	} else if (slotid >= se->nslots) {
		st = NFS4ERR_BADSLOT;
	} else {
		sl = &se->slots[slotid];
		*nslots = se->nslots;
		if (sl->busy) {
			st = NFS4ERR_DELAY;
		} else if (seq == sl->seqid && seq != 0) {
			st = slot_replay(cs, sl);
		} else if (seq != sl->seqid + 1) {
			st = NFS4ERR_SEQ_MISORDERED;
		} else {
			sl->seqid = seq;
			sl->busy = true;
			se->last_used = ++session_clock;
			cs->session = se;
			cs->slot = sl;
			renew(cl);
		}
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}

void nfs4_sequence_done(struct cstate *cs, const uint8_t *res, u_int len)
{
	struct nfs4_slot *sl = cs->slot;

	pthread_mutex_lock(&st_lock);
	free(sl->cache);
	sl->cache = NULL;
	sl->cachelen = 0;
	if (len <= NFS4_CACHED_MAX) {
		sl->cache = malloc(len);
		if (sl->cache) {
			memcpy(sl->cache, res, len);
			sl->cachelen = len;
		}
	}
	sl->busy = false;
	if (cs->destroy_session)
		session_free(cs->session);
	pthread_mutex_unlock(&st_lock);
}

/* ---- owners and seqids ---- */

static struct nfs4_owner *owner_new(struct nfs4_client *cl, bool is_lock,
				    const void *o, u_int len)
{
	struct nfs4_owner *ow = calloc(1, sizeof(*ow));

	if (ow == NULL)
		return NULL;
	ow->serial = next_serial++;
	ow->cl = cl;
	ow->is_lock = is_lock;
	memcpy(ow->owner, o, len);
	ow->len = len;
	ow->last.status = -1;
	ow->next = owners;
	owners = ow;
	return ow;
}

static int copy_replay(const struct nfs4_replay *from,
		       struct nfs4_replay *to)
{
	*to = *from;
	to->body = NULL;
	if (from->len) {
		to->body = malloc(from->len);
		if (to->body == NULL)
			return NFS4ERR_DELAY;
		memcpy(to->body, from->body, from->len);
	}
	return NFS4_OK;
}

/*
 * RFC 7530 9.1.7: the next seqid runs (nfs4_seqid_done then moves the
 * owner to it), the last one is answered from the cache (-SEQ_REPLAY,
 * with *replay filled), others are BAD_SEQID.  A new owner takes any
 * seqid.  Callers hold st_lock.
 */
#define SEQ_REPLAY 1
static int seqid_check(struct cstate *cs, struct nfs4_owner *ow,
		       uint32_t seqid, struct nfs4_replay *replay)
{
	if (cs->minor > 0)
		return NFS4_OK;
	if (ow->seen && seqid == ow->seqid) {
		if (ow->last.status < 0)
			return NFS4ERR_BAD_SEQID; /* nothing kept to replay */
		if (copy_replay(&ow->last, replay) != NFS4_OK)
			return NFS4ERR_DELAY;
		return -SEQ_REPLAY;
	}
	if (ow->seen && seqid != ow->seqid + 1)
		return NFS4ERR_BAD_SEQID;
	cs->seq_owner = ow->serial;
	cs->seq_value = seqid;
	return NFS4_OK;
}

/* What the caller of seqid_check answers. */
static int seqid_status(int st, const struct nfs4_replay *replay)
{
	return st == -SEQ_REPLAY ? replay->status : st;
}

int nfs4_open_owner(struct cstate *cs, uint64_t clientid,
		    const void *owner, u_int len, uint32_t seqid,
		    struct nfs4_replay *replay)
{
	struct nfs4_client *cl;
	struct nfs4_owner *ow = NULL;
	int st;

	memset(replay, 0, sizeof(*replay));
	replay->status = -1;
	pthread_mutex_lock(&st_lock);
	st = client_get(clientid, &cl);
	if (st == NFS4_OK) {
		ow = owner_find(cl, false, owner, len);
		if (ow == NULL)
			ow = owner_new(cl, false, owner, len);
		if (ow == NULL)
			st = NFS4ERR_RESOURCE;
	}
	if (st == NFS4_OK) {
		st = seqid_check(cs, ow, seqid, replay);
		if (cs->minor > 0)
			cs->seq_owner = 0;
		cs->open_owner = ow->serial;
	}
	pthread_mutex_unlock(&st_lock);
	return seqid_status(st, replay);
}

int nfs4_open_owner41(struct cstate *cs, uint64_t clientid,
		      const void *owner, u_int len)
{
	struct nfs4_replay r;

	return nfs4_open_owner(cs, clientid, owner, len, 0, &r);
}

/* Statuses that leave the seqid where it was (RFC 7530 9.1.7). */
static bool seqid_moves(int st)
{
	switch (st) {
	case NFS4ERR_STALE_CLIENTID:
	case NFS4ERR_STALE_STATEID:
	case NFS4ERR_BAD_STATEID:
	case NFS4ERR_BAD_SEQID:
	case NFS4ERR_BADXDR:
	case NFS4ERR_RESOURCE:
	case NFS4ERR_NOFILEHANDLE:
	case NFS4ERR_LEASE_MOVED:
		return false;
	default:
		return true;
	}
}

void nfs4_seqid_done(struct cstate *cs, int status, const uint8_t *body,
		     u_int len, const uint8_t *fh, u_int fhlen)
{
	struct nfs4_owner *ow;

	pthread_mutex_lock(&st_lock);
	ow = owner_by_serial(cs->seq_owner);
	cs->seq_owner = 0;
	if (ow && seqid_moves(status)) {
		ow->seen = true;
		ow->seqid = cs->seq_value;
		nfs4_replay_free(&ow->last);
		ow->last.status = status;
		ow->last.fhlen = 0;
		if (len) {
			ow->last.body = malloc(len);
			if (ow->last.body == NULL)
				ow->last.status = -1; /* no replay then */
			else
				memcpy(ow->last.body, body, len);
			ow->last.len = ow->last.body ? len : 0;
		}
		if (fh && fhlen <= sizeof(ow->last.fh)) {
			memcpy(ow->last.fh, fh, fhlen);
			ow->last.fhlen = fhlen;
		}
	}
	pthread_mutex_unlock(&st_lock);
}

/* ---- stateids ---- */

static struct nfs4_stid *stid_new(struct nfs4_client *cl,
				  struct nfs4_owner *ow,
				  const struct nfs4_file *obj, bool is_lock)
{
	struct nfs4_stid *s = calloc(1, sizeof(*s));
	uint32_t e = htonl(epoch), c = htonl((uint32_t)cl->clientid);
	uint32_t n = htonl(++cl->nstates);

	if (s == NULL)
		return NULL;
	memcpy(s->other, &e, 4);
	memcpy(s->other + 4, &c, 4);
	memcpy(s->other + 8, &n, 4);
	s->cl = cl;
	s->owner = ow;
	s->obj = *obj;
	s->is_lock = is_lock;
	s->seqid = is_lock ? 0 : 1; /* a lock stateid is 1 once granted */
	s->next = stids;
	stids = s;
	if (!is_lock)
		stid_pin(s);
	return s;
}

static bool is_special(const struct stateid4 *sid)
{
	return !memcmp(sid->other, zeros12, 12) ||
	       !memcmp(sid->other, ones12, 12);
}

/* A stateid that names no state: why.  Callers hold st_lock. */
static int stid_missing(const struct stateid4 *sid)
{
	uint32_t e, c;
	struct nfs4_client *cl;

	memcpy(&e, sid->other, 4);
	if (ntohl(e) != epoch)
		return NFS4ERR_STALE_STATEID;
	memcpy(&c, sid->other + 4, 4);
	cl = client_by_id((uint64_t)epoch << 32 | ntohl(c));
	return cl && cl->expired ? NFS4ERR_EXPIRED : NFS4ERR_BAD_STATEID;
}

/* The stateid's seqid against the state's (RFC 8881 8.2.2). */
static int seqid_cmp(uint32_t minor, const struct stateid4 *sid,
		     const struct nfs4_stid *s)
{
	if (minor > 0 && sid->seqid == 0)
		return NFS4_OK; /* "the current one" */
	if (sid->seqid > s->seqid)
		return NFS4ERR_BAD_STATEID;
	if (sid->seqid < s->seqid)
		return NFS4ERR_OLD_STATEID;
	return NFS4_OK;
}

static int stid_lookup(uint32_t minor, const struct stateid4 *sid,
		       struct nfs4_stid **out)
{
	struct nfs4_stid *s = stid_find(sid->other);
	int st;

	if (s == NULL || s->closed)
		return stid_missing(sid);
	st = seqid_cmp(minor, sid, s);
	if (st == NFS4_OK)
		*out = s;
	return st;
}

/* Does an open of another owner deny what want asks? */
static bool deny_conflict(const struct nfs4_file *obj, uint32_t want)
{
	for (struct nfs4_stid *s = stids; s; s = s->next)
		if (!s->is_lock && !s->closed && same_obj(&s->obj, obj) &&
		    (s->deny & want))
			return true;
	return false;
}

int nfs4_stateid_io(uint32_t minor, const struct stateid4 *sid,
		    const struct nfs4_file *obj, uint32_t want)
{
	struct nfs4_stid *s, *open;
	int st;

	pthread_mutex_lock(&st_lock);
	if (is_special(sid) && in_grace()) {
		/* it could break a share reservation not reclaimed yet */
		st = NFS4ERR_GRACE;
	} else if (is_special(sid)) {
		/* all ones is READ bypass: never for WRITE (RFC 7530 9.1.4.3).
		 * TODO: 4.1's current stateid (seqid 1, other zeros). */
		if (!memcmp(sid->other, ones12, 12) && want == SHARE_WRITE)
			st = NFS4ERR_BAD_STATEID;
		else
			st = deny_conflict(obj, want) ? NFS4ERR_LOCKED
						      : NFS4_OK;
	} else {
		st = stid_lookup(minor, sid, &s);
		if (st == NFS4_OK && !same_obj(&s->obj, obj))
			st = NFS4ERR_BAD_STATEID;
		if (st == NFS4_OK) {
			open = s->is_lock ? s->open : s;
			/* READ through a write-only open is allowed, as
			 * knfsd does: clients read around partial writes */
			if (want == SHARE_WRITE &&
			    !(open->access & SHARE_WRITE))
				st = NFS4ERR_OPENMODE;
			renew(s->cl);
		}
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}

int nfs4_stateid_test(const struct stateid4 *sid)
{
	struct nfs4_stid *s;
	int st;

	if (is_special(sid))
		return NFS4ERR_BAD_STATEID;
	pthread_mutex_lock(&st_lock);
	st = stid_lookup(1, sid, &s);
	pthread_mutex_unlock(&st_lock);
	return st;
}

int nfs4_free_stateid(const struct stateid4 *sid)
{
	struct nfs4_stid *s;
	int st;

	if (is_special(sid))
		return NFS4ERR_BAD_STATEID;
	pthread_mutex_lock(&st_lock);
	st = stid_lookup(1, sid, &s);
	if (st == NFS4_OK && (!s->is_lock || s->nranges > 0))
		st = NFS4ERR_LOCKS_HELD; /* an open, or a lock still held */
	if (st == NFS4_OK) {
		struct nfs4_owner *ow = s->owner;

		renew(s->cl);
		stid_free(s);
		owner_gc(ow);
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}

/* ---- opens ---- */

int nfs4_open_state(struct cstate *cs, const struct nfs4_file *obj,
		    uint32_t access, uint32_t deny, struct stateid4 *sid)
{
	struct nfs4_owner *ow;
	struct nfs4_stid *mine = NULL;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	ow = owner_by_serial(cs->open_owner);
	if (ow == NULL)
		st = NFS4ERR_EXPIRED; /* the lease ran out meanwhile */
	for (struct nfs4_stid *s = stids; st == NFS4_OK && s; s = s->next) {
		if (s->is_lock || s->closed || !same_obj(&s->obj, obj))
			continue;
		if (s->owner == ow)
			mine = s;
		else if ((s->access & deny) || (s->deny & access))
			st = NFS4ERR_SHARE_DENIED;
	}
	if (st == NFS4_OK && ow->closed)
		stid_free(ow->closed); /* no CLOSE retransmission now */
	if (st == NFS4_OK && mine) {
		/* the owner opens it again: one stateid, upgraded */
		mine->access |= access;
		mine->deny |= deny;
		mine->seqid++;
	} else if (st == NFS4_OK) {
		mine = stid_new(ow->cl, ow, obj, false);
		if (mine == NULL)
			st = NFS4ERR_RESOURCE;
		else {
			mine->access = access;
			mine->deny = deny;
		}
	}
	if (st == NFS4_OK) {
		sid->seqid = mine->seqid;
		memcpy(sid->other, mine->other, 12);
		rec_put(ow->cl, cs->req);
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}

/*
 * The start of OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE and LOCK with a new
 * lock owner: the open stateid, its owner's seqid, then the stateid's
 * own seqid and file.  Callers hold st_lock.
 */
static int open_stid_op(struct cstate *cs, const struct stateid4 *sid,
			uint32_t seqid, const struct nfs4_file *obj,
			struct nfs4_replay *replay, struct nfs4_stid **out)
{
	struct nfs4_stid *s;
	int st;

	memset(replay, 0, sizeof(*replay));
	replay->status = -1;
	if (is_special(sid))
		return NFS4ERR_BAD_STATEID;
	s = stid_find(sid->other);
	if (s == NULL)
		return stid_missing(sid);
	if (s->is_lock)
		return NFS4ERR_BAD_STATEID;
	st = seqid_check(cs, s->owner, seqid, replay);
	if (st == NFS4_OK && s->closed)
		st = NFS4ERR_BAD_STATEID;
	if (st == NFS4_OK)
		st = seqid_cmp(cs->minor, sid, s);
	if (st == NFS4_OK && !same_obj(&s->obj, obj))
		st = NFS4ERR_BAD_STATEID;
	if (st == NFS4_OK) {
		renew(s->cl);
		*out = s;
	}
	return st;
}

static void stid_out(const struct nfs4_stid *s, struct stateid4 *sid)
{
	sid->seqid = s->seqid;
	memcpy(sid->other, s->other, 12);
}

int nfs4_open_confirm(struct cstate *cs, struct stateid4 *sid,
		      uint32_t seqid, const struct nfs4_file *obj,
		      struct nfs4_replay *replay)
{
	struct nfs4_stid *s;
	int st;

	pthread_mutex_lock(&st_lock);
	st = open_stid_op(cs, sid, seqid, obj, replay, &s);
	if (st == NFS4_OK) {
		s->seqid++;
		stid_out(s, sid);
	}
	pthread_mutex_unlock(&st_lock);
	return seqid_status(st, replay);
}

int nfs4_open_downgrade(struct cstate *cs, struct stateid4 *sid,
			uint32_t seqid, uint32_t access, uint32_t deny,
			const struct nfs4_file *obj,
			struct nfs4_replay *replay)
{
	struct nfs4_stid *s;
	int st;

	pthread_mutex_lock(&st_lock);
	st = open_stid_op(cs, sid, seqid, obj, replay, &s);
	if (st == NFS4_OK && (access == 0 || (access & ~s->access) ||
			      (deny & ~s->deny)))
		st = NFS4ERR_INVAL; /* only what it has can be kept */
	if (st == NFS4_OK) {
		s->access = access;
		s->deny = deny;
		s->seqid++;
		stid_out(s, sid);
	}
	pthread_mutex_unlock(&st_lock);
	return seqid_status(st, replay);
}

void nfs4_lk_owner(const struct nfs4_lockowner *lo, struct lk_owner *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = LK_PROTO_NFS4;
	o->client = &lo->clientid;
	o->client_len = sizeof(lo->clientid);
	o->oh = lo->owner;
	o->oh_len = lo->owner_len;
}

/* Release what a lock stateid holds and free it.  The lock table takes
 * no lock of ours, so this is safe under st_lock. */
static void lock_stid_drop(struct nfs4_stid *ls)
{
	struct nfs4_owner *ow = ls->owner;
	struct lk_object obj = { ls->obj.export_id, ls->obj.fileid };
	struct nfs4_lockowner lo;
	struct lk_owner o;

	if (ls->nranges) {
		lo.clientid = ls->cl->clientid;
		memcpy(lo.owner, ow->owner, ow->len);
		lo.owner_len = ow->len;
		nfs4_lk_owner(&lo, &o);
		lk_unlock(&obj, &o, 0, 0);
	}
	stid_free(ls);
	owner_gc(ow);
}

int nfs4_close(struct cstate *cs, struct stateid4 *sid, uint32_t seqid,
	       const struct nfs4_file *obj, struct nfs4_replay *replay)
{
	struct nfs4_stid *s, *l, *next;
	int st;

	pthread_mutex_lock(&st_lock);
	st = open_stid_op(cs, sid, seqid, obj, replay, &s);
	if (st == NFS4_OK) {
		for (l = stids; l; l = next) {
			next = l->next;
			if (l->is_lock && l->open == s)
				lock_stid_drop(l);
		}
		if (cs->minor == 0) {
			/* kept, closed, for a retransmitted CLOSE */
			s->seqid++;
			stid_out(s, sid);
			stid_unpin(s);
			s->closed = true;
			if (s->owner->closed)
				stid_free(s->owner->closed);
			s->owner->closed = s;
		} else {
			struct nfs4_owner *ow = s->owner;

			stid_free(s);
			owner_gc(ow);
			sid->seqid = UINT32_MAX; /* the invalid stateid */
			memset(sid->other, 0, 12);
		}
	}
	pthread_mutex_unlock(&st_lock);
	return seqid_status(st, replay);
}

/* ---- locks ---- */

static void lockowner_out(const struct nfs4_stid *ls,
			  struct nfs4_lockowner *lo)
{
	lo->clientid = ls->cl->clientid;
	memcpy(lo->owner, ls->owner->owner, ls->owner->len);
	lo->owner_len = ls->owner->len;
}

int nfs4_lock_new(struct cstate *cs, const struct stateid4 *open_sid,
		  uint32_t open_seqid, uint32_t lock_seqid,
		  const struct nfs4_lockowner *owner,
		  const struct nfs4_file *obj, struct stateid4 *lsid,
		  struct nfs4_replay *replay)
{
	struct nfs4_stid *s, *ls = NULL;
	struct nfs4_owner *lo = NULL;
	int st;

	pthread_mutex_lock(&st_lock);
	st = open_stid_op(cs, open_sid, open_seqid, obj, replay, &s);
	if (st == NFS4_OK && owner->clientid != s->cl->clientid)
		st = NFS4ERR_BAD_STATEID;
	if (st == NFS4_OK) {
		lo = owner_find(s->cl, true, owner->owner, owner->owner_len);
		if (lo == NULL)
			lo = owner_new(s->cl, true, owner->owner,
				       owner->owner_len);
		if (lo == NULL)
			st = NFS4ERR_RESOURCE;
	}
	if (st == NFS4_OK) {
		lo->seen = true;
		lo->seqid = lock_seqid;
		for (ls = stids; ls; ls = ls->next)
			if (ls->is_lock && ls->owner == lo &&
			    same_obj(&ls->obj, obj))
				break;
		if (ls == NULL && (ls = stid_new(s->cl, lo, obj, true)))
			ls->open = s;
		if (ls == NULL)
			st = NFS4ERR_RESOURCE;
	}
	if (st == NFS4_OK)
		stid_out(ls, lsid);
	pthread_mutex_unlock(&st_lock);
	return seqid_status(st, replay);
}

int nfs4_lock_existing(struct cstate *cs, const struct stateid4 *lsid,
		       uint32_t seqid, const struct nfs4_file *obj,
		       struct nfs4_lockowner *lo, struct nfs4_replay *replay)
{
	struct nfs4_stid *s;
	int st = NFS4_OK;

	memset(replay, 0, sizeof(*replay));
	replay->status = -1;
	pthread_mutex_lock(&st_lock);
	s = is_special(lsid) ? NULL : stid_find(lsid->other);
	if (s == NULL)
		st = is_special(lsid) ? NFS4ERR_BAD_STATEID
				      : stid_missing(lsid);
	else if (!s->is_lock)
		st = NFS4ERR_BAD_STATEID;
	if (st == NFS4_OK)
		st = seqid_check(cs, s->owner, seqid, replay);
	if (st == NFS4_OK)
		st = seqid_cmp(cs->minor, lsid, s);
	if (st == NFS4_OK && !same_obj(&s->obj, obj))
		st = NFS4ERR_BAD_STATEID;
	if (st == NFS4_OK) {
		renew(s->cl);
		lockowner_out(s, lo);
	}
	pthread_mutex_unlock(&st_lock);
	return seqid_status(st, replay);
}

/* The ranges a lock stateid holds, merged whatever their type: enough
 * to tell FREE_STATEID and RELEASE_LOCKOWNER whether any is left. */
static int ranges_add(struct nfs4_stid *s, uint64_t start, uint64_t end)
{
	struct range *r = malloc((s->nranges + 1) * sizeof(*r));
	unsigned n = 0;

	if (r == NULL)
		return -1;
	for (unsigned i = 0; i < s->nranges; i++) {
		struct range x = s->ranges[i];

		if (x.end < start || x.start > end) {
			r[n++] = x;
			continue;
		}
		start = x.start < start ? x.start : start;
		end = x.end > end ? x.end : end;
	}
	r[n].start = start;
	r[n++].end = end;
	free(s->ranges);
	s->ranges = r;
	s->nranges = n;
	return 0;
}

static int ranges_remove(struct nfs4_stid *s, uint64_t start, uint64_t end)
{
	struct range *r = malloc((s->nranges + 1) * sizeof(*r));
	unsigned n = 0;

	if (r == NULL)
		return -1;
	for (unsigned i = 0; i < s->nranges; i++) {
		struct range x = s->ranges[i];

		if (x.end <= start || x.start >= end) {
			r[n++] = x;
			continue;
		}
		if (x.start < start)
			r[n++] = (struct range){ x.start, start };
		if (x.end > end)
			r[n++] = (struct range){ end, x.end };
	}
	free(s->ranges);
	s->ranges = r;
	s->nranges = n;
	return 0;
}

int nfs4_lock_update(const struct stateid4 *lsid, bool locked,
		     uint64_t off, uint64_t len, struct stateid4 *out)
{
	uint64_t end = len == 0 || off > UINT64_MAX - len ? UINT64_MAX
							  : off + len;
	struct nfs4_stid *s;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	s = stid_find(lsid->other);
	if (s == NULL || !s->is_lock)
		st = NFS4ERR_BAD_STATEID; /* freed meanwhile: the lease */
	else if ((locked ? ranges_add(s, off, end)
			 : ranges_remove(s, off, end)) < 0)
		st = NFS4ERR_RESOURCE;
	if (st == NFS4_OK) {
		s->seqid++;
		stid_out(s, out);
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}

int nfs4_release_lockowner(uint64_t clientid, const void *owner, u_int len)
{
	struct nfs4_client *cl;
	struct nfs4_owner *lo = NULL;
	struct nfs4_stid *s, *next;
	int st;

	pthread_mutex_lock(&st_lock);
	st = client_get(clientid, &cl);
	if (st == NFS4_OK)
		lo = owner_find(cl, true, owner, len);
	for (s = stids; lo && s; s = s->next)
		if (s->owner == lo && s->nranges)
			st = NFS4ERR_LOCKS_HELD;
	if (st == NFS4_OK && lo) {
		for (s = stids; s; s = next) {
			next = s->next;
			if (s->owner == lo)
				stid_free(s);
		}
		owner_free(lo);
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}

/* ---- 4.1 RECLAIM_COMPLETE ---- */

int nfs4_reclaim_complete(struct cstate *cs)
{
	struct nfs4_client *cl = NULL;
	int st = NFS4_OK;

	pthread_mutex_lock(&st_lock);
	if (cs->session == NULL)
		st = NFS4ERR_OP_NOT_IN_SESSION;
	else
		st = client_get(cs->session->clientid, &cl);
	if (st == NFS4_OK && cl->reclaim_done) {
		st = NFS4ERR_COMPLETE_ALREADY;
	} else if (st == NFS4_OK) {
		cl->reclaim_done = true;
		rec_put(cl, cs->req);
	}
	pthread_mutex_unlock(&st_lock);
	return st;
}
