/*
 * gss_client.c - the RPCSEC_GSS client of tests/gss_test.sh.
 *
 *   gss_client freeport
 *	print a free loopback TCP port (for the test's KDC)
 *   gss_client PORT TAG UID GID
 *	with the Kerberos credentials of $KRB5CCNAME: for each of krb5,
 *	krb5i and krb5p, MOUNT MNT and NFSv3 CREATE, WRITE, READ, GETATTR
 *	through libtirpc's RPCSEC_GSS (an independent implementation that
 *	checks our verifiers and unwraps our results); the file TAG-SVC.txt
 *	must belong to UID:GID; an NFSv4 COMPOUND with each.  Then
 *	hand-made calls on a context created
 *	the same way: a replayed and a too old sequence number dropped, a
 *	tampered krb5i or krb5p body and a tampered header refused, an
 *	unknown or destroyed handle refused, AUTH_SYS on the krb5-only
 *	export and krb5i on the sys-only one refused with AUTH_TOOWEAK, and
 *	MNT's flavor lists exact.
 *
 * The daemon must run with one worker ("workers 1"), so that a reply to
 * a later call proves an earlier one on the same connection was handled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <rpc/rpc.h>
#include <rpc/auth_gss.h>

#include "mount3_prot.h"
#include "nfs3_prot.h"
#include "tap.h"

#define SERVICE "nfs@localhost"
#define KRB5 390003
#define KRB5I 390004
#define KRB5P 390005

static struct sockaddr_in server;

static CLIENT *client(uint32_t prog, uint32_t vers)
{
	int sock = RPC_ANYSOCK;

	return clnttcp_create(&server, prog, vers, &sock, 0, 0);
}

static AUTH *gss_auth(CLIENT *c, rpc_gss_svc_t svc)
{
	struct rpc_gss_sec sec = {
		.mech = (gss_OID)gss_mech_krb5,
		.qop = GSS_C_QOP_DEFAULT,
		.svc = svc,
		.cred = GSS_C_NO_CREDENTIAL,
		.req_flags = GSS_C_MUTUAL_FLAG,
	};

	return authgss_create_default(c, (char *)SERVICE, &sec);
}

static const struct timeval tmo = { 60, 0 };

/* MNT path: the root handle, and the flavor list must be want[]. */
static bool mnt_path(CLIENT *c, const char *dir, const int *want,
		     unsigned nwant, nfs_fh3 *root, const char *what)
{
	char *path = (char *)dir;
	mountres3 res;
	enum clnt_stat st;
	int *f;

	memset(&res, 0, sizeof(res));
	st = clnt_call(c, MOUNTPROC3_MNT, (xdrproc_t)xdr_dirpath,
		       (caddr_t)&path, (xdrproc_t)xdr_mountres3,
		       (caddr_t)&res, tmo);
	CHECK(st == RPC_SUCCESS && res.fhs_status == MNT3_OK,
	      "%s: MNT %s (rpc %d, status %d)", what, dir, st,
	      (int)res.fhs_status);
	if (st != RPC_SUCCESS || res.fhs_status != MNT3_OK)
		return false;
	f = res.mountres3_u.mountinfo.auth_flavors.auth_flavors_val;
	CHECK(res.mountres3_u.mountinfo.auth_flavors.auth_flavors_len ==
			      nwant &&
		      memcmp(f, want, nwant * sizeof(*want)) == 0,
	      "%s: MNT %s: the flavor list is exactly the rule's sec=", what,
	      dir);
	root->data.data_len = res.mountres3_u.mountinfo.fhandle.fhandle3_len;
	root->data.data_val = malloc(root->data.data_len);
	memcpy(root->data.data_val,
	       res.mountres3_u.mountinfo.fhandle.fhandle3_val,
	       root->data.data_len);
	xdr_free((xdrproc_t)xdr_mountres3, (char *)&res);
	return true;
}

/* /export allows krb5:krb5i:krb5p, /sysonly the default sys. */
static const int krb5_only[] = { KRB5, KRB5I, KRB5P };
static const int sys_only[] = { AUTH_SYS, AUTH_NONE };

static bool mnt(CLIENT *c, nfs_fh3 *root, const char *what)
{
	return mnt_path(c, "/export", krb5_only, 3, root, what);
}

