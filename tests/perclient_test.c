/*
 * perclient_test.c - per-client upper layers (private_upper=DIR) against
 * a real daemon.  Clients A (10.9.0.2) and B (10.9.0.3) are admitted by a
 * rule with private_upper=, client C (10.9.0.9) by one without; each
 * calls from its own address on the loopback of a private network
 * namespace, through libtirpc and the daemon's own rpcgen definitions.
 * Each of A and B sees the shared lower plus only its own changes, which
 * land in DIR/ADDRESS/upper; C sees the export's shared upper; a handle of
 * one view is STALE for every other client (NFSv3, NFSv4, NLM); NFSv4's
 * pseudo root leads each into its own view; every view's handles still
 * work after a reload, a restart and an idle close.  A view that cannot
 * be opened (D: work and upper on different file systems) is logged with
 * both paths.  Bad private_upper= values are refused with FILE:LINE.
 */
#define _GNU_SOURCE /* unshare */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <rpc/rpc.h>

#include "daemon.h"
#include "mount3_prot.h"
#include "nfs3_prot.h"
#include "nfs4_prot.h"
#include "nlm4_prot.h"
#include "tap.h"

#define A_IP "10.9.0.2"
#define B_IP "10.9.0.3"
#define C_IP "10.9.0.9"
#define D_IP "10.9.0.4" /* its upper is another file system than its work */

static struct tdaemon d;
static char uppers[400]; /* the private_upper= directory */
static struct timeval tmo = { 10, 0 };

struct fh {
	u_int len;
	char data[64];
};

/*
 * A, B, C and D on the loopback of a network of our own, and mounts of
 * our own for D's upper layer.
 */
static int net_setup(void)
{
	static const char *const ips[] = { A_IP, B_IP, C_IP, D_IP };

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return tnet_aliases(ips, 4);
}

/* An RPC client whose calls come from the address src, as root. */
static CLIENT *client_from(const char *src, unsigned long prog,
			   unsigned long vers)
{
	return tclient_from(&d, src, prog, vers);
}

static nfs_fh3 wire(const struct fh *f)
{
	nfs_fh3 w = { { f->len, (char *)f->data } };

	return w;
}

static void keep(struct fh *out, const nfs_fh3 *w)
{
	out->len = w->data.data_len <= sizeof(out->data) ? w->data.data_len
							 : 0;
	memcpy(out->data, w->data.data_val, out->len);
}

/* MNT /export from src: the mount status (-1: no answer). */
static int mnt(const char *src, struct fh *root)
{
	CLIENT *m = client_from(src, MOUNT_PROGRAM, MOUNT_V3);
	char *path = "/export";
	mountres3 res = { 0 };
	int st = -1;

	if (!m)
		return -1;
	if (clnt_call(m, MOUNTPROC3_MNT, (xdrproc_t)xdr_dirpath,
		      (char *)&path, (xdrproc_t)xdr_mountres3, (char *)&res,
		      tmo) == RPC_SUCCESS) {
		fhandle3 *f = &res.mountres3_u.mountinfo.fhandle;

		st = res.fhs_status;
		root->len = 0;
		if (st == MNT3_OK && f->fhandle3_len <= sizeof(root->data)) {
			root->len = f->fhandle3_len;
			memcpy(root->data, f->fhandle3_val, root->len);
		}
	}
	clnt_freeres(m, (xdrproc_t)xdr_mountres3, (char *)&res);
	tclient_free(m);
	return st;
}

/* One NFSv3 call from src; returns the status (-1: no answer). */
static int call3(const char *src, rpcproc_t proc, xdrproc_t xa, void *a,
		 xdrproc_t xr, void *r)
{
	CLIENT *c = client_from(src, NFS_PROGRAM, NFS_V3);
	int st = -1;

	if (c && clnt_call(c, proc, xa, a, xr, r, tmo) == RPC_SUCCESS)
		st = *(nfsstat3 *)r; /* every result starts with its status */
	tclient_free(c);
	return st;
}

static int getattr(const char *src, const struct fh *f)
{
	GETATTR3args a = { wire(f) };
	GETATTR3res r = { 0 };
	int st = call3(src, NFSPROC3_GETATTR, (xdrproc_t)xdr_GETATTR3args, &a,
		       (xdrproc_t)xdr_GETATTR3res, &r);

	xdr_free((xdrproc_t)xdr_GETATTR3res, (char *)&r);
	return st;
}

