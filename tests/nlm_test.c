/*
 * nlm_test.c - the Network Lock Manager v4 against a real daemon, through
 * libtirpc and the daemon's own rpcgen definitions: lock/test/unlock,
 * conflicts between hosts and owners, range splitting, blocked locks that
 * are granted when the holder unlocks, CANCEL, FREE_ALL, share
 * reservations, a lock that holds across copy-up, one lock space with
 * NFSv4; with other hosts faked
 * in a private network namespace: GRANTED callbacks, a client's reboot
 * notice (SM_NOTIFY) freeing its locks, and after a restart the grace
 * period, reclaims and SM_NOTIFY to the clients recorded in the catalog.
 */
#define _GNU_SOURCE /* unshare */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <rpc/rpc.h>
#include <rpc/pmap_prot.h>

#include "daemon.h"
#include "mount3_prot.h"
#include "nfs3_prot.h"
#include "nlm4_prot.h"
#include "sm_inter.h"
#include "tap.h"

static struct tdaemon d;

static bool_t xdr_nothing(XDR *x, void *p)
{
	(void)x;
	(void)p;
	return TRUE;
}
static struct timeval tmo = { 10, 0 };
static CLIENT *nlm, *nfs;

static CLIENT *client(unsigned long prog, unsigned long vers)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)d.port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int sock = RPC_ANYSOCK;
	CLIENT *c = clnttcp_create(&sin, prog, vers, &sock, 0, 0);

	if (c)
		c->cl_auth = authunix_create("test", 0, 0, 0, NULL);
	return c;
}

/* ---- handles ---------------------------------------------------------- */

struct fh {
	u_int len;
	char data[64];
};

static int mnt_root(struct fh *root)
{
	CLIENT *m = client(MOUNT_PROGRAM, MOUNT_V3);
	char *path = "/export";
	mountres3 res = { 0 };
	int rc = -1;

	if (!m)
		return -1;
	if (clnt_call(m, MOUNTPROC3_MNT, (xdrproc_t)xdr_dirpath,
		      (char *)&path, (xdrproc_t)xdr_mountres3, (char *)&res,
		      tmo) == RPC_SUCCESS &&
	    res.fhs_status == MNT3_OK) {
		fhandle3 *f = &res.mountres3_u.mountinfo.fhandle;

		root->len = f->fhandle3_len;
		memcpy(root->data, f->fhandle3_val, f->fhandle3_len);
		rc = 0;
	}
	clnt_freeres(m, (xdrproc_t)xdr_mountres3, (char *)&res);
	tclient_free(m);
	return rc;
}

static int lookup(const struct fh *dir, const char *name, struct fh *out)
{
	LOOKUP3args a = { 0 };
	LOOKUP3res res = { 0 };
	int rc = -1;

	a.what.dir.data.data_len = dir->len;
	a.what.dir.data.data_val = (char *)dir->data;
	a.what.name = (char *)name;
	if (clnt_call(nfs, NFSPROC3_LOOKUP, (xdrproc_t)xdr_LOOKUP3args,
		      (char *)&a, (xdrproc_t)xdr_LOOKUP3res, (char *)&res,
		      tmo) == RPC_SUCCESS &&
	    res.status == NFS3_OK) {
		nfs_fh3 *f = &res.LOOKUP3res_u.resok.object;

		out->len = f->data.data_len;
		memcpy(out->data, f->data.data_val, out->len);
		rc = 0;
	}
	clnt_freeres(nfs, (xdrproc_t)xdr_LOOKUP3res, (char *)&res);
	return rc;
}

/* SETATTR mode: enough to copy a lower file up. */
static int chmod_fh(const struct fh *f, unsigned mode)
{
	SETATTR3args a = { 0 };
	SETATTR3res res = { 0 };
	int rc = -1;

	a.object.data.data_len = f->len;
	a.object.data.data_val = (char *)f->data;
	a.new_attributes.mode.set_it = TRUE;
	a.new_attributes.mode.set_mode3_u.mode = mode;
	if (clnt_call(nfs, NFSPROC3_SETATTR, (xdrproc_t)xdr_SETATTR3args,
		      (char *)&a, (xdrproc_t)xdr_SETATTR3res, (char *)&res,
		      tmo) == RPC_SUCCESS &&
	    res.status == NFS3_OK)
		rc = 0;
	clnt_freeres(nfs, (xdrproc_t)xdr_SETATTR3res, (char *)&res);
	return rc;
}

/* ---- NLM calls -------------------------------------------------------- */

/* One lock owner: a host name and a process on it. */
struct owner {
	const char *host;
	int svid;
};

static const struct owner A = { "host-a", 101 }, B = { "host-b", 202 },
			  C = { "host-c", 303 };
static char cookie[] = "cookie";

static nlm4_lock mklock(const struct owner *o, const struct fh *f,
			uint64_t off, uint64_t len)
{
	static char oh[2][32];
	static int next;
	char *h = oh[next++ % 2];
	nlm4_lock l = { 0 };

	snprintf(h, sizeof(oh[0]), "%d@%s", o->svid, o->host);
	l.caller_name = (char *)o->host;
	l.fh.nlm4_netobj_len = f->len;
	l.fh.nlm4_netobj_val = (char *)f->data;
	l.oh.nlm4_netobj_len = (u_int)strlen(h);
	l.oh.nlm4_netobj_val = h;
	l.svid = o->svid;
	l.l_offset = off;
	l.l_len = len;
	return l;
}

static int call_res(uint32_t proc, xdrproc_t args_fn, void *args)
{
	nlm4_res res = { 0 };
	int st = -1;

	if (clnt_call(nlm, proc, args_fn, args, (xdrproc_t)xdr_nlm4_res,
		      (char *)&res, tmo) == RPC_SUCCESS)
		st = res.stat.stat;
	clnt_freeres(nlm, (xdrproc_t)xdr_nlm4_res, (char *)&res);
	return st;
}

static int lock_args(const struct owner *o, const struct fh *f, bool excl,
		     uint64_t off, uint64_t len, bool block, bool reclaim)
{
	nlm4_lockargs a = { .block = block, .exclusive = excl,
			    .reclaim = reclaim };

	a.cookie.nlm4_netobj_len = sizeof(cookie) - 1;
	a.cookie.nlm4_netobj_val = cookie;
	a.alock = mklock(o, f, off, len);
	return call_res(NLMPROC4_LOCK, (xdrproc_t)xdr_nlm4_lockargs, &a);
}

static int lock(const struct owner *o, const struct fh *f, bool excl,
		uint64_t off, uint64_t len, bool block)
{
	return lock_args(o, f, excl, off, len, block, false);
}

