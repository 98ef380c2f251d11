/*
 * nlmproc.c - the Network Lock Manager, version 4 (program 100021), the
 * locking side protocol of NFSv3 (RFC 1813 appendix II, X/Open XNFS).
 *
 * Locks go to the daemon's one lock table (server/locks.c), keyed by the
 * union object (export id + fileid), so they hold across copy-up and
 * conflict with NFSv4 locks.  An owner is (caller_name, oh, svid).
 *
 * Blocking locks: a LOCK with block set that conflicts is queued and
 * answered NLM4_BLOCKED; when the lock is granted later, NLM4_GRANTED is
 * sent to the client's lock manager, found through the portmapper at the
 * address the LOCK came from (the way every lockd finds its peer: the
 * client registers its NLM there).  That call runs on a thread of its own
 * with a short timeout, never on the event loop nor a worker.  If it does
 * not arrive, the client's periodic retry of the LOCK finds the lock
 * already held by it and gets NLM4_GRANTED.
 *
 * The _MSG forms compute the same result and send it back as the matching
 * _RES call, the same way; Linux uses them rarely (it calls synchronously).
 *
 * After a restart, clients that held locks are notified (SM_NOTIFY) and
 * may reclaim during a grace period (nlm_start); the list of those
 * clients and the status monitor protocol are in server/nsmproc.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rpc/pmap_clnt.h>
#include <rpc/pmap_prot.h>

#include "locks.h"
#include "log.h"
#include "nlm.h"
#include "nlm4_prot.h"
#include "rpc.h"
#include "server.h"

/* The wire values (a procedure macro of the same name once shadowed one). */
_Static_assert(NLM4_GRANTED == 0 && NLM4_DENIED == 1 && NLM4_BLOCKED == 3 &&
		       NLM4_STALE_FH == 7,
	       "NLM4 status values");

/* ---- threads for calls to other hosts --------------------------------- */

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_idle = PTHREAD_COND_INITIALIZER;
static pthread_cond_t threads_wake = PTHREAD_COND_INITIALIZER;
static unsigned threads_running;
static bool threads_stopping;

bool nlm_thread_start(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	bool ok = false;

	pthread_mutex_lock(&threads_lock);
	if (!threads_stopping) {
		threads_running++;
		ok = true;
	}
	pthread_mutex_unlock(&threads_lock);
	if (!ok)
		return false;
	ok = pthread_attr_init(&attr) == 0;
	if (ok) {
		ok = pthread_attr_setdetachstate(&attr,
						 PTHREAD_CREATE_DETACHED) == 0 &&
		     pthread_create(&t, &attr, fn, arg) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!ok)
		nlm_thread_done();
	return ok;
}

void nlm_thread_done(void)
{
	pthread_mutex_lock(&threads_lock);
	if (--threads_running == 0)
		pthread_cond_broadcast(&threads_idle);
	pthread_mutex_unlock(&threads_lock);
}

bool nlm_stopping(void)
{
	bool stopping;

	pthread_mutex_lock(&threads_lock);
	stopping = threads_stopping;
	pthread_mutex_unlock(&threads_lock);
	return stopping;
}

bool nlm_pause(unsigned seconds)
{
	struct timespec until;
	bool stopping;

	clock_gettime(CLOCK_REALTIME, &until); /* the condvar's clock */
	until.tv_sec += seconds;
	pthread_mutex_lock(&threads_lock);
	while (!threads_stopping &&
	       pthread_cond_timedwait(&threads_wake, &threads_lock, &until) !=
		       ETIMEDOUT)
		;
	stopping = threads_stopping;
	pthread_mutex_unlock(&threads_lock);
	return !stopping;
}

/*
 * No new thread starts, and every running one ends: each call it makes
 * is bounded by NLM_CALLBACK_TIMEOUT, and loops over many hosts check
 * nlm_stopping() or wait in nlm_pause().  Waiting for all of them, not
 * for a fixed time, is what keeps a thread from touching freed state
 * while the daemon exits.
 */
