/*
 * rpc.c - ONC RPC call dispatch (RFC 5531): decode the call header and
 * credentials, find the procedure, frame the reply, and answer
 * retransmitted non-idempotent calls from the duplicate request cache.
 *
 * Reply buffers are allocated here, once per request, with room for the
 * TCP record mark in front and for the largest reply the procedure can
 * produce, so the transport sends them without copying.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gss.h"
#include "log.h"
#include "server.h"

#define RPC_VERSION 2
#define MAX_AUTH_BYTES 400
#define MAX_MACHINE_NAME 255
/* xid, msg_type, reply_stat, verifier (flavor, length 0), accept_stat */
#define ACCEPTED_HDR 24
/* The longest non-accepted reply: xid, type, stat, mismatch low, high. */
#define SMALL_REPLY 32
#define STARTTLS_LEN 8
#define MARK 4

/* Programs served over the one port. */
/* Every program the daemon serves, on every transport.  A new protocol
 * adds its table here (and rpcbind registration follows this list). */
const struct rpc_program *const rpc_programs[] = {
	&nfs3_program,
	&mount3_program,
	&nlm4_program,
	&nsm1_program,
	&nfs4_program,
	&nfsacl_program,
};
const size_t rpc_nprograms = sizeof(rpc_programs) / sizeof(rpc_programs[0]);

/* The portmapper's port serves only the portmapper, as rpcbind's does;
 * it is not in rpc_programs[], which rpcbind registration follows. */
static const struct rpc_program *const portmap_programs[] = {
	&portmap_program,
};

/* ---- credentials ------------------------------------------------------
 * One entry per supported flavor; RPCSEC_GSS is only recognised here,
 * and checked with its verifier by gss_call().  A parser returns an
 * auth_stat.
 */
typedef enum auth_stat (*cred_parser)(const uint8_t *body, uint32_t len,
				      struct rpc_cred *cred);

static enum auth_stat parse_auth_none(const uint8_t *body, uint32_t len,
				      struct rpc_cred *cred)
{
	cred->flavor = AUTH_NONE;
	return AUTH_OK;
}

static enum auth_stat parse_auth_sys(const uint8_t *body, uint32_t len,
				     struct rpc_cred *cred)
{
	uint32_t stamp, namelen, ngroups, i;
	enum auth_stat st = AUTH_BADCRED;
	XDR x;

	xdrmem_create(&x, (char *)body, len, XDR_DECODE);
	if (!xdr_uint32_t(&x, &stamp) || !xdr_uint32_t(&x, &namelen) ||
	    namelen > MAX_MACHINE_NAME ||
	    !XDR_INLINE(&x, (int)RNDUP(namelen)) ||
	    !xdr_uint32_t(&x, &cred->uid) || !xdr_uint32_t(&x, &cred->gid) ||
	    !xdr_uint32_t(&x, &ngroups) || ngroups > UN_NGROUPS_MAX)
		goto out;
	for (i = 0; i < ngroups; i++)
		if (!xdr_uint32_t(&x, &cred->groups[i]))
			goto out;
	/* The body must be exactly the parameters, nothing after them. */
	if (xdr_getpos(&x) != len)
		goto out;
	cred->ngroups = ngroups;
	cred->flavor = AUTH_SYS;
	st = AUTH_OK;
out:
	xdr_destroy(&x);
	return st;
}

/* RFC 9289: the probe's credential is empty; see tls_probe(). */
static enum auth_stat parse_auth_tls(const uint8_t *body, uint32_t len,
				     struct rpc_cred *cred)
{
	cred->flavor = AUTH_TLS;
	return len == 0 ? AUTH_OK : AUTH_BADCRED;
}

/* RPCSEC_GSS needs the header and the verifier: see gss_call(). */
static enum auth_stat parse_rpcsec_gss(const uint8_t *body, uint32_t len,
				       struct rpc_cred *cred)
{
	cred->flavor = RPCSEC_GSS;
	return AUTH_OK;
}

static const struct {
	uint32_t flavor;
	cred_parser parse;
} flavors[] = {
	{ RPCSEC_GSS, parse_rpcsec_gss },
	{ AUTH_NONE, parse_auth_none },
	{ AUTH_SYS, parse_auth_sys },
	{ AUTH_TLS, parse_auth_tls },
};

static enum auth_stat parse_cred(uint32_t flavor, const uint8_t *body,
				 uint32_t len, struct rpc_cred *cred)
{
	size_t i;

	for (i = 0; i < sizeof(flavors) / sizeof(flavors[0]); i++)
		if (flavors[i].flavor == flavor)
			return flavors[i].parse(body, len, cred);
	return AUTH_BADCRED;
}