static int unlock(const struct owner *o, const struct fh *f, uint64_t off,
		  uint64_t len)
{
	nlm4_unlockargs a = { .alock = mklock(o, f, off, len) };

	return call_res(NLMPROC4_UNLOCK, (xdrproc_t)xdr_nlm4_unlockargs, &a);
}

static int cancel(const struct owner *o, const struct fh *f, bool excl,
		  uint64_t off, uint64_t len)
{
	nlm4_cancargs a = { .block = TRUE, .exclusive = excl };

	a.alock = mklock(o, f, off, len);
	return call_res(NLMPROC4_CANCEL, (xdrproc_t)xdr_nlm4_cancargs, &a);
}

/* TEST; on DENIED, *h gets the holder (svid, offset, len). */
static int test(const struct owner *o, const struct fh *f, bool excl,
		uint64_t off, uint64_t len, nlm4_holder *h)
{
	nlm4_testargs a = { .exclusive = excl };
	nlm4_testres res = { 0 };
	int st = -1;

	a.alock = mklock(o, f, off, len);
	if (clnt_call(nlm, NLMPROC4_TEST, (xdrproc_t)xdr_nlm4_testargs,
		      (char *)&a, (xdrproc_t)xdr_nlm4_testres, (char *)&res,
		      tmo) == RPC_SUCCESS) {
		st = res.stat.stat;
		if (st == NLM4_DENIED && h) {
			*h = res.stat.nlm4_testrply_u.holder;
			h->oh.nlm4_netobj_val = NULL;
		}
	}
	clnt_freeres(nlm, (xdrproc_t)xdr_nlm4_testres, (char *)&res);
	return st;
}

static int share(uint32_t proc, const struct owner *o, const struct fh *f,
		 nlm4_fsh_mode mode, nlm4_fsh_access access)
{
	nlm4_shareargs a = { 0 };
	nlm4_shareres res = { 0 };
	char oh[] = "share-owner";
	int st = -1;

	a.share.caller_name = (char *)o->host;
	a.share.fh.nlm4_netobj_len = f->len;
	a.share.fh.nlm4_netobj_val = (char *)f->data;
	a.share.oh.nlm4_netobj_len = sizeof(oh) - 1;
	a.share.oh.nlm4_netobj_val = oh;
	a.share.mode = mode;
	a.share.access = access;
	if (clnt_call(nlm, proc, (xdrproc_t)xdr_nlm4_shareargs, (char *)&a,
		      (xdrproc_t)xdr_nlm4_shareres, (char *)&res,
		      tmo) == RPC_SUCCESS)
		st = res.stat;
	clnt_freeres(nlm, (xdrproc_t)xdr_nlm4_shareres, (char *)&res);
	return st;
}

static int free_all(const char *host)
{
	nlm4_notify n = { .name = (char *)host, .state = 3 };

	return clnt_call(nlm, NLMPROC4_FREE_ALL, (xdrproc_t)xdr_nlm4_notify,
			 (char *)&n, (xdrproc_t)xdr_nothing, NULL, tmo) ==
			       RPC_SUCCESS
		       ? 0
		       : -1;
}

/* ---- tests ------------------------------------------------------------ */

static void test_basic(const struct fh *f)
{
	nlm4_holder h;

	CHECK(clnt_call(nlm, NLMPROC4_NULL, (xdrproc_t)xdr_nothing, NULL,
			(xdrproc_t)xdr_nothing, NULL, tmo) == RPC_SUCCESS,
	      "NULL");
	CHECK_EQ(lock(&A, f, true, 0, 10, false), NLM4_GRANTED,
		 "A: write lock [0,10)");
	CHECK_EQ(lock(&A, f, true, 0, 10, false), NLM4_GRANTED,
		 "A again: its own lock does not conflict");
	CHECK_EQ(test(&B, f, true, 5, 1, &h), NLM4_DENIED,
		 "B: TEST [5,6) conflicts");
	CHECK(h.exclusive && h.svid == A.svid && h.l_offset == 0 &&
		      h.l_len == 10,
	      "holder is A's write lock [0,10) (svid %d off %llu len %llu)",
	      h.svid, (unsigned long long)h.l_offset,
	      (unsigned long long)h.l_len);
	CHECK_EQ(lock(&B, f, false, 9, 5, false), NLM4_DENIED,
		 "B: read lock over A's write lock denied");
	CHECK_EQ(test(&B, f, true, 10, 5, NULL), NLM4_GRANTED,
		 "B: [10,15) is free");
	CHECK_EQ(lock(&A, f, false, 100, 10, false), NLM4_GRANTED,
		 "A: read lock [100,110)");
	CHECK_EQ(lock(&B, f, false, 105, 10, false), NLM4_GRANTED,
		 "B: read locks share");
	CHECK_EQ(test(&C, f, true, 108, 1, NULL), NLM4_DENIED,
		 "C: write over two read locks denied");
	CHECK_EQ(unlock(&A, f, 0, 0), NLM4_GRANTED, "A: unlock everything");
	CHECK_EQ(unlock(&B, f, 0, 0), NLM4_GRANTED, "B: unlock everything");
	CHECK_EQ(test(&C, f, true, 0, 0, NULL), NLM4_GRANTED,
		 "C: the whole file is free");
}

static void test_owners(const struct fh *f)
{
	struct owner a2 = { A.host, A.svid + 1 };

	CHECK_EQ(lock(&A, f, true, 0, 1, false), NLM4_GRANTED,
		 "A pid 101 locks [0,1)");
	CHECK_EQ(lock(&a2, f, true, 0, 1, false), NLM4_DENIED,
		 "another process on the same host conflicts");
	CHECK_EQ(unlock(&a2, f, 0, 1), NLM4_GRANTED,
		 "unlock by a non-owner is a no-op");
	CHECK_EQ(test(&B, f, true, 0, 1, NULL), NLM4_DENIED,
		 "... A still holds it");
	CHECK_EQ(unlock(&A, f, 0, 1), NLM4_GRANTED, "A unlocks");
}

