/*
 * nfs4proc.c - NFSv4.0/4.1/4.2 (RFC 7530, 8881, 7862), program 100003
 * version 4: the COMPOUND procedure, its operations and the pseudo file
 * system.  The attributes and shared codecs are in nfs4xdr.c, clients,
 * sessions, owners, stateids and leases in nfs4state.c.
 *
 * COMPOUND is processed as a stream: each operation's arguments are
 * decoded when its turn comes, by the decoder rpcgen generated from
 * xdr/nfs4_prot.x (RFC 7531, 5662, 7863: nfs_argop4), and its results
 * are encoded straight into the reply buffer after its status, by the
 * generated encoder of its result type.  Hand-written codecs remain
 * where they save a copy or where the RFCs' XDR leaves the layout to
 * the server: READ data go from the file to the socket buffer, WRITE
 * data are taken from the call record, and fattr4 values (opaque in the
 * XDR) are written in place by nfs4xdr.c, as are READDIR's entries that
 * carry them.  The first operation that fails ends the COMPOUND, and
 * its status is the COMPOUND's; the operations after it are never
 * decoded.
 *
 * File handles: a union object's handle is the engine's handle, the same
 * bytes NFSv3 uses, so a file has one handle whatever the protocol.  The
 * pseudo file system that leads from PUTROOTFH to every export has its
 * own handles: NFS4_PSEUDO_FH followed by the path below the root
 * ("" for the root, "a/b" for the directory leading to "/a/b/export").
 * The engine's handles start with its version byte 1, so the two never
 * collide.
 *
 * State (nfs4state.c) lives in memory; client ids and stateids carry
 * the server's boot time, so that a restart answers STALE_CLIENTID/
 * STALE_STATEID.  Byte-range locks go to the daemon's lock table
 * (locks.h).  An OPEN for write copies a lower file up at once.
 *
 * After a restart, clients recorded in the catalog reclaim during the
 * grace period (nfs4state.h).
 *
 * TODO: callbacks and delegations, 4.1's current stateid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gss.h"
#include "locks.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "nfs4acl.h"
#include "nfs4state.h"
#include "nfs4xdr.h"

/* ---- pseudo file system -------------------------------------------------- */

bool nfs4_export_v4(const struct srv_export *ex)
{
	unsigned v = ex->conf ? ex->conf->versions : 0;

	return v == 0 || (v & VERS_NFS4);
}

/* An export's path below the pseudo root: "/a/b" -> "a/b", "/" -> "". */
const char *nfs4_export_rel(const struct srv_export *ex)
{
	const char *n = ex->conf->u.name;

	while (*n == '/')
		n++;
	return n;
}

static struct srv_export *pseudo_export_at(struct server *srv,
					   const char *path)
{
	for (unsigned i = 0; i < srv->nexports; i++) {
		struct srv_export *ex = &srv->exports[i];

		if (nfs4_export_v4(ex) && !strcmp(nfs4_export_rel(ex), path))
			return ex;
	}
	return NULL;
}

/* Does path lead to some v4 export, i.e. is it a pseudo directory? */
static bool pseudo_is_dir(struct server *srv, const char *path)
{
	size_t n = strlen(path);

	if (n == 0)
		return true;
	for (unsigned i = 0; i < srv->nexports; i++) {
		const char *r = nfs4_export_rel(&srv->exports[i]);

		if (nfs4_export_v4(&srv->exports[i]) && !strncmp(r, path, n) &&
		    r[n] == '/')
			return true;
	}
	return false;
}

/* Make fh name the pseudo path, or the export mounted there. */
static int pseudo_enter(struct cstate *cs, const char *path, struct v4fh *fh)
{
	struct server *srv = cs->srv;
	struct srv_export *ex = pseudo_export_at(srv, path);

	memset(fh, 0, sizeof(*fh));
	if (ex != NULL) {
		/* private_upper=: the client's own view (server/view.c) */
		ex = server_view(cs->req, ex);
		if (ex == NULL)
			return NFS4ERR_SERVERFAULT;
		fh->ex = ex;
		fh->set = true;
		return nfs4_status(un_root(ex->ux, &fh->fh));
	}
	if (!pseudo_is_dir(srv, path) || strlen(path) >= NFS4_FHSIZE - 1)
		return NFS4ERR_NOENT;
	fh->pseudo = true;
	fh->set = true;
	snprintf(fh->path, sizeof(fh->path), "%s", path);
	return NFS4_OK;
}

uint64_t nfs4_pseudo_fileid(const char *path)
{
	uint64_t h = 1469598103934665603ull;

	for (; *path; path++)
		h = (h ^ (uint8_t)*path) * 1099511628211ull;
	return h | 1ull << 63; /* a pseudo directory, not a union object */
}

static void pseudo_attr(const struct server *srv, const char *path,
			struct un_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->type = UN_DIR;
	a->mode = 0555;
	a->nlink = 2;
	a->size = 4096;
	a->fileid = nfs4_pseudo_fileid(path);
	a->atime.tv_sec = (time_t)srv->boot_time;
	a->mtime = a->ctime = a->atime;
}

/* ---- file handles -------------------------------------------------------- */


static int fh_from_wire(struct cstate *cs, const uint8_t *p, u_int len,
			struct v4fh *fh)
{
	uint32_t id;

	memset(fh, 0, sizeof(*fh));
	if (len == 0 || len > NFS4_FHSIZE)
		return NFS4ERR_BADHANDLE;
	if (p[0] == NFS4_PSEUDO_FH) {
		memcpy(fh->path, p + 1, len - 1);
		fh->path[len - 1] = '\0';
		if (strlen(fh->path) != len - 1 ||
		    !pseudo_is_dir(cs->srv, fh->path))
			return NFS4ERR_STALE;
		fh->pseudo = true;
		fh->set = true;
		return NFS4_OK;
	}
	if (len > UN_HANDLE_MAX)
		return NFS4ERR_BADHANDLE;
	fh->fh.len = len;
	memcpy(fh->fh.data, p, len);
	if (un_handle_export_id(&fh->fh, &id) < 0)
		return NFS4ERR_BADHANDLE;
	fh->ex = server_export_of(cs->req, &fh->fh);
	if (fh->ex == NULL || !nfs4_export_v4(fh->ex))
		return NFS4ERR_STALE;
	fh->set = true;
	return NFS4_OK;
}

/* ---- security flavors (RFC 7530 3.2.1, RFC 8881 2.6.3.1) ---------------
 * An export's rule admitting the client names the RPC flavors (sec=)
 * and transports (xprtsec=) it takes; another one gets NFS4ERR_WRONGSEC,
 * which sends the client to SECINFO for the list.  The pseudo file
 * system takes every flavor and transport, as knfsd's V4ROOT export.
 */

static bool memchr_u32(const uint32_t *a, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] == v)
			return true;
	return false;
}

/* Does the rule admitting the client on fh's export take its flavor and
 * transport?  No rule: yes here, the operation then answers ACCESS. */
static bool nfs4_sec_ok(const struct cstate *cs, const struct v4fh *fh)
{
	const struct client_rule *r;

	if (!fh->set || fh->pseudo)
		return true;
	r = config_match_client(fh->ex->conf,
				(const struct sockaddr *)&cs->req->peer);
	return r == NULL || (server_sec_ok(r, cs->req->cred.flavor) &&
			     server_xprtsec_ok(r, cs->req));
}

/* SECINFO's lookups with a flavor the export refuses run as its
 * anonymous user: they may tell what exists, never more. */
static int nfs4_use_anon(struct cstate *cs, const struct v4fh *fh)
{
	const struct client_rule *r;

	r = config_match_client(fh->ex->conf,
				(const struct sockaddr *)&cs->req->peer);
	if (r == NULL)
		return NFS4ERR_ACCESS;
	memset(&cs->cred, 0, sizeof(cs->cred));
	cs->cred.uid = r->anonuid;
	cs->cred.gid = r->anongid;
	return NFS4_OK;
}

/*
 * Apply the export's client rules for an operation on the current
 * filehandle: fills cs->cred.  In the pseudo file system nothing may
 * change.  A flavor or transport the rule does not take is WRONGSEC
 * (knfsd's answer to both), except in SECINFO's lookups (cs->sec_lax).
 */
static int nfs4_use(struct cstate *cs, const struct v4fh *fh, bool modifying)
{
	if (!fh->set)
		return NFS4ERR_NOFILEHANDLE;
	if (fh->pseudo)
		return modifying ? NFS4ERR_ROFS : NFS4_OK;
	switch (server_access(fh->ex, cs->req, modifying, &cs->cred)) {
	case ACCESS_OK:
		return NFS4_OK;
	case ACCESS_ROFS:
		return NFS4ERR_ROFS;
	case ACCESS_WRONGSEC:
		if (cs->sec_lax && !modifying)
			return nfs4_use_anon(cs, fh);
		return NFS4ERR_WRONGSEC;
	case ACCESS_DENIED:
	default:
		return NFS4ERR_ACCESS;
	}
}

int nfs4_getattr(struct cstate *cs, const struct v4fh *fh,
			struct un_attr *a)
{
	if (fh->pseudo) {
		pseudo_attr(cs->srv, fh->path, a);
		return NFS4_OK;
	}
	return nfs4_status(un_getattr(fh->ex->ux, &fh->fh, a));
}

/* The current filehandle must name a directory. */
static int need_dir(struct cstate *cs, const struct v4fh *fh)
{
	struct un_attr a;
	int st;

	if (!fh->set)
		return NFS4ERR_NOFILEHANDLE;
	if (fh->pseudo)
		return NFS4_OK;
	st = nfs4_getattr(cs, fh, &a);
	if (st == NFS4_OK && a.type != UN_DIR)
		st = a.type == UN_LNK ? NFS4ERR_SYMLINK : NFS4ERR_NOTDIR;
	return st;
}

bool nfs4_is_export_root(const struct v4fh *fh)
{
	struct un_handle root;

	return !fh->pseudo && un_root(fh->ex->ux, &root) == 0 &&
	       root.len == fh->fh.len &&
	       !memcmp(root.data, fh->fh.data, root.len);
}


/* The state's name for the file the current filehandle names. */
static int cur_file(struct cstate *cs, struct nfs4_file *f)
{
	memset(f, 0, sizeof(*f));
	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	if (cs->cur.pseudo)
		return NFS4ERR_ISDIR;
	f->export_id = cs->cur.ex->id;
	f->fh = cs->cur.fh;
	return NFS4_OK;
}

/* ---- operations ----------------------------------------------------------
 * Each gets its arguments decoded by the generated nfs_argop4 decoder
 * (run_op frees them after it) and, on success, encodes its results after
 * the status into cs->r with the generated encoder of its resok type; it
 * returns the status.
 */

static int op_putrootfh(struct cstate *cs, nfs_argop4 *arg)
{
	(void)arg;
	return pseudo_enter(cs, "", &cs->cur);
}

static int op_putfh(struct cstate *cs, nfs_argop4 *arg)
{
	const nfs_fh4 *fh = &arg->nfs_argop4_u.opputfh.object;

	return fh_from_wire(cs, (const uint8_t *)fh->nfs_fh4_val,
			    fh->nfs_fh4_len, &cs->cur);
}