static void threads_stop(void)
{
	pthread_mutex_lock(&threads_lock);
	threads_stopping = true;
	pthread_cond_broadcast(&threads_wake);
	while (threads_running > 0)
		pthread_cond_wait(&threads_idle, &threads_lock);
	pthread_mutex_unlock(&threads_lock);
}

/* ---- finding another host's programs ---------------------------------- */

bool nlm_peer_addr(const struct sockaddr_storage *peer, socklen_t peer_len,
		   char *buf, size_t buflen)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;

	if (peer->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
				 (socklen_t)buflen) != NULL;
	return getnameinfo((const struct sockaddr *)peer, peer_len, buf,
			   (socklen_t)buflen, NULL, 0, NI_NUMERICHOST) == 0;
}

bool nlm_peer_loopback(const struct sockaddr_storage *peer)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;

	if (peer->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (peer->ss_family != AF_INET6)
		return false;
	return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		sin6->sin6_addr.s6_addr[12] == 127);
}

/* prog over UDP at sin's address, its port from the portmapper there,
 * with our short timeout (pmap_getport() waits up to a minute). */
static CLIENT *pmap_client(struct sockaddr_in *sin, u_long prog, u_long vers,
			   struct timeval tv)
{
	struct pmap parms = { prog, vers, IPPROTO_UDP, 0 };
	u_long port = 0;
	int sock = RPC_ANYSOCK;
	CLIENT *pm;

	sin->sin_port = htons(PMAPPORT);
	pm = clntudp_create(sin, PMAPPROG, PMAPVERS, tv, &sock);
	if (!pm)
		return NULL;
	if (clnt_call(pm, PMAPPROC_GETPORT, (xdrproc_t)xdr_pmap,
		      (char *)&parms, (xdrproc_t)xdr_u_long, (char *)&port,
		      tv) != RPC_SUCCESS)
		port = 0;
	clnt_destroy(pm);
	if (port == 0 || port > 65535)
		return NULL;
	sin->sin_port = htons((uint16_t)port);
	sock = RPC_ANYSOCK;
	return clntudp_create(sin, prog, vers, tv, &sock);
}

/*
 * IPv4 (plain or mapped) uses portmapper v2 directly: libtirpc's rpcbind
 * lookup leaks the empty address string it gets for an unregistered
 * program.  IPv6 peers need rpcbind v3/v4.
 */