static void test_split(const struct fh *f)
{
	nlm4_holder h;

	CHECK_EQ(lock(&A, f, true, 0, 0, false), NLM4_GRANTED,
		 "A: write lock to EOF");
	CHECK_EQ(unlock(&A, f, 10, 10), NLM4_GRANTED,
		 "A: unlock the middle [10,20)");
	CHECK_EQ(test(&B, f, true, 12, 3, NULL), NLM4_GRANTED,
		 "B: the hole is free");
	CHECK_EQ(test(&B, f, true, 5, 1, &h), NLM4_DENIED,
		 "B: the left part is held");
	CHECK(h.l_offset == 0 && h.l_len == 10, "left part is [0,10)");
	CHECK_EQ(test(&B, f, true, 1ull << 40, 1, &h), NLM4_DENIED,
		 "B: far beyond 2^32 is held");
	CHECK(h.l_offset == 20 && h.l_len == 0, "right part is [20,EOF)");
	CHECK_EQ(lock(&A, f, true, 10, 10, false), NLM4_GRANTED,
		 "A: fill the hole");
	CHECK_EQ(test(&B, f, false, 0, 0, &h), NLM4_DENIED, "B: held");
	CHECK(h.l_offset == 0 && h.l_len == 0, "merged back to [0,EOF)");
	CHECK_EQ(lock(&A, f, false, 0, 5, false), NLM4_GRANTED,
		 "A: downgrade [0,5) to read");
	CHECK_EQ(lock(&B, f, false, 0, 5, false), NLM4_GRANTED,
		 "B: may read-lock the downgraded part");
	CHECK_EQ(lock(&B, f, false, 0, 6, false), NLM4_DENIED,
		 "B: but not one byte further");
	CHECK_EQ(free_all(A.host), 0, "FREE_ALL host-a");
	CHECK_EQ(test(&C, f, true, 10, 0, NULL), NLM4_GRANTED,
		 "C: A's locks are gone");
	CHECK_EQ(test(&C, f, true, 0, 1, NULL), NLM4_DENIED,
		 "C: B's read lock stays");
	CHECK_EQ(free_all(B.host), 0, "FREE_ALL host-b");
}

static void test_blocking(const struct fh *f)
{
	nlm4_holder h;

	CHECK_EQ(lock(&A, f, true, 0, 100, false), NLM4_GRANTED,
		 "A: write lock [0,100)");
	CHECK_EQ(lock(&B, f, true, 50, 10, true), NLM4_BLOCKED,
		 "B: blocking lock is queued");
	CHECK_EQ(lock(&B, f, true, 50, 10, true), NLM4_BLOCKED,
		 "B: retransmitted blocking lock: still queued");
	CHECK_EQ(unlock(&A, f, 0, 100), NLM4_GRANTED, "A: unlock");
	CHECK_EQ(test(&C, f, true, 55, 1, &h), NLM4_DENIED,
		 "C: B got the lock when A unlocked");
	CHECK_EQ(h.svid, B.svid, "holder is B");
	CHECK_EQ(lock(&B, f, true, 50, 10, true), NLM4_GRANTED,
		 "B: its retry finds the lock granted");

	CHECK_EQ(lock(&C, f, true, 0, 0, true), NLM4_BLOCKED,
		 "C: blocking lock to EOF queued");
	CHECK_EQ(cancel(&C, f, true, 0, 0), NLM4_GRANTED,
		 "C: CANCEL finds it queued");
	CHECK_EQ(cancel(&C, f, true, 0, 0), NLM4_DENIED,
		 "C: a second CANCEL finds nothing");
	CHECK_EQ(unlock(&B, f, 50, 10), NLM4_GRANTED, "B: unlock");
	CHECK_EQ(test(&A, f, true, 0, 0, NULL), NLM4_GRANTED,
		 "the cancelled request was not granted");
}

static void test_share(const struct fh *f)
{
	CHECK_EQ(share(NLMPROC4_SHARE, &A, f, NLM4_FSM_DW, NLM4_FSA_R),
		 NLM4_GRANTED, "A: SHARE read, deny write");
	CHECK_EQ(share(NLMPROC4_SHARE, &B, f, NLM4_FSM_DN, NLM4_FSA_W),
		 NLM4_DENIED, "B: SHARE write denied");
	CHECK_EQ(share(NLMPROC4_SHARE, &B, f, NLM4_FSM_DN, NLM4_FSA_R),
		 NLM4_GRANTED, "B: SHARE read granted");
	CHECK_EQ(share(NLMPROC4_UNSHARE, &A, f, NLM4_FSM_DW, NLM4_FSA_R),
		 NLM4_GRANTED, "A: UNSHARE");
	CHECK_EQ(share(NLMPROC4_SHARE, &C, f, NLM4_FSM_DN, NLM4_FSA_W),
		 NLM4_GRANTED, "C: SHARE write granted now");
	CHECK_EQ(free_all(B.host), 0, "FREE_ALL host-b");
	CHECK_EQ(free_all(C.host), 0, "FREE_ALL host-c");
}

static void test_copy_up(const struct fh *root)
{
	char path[400];
	struct stat st;
	struct fh f;

	CHECK_EQ(lookup(root, "low", &f), 0, "LOOKUP low (a lower file)");
	snprintf(path, sizeof(path), "%s/low", d.upper);
	CHECK(stat(path, &st) < 0, "not in upper yet");
	CHECK_EQ(lock(&A, &f, true, 0, 0, false), NLM4_GRANTED,
		 "A: lock the lower file");
	CHECK_EQ(chmod_fh(&f, 0600), 0, "SETATTR copies it up");
	CHECK(stat(path, &st) == 0, "now in upper");
	CHECK_EQ(test(&B, &f, false, 0, 1, NULL), NLM4_DENIED,
		 "B: A's lock holds after copy-up");
	CHECK_EQ(unlock(&A, &f, 0, 0), NLM4_GRANTED, "A: unlock");
}

/* ---- one lock space with NFSv4 -----------------------------------------
 * Just enough of an NFSv4.0 client to open a file and lock it.  Its
 * COMPOUNDs are written and read here with XDR primitives: the daemon has
 * no rpcgen'd NFSv4 definitions to share yet.
 */
enum {
	OP4_CLOSE = 4,
	OP4_LOCK = 12,
	OP4_LOCKU = 14,
	OP4_OPEN = 18,
	OP4_OPEN_CONFIRM = 20,
	OP4_PUTFH = 22,
	OP4_SETCLIENTID = 35,
	OP4_SETCLIENTID_CONFIRM = 36,
	NFS4ERR_DENIED = 10010,
	WRITE_LT = 2,
	OPEN4_RESULT_CONFIRM = 2,
};

struct v4call {
	XDR x;
	char buf[1024];
	uint32_t nops;
};

struct v4reply {
	int status;	     /* of the COMPOUND: its last op's */
	uint32_t last_op;
	uint64_t clientid;   /* SETCLIENTID */
	char verifier[8];
	char stateid[16];    /* OPEN, OPEN_CONFIRM, LOCK, LOCKU, CLOSE */
	uint32_t rflags;     /* OPEN */
};

static struct {
	CLIENT *c;
	uint64_t clientid;
	char open_sid[16], lock_sid[16];
	uint32_t open_seqid, lock_seqid;
} v4;

static void v4_begin(struct v4call *k, uint32_t nops)
{
	u_int zero = 0;

	xdrmem_create(&k->x, k->buf, sizeof(k->buf), XDR_ENCODE);
	xdr_u_int(&k->x, &zero); /* tag: empty */
	xdr_u_int(&k->x, &zero); /* minor version 0 */
	xdr_u_int(&k->x, &nops);
}