static int op_getfh(struct cstate *cs, nfs_argop4 *arg)
{
	char buf[NFS4_FHSIZE];
	GETFH4resok res;

	(void)arg;
	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	fh_wire(&cs->cur, &res.object, buf);
	ENC(xdr_GETFH4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_savefh(struct cstate *cs, nfs_argop4 *arg)
{
	(void)arg;
	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	cs->saved = cs->cur;
	return NFS4_OK;
}

static int op_restorefh(struct cstate *cs, nfs_argop4 *arg)
{
	(void)arg;
	if (!cs->saved.set)
		return NFS4ERR_RESTOREFH;
	cs->cur = cs->saved;
	return NFS4_OK;
}

/* GETATTR4resok is a fattr4, whose values efattr writes in place. */
static int op_getattr(struct cstate *cs, nfs_argop4 *arg)
{
	uint32_t bm[NFS4_BITMAP_WORDS];
	struct v4obj o;
	int st;

	bitmap_words(&arg->nfs_argop4_u.opgetattr.attr_request, bm);
	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK)
		st = obj_load(cs, &cs->cur, &o);
	if (st != NFS4_OK)
		return st;
	ENC(efattr(cs, cs->r, &o, bm));
	return NFS4_OK;
}

/* VERIFY and NVERIFY: compare the client's fattr4 with ours. */
static int verify(struct cstate *cs, const fattr4 *theirs, bool want_same)
{
	uint32_t bm[NFS4_BITMAP_WORDS];
	char ours[NFS4_BOUND_ATTRLIST + 64];
	u_int olen, len = theirs->attr_vals.attrlist4_len;
	struct v4obj o;
	XDR x;
	int st;
	bool ok;

	bitmap_words(&theirs->attrmask, bm);
	if (bm[2] || (bm64(bm) & ~nfs4_attrs(nfs4_readable, cs->minor)))
		return NFS4ERR_ATTRNOTSUPP;
	if (bm64(bm) & NFS4_BIT(A_RDATTR_ERROR))
		return NFS4ERR_INVAL;
	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK)
		st = obj_load(cs, &cs->cur, &o);
	if (st != NFS4_OK)
		return st;
	xdrmem_create(&x, ours, sizeof(ours), XDR_ENCODE);
	ok = efattr(cs, &x, &o, bm);
	olen = xdr_getpos(&x);
	xdr_destroy(&x);
	if (!ok)
		return NFS4ERR_RESOURCE;
	/* ours = bitmap (12 bytes) + length (4) + values */
	ok = olen - 16 == len &&
	     !memcmp(ours + 16, opaque_bytes(theirs->attr_vals.attrlist4_val),
		     len);
	if (ok == want_same)
		return NFS4_OK;
	return want_same ? NFS4ERR_NOT_SAME : NFS4ERR_SAME;
}

static int op_verify(struct cstate *cs, nfs_argop4 *arg)
{
	return verify(cs, &arg->nfs_argop4_u.opverify.obj_attributes, true);
}

static int op_nverify(struct cstate *cs, nfs_argop4 *arg)
{
	return verify(cs, &arg->nfs_argop4_u.opnverify.obj_attributes,
		      false);
}

static int op_access(struct cstate *cs, nfs_argop4 *arg)
{
	ACCESS4resok res = { 0, 0 };
	int st;

	res.supported = arg->nfs_argop4_u.opaccess.access & 0x3f;
	st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cs->cur.pseudo)
		res.access = res.supported & (UN_ACCESS_READ |
					      UN_ACCESS_LOOKUP |
					      UN_ACCESS_EXECUTE);
	else
		st = nfs4_status(un_access(cs->cur.ex->ux, &cs->cred,
					   &cs->cur.fh, res.supported,
					   &res.access, NULL));
	if (st != NFS4_OK)
		return st;
	ENC(xdr_ACCESS4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_lookup(struct cstate *cs, nfs_argop4 *arg)
{
	struct comp4 name;
	struct v4fh nfh;
	char path[NFS4_FHSIZE + NFS4_OPAQUE_MAX + 2];
	int st;

	comp_take(&arg->nfs_argop4_u.oplookup.objname, &name);
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = comp_check(&name);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cs->cur.pseudo) {
		snprintf(path, sizeof(path), "%s%s%s", cs->cur.path,
			 cs->cur.path[0] ? "/" : "", name.s);
		st = pseudo_enter(cs, path, &nfh);
		if (st == NFS4_OK)
			cs->cur = nfh;
		return st;
	}
	nfh = cs->cur;
	st = nfs4_status(un_lookup(cs->cur.ex->ux, &cs->cred, &cs->cur.fh,
				   name.s, &nfh.fh, NULL, NULL));
	if (st == NFS4_OK)
		cs->cur = nfh;
	return st;
}

static int op_lookupp(struct cstate *cs, nfs_argop4 *arg)
{
	struct v4fh nfh;
	char path[NFS4_FHSIZE];
	char *slash;
	int st;

	(void)arg;
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cs->cur.pseudo || nfs4_is_export_root(&cs->cur)) {
		snprintf(path, sizeof(path), "%s",
			 cs->cur.pseudo ? cs->cur.path
					: nfs4_export_rel(cs->cur.ex));
		if (path[0] == '\0')
			return NFS4ERR_NOENT;
		slash = strrchr(path, '/');
		if (slash)
			*slash = '\0';
		else
			path[0] = '\0';
		memset(&nfh, 0, sizeof(nfh));
		nfh.pseudo = nfh.set = true;
		snprintf(nfh.path, sizeof(nfh.path), "%s", path);
		cs->cur = nfh;
		return NFS4_OK;
	}
	nfh = cs->cur;
	st = nfs4_status(un_lookup_parent(cs->cur.ex->ux, &cs->cred,
					  &cs->cur.fh, &nfh.fh, NULL));
	if (st == NFS4_OK)
		cs->cur = nfh;
	return st;
}

static int op_putpubfh(struct cstate *cs, nfs_argop4 *arg)
{
	return op_putrootfh(cs, arg);
}

static int op_readlink(struct cstate *cs, nfs_argop4 *arg)
{
	char buf[UN_PATH_MAX + 1];
	READLINK4resok res;
	int n, st;

	(void)arg;
	st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cs->cur.pseudo)
		return NFS4ERR_INVAL;
	n = un_readlink(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, buf,
			sizeof(buf), NULL);
	if (n == -EINVAL)
		return NFS4ERR_INVAL; /* not a symlink */
	if (n < 0)
		return nfs4_status(n);
	res.link.linktext4_len = (u_int)n;
	res.link.linktext4_val = buf;
	ENC(xdr_READLINK4resok(cs->r, &res));
	return NFS4_OK;
}

/* May READ/WRITE/SETATTR(size) use this stateid on the current file? */
static int io_stateid(struct cstate *cs, const stateid4 *sid, uint32_t want)
{
	struct nfs4_file f;
	int st = cur_file(cs, &f);

	if (st == NFS4_OK)
		st = nfs4_stateid_io(cs->minor, sid, &f, want);
	return st;
}

/*
 * READ4resok is hand-coded: eof and the data's length precede the data,
 * which is read from the file straight into the reply; they are filled
 * in after.
 */
static int op_read(struct cstate *cs, nfs_argop4 *arg)
{
	const READ4args *a = &arg->nfs_argop4_u.opread;
	uint32_t count = a->count, *hdr;
	u_int pos;
	uint8_t *data;
	ssize_t n;
	bool eof = false;
	int st;

	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &a->stateid, SHARE_READ);
	if (st != NFS4_OK)
		return st;
	if (count > NFS4_MAXIO)
		count = NFS4_MAXIO;
	pos = xdr_getpos(cs->r);
	hdr = xinline(cs->r, 8);
	data = hdr ? xinline(cs->r, XDR_ROUNDUP(count)) : NULL;
	if (data == NULL)
		return NFS4ERR_REP_TOO_BIG;
	n = un_read(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, a->offset, count,
		    data, &eof, NULL);
	if (n < 0) {
		if (!xdr_setpos(cs->r, pos))
			return NFS4ERR_SERVERFAULT;
		return n == -EISDIR ? NFS4ERR_ISDIR : nfs4_status((int)n);
	}
	hdr[0] = htonl(eof);
	hdr[1] = htonl((uint32_t)n);
	memset(data + n, 0, XDR_ROUNDUP((size_t)n) - (size_t)n);
	if (!xdr_setpos(cs->r, pos + 8 + XDR_ROUNDUP((u_int)n)))
		return NFS4ERR_SERVERFAULT;
	return NFS4_OK;
}

/*
 * WRITE4args is hand-decoded (run_op leaves it alone): the generated
 * decoder would copy the data out of the call record; here they are
 * written to the file from where they arrived.  The fields before the
 * data use the generated decoders.
 */
struct write_args {
	stateid4 stateid;
	offset4 offset;
	stable_how4 stable;
	uint32_t len;
	const void *data;
};

static bool dwrite(XDR *x, struct write_args *w)
{
	if (!xdr_stateid4(x, &w->stateid) || !xdr_offset4(x, &w->offset) ||
	    !xdr_stable_how4(x, &w->stable) || !d32(x, &w->len))
		return false;
	/* Its padding would wrap to 0 and xinline would take 0 bytes for
	 * 4 GB (fuzz/corpus/nfs4/crash-write-len-wraps). */
	if (w->len > NFS4_BOUND_DATA)
		return false;
	w->data = NULL;
	if (w->len > 0)
		w->data = xinline(x, XDR_ROUNDUP(w->len));
	return w->len == 0 || w->data != NULL;
}

static int op_write(struct cstate *cs, nfs_argop4 *arg)
{
	struct write_args w;
	enum un_stable committed;
	WRITE4resok res;
	ssize_t n;
	int st;

	(void)arg;
	memset(&w, 0, sizeof(w));
	if (!dwrite(cs->a, &w))
		return NFS4ERR_BADXDR;
	st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &w.stateid, SHARE_WRITE);
	if (st != NFS4_OK)
		return st;
	if ((uint32_t)w.stable > UN_FILE_SYNC)
		return NFS4ERR_INVAL;
	n = un_write(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, w.offset, w.data,
		     w.len, (enum un_stable)w.stable, &committed, NULL);
	if (n < 0)
		return nfs4_status((int)n);
	res.count = (count4)n;
	res.committed = (stable_how4)committed;
	memcpy(res.writeverf, cs->srv->write_verf, NFS4_VERIFIER_SIZE);
	ENC(xdr_WRITE4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_commit(struct cstate *cs, nfs_argop4 *arg)
{
	COMMIT4resok res;
	int st;

	(void)arg; /* the whole file is committed */
	st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = nfs4_status(un_commit(cs->cur.ex->ux, &cs->cred,
					   &cs->cur.fh, NULL));
	if (st != NFS4_OK)
		return st;
	memcpy(res.writeverf, cs->srv->write_verf, NFS4_VERIFIER_SIZE);
	ENC(xdr_COMMIT4resok(cs->r, &res));
	return NFS4_OK;
}

/* ---- 4.2 sparse files (RFC 7862 section 15) ------------------------ */

/* ALLOCATE and DEALLOCATE: the same arguments, checked like a WRITE. */
static int allocate(struct cstate *cs, const stateid4 *sid, uint64_t off,
		    uint64_t len, bool punch)
{
	int st = nfs4_use(cs, &cs->cur, true);

	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, sid, SHARE_WRITE);
	if (st != NFS4_OK)
		return st;
	return nfs4_status(un_allocate(cs->cur.ex->ux, &cs->cred, &cs->cur.fh,
				       off, len, punch));
}

static int op_allocate(struct cstate *cs, nfs_argop4 *arg)
{
	const ALLOCATE4args *a = &arg->nfs_argop4_u.opallocate;

	return allocate(cs, &a->aa_stateid, a->aa_offset, a->aa_length,
			false);
}

static int op_deallocate(struct cstate *cs, nfs_argop4 *arg)
{
	const DEALLOCATE4args *a = &arg->nfs_argop4_u.opdeallocate;

	return allocate(cs, &a->da_stateid, a->da_offset, a->da_length, true);
}