CLIENT *nlm_peer_client(const struct sockaddr_storage *peer,
			socklen_t peer_len, u_long prog, u_long vers)
{
	struct timeval tv = { NLM_CALLBACK_TIMEOUT, 0 };
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char host[NI_MAXHOST];

	if (peer->ss_family == AF_INET) {
		memcpy(&sin, peer, sizeof(sin));
		return pmap_client(&sin, prog, vers, tv);
	}
	if (peer->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		return pmap_client(&sin, prog, vers, tv);
	}
	if (getnameinfo((const struct sockaddr *)peer, peer_len, host,
			sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		return NULL;
	return clnt_create_timed(host, prog, vers, "udp", &tv);
}

/* ---- calls back to the client ---------------------------------------- */

/* One call to the client's NLM: arguments already encoded. */
struct nlm_callback {
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint32_t proc;
	char *args;
	u_int len;
};

/* Writes pre-encoded arguments. */
static bool_t xdr_nlm_raw(XDR *x, void *p)
{
	struct nlm_callback *cb = p;

	return xdr_putbytes(x, cb->args, cb->len);
}

static bool_t xdr_nlm_nothing(XDR *x, void *p)
{
	(void)x;
	(void)p;
	return TRUE;
}

static void callback_free(struct nlm_callback *cb)
{
	free(cb->args);
	free(cb);
}

static void *callback_thread(void *p)
{
	struct nlm_callback *cb = p;
	struct timeval tv = { NLM_CALLBACK_TIMEOUT, 0 };
	enum clnt_stat st = RPC_FAILED;
	CLIENT *clnt = nlm_peer_client(&cb->peer, cb->peer_len, NLM_PROG,
				       NLM4_VERS);

	if (clnt) {
		/* The _MSG/_RES forms and GRANTED: the reply, if any, says
		 * nothing we act on. */
		st = clnt_call(clnt, cb->proc, (xdrproc_t)xdr_nlm_raw,
			       (char *)cb, (xdrproc_t)xdr_nlm_nothing, NULL,
			       tv);
		clnt_destroy(clnt);
	}
	if (st != RPC_SUCCESS && st != RPC_TIMEDOUT) {
		char host[INET6_ADDRSTRLEN + 8];

		log_info("nlm: callback %u to %s failed: %s%s", cb->proc,
			 log_host((struct sockaddr *)&cb->peer, host,
				  sizeof(host)),
			 clnt ? "" : "no NLM registered; ", clnt_sperrno(st));
	}
	callback_free(cb);
	nlm_thread_done();
	return NULL;
}

/* Encode args with fn and send them as proc to the peer, in the
 * background.  Failures are logged; the protocols tolerate lost calls. */
static void nlm_callback(const struct sockaddr_storage *peer,
			 socklen_t peer_len, uint32_t proc, xdrproc_t fn,
			 void *args)
{
	struct nlm_callback *cb = calloc(1, sizeof(*cb));
	char host[INET6_ADDRSTRLEN + 8];
	XDR x;

	if (!cb || !(cb->args = malloc(RPC_DEFAULT_REPLY)))
		goto fail;
	xdrmem_create(&x, cb->args, RPC_DEFAULT_REPLY, XDR_ENCODE);
	if (!fn(&x, args))
		goto fail;
	cb->len = xdr_getpos(&x);
	cb->peer = *peer;
	cb->peer_len = peer_len;
	cb->proc = proc;
	if (nlm_thread_start(callback_thread, cb))
		return;
fail:
	log_warn("nlm: cannot send callback %u to %s", proc,
		 log_host((const struct sockaddr *)peer, host, sizeof(host)));
	if (cb)
		callback_free(cb);
}

/* ---- grace after a restart -------------------------------------------
 * Set at start by nlm_start() and nlm_grace_begin() (NFSv4), before the
 * first request. */
static struct timespec grace_end;

bool nlm_in_grace(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < grace_end.tv_sec;
}

/* Either protocol's reclaims make both wait: a new lock of one kind
 * could take the range that a client of the other is about to reclaim. */
void nlm_grace_begin(unsigned seconds)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec + (time_t)seconds > grace_end.tv_sec)
		grace_end.tv_sec = now.tv_sec + (time_t)seconds;
}

/*
 * At start: if hosts held locks before the restart, only their reclaims
 * are granted for the grace period, and they are told (SM_NOTIFY) that
 * they may reclaim now.  Without such hosts there is no grace: nobody can
 * reclaim, so nobody needs to wait.
 */
void nlm_start(struct server *srv)
{
	unsigned n = nsm_load(srv), grace = srv->cfg->grace;

	if (n == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &grace_end);
	grace_end.tv_sec += grace;
	log_notice("nlm: %u client(s) held locks before the restart: "
		   "%u s of grace for reclaims", n, grace);
	nsm_notify_all();
}

/* ---- objects and owners ---------------------------------------------- */

static nlm4_stats nlm_object(struct rpc_req *req, const nlm4_netobj *wfh,
			     struct lk_object *obj)
{
	struct un_handle fh;
	struct srv_export *ex;
	struct un_cred cred;
	struct un_attr attr;

	if (wfh->nlm4_netobj_len == 0 || wfh->nlm4_netobj_len > UN_HANDLE_MAX)
		return NLM4_STALE_FH;
	fh.len = wfh->nlm4_netobj_len;
	memcpy(fh.data, wfh->nlm4_netobj_val, fh.len);
	ex = server_export_of(req, &fh);
	if (!ex)
		return NLM4_STALE_FH;
	if (server_access(ex, req, false, &cred) == ACCESS_DENIED)
		return NLM4_DENIED;
	if (un_getattr(ex->ux, &fh, &attr) < 0)
		return NLM4_STALE_FH;
	obj->export_id = ex->id;
	obj->fileid = attr.fileid;
	return NLM4_GRANTED;
}