static void p32(struct v4call *k, uint32_t v)
{
	xdr_u_int(&k->x, &v);
}

static void p64(struct v4call *k, uint64_t v)
{
	u_quad_t q = v;

	xdr_u_hyper(&k->x, &q);
}

static void pfixed(struct v4call *k, const char *p, u_int len)
{
	xdr_opaque(&k->x, (char *)p, len);
}

static void pvar(struct v4call *k, const char *p, u_int len)
{
	char *q = (char *)p;

	xdr_bytes(&k->x, &q, &len, len);
}

static bool_t v4_put(XDR *x, struct v4call *k)
{
	return xdr_opaque(x, k->buf, xdr_getpos(&k->x));
}

static bool_t g32(XDR *x, uint32_t *v)
{
	return xdr_u_int(x, v);
}

static bool_t g64(XDR *x, uint64_t *v)
{
	u_quad_t q;

	if (!xdr_u_hyper(x, &q))
		return FALSE;
	*v = q;
	return TRUE;
}

static bool_t gskip(XDR *x, u_int len)
{
	char tmp[1024];

	return len <= sizeof(tmp) && xdr_opaque(x, tmp, len);
}

static bool_t gvar_skip(XDR *x)
{
	uint32_t len;

	return g32(x, &len) && gskip(x, len);
}

static bool_t v4_op_result(XDR *x, uint32_t op, struct v4reply *r)
{
	uint32_t n, u;
	uint64_t h;

	switch (op) {
	case OP4_SETCLIENTID:
		return g64(x, &r->clientid) && xdr_opaque(x, r->verifier, 8);
	case OP4_OPEN:
		if (!xdr_opaque(x, r->stateid, 16) || !g32(x, &u) ||
		    !g64(x, &h) || !g64(x, &h) || !g32(x, &r->rflags) ||
		    !g32(x, &n) || !gskip(x, 4 * n))
			return FALSE;
		return g32(x, &u) && u == 0; /* no delegation */
	case OP4_OPEN_CONFIRM:
	case OP4_LOCK:
	case OP4_LOCKU:
	case OP4_CLOSE:
		return xdr_opaque(x, r->stateid, 16);
	default:
		return TRUE;
	}
}

static bool_t v4_get(XDR *x, struct v4reply *r)
{
	uint32_t st, n, op, i;

	if (!g32(x, &st) || !gvar_skip(x) || !g32(x, &n))
		return FALSE;
	r->status = (int)st;
	for (i = 0; i < n; i++) {
		if (!g32(x, &op) || !g32(x, &st))
			return FALSE;
		r->last_op = op;
		if (st != 0)
			return TRUE; /* the rest (LOCK4denied) is not needed */
		if (!v4_op_result(x, op, r))
			return FALSE;
	}
	return TRUE;
}

/* Run the COMPOUND; its status (-1 if none came back). */
static int v4_run(struct v4call *k, struct v4reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (clnt_call(v4.c, 1, (xdrproc_t)v4_put, (char *)k,
		      (xdrproc_t)v4_get, (char *)r, tmo) != RPC_SUCCESS)
		return -1;
	return r->status;
}

static int v4_open(const struct fh *dir, const char *name)
{
	struct v4call k;
	struct v4reply r;

	v4_begin(&k, 2);
	p32(&k, OP4_PUTFH);
	pvar(&k, dir->data, dir->len);
	p32(&k, OP4_OPEN);
	p32(&k, v4.open_seqid++);
	p32(&k, 3); /* share access: both */
	p32(&k, 0); /* share deny: none */
	p64(&k, v4.clientid);
	pvar(&k, "open-owner", 10);
	p32(&k, 0); /* OPEN4_NOCREATE */
	p32(&k, 0); /* CLAIM_NULL */
	pvar(&k, name, (u_int)strlen(name));
	if (v4_run(&k, &r) != 0)
		return r.status;
	memcpy(v4.open_sid, r.stateid, 16);
	if (!(r.rflags & OPEN4_RESULT_CONFIRM))
		return 0;
	v4_begin(&k, 1);
	p32(&k, OP4_OPEN_CONFIRM);
	pfixed(&k, v4.open_sid, 16);
	p32(&k, v4.open_seqid++);
	if (v4_run(&k, &r) == 0)
		memcpy(v4.open_sid, r.stateid, 16);
	return r.status;
}

static int v4_setup(const struct fh *dir, const char *name)
{
	struct v4call k;
	struct v4reply r;
	const char id[] = "nlm_test: one lock space";

	v4.c = client(NFS_PROGRAM, 4);
	if (!v4.c)
		return -1;
	v4_begin(&k, 1);
	p32(&k, OP4_SETCLIENTID);
	pfixed(&k, "verifier", 8);
	pvar(&k, id, sizeof(id) - 1);
	p32(&k, 0x40000000); /* callback program: none offered */
	pvar(&k, "tcp", 3);
	pvar(&k, "127.0.0.1.0.0", 13);
	p32(&k, 1);
	if (v4_run(&k, &r) != 0)
		return r.status;
	v4.clientid = r.clientid;
	v4_begin(&k, 1);
	p32(&k, OP4_SETCLIENTID_CONFIRM);
	p64(&k, v4.clientid);
	pfixed(&k, r.verifier, 8);
	if (v4_run(&k, &r) != 0)
		return r.status;
	return v4_open(dir, name);
}

/* A WRITE_LT lock of [off, off+len) for a new lock owner of the open. */
static int v4_lock(const struct fh *f, uint64_t off, uint64_t len)
{
	struct v4call k;
	struct v4reply r;

	v4_begin(&k, 2);
	p32(&k, OP4_PUTFH);
	pvar(&k, f->data, f->len);
	p32(&k, OP4_LOCK);
	p32(&k, WRITE_LT);
	p32(&k, 0); /* not a reclaim */
	p64(&k, off);
	p64(&k, len);
	p32(&k, 1); /* new lock owner */
	p32(&k, v4.open_seqid++);
	pfixed(&k, v4.open_sid, 16);
	v4.lock_seqid = 0;
	p32(&k, v4.lock_seqid++);
	p64(&k, v4.clientid);
	pvar(&k, "lock-owner", 10);
	if (v4_run(&k, &r) == 0)
		memcpy(v4.lock_sid, r.stateid, 16);
	return r.status;
}