static bool create_file(CLIENT *c, nfs_fh3 *dir, const char *name,
			nfs_fh3 *fh)
{
	CREATE3args a;
	CREATE3res r;
	enum clnt_stat st;
	bool ok;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.where.dir = *dir;
	a.where.name = (char *)name;
	a.how.mode = UNCHECKED;
	a.how.createhow3_u.obj_attributes.mode.set_it = TRUE;
	a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	st = clnt_call(c, NFSPROC3_CREATE, (xdrproc_t)xdr_CREATE3args,
		       (caddr_t)&a, (xdrproc_t)xdr_CREATE3res, (caddr_t)&r,
		       tmo);
	ok = st == RPC_SUCCESS && r.status == NFS3_OK &&
	     r.CREATE3res_u.resok.obj.handle_follows;
	CHECK(ok, "CREATE %s (rpc %d, status %d)", name, st, (int)r.status);
	if (ok) {
		nfs_fh3 *h = &r.CREATE3res_u.resok.obj.post_op_fh3_u.handle;

		fh->data.data_len = h->data.data_len;
		fh->data.data_val = malloc(h->data.data_len);
		memcpy(fh->data.data_val, h->data.data_val, h->data.data_len);
	}
	xdr_free((xdrproc_t)xdr_CREATE3res, (char *)&r);
	return ok;
}

static void write_read(CLIENT *c, nfs_fh3 *fh, const char *text,
		       const char *what)
{
	WRITE3args w = { .file = *fh, .offset = 0, .stable = FILE_SYNC };
	READ3args ra = { .file = *fh, .offset = 0, .count = 4096 };
	WRITE3res wr;
	READ3res rr;
	enum clnt_stat st;

	w.count = (count3)strlen(text);
	w.data.data_len = w.count;
	w.data.data_val = (char *)text;
	memset(&wr, 0, sizeof(wr));
	st = clnt_call(c, NFSPROC3_WRITE, (xdrproc_t)xdr_WRITE3args,
		       (caddr_t)&w, (xdrproc_t)xdr_WRITE3res, (caddr_t)&wr,
		       tmo);
	CHECK(st == RPC_SUCCESS && wr.status == NFS3_OK &&
		      wr.WRITE3res_u.resok.count == w.count,
	      "%s: WRITE (rpc %d, status %d)", what, st, (int)wr.status);
	xdr_free((xdrproc_t)xdr_WRITE3res, (char *)&wr);
	memset(&rr, 0, sizeof(rr));
	st = clnt_call(c, NFSPROC3_READ, (xdrproc_t)xdr_READ3args,
		       (caddr_t)&ra, (xdrproc_t)xdr_READ3res, (caddr_t)&rr,
		       tmo);
	CHECK(st == RPC_SUCCESS && rr.status == NFS3_OK &&
		      rr.READ3res_u.resok.data.data_len == strlen(text) &&
		      memcmp(rr.READ3res_u.resok.data.data_val, text,
			     strlen(text)) == 0,
	      "%s: READ returns what was written", what);
	xdr_free((xdrproc_t)xdr_READ3res, (char *)&rr);
}

static void getattr_owner(CLIENT *c, nfs_fh3 *fh, uint32_t uid, uint32_t gid,
			  const char *what)
{
	GETATTR3args a = { .object = *fh };
	GETATTR3res r;
	enum clnt_stat st;
	fattr3 *at = &r.GETATTR3res_u.resok.obj_attributes;

	memset(&r, 0, sizeof(r));
	st = clnt_call(c, NFSPROC3_GETATTR, (xdrproc_t)xdr_GETATTR3args,
		       (caddr_t)&a, (xdrproc_t)xdr_GETATTR3res, (caddr_t)&r,
		       tmo);
	CHECK(st == RPC_SUCCESS && r.status == NFS3_OK && at->uid == uid &&
		      at->gid == gid,
	      "%s: GETATTR: owned by the mapped %u:%u (got %u:%u)", what, uid,
	      gid, at->uid, at->gid);
}

static const char *svc_name(rpc_gss_svc_t svc)
{
	return svc == RPCSEC_GSS_SVC_PRIVACY	 ? "krb5p"
	       : svc == RPCSEC_GSS_SVC_INTEGRITY ? "krb5i"
						 : "krb5";
}