static struct lk_owner nlm_owner(const nlm4_lock *l)
{
	return (struct lk_owner){
		.proto = LK_PROTO_NLM,
		.client = l->caller_name,
		.client_len = strlen(l->caller_name),
		.oh = l->oh.nlm4_netobj_val,
		.oh_len = l->oh.nlm4_netobj_len,
		.pid = (uint32_t)l->svid,
	};
}

static nlm4_stats nlm_stat_of(enum lk_result r)
{
	switch (r) {
	case LK_OK:
		return NLM4_GRANTED;
	case LK_DENIED:
		return NLM4_DENIED;
	case LK_BLOCKED:
		return NLM4_BLOCKED;
	case LK_NOMEM:
	default:
		return NLM4_DENIED_NOLOCKS;
	}
}

/* ---- TEST ------------------------------------------------------------- */

static void nlm_do_test(struct rpc_req *req, nlm4_testargs *a,
			nlm4_testres *res, struct lk_conflict *c)
{
	struct lk_owner o = nlm_owner(&a->alock);
	struct lk_object obj;
	nlm4_stats st;

	res->cookie = a->cookie;
	st = nlm_object(req, &a->alock.fh, &obj);
	if (st == NLM4_GRANTED && nlm_in_grace())
		st = NLM4_DENIED_GRACE_PERIOD;
	if (st == NLM4_GRANTED)
		st = nlm_stat_of(lk_test(&obj, &o, a->exclusive ? LK_WRITE :
								  LK_READ,
					 a->alock.l_offset, a->alock.l_len,
					 c));
	res->stat.stat = st;
	if (st == NLM4_DENIED) {
		nlm4_holder *h = &res->stat.nlm4_testrply_u.holder;

		h->exclusive = c->type == LK_WRITE;
		h->svid = (int)c->pid;
		h->oh.nlm4_netobj_len = (u_int)c->oh_len;
		h->oh.nlm4_netobj_val = (char *)c->oh;
		h->l_offset = c->offset;
		h->l_len = c->len;
	}
}

static enum rpc_status nlmproc4_test(struct rpc_req *req)
{
	nlm4_testargs a = { 0 };
	nlm4_testres res = { 0 };
	struct lk_conflict c;
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_nlm4_testargs(&req->args, &a)) {
		nlm_do_test(req, &a, &res, &c);
		st = xdr_nlm4_testres(&req->res, &res) ? RPC_DONE
						       : RPC_SYSTEM_ERR;
	}
	xdr_free((xdrproc_t)xdr_nlm4_testargs, (char *)&a);
	return st;
}

/* ---- LOCK ------------------------------------------------------------- */

/* What a queued lock needs to tell the client it got it. */
struct nlm_grant {
	struct sockaddr_storage peer;
	socklen_t peer_len;
	nlm4_testargs args; /* deep copy, for NLM4_GRANTED */
};

static void nlm_grant_free(struct nlm_grant *g)
{
	xdr_free((xdrproc_t)xdr_nlm4_testargs, (char *)&g->args);
	free(g);
}

static void nlm_granted(void *arg, bool granted)
{
	struct nlm_grant *g = arg;

	if (granted)
		nlm_callback(&g->peer, g->peer_len, NLMPROC4_GRANTED,
			     (xdrproc_t)xdr_nlm4_testargs, &g->args);
	nlm_grant_free(g);
}

/* A deep copy of the lock, by encoding and decoding it. */
static struct nlm_grant *nlm_grant_new(const struct rpc_req *req,
				       const nlm4_lockargs *a)
{
	struct nlm_grant *g = calloc(1, sizeof(*g));
	nlm4_testargs t = { a->cookie, a->exclusive, a->alock };
	char *buf = malloc(RPC_DEFAULT_REPLY);
	XDR x;
	bool ok = false;

	if (g && buf) {
		xdrmem_create(&x, buf, RPC_DEFAULT_REPLY, XDR_ENCODE);
		if (xdr_nlm4_testargs(&x, &t)) {
			xdrmem_create(&x, buf, RPC_DEFAULT_REPLY, XDR_DECODE);
			ok = xdr_nlm4_testargs(&x, &g->args);
		}
	}
	free(buf);
	if (!ok) {
		if (g)
			nlm_grant_free(g);
		return NULL;
	}
	g->peer = req->peer;
	g->peer_len = req->peer_len;
	return g;
}