static int v4_unlock_close(const struct fh *f, uint64_t off, uint64_t len)
{
	struct v4call k;
	struct v4reply r;

	v4_begin(&k, 3);
	p32(&k, OP4_PUTFH);
	pvar(&k, f->data, f->len);
	p32(&k, OP4_LOCKU);
	p32(&k, WRITE_LT);
	p32(&k, v4.lock_seqid++);
	pfixed(&k, v4.lock_sid, 16);
	p64(&k, off);
	p64(&k, len);
	p32(&k, OP4_CLOSE);
	p32(&k, v4.open_seqid++);
	pfixed(&k, v4.open_sid, 16);
	return v4_run(&k, &r);
}

/*
 * NLM and NFSv4 lock one table: a lock taken over one protocol is seen,
 * and refused, over the other.
 */
static void test_v4_lock_space(const struct fh *root, const struct fh *f)
{
	if (v4_setup(root, "file") != 0) {
		CHECK(0, "NFSv4.0: SETCLIENTID, OPEN file");
		tclient_free(v4.c);
		return;
	}
	CHECK_EQ(lock(&A, f, true, 0, 100, false), NLM4_GRANTED,
		 "NLM: A locks bytes 0-99");
	CHECK_EQ(v4_lock(f, 50, 10), NFS4ERR_DENIED,
		 "NFSv4: LOCK of bytes 50-59 is DENIED by A's NLM lock");
	CHECK_EQ(unlock(&A, f, 0, 100), NLM4_GRANTED, "NLM: A unlocks");
	CHECK_EQ(v4_lock(f, 50, 10), 0, "NFSv4: now LOCK is granted");
	CHECK_EQ(test(&B, f, true, 0, 100, NULL), NLM4_DENIED,
		 "NLM: TEST by B sees the NFSv4 lock");
	CHECK_EQ(lock(&B, f, true, 55, 1, false), NLM4_DENIED,
		 "NLM: B's LOCK of byte 55 is DENIED");
	CHECK_EQ(lock(&B, f, true, 60, 40, false), NLM4_GRANTED,
		 "NLM: B's LOCK of bytes 60-99 does not overlap");
	CHECK_EQ(v4_unlock_close(f, 50, 10), 0, "NFSv4: LOCKU and CLOSE");
	CHECK_EQ(lock(&A, f, true, 0, 60, false), NLM4_GRANTED,
		 "NLM: A gets bytes 0-59 once NFSv4 let go");
	CHECK_EQ(unlock(&A, f, 0, 60), NLM4_GRANTED, "NLM: A unlocks");
	CHECK_EQ(unlock(&B, f, 60, 40), NLM4_GRANTED, "NLM: B unlocks");
	tclient_free(v4.c);
}

static void test_errors(void)
{
	struct fh bad = { 8, "garbage" };

	CHECK_EQ(lock(&A, &bad, true, 0, 0, false), NLM4_STALE_FH,
		 "LOCK on a garbage handle: STALE_FH");
	CHECK_EQ(test(&A, &bad, true, 0, 0, NULL), NLM4_STALE_FH,
		 "TEST on a garbage handle: STALE_FH");
}

/* ---- other hosts: a private network with fake lock managers -----------
 * The daemon calls clients back (NLM GRANTED, SM_NOTIFY) at the address
 * their requests came from, asking the portmapper there for the port.
 * In a private network namespace the test can be those hosts: each fake
 * host is a UDP socket on HOST:111 that answers as its portmapper
 * (naming its own port for NLM and NSM), its lock manager and its statd.
 * 10.1.1.x are not loopback addresses, so the daemon's rule for whom to
 * believe an SM_NOTIFY from is tested for real.
 */
#define FAKE_PORT 111

struct fake {
	const char *ip;
	SVCXPRT *xprt;
	int granted;	/* NLM GRANTED calls received */
	nlm4_testargs grant; /* the last one; its netobjs point below */
	char grant_cookie[64], grant_caller[64];
	int results;	/* NLM _RES calls received (answers to _MSG) */
	uint32_t result_proc;
	int result_stat;
	char result_cookie[64];
	int notified;	/* SM_NOTIFY calls received */
	char notify_name[SM_MAXSTRLEN + 1];
	int notify_state;
};

enum { F_LOCAL, F_X, F_Y, F_OLD, F_COUNT };
static struct fake fakes[F_COUNT] = {
	[F_LOCAL] = { .ip = "127.0.0.1" }, /* hosts A, B, C */
	[F_X] = { .ip = "10.1.1.1" },
	[F_Y] = { .ip = "10.1.1.2" },
	[F_OLD] = { .ip = "10.1.1.3" }, /* named only in an old .nsm file */
};
static bool have_net; /* the private network is up */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static struct fake *fake_of(SVCXPRT *xp)
{
	for (int i = 0; i < F_COUNT; i++)
		if (fakes[i].xprt == xp)
			return &fakes[i];
	return NULL;
}

static void fake_pmap(struct svc_req *rq, SVCXPRT *xp)
{
	struct pmap pm = { 0 };
	u_long port = 0;

	if (rq->rq_proc != PMAPPROC_GETPORT) {
		svcerr_noproc(xp);
		return;
	}
	if (!svc_getargs(xp, (xdrproc_t)xdr_pmap, (char *)&pm)) {
		svcerr_decode(xp);
		return;
	}
	if (pm.pm_prot == IPPROTO_UDP &&
	    ((pm.pm_prog == NLM_PROG && pm.pm_vers == NLM4_VERS) ||
	     (pm.pm_prog == SM_PROG && pm.pm_vers == SM_VERS)))
		port = FAKE_PORT;
	svc_sendreply(xp, (xdrproc_t)xdr_u_long, (char *)&port);
}

/* An answer to one of our _MSG calls: a call itself, never replied to. */
static void fake_result(struct fake *f, struct svc_req *rq, SVCXPRT *xp)
{
	nlm4_res r = { 0 };
	u_int n;

	if (!svc_getargs(xp, (xdrproc_t)xdr_nlm4_res, (char *)&r))
		return;
	n = r.cookie.nlm4_netobj_len;
	if (n >= sizeof(f->result_cookie))
		n = sizeof(f->result_cookie) - 1;
	memcpy(f->result_cookie, r.cookie.nlm4_netobj_val, n);
	f->result_cookie[n] = '\0';
	f->result_proc = (uint32_t)rq->rq_proc;
	f->result_stat = r.stat.stat;
	f->results++;
	svc_freeargs(xp, (xdrproc_t)xdr_nlm4_res, (char *)&r);
}

