/*
 * nlm_test.c - the Network Lock Manager v4 against a real daemon, through
 * libtirpc and the daemon's own rpcgen definitions: lock/test/unlock,
 * conflicts between hosts and owners, range splitting, blocked locks that
 * are granted when the holder unlocks, CANCEL, FREE_ALL, share
 * reservations, a lock that holds across copy-up, and the grace period
 * after a restart in which only reclaims are granted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <rpc/rpc.h>

#include "daemon.h"
#include "mount3_prot.h"
#include "nfs3_prot.h"
#include "nlm4_prot.h"
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
	auth_destroy(m->cl_auth);
	clnt_destroy(m);
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

static void test_errors(void)
{
	struct fh bad = { 8, "garbage" };

	CHECK_EQ(lock(&A, &bad, true, 0, 0, false), NLM4_STALE_FH,
		 "LOCK on a garbage handle: STALE_FH");
	CHECK_EQ(test(&A, &bad, true, 0, 0, NULL), NLM4_STALE_FH,
		 "TEST on a garbage handle: STALE_FH");
}

/* Restart with locks held: clients were recorded, so a grace period
 * starts in which only reclaims are granted. */
static void test_restart(const struct fh *f)
{
	char *list;

	CHECK_EQ(lock(&A, f, true, 0, 10, false), NLM4_GRANTED,
		 "A: lock before the restart");
	list = tfile_read(d.dir, "catalog.db.nsm");
	CHECK(list && strstr(list, "client host-a 127.0.0.1\n"),
	      "host-a recorded in the monitor list");
	free(list);
	auth_destroy(nlm->cl_auth);
	clnt_destroy(nlm);
	nlm = NULL;
	CHECK_EQ(tdaemon_stop(&d), 0, "SIGTERM: exit status 0");
	d.grace = "2";
	if (tdaemon_start(&d) < 0 || !(nlm = client(NLM_PROG, NLM4_VERS))) {
		CHECK(0, "restart");
		return;
	}
	CHECK_EQ(lock(&B, f, true, 0, 10, false), NLM4_DENIED_GRACE_PERIOD,
		 "B: new lock in the grace period");
	CHECK_EQ(test(&B, f, true, 0, 10, NULL), NLM4_DENIED_GRACE_PERIOD,
		 "B: TEST in the grace period");
	CHECK_EQ(lock_args(&A, f, true, 0, 10, false, true), NLM4_GRANTED,
		 "A: reclaim granted");
	sleep(3);
	CHECK_EQ(lock(&B, f, true, 0, 10, false), NLM4_DENIED,
		 "after the grace: the reclaimed lock holds");
	CHECK_EQ(lock(&B, f, true, 10, 10, false), NLM4_GRANTED,
		 "after the grace: new locks granted");
}

int main(void)
{
	struct fh root, f;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (tdaemon_init(&d, "nlm") < 0 ||
	    tfile_write(d.lower, "file", "data") < 0 ||
	    tfile_write(d.lower, "low", "lower data") < 0 ||
	    tdaemon_start(&d) < 0) {
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
	test_errors();
	test_restart(&f);
	if (nlm) {
		auth_destroy(nlm->cl_auth);
		clnt_destroy(nlm);
	}
	auth_destroy(nfs->cl_auth);
	clnt_destroy(nfs);
	CHECK_EQ(tdaemon_stop(&d), 0, "SIGTERM: exit status 0");
	tdaemon_cleanup(&d);
	return tap_done();
}