static nlm4_stats nlm_do_lock(struct rpc_req *req, nlm4_lockargs *a,
			      bool may_block)
{
	struct lk_owner o = nlm_owner(&a->alock);
	enum lk_type type = a->exclusive ? LK_WRITE : LK_READ;
	struct nlm_grant *g = NULL;
	struct lk_object obj;
	enum lk_result r;
	nlm4_stats st;

	st = nlm_object(req, &a->alock.fh, &obj);
	if (st != NLM4_GRANTED)
		return st;
	if (nlm_in_grace() && !a->reclaim)
		return NLM4_DENIED_GRACE_PERIOD;
	if (may_block) /* not NM_LOCK: that client runs no statd */
		nsm_monitor(req, a->alock.caller_name);
	if (may_block && a->block && !(g = nlm_grant_new(req, a)))
		return NLM4_DENIED_NOLOCKS;
	r = lk_lock(&obj, &o, type, a->alock.l_offset, a->alock.l_len, NULL,
		    g ? nlm_granted : NULL, g);
	if (r != LK_BLOCKED && g) /* not queued: still ours */
		nlm_grant_free(g);
	log_debug("nlm: LOCK %s svid %d %s [%llu +%llu]%s%s: %d",
		  a->alock.caller_name, a->alock.svid,
		  a->exclusive ? "write" : "read",
		  (unsigned long long)a->alock.l_offset,
		  (unsigned long long)a->alock.l_len, a->block ? " block" : "",
		  a->reclaim ? " reclaim" : "", nlm_stat_of(r));
	return nlm_stat_of(r);
}

/* ---- CANCEL and UNLOCK ------------------------------------------------ */

static nlm4_stats nlm_do_cancel(struct rpc_req *req, nlm4_cancargs *a)
{
	struct lk_owner o = nlm_owner(&a->alock);
	struct lk_object obj;
	nlm4_stats st = nlm_object(req, &a->alock.fh, &obj);

	if (st != NLM4_GRANTED)
		return st;
	/* Not queued (any more): it was granted or never blocked; the
	 * client unlocks if it was granted behind its back. */
	return lk_cancel(&obj, &o, a->exclusive ? LK_WRITE : LK_READ,
			 a->alock.l_offset, a->alock.l_len)
		       ? NLM4_GRANTED
		       : NLM4_DENIED;
}

static nlm4_stats nlm_do_unlock(struct rpc_req *req, nlm4_unlockargs *a)
{
	struct lk_owner o = nlm_owner(&a->alock);
	struct lk_object obj;
	nlm4_stats st = nlm_object(req, &a->alock.fh, &obj);

	if (st != NLM4_GRANTED)
		return st;
	lk_unlock(&obj, &o, a->alock.l_offset, a->alock.l_len);
	return NLM4_GRANTED;
}

/* ---- the _MSG forms: no reply; the result goes back as _RES ----------- */

static enum rpc_status nlmproc4_test_msg(struct rpc_req *req)
{
	nlm4_testargs a = { 0 };
	nlm4_testres res = { 0 };
	struct lk_conflict c;
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_nlm4_testargs(&req->args, &a)) {
		nlm_do_test(req, &a, &res, &c);
		nlm_callback(&req->peer, req->peer_len, NLMPROC4_TEST_RES,
			     (xdrproc_t)xdr_nlm4_testres, &res);
		st = RPC_DROP;
	}
	xdr_free((xdrproc_t)xdr_nlm4_testargs, (char *)&a);
	return st;
}

/* ---- the calls answered with an nlm4_res -------------------------------
 * LOCK, NM_LOCK, CANCEL, UNLOCK and GRANTED reply with an nlm4_res; their
 * _MSG twins send the same result back as a _RES call instead.  One
 * routine decodes, runs and answers them all; each op gives its result
 * and the call's cookie.
 */