/* MNT, CREATE, WRITE, READ, GETATTR with one service. */
static void round_trip(rpc_gss_svc_t svc, const char *tag, uint32_t uid,
		       uint32_t gid, nfs_fh3 *root)
{
	const char *what = svc_name(svc);
	CLIENT *m = client(MOUNT_PROGRAM, MOUNT_V3);
	CLIENT *n = client(NFS_PROGRAM, NFS_V3);
	char name[64], text[64];
	nfs_fh3 fh = { { 0, NULL } };

	CHECK(m && n, "%s: connected", what);
	if (!m || !n)
		return;
	m->cl_auth = gss_auth(m, svc);
	n->cl_auth = gss_auth(n, svc);
	CHECK(m->cl_auth && n->cl_auth, "%s: context created", what);
	if (!m->cl_auth || !n->cl_auth)
		return;
	free(root->data.data_val);
	root->data.data_val = NULL;
	if (mnt(m, root, what)) {
		snprintf(name, sizeof(name), "%s-%s.txt", tag, what);
		snprintf(text, sizeof(text), "written with %s by %s", what,
			 tag);
		if (create_file(n, root, name, &fh)) {
			write_read(n, &fh, text, what);
			getattr_owner(n, &fh, uid, gid, what);
		}
	}
	free(fh.data.data_val);
	auth_destroy(m->cl_auth); /* sends RPCSEC_GSS_DESTROY */
	auth_destroy(n->cl_auth);
	clnt_destroy(m);
	clnt_destroy(n);
}

/* ---- NFSv4 -------------------------------------------------------------
 * COMPOUND PUTROOTFH LOOKUP("export") GETATTR(type) with each service:
 * the generated codecs of libtirpc's RPCSEC_GSS wrap the arguments and
 * unwrap the results around these hand-written ones.
 */
struct v4res {
	uint32_t status, nres, type;
};

static bool_t xdr_v4_lookup_args(XDR *x, void *arg)
{
	char *tag = "", *name = arg;
	uint32_t w[] = { 0 /* minor */, 3, 24 /* PUTROOTFH */, 15 /* LOOKUP */ };
	uint32_t getattr[] = { 9, 1, 1u << 1 /* type */ };

	if (!xdr_string(x, &tag, 64))
		return FALSE;
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (!xdr_uint32_t(x, &w[i]))
			return FALSE;
	if (!xdr_string(x, &name, 255))
		return FALSE;
	for (size_t i = 0; i < sizeof(getattr) / sizeof(getattr[0]); i++)
		if (!xdr_uint32_t(x, &getattr[i]))
			return FALSE;
	return TRUE;
}

/* COMPOUND4res's status, result count, and the type GETATTR gave. */
static bool_t xdr_v4_lookup_res(XDR *x, void *arg)
{
	struct v4res *r = arg;
	char tag[65], *tp = tag;
	uint32_t op, st, n, w;

	if (!xdr_uint32_t(x, &r->status) || !xdr_string(x, &tp, 64) ||
	    !xdr_uint32_t(x, &r->nres))
		return FALSE;
	for (uint32_t i = 0; i < r->nres && i < 3; i++) {
		if (!xdr_uint32_t(x, &op) || !xdr_uint32_t(x, &st))
			return FALSE;
		if (op != 9 || st != 0)
			continue;
		if (!xdr_uint32_t(x, &n) || n > 4)
			return FALSE;
		while (n-- > 0)
			if (!xdr_uint32_t(x, &w))
				return FALSE;
		if (!xdr_uint32_t(x, &w) || !xdr_uint32_t(x, &r->type))
			return FALSE;
	}
	return TRUE;
}

static void v4_lookup(rpc_gss_svc_t svc)
{
	const char *what = svc_name(svc);
	CLIENT *c = client(NFS_PROGRAM, 4);
	struct v4res r = { 0xdeadbeef, 0, 0 };
	enum clnt_stat st = RPC_FAILED;

	if (c && (c->cl_auth = gss_auth(c, svc)) != NULL) {
		st = clnt_call(c, 1, (xdrproc_t)xdr_v4_lookup_args,
			       (caddr_t) "export",
			       (xdrproc_t)xdr_v4_lookup_res, (caddr_t)&r,
			       tmo);
		auth_destroy(c->cl_auth);
	}
	CHECK(st == RPC_SUCCESS && r.status == 0 && r.nres == 3 &&
		      r.type == 2,
	      "%s: NFSv4 PUTROOTFH LOOKUP(export) GETATTR: a directory "
	      "(rpc %d, status %u)", what, st, r.status);
	if (c)
		clnt_destroy(c);
}

/* ---- hand-made calls -------------------------------------------------- */

struct raw {
	int fd;
	gss_ctx_id_t ctx;
	gss_buffer_desc handle;
	uint32_t seq;
};

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