static int lookup(const char *src, const struct fh *dir, const char *name,
		  struct fh *out)
{
	LOOKUP3args a = { { wire(dir), (char *)name } };
	LOOKUP3res r = { 0 };
	int st = call3(src, NFSPROC3_LOOKUP, (xdrproc_t)xdr_LOOKUP3args, &a,
		       (xdrproc_t)xdr_LOOKUP3res, &r);

	if (st == NFS3_OK && out)
		keep(out, &r.LOOKUP3res_u.resok.object);
	xdr_free((xdrproc_t)xdr_LOOKUP3res, (char *)&r);
	return st;
}

static int create(const char *src, const struct fh *dir, const char *name,
		  struct fh *out)
{
	CREATE3args a = { 0 };
	CREATE3res r = { 0 };
	int st;

	a.where.dir = wire(dir);
	a.where.name = (char *)name;
	a.how.mode = UNCHECKED;
	a.how.createhow3_u.obj_attributes.mode.set_it = TRUE;
	a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	st = call3(src, NFSPROC3_CREATE, (xdrproc_t)xdr_CREATE3args, &a,
		   (xdrproc_t)xdr_CREATE3res, &r);
	if (st == NFS3_OK && out) {
		post_op_fh3 *p = &r.CREATE3res_u.resok.obj;

		out->len = 0;
		if (p->handle_follows)
			keep(out, &p->post_op_fh3_u.handle);
	}
	xdr_free((xdrproc_t)xdr_CREATE3res, (char *)&r);
	return st;
}

static int write3(const char *src, const struct fh *f, const char *data)
{
	WRITE3args a = { 0 };
	WRITE3res r = { 0 };
	int st;

	a.file = wire(f);
	a.count = (count3)strlen(data);
	a.stable = FILE_SYNC;
	a.data.data_len = a.count;
	a.data.data_val = (char *)data;
	st = call3(src, NFSPROC3_WRITE, (xdrproc_t)xdr_WRITE3args, &a,
		   (xdrproc_t)xdr_WRITE3res, &r);
	xdr_free((xdrproc_t)xdr_WRITE3res, (char *)&r);
	return st;
}

/* READ the whole small file into buf; returns the status. */
static int read3(const char *src, const struct fh *f, char *buf, size_t len)
{
	READ3args a = { wire(f), 0, (count3)(len - 1) };
	READ3res r = { 0 };
	int st = call3(src, NFSPROC3_READ, (xdrproc_t)xdr_READ3args, &a,
		       (xdrproc_t)xdr_READ3res, &r);

	buf[0] = '\0';
	if (st == NFS3_OK) {
		u_int n = r.READ3res_u.resok.data.data_len;

		memcpy(buf, r.READ3res_u.resok.data.data_val, n);
		buf[n] = '\0';
	}
	xdr_free((xdrproc_t)xdr_READ3res, (char *)&r);
	return st;
}

/* NLM TEST of the whole file from src: the nlm4_stats (-1: no answer). */
static int nlm_test(const char *src, const struct fh *f)
{
	CLIENT *c = client_from(src, NLM_PROG, NLM4_VERS);
	nlm4_testargs a = { 0 };
	nlm4_testres r = { 0 };
	int st = -1;

	a.cookie.nlm4_netobj_len = 1;
	a.cookie.nlm4_netobj_val = "c";
	a.alock.caller_name = (char *)src;
	a.alock.fh.nlm4_netobj_len = f->len;
	a.alock.fh.nlm4_netobj_val = (char *)f->data;
	a.alock.oh.nlm4_netobj_len = 2;
	a.alock.oh.nlm4_netobj_val = "oh";
	a.alock.svid = 1;
	if (c && clnt_call(c, NLMPROC4_TEST, (xdrproc_t)xdr_nlm4_testargs,
			   (char *)&a, (xdrproc_t)xdr_nlm4_testres,
			   (char *)&r, tmo) == RPC_SUCCESS)
		st = r.stat.stat;
	if (c)
		clnt_freeres(c, (xdrproc_t)xdr_nlm4_testres, (char *)&r);
	tclient_free(c);
	return st;
}

/*
 * An NFSv4.0 COMPOUND from src: PUTFH(start) or PUTROOTFH, then LOOKUP of
 * each name in path ("export/a-file"), then GETFH into out.  Returns the
 * COMPOUND's status (-1: no answer).
 */