union nlm_args {
	nlm4_testargs test;
	nlm4_lockargs lock;
	nlm4_cancargs cancel;
	nlm4_unlockargs unlock;
};

typedef nlm4_stats nlm_res_op(struct rpc_req *req, union nlm_args *a,
			      nlm4_netobj *cookie);

/* res_proc 0: reply; otherwise the _RES procedure to call the client. */
static enum rpc_status nlm_res_call(struct rpc_req *req, xdrproc_t decode,
				    nlm_res_op *op, uint32_t res_proc)
{
	union nlm_args a;
	nlm4_res res = { 0 };
	enum rpc_status st = RPC_GARBAGE;

	memset(&a, 0, sizeof(a));
	if (decode(&req->args, &a)) {
		res.stat.stat = op(req, &a, &res.cookie);
		if (res_proc == 0) {
			st = xdr_nlm4_res(&req->res, &res) ? RPC_DONE
							   : RPC_SYSTEM_ERR;
		} else {
			nlm_callback(&req->peer, req->peer_len, res_proc,
				     (xdrproc_t)xdr_nlm4_res, &res);
			st = RPC_DROP;
		}
	}
	xdr_free(decode, (char *)&a);
	return st;
}

static nlm4_stats op_lock(struct rpc_req *req, union nlm_args *a,
			  nlm4_netobj *cookie)
{
	*cookie = a->lock.cookie;
	return nlm_do_lock(req, &a->lock, true);
}

/* Non-monitored: the client runs no statd (DOS, some embedded). */
static nlm4_stats op_nm_lock(struct rpc_req *req, union nlm_args *a,
			     nlm4_netobj *cookie)
{
	*cookie = a->lock.cookie;
	return nlm_do_lock(req, &a->lock, false);
}

static nlm4_stats op_cancel(struct rpc_req *req, union nlm_args *a,
			    nlm4_netobj *cookie)
{
	*cookie = a->cancel.cookie;
	return nlm_do_cancel(req, &a->cancel);
}

static nlm4_stats op_unlock(struct rpc_req *req, union nlm_args *a,
			    nlm4_netobj *cookie)
{
	*cookie = a->unlock.cookie;
	return nlm_do_unlock(req, &a->unlock);
}

/* GRANTED is a server-to-client call; we hold no client locks. */
static nlm4_stats op_granted(struct rpc_req *req, union nlm_args *a,
			     nlm4_netobj *cookie)
{
	(void)req;
	*cookie = a->test.cookie;
	return NLM4_DENIED; /* we never asked */
}

static enum rpc_status nlmproc4_lock(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_lockargs, op_lock, 0);
}

static enum rpc_status nlmproc4_nm_lock(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_lockargs, op_nm_lock, 0);
}

static enum rpc_status nlmproc4_cancel(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_cancargs, op_cancel, 0);
}

static enum rpc_status nlmproc4_unlock(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_unlockargs, op_unlock, 0);
}

static enum rpc_status nlmproc4_granted(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_testargs, op_granted, 0);
}

static enum rpc_status nlmproc4_lock_msg(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_lockargs, op_lock,
			    NLMPROC4_LOCK_RES);
}

static enum rpc_status nlmproc4_cancel_msg(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_cancargs, op_cancel,
			    NLMPROC4_CANCEL_RES);
}

static enum rpc_status nlmproc4_unlock_msg(struct rpc_req *req)
{
	return nlm_res_call(req, (xdrproc_t)xdr_nlm4_unlockargs, op_unlock,
			    NLMPROC4_UNLOCK_RES);
}

/* GRANTED_MSG and the _RES calls answer calls we make; GRANTED_RES is the
 * only one we could get (for a GRANTED_MSG we never send).  Accept and
 * ignore them, without a reply, as the protocol says. */
static enum rpc_status nlmproc4_ignore(struct rpc_req *req)
{
	(void)req;
	return RPC_DROP;
}

/* ---- SHARE / UNSHARE (DOS-style share reservations) ------------------- */

struct nlm_share {
	struct nlm_share *next;
	struct lk_object obj;
	char *caller;
	nlm4_netobj oh;
	uint32_t mode, access;
};