static uint8_t *put_opaque(uint8_t *p, const void *d, size_t n)
{
	p = put32(p, (uint32_t)n);
	memcpy(p, d, n);
	memset(p + n, 0, ((n + 3) & ~(size_t)3) - n);
	return p + ((n + 3) & ~(size_t)3);
}

/* Where build() put the protected body (its opaque length) in rec. */
static size_t body_off;
/* The control procedure of the next build(): RPCSEC_GSS_DATA unless a
 * test asks for RPCSEC_GSS_DESTROY. */
static uint32_t next_gss_proc = RPCSEC_GSS_DATA;

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/*
 * A call record (with its record mark) of an NFSv3 procedure: RPCSEC_GSS
 * data call with svc and seq, or AUTH_SYS when r is NULL.
 */
static size_t build(uint8_t *rec, struct raw *r, uint32_t xid, uint32_t seq,
		    uint32_t svc, uint32_t proc, const uint8_t *args,
		    size_t alen)
{
	uint8_t *p = rec + 4, *hdr = p, cred[64], *c = cred, plain[1024];
	gss_buffer_desc in, out;
	OM_uint32 minor;
	int conf;

	p = put32(p, xid);
	p = put32(p, 0);
	p = put32(p, 2);
	p = put32(p, NFS_PROGRAM);
	p = put32(p, NFS_V3);
	p = put32(p, proc);
	if (!r) {
		c = put32(c, 0); /* stamp */
		c = put_opaque(c, "", 0);
		c = put32(c, 0);
		c = put32(c, 0);
		c = put32(c, 0);
		p = put32(p, AUTH_SYS);
		p = put_opaque(p, cred, (size_t)(c - cred));
		p = put32(p, AUTH_NONE);
		p = put32(p, 0);
		memcpy(p, args, alen);
		p += alen;
		goto out;
	}
	c = put32(c, 1);
	c = put32(c, next_gss_proc);
	next_gss_proc = RPCSEC_GSS_DATA;
	c = put32(c, seq);
	c = put32(c, svc);
	c = put_opaque(c, r->handle.value, r->handle.length);
	p = put32(p, RPCSEC_GSS);
	p = put_opaque(p, cred, (size_t)(c - cred));
	in.value = hdr;
	in.length = (size_t)(p - hdr);
	gss_get_mic(&minor, r->ctx, 0, &in, &out);
	p = put32(p, RPCSEC_GSS);
	p = put_opaque(p, out.value, out.length);
	gss_release_buffer(&minor, &out);
	if (svc == RPCSEC_GSS_SVC_NONE) {
		memcpy(p, args, alen);
		p += alen;
		goto out;
	}
	body_off = (size_t)(p - rec);
	put32(plain, seq);
	memcpy(plain + 4, args, alen);
	in.value = plain;
	in.length = 4 + alen;
	if (svc == RPCSEC_GSS_SVC_INTEGRITY) {
		p = put_opaque(p, plain, in.length);
		gss_get_mic(&minor, r->ctx, 0, &in, &out);
	} else {
		gss_wrap(&minor, r->ctx, 1, 0, &in, &conf, &out);
	}
	p = put_opaque(p, out.value, out.length);
	gss_release_buffer(&minor, &out);
out:
	put32(rec, 0x80000000u | (uint32_t)(p - (rec + 4)));
	return (size_t)(p - rec);
}

static bool send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* The next reply: its xid, reply_stat, and accept or auth stat. */
struct reply {
	uint32_t xid, stat, detail;
};

static bool next_reply(int fd, struct reply *rp)
{
	uint8_t buf[65536];
	uint32_t mark, len, vlen;

	if (!read_all(fd, buf, 4))
		return false;
	mark = get32(buf);
	len = mark & 0x7fffffff;
	if (len < 16 || len > sizeof(buf) || !read_all(fd, buf, len))
		return false;
	rp->xid = get32(buf);
	rp->stat = get32(buf + 8);
	if (rp->stat == MSG_DENIED) {
		rp->detail = get32(buf + 16);
		return true;
	}
	vlen = get32(buf + 16);
	if (20 + ((vlen + 3) & ~3u) + 4 > len)
		return false;
	rp->detail = get32(buf + 20 + ((vlen + 3) & ~3u));
	return true;
}

static size_t getattr_args(uint8_t *a, const nfs_fh3 *fh)
{
	return (size_t)(put_opaque(a, fh->data.data_val, fh->data.data_len) -
			a);
}