static void fake_granted(struct fake *f, struct svc_req *rq, SVCXPRT *xp)
{
	nlm4_testargs a = { 0 };
	nlm4_res res = { 0 };
	u_int n;

	if (rq->rq_proc == NLMPROC4_LOCK_RES ||
	    rq->rq_proc == NLMPROC4_UNLOCK_RES) {
		fake_result(f, rq, xp);
		return;
	}
	if (rq->rq_proc != NLMPROC4_GRANTED) {
		svcerr_noproc(xp);
		return;
	}
	if (!svc_getargs(xp, (xdrproc_t)xdr_nlm4_testargs, (char *)&a)) {
		svcerr_decode(xp);
		return;
	}
	f->grant = a;
	n = a.cookie.nlm4_netobj_len;
	if (n > sizeof(f->grant_cookie))
		n = sizeof(f->grant_cookie);
	memcpy(f->grant_cookie, a.cookie.nlm4_netobj_val, n);
	f->grant.cookie.nlm4_netobj_len = n;
	f->grant.cookie.nlm4_netobj_val = f->grant_cookie;
	snprintf(f->grant_caller, sizeof(f->grant_caller), "%s",
		 a.alock.caller_name);
	f->grant.alock.caller_name = f->grant_caller;
	f->grant.alock.fh.nlm4_netobj_val = NULL;
	f->grant.alock.oh.nlm4_netobj_val = NULL;
	f->granted++;
	res.cookie = a.cookie;
	res.stat.stat = NLM4_GRANTED;
	svc_sendreply(xp, (xdrproc_t)xdr_nlm4_res, (char *)&res);
	svc_freeargs(xp, (xdrproc_t)xdr_nlm4_testargs, (char *)&a);
}

static void fake_statd(struct fake *f, struct svc_req *rq, SVCXPRT *xp)
{
	stat_chge a = { 0 };

	if (rq->rq_proc != SM_NOTIFY) {
		svcerr_noproc(xp);
		return;
	}
	if (!svc_getargs(xp, (xdrproc_t)xdr_stat_chge, (char *)&a)) {
		svcerr_decode(xp);
		return;
	}
	snprintf(f->notify_name, sizeof(f->notify_name), "%s", a.mon_name);
	f->notify_state = a.state;
	f->notified++;
	svc_sendreply(xp, (xdrproc_t)xdr_nothing, NULL);
	svc_freeargs(xp, (xdrproc_t)xdr_stat_chge, (char *)&a);
}

static void fake_dispatch(struct svc_req *rq, SVCXPRT *xp)
{
	struct fake *f = fake_of(xp);

	if (!f)
		svcerr_noprog(xp);
	else if (rq->rq_prog == PMAPPROG)
		fake_pmap(rq, xp);
	else if (rq->rq_prog == NLM_PROG)
		fake_granted(f, rq, xp);
	else if (rq->rq_prog == SM_PROG)
		fake_statd(f, rq, xp);
	else
		svcerr_noprog(xp);
}

/* Answer the fake hosts' calls until *counter reaches want (true) or
 * seconds pass (false).  Nothing else waits on them. */
static bool serve_until(const int *counter, int want, int seconds)
{
	long deadline = now_ms() + seconds * 1000L;
	int n;

	while (*counter < want) {
		if (now_ms() > deadline)
			return false;
		n = poll(svc_pollfd, (nfds_t)svc_max_pollfd, 50);
		if (n > 0)
			svc_getreq_poll(svc_pollfd, n);
	}
	return true;
}

/* lo up, with the fake hosts' addresses as aliases. */
static int net_setup(void)
{
	const char *ips[F_COUNT];

	for (int i = 0; i < F_COUNT; i++)
		ips[i] = fakes[i].ip;
	return tnet_aliases(ips, F_COUNT);
}

static int fake_start(struct fake *f)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(FAKE_PORT) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, f->ip, &sin.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    !(f->xprt = svcudp_create(fd)))
		return -1;
	if (!svc_register(f->xprt, PMAPPROG, PMAPVERS, fake_dispatch, 0) ||
	    !svc_register(f->xprt, NLM_PROG, NLM4_VERS, fake_dispatch, 0) ||
	    !svc_register(f->xprt, SM_PROG, SM_VERS, fake_dispatch, 0))
		return -1;
	return 0;
}

/*
 * A network of our own, so that port 111 and the 10.1.1.x addresses are
 * ours (tests run in parallel; one of them owns the host's rpcbind).
 * Needs CAP_SYS_ADMIN; without it the tests that need other hosts skip.
 */
static bool net_start(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		printf("# unshare(CLONE_NEWNET): %s: callback tests skipped\n",
		       strerror(errno));
		return false;
	}
	if (net_setup() < 0) {
		printf("Bail out! cannot set up the private network: %s\n",
		       strerror(errno));
		exit(99);
	}
	for (int i = 0; i < F_COUNT; i++)
		if (fake_start(&fakes[i]) < 0) {
			printf("Bail out! fake host %s: %s\n", fakes[i].ip,
			       strerror(errno));
			exit(99);
		}
	return true;
}

/* An RPC client whose calls come from the address src. */
static CLIENT *client_from(const char *src, unsigned long prog,
			   unsigned long vers)
{
	return tclient_from(&d, src, prog, vers);
}

/* SM_NOTIFY(mon_name, state) from src, as a rebooted host's statd. */
static int sm_notify_from(const char *src, const char *mon_name, int state)
{
	CLIENT *c = client_from(src, SM_PROG, SM_VERS);
	stat_chge a = { (char *)mon_name, state };
	int rc = -1;

	if (c && clnt_call(c, SM_NOTIFY, (xdrproc_t)xdr_stat_chge,
			   (char *)&a, (xdrproc_t)xdr_nothing, NULL,
			   tmo) == RPC_SUCCESS)
		rc = 0;
	tclient_free(c);
	return rc;
}

/* ---- locks of hosts X and Y, each from its own address ---------------- */

static const struct owner X = { "host-x", 11 }, Y = { "host-y", 22 };

/* LOCK through c, with our own cookie. */
static int lock_via(CLIENT *c, const struct owner *o, const struct fh *f,
		    uint64_t off, uint64_t len, bool block, bool reclaim,
		    const char *cookie_text)
{
	nlm4_lockargs a = { .block = block, .exclusive = TRUE,
			    .reclaim = reclaim };
	CLIENT *saved = nlm;
	int st;

	a.cookie.nlm4_netobj_len = (u_int)strlen(cookie_text);
	a.cookie.nlm4_netobj_val = (char *)cookie_text;
	a.alock = mklock(o, f, off, len);
	nlm = c;
	st = call_res(NLMPROC4_LOCK, (xdrproc_t)xdr_nlm4_lockargs, &a);
	nlm = saved;
	return st;
}

static int unlock_via(CLIENT *c, const struct owner *o, const struct fh *f,
		      uint64_t off, uint64_t len)
{
	CLIENT *saved = nlm;
	int st;

	nlm = c;
	st = unlock(o, f, off, len);
	nlm = saved;
	return st;
}