static int op_seek(struct cstate *cs, nfs_argop4 *arg)
{
	const SEEK4args *a = &arg->nfs_argop4_u.opseek;
	seek_res4 res;
	uint64_t off;
	bool eof;
	int st;

	if (a->sa_what != NFS4_CONTENT_DATA && a->sa_what != NFS4_CONTENT_HOLE)
		return NFS4ERR_UNION_NOTSUPP;
	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &a->sa_stateid, SHARE_READ);
	if (st == NFS4_OK)
		st = nfs4_status(un_seek(cs->cur.ex->ux, &cs->cred,
					 &cs->cur.fh, a->sa_offset,
					 a->sa_what == NFS4_CONTENT_HOLE, &off,
					 &eof));
	if (st != NFS4_OK)
		return st;
	res.sr_eof = eof;
	res.sr_offset = off;
	ENC(xdr_seek_res4(cs->r, &res));
	return NFS4_OK;
}

/* nfs4acl_set()'s errors: ACEs that POSIX ACLs cannot say are
 * ATTRNOTSUPP, as knfsd answers. */
static int acl_status(int err)
{
	return err == -EINVAL ? NFS4ERR_ATTRNOTSUPP : nfs4_status(err);
}

/*
 * The ACL given to a new object (CREATE, OPEN): if it cannot be set, the
 * object stays as made and the acl bit leaves attrset, as knfsd does.
 */
static void new_obj_acl(struct cstate *cs, const struct un_handle *fh,
			const struct nfs4acl *acl, uint64_t *bits)
{
	if ((*bits & NFS4_ACL_ATTRS) &&
	    nfs4acl_set(cs->cur.ex->ux, &cs->cred, fh, acl, NULL) < 0)
		*bits &= ~NFS4_ACL_ATTRS;
}

/* SETATTR4res's attrsset follows the status whatever it is. */
static int op_setattr(struct cstate *cs, nfs_argop4 *arg)
{
	const SETATTR4args *a = &arg->nfs_argop4_u.opsetattr;
	struct nfs4acl acl;
	struct un_sattr sa;
	uint64_t bits = 0;
	bool set_acl;
	int st;

	cs->keep_body = true;
	st = dfattr_set(cs, &a->obj_attributes, &sa, &acl, &bits);
	if (st == NFS4ERR_BADXDR)
		cs->keep_body = false;
	set_acl = bits & NFS4_ACL_ATTRS;
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && (sa.mask & UN_SET_SIZE))
		st = io_stateid(cs, &a->stateid, SHARE_WRITE);
	/* the mode first, then the ACL (whose mask the mode would change),
	 * as knfsd's nfsd4_setattr */
	if (st == NFS4_OK && (sa.mask || !set_acl))
		st = nfs4_status(un_setattr(cs->cur.ex->ux, &cs->cred,
					    &cs->cur.fh, &sa, NULL, NULL));
	if (st == NFS4_OK && set_acl)
		st = acl_status(nfs4acl_set(cs->cur.ex->ux, &cs->cred,
					    &cs->cur.fh, &acl, NULL));
	nfs4acl_free(&acl);
	if (cs->keep_body && !ebitmap(cs->r, st == NFS4_OK ? bits : 0)) {
		cs->keep_body = false;
		return NFS4ERR_REP_TOO_BIG;
	}
	return st;
}

/* Common start of ops that change the directory cs->cur. */
static int dir_change(struct cstate *cs, const struct comp4 *name)
{
	int st = need_dir(cs, &cs->cur);

	if (st == NFS4_OK && name)
		st = comp_check(name);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, true);
	return st;
}

/* What CREATE makes, by type; the new object's handle in nfh->fh. */
static int create_obj(struct cstate *cs, const createtype4 *t,
		      const struct comp4 *name, const struct un_sattr *sa,
		      struct v4fh *nfh, struct un_wcc *wcc)
{
	const linktext4 *ln = &t->createtype4_u.linkdata;
	const specdata4 *dev = &t->createtype4_u.devdata;
	struct un_export *ux = cs->cur.ex->ux;
	char target[UN_PATH_MAX + 1];

	switch (t->type) {
	case NF4DIR:
		return un_mkdir(ux, &cs->cred, &cs->cur.fh, name->s, sa,
				&nfh->fh, NULL, wcc);
	case NF4LNK:
		if (ln->linktext4_len > UN_PATH_MAX)
			return -ENAMETOOLONG;
		if (ln->linktext4_len == 0 ||
		    memchr(ln->linktext4_val, '\0', ln->linktext4_len))
			return -EINVAL;
		memcpy(target, ln->linktext4_val, ln->linktext4_len);
		target[ln->linktext4_len] = '\0';
		return un_symlink(ux, &cs->cred, &cs->cur.fh, name->s, target,
				  sa, &nfh->fh, NULL, wcc);
	case NF4BLK:
	case NF4CHR:
	case NF4SOCK:
	case NF4FIFO:
		/* nfs_ftype4 and enum un_type number these alike */
		return un_mknod(ux, &cs->cred, &cs->cur.fh, name->s,
				(enum un_type)t->type,
				t->type <= NF4CHR ? dev->specdata1 : 0,
				t->type <= NF4CHR ? dev->specdata2 : 0, sa,
				&nfh->fh, NULL, wcc);
	default:
		return -EINVAL; /* not reached: op_create checked the type */
	}
}

static bool create_type_ok(nfs_ftype4 t)
{
	return t == NF4DIR || t == NF4LNK || t == NF4BLK || t == NF4CHR ||
	       t == NF4SOCK || t == NF4FIFO;
}