static void raw_tests(nfs_fh3 *root, nfs_fh3 *sysroot)
{
	CLIENT *n = client(NFS_PROGRAM, NFS_V3);
	struct authgss_private_data pd;
	struct raw r;
	uint8_t rec[4096], rec2[4096], args[512];
	size_t len, len2, alen;
	struct reply rp;
	struct sockaddr_in sa = server;

	CHECK(n != NULL, "raw: connected");
	if (!n)
		return;
	n->cl_auth = gss_auth(n, RPCSEC_GSS_SVC_INTEGRITY);
	CHECK(n->cl_auth && authgss_get_private_data(n->cl_auth, &pd),
	      "raw: a krb5i context to use by hand");
	if (!n->cl_auth)
		return;
	r.ctx = pd.pd_ctx;
	r.handle = pd.pd_ctx_hndl;
	r.seq = 100;
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(r.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		CHECK(0, "raw: connect: %s", strerror(errno));
		return;
	}
	alen = getattr_args(args, root);

	/* A call, answered; then the same bytes again and a new call: the
	 * first answer to come back must be the new call's. */
	len = build(rec, &r, 0x1001, r.seq, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1001 && rp.stat == MSG_ACCEPTED &&
		      rp.detail == SUCCESS,
	      "raw krb5i GETATTR: SUCCESS");
	len2 = build(rec2, &r, 0x1002, r.seq + 1, RPCSEC_GSS_SVC_INTEGRITY,
		     NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && send_all(r.fd, rec2, len2) &&
		      next_reply(r.fd, &rp) && rp.xid == 0x1002,
	      "replayed sequence number: dropped (next reply is 0x%x)",
	      rp.xid);

	/* Jump ahead, then a number below the window (128). */
	len = build(rec, &r, 0x1003, r.seq + 400, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	len2 = build(rec2, &r, 0x1004, r.seq + 2, RPCSEC_GSS_SVC_INTEGRITY,
		     NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1003 && rp.detail == SUCCESS,
	      "sequence number ahead within MAXSEQ: SUCCESS");
	len = build(rec, &r, 0x1005, r.seq + 401, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec2, len2) && send_all(r.fd, rec, len) &&
		      next_reply(r.fd, &rp) && rp.xid == 0x1005,
	      "sequence number below the window: dropped (next reply 0x%x)",
	      rp.xid);
	/* Within the window and not seen yet: accepted (out of order). */
	len = build(rec, &r, 0x1006, r.seq + 300, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1006 && rp.detail == SUCCESS,
	      "unseen number inside the window: SUCCESS");

	/* A byte of the integrity-protected arguments changed. */
	len = build(rec, &r, 0x1007, r.seq + 402, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	rec[body_off + 4 + 4 + 6] ^= 0x01; /* in the handle, under the MIC */
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1007 && rp.stat == MSG_ACCEPTED &&
		      rp.detail == GARBAGE_ARGS,
	      "tampered krb5i body: GARBAGE_ARGS (stat %u detail %u)",
	      rp.stat, rp.detail);
	/* A byte of the header (the procedure) changed: its MIC fails. */
	len = build(rec, &r, 0x1008, r.seq + 403, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	rec[4 + 23] = NFSPROC3_ACCESS;
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1008 && rp.stat == MSG_DENIED &&
		      rp.detail == RPCSEC_GSS_CREDPROBLEM,
	      "tampered header: AUTH_ERROR RPCSEC_GSS_CREDPROBLEM");
	/* An unknown context handle. */
	((uint8_t *)r.handle.value)[5] ^= 0xff;
	len = build(rec, &r, 0x1009, r.seq + 404, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	((uint8_t *)r.handle.value)[5] ^= 0xff;
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1009 && rp.stat == MSG_DENIED &&
		      rp.detail == RPCSEC_GSS_CREDPROBLEM,
	      "unknown handle: AUTH_ERROR RPCSEC_GSS_CREDPROBLEM");
	/* AUTH_SYS on an export that allows only krb5*. */
	len = build(rec, NULL, 0x100a, 0, 0, NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x100a && rp.stat == MSG_DENIED &&
		      rp.detail == AUTH_TOOWEAK,
	      "AUTH_SYS on a sec=krb5:krb5i:krb5p rule: AUTH_TOOWEAK");
	/* krb5i on an export whose rule allows only sys. */
	alen = getattr_args(args, sysroot);
	len = build(rec, &r, 0x100b, r.seq + 405, RPCSEC_GSS_SVC_INTEGRITY,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x100b && rp.stat == MSG_DENIED &&
		      rp.detail == AUTH_TOOWEAK,
	      "krb5i on a sec=sys rule: AUTH_TOOWEAK");
	len = build(rec, NULL, 0x100c, 0, 0, NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x100c && rp.stat == MSG_ACCEPTED &&
		      rp.detail == SUCCESS,
	      "AUTH_SYS on a sec=sys rule: SUCCESS");

	/* The other services by hand, and a tampered privacy body. */
	alen = getattr_args(args, root);
	len = build(rec, &r, 0x100d, r.seq + 406, RPCSEC_GSS_SVC_PRIVACY,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x100d && rp.stat == MSG_ACCEPTED &&
		      rp.detail == SUCCESS,
	      "raw krb5p GETATTR: SUCCESS");
	len = build(rec, &r, 0x100e, r.seq + 407, RPCSEC_GSS_SVC_PRIVACY,
		    NFSPROC3_GETATTR, args, alen);
	rec[body_off + 4 + 20] ^= 0x01; /* in the wrap token */
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x100e && rp.stat == MSG_ACCEPTED &&
		      rp.detail == GARBAGE_ARGS,
	      "tampered krb5p body: GARBAGE_ARGS");
	len = build(rec, &r, 0x100f, r.seq + 408, RPCSEC_GSS_SVC_NONE,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x100f && rp.stat == MSG_ACCEPTED &&
		      rp.detail == SUCCESS,
	      "raw krb5 GETATTR: SUCCESS");

	/* RPCSEC_GSS_DESTROY (to NULL), then the handle is unknown. */
	next_gss_proc = RPCSEC_GSS_DESTROY;
	len = build(rec, &r, 0x1010, r.seq + 409, RPCSEC_GSS_SVC_NONE, 0,
		    args, 0);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1010 && rp.stat == MSG_ACCEPTED &&
		      rp.detail == SUCCESS,
	      "RPCSEC_GSS_DESTROY: SUCCESS");
	len = build(rec, &r, 0x1011, r.seq + 410, RPCSEC_GSS_SVC_NONE,
		    NFSPROC3_GETATTR, args, alen);
	CHECK(send_all(r.fd, rec, len) && next_reply(r.fd, &rp) &&
		      rp.xid == 0x1011 && rp.stat == MSG_DENIED &&
		      rp.detail == RPCSEC_GSS_CREDPROBLEM,
	      "destroyed context: AUTH_ERROR RPCSEC_GSS_CREDPROBLEM");
	close(r.fd);
	authgss_free_private_data(&pd);
	auth_destroy(n->cl_auth);
	clnt_destroy(n);
}