/* Opaque auth: flavor, then at most 400 bytes; the body stays in place. */
static bool decode_opaque_auth(XDR *x, uint32_t *flavor, uint32_t *len,
			       const uint8_t **body)
{
	if (!xdr_uint32_t(x, flavor) || !xdr_uint32_t(x, len))
		return false;
	if (*len > MAX_AUTH_BYTES)
		return false;
	*body = (const uint8_t *)XDR_INLINE(x, (int)RNDUP(*len));
	return *body != NULL || *len == 0;
}

/* ---- replies ---------------------------------------------------------- */

static bool alloc_reply(struct rpc_req *req, size_t cap)
{
	req->out.base = malloc(MARK + cap);
	if (!req->out.base)
		return false;
	req->out.cap = cap;
	xdrmem_create(&req->res, (char *)req->out.base + MARK, (u_int)cap,
		      XDR_ENCODE);
	return true;
}

static bool put(XDR *x, uint32_t v)
{
	return xdr_uint32_t(x, &v);
}

/* AUTH_NONE, empty; or with "STARTTLS" in it to answer a probe. */
static bool put_verifier(struct rpc_req *req)
{
	XDR *x = &req->res;

	if (!req->starttls)
		return put(x, AUTH_NONE) && put(x, 0);
	return put(x, AUTH_NONE) && put(x, STARTTLS_LEN) &&
	       xdr_opaque(x, (char *)"STARTTLS", STARTTLS_LEN);
}

/* xid, REPLY, MSG_ACCEPTED, verifier, accept_stat. */
static size_t encode_accepted(struct rpc_req *req, enum accept_stat st)
{
	XDR *x = &req->res;

	xdr_setpos(x, 0);
	if (!put(x, req->xid) || !put(x, REPLY) || !put(x, MSG_ACCEPTED) ||
	    !put_verifier(req) || !put(x, st))
		return 0;
	return xdr_getpos(x);
}

static size_t reply_accepted(struct rpc_req *req, enum accept_stat st,
			     uint32_t low, uint32_t high)
{
	size_t len;

	if (!req->out.base && !alloc_reply(req, SMALL_REPLY))
		return 0;
	len = encode_accepted(req, st);
	if (len && st == PROG_MISMATCH &&
	    (!put(&req->res, low) || !put(&req->res, high)))
		return 0;
	return xdr_getpos(&req->res);
}

static size_t reply_denied(struct rpc_req *req, enum reject_stat rs,
			   uint32_t detail)
{
	XDR *x = &req->res;

	if (!req->out.base && !alloc_reply(req, SMALL_REPLY))
		return 0;
	xdr_setpos(x, 0);
	if (!put(x, req->xid) || !put(x, REPLY) || !put(x, MSG_DENIED) ||
	    !put(x, rs))
		return 0;
	if (rs == RPC_MISMATCH) {
		/* Only version 2 exists. */
		if (!put(x, RPC_VERSION) || !put(x, RPC_VERSION))
			return 0;
	} else if (!put(x, detail)) {
		return 0;
	}
	return xdr_getpos(x);
}

void *rpc_res_inline(struct rpc_req *req, size_t n)
{
	if (n > (size_t)INT32_MAX)
		return NULL;
	return XDR_INLINE(&req->res, (int)n);
}

/* ---- duplicate request cache ------------------------------------------
 * As in Linux nfsd: a retransmitted non-idempotent call (REMOVE, RENAME,
 * CREATE...) must get the reply of its first execution, not a fresh
 * failure (e.g. ENOENT for a REMOVE that did succeed but whose reply was
 * lost).  Entries are keyed by xid, client address and port, program,
 * version, procedure and a checksum of the start of the arguments (xids
 * are reused across clients and reboots).
 */
#define DRC_MAX 4096
#define DRC_BUCKETS 1024
#define DRC_TTL 120	  /* seconds */
#define DRC_CSUM_BYTES 256

struct drc_key {
	uint32_t xid, prog, vers, proc, csum;
	uint16_t port;
	uint8_t family;
	uint8_t addr[16];
};

struct drc_entry {
	struct drc_key key;
	struct drc_entry *hnext;	    /* hash chain */
	struct drc_entry *lru_prev, *lru_next; /* most recent at head */
	bool done;
	long stamp;
	uint8_t *reply; /* done: the reply, without the record mark */
	size_t len;
};