static int op_create(struct cstate *cs, nfs_argop4 *arg)
{
	const CREATE4args *a = &arg->nfs_argop4_u.opcreate;
	u_int words[2];
	CREATE4resok res;
	struct nfs4acl acl;
	struct comp4 name;
	struct un_sattr sa;
	struct un_wcc wcc;
	struct v4fh nfh;
	uint64_t bits;
	int st;

	if (a->objtype.type == NF4LNK &&
	    a->objtype.createtype4_u.linkdata.linktext4_len > UN_PATH_MAX)
		return NFS4ERR_NAMETOOLONG;
	comp_take(&a->objname, &name);
	st = dfattr_set(cs, &a->createattrs, &sa, &acl, &bits);
	if (st == NFS4_OK)
		st = dir_change(cs, &name);
	if (st == NFS4_OK && !create_type_ok(a->objtype.type))
		st = NFS4ERR_BADTYPE;
	memset(&wcc, 0, sizeof(wcc));
	nfh = cs->cur;
	if (st == NFS4_OK)
		st = nfs4_status(create_obj(cs, &a->objtype, &name, &sa, &nfh,
					    &wcc));
	if (st == NFS4_OK)
		new_obj_acl(cs, &nfh.fh, &acl, &bits);
	nfs4acl_free(&acl);
	if (st != NFS4_OK)
		return st;
	cs->cur = nfh;
	cinfo(&res.cinfo, &wcc);
	words[0] = (uint32_t)bits;
	words[1] = (uint32_t)(bits >> 32);
	res.attrset.bitmap4_len = 2;
	res.attrset.bitmap4_val = words;
	ENC(xdr_CREATE4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_remove(struct cstate *cs, nfs_argop4 *arg)
{
	struct comp4 name;
	struct un_handle fh;
	struct un_attr a;
	struct un_wcc wcc;
	REMOVE4resok res;
	int st;

	comp_take(&arg->nfs_argop4_u.opremove.target, &name);
	st = dir_change(cs, &name);
	if (st != NFS4_OK)
		return st;
	memset(&wcc, 0, sizeof(wcc));
	st = un_lookup(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, name.s, &fh,
		       &a, NULL);
	if (st == 0 && a.type == UN_DIR)
		st = un_rmdir(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, name.s,
			      &wcc);
	else if (st == 0)
		st = un_remove(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, name.s,
			       &wcc);
	st = nfs4_status(st);
	if (st != NFS4_OK)
		return st;
	cinfo(&res.cinfo, &wcc);
	ENC(xdr_REMOVE4resok(cs->r, &res));
	return NFS4_OK;
}

/* RENAME and LINK take the saved filehandle too, in the same export. */
static int two_dirs(struct cstate *cs)
{
	if (!cs->saved.set || !cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	if (cs->saved.pseudo || cs->cur.pseudo)
		return cs->saved.pseudo == cs->cur.pseudo ? NFS4ERR_ROFS
							  : NFS4ERR_XDEV;
	if (cs->saved.ex != cs->cur.ex)
		return NFS4ERR_XDEV;
	return NFS4_OK;
}

static int op_rename(struct cstate *cs, nfs_argop4 *arg)
{
	struct comp4 from, to;
	struct un_wcc fw, tw;
	RENAME4resok res;
	int st;

	comp_take(&arg->nfs_argop4_u.oprename.oldname, &from);
	comp_take(&arg->nfs_argop4_u.oprename.newname, &to);
	st = two_dirs(cs);
	if (st == NFS4_OK)
		st = need_dir(cs, &cs->saved);
	if (st == NFS4_OK)
		st = comp_check(&from);
	if (st == NFS4_OK)
		st = dir_change(cs, &to);
	if (st != NFS4_OK)
		return st;
	memset(&fw, 0, sizeof(fw));
	memset(&tw, 0, sizeof(tw));
	st = nfs4_status(un_rename(cs->cur.ex->ux, &cs->cred, &cs->saved.fh,
				   from.s, &cs->cur.fh, to.s, &fw, &tw));
	if (st != NFS4_OK)
		return st;
	cinfo(&res.source_cinfo, &fw);
	cinfo(&res.target_cinfo, &tw);
	ENC(xdr_RENAME4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_link(struct cstate *cs, nfs_argop4 *arg)
{
	struct comp4 name;
	struct un_wcc wcc;
	LINK4resok res;
	int st;

	comp_take(&arg->nfs_argop4_u.oplink.newname, &name);
	st = two_dirs(cs);
	if (st == NFS4_OK)
		st = dir_change(cs, &name);
	if (st != NFS4_OK)
		return st;
	memset(&wcc, 0, sizeof(wcc));
	st = nfs4_status(un_link(cs->cur.ex->ux, &cs->cred, &cs->saved.fh,
				 &cs->cur.fh, name.s, NULL, &wcc));
	if (st != NFS4_OK)
		return st;
	cinfo(&res.cinfo, &wcc);
	ENC(xdr_LINK4resok(cs->r, &res));
	return NFS4_OK;
}

/* ---- READDIR ---- */

struct rd_ctx {
	struct cstate *cs;
	XDR *r;
	uint32_t bm[NFS4_BITMAP_WORDS];
	u_int limit; /* reply position not to pass */
	unsigned n;
	int st;
};

static bool rd_entry(struct rd_ctx *rc, uint64_t cookie, const char *name,
		     struct v4obj *o)
{
	u_int pos = xdr_getpos(rc->r);
	component4 nm = { .utf8string_len = (u_int)strlen(name),
			  .utf8string_val = (char *)(uintptr_t)name };
	bool_t more = TRUE;

	/* Room for the closing "no more entries" and eof too. */
	if (xdr_bool(rc->r, &more) && xdr_nfs_cookie4(rc->r, &cookie) &&
	    xdr_component4(rc->r, &nm) && efattr(rc->cs, rc->r, o, rc->bm) &&
	    xdr_getpos(rc->r) + 8 <= rc->limit) {
		rc->n++;
		return true;
	}
	if (!xdr_setpos(rc->r, pos))
		rc->st = NFS4ERR_SERVERFAULT;
	return false;
}

static int rd_cb(void *arg, const struct un_dirent *de)
{
	struct rd_ctx *rc = arg;
	struct v4fh fh;
	struct v4obj o;

	if (!strcmp(de->name, ".") || !strcmp(de->name, ".."))
		return 0;
	memset(&o, 0, sizeof(o));
	fh = rc->cs->cur;
	if (de->fh)
		fh.fh = *de->fh;
	o.fh = &fh;
	o.ex = fh.ex;
	if (de->attr)
		o.attr = *de->attr;
	else
		o.attr.fileid = de->fileid;
	return rd_entry(rc, de->cookie, de->name, &o) ? 0 : 1;
}

/* The child of pseudo directory dir (length dlen) leading to export ex. */
static bool pseudo_child(const struct srv_export *ex, const char *dir,
			 size_t dlen, char name[NFS4_FHSIZE])
{
	const char *r = nfs4_export_rel(ex), *end;

	if (!nfs4_export_v4(ex))
		return false;
	if (dlen && (strncmp(r, dir, dlen) || r[dlen] != '/'))
		return false;
	r += dlen + (dlen ? 1 : 0);
	end = strchr(r, '/');
	snprintf(name, NFS4_FHSIZE, "%.*s",
		 (int)(end ? (size_t)(end - r) : strlen(r)), r);
	return name[0] != '\0';
}

/* The pseudo directory's children, cookies 3, 4, ... in export order. */
static int rd_pseudo(struct rd_ctx *rc, uint64_t cookie, bool *eof)
{
	struct server *srv = rc->cs->srv;
	const char *dir = rc->cs->cur.path;
	size_t dlen = strlen(dir);

	*eof = true;
	for (unsigned i = 0; i < srv->nexports; i++) {
		char name[NFS4_FHSIZE], other[NFS4_FHSIZE];
		char path[2 * NFS4_FHSIZE];
		struct v4fh fh;
		struct v4obj o;
		bool dup = false;

		if (i + 3 <= cookie ||
		    !pseudo_child(&srv->exports[i], dir, dlen, name))
			continue;
		/* several exports below one child: list it once */
		for (unsigned j = 0; j < i && !dup; j++)
			dup = pseudo_child(&srv->exports[j], dir, dlen, other) &&
			      !strcmp(name, other);
		if (dup)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", dir, dlen ? "/" : "",
			 name);
		if (pseudo_enter(rc->cs, path, &fh) != NFS4_OK ||
		    obj_load(rc->cs, &fh, &o) != NFS4_OK)
			continue;
		if (!rd_entry(rc, i + 3, name, &o)) {
			*eof = false;
			break;
		}
	}
	return rc->st;
}

/*
 * READDIR4resok is hand-coded: its entries carry fattr4s, whose values
 * efattr writes in place, and stop where maxcount says; each entry's
 * fixed fields use the generated encoders.
 */
static int op_readdir(struct cstate *cs, nfs_argop4 *arg)
{
	const READDIR4args *a = &arg->nfs_argop4_u.opreaddir;
	uint64_t verf, verf_out = 0;
	uint32_t maxcount = a->maxcount, *verfp;
	struct rd_ctx rc;
	u_int pos;
	bool eof = false;
	int st;

	memset(&rc, 0, sizeof(rc));
	bitmap_words(&a->attr_request, rc.bm);
	memcpy(&verf, a->cookieverf, sizeof(verf));
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (a->cookie == 1 || a->cookie == 2)
		return NFS4ERR_BAD_COOKIE;
	rc.cs = cs;
	rc.r = cs->r;
	pos = xdr_getpos(cs->r);
	if (maxcount > NFS4_MAXIO)
		maxcount = NFS4_MAXIO;
	rc.limit = pos + maxcount;
	verfp = xinline(cs->r, 8);
	if (verfp == NULL)
		return NFS4ERR_REP_TOO_BIG;
	if (cs->cur.pseudo) {
		st = rd_pseudo(&rc, a->cookie, &eof);
	} else {
		st = nfs4_status(un_readdir(cs->cur.ex->ux, &cs->cred,
					    &cs->cur.fh, a->cookie, verf, true,
					    rd_cb, &rc, &verf_out, &eof, NULL));
		if (st == NFS4_OK)
			st = rc.st;
	}
	if (st == NFS4_OK && rc.n == 0 && !eof)
		st = NFS4ERR_TOOSMALL;
	if (st == NFS4_OK && !(e32(cs->r, 0) && e32(cs->r, eof)))
		st = NFS4ERR_REP_TOO_BIG;
	if (st != NFS4_OK) {
		if (!xdr_setpos(cs->r, pos))
			return NFS4ERR_SERVERFAULT;
		return st;
	}
	memcpy(verfp, &verf_out, 8);
	return NFS4_OK;
}

/*
 * The pseudo file system takes every flavor; a pseudo directory lists
 * those of the exports below it that the client may use (as mountd
 * gives knfsd's V4ROOT entries), so that whatever it picks gets it
 * somewhere.  AUTH_SYS when none admits it.
 */
static unsigned pseudo_flavors(struct cstate *cs, const char *path,
			       uint32_t f[SEC_MAX])
{
	size_t plen = strlen(path);
	uint32_t ef[SEC_MAX];
	unsigned n = 0, en, i, j;
	const char *rel;

	for (i = 0; i < cs->srv->nexports; i++) {
		rel = nfs4_export_rel(&cs->srv->exports[i]);
		if (!nfs4_export_v4(&cs->srv->exports[i]) ||
		    (plen && (strncmp(rel, path, plen) || rel[plen] != '/')))
			continue;
		en = server_sec_flavors(&cs->srv->exports[i], cs->req, ef);
		for (j = 0; j < en; j++)
			if (n < SEC_MAX && !memchr_u32(f, n, ef[j]))
				f[n++] = ef[j];
	}
	if (n == 0)
		f[n++] = AUTH_SYS;
	return n;
}

/* The flavors of the export fh lives in, or of the pseudo file system;
 * 0: no rule admits the client. */
static unsigned fh_flavors(struct cstate *cs, const struct v4fh *fh,
			   uint32_t f[SEC_MAX])
{
	if (fh->pseudo)
		return pseudo_flavors(cs, fh->path, f);
	return server_sec_flavors(fh->ex, cs->req, f);
}

/*
 * SECINFO4resok: AUTH_SYS as itself, a Kerberos pseudo-flavor as
 * RPCSEC_GSS with the krb5 mechanism and its service (RFC 7530 3.2.1),
 * in the rule's order.  SECINFO and SECINFO_NO_NAME consume the current
 * filehandle (RFC 8881 2.6.3.1.1.8).
 */
static int esecinfo(struct cstate *cs, const uint32_t *f, unsigned n)
{
	secinfo4 si[SEC_MAX];
	SECINFO4resok res = { .SECINFO4resok_len = n,
			      .SECINFO4resok_val = si };
	rpcsec_gss_info *gi;

	if (n == 0)
		return NFS4ERR_ACCESS;
	memset(si, 0, sizeof(si));
	for (unsigned i = 0; i < n; i++) {
		gi = &si[i].secinfo4_u.flavor_info;
		si[i].flavor = f[i];
		if (!gss_flavor_service(f[i]))
			continue;
		si[i].flavor = RPCSEC_GSS;
		gi->oid.sec_oid4_len = sizeof(gss_krb5_oid);
		gi->oid.sec_oid4_val = (char *)(uintptr_t)gss_krb5_oid;
		gi->qop = 0;
		gi->service = (rpc_gss_svc4)gss_flavor_service(f[i]);
	}
	cs->cur.set = false;
	ENC(xdr_SECINFO4resok(cs->r, &res));
	return NFS4_OK;
}

/* SECINFO: the flavors of name in the current directory. */
static int op_secinfo(struct cstate *cs, nfs_argop4 *arg)
{
	char path[NFS4_FHSIZE + NFS4_OPAQUE_MAX + 2];
	uint32_t f[SEC_MAX];
	struct comp4 name;
	struct v4fh nfh;
	int st;

	comp_take(&arg->nfs_argop4_u.opsecinfo.name, &name);
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = comp_check(&name);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cs->cur.pseudo) {
		snprintf(path, sizeof(path), "%s%s%s", cs->cur.path,
			 cs->cur.path[0] ? "/" : "", name.s);
		st = pseudo_enter(cs, path, &nfh);
	} else {
		nfh = cs->cur;
		st = nfs4_status(un_lookup(cs->cur.ex->ux, &cs->cred,
					   &cs->cur.fh, name.s, &nfh.fh, NULL,
					   NULL));
	}
	if (st != NFS4_OK)
		return st;
	return esecinfo(cs, f, fh_flavors(cs, &nfh, f));
}

/* ---- client ids (4.0) ---- */

static int op_setclientid(struct cstate *cs, nfs_argop4 *arg)
{
	const nfs_client_id4 *c = &arg->nfs_argop4_u.opsetclientid.client;
	SETCLIENTID4resok res;
	uint8_t confirm[NFS4_VERIFIER_SIZE];
	uint64_t id;
	int st;

	/* the callback address is not kept: no delegations are given */
	st = nfs4_setclientid((const uint8_t *)c->verifier,
			      opaque_bytes(c->id.id_val), c->id.id_len, &id,
			      confirm);
	if (st != NFS4_OK)
		return st;
	res.clientid = id;
	memcpy(res.setclientid_confirm, confirm, sizeof(confirm));
	ENC(xdr_SETCLIENTID4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_setclientid_confirm(struct cstate *cs, nfs_argop4 *arg)
{
	const SETCLIENTID_CONFIRM4args *a =
		&arg->nfs_argop4_u.opsetclientid_confirm;

	(void)cs;
	return nfs4_setclientid_confirm(
		a->clientid, (const uint8_t *)a->setclientid_confirm);
}

static int op_renew(struct cstate *cs, nfs_argop4 *arg)
{
	(void)cs;
	return nfs4_client_renew(arg->nfs_argop4_u.oprenew.clientid);
}

/* ---- opens ---- */

/* Check an open's access against the file's permissions. */
static int open_access(struct cstate *cs, const struct un_handle *fh,
		       const struct un_attr *a, uint32_t access)
{
	uint32_t want = 0, granted = 0;
	int st;

	if (access & SHARE_READ)
		want |= UN_ACCESS_READ;
	if (access & SHARE_WRITE)
		want |= UN_ACCESS_MODIFY;
	st = un_access(cs->cur.ex->ux, &cs->cred, fh, want, &granted, NULL);
	if (st < 0)
		return nfs4_status(st);
	/* the owner may use her file whatever its mode, as knfsd allows */
	if ((granted & want) != want && a->uid != cs->cred.uid)
		return NFS4ERR_ACCESS;
	return NFS4_OK;
}

static int open_type(const struct un_attr *a)
{
	switch (a->type) {
	case UN_REG:
		return NFS4_OK;
	case UN_DIR:
		return NFS4ERR_ISDIR;
	case UN_LNK:
		return NFS4ERR_SYMLINK;
	default:
		return NFS4ERR_INVAL;
	}
}

/*
 * An open for write of a file that still lives in a lower layer copies
 * it up now, so the data the client writes lands where the handle, which
 * does not change, will find it, and a failing copy-up (ENOSPC) is the
 * OPEN's error rather than a later WRITE's.
 */
static int open_copy_up(struct cstate *cs, const struct un_handle *fh,
			uint32_t access)
{
	if (!(access & SHARE_WRITE))
		return NFS4_OK;
	return nfs4_status(un_copy_up(cs->cur.ex->ux, fh));
}

/* OPEN with CLAIM_NULL: find or create the file named in cs->cur. */
static int open_file(struct cstate *cs, const struct comp4 *name, bool create,
		     uint32_t how, const struct un_sattr *sa,
		     const uint8_t verf[8], uint32_t access,
		     struct v4fh *nfh, struct un_wcc *wcc)
{
	struct un_export *ux = cs->cur.ex->ux;
	struct un_attr a;
	int st;

	*nfh = cs->cur;
	if (create)
		/* UN_CREATE_* match createmode4 UNCHECKED/GUARDED/EXCLUSIVE */
		st = un_create(ux, &cs->cred, &cs->cur.fh, name->s,
			       (enum un_createmode)how, sa, verf, &nfh->fh, &a,
			       wcc);
	else
		st = un_lookup(ux, &cs->cred, &cs->cur.fh, name->s, &nfh->fh,
			       &a, NULL);
	if (st < 0)
		return nfs4_status(st);
	st = open_type(&a);
	/* The creator may write a file it just made read-only (RFC 7530
	 * 16.16.5): only existing files are checked. */
	if (st == NFS4_OK && (!create || wcc->post_valid == false))
		st = open_access(cs, &nfh->fh, &a, access);
	if (st == NFS4_OK)
		st = open_copy_up(cs, &nfh->fh, access);
	return st;
}

static bool eopen_ok(struct cstate *cs, const stateid4 *sid,
		     const struct un_wcc *wcc, uint64_t bits)
{
	u_int words[2] = { (uint32_t)bits, (uint32_t)(bits >> 32) };
	OPEN4resok res;

	memset(&res, 0, sizeof(res));
	res.stateid = *sid;
	cinfo(&res.cinfo, wcc);
	res.rflags = OPEN4_RESULT_LOCKTYPE_POSIX;
	res.attrset.bitmap4_len = 2;
	res.attrset.bitmap4_val = words;
	res.delegation.delegation_type = OPEN_DELEGATE_NONE;
	return xdr_OPEN4resok(cs->r, &res);
}

/* The share reservation for the file nfh names; then the reply. */
static int open_finish(struct cstate *cs, const struct v4fh *nfh,
		       uint32_t access, uint32_t deny,
		       const struct un_wcc *wcc, uint64_t bits)
{
	struct nfs4_file f;
	struct stateid4 sid;
	struct un_attr a;
	int st;

	memset(&f, 0, sizeof(f));
	f.export_id = nfh->ex->id;
	f.fh = nfh->fh;
	st = nfs4_getattr(cs, nfh, &a);
	if (st != NFS4_OK)
		return st;
	f.fileid = a.fileid;
	st = nfs4_open_state(cs, &f, access, deny, &sid);
	if (st != NFS4_OK)
		return st;
	ENC(eopen_ok(cs, &sid, wcc, bits));
	return NFS4_OK;
}

/* 4.1 OPEN of the file the current filehandle names (CLAIM_FH). */
static int open_by_fh(struct cstate *cs, uint32_t access, uint32_t deny,
		      uint32_t opentype)
{
	struct un_attr a;
	struct un_wcc wcc;
	int st;

	if (opentype != 0)
		return NFS4ERR_INVAL;
	st = nfs4_use(cs, &cs->cur, access & SHARE_WRITE);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = nfs4_getattr(cs, &cs->cur, &a);
	if (st == NFS4_OK)
		st = open_type(&a);
	if (st == NFS4_OK)
		st = open_access(cs, &cs->cur.fh, &a, access);
	if (st == NFS4_OK)
		st = open_copy_up(cs, &cs->cur.fh, access);
	if (st != NFS4_OK)
		return st;
	memset(&wcc, 0, sizeof(wcc));
	return open_finish(cs, &cs->cur, access, deny, &wcc, 0);
}

/* What OPEN4args asks, as the functions below take it. */
struct open_args {
	uint32_t seqid, access, deny, opentype, how, claim;
	uint64_t clientid;
	const char *owner; /* in the decoded OPEN4args */
	u_int olen;
	uint8_t verf[NFS4_VERIFIER_SIZE];
	struct un_sattr sa;
	struct nfs4acl acl;
	uint64_t bits;
	struct comp4 name;
};

/* createhow4; a status for attributes that cannot be set. */
static int dopen_create(struct cstate *cs, const createhow4 *how,
			struct open_args *o)
{
	const creatverfattr *both = &how->createhow4_u.ch_createboth;

	o->how = how->mode;
	switch (how->mode) {
	case UNCHECKED4:
	case GUARDED4:
		return dfattr_set(cs, &how->createhow4_u.createattrs, &o->sa,
				  &o->acl, &o->bits);
	case EXCLUSIVE4:
		memcpy(o->verf, how->createhow4_u.createverf, sizeof(o->verf));
		return NFS4_OK;
	case EXCLUSIVE4_1:
		if (cs->minor == 0)
			return NFS4ERR_INVAL;
		memcpy(o->verf, both->cva_verf, sizeof(o->verf));
		return dfattr_set(cs, &both->cva_attrs, &o->sa, &o->acl,
				  &o->bits);
	default:
		return NFS4ERR_INVAL;
	}
}

/* OPEN4args digested: a status for what the op cannot take. */
static int dopen(struct cstate *cs, const OPEN4args *in, struct open_args *o)
{
	int st = NFS4_OK;

	memset(o, 0, sizeof(*o));
	o->seqid = in->seqid;
	o->access = in->share_access;
	o->deny = in->share_deny;
	o->clientid = in->owner.clientid;
	o->owner = opaque_bytes(in->owner.owner.owner_val);
	o->olen = in->owner.owner.owner_len;
	o->opentype = in->openhow.opentype;
	o->claim = in->claim.claim;
	if (in->openhow.opentype == OPEN4_CREATE)
		st = dopen_create(cs, &in->openhow.openflag4_u.how, o);
	if (st != NFS4_OK)
		return st;
	switch (in->claim.claim) {
	case CLAIM_NULL:
		comp_take(&in->claim.open_claim4_u.file, &o->name);
		return NFS4_OK;
	case CLAIM_PREVIOUS:
		return NFS4_OK;
	case CLAIM_FH:
		return cs->minor ? NFS4_OK : NFS4ERR_NOTSUPP;
	default:
		return NFS4ERR_NOTSUPP;
	}
}

/* A retransmitted seqid-mutating op: its reply again (RFC 7530 9.1.9). */
static int replay_reply(struct cstate *cs, struct nfs4_replay *rp)
{
	int st = rp->status;

	if (rp->len && !efixed(cs->r, rp->body, rp->len))
		st = NFS4ERR_REP_TOO_BIG;
	else
		cs->keep_body = true;
	nfs4_replay_free(rp);
	return st;
}

static int open_null(struct cstate *cs, struct open_args *o)
{
	struct un_wcc wcc;
	struct v4fh nfh;
	bool create = o->opentype == 1;
	int st;

	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = comp_check(&o->name);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur,
			      create || (o->access & SHARE_WRITE));
	if (st == NFS4_OK && cs->cur.pseudo)
		st = create ? NFS4ERR_ROFS : NFS4ERR_ISDIR;
	if (st != NFS4_OK)
		return st;
	memset(&wcc, 0, sizeof(wcc));
	st = open_file(cs, &o->name, create, o->how == 3 ? 2 : o->how, &o->sa,
		       o->verf, o->access, &nfh, &wcc);
	/* EXCLUSIVE4 sets no attributes: the client follows with SETATTR */
	if (o->how >= 2)
		o->bits = 0;
	if (st == NFS4_OK && create && wcc.post_valid)
		new_obj_acl(cs, &nfh.fh, &o->acl, &o->bits);
	else
		o->bits &= ~NFS4_ACL_ATTRS;
	if (st == NFS4_OK)
		st = open_finish(cs, &nfh, o->access, o->deny, &wcc, o->bits);
	if (st == NFS4_OK)
		cs->cur = nfh;
	return st;
}

static int op_open(struct cstate *cs, nfs_argop4 *arg)
{
	struct open_args *o = malloc(sizeof(*o));
	struct nfs4_replay rp = { .status = -1 };
	struct v4fh nfh;
	int st, dst;

	if (o == NULL)
		return NFS4ERR_RESOURCE;
	st = dst = dopen(cs, &arg->nfs_argop4_u.opopen, o);
	if (dst == NFS4ERR_BADXDR)
		goto out;
	/* the owner's seqid decides first: any other error moves it */
	if (o->claim == CLAIM_FH)
		st = nfs4_open_owner41(cs, o->clientid, o->owner, o->olen);
	else
		st = nfs4_open_owner(cs, o->clientid, o->owner, o->olen,
				     o->seqid, &rp);
	if (o->claim != CLAIM_FH && rp.status >= 0) { /* a retransmission */
		st = replay_reply(cs, &rp);
		if (st == NFS4_OK &&
		    fh_from_wire(cs, rp.fh, rp.fhlen, &nfh) == NFS4_OK)
			cs->cur = nfh;
		goto out;
	}
	if (st == NFS4_OK)
		st = dst; /* an argument refused, after the seqid check */
	if (st == NFS4_OK)
		st = nfs4_grace_check(o->clientid, o->claim == CLAIM_PREVIOUS);
	o->access &= 0xff; /* 4.1's WANT_* flags: no delegations */
	if (st == NFS4_OK && (o->access == 0 || o->access > SHARE_BOTH ||
			      o->deny > SHARE_BOTH))
		st = NFS4ERR_INVAL;
	if (st == NFS4_OK)
		st = o->claim == CLAIM_NULL
			     ? open_null(cs, o)
			     : open_by_fh(cs, o->access, o->deny, o->opentype);
out:
	nfs4acl_free(&o->acl);
	free(o);
	return st;
}

/* OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE: the stateid moves on; each
 * result is the stateid4 (OPEN_CONFIRM4resok, OPEN_DOWNGRADE4resok and
 * CLOSE4res's arm). */
static int open_stid_reply(struct cstate *cs, int st,
			   struct nfs4_replay *rp, stateid4 *sid)
{
	if (rp->status >= 0)
		return replay_reply(cs, rp);
	if (st != NFS4_OK)
		return st;
	ENC(xdr_stateid4(cs->r, sid));
	return NFS4_OK;
}

static int op_open_confirm(struct cstate *cs, nfs_argop4 *arg)
{
	const OPEN_CONFIRM4args *a = &arg->nfs_argop4_u.opopen_confirm;
	stateid4 sid = a->open_stateid;
	struct nfs4_replay rp = { .status = -1 };
	struct nfs4_file f;
	int st;

	st = cur_file(cs, &f);
	if (st == NFS4_OK)
		st = nfs4_open_confirm(cs, &sid, a->seqid, &f, &rp);
	return open_stid_reply(cs, st, &rp, &sid);
}

static int op_close(struct cstate *cs, nfs_argop4 *arg)
{
	const CLOSE4args *a = &arg->nfs_argop4_u.opclose;
	stateid4 sid = a->open_stateid;
	struct nfs4_replay rp = { .status = -1 };
	struct nfs4_file f;
	int st;

	st = cur_file(cs, &f);
	if (st == NFS4_OK)
		st = nfs4_close(cs, &sid, a->seqid, &f, &rp);
	return open_stid_reply(cs, st, &rp, &sid);
}

static int op_open_downgrade(struct cstate *cs, nfs_argop4 *arg)
{
	const OPEN_DOWNGRADE4args *a = &arg->nfs_argop4_u.opopen_downgrade;
	stateid4 sid = a->open_stateid;
	struct nfs4_replay rp = { .status = -1 };
	struct nfs4_file f;
	int st;

	st = cur_file(cs, &f);
	if (st == NFS4_OK)
		st = nfs4_open_downgrade(cs, &sid, a->seqid,
					 a->share_access & 0xff, a->share_deny,
					 &f, &rp);
	return open_stid_reply(cs, st, &rp, &sid);
}

static int op_delegreturn(struct cstate *cs, nfs_argop4 *arg)
{
	(void)cs;
	(void)arg;
	return NFS4ERR_BAD_STATEID; /* no delegations are given */
}

static int op_release_lockowner(struct cstate *cs, nfs_argop4 *arg)
{
	const lock_owner4 *lo =
		&arg->nfs_argop4_u.oprelease_lockowner.lock_owner;

	(void)cs;
	return nfs4_release_lockowner(lo->clientid,
				      opaque_bytes(lo->owner.owner_val),
				      lo->owner.owner_len);
}

static int op_notsupp(struct cstate *cs, nfs_argop4 *arg)
{
	(void)cs;
	(void)arg;
	return NFS4ERR_NOTSUPP;
}

/* ---- 4.1 sessions ----------------------------------------------------------
 * A session's slot table caches each slot's last reply, so that a
 * retransmitted SEQUENCE gets the reply it missed instead of a second
 * execution (RFC 8881 section 2.10.6); nfs4state.c keeps them.
 */

static int op_exchange_id(struct cstate *cs, nfs_argop4 *arg)
{
	const EXCHANGE_ID4args *a = &arg->nfs_argop4_u.opexchange_id;
	const client_owner4 *co = &a->eia_clientowner;
	static char scope[] = "unionnfsd";
	EXCHANGE_ID4resok res;
	uint64_t id;
	uint32_t seq;
	bool confirmed;
	int st;

	/* SP4_MACH_CRED is answered SP4_NONE; SP4_SSV is not offered */
	if (a->eia_state_protect.spa_how == SP4_SSV)
		return NFS4ERR_NOTSUPP;
	st = nfs4_exchange_id((const uint8_t *)co->co_verifier,
			      opaque_bytes(co->co_ownerid.co_ownerid_val),
			      co->co_ownerid.co_ownerid_len, &id, &seq,
			      &confirmed);
	if (st != NFS4_OK)
		return st;
	memset(&res, 0, sizeof(res));
	res.eir_clientid = id;
	res.eir_sequenceid = seq;
	res.eir_flags = EXCHGID4_FLAG_USE_NON_PNFS;
	if (confirmed)
		res.eir_flags |= EXCHGID4_FLAG_CONFIRMED_R;
	res.eir_state_protect.spr_how = SP4_NONE;
	res.eir_server_owner.so_major_id.so_major_id_len = sizeof(scope) - 1;
	res.eir_server_owner.so_major_id.so_major_id_val = scope;
	res.eir_server_scope.eir_server_scope_len = sizeof(scope) - 1;
	res.eir_server_scope.eir_server_scope_val = scope;
	ENC(xdr_EXCHANGE_ID4resok(cs->r, &res));
	return NFS4_OK;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The fore channel as the server can serve it (RFC 8881 18.36.3). */
static void chan_negotiate(struct cstate *cs, channel_attrs4 *c)
{
	c->ca_headerpadsize = 0;
	c->ca_maxrequestsize = min32(c->ca_maxrequestsize,
				     cs->srv->cfg->max_record);
	c->ca_maxresponsesize = min32(c->ca_maxresponsesize,
				      NFS4_MAXIO + NFS4_REPLY_SLACK);
	c->ca_maxresponsesize_cached = min32(c->ca_maxresponsesize_cached,
					     NFS4_CACHED_MAX);
	c->ca_maxoperations = min32(c->ca_maxoperations, NFS4_MAXOPS);
	c->ca_maxrequests = min32(c->ca_maxrequests, NFS4_SLOTS);
	if (c->ca_maxrequests == 0)
		c->ca_maxrequests = 1;
	c->ca_rdma_ird.ca_rdma_ird_len = 0; /* no RDMA */
}

static int op_create_session(struct cstate *cs, nfs_argop4 *arg)
{
	const CREATE_SESSION4args *a = &arg->nfs_argop4_u.opcreate_session;
	CREATE_SESSION4resok res;
	uint8_t id[NFS4_SESSIONID_SIZE];
	int st;

	memset(&res, 0, sizeof(res));
	res.csr_fore_chan_attrs = a->csa_fore_chan_attrs;
	chan_negotiate(cs, &res.csr_fore_chan_attrs);
	/* the back channel is echoed: no callbacks yet */
	res.csr_back_chan_attrs = a->csa_back_chan_attrs;
	res.csr_back_chan_attrs.ca_headerpadsize = 0;
	res.csr_back_chan_attrs.ca_rdma_ird.ca_rdma_ird_len = 0;
	st = nfs4_create_session(a->csa_clientid, &res.csr_fore_chan_attrs,
				 id);
	if (st != NFS4_OK)
		return st;
	memcpy(res.csr_sessionid, id, sizeof(id));
	res.csr_sequence = a->csa_sequence;
	res.csr_flags = 0; /* no persistence, no back channel */
	ENC(xdr_CREATE_SESSION4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_destroy_session(struct cstate *cs, nfs_argop4 *arg)
{
	return nfs4_destroy_session(
		cs, (const uint8_t *)arg->nfs_argop4_u.opdestroy_session
			    .dsa_sessionid);
}

static int op_destroy_clientid(struct cstate *cs, nfs_argop4 *arg)
{
	return nfs4_destroy_clientid(
		arg->nfs_argop4_u.opdestroy_clientid.dca_clientid,
		cs->session);
}

/*
 * BACKCHANNEL_CTL (REQUIRED in 4.1): the callback program and security
 * for a back channel.  None is bound (CREATE_SESSION gives no
 * CONN_BACK_CHAN, no callbacks are made), so there is nothing to change;
 * the arguments decoded, the new parameters are accepted, as knfsd does.
 */
static int op_backchannel_ctl(struct cstate *cs, nfs_argop4 *arg)
{
	(void)cs; /* it follows SEQUENCE: op_position */
	(void)arg;
	return NFS4_OK;
}

static int op_bind_conn_to_session(struct cstate *cs, nfs_argop4 *arg)
{
	const BIND_CONN_TO_SESSION4args *a =
		&arg->nfs_argop4_u.opbind_conn_to_session;
	BIND_CONN_TO_SESSION4resok res;
	int st;

	st = nfs4_bind_session((const uint8_t *)a->bctsa_sessid);
	if (st != NFS4_OK)
		return st;
	memcpy(res.bctsr_sessid, a->bctsa_sessid, NFS4_SESSIONID_SIZE);
	res.bctsr_dir = CDFS4_FORE;
	res.bctsr_use_conn_in_rdma_mode = FALSE;
	ENC(xdr_BIND_CONN_TO_SESSION4resok(cs->r, &res));
	return NFS4_OK;
}

/*
 * SEQUENCE: claim the slot.  A retransmission (the slot's current seqid)
 * is answered from the slot's cache by the COMPOUND loop.
 */
static int op_sequence(struct cstate *cs, nfs_argop4 *arg)
{
	const SEQUENCE4args *a = &arg->nfs_argop4_u.opsequence;
	SEQUENCE4resok res;
	uint32_t nslots = 0;
	int st;

	st = nfs4_sequence(cs, (const uint8_t *)a->sa_sessionid,
			   a->sa_sequenceid, a->sa_slotid, &nslots);
	if (st != NFS4_OK || cs->replay)
		return st;
	memcpy(res.sr_sessionid, a->sa_sessionid, NFS4_SESSIONID_SIZE);
	res.sr_sequenceid = a->sa_sequenceid;
	res.sr_slotid = a->sa_slotid;
	res.sr_highest_slotid = nslots - 1;
	res.sr_target_highest_slotid = nslots - 1;
	res.sr_status_flags = 0;
	ENC(xdr_SEQUENCE4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_reclaim_complete(struct cstate *cs, nfs_argop4 *arg)
{
	/* one file system done: the whole client is done when it says so
	 * without rca_one_fs (RFC 8881 18.51.3) */
	return arg->nfs_argop4_u.opreclaim_complete.rca_one_fs
		       ? NFS4_OK
		       : nfs4_reclaim_complete(cs);
}

/* The pseudo directory above a pseudo directory or an export's root. */
static void parent_path(const struct v4fh *fh, struct v4fh *parent)
{
	char *slash;

	memset(parent, 0, sizeof(*parent));
	parent->set = parent->pseudo = true;
	snprintf(parent->path, sizeof(parent->path), "%s",
		 fh->pseudo ? fh->path : nfs4_export_rel(fh->ex));
	slash = strrchr(parent->path, '/');
	if (slash)
		*slash = '\0';
	else
		parent->path[0] = '\0';
}

/* SECINFO_NO_NAME: the flavors of the current object or its parent
 * (a directory's, RFC 5661 errata 2299); the parent of an export's root
 * is a pseudo directory. */
static int op_secinfo_no_name(struct cstate *cs, nfs_argop4 *arg)
{
	uint32_t f[SEC_MAX];
	struct v4fh parent;
	int st;

	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	switch (arg->nfs_argop4_u.opsecinfo_no_name) {
	case SECINFO_STYLE4_CURRENT_FH:
		return esecinfo(cs, f, fh_flavors(cs, &cs->cur, f));
	case SECINFO_STYLE4_PARENT:
		st = need_dir(cs, &cs->cur);
		if (st != NFS4_OK)
			return st;
		if (cs->cur.pseudo && cs->cur.path[0] == '\0')
			return NFS4ERR_NOENT;
		parent = cs->cur;
		if (cs->cur.pseudo || nfs4_is_export_root(&cs->cur))
			parent_path(&cs->cur, &parent);
		return esecinfo(cs, f, fh_flavors(cs, &parent, f));
	default:
		return NFS4ERR_INVAL;
	}
}

static int op_test_stateid(struct cstate *cs, nfs_argop4 *arg)
{
	const TEST_STATEID4args *a = &arg->nfs_argop4_u.optest_stateid;
	nfsstat4 codes[NFS4_BOUND_STATEIDS];
	TEST_STATEID4resok res;
	u_int n = a->ts_stateids.ts_stateids_len;

	for (u_int i = 0; i < n; i++)
		codes[i] = (nfsstat4)nfs4_stateid_test(
			&a->ts_stateids.ts_stateids_val[i]);
	res.tsr_status_codes.tsr_status_codes_len = n;
	res.tsr_status_codes.tsr_status_codes_val = codes;
	ENC(xdr_TEST_STATEID4resok(cs->r, &res));
	return NFS4_OK;
}

static int op_free_stateid(struct cstate *cs, nfs_argop4 *arg)
{
	(void)cs;
	return nfs4_free_stateid(&arg->nfs_argop4_u.opfree_stateid.fsa_stateid);
}

/* ---- byte-range locks ----------------------------------------------------
 * The locks live in the daemon's one table (locks.h), keyed by the union
 * object, so NFSv4 and NLM locks conflict and survive copy-up.  A lock
 * stateid (nfs4state.c) names its lock owner and remembers what it holds.
 */
/* offset4 + length4 as a lock table range (len 0: to the end). */
static int lock_range(uint64_t off, uint64_t len, uint64_t *lklen)
{
	if (len == 0)
		return NFS4ERR_INVAL;
	if (len == UINT64_MAX) {
		*lklen = 0;
		return NFS4_OK;
	}
	if (off > UINT64_MAX - len)
		return NFS4ERR_INVAL;
	*lklen = len;
	return NFS4_OK;
}

/* The union object under the current filehandle: a regular file. */
static int lock_object(struct cstate *cs, struct lk_object *obj,
		       struct nfs4_file *f)
{
	struct un_attr a;
	int st = nfs4_use(cs, &cs->cur, false);

	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = nfs4_getattr(cs, &cs->cur, &a);
	if (st == NFS4_OK && a.type != UN_REG)
		st = a.type == UN_DIR ? NFS4ERR_ISDIR : NFS4ERR_INVAL;
	if (st == NFS4_OK) {
		obj->export_id = cs->cur.ex->id;
		obj->fileid = a.fileid;
		memset(f, 0, sizeof(*f));
		f->export_id = obj->export_id;
		f->fh = cs->cur.fh;
		f->fileid = a.fileid;
	}
	return st;
}

/* A decoded lock_owner4 (at most NFS4_OPAQUE_LIMIT bytes: it fits). */
static void lock_owner_take(const lock_owner4 *in, struct nfs4_lockowner *lo)
{
	memset(lo, 0, sizeof(*lo));
	lo->clientid = in->clientid;
	lo->owner_len = in->owner.owner_len;
	if (lo->owner_len > sizeof(lo->owner))
		lo->owner_len = sizeof(lo->owner);
	if (lo->owner_len)
		memcpy(lo->owner, in->owner.owner_val, lo->owner_len);
}

/* LOCK4denied from the lock table's conflict. */
static int lock_denied(struct cstate *cs, const struct lk_conflict *c)
{
	LOCK4denied d;

	cs->keep_body = true;
	d.offset = c->offset;
	d.length = c->len ? c->len : UINT64_MAX;
	d.locktype = c->type == LK_WRITE ? WRITE_LT : READ_LT;
	d.owner.clientid = 0;
	d.owner.owner.owner_len = (u_int)c->oh_len;
	d.owner.owner.owner_val = (char *)(uintptr_t)c->oh;
	ENC(xdr_LOCK4denied(cs->r, &d));
	return NFS4ERR_DENIED;
}

struct lock_args {
	uint32_t type, reclaim, is_new, open_seqid, lock_seqid;
	uint64_t off, len;
	stateid4 sid; /* the open's (new owner) or the lock's */
	struct nfs4_lockowner owner;
};

/* LOCK4args as lock_take takes them. */
static void lock_args_take(const LOCK4args *in, struct lock_args *l)
{
	const open_to_lock_owner4 *nw = &in->locker.locker4_u.open_owner;
	const exist_lock_owner4 *ex = &in->locker.locker4_u.lock_owner;

	l->type = in->locktype;
	l->reclaim = in->reclaim;
	l->off = in->offset;
	l->len = in->length;
	l->is_new = in->locker.new_lock_owner;
	if (l->is_new) {
		l->open_seqid = nw->open_seqid;
		l->sid = nw->open_stateid;
		l->lock_seqid = nw->lock_seqid;
		lock_owner_take(&nw->lock_owner, &l->owner);
	} else {
		l->sid = ex->lock_stateid;
		l->lock_seqid = ex->lock_seqid;
	}
}

/* The lock state the LOCK is for, checked by the seqid rules. */
static int lock_state(struct cstate *cs, struct lock_args *l,
		      const struct nfs4_file *f, stateid4 *lsid,
		      struct nfs4_lockowner *lo, struct nfs4_replay *rp)
{
	if (!l->is_new)
		return nfs4_lock_existing(cs, &l->sid, l->lock_seqid, f, lo,
					  rp);
	*lo = l->owner;
	return nfs4_lock_new(cs, &l->sid, l->open_seqid, l->lock_seqid,
			     &l->owner, f, lsid, rp);
}

static int lock_take(struct cstate *cs, struct lock_args *l)
{
	struct nfs4_replay rp = { .status = -1 };
	stateid4 lsid = l->sid;
	struct lk_object obj;
	struct nfs4_file f;
	struct lk_owner o;
	struct lk_conflict conflict;
	enum lk_result r;
	uint64_t lklen = 0;
	int st;

	st = lock_object(cs, &obj, &f);
	if (st != NFS4_OK)
		return st;
	/* the seqid first: the checks after it move it (RFC 7530 9.1.7) */
	st = lock_state(cs, l, &f, &lsid, &l->owner, &rp);
	if (rp.status >= 0)
		return replay_reply(cs, &rp);
	if (st == NFS4_OK && (l->type < 1 || l->type > 4))
		st = NFS4ERR_INVAL;
	if (st == NFS4_OK)
		st = lock_range(l->off, l->len, &lklen);
	if (st == NFS4_OK)
		st = nfs4_grace_check(l->owner.clientid, l->reclaim != 0);
	if (st != NFS4_OK)
		return st;
	nfs4_lk_owner(&l->owner, &o);
	/* READW/WRITEW: the client polls; no blocking grants (no callbacks) */
	r = lk_lock(&obj, &o, l->type == 1 || l->type == 3 ? LK_READ : LK_WRITE,
		    l->off, lklen, &conflict, NULL, NULL);
	if (r == LK_DENIED || r == LK_BLOCKED)
		return lock_denied(cs, &conflict);
	if (r != LK_OK)
		return NFS4ERR_RESOURCE;
	/* the stateid's seqid moves only when the lock is granted */
	st = nfs4_lock_update(&lsid, true, l->off, lklen, &lsid);
	if (st != NFS4_OK) {
		lk_unlock(&obj, &o, l->off, lklen);
		return st;
	}
	ENC(xdr_stateid4(cs->r, &lsid)); /* LOCK4resok */
	return NFS4_OK;
}

static int op_lock(struct cstate *cs, nfs_argop4 *arg)
{
	struct lock_args *l = calloc(1, sizeof(*l));
	int st;

	if (l == NULL)
		return NFS4ERR_RESOURCE;
	lock_args_take(&arg->nfs_argop4_u.oplock, l);
	st = lock_take(cs, l);
	free(l);
	return st;
}

static int op_lockt(struct cstate *cs, nfs_argop4 *arg)
{
	const LOCKT4args *a = &arg->nfs_argop4_u.oplockt;
	uint32_t type = a->locktype;
	uint64_t off = a->offset, len = a->length, lklen = 0;
	struct nfs4_lockowner lo;
	struct lk_object obj;
	struct nfs4_file f;
	struct lk_owner o;
	struct lk_conflict conflict;
	int st;

	lock_owner_take(&a->owner, &lo);
	if (type < 1 || type > 4)
		return NFS4ERR_INVAL;
	st = lock_range(off, len, &lklen);
	if (st == NFS4_OK)
		st = lock_object(cs, &obj, &f);
	if (st == NFS4_OK && cs->minor == 0)
		st = nfs4_client_renew(lo.clientid);
	if (st != NFS4_OK)
		return st;
	nfs4_lk_owner(&lo, &o);
	if (lk_test(&obj, &o, type == 1 || type == 3 ? LK_READ : LK_WRITE, off,
		    lklen, &conflict) == LK_DENIED)
		return lock_denied(cs, &conflict);
	return NFS4_OK;
}

static int op_locku(struct cstate *cs, nfs_argop4 *arg)
{
	const LOCKU4args *a = &arg->nfs_argop4_u.oplocku;
	struct nfs4_replay rp = { .status = -1 };
	uint64_t off = a->offset, len = a->length, lklen = 0;
	stateid4 sid = a->lock_stateid;
	struct nfs4_lockowner owner;
	struct lk_object obj;
	struct nfs4_file f;
	struct lk_owner o;
	int st;

	/* locku's type is not checked: any unlocks (RFC 7530 16.12.4) */
	st = lock_object(cs, &obj, &f);
	if (st == NFS4_OK)
		st = nfs4_lock_existing(cs, &sid, a->seqid, &f, &owner, &rp);
	if (rp.status >= 0)
		return replay_reply(cs, &rp);
	if (st == NFS4_OK)
		st = lock_range(off, len, &lklen);
	if (st != NFS4_OK)
		return st;
	nfs4_lk_owner(&owner, &o);
	lk_unlock(&obj, &o, off, lklen);
	st = nfs4_lock_update(&sid, false, off, lklen, &sid);
	if (st != NFS4_OK)
		return st;
	ENC(xdr_stateid4(cs->r, &sid)); /* LOCKU4res's arm */
	return NFS4_OK;
}


typedef int (*nfs4_op)(struct cstate *cs, nfs_argop4 *arg);

static const nfs4_op nfs4_ops[OP_LAST_42 + 1] = {
	[OP_ACCESS] = op_access,
	[OP_CLOSE] = op_close,
	[OP_COMMIT] = op_commit,
	[OP_CREATE] = op_create,
	[OP_DELEGPURGE] = op_notsupp,
	[OP_DELEGRETURN] = op_delegreturn,
	[OP_GETATTR] = op_getattr,
	[OP_GETFH] = op_getfh,
	[OP_LINK] = op_link,
	[OP_LOCK] = op_lock,
	[OP_LOCKT] = op_lockt,
	[OP_LOCKU] = op_locku,
	[OP_LOOKUP] = op_lookup,
	[OP_LOOKUPP] = op_lookupp,
	[OP_NVERIFY] = op_nverify,
	[OP_OPEN] = op_open,
	[OP_OPENATTR] = op_notsupp,
	[OP_OPEN_CONFIRM] = op_open_confirm,
	[OP_OPEN_DOWNGRADE] = op_open_downgrade,
	[OP_PUTFH] = op_putfh,
	[OP_PUTPUBFH] = op_putpubfh,
	[OP_PUTROOTFH] = op_putrootfh,
	[OP_READ] = op_read,
	[OP_READDIR] = op_readdir,
	[OP_READLINK] = op_readlink,
	[OP_REMOVE] = op_remove,
	[OP_RENAME] = op_rename,
	[OP_RENEW] = op_renew,
	[OP_RESTOREFH] = op_restorefh,
	[OP_SAVEFH] = op_savefh,
	[OP_SECINFO] = op_secinfo,
	[OP_SETATTR] = op_setattr,
	[OP_SETCLIENTID] = op_setclientid,
	[OP_SETCLIENTID_CONFIRM] = op_setclientid_confirm,
	[OP_VERIFY] = op_verify,
	[OP_WRITE] = op_write,
	[OP_RELEASE_LOCKOWNER] = op_release_lockowner,
	[OP_BACKCHANNEL_CTL] = op_backchannel_ctl,
	[OP_BIND_CONN_TO_SESSION] = op_bind_conn_to_session,
	[OP_EXCHANGE_ID] = op_exchange_id,
	[OP_CREATE_SESSION] = op_create_session,
	[OP_DESTROY_SESSION] = op_destroy_session,
	[OP_FREE_STATEID] = op_free_stateid,
	[OP_SECINFO_NO_NAME] = op_secinfo_no_name,
	[OP_SEQUENCE] = op_sequence,
	[OP_TEST_STATEID] = op_test_stateid,
	[OP_DESTROY_CLIENTID] = op_destroy_clientid,
	[OP_RECLAIM_COMPLETE] = op_reclaim_complete,
	[OP_ALLOCATE] = op_allocate,
	[OP_DEALLOCATE] = op_deallocate,
	[OP_SEEK] = op_seek,
};

static const uint32_t nfs4_last_op[NFS4_MINOR_MAX + 1] = {
	OP_LAST_40, OP_LAST_41, OP_LAST_42,
};

/* Ops that 4.1 removed from 4.0 (RFC 8881 section 18): NOTSUPP. */
static bool op_40_only(uint32_t op)
{
	return op == OP_OPEN_CONFIRM || op == OP_RENEW ||
	       op == OP_SETCLIENTID || op == OP_SETCLIENTID_CONFIRM ||
	       op == OP_RELEASE_LOCKOWNER;
}

/* 4.1 ops that may start a COMPOUND without SEQUENCE, alone. */
static bool op_sessionless(uint32_t op)
{
	return op == OP_EXCHANGE_ID || op == OP_CREATE_SESSION ||
	       op == OP_DESTROY_SESSION || op == OP_DESTROY_CLIENTID ||
	       op == OP_BIND_CONN_TO_SESSION;
}

/* Where this op may stand in a 4.1 COMPOUND of nops. */
static int op_position(const struct cstate *cs, uint32_t i, uint32_t nops,
		       uint32_t op)
{
	if (cs->minor == 0)
		return NFS4_OK;
	if (i == 0 && op_sessionless(op))
		return nops == 1 ? NFS4_OK : NFS4ERR_NOT_ONLY_OP;
	if (i == 0 && op != OP_SEQUENCE && op <= OP_LAST_42)
		return NFS4ERR_OP_NOT_IN_SESSION;
	if (i > 0 && op == OP_SEQUENCE)
		return NFS4ERR_SEQUENCE_POS;
	return NFS4_OK;
}

/*
 * A 4.0 op that moved an owner's seqid: its reply is kept for a
 * retransmission, with the file an OPEN left current.
 */
static void seqid_done(struct cstate *cs, uint32_t opnum, int st,
		       const uint8_t *body, u_int len)
{
	uint8_t fh[NFS4_FHSIZE];
	u_int fhlen = 0;

	if (opnum == OP_OPEN && st == NFS4_OK && !cs->cur.pseudo &&
	    cs->cur.fh.len <= sizeof(fh)) {
		memcpy(fh, cs->cur.fh.data, cs->cur.fh.len);
		fhlen = cs->cur.fh.len;
	}
	nfs4_seqid_done(cs, st, body, len, fhlen ? fh : NULL, fhlen);
}

/* The operations that set the current filehandle from the client's
 * word, whose export's sec= and xprtsec= apply when the next op uses it. */
static bool op_sets_fh(uint32_t op)
{
	return op == OP_PUTFH || op == OP_PUTROOTFH || op == OP_PUTPUBFH ||
	       op == OP_RESTOREFH || op == OP_LOOKUP || op == OP_LOOKUPP;
}

static bool op_is_secinfo(uint32_t op)
{
	return op == OP_SECINFO || op == OP_SECINFO_NO_NAME;
}

/*
 * RFC 8881 2.6.3.1.1 (applied to 4.0 too, as knfsd does): after a
 * put filehandle operation (and after LOOKUP and LOOKUPP, which may cross
 * into an export), WRONGSEC waits when the next op is none, another put
 * filehandle op, SAVEFH (RESTOREFH checks later), LOOKUP, LOOKUPP or OPEN
 * (they check the object they reach), SECINFO or SECINFO_NO_NAME (the
 * client asking which flavors to use).  Anything else uses the
 * filehandle as it is: the put filehandle op answers WRONGSEC.
 */
static bool op_checks_later(uint32_t next)
{
	return next == 0 || next == OP_PUTFH || next == OP_PUTROOTFH ||
	       next == OP_PUTPUBFH || next == OP_RESTOREFH ||
	       next == OP_SAVEFH || next == OP_LOOKUP || next == OP_LOOKUPP ||
	       next == OP_OPEN || op_is_secinfo(next);
}

/* After a waiting check (cur.wrongsec), an op that uses the filehandle
 * as it is (GETFH after SAVEFH) gets the WRONGSEC. */
static bool op_takes_unchecked(uint32_t op)
{
	return op == OP_SAVEFH || (op != 0 && op_checks_later(op));
}

/* The check of a filehandle that op has set, RFC 8881 2.6.3.1.1. */
static int fh_set_check(struct cstate *cs)
{
	bool ok = nfs4_sec_ok(cs, &cs->cur);

	cs->cur.wrongsec = false;
	if (ok)
		return NFS4_OK;
	if (!op_checks_later(cs->next_op))
		return NFS4ERR_WRONGSEC;
	cs->cur.wrongsec = true;
	return NFS4_OK;
}

/* The number of the operation after the one just decoded, 0 if none;
 * the stream stays where it is. */
static uint32_t peek_next_op(struct cstate *cs, bool last)
{
	u_int pos = xdr_getpos(cs->a);
	uint32_t op;

	if (last || !d32(cs->a, &op))
		op = 0;
	if (!xdr_setpos(cs->a, pos))
		return 0;
	return op;
}

/*
 * Decode an operation's arguments from argpos (its opnum) with the
 * generated nfs_argop4 decoder, run it, and free what the decoder
 * allocated.  WRITE decodes its own: its data stay in the call record.
 * last: no operation follows.
 */
static int op_call(struct cstate *cs, uint32_t opnum, u_int argpos,
		   bool last)
{
	nfs_argop4 arg;
	int st;

	memset(&arg, 0, sizeof(arg));
	arg.argop = (nfs_opnum4)opnum;
	if (opnum != OP_WRITE) {
		if (!xdr_setpos(cs->a, argpos))
			return NFS4ERR_SERVERFAULT;
		if (!xdr_nfs_argop4(cs->a, &arg)) {
			/* a handle longer than NFS4_FHSIZE is a bad handle */
			st = opnum == OP_PUTFH ? NFS4ERR_BADHANDLE
					       : NFS4ERR_BADXDR;
			goto out;
		}
	}
	if (cs->cur.set && cs->cur.wrongsec && !op_takes_unchecked(opnum)) {
		st = NFS4ERR_WRONGSEC;
		goto out;
	}
	cs->next_op = opnum == OP_WRITE ? 0 : peek_next_op(cs, last);
	cs->sec_lax = op_is_secinfo(opnum) ||
		      ((opnum == OP_LOOKUP || opnum == OP_LOOKUPP) &&
		       op_is_secinfo(cs->next_op));
	st = nfs4_ops[opnum](cs, &arg);
	cs->sec_lax = false;
	if (st == NFS4_OK && op_sets_fh(opnum))
		st = fh_set_check(cs);
out:
	xdr_free((xdrproc_t)xdr_nfs_argop4, (char *)&arg);
	return st;
}

/* Run one operation: opnum, status, results.  Returns its status. */
static int run_op(struct cstate *cs, uint32_t opnum, u_int argpos,
		  uint32_t i, uint32_t nops)
{
	nfs_opnum4 resop;
	uint32_t *statusp;
	u_int pos;
	int st = NFS4_OK;

	if (opnum > nfs4_last_op[cs->minor] || opnum < OP_ACCESS) {
		opnum = OP_ILLEGAL;
		st = NFS4ERR_OP_ILLEGAL;
	} else if (nfs4_ops[opnum] == NULL ||
		   (cs->minor > 0 && op_40_only(opnum))) {
		st = NFS4ERR_NOTSUPP;
	}
	if (st == NFS4_OK)
		st = op_position(cs, i, nops, opnum);
	resop = (nfs_opnum4)opnum;
	if (!xdr_nfs_opnum4(cs->r, &resop))
		return -1;
	/* nfs_resop4's status: filled in when the op has run */
	statusp = xinline(cs->r, 4);
	if (statusp == NULL)
		return -1;
	if (st != NFS4_OK) {
		*statusp = htonl((uint32_t)st);
		return st;
	}
	pos = xdr_getpos(cs->r);
	cs->keep_body = false;
	st = op_call(cs, opnum, argpos, i + 1 == nops);
	if (st == NFS4ERR_BADHANDLE) /* forged or altered: rate-limited */
		log_bad_handle((const struct sockaddr *)&cs->req->peer,
			       "NFSv4");
	/* A reply that does not fit: 4.0 has only RESOURCE for it, which
	 * "is not a valid error in NFSv4.1" (RFC 5662): a full table, a
	 * failed allocation are DELAY there */
	if (st == NFS4ERR_REP_TOO_BIG && cs->minor == 0)
		st = NFS4ERR_RESOURCE;
	else if (st == NFS4ERR_RESOURCE && cs->minor > 0)
		st = NFS4ERR_DELAY;
	if (st != NFS4_OK && !cs->keep_body && !xdr_setpos(cs->r, pos))
		return -1;
	*statusp = htonl((uint32_t)st);
	if (cs->seq_owner)
		seqid_done(cs, opnum, st, (const uint8_t *)(statusp + 1),
			   xdr_getpos(cs->r) - pos);
	return st;
}

/* Replace everything from start with the cached reply of a slot. */
static bool nfs4_replay(struct cstate *cs, u_int start)
{
	uint8_t *p;

	if (!xdr_setpos(cs->r, start))
		return false;
	p = xinline(cs->r, cs->replaylen);
	if (p == NULL)
		return false;
	memcpy(p, cs->replay, cs->replaylen);
	return true;
}

/*
 * COMPOUND4res's header: status and argarray's count are filled in at the
 * end, the tag is echoed.
 */
static bool compound_res_start(struct cstate *cs, utf8str_cs *tag,
			       uint32_t **statusp, uint32_t **nresp)
{
	*statusp = xinline(cs->r, 4);
	if (*statusp == NULL || !xdr_utf8str_cs(cs->r, tag))
		return false;
	*nresp = xinline(cs->r, 4);
	return *nresp != NULL;
}

/*
 * The operations of COMPOUND4args are decoded one at a time, when their
 * turn comes (run_op): the ones after a failing op are never looked at,
 * and WRITE's data are not copied.  The header is decoded here.
 */
static enum rpc_status nfs4proc_compound(struct rpc_req *req)
{
	utf8str_cs tag = { 0, NULL };
	uint32_t nops, opnum, n = 0, *statusp, *nresp;
	u_int start, argpos;
	int st = NFS4_OK;
	struct cstate *cs;
	enum rpc_status ret = RPC_DONE;

	if (!xdr_utf8str_cs(&req->args, &tag) ||
	    !xdr_uint32_t(&req->args, &opnum) || /* minorversion */
	    !xdr_uint32_t(&req->args, &nops)) { /* argarray's count */
		xdr_free((xdrproc_t)xdr_utf8str_cs, (char *)&tag);
		return RPC_GARBAGE;
	}
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		xdr_free((xdrproc_t)xdr_utf8str_cs, (char *)&tag);
		return RPC_SYSTEM_ERR;
	}
	cs->req = req;
	cs->srv = req->srv;
	cs->a = &req->args;
	cs->r = &req->res;
	cs->minor = opnum;
	cs->nops = nops;
	nfs4_state_tick(req->srv->boot_time, req->srv->cfg->lease_time);
	start = xdr_getpos(cs->r);
	if (!compound_res_start(cs, &tag, &statusp, &nresp)) {
		xdr_free((xdrproc_t)xdr_utf8str_cs, (char *)&tag);
		free(cs);
		return RPC_SYSTEM_ERR;
	}
	xdr_free((xdrproc_t)xdr_utf8str_cs, (char *)&tag);
	if (cs->minor > NFS4_MINOR_MAX)
		st = NFS4ERR_MINOR_VERS_MISMATCH;
	for (uint32_t i = 0; st == NFS4_OK && i < nops; i++) {
		argpos = xdr_getpos(cs->a);
		if (!d32(cs->a, &opnum)) {
			st = NFS4ERR_BADXDR;
			break;
		}
		if (i == NFS4_MAXOPS) {
			/* too many operations: this one is refused */
			st = cs->minor ? NFS4ERR_TOO_MANY_OPS
				       : NFS4ERR_RESOURCE;
			if (!e32(cs->r, opnum) || !e32(cs->r, (uint32_t)st))
				st = -1;
			else
				n++;
			break;
		}
		st = run_op(cs, opnum, argpos, i, nops);
		if (st >= 0)
			n++;
		if (cs->replay)
			break;
	}
	if (st < 0) {
		ret = RPC_SYSTEM_ERR;
	} else if (cs->replay) {
		if (!nfs4_replay(cs, start))
			ret = RPC_SYSTEM_ERR;
	} else {
		*statusp = htonl((uint32_t)st);
		*nresp = htonl(n);
	}
	if (cs->slot)
		nfs4_sequence_done(cs, (const uint8_t *)statusp,
			      xdr_getpos(cs->r) - start);
	free(cs->replay);
	free(cs);
	return ret;
}

/* At start: the client records; their grace is NLM's too. */
void nfs4_start(struct server *srv)
{
	nfs4_state_start(srv->cat, srv->cfg->grace);
}

static enum rpc_status nfs4proc_null(struct rpc_req *req)
{
	(void)req;
	return RPC_DONE;
}

static size_t nfs4_max_reply(const struct rpc_req *req)
{
	(void)req;
	return NFS4_MAXIO + NFS4_REPLY_SLACK;
}

/*
 * COMPOUND is marked idempotent so the duplicate request cache leaves it
 * alone: NFSv4 has its own replay rules (seqids in 4.0, the session slot
 * cache in 4.1).
 */
static const struct rpc_proc nfs4_procs[] = {
	{ "NULL", nfs4proc_null, NULL, true },
	{ "COMPOUND", nfs4proc_compound, nfs4_max_reply, true },
};

static const struct rpc_version nfs4_versions[] = {
	{ NFS4_VERSION, nfs4_procs, sizeof(nfs4_procs) / sizeof(nfs4_procs[0]) },
};

const struct rpc_program nfs4_program = {
	.name = "nfs",
	.prog = NFS4_PROGRAM,
	.versions = nfs4_versions,
	.nversions = 1,
};