/* MNT with AUTH_SYS, as the Linux client mounts: allowed, and it lists
 * the flavors the client must then use. */
static void mnt_sys(nfs_fh3 *sysroot)
{
	CLIENT *m = client(MOUNT_PROGRAM, MOUNT_V3);
	nfs_fh3 root = { { 0, NULL } };

	if (!m) {
		CHECK(0, "sys: connected");
		return;
	}
	m->cl_auth = authunix_create("gss-test", 0, 0, 0, NULL);
	mnt(m, &root, "AUTH_SYS");
	mnt_path(m, "/sysonly", sys_only, 2, sysroot, "AUTH_SYS");
	free(root.data.data_val);
	auth_destroy(m->cl_auth);
	clnt_destroy(m);
}

static int freeport(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 1;
	printf("%u\n", ntohs(sa.sin_port));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const rpc_gss_svc_t svcs[] = { RPCSEC_GSS_SVC_NONE,
					      RPCSEC_GSS_SVC_INTEGRITY,
					      RPCSEC_GSS_SVC_PRIVACY };
	nfs_fh3 root = { { 0, NULL } }, sysroot = { { 0, NULL } };

	if (argc == 2 && strcmp(argv[1], "freeport") == 0)
		return freeport();
	if (argc != 5) {
		fprintf(stderr, "usage: gss_client PORT TAG UID GID\n");
		return 99;
	}
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)atoi(argv[1]));
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (size_t i = 0; i < 3; i++)
		round_trip(svcs[i], argv[2], (uint32_t)atol(argv[3]),
			   (uint32_t)atol(argv[4]), &root);
	for (size_t i = 0; i < 3; i++)
		v4_lookup(svcs[i]);
	mnt_sys(&sysroot);
	if (root.data.data_val && sysroot.data.data_val)
		raw_tests(&root, &sysroot);
	free(root.data.data_val);
	free(sysroot.data.data_val);
	return tap_done();
}