static pthread_mutex_t shares_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nlm_share *shares;

static bool share_same_owner(const struct nlm_share *s, const nlm4_share *w)
{
	return strcmp(s->caller, w->caller_name) == 0 &&
	       s->oh.nlm4_netobj_len == w->oh.nlm4_netobj_len &&
	       (w->oh.nlm4_netobj_len == 0 || /* may have no buffer */
		memcmp(s->oh.nlm4_netobj_val, w->oh.nlm4_netobj_val,
		       w->oh.nlm4_netobj_len) == 0);
}

static void share_free(struct nlm_share *s)
{
	free(s->caller);
	free(s->oh.nlm4_netobj_val);
	free(s);
}

/* Remove w's owner's reservations on obj (UNSHARE, or before a new one). */
static void share_remove(const struct lk_object *obj, const nlm4_share *w)
{
	struct nlm_share **pp = &shares, *s;

	while ((s = *pp) != NULL) {
		if (s->obj.export_id == obj->export_id &&
		    s->obj.fileid == obj->fileid && share_same_owner(s, w)) {
			*pp = s->next;
			share_free(s);
		} else {
			pp = &s->next;
		}
	}
}

static nlm4_stats share_add(const struct lk_object *obj, const nlm4_share *w)
{
	struct nlm_share *s;

	for (s = shares; s; s = s->next)
		if (s->obj.export_id == obj->export_id &&
		    s->obj.fileid == obj->fileid && !share_same_owner(s, w) &&
		    ((s->mode & w->access) || (s->access & w->mode)))
			return NLM4_DENIED;
	share_remove(obj, w);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NLM4_DENIED_NOLOCKS;
	s->caller = strdup(w->caller_name);
	s->oh.nlm4_netobj_val = malloc(w->oh.nlm4_netobj_len + 1);
	if (!s->caller || !s->oh.nlm4_netobj_val) {
		share_free(s);
		return NLM4_DENIED_NOLOCKS;
	}
	if (w->oh.nlm4_netobj_len) /* an empty one may have no buffer */
		memcpy(s->oh.nlm4_netobj_val, w->oh.nlm4_netobj_val,
		       w->oh.nlm4_netobj_len);
	s->oh.nlm4_netobj_len = w->oh.nlm4_netobj_len;
	s->obj = *obj;
	s->mode = w->mode;
	s->access = w->access;
	s->next = shares;
	shares = s;
	return NLM4_GRANTED;
}

static void shares_release_client(const char *caller)
{
	struct nlm_share **pp = &shares, *s;

	pthread_mutex_lock(&shares_lock);
	while ((s = *pp) != NULL) {
		if (strcmp(s->caller, caller) == 0) {
			*pp = s->next;
			share_free(s);
		} else {
			pp = &s->next;
		}
	}
	pthread_mutex_unlock(&shares_lock);
}

static enum rpc_status nlm_share_common(struct rpc_req *req, bool share)
{
	nlm4_shareargs a = { 0 };
	nlm4_shareres res = { 0 };
	struct lk_object obj;
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_nlm4_shareargs(&req->args, &a)) {
		res.cookie = a.cookie;
		res.stat = nlm_object(req, &a.share.fh, &obj);
		if (res.stat == NLM4_GRANTED) {
			pthread_mutex_lock(&shares_lock);
			if (share)
				res.stat = share_add(&obj, &a.share);
			else
				share_remove(&obj, &a.share);
			pthread_mutex_unlock(&shares_lock);
		}
		st = xdr_nlm4_shareres(&req->res, &res) ? RPC_DONE
							: RPC_SYSTEM_ERR;
	}
	xdr_free((xdrproc_t)xdr_nlm4_shareargs, (char *)&a);
	return st;
}

static enum rpc_status nlmproc4_share(struct rpc_req *req)
{
	return nlm_share_common(req, true);
}

static enum rpc_status nlmproc4_unshare(struct rpc_req *req)
{
	return nlm_share_common(req, false);
}

/* ---- FREE_ALL: the client rebooted (sent by its statd's notify) ------- */