/* Is the exact lock [off, off+len) of o what fake host h was granted? */
static void check_grant(const struct fake *h, const struct owner *o,
			uint64_t off, uint64_t len, const char *cookie_text)
{
	const nlm4_testargs *g = &h->grant;

	CHECK_EQ(g->alock.l_offset, off, "GRANTED: offset");
	CHECK_EQ(g->alock.l_len, len, "GRANTED: length");
	CHECK_EQ(g->alock.svid, o->svid, "GRANTED: svid");
	CHECK(g->exclusive, "GRANTED: exclusive");
	CHECK_STR(g->alock.caller_name, o->host, "GRANTED: caller name");
	CHECK(g->cookie.nlm4_netobj_len == strlen(cookie_text) &&
		      memcmp(g->cookie.nlm4_netobj_val, cookie_text,
			     strlen(cookie_text)) == 0,
	      "GRANTED: the cookie of the blocked LOCK");
}

/*
 * SM_NOTIFY frees a rebooted client's locks, believed only from the
 * client's own address or this host; blocked locks are then granted
 * and the waiter is called back (GRANTED) with its exact lock.
 */
static void test_notify(CLIENT *cx, CLIENT *cy, const struct fh *f)
{
	int granted = fakes[F_Y].granted;

	CHECK_EQ(lock_via(cx, &X, f, 0, 10, false, false, "x1"), NLM4_GRANTED,
		 "X: lock [0,10)");
	CHECK_EQ(lock_via(cy, &Y, f, 0, 10, false, false, "y1"), NLM4_DENIED,
		 "Y: denied while X holds it");
	CHECK_EQ(sm_notify_from(fakes[F_Y].ip, X.host, 5), 0,
		 "SM_NOTIFY for X sent from Y's address");
	CHECK_EQ(lock_via(cy, &Y, f, 0, 10, false, false, "y1"), NLM4_DENIED,
		 "... ignored: X still holds its lock");
	CHECK_EQ(sm_notify_from(fakes[F_X].ip, "nobody", 5), 0,
		 "SM_NOTIFY for an unknown name from X");
	CHECK_EQ(lock_via(cy, &Y, f, 0, 10, false, false, "y1"), NLM4_DENIED,
		 "... changes nothing");
	CHECK_EQ(lock_via(cy, &Y, f, 2, 5, true, false, "y-cookie"),
		 NLM4_BLOCKED, "Y: blocking lock [2,7) queued");
	CHECK_EQ(sm_notify_from(fakes[F_X].ip, X.host, 5), 0,
		 "SM_NOTIFY for X from X: it rebooted");
	CHECK(serve_until(&fakes[F_Y].granted, granted + 1, 30),
	      "Y's lock manager is called back (GRANTED)");
	check_grant(&fakes[F_Y], &Y, 2, 5, "y-cookie");
	CHECK_EQ(test(&C, f, true, 3, 1, NULL), NLM4_DENIED,
		 "Y holds [2,7) now");
	CHECK_EQ(lock_via(cy, &Y, f, 0, 2, false, false, "y2"), NLM4_GRANTED,
		 "X's lock is gone: Y locks [0,2)");
	CHECK_EQ(unlock_via(cy, &Y, f, 0, 0), NLM4_GRANTED, "Y: unlock");

	/* a local statd relaying a reboot is believed */
	CHECK_EQ(lock_via(cx, &X, f, 50, 1, false, false, "x2"), NLM4_GRANTED,
		 "X: lock [50,51)");
	CHECK_EQ(sm_notify_from("127.0.0.1", X.host, 7), 0,
		 "SM_NOTIFY for X from this host");
	CHECK_EQ(test(&C, f, true, 50, 1, NULL), NLM4_GRANTED,
		 "... X's lock is gone");
}

/* An UNLOCK grants the waiting request; its client is called back. */
/* Send a _MSG call: it has no reply, so do not wait for one. */
static void send_msg(CLIENT *c, uint32_t proc, xdrproc_t fn, void *args)
{
	struct timeval none = { 0, 0 };

	(void)clnt_call(c, proc, fn, args, (xdrproc_t)xdr_nothing, NULL,
			none);
}

/* LOCK_MSG and UNLOCK_MSG: the results come back as _RES calls. */
static void test_msg_forms(CLIENT *cx, const struct fh *f)
{
	struct fake *h = &fakes[F_X];
	int results = h->results;
	nlm4_lockargs l = { .exclusive = TRUE };
	nlm4_unlockargs u = { 0 };
	char lc[] = "msg-lock", uc[] = "msg-unlock";

	l.cookie.nlm4_netobj_len = sizeof(lc) - 1;
	l.cookie.nlm4_netobj_val = lc;
	l.alock = mklock(&X, f, 200, 10);
	send_msg(cx, NLMPROC4_LOCK_MSG, (xdrproc_t)xdr_nlm4_lockargs, &l);
	CHECK(serve_until(&h->results, results + 1, 30),
	      "LOCK_MSG: X's lock manager gets LOCK_RES");
	CHECK_EQ(h->result_proc, NLMPROC4_LOCK_RES, "LOCK_RES");
	CHECK_EQ(h->result_stat, NLM4_GRANTED, "LOCK_RES: granted");
	CHECK_STR(h->result_cookie, lc, "LOCK_RES: the call's cookie");
	CHECK_EQ(test(&B, f, true, 205, 1, NULL), NLM4_DENIED,
		 "the lock taken by LOCK_MSG holds");

	u.cookie.nlm4_netobj_len = sizeof(uc) - 1;
	u.cookie.nlm4_netobj_val = uc;
	u.alock = mklock(&X, f, 200, 10);
	send_msg(cx, NLMPROC4_UNLOCK_MSG, (xdrproc_t)xdr_nlm4_unlockargs, &u);
	CHECK(serve_until(&h->results, results + 2, 30),
	      "UNLOCK_MSG: X's lock manager gets UNLOCK_RES");
	CHECK_EQ(h->result_proc, NLMPROC4_UNLOCK_RES, "UNLOCK_RES");
	CHECK_EQ(h->result_stat, NLM4_GRANTED, "UNLOCK_RES: granted");
	CHECK_STR(h->result_cookie, uc, "UNLOCK_RES: the call's cookie");
	CHECK_EQ(test(&B, f, true, 205, 1, NULL), NLM4_GRANTED,
		 "UNLOCK_MSG released it");
}

static void test_granted_callback(CLIENT *cx, CLIENT *cy, const struct fh *f)
{
	int granted = fakes[F_Y].granted;

	CHECK_EQ(lock_via(cx, &X, f, 100, 20, false, false, "x3"),
		 NLM4_GRANTED, "X: lock [100,120)");
	CHECK_EQ(lock_via(cy, &Y, f, 110, 30, true, false, "cb-cookie"),
		 NLM4_BLOCKED, "Y: blocking lock [110,140) queued");
	CHECK_EQ(fakes[F_Y].granted, granted, "no GRANTED yet");
	CHECK_EQ(unlock_via(cx, &X, f, 100, 20), NLM4_GRANTED, "X: unlock");
	CHECK(serve_until(&fakes[F_Y].granted, granted + 1, 30),
	      "Y's lock manager is called back (GRANTED)");
	check_grant(&fakes[F_Y], &Y, 110, 30, "cb-cookie");
	CHECK_EQ(unlock_via(cy, &Y, f, 0, 0), NLM4_GRANTED, "Y: unlock");
}