static int v4_walk(const char *src, const struct fh *start, const char *path,
		   struct fh *out)
{
	CLIENT *c = client_from(src, NFS4_PROGRAM, NFS_V4);
	char buf[256], *name, *save = NULL;
	nfs_argop4 ops[8] = { 0 };
	COMPOUND4args a = { 0 };
	COMPOUND4res r = { 0 };
	u_int n = 0;
	int st = -1;

	snprintf(buf, sizeof(buf), "%s", path);
	if (start) {
		ops[n].argop = OP_PUTFH;
		ops[n++].nfs_argop4_u.opputfh.object =
			(nfs_fh4){ start->len, (char *)start->data };
	} else {
		ops[n++].argop = OP_PUTROOTFH;
	}
	for (name = strtok_r(buf, "/", &save); name && n < 7;
	     name = strtok_r(NULL, "/", &save)) {
		ops[n].argop = OP_LOOKUP;
		ops[n++].nfs_argop4_u.oplookup.objname =
			(component4){ (u_int)strlen(name), name };
	}
	ops[n++].argop = OP_GETFH;
	a.argarray.argarray_len = n;
	a.argarray.argarray_val = ops;
	if (c && clnt_call(c, NFSPROC4_COMPOUND, (xdrproc_t)xdr_COMPOUND4args,
			   (char *)&a, (xdrproc_t)xdr_COMPOUND4res, (char *)&r,
			   tmo) == RPC_SUCCESS) {
		st = r.status;
		if (st == NFS4_OK && out && r.resarray.resarray_len == n) {
			nfs_fh4 *f = &r.resarray.resarray_val[n - 1]
				.nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object;

			out->len = f->nfs_fh4_len <= sizeof(out->data) ?
				   f->nfs_fh4_len : 0;
			memcpy(out->data, f->nfs_fh4_val, out->len);
		}
	}
	if (c)
		clnt_freeres(c, (xdrproc_t)xdr_COMPOUND4res, (char *)&r);
	tclient_free(c);
	return st;
}