static struct {
	pthread_mutex_t lock;
	struct drc_entry *bucket[DRC_BUCKETS];
	struct drc_entry *lru_head, *lru_tail;
	unsigned n;
} drc = { .lock = PTHREAD_MUTEX_INITIALIZER };

enum drc_result { DRC_MISS, DRC_INPROGRESS, DRC_HIT };

static long now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

static uint32_t fnv1a(const uint8_t *p, size_t n, uint32_t h)
{
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static void drc_make_key(const struct rpc_req *req, struct drc_key *k)
{
	size_t pos = xdr_getpos((XDR *)&req->args);
	size_t n = req->reclen - pos;

	memset(k, 0, sizeof(*k));
	k->xid = req->xid;
	k->prog = req->prog;
	k->vers = req->vers;
	k->proc = req->proc;
	k->csum = fnv1a(req->rec + pos, n < DRC_CSUM_BYTES ? n : DRC_CSUM_BYTES,
			2166136261u);
	k->family = (uint8_t)req->peer.ss_family;
	if (req->peer.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&req->peer;

		memcpy(k->addr, &s->sin_addr, 4);
		k->port = s->sin_port;
	} else if (req->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&req->peer;

		memcpy(k->addr, &s->sin6_addr, 16);
		k->port = s->sin6_port;
	}
}

static unsigned drc_hash(const struct drc_key *k)
{
	return fnv1a((const uint8_t *)k, sizeof(*k), 2166136261u) %
	       DRC_BUCKETS;
}

static void lru_unlink(struct drc_entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		drc.lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		drc.lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct drc_entry *e)
{
	e->lru_next = drc.lru_head;
	e->lru_prev = NULL;
	if (drc.lru_head)
		drc.lru_head->lru_prev = e;
	drc.lru_head = e;
	if (!drc.lru_tail)
		drc.lru_tail = e;
}

static struct drc_entry **drc_find(const struct drc_key *k)
{
	struct drc_entry **pp = &drc.bucket[drc_hash(k)];

	while (*pp && memcmp(&(*pp)->key, k, sizeof(*k)) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void drc_remove(struct drc_entry *e)
{
	struct drc_entry **pp = drc_find(&e->key);

	if (*pp == e)
		*pp = e->hnext;
	lru_unlink(e);
	drc.n--;
	free(e->reply);
	free(e);
}

/* Drop expired entries from the old end, and the oldest when full. */
static void drc_trim(long now)
{
	while (drc.lru_tail && (drc.n >= DRC_MAX ||
				now - drc.lru_tail->stamp > DRC_TTL))
		drc_remove(drc.lru_tail);
}

static enum drc_result drc_lookup(const struct drc_key *k,
				  struct rpc_req *req, size_t *len)
{
	struct drc_entry **pp, *e;
	enum drc_result r = DRC_MISS;
	long now = now_seconds();

	pthread_mutex_lock(&drc.lock);
	drc_trim(now);
	pp = drc_find(k);
	if (*pp) {
		e = *pp;
		if (!e->done) {
			r = DRC_INPROGRESS;
		} else if (alloc_reply(req, e->len)) {
			memcpy(req->out.base + MARK, e->reply, e->len);
			*len = e->len;
			r = DRC_HIT;
		} else {
			r = DRC_INPROGRESS; /* no memory: let it retry */
		}
	} else if ((e = calloc(1, sizeof(*e))) != NULL) {
		e->key = *k;
		e->stamp = now;
		e->hnext = NULL;
		*pp = e;
		lru_push(e);
		drc.n++;
	}
	pthread_mutex_unlock(&drc.lock);
	return r;
}

/* Record the reply of a call that ran (len 0: it sent nothing). */
static void drc_complete(const struct drc_key *k, const struct rpc_req *req,
			 size_t len)
{
	struct drc_entry *e;
	uint8_t *copy = NULL;

	if (len && (copy = malloc(len)) != NULL)
		memcpy(copy, req->out.base + MARK, len);
	pthread_mutex_lock(&drc.lock);
	e = *drc_find(k);
	if (e && (!len || !copy)) {
		drc_remove(e); /* nothing to replay: forget it */
	} else if (e) {
		e->reply = copy;
		e->len = len;
		e->done = true;
		e->stamp = now_seconds();
		copy = NULL;
	}
	pthread_mutex_unlock(&drc.lock);
	free(copy);
}

void rpc_drc_clear(void)
{
	pthread_mutex_lock(&drc.lock);
	while (drc.lru_tail)
		drc_remove(drc.lru_tail);
	pthread_mutex_unlock(&drc.lock);
}

/* ---- dispatch --------------------------------------------------------- */

/*
 * A program number may be served by several tables (NFS v3 and v4 are
 * written apart), so the version is looked up across all of them.
 * Returns NULL and the range served (*low > *high if none) on a miss.
 */
static const struct rpc_version *find_version(const struct rpc_req *req,
					      uint32_t *low, uint32_t *high)
{
	const struct rpc_program *const *progs = rpc_programs;
	size_t i, nprogs = rpc_nprograms;
	const struct rpc_version *v;
	uint32_t j;

	if (req->portmap) {
		progs = portmap_programs;
		nprogs = 1;
	}
	*low = UINT32_MAX;
	*high = 0;
	for (i = 0; i < nprogs; i++) {
		if (progs[i]->prog != req->prog)
			continue;
		for (j = 0; j < progs[i]->nversions; j++) {
			v = &progs[i]->versions[j];
			if (v->vers == req->vers)
				return v;
			if (v->vers < *low)
				*low = v->vers;
			if (v->vers > *high)
				*high = v->vers;
		}
	}
	return NULL;
}

/*
 * A flavor the client rule does not allow (sec=, server_access()) is
 * AUTH_TOOWEAK for NFSv3 and its side protocols (RFC 2623 2.3); NFSv4
 * answers NFS4ERR_WRONGSEC inside its COMPOUND instead.
 */
static enum rpc_status call_proc(struct rpc_req *req,
				 const struct rpc_proc *proc)
{
	bool wrongsec = false;
	enum rpc_status st;

	req->wrongsec = &wrongsec;
	st = proc->fn(req);
	req->wrongsec = NULL;
	if (wrongsec && !(req->prog == 100003 && req->vers >= 4))
		return RPC_AUTH_TOOWEAK;
	return st;
}

static size_t run_proc(struct rpc_req *req, const struct rpc_proc *proc)
{
	size_t max = proc->max_reply ? proc->max_reply(req) : RPC_DEFAULT_REPLY;

	if (!alloc_reply(req, ACCEPTED_HDR + max))
		return reply_accepted(req, SYSTEM_ERR, 0, 0);
	if (!encode_accepted(req, SUCCESS))
		return 0;
	switch (call_proc(req, proc)) {
	case RPC_DONE:
		return xdr_getpos(&req->res);
	case RPC_GARBAGE:
		return encode_accepted(req, GARBAGE_ARGS);
	case RPC_SYSTEM_ERR:
		return encode_accepted(req, SYSTEM_ERR);
	case RPC_AUTH_TOOWEAK:
		return reply_denied(req, AUTH_ERROR, AUTH_TOOWEAK);
	case RPC_DROP:
	default:
		return 0;
	}
}

static size_t dispatch(struct rpc_req *req, const struct rpc_proc *proc)
{
	struct drc_key key;
	char peer[INET6_ADDRSTRLEN + 8];
	size_t len = 0;

	if (proc->idempotent)
		return run_proc(req, proc);
	drc_make_key(req, &key);
	switch (drc_lookup(&key, req, &len)) {
	case DRC_HIT:
		log_debug("%s: xid %08x %s: replayed from the duplicate "
			  "request cache",
			  log_addr((struct sockaddr *)&req->peer, peer,
				   sizeof(peer)),
			  req->xid, proc->name);
		return len;
	case DRC_INPROGRESS:
		return 0; /* the first copy's reply will answer it */
	case DRC_MISS:
		break;
	}
	len = run_proc(req, proc);
	drc_complete(&key, req, len);
	return len;
}

/*
 * RFC 9289's AUTH_TLS probe: a NULL call, of any program, asking whether
 * TLS can start on this connection.  The answer is the verifier's
 * "STARTTLS", whatever the accept status; a reply without it tells the
 * client TLS is not to be had here (UDP, no certificate configured, a
 * session already running), as knfsd answers.
 */
static size_t tls_probe(struct rpc_req *req, bool offer, uint32_t vflavor,
			uint32_t vlen)
{
	const struct rpc_version *vers;
	uint32_t low, high;

	if (vflavor != AUTH_NONE || vlen != 0)
		return reply_denied(req, AUTH_ERROR, AUTH_BADVERF);
	if (req->proc != 0)
		return reply_denied(req, AUTH_ERROR, AUTH_BADCRED);
	if (!alloc_reply(req, SMALL_REPLY + STARTTLS_LEN))
		return 0;
	req->starttls = offer;
	vers = find_version(req, &low, &high);
	if (!vers && low > high)
		return reply_accepted(req, PROG_UNAVAIL, 0, 0);
	if (!vers)
		return reply_accepted(req, PROG_MISMATCH, low, high);
	return reply_accepted(req, SUCCESS, 0, 0);
}

/*
 * RPCSEC_GSS (server/gss.c): true when the call has been answered (*out:
 * the reply's length, 0 for none) or dropped; false for a data call to
 * run, with req->cred and req->args as for any other flavor.  The
 * verifier signs the header up to the end of the credential.
 */
static bool gss_call(struct rpc_req *req, const uint8_t *cred, uint32_t len,
		     uint32_t vflavor, const uint8_t *verf, uint32_t vlen,
		     size_t *out)
{
	size_t hdrlen = xdr_getpos(&req->args) - 8 - RNDUP(vlen);
	enum auth_stat why = AUTH_FAILED;

	*out = 0;
	switch (gss_accept(req, cred, len, hdrlen, vflavor, verf, vlen, out,
			   &why)) {
	case GSS_OK:
		return false;
	case GSS_REPLIED:
	case GSS_DROP:
		return true;
	case GSS_GARBAGE:
		*out = reply_accepted(req, GARBAGE_ARGS, 0, 0);
		return true;
	case GSS_DENIED:
	default:
		*out = reply_denied(req, AUTH_ERROR, why);
		return true;
	}
}

/* Decode and check everything up to the procedure's arguments. */
static size_t execute(struct rpc_req *req, bool offer_tls)
{
	uint32_t type, rpcvers, flavor, len, vflavor, vlen;
	const uint8_t *body, *vbody;
	const struct rpc_version *vers;
	uint32_t low, high;
	const struct rpc_proc *proc;
	enum auth_stat as;
	size_t gss_len;
	XDR *x = &req->args;

	if (!xdr_uint32_t(x, &req->xid) || !xdr_uint32_t(x, &type) ||
	    type != CALL)
		return 0; /* not a call: nothing sensible to answer */
	if (!xdr_uint32_t(x, &rpcvers))
		return 0;
	if (rpcvers != RPC_VERSION)
		return reply_denied(req, RPC_MISMATCH, 0);
	if (!xdr_uint32_t(x, &req->prog) || !xdr_uint32_t(x, &req->vers) ||
	    !xdr_uint32_t(x, &req->proc))
		return 0;
	if (!decode_opaque_auth(x, &flavor, &len, &body))
		return reply_denied(req, AUTH_ERROR, AUTH_BADCRED);
	as = parse_cred(flavor, body, len, &req->cred);
	if (as != AUTH_OK)
		return reply_denied(req, AUTH_ERROR, as);
	/* Verifiers of AUTH_NONE and AUTH_SYS carry nothing we check. */
	if (!decode_opaque_auth(x, &vflavor, &vlen, &vbody))
		return reply_denied(req, AUTH_ERROR, AUTH_BADVERF);
	if (req->cred.flavor == AUTH_TLS)
		return tls_probe(req, offer_tls, vflavor, vlen);
	if (req->cred.flavor == RPCSEC_GSS &&
	    gss_call(req, body, len, vflavor, vbody, vlen, &gss_len))
		return gss_len;

	vers = find_version(req, &low, &high);
	if (!vers && low > high)
		return reply_accepted(req, PROG_UNAVAIL, 0, 0);
	if (!vers)
		return reply_accepted(req, PROG_MISMATCH, low, high);
	if (req->proc >= vers->nprocs || !vers->procs[req->proc].fn)
		return reply_accepted(req, PROC_UNAVAIL, 0, 0);
	proc = &vers->procs[req->proc];
	return dispatch(req, proc);
}

size_t rpc_execute(struct server *srv, struct rpc_req *req)
{
	bool offer_tls = req->starttls;
	size_t len;

	/* Only an answered probe leaves it set: see tls_probe(). */
	req->starttls = false;
	req->srv = srv;
	req->out.base = NULL;
	req->out.cap = 0;
	req->gss = NULL;
	xdrmem_create(&req->args, (char *)req->rec, (u_int)req->reclen,
		      XDR_DECODE);
	len = execute(req, offer_tls);
	len = gss_finish(req, len); /* RPCSEC_GSS: verifier, wrapping */
	xdr_destroy(&req->args);
	if (req->out.base)
		xdr_destroy(&req->res);
	free(req->rec);
	req->rec = NULL;
	req->reclen = 0;
	if (len == 0) {
		free(req->out.base);
		req->out.base = NULL;
		req->out.cap = 0;
	}
	return len;
}