/* TEST until the grace period is over (a generous bound, not a wait). */
static bool grace_over(const struct fh *f)
{
	long deadline = now_ms() + 60000;

	while (now_ms() < deadline) {
		if (test(&C, f, true, 1000, 1, NULL) !=
		    NLM4_DENIED_GRACE_PERIOD)
			return true;
		poll(NULL, 0, 100);
	}
	return false;
}

static bool restart(const char *grace)
{
	tclient_free(nlm);
	nlm = NULL;
	CHECK_EQ(tdaemon_stop(&d), 0, "SIGTERM: exit status 0");
	d.grace = grace;
	if (tdaemon_start(&d) < 0 || !(nlm = client(NLM_PROG, NLM4_VERS))) {
		CHECK(0, "restart");
		return false;
	}
	return true;
}

/*
 * Restart with locks held: the clients are recorded in the catalog, so
 * a grace period starts in which only reclaims are granted, and each
 * client's statd, at the address it locked from, is told our new state.
 */
static void test_restart(const struct fh *f)
{
	char host[256] = "", old[400];
	CLIENT *cx;
	int notified = fakes[F_X].notified, state;

	gethostname(host, sizeof(host) - 1);
	cx = have_net ? client_from(fakes[F_X].ip, NLM_PROG, NLM4_VERS) : nlm;
	CHECK_EQ(lock_via(cx, &X, f, 0, 10, false, false, "x4"), NLM4_GRANTED,
		 "X: lock before the restart");
	if (have_net)
		tclient_free(cx);
	if (!restart("10"))
		return;
	CHECK_EQ(lock(&B, f, true, 0, 10, false), NLM4_DENIED_GRACE_PERIOD,
		 "B: new lock in the grace period");
	CHECK_EQ(test(&B, f, true, 0, 10, NULL), NLM4_DENIED_GRACE_PERIOD,
		 "B: TEST in the grace period");
	cx = have_net ? client_from(fakes[F_X].ip, NLM_PROG, NLM4_VERS) : nlm;
	if (have_net) {
		CHECK(serve_until(&fakes[F_X].notified, notified + 1, 30),
		      "X's statd gets SM_NOTIFY at its recorded address");
		CHECK_STR(fakes[F_X].notify_name, host,
			  "SM_NOTIFY names the server's host");
		CHECK(fakes[F_X].notify_state % 2 == 1,
		      "SM_NOTIFY carries a new odd state (%d)",
		      fakes[F_X].notify_state);
	}
	CHECK_EQ(lock_via(cx, &X, f, 0, 10, false, true, "x5"), NLM4_GRANTED,
		 "X: reclaim granted");
	CHECK(grace_over(f), "the grace period ends");
	CHECK_EQ(lock(&B, f, true, 0, 10, false), NLM4_DENIED,
		 "after the grace: the reclaimed lock holds");
	CHECK_EQ(lock(&B, f, true, 10, 10, false), NLM4_GRANTED,
		 "after the grace: new locks granted");
	if (!have_net)
		return;
	tclient_free(cx);

	/* X reclaimed, so it is listed again; an old-style list file is
	 * imported once.  The state number only grows. */
	state = fakes[F_X].notify_state;
	notified = fakes[F_X].notified;
	CHECK_EQ(tfile_write(d.dir, "catalog.db.nsm",
			     "state 1001\nclient host-old 10.1.1.3\n"),
		 0, "an old monitor list file (catalog.db.nsm)");
	if (!restart("1"))
		return;
	CHECK(serve_until(&fakes[F_X].notified, notified + 1, 30),
	      "after another restart X is notified again");
	CHECK(serve_until(&fakes[F_OLD].notified, 1, 30),
	      "the host of the old file is notified");
	CHECK_EQ(fakes[F_OLD].notify_state, 1003,
		 "state: the next odd number after the old file's");
	CHECK(fakes[F_X].notify_state > state, "X sees a newer state");
	snprintf(old, sizeof(old), "%s.nsm", d.catalog);
	CHECK(access(old, F_OK) < 0 && errno == ENOENT,
	      "the old file is gone once imported");
}

int main(void)
{
	struct fh root, f;
	CLIENT *cx, *cy;

	setvbuf(stdout, NULL, _IOLBF, 0);
	have_net = net_start();
	if (tdaemon_init(&d, "nlm") < 0 ||
	    tfile_write(d.lower, "file", "data") < 0 ||
	    tfile_write(d.lower, "low", "lower data") < 0) {
		printf("Bail out! cannot set up\n");
		return 99;
	}
	snprintf(d.clients, sizeof(d.clients),
		 "127.0.0.0/8(rw,no_root_squash) 10.1.1.0/24(rw,no_root_squash)");
	if (tdaemon_start(&d) < 0) {
		printf("Bail out! cannot start unionnfsd\n");
		tdaemon_cleanup(&d);
		return 99;
	}
	nlm = client(NLM_PROG, NLM4_VERS);
	nfs = client(NFS_PROGRAM, NFS_V3);
	if (!nlm || !nfs || mnt_root(&root) < 0 ||
	    lookup(&root, "file", &f) < 0) {
		printf("Bail out! cannot reach the daemon\n");
		tdaemon_kill(&d);
		tdaemon_cleanup(&d);
		return 99;
	}
	test_basic(&f);
	test_owners(&f);
	test_split(&f);
	test_blocking(&f);
	test_share(&f);
	test_copy_up(&root);
	test_v4_lock_space(&root, &f);
	test_errors();
	if (have_net) {
		cx = client_from(fakes[F_X].ip, NLM_PROG, NLM4_VERS);
		cy = client_from(fakes[F_Y].ip, NLM_PROG, NLM4_VERS);
		if (cx && cy) {
			test_notify(cx, cy, &f);
			test_granted_callback(cx, cy, &f);
			test_msg_forms(cx, &f);
		} else {
			CHECK(0, "clients from 10.1.1.1 and 10.1.1.2");
		}
		tclient_free(cx);
		tclient_free(cy);
	}
	test_restart(&f);
	tclient_free(nlm);
	tclient_free(nfs);
	CHECK_EQ(tdaemon_stop(&d), 0, "SIGTERM: exit status 0");
	tdaemon_cleanup(&d);
	return tap_done();
}