static bool same_fh(const struct fh *a, const struct fh *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* What a file below dir holds, or "(none)". */
static char file_text[256];
static const char *on_disk(const char *dir, const char *rel)
{
	char *t = tfile_read(dir, rel);

	snprintf(file_text, sizeof(file_text), "%s", t ? t : "(none)");
	free(t);
	return file_text;
}

/* ---- the configuration ------------------------------------------------ */

/* unionnfsd --check-config on text: its exit status and first line. */
static int check_config(const char *text, char *out, size_t outlen)
{
	char path[512], cmd[1200];
	const char *bin = getenv("UNIONNFSD");
	FILE *f, *p;
	int status;

	snprintf(path, sizeof(path), "%s/bad.conf", d.dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s --check-config %s 2>&1",
		 bin && *bin ? bin : "./unionnfsd", path);
	if (!(p = popen(cmd, "r")))
		return -1;
	out[0] = '\0';
	if (!fgets(out, (int)outlen, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (getc(p) != EOF)
		;
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_config_errors(void)
{
	char conf[1500], out[512], want[600];

	snprintf(conf, sizeof(conf),
		 "catalog %s/c.db\nexport /export {\n  lower %s\n"
		 "  clients 10.0.0.0/8(rw,private_upper=relative)\n}\n",
		 d.dir, d.lower);
	CHECK(check_config(conf, out, sizeof(out)) != 0 &&
	      strstr(out, "bad.conf:4: bad client option "
			  "\"private_upper=relative\" (one absolute"),
	      "a relative private_upper= is refused at its line: %s", out);
	snprintf(conf, sizeof(conf),
		 "catalog %s/c.db\nexport /export {\n  lower %s\n"
		 "  clients 10.0.0.0/8(private_upper=%s)\n}\n",
		 d.dir, d.lower, uppers);
	CHECK(check_config(conf, out, sizeof(out)) != 0 &&
	      strstr(out, "bad.conf:4: private_upper= in") &&
	      strstr(out, "needs rw"),
	      "private_upper= on a read-only rule is refused: %s", out);
	snprintf(conf, sizeof(conf),
		 "catalog %s/c.db\nexport /export {\n  lower %s\n"
		 "  clients 10.0.0.0/8(rw,private_upper=%s/missing)\n}\n",
		 d.dir, d.lower, d.dir);
	snprintf(want, sizeof(want), "bad.conf:4: export \"/export\": "
		 "private_upper \"%s/missing\": No such file", d.dir);
	CHECK(check_config(conf, out, sizeof(out)) != 0 && strstr(out, want),
	      "a missing private_upper= directory is refused: %s", out);
	snprintf(conf, sizeof(conf),
		 "catalog %s/c.db\nexport /export {\n  lower %s\n"
		 "  clients 10.0.0.0/8(rw,private_upper=%s)\n}\n",
		 d.dir, d.lower, uppers);
	CHECK_EQ(check_config(conf, out, sizeof(out)), 0,
		 "a good private_upper= passes: %s", out);
}

/* ---- the views -------------------------------------------------------- */

static struct fh ra, rb, rc_, fa, fb, fc, basea;

static void test_views(void)
{
	char buf[256], path[600];
	struct fh f;
	struct stat st;

	CHECK_EQ(mnt(A_IP, &ra), MNT3_OK, "A mounts");
	CHECK_EQ(mnt(B_IP, &rb), MNT3_OK, "B mounts");
	CHECK_EQ(mnt(C_IP, &rc_), MNT3_OK, "C mounts");
	CHECK(!same_fh(&ra, &rb) && !same_fh(&ra, &rc_) && !same_fh(&rb, &rc_),
	      "three different root handles (three views)");

	CHECK_EQ(create(A_IP, &ra, "a-file", &fa), NFS3_OK, "A creates a-file");
	CHECK_EQ(write3(A_IP, &fa, "from A"), NFS3_OK, "A writes it");
	CHECK_EQ(create(B_IP, &rb, "b-file", &fb), NFS3_OK, "B creates b-file");
	CHECK_EQ(create(C_IP, &rc_, "c-file", &fc), NFS3_OK,
		 "C creates c-file");
	CHECK_EQ(lookup(A_IP, &ra, "base", &basea), NFS3_OK, "A finds base");
	CHECK_EQ(write3(A_IP, &basea, "A!"), NFS3_OK,
		 "A writes the lower file (copy-up into its view)");

	CHECK_EQ(lookup(A_IP, &ra, "b-file", NULL), NFS3ERR_NOENT,
		 "A does not see B's file");
	CHECK_EQ(lookup(A_IP, &ra, "c-file", NULL), NFS3ERR_NOENT,
		 "A does not see the shared upper's file");
	CHECK_EQ(lookup(B_IP, &rb, "a-file", NULL), NFS3ERR_NOENT,
		 "B does not see A's file");
	CHECK_EQ(lookup(C_IP, &rc_, "a-file", NULL), NFS3ERR_NOENT,
		 "C does not see A's file");
	CHECK_EQ(lookup(B_IP, &rb, "base", &f), NFS3_OK, "B finds base");
	CHECK_EQ(read3(B_IP, &f, buf, sizeof(buf)), NFS3_OK, "B reads base");
	CHECK_STR(buf, "lower data", "B sees the lower's base");
	CHECK_EQ(read3(A_IP, &basea, buf, sizeof(buf)), NFS3_OK,
		 "A reads base");
	CHECK_STR(buf, "A!wer data", "A sees its own change");

	CHECK_STR(on_disk(d.lower, "base"), "lower data",
		  "the lower is untouched");
	CHECK_STR(on_disk(uppers, A_IP "/upper/a-file"), "from A",
		  "A's file is in DIR/A/upper");
	CHECK_STR(on_disk(uppers, A_IP "/upper/base"), "A!wer data",
		  "A's copy-up is in DIR/A/upper");
	CHECK_STR(on_disk(uppers, B_IP "/upper/b-file"), "",
		  "B's file is in DIR/B/upper");
	CHECK_STR(on_disk(d.upper, "c-file"), "",
		  "C's file is in the shared upper");
	CHECK_STR(on_disk(d.upper, "a-file"), "(none)",
		  "A's file is not in the shared upper");
	snprintf(path, sizeof(path), "%s/%s", uppers, A_IP);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700 &&
	      st.st_uid == 0, "DIR/A is mode 0700, root's");
	snprintf(path, sizeof(path), "%s/%s/work", uppers, B_IP);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "DIR/B/work exists");
}

/* NFSv4: PUTROOTFH and LOOKUP lead each client into its own view. */
static void test_v4(void)
{
	struct fh f;

	CHECK_EQ(v4_walk(A_IP, NULL, "export", &f), NFS4_OK,
		 "v4: A looks up the export from the pseudo root");
	CHECK(same_fh(&f, &ra), "v4: A gets the root of its own view");
	CHECK_EQ(v4_walk(A_IP, NULL, "export/a-file", &f), NFS4_OK,
		 "v4: A finds a-file");
	CHECK(same_fh(&f, &fa), "v4: the same handle as over v3");
	CHECK_EQ(v4_walk(B_IP, NULL, "export/a-file", NULL), NFS4ERR_NOENT,
		 "v4: B does not see A's file");
	CHECK_EQ(v4_walk(B_IP, NULL, "export/b-file", NULL), NFS4_OK,
		 "v4: B finds its own file");
	CHECK_EQ(v4_walk(C_IP, NULL, "export/c-file", NULL), NFS4_OK,
		 "v4: C finds the shared upper's file");
	CHECK_EQ(v4_walk(B_IP, &fa, "", NULL), NFS4ERR_STALE,
		 "v4: PUTFH by B of A's handle: STALE");
	CHECK_EQ(v4_walk(A_IP, &rc_, "", NULL), NFS4ERR_STALE,
		 "v4: PUTFH by A of the shared export's handle: STALE");
	CHECK_EQ(v4_walk(A_IP, &fa, "", NULL), NFS4_OK,
		 "v4: PUTFH by A of its own handle");
}

/* D's upper is a tmpfs, its work dir is not: said in the log, precisely. */
static int other_fs_setup(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", uppers, D_IP);
	if (mkdir(path, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/upper", uppers, D_IP);
	if (mkdir(path, 0755) < 0 ||
	    mount("perclient", path, "tmpfs", 0, "size=1m") < 0)
		return -1;
	return 0;
}

/* before tdaemon_cleanup(), which cannot remove a mount point */
static void other_fs_teardown(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s/upper", uppers, D_IP);
	umount2(path, MNT_DETACH);
}

static void test_other_fs(void)
{
	char want[1400], *log;
	struct fh f;

	CHECK_EQ(mnt(D_IP, &f), MNT3ERR_SERVERFAULT,
		 "D's view cannot be opened: MNT answers SERVERFAULT");
	CHECK_EQ(v4_walk(D_IP, NULL, "export", NULL), NFS4ERR_SERVERFAULT,
		 "and v4 LOOKUP of the export answers SERVERFAULT");
	snprintf(want, sizeof(want), "export /export: cannot open the view of "
		 "client %s: work dir %s/%s/work is not on the file system of "
		 "upper %s/%s/upper", D_IP, uppers, D_IP, uppers, D_IP);
	log = tfile_read(d.dir, "log");
	CHECK(log && strstr(log, want), "the log says why: %s", want);
	free(log);
	CHECK_EQ(mnt(A_IP, &f), MNT3_OK, "A is served all the same");
}

/* A handle of one view is STALE for everybody else. */
static void test_stale(const char *when)
{
	CHECK_EQ(getattr(B_IP, &fa), NFS3ERR_STALE,
		 "%s: B presenting A's file handle: STALE", when);
	CHECK_EQ(getattr(B_IP, &ra), NFS3ERR_STALE,
		 "%s: B presenting A's root handle: STALE", when);
	CHECK_EQ(getattr(A_IP, &rc_), NFS3ERR_STALE,
		 "%s: A presenting the shared export's handle: STALE", when);
	CHECK_EQ(getattr(C_IP, &fb), NFS3ERR_STALE,
		 "%s: C presenting B's handle: STALE", when);
	CHECK_EQ(nlm_test(B_IP, &fa), NLM4_STALE_FH,
		 "%s: NLM TEST by B on A's handle: STALE_FH", when);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* How many times the daemon's log says what. */
static int in_log(const char *what)
{
	char *log = tfile_read(d.dir, "log"), *p;
	int n = 0;

	for (p = log; p && (p = strstr(p, what)); p++)
		n++;
	free(log);
	return n;
}

static int a_opened(void)
{
	return in_log("view of client " A_IP " opened");
}

/* SIGHUP, and wait (up to 30 s) until the log says it reloaded. */
static bool reload(void)
{
	long deadline = now_ms() + 30000;
	int before = in_log("reloaded configuration");

	if (kill(d.pid, SIGHUP) < 0)
		return false;
	while (in_log("reloaded configuration") == before) {
		if (now_ms() > deadline)
			return false;
		poll(NULL, 0, 20);
	}
	return true;
}

/* A reload that changes nothing keeps the views open. */
static void test_reload(void)
{
	char buf[256];

	CHECK_EQ(a_opened(), 1, "A's view was opened once");
	CHECK(reload(), "the daemon reloads its configuration");
	test_stale("after reload");
	CHECK_EQ(read3(A_IP, &fa, buf, sizeof(buf)), NFS3_OK,
		 "A reads a-file by its handle after the reload");
	CHECK_STR(buf, "from A", "A's file after the reload");
	CHECK_EQ(lookup(B_IP, &rb, "a-file", NULL), NFS3ERR_NOENT,
		 "B still does not see A's file");
	CHECK_EQ(a_opened(), 1, "the reload kept A's view open");
}

/*
 * view-idle-timeout 1: B's requests (which make the daemon look for idle
 * views) go on, A's view idles and is closed; A's handle reopens it.
 */
static void test_idle(void)
{
	long deadline = now_ms() + 30000;
	int opened = a_opened();

	CHECK(tfile_write(d.dir, "reload.conf", "view-idle-timeout 1\n") == 0 &&
	      reload(), "reload with view-idle-timeout 1");
	while (!in_log("view of client " A_IP " closed: idle") &&
	       now_ms() < deadline) {
		if (getattr(B_IP, &fb) != NFS3_OK)
			break;
		poll(NULL, 0, 100);
	}
	CHECK_EQ(in_log("view of client " A_IP " closed: idle"), 1,
		 "A's idle view is closed while B works");
	CHECK_EQ(getattr(A_IP, &fa), NFS3_OK, "A's handle reopens its view");
	CHECK_EQ(a_opened(), opened + 1, "A's view was opened again");
}

static void test_restart(void)
{
	char buf[256];
	struct fh r2;

	CHECK_EQ(tdaemon_stop(&d), 0, "daemon stops cleanly");
	if (tdaemon_start(&d) < 0) {
		CHECK(0, "daemon restarts");
		return;
	}
	/* B first: the views are closed, its request reopens them */
	test_stale("after restart");
	CHECK_EQ(getattr(A_IP, &fa), NFS3_OK, "A's file handle still works");
	CHECK_EQ(read3(A_IP, &fa, buf, sizeof(buf)), NFS3_OK, "A reads a-file");
	CHECK_STR(buf, "from A", "A's file after restart");
	CHECK_EQ(getattr(B_IP, &fb), NFS3_OK, "B's file handle still works");
	CHECK_EQ(getattr(C_IP, &fc), NFS3_OK, "C's file handle still works");
	CHECK_EQ(mnt(A_IP, &r2), MNT3_OK, "A mounts again");
	CHECK(same_fh(&r2, &ra), "A's root handle is the one it had");
	CHECK_EQ(nlm_test(A_IP, &fa), NLM4_GRANTED,
		 "NLM TEST by A on its own handle: granted");
}

int main(void)
{
	static char conf[400];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (net_setup() < 0) {
		printf("1..0 # SKIP private network and mount namespaces: %s\n",
		       strerror(errno));
		return 77;
	}
	if (tdaemon_init(&d, "perclient") < 0 ||
	    tfile_write(d.lower, "base", "lower data") < 0) {
		printf("Bail out! cannot set up\n");
		return 99;
	}
	snprintf(uppers, sizeof(uppers), "%s/uppers", d.dir);
	if (mkdir(uppers, 0755) < 0) {
		printf("Bail out! mkdir %s: %s\n", uppers, strerror(errno));
		return 99;
	}
	if (snprintf(d.clients, sizeof(d.clients),
		     "10.9.0.0/29(rw,no_root_squash,private_upper=%s) "
		     "127.0.0.0/8(rw,no_root_squash) "
		     "10.9.0.8/29(rw,no_root_squash)",
		     uppers) >= (int)sizeof(d.clients)) {
		printf("Bail out! temporary directory name too long\n");
		return 99;
	}
	/* a file to reload: the export itself is on the command line */
	snprintf(conf, sizeof(conf), "%s/reload.conf", d.dir);
	if (tfile_write(d.dir, "reload.conf", "workers 2\n") < 0) {
		printf("Bail out! cannot write %s\n", conf);
		return 99;
	}
	d.config = conf;
	test_config_errors();
	if (other_fs_setup() < 0) {
		printf("Bail out! tmpfs for D's upper: %s\n", strerror(errno));
		tdaemon_cleanup(&d);
		return 99;
	}
	if (tdaemon_start(&d) < 0) {
		printf("Bail out! cannot start unionnfsd\n");
		other_fs_teardown();
		tdaemon_cleanup(&d);
		return 99;
	}
	test_views();
	test_stale("running");
	test_v4();
	test_other_fs();
	test_reload();
	test_restart();
	test_idle();
	tdaemon_stop(&d);
	other_fs_teardown();
	tdaemon_cleanup(&d);
	return tap_done();
}