void nlm_free_client(const char *caller_name)
{
	lk_release_client(LK_PROTO_NLM, caller_name, strlen(caller_name));
	shares_release_client(caller_name);
}

static enum rpc_status nlmproc4_free_all(struct rpc_req *req)
{
	nlm4_notify a = { 0 };
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_nlm4_notify(&req->args, &a)) {
		char host[INET6_ADDRSTRLEN + 8];

		log_info("nlm: FREE_ALL for %s from %s", a.name,
			 log_host((struct sockaddr *)&req->peer, host,
				  sizeof(host)));
		nlm_free_client(a.name);
		st = RPC_DONE; /* void result */
	}
	xdr_free((xdrproc_t)xdr_nlm4_notify, (char *)&a);
	return st;
}

static enum rpc_status nlmproc4_null(struct rpc_req *req)
{
	(void)req;
	return RPC_DONE;
}

/* ---- the program ------------------------------------------------------ */

/* Lock calls change state: the duplicate request cache answers a
 * retransmitted LOCK/UNLOCK instead of running it again. */
static const struct rpc_proc nlm4_procs[] = {
	[NLMPROC4_NULL] = { "NULL", nlmproc4_null, NULL, true },
	[NLMPROC4_TEST] = { "TEST", nlmproc4_test, NULL, true },
	[NLMPROC4_LOCK] = { "LOCK", nlmproc4_lock, NULL, false },
	[NLMPROC4_CANCEL] = { "CANCEL", nlmproc4_cancel, NULL, false },
	[NLMPROC4_UNLOCK] = { "UNLOCK", nlmproc4_unlock, NULL, false },
	[NLMPROC4_GRANTED] = { "GRANTED", nlmproc4_granted, NULL, true },
	[NLMPROC4_TEST_MSG] = { "TEST_MSG", nlmproc4_test_msg, NULL, true },
	[NLMPROC4_LOCK_MSG] = { "LOCK_MSG", nlmproc4_lock_msg, NULL, true },
	[NLMPROC4_CANCEL_MSG] = { "CANCEL_MSG", nlmproc4_cancel_msg, NULL, true },
	[NLMPROC4_UNLOCK_MSG] = { "UNLOCK_MSG", nlmproc4_unlock_msg, NULL, true },
	[NLMPROC4_GRANTED_MSG] = { "GRANTED_MSG", nlmproc4_ignore, NULL, true },
	[NLMPROC4_TEST_RES] = { "TEST_RES", nlmproc4_ignore, NULL, true },
	[NLMPROC4_LOCK_RES] = { "LOCK_RES", nlmproc4_ignore, NULL, true },
	[NLMPROC4_CANCEL_RES] = { "CANCEL_RES", nlmproc4_ignore, NULL, true },
	[NLMPROC4_UNLOCK_RES] = { "UNLOCK_RES", nlmproc4_ignore, NULL, true },
	[NLMPROC4_GRANTED_RES] = { "GRANTED_RES", nlmproc4_ignore, NULL, true },
	[NLMPROC4_SHARE] = { "SHARE", nlmproc4_share, NULL, false },
	[NLMPROC4_UNSHARE] = { "UNSHARE", nlmproc4_unshare, NULL, false },
	[NLMPROC4_NM_LOCK] = { "NM_LOCK", nlmproc4_nm_lock, NULL, false },
	[NLMPROC4_FREE_ALL] = { "FREE_ALL", nlmproc4_free_all, NULL, true },
};

static const struct rpc_version nlm_versions[] = {
	{ NLM4_VERS, nlm4_procs, sizeof(nlm4_procs) / sizeof(nlm4_procs[0]) },
};

const struct rpc_program nlm4_program = {
	.name = "nlockmgr",
	.prog = NLM_PROG,
	.versions = nlm_versions,
	.nversions = 1,
};

void nlm_shutdown(void)
{
	struct nlm_share *s;

	threads_stop();
	lk_clear();
	nsm_clear();
	pthread_mutex_lock(&shares_lock);
	while ((s = shares) != NULL) {
		shares = s->next;
		share_free(s);
	}
	pthread_mutex_unlock(&shares_lock);
}
