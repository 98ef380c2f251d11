/*
 * nfs4proc.c - NFSv4.0/4.1/4.2 (RFC 7530, 8881, 7862), program 100003
 * version 4: the COMPOUND procedure, its operations and the pseudo file
 * system.  The attributes and shared codecs are in nfs4xdr.c, clients,
 * sessions, owners, stateids and leases in nfs4state.c.
 *
 * COMPOUND is processed as a stream: each operation decodes its own
 * arguments straight from the call and encodes its results straight into
 * the reply buffer, so READ data goes from the file to the socket buffer
 * and WRITE data is taken from the call record without a copy.  The first
 * operation that fails ends the COMPOUND, and its status is the
 * COMPOUND's.  The wire layout of every argument and result follows
 * RFC 7531 (the XDR description of NFSv4.0); the names below are its
 * names.
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
 * TODO: callbacks and delegations, 4.2 SEEK/ALLOCATE/DEALLOCATE
 * (NOTSUPP), 4.1's current stateid, rpcgen definitions in
 * xdr/nfs4_prot.x.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locks.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
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
static int pseudo_enter(struct server *srv, const char *path, struct v4fh *fh)
{
	struct srv_export *ex = pseudo_export_at(srv, path);

	memset(fh, 0, sizeof(*fh));
	if (ex != NULL) {
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
	fh->ex = server_export_by_handle(cs->srv, &fh->fh);
	if (fh->ex == NULL || !nfs4_export_v4(fh->ex))
		return NFS4ERR_STALE;
	fh->set = true;
	return NFS4_OK;
}

/*
 * Apply the export's client rules for an operation on the current
 * filehandle: fills cs->cred.  In the pseudo file system nothing may
 * change.
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
 * Each decodes its arguments from cs->a and, on success, encodes its
 * results after the status into cs->r; it returns the status.
 */

static int op_putrootfh(struct cstate *cs)
{
	return pseudo_enter(cs->srv, "", &cs->cur);
}

static int op_putfh(struct cstate *cs)
{
	uint8_t buf[NFS4_FHSIZE];
	u_int len;

	if (!dbytes(cs->a, buf, sizeof(buf), &len))
		return NFS4ERR_BADHANDLE;
	return fh_from_wire(cs, buf, len, &cs->cur);
}

static int op_getfh(struct cstate *cs)
{
	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	ENC(efh(cs->r, &cs->cur));
	return NFS4_OK;
}

static int op_savefh(struct cstate *cs)
{
	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	cs->saved = cs->cur;
	return NFS4_OK;
}

static int op_restorefh(struct cstate *cs)
{
	if (!cs->saved.set)
		return NFS4ERR_RESTOREFH;
	cs->cur = cs->saved;
	return NFS4_OK;
}

static int op_getattr(struct cstate *cs)
{
	uint32_t bm[NFS4_BITMAP_WORDS];
	struct v4obj o;
	int st;

	if (!dbitmap(cs->a, bm))
		return NFS4ERR_BADXDR;
	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK)
		st = obj_load(cs, &cs->cur, &o);
	if (st != NFS4_OK)
		return st;
	ENC(efattr(cs, cs->r, &o, bm));
	return NFS4_OK;
}

/* VERIFY and NVERIFY: compare the client's fattr4 with ours. */
static int verify(struct cstate *cs, bool want_same)
{
	uint32_t bm[NFS4_BITMAP_WORDS];
	char theirs[4096], ours[4096 + 64];
	u_int len, olen;
	struct v4obj o;
	XDR x;
	int st;
	bool ok;

	if (!dbitmap(cs->a, bm) || !dbytes(cs->a, theirs, sizeof(theirs), &len))
		return NFS4ERR_BADXDR;
	if (bm[2] || (bm64(bm) & ~nfs4_readable))
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
	ok = olen - 16 == len && !memcmp(ours + 16, theirs, len);
	if (ok == want_same)
		return NFS4_OK;
	return want_same ? NFS4ERR_NOT_SAME : NFS4ERR_SAME;
}

static int op_verify(struct cstate *cs)
{
	return verify(cs, true);
}

static int op_nverify(struct cstate *cs)
{
	return verify(cs, false);
}

static int op_access(struct cstate *cs)
{
	uint32_t want, granted = 0;
	int st;

	if (!d32(cs->a, &want))
		return NFS4ERR_BADXDR;
	want &= 0x3f;
	st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cs->cur.pseudo)
		granted = want & (UN_ACCESS_READ | UN_ACCESS_LOOKUP |
				  UN_ACCESS_EXECUTE);
	else
		st = nfs4_status(un_access(cs->cur.ex->ux, &cs->cred,
					   &cs->cur.fh, want, &granted, NULL));
	if (st != NFS4_OK)
		return st;
	ENC(e32(cs->r, want) && e32(cs->r, granted));
	return NFS4_OK;
}

static int op_lookup(struct cstate *cs)
{
	struct comp4 name;
	struct v4fh nfh;
	char path[NFS4_FHSIZE + NFS4_OPAQUE_MAX + 2];
	int st;

	if (!dcomp(cs->a, &name))
		return NFS4ERR_BADXDR;
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
		st = pseudo_enter(cs->srv, path, &nfh);
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

static int op_lookupp(struct cstate *cs)
{
	struct v4fh nfh;
	char path[NFS4_FHSIZE];
	char *slash;
	int st;

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

static int op_putpubfh(struct cstate *cs)
{
	return op_putrootfh(cs);
}

static int op_readlink(struct cstate *cs)
{
	char buf[UN_PATH_MAX + 1];
	int n, st;

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
	ENC(ebytes(cs->r, buf, (u_int)n));
	return NFS4_OK;
}

/* May READ/WRITE/SETATTR(size) use this stateid on the current file? */
static int io_stateid(struct cstate *cs, const struct stateid4 *sid,
		      uint32_t want)
{
	struct nfs4_file f;
	int st = cur_file(cs, &f);

	if (st == NFS4_OK)
		st = nfs4_stateid_io(cs->minor, sid, &f, want);
	return st;
}

static int op_read(struct cstate *cs)
{
	struct stateid4 sid;
	uint64_t off;
	uint32_t count, *hdr;
	u_int pos;
	uint8_t *data;
	ssize_t n;
	bool eof = false;
	int st;

	if (!dstateid(cs->a, &sid) || !d64(cs->a, &off) || !d32(cs->a, &count))
		return NFS4ERR_BADXDR;
	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &sid, SHARE_READ);
	if (st != NFS4_OK)
		return st;
	if (count > NFS4_MAXIO)
		count = NFS4_MAXIO;
	/* eof and the length precede the data: read into place, then fill
	 * them in. */
	pos = xdr_getpos(cs->r);
	hdr = xinline(cs->r, 8);
	data = hdr ? xinline(cs->r, XDR_ROUNDUP(count)) : NULL;
	if (data == NULL)
		return NFS4ERR_RESOURCE;
	n = un_read(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, off, count, data,
		    &eof, NULL);
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

static int op_write(struct cstate *cs)
{
	struct stateid4 sid;
	uint64_t off;
	uint32_t stable, len;
	enum un_stable committed;
	const void *data = NULL;
	ssize_t n;
	int st;

	if (!dstateid(cs->a, &sid) || !d64(cs->a, &off) ||
	    !d32(cs->a, &stable) || !d32(cs->a, &len))
		return NFS4ERR_BADXDR;
	/* Its padding would wrap to 0 and xinline would take 0 bytes for
	 * 4 GB (fuzz/corpus/nfs4/crash-write-len-wraps). */
	if (len > INT32_MAX - 3)
		return NFS4ERR_BADXDR;
	if (len > 0) {
		data = xinline(cs->a, XDR_ROUNDUP(len));
		if (data == NULL)
			return NFS4ERR_BADXDR;
	}
	st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &sid, SHARE_WRITE);
	if (st != NFS4_OK)
		return st;
	if (stable > UN_FILE_SYNC)
		return NFS4ERR_INVAL;
	n = un_write(cs->cur.ex->ux, &cs->cred, &cs->cur.fh, off, data, len,
		     (enum un_stable)stable, &committed, NULL);
	if (n < 0)
		return nfs4_status((int)n);
	ENC(e32(cs->r, (uint32_t)n) && e32(cs->r, committed) &&
	    efixed(cs->r, cs->srv->write_verf, 8));
	return NFS4_OK;
}

static int op_commit(struct cstate *cs)
{
	uint64_t off;
	uint32_t count;
	int st;

	if (!d64(cs->a, &off) || !d32(cs->a, &count))
		return NFS4ERR_BADXDR;
	st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = nfs4_status(un_commit(cs->cur.ex->ux, &cs->cred,
					   &cs->cur.fh, NULL));
	if (st != NFS4_OK)
		return st;
	ENC(efixed(cs->r, cs->srv->write_verf, 8));
	return NFS4_OK;
}

/* ---- 4.2 sparse files (RFC 7862 section 15) ------------------------ */

enum { NFS4_CONTENT_DATA = 0, NFS4_CONTENT_HOLE = 1 };

/* ALLOCATE and DEALLOCATE: the same arguments, checked like a WRITE. */
static int allocate(struct cstate *cs, bool punch)
{
	struct stateid4 sid;
	uint64_t off, len;
	int st;

	if (!dstateid(cs->a, &sid) || !d64(cs->a, &off) || !d64(cs->a, &len))
		return NFS4ERR_BADXDR;
	st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &sid, SHARE_WRITE);
	if (st != NFS4_OK)
		return st;
	return nfs4_status(un_allocate(cs->cur.ex->ux, &cs->cred, &cs->cur.fh,
				       off, len, punch));
}

static int op_allocate(struct cstate *cs)
{
	return allocate(cs, false);
}

static int op_deallocate(struct cstate *cs)
{
	return allocate(cs, true);
}

static int op_seek(struct cstate *cs)
{
	struct stateid4 sid;
	uint64_t off, res;
	uint32_t what;
	bool eof;
	int st;

	if (!dstateid(cs->a, &sid) || !d64(cs->a, &off) || !d32(cs->a, &what))
		return NFS4ERR_BADXDR;
	if (what != NFS4_CONTENT_DATA && what != NFS4_CONTENT_HOLE)
		return NFS4ERR_UNION_NOTSUPP;
	st = nfs4_use(cs, &cs->cur, false);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = io_stateid(cs, &sid, SHARE_READ);
	if (st == NFS4_OK)
		st = nfs4_status(un_seek(cs->cur.ex->ux, &cs->cred,
					 &cs->cur.fh, off,
					 what == NFS4_CONTENT_HOLE, &res,
					 &eof));
	if (st != NFS4_OK)
		return st;
	ENC(e32(cs->r, eof) && e64(cs->r, res));
	return NFS4_OK;
}

static int op_setattr(struct cstate *cs)
{
	struct stateid4 sid;
	struct un_sattr sa;
	uint64_t bits = 0;
	int st;

	if (!dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	/* attrsset follows the status whatever it is */
	cs->keep_body = true;
	st = dfattr_set(cs, cs->a, &sa, &bits);
	if (st == NFS4ERR_BADXDR)
		cs->keep_body = false;
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && (sa.mask & UN_SET_SIZE))
		st = io_stateid(cs, &sid, SHARE_WRITE);
	if (st == NFS4_OK)
		st = nfs4_status(un_setattr(cs->cur.ex->ux, &cs->cred,
					    &cs->cur.fh, &sa, NULL, NULL));
	if (cs->keep_body && !ebitmap(cs->r, st == NFS4_OK ? bits : 0)) {
		cs->keep_body = false;
		return NFS4ERR_RESOURCE;
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

static int op_create(struct cstate *cs)
{
	uint32_t type, major = 0, minor = 0;
	char target[UN_PATH_MAX + 1];
	u_int tlen = 0;
	struct comp4 name;
	struct un_sattr sa;
	struct un_wcc wcc;
	struct v4fh nfh;
	uint64_t bits;
	struct un_export *ux;
	int st;

	if (!d32(cs->a, &type))
		return NFS4ERR_BADXDR;
	if (type == UN_LNK) {
		if (!dbytes(cs->a, target, UN_PATH_MAX, &tlen))
			return NFS4ERR_NAMETOOLONG;
		target[tlen] = '\0';
	} else if (type == UN_BLK || type == UN_CHR) {
		if (!d32(cs->a, &major) || !d32(cs->a, &minor))
			return NFS4ERR_BADXDR;
	}
	if (!dcomp(cs->a, &name))
		return NFS4ERR_BADXDR;
	st = dfattr_set(cs, cs->a, &sa, &bits);
	if (st == NFS4_OK)
		st = dir_change(cs, &name);
	if (st != NFS4_OK)
		return st;
	memset(&wcc, 0, sizeof(wcc));
	nfh = cs->cur;
	ux = cs->cur.ex->ux;
	switch (type) {
	case UN_DIR:
		st = un_mkdir(ux, &cs->cred, &cs->cur.fh, name.s, &sa, &nfh.fh,
			      NULL, &wcc);
		break;
	case UN_LNK:
		if (tlen == 0 || memchr(target, '\0', tlen))
			return NFS4ERR_INVAL;
		st = un_symlink(ux, &cs->cred, &cs->cur.fh, name.s, target,
				&sa, &nfh.fh, NULL, &wcc);
		break;
	case UN_BLK:
	case UN_CHR:
	case UN_SOCK:
	case UN_FIFO:
		st = un_mknod(ux, &cs->cred, &cs->cur.fh, name.s,
			      (enum un_type)type, major, minor, &sa, &nfh.fh,
			      NULL, &wcc);
		break;
	default:
		return NFS4ERR_BADTYPE;
	}
	st = nfs4_status(st);
	if (st != NFS4_OK)
		return st;
	cs->cur = nfh;
	ENC(ecinfo(cs->r, &wcc) && ebitmap(cs->r, bits));
	return NFS4_OK;
}

static int op_remove(struct cstate *cs)
{
	struct comp4 name;
	struct un_handle fh;
	struct un_attr a;
	struct un_wcc wcc;
	int st;

	if (!dcomp(cs->a, &name))
		return NFS4ERR_BADXDR;
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
	ENC(ecinfo(cs->r, &wcc));
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

static int op_rename(struct cstate *cs)
{
	struct comp4 from, to;
	struct un_wcc fw, tw;
	int st;

	if (!dcomp(cs->a, &from) || !dcomp(cs->a, &to))
		return NFS4ERR_BADXDR;
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
	ENC(ecinfo(cs->r, &fw) && ecinfo(cs->r, &tw));
	return NFS4_OK;
}

static int op_link(struct cstate *cs)
{
	struct comp4 name;
	struct un_wcc wcc;
	int st;

	if (!dcomp(cs->a, &name))
		return NFS4ERR_BADXDR;
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
	ENC(ecinfo(cs->r, &wcc));
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

	/* Room for the closing "no more entries" and eof too. */
	if (e32(rc->r, 1) && e64(rc->r, cookie) &&
	    ebytes(rc->r, name, (u_int)strlen(name)) &&
	    efattr(rc->cs, rc->r, o, rc->bm) &&
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
		if (pseudo_enter(srv, path, &fh) != NFS4_OK ||
		    obj_load(rc->cs, &fh, &o) != NFS4_OK)
			continue;
		if (!rd_entry(rc, i + 3, name, &o)) {
			*eof = false;
			break;
		}
	}
	return rc->st;
}

static int op_readdir(struct cstate *cs)
{
	uint64_t cookie, verf, verf_out = 0;
	uint8_t wverf[8];
	uint32_t dircount, maxcount, *verfp;
	struct rd_ctx rc;
	u_int pos;
	bool eof = false;
	int st;

	memset(&rc, 0, sizeof(rc));
	if (!d64(cs->a, &cookie) || !xdr_opaque(cs->a, (char *)wverf, 8) ||
	    !d32(cs->a, &dircount) || !d32(cs->a, &maxcount) ||
	    !dbitmap(cs->a, rc.bm))
		return NFS4ERR_BADXDR;
	memcpy(&verf, wverf, 8);
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, false);
	if (st != NFS4_OK)
		return st;
	if (cookie == 1 || cookie == 2)
		return NFS4ERR_BAD_COOKIE;
	rc.cs = cs;
	rc.r = cs->r;
	pos = xdr_getpos(cs->r);
	if (maxcount > NFS4_MAXIO)
		maxcount = NFS4_MAXIO;
	rc.limit = pos + maxcount;
	verfp = xinline(cs->r, 8);
	if (verfp == NULL)
		return NFS4ERR_RESOURCE;
	if (cs->cur.pseudo) {
		st = rd_pseudo(&rc, cookie, &eof);
	} else {
		st = nfs4_status(un_readdir(cs->cur.ex->ux, &cs->cred,
					    &cs->cur.fh, cookie, verf, true,
					    rd_cb, &rc, &verf_out, &eof, NULL));
		if (st == NFS4_OK)
			st = rc.st;
	}
	if (st == NFS4_OK && rc.n == 0 && !eof)
		st = NFS4ERR_TOOSMALL;
	if (st == NFS4_OK && !(e32(cs->r, 0) && e32(cs->r, eof)))
		st = NFS4ERR_RESOURCE;
	if (st != NFS4_OK) {
		if (!xdr_setpos(cs->r, pos))
			return NFS4ERR_SERVERFAULT;
		return st;
	}
	memcpy(verfp, &verf_out, 8);
	return NFS4_OK;
}

static int op_secinfo(struct cstate *cs)
{
	struct comp4 name;
	int st;

	if (!dcomp(cs->a, &name))
		return NFS4ERR_BADXDR;
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = comp_check(&name);
	if (st != NFS4_OK)
		return st;
	/* AUTH_SYS is the only flavor served; SECINFO consumes the fh. */
	cs->cur.set = false;
	ENC(e32(cs->r, 1) && e32(cs->r, 1 /* AUTH_SYS */));
	return NFS4_OK;
}

/* ---- client ids (4.0) ---- */

static int op_setclientid(struct cstate *cs)
{
	char name[NFS4_OPAQUE_MAX], buf[NFS4_OPAQUE_MAX];
	uint8_t verf[8], confirm[8];
	uint32_t prog, ident;
	u_int len, blen;
	uint64_t id;
	int st;

	if (!dfixed(cs->a, verf, 8) ||
	    !dbytes(cs->a, name, sizeof(name), &len) || !d32(cs->a, &prog) ||
	    !dbytes(cs->a, buf, sizeof(buf), &blen) ||
	    !dbytes(cs->a, buf, sizeof(buf), &blen) || !d32(cs->a, &ident))
		return NFS4ERR_BADXDR;
	/* the callback address is not kept: no delegations are given */
	st = nfs4_setclientid(verf, name, len, &id, confirm);
	if (st != NFS4_OK)
		return st;
	ENC(e64(cs->r, id) && efixed(cs->r, confirm, 8));
	return NFS4_OK;
}

static int op_setclientid_confirm(struct cstate *cs)
{
	uint64_t id;
	uint8_t confirm[8];

	if (!d64(cs->a, &id) || !dfixed(cs->a, confirm, 8))
		return NFS4ERR_BADXDR;
	return nfs4_setclientid_confirm(id, confirm);
}

static int op_renew(struct cstate *cs)
{
	uint64_t id;

	if (!d64(cs->a, &id))
		return NFS4ERR_BADXDR;
	return nfs4_client_renew(id);
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

static bool eopen_ok(struct cstate *cs, const struct stateid4 *sid,
		     const struct un_wcc *wcc, uint64_t bits)
{
	return estateid(cs->r, sid) && ecinfo(cs->r, wcc) &&
	       e32(cs->r, 4 /* OPEN4_RESULT_LOCKTYPE_POSIX */) &&
	       ebitmap(cs->r, bits) && e32(cs->r, 0 /* OPEN_DELEGATE_NONE */);
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

struct open_args {
	uint32_t seqid, access, deny, opentype, how, claim;
	uint64_t clientid;
	char owner[NFS4_OPAQUE_MAX];
	u_int olen;
	uint8_t verf[8];
	struct un_sattr sa;
	uint64_t bits;
	struct comp4 name;
};

/* createhow4; a status for attributes that cannot be set. */
static int dopen_create(struct cstate *cs, struct open_args *o)
{
	if (!d32(cs->a, &o->how))
		return NFS4ERR_BADXDR;
	if (o->how == 0 || o->how == 1)
		return dfattr_set(cs, cs->a, &o->sa, &o->bits);
	if (o->how == 2)
		return dfixed(cs->a, o->verf, 8) ? NFS4_OK : NFS4ERR_BADXDR;
	if (o->how == 3 && cs->minor > 0) /* EXCLUSIVE4_1 */
		return dfixed(cs->a, o->verf, 8)
			       ? dfattr_set(cs, cs->a, &o->sa, &o->bits)
			       : NFS4ERR_BADXDR;
	return NFS4ERR_INVAL;
}

static int dopen(struct cstate *cs, struct open_args *o)
{
	uint32_t dtype;
	int st = NFS4_OK;

	memset(o, 0, sizeof(*o));
	if (!d32(cs->a, &o->seqid) || !d32(cs->a, &o->access) ||
	    !d32(cs->a, &o->deny) || !d64(cs->a, &o->clientid) ||
	    !dbytes(cs->a, o->owner, sizeof(o->owner), &o->olen) ||
	    !d32(cs->a, &o->opentype))
		return NFS4ERR_BADXDR;
	if (o->opentype == 1) /* OPEN4_CREATE */
		st = dopen_create(cs, o);
	if (st != NFS4_OK)
		return st;
	if (!d32(cs->a, &o->claim))
		return NFS4ERR_BADXDR;
	switch (o->claim) {
	case 0: /* CLAIM_NULL */
		return dcomp(cs->a, &o->name) ? NFS4_OK : NFS4ERR_BADXDR;
	case 1: /* CLAIM_PREVIOUS */
		return d32(cs->a, &dtype) ? NFS4_OK : NFS4ERR_BADXDR;
	case 4: /* CLAIM_FH (4.1) */
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
		st = NFS4ERR_RESOURCE;
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
	if (st == NFS4_OK)
		st = open_finish(cs, &nfh, o->access, o->deny, &wcc, o->bits);
	if (st == NFS4_OK)
		cs->cur = nfh;
	return st;
}

static int op_open(struct cstate *cs)
{
	struct open_args *o = malloc(sizeof(*o));
	struct nfs4_replay rp;
	struct v4fh nfh;
	int st, dst;

	if (o == NULL)
		return NFS4ERR_RESOURCE;
	st = dst = dopen(cs, o);
	if (dst == NFS4ERR_BADXDR)
		goto out;
	/* the owner's seqid decides first: any other error moves it */
	if (o->claim == 4)
		st = nfs4_open_owner41(cs, o->clientid, o->owner, o->olen);
	else
		st = nfs4_open_owner(cs, o->clientid, o->owner, o->olen,
				     o->seqid, &rp);
	if (o->claim != 4 && rp.status >= 0) { /* a retransmission */
		st = replay_reply(cs, &rp);
		if (st == NFS4_OK &&
		    fh_from_wire(cs, rp.fh, rp.fhlen, &nfh) == NFS4_OK)
			cs->cur = nfh;
		goto out;
	}
	if (st == NFS4_OK)
		st = dst; /* an argument refused, after the seqid check */
	if (st == NFS4_OK)
		st = nfs4_grace_check(o->clientid, o->claim == 1);
	o->access &= 0xff; /* 4.1's WANT_* flags: no delegations */
	if (st == NFS4_OK && (o->access == 0 || o->access > SHARE_BOTH ||
			      o->deny > SHARE_BOTH))
		st = NFS4ERR_INVAL;
	if (st == NFS4_OK)
		st = o->claim == 0 ? open_null(cs, o)
				   : open_by_fh(cs, o->access, o->deny,
						o->opentype);
out:
	free(o);
	return st;
}

/* OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE: the stateid moves on. */
static int open_stid_reply(struct cstate *cs, int st,
			   struct nfs4_replay *rp, const struct stateid4 *sid)
{
	if (rp->status >= 0)
		return replay_reply(cs, rp);
	if (st != NFS4_OK)
		return st;
	ENC(estateid(cs->r, sid));
	return NFS4_OK;
}

static int op_open_confirm(struct cstate *cs)
{
	struct stateid4 sid;
	struct nfs4_replay rp;
	struct nfs4_file f;
	uint32_t seqid;
	int st;

	if (!dstateid(cs->a, &sid) || !d32(cs->a, &seqid))
		return NFS4ERR_BADXDR;
	rp.status = -1;
	st = cur_file(cs, &f);
	if (st == NFS4_OK)
		st = nfs4_open_confirm(cs, &sid, seqid, &f, &rp);
	return open_stid_reply(cs, st, &rp, &sid);
}

static int op_close(struct cstate *cs)
{
	struct stateid4 sid;
	struct nfs4_replay rp;
	struct nfs4_file f;
	uint32_t seqid;
	int st;

	if (!d32(cs->a, &seqid) || !dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	rp.status = -1;
	st = cur_file(cs, &f);
	if (st == NFS4_OK)
		st = nfs4_close(cs, &sid, seqid, &f, &rp);
	return open_stid_reply(cs, st, &rp, &sid);
}

static int op_open_downgrade(struct cstate *cs)
{
	struct stateid4 sid;
	struct nfs4_replay rp;
	struct nfs4_file f;
	uint32_t seqid, access, deny;
	int st;

	if (!dstateid(cs->a, &sid) || !d32(cs->a, &seqid) ||
	    !d32(cs->a, &access) || !d32(cs->a, &deny))
		return NFS4ERR_BADXDR;
	rp.status = -1;
	access &= 0xff;
	st = cur_file(cs, &f);
	if (st == NFS4_OK)
		st = nfs4_open_downgrade(cs, &sid, seqid, access, deny, &f,
					 &rp);
	return open_stid_reply(cs, st, &rp, &sid);
}

static int op_delegreturn(struct cstate *cs)
{
	struct stateid4 sid;

	if (!dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	return NFS4ERR_BAD_STATEID; /* no delegations are given */
}

static int op_release_lockowner(struct cstate *cs)
{
	char owner[NFS4_OPAQUE_MAX];
	uint64_t clientid;
	u_int len;

	if (!d64(cs->a, &clientid) ||
	    !dbytes(cs->a, owner, sizeof(owner), &len))
		return NFS4ERR_BADXDR;
	return nfs4_release_lockowner(clientid, owner, len);
}

static int op_notsupp(struct cstate *cs)
{
	(void)cs;
	return NFS4ERR_NOTSUPP;
}

/* ---- 4.1 sessions ----------------------------------------------------------
 * A session's slot table caches each slot's last reply, so that a
 * retransmitted SEQUENCE gets the reply it missed instead of a second
 * execution (RFC 8881 section 2.10.6); nfs4state.c keeps them.
 */

static int op_exchange_id(struct cstate *cs)
{
	char name[NFS4_OPAQUE_MAX];
	uint8_t verf[8];
	uint32_t flags, how, n, seq, bm[NFS4_BITMAP_WORDS];
	uint64_t t, id;
	u_int len;
	bool confirmed;
	static const char scope[] = "unionnfsd";
	int st;

	if (!dfixed(cs->a, verf, 8) ||
	    !dbytes(cs->a, name, sizeof(name), &len) || !d32(cs->a, &flags) ||
	    !d32(cs->a, &how))
		return NFS4ERR_BADXDR;
	if (how == 1) { /* SP4_MACH_CRED: two bitmaps, answered SP4_NONE */
		if (!dbitmap(cs->a, bm) || !dbitmap(cs->a, bm))
			return NFS4ERR_BADXDR;
	} else if (how != 0) {
		return NFS4ERR_NOTSUPP;
	}
	if (!d32(cs->a, &n) || n > 1)
		return NFS4ERR_BADXDR;
	if (n == 1 && !(skip_bytes(cs->a) && skip_bytes(cs->a) &&
			d64(cs->a, &t) && d32(cs->a, &flags)))
		return NFS4ERR_BADXDR;
	st = nfs4_exchange_id(verf, name, len, &id, &seq, &confirmed);
	if (st != NFS4_OK)
		return st;
	flags = 0x00010000; /* EXCHGID4_FLAG_USE_NON_PNFS */
	if (confirmed)
		flags |= 0x80000000; /* EXCHGID4_FLAG_CONFIRMED_R */
	ENC(e64(cs->r, id) && e32(cs->r, seq) && e32(cs->r, flags) &&
	    e32(cs->r, 0 /* SP4_NONE */) && e64(cs->r, 0) &&
	    ebytes(cs->r, scope, sizeof(scope) - 1) &&
	    ebytes(cs->r, scope, sizeof(scope) - 1) && e32(cs->r, 0));
	return NFS4_OK;
}
struct chan_attrs {
	uint32_t pad, maxreq, maxresp, maxcached, maxops, maxreqs, nird, ird;
};

static bool dchan(XDR *x, struct chan_attrs *c)
{
	memset(c, 0, sizeof(*c));
	return d32(x, &c->pad) && d32(x, &c->maxreq) && d32(x, &c->maxresp) &&
	       d32(x, &c->maxcached) && d32(x, &c->maxops) &&
	       d32(x, &c->maxreqs) && d32(x, &c->nird) && c->nird <= 1 &&
	       (c->nird == 0 || d32(x, &c->ird));
}

static bool echan(XDR *x, const struct chan_attrs *c)
{
	return e32(x, 0) && e32(x, c->maxreq) && e32(x, c->maxresp) &&
	       e32(x, c->maxcached) && e32(x, c->maxops) &&
	       e32(x, c->maxreqs) && e32(x, 0);
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* callback_sec_parms4: read and ignored (no back channel yet). */
static bool skip_cb_sec(XDR *x)
{
	uint32_t n, flavor, v, ngids;

	if (!d32(x, &n) || n > 16)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (!d32(x, &flavor))
			return false;
		if (flavor == 1) { /* AUTH_SYS */
			if (!d32(x, &v) || !skip_bytes(x) || !d32(x, &v) ||
			    !d32(x, &v) || !d32(x, &ngids) || ngids > 16)
				return false;
			for (uint32_t g = 0; g < ngids; g++)
				if (!d32(x, &v))
					return false;
		} else if (flavor == 6) { /* RPCSEC_GSS */
			if (!d32(x, &v) || !skip_bytes(x) || !skip_bytes(x))
				return false;
		} else if (flavor != 0) {
			return false;
		}
	}
	return true;
}

static int op_create_session(struct cstate *cs)
{
	uint64_t clientid;
	uint32_t seq, flags, prog;
	struct chan_attrs fore, back;
	uint8_t id[16];
	int st;

	if (!d64(cs->a, &clientid) || !d32(cs->a, &seq) ||
	    !d32(cs->a, &flags) || !dchan(cs->a, &fore) ||
	    !dchan(cs->a, &back) || !d32(cs->a, &prog) ||
	    !skip_cb_sec(cs->a))
		return NFS4ERR_BADXDR;
	fore.maxreq = min32(fore.maxreq, cs->srv->cfg->max_record);
	fore.maxresp = min32(fore.maxresp, NFS4_MAXIO + NFS4_REPLY_SLACK);
	fore.maxcached = min32(fore.maxcached, NFS4_CACHED_MAX);
	fore.maxops = min32(fore.maxops, NFS4_MAXOPS);
	fore.maxreqs = min32(fore.maxreqs, NFS4_SLOTS);
	if (fore.maxreqs == 0)
		fore.maxreqs = 1;
	st = nfs4_create_session(clientid, fore.maxreqs, id);
	if (st != NFS4_OK)
		return st;
	/* flags 0: no persistence, no back channel (no callbacks yet) */
	ENC(efixed(cs->r, id, 16) && e32(cs->r, seq) && e32(cs->r, 0) &&
	    echan(cs->r, &fore) && echan(cs->r, &back));
	return NFS4_OK;
}

static int op_destroy_session(struct cstate *cs)
{
	uint8_t id[16];

	if (!dfixed(cs->a, id, 16))
		return NFS4ERR_BADXDR;
	return nfs4_destroy_session(cs, id);
}

static int op_destroy_clientid(struct cstate *cs)
{
	uint64_t id;

	if (!d64(cs->a, &id))
		return NFS4ERR_BADXDR;
	return nfs4_destroy_clientid(id, cs->session);
}

static int op_bind_conn_to_session(struct cstate *cs)
{
	uint8_t id[16];
	uint32_t dir, rdma;
	int st;

	if (!dfixed(cs->a, id, 16) || !d32(cs->a, &dir) || !d32(cs->a, &rdma))
		return NFS4ERR_BADXDR;
	st = nfs4_bind_session(id);
	if (st != NFS4_OK)
		return st;
	ENC(efixed(cs->r, id, 16) && e32(cs->r, 1 /* CDFS4_FORE */) &&
	    e32(cs->r, 0));
	return NFS4_OK;
}

/*
 * SEQUENCE: claim the slot.  A retransmission (the slot's current seqid)
 * is answered from the slot's cache by the COMPOUND loop.
 */
static int op_sequence(struct cstate *cs)
{
	uint8_t id[16];
	uint32_t seq, slotid, highest, cachethis, nslots = 0;
	int st;

	if (!dfixed(cs->a, id, 16) || !d32(cs->a, &seq) ||
	    !d32(cs->a, &slotid) || !d32(cs->a, &highest) ||
	    !d32(cs->a, &cachethis))
		return NFS4ERR_BADXDR;
	st = nfs4_sequence(cs, id, seq, slotid, &nslots);
	if (st != NFS4_OK || cs->replay)
		return st;
	ENC(efixed(cs->r, id, 16) && e32(cs->r, seq) && e32(cs->r, slotid) &&
	    e32(cs->r, nslots - 1) && e32(cs->r, nslots - 1) &&
	    e32(cs->r, 0 /* status flags */));
	return NFS4_OK;
}

static int op_reclaim_complete(struct cstate *cs)
{
	uint32_t one_fs;

	if (!d32(cs->a, &one_fs))
		return NFS4ERR_BADXDR;
	/* one file system done: the whole client is done when it says so
	 * without rca_one_fs (RFC 8881 18.51.3) */
	return one_fs ? NFS4_OK : nfs4_reclaim_complete(cs);
}

static int op_secinfo_no_name(struct cstate *cs)
{
	uint32_t style;

	if (!d32(cs->a, &style))
		return NFS4ERR_BADXDR;
	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	cs->cur.set = false;
	ENC(e32(cs->r, 1) && e32(cs->r, 1 /* AUTH_SYS */));
	return NFS4_OK;
}

static int op_test_stateid(struct cstate *cs)
{
	struct stateid4 sid[64];
	uint32_t n;

	if (!d32(cs->a, &n) || n > 64)
		return NFS4ERR_BADXDR;
	for (uint32_t i = 0; i < n; i++)
		if (!dstateid(cs->a, &sid[i]))
			return NFS4ERR_BADXDR;
	ENC(e32(cs->r, n));
	for (uint32_t i = 0; i < n; i++)
		ENC(e32(cs->r, (uint32_t)nfs4_stateid_test(&sid[i])));
	return NFS4_OK;
}

static int op_free_stateid(struct cstate *cs)
{
	struct stateid4 sid;

	if (!dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	return nfs4_free_stateid(&sid);
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

static bool dlock_owner(XDR *x, struct nfs4_lockowner *lo)
{
	return d64(x, &lo->clientid) &&
	       dbytes(x, lo->owner, sizeof(lo->owner), &lo->owner_len);
}

/* LOCK4denied from the lock table's conflict. */
static int lock_denied(struct cstate *cs, const struct lk_conflict *c)
{
	cs->keep_body = true;
	ENC(e64(cs->r, c->offset) &&
	    e64(cs->r, c->len ? c->len : UINT64_MAX) &&
	    e32(cs->r, c->type == LK_WRITE ? 2 : 1) && e64(cs->r, 0) &&
	    ebytes(cs->r, c->oh, (u_int)c->oh_len));
	return NFS4ERR_DENIED;
}

struct lock_args {
	uint32_t type, reclaim, is_new, open_seqid, lock_seqid;
	uint64_t off, len;
	struct stateid4 sid; /* the open's (new owner) or the lock's */
	struct nfs4_lockowner owner;
};

static bool dlock(XDR *x, struct lock_args *l)
{
	if (!d32(x, &l->type) || !d32(x, &l->reclaim) || !d64(x, &l->off) ||
	    !d64(x, &l->len) || !d32(x, &l->is_new))
		return false;
	if (l->is_new)
		return d32(x, &l->open_seqid) && dstateid(x, &l->sid) &&
		       d32(x, &l->lock_seqid) && dlock_owner(x, &l->owner);
	return dstateid(x, &l->sid) && d32(x, &l->lock_seqid);
}

/* The lock state the LOCK is for, checked by the seqid rules. */
static int lock_state(struct cstate *cs, struct lock_args *l,
		      const struct nfs4_file *f, struct stateid4 *lsid,
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
	struct stateid4 lsid = l->sid;
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
	ENC(estateid(cs->r, &lsid));
	return NFS4_OK;
}

static int op_lock(struct cstate *cs)
{
	struct lock_args *l = calloc(1, sizeof(*l));
	int st;

	if (l == NULL)
		return NFS4ERR_RESOURCE;
	st = dlock(cs->a, l) ? lock_take(cs, l) : NFS4ERR_BADXDR;
	free(l);
	return st;
}

static int op_lockt(struct cstate *cs)
{
	uint32_t type;
	uint64_t off, len, lklen = 0;
	struct nfs4_lockowner lo;
	struct lk_object obj;
	struct nfs4_file f;
	struct lk_owner o;
	struct lk_conflict conflict;
	int st;

	if (!d32(cs->a, &type) || !d64(cs->a, &off) || !d64(cs->a, &len) ||
	    !dlock_owner(cs->a, &lo))
		return NFS4ERR_BADXDR;
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

static int op_locku(struct cstate *cs)
{
	struct nfs4_replay rp = { .status = -1 };
	uint32_t type, seq;
	uint64_t off, len, lklen = 0;
	struct stateid4 sid;
	struct nfs4_lockowner owner;
	struct lk_object obj;
	struct nfs4_file f;
	struct lk_owner o;
	int st;

	if (!d32(cs->a, &type) || !d32(cs->a, &seq) ||
	    !dstateid(cs->a, &sid) || !d64(cs->a, &off) || !d64(cs->a, &len))
		return NFS4ERR_BADXDR;
	st = lock_object(cs, &obj, &f);
	if (st == NFS4_OK)
		st = nfs4_lock_existing(cs, &sid, seq, &f, &owner, &rp);
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
	ENC(estateid(cs->r, &sid));
	return NFS4_OK;
}


typedef int (*nfs4_op)(struct cstate *cs);

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

/* Run one operation: opnum, status, results.  Returns its status. */
static int run_op(struct cstate *cs, uint32_t opnum, uint32_t i,
		  uint32_t nops)
{
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
	if (!e32(cs->r, opnum))
		return -1;
	statusp = xinline(cs->r, 4);
	if (statusp == NULL)
		return -1;
	if (st != NFS4_OK) {
		*statusp = htonl((uint32_t)st);
		return st;
	}
	pos = xdr_getpos(cs->r);
	cs->keep_body = false;
	st = nfs4_ops[opnum](cs);
	if (st == NFS4ERR_BADHANDLE) /* forged or altered: rate-limited */
		log_bad_handle((const struct sockaddr *)&cs->req->peer,
			       "NFSv4");
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

static enum rpc_status nfs4proc_compound(struct rpc_req *req)
{
	char tag[NFS4_OPAQUE_MAX];
	uint32_t nops, opnum, n = 0, *statusp, *nresp;
	u_int taglen, start;
	int st = NFS4_OK;
	struct cstate *cs;
	enum rpc_status ret = RPC_DONE;

	if (!dbytes(&req->args, tag, sizeof(tag), &taglen))
		return RPC_GARBAGE;
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL)
		return RPC_SYSTEM_ERR;
	cs->req = req;
	cs->srv = req->srv;
	cs->a = &req->args;
	cs->r = &req->res;
	nfs4_state_tick(req->srv->boot_time, req->srv->cfg->lease_time);
	if (!d32(cs->a, &cs->minor) || !d32(cs->a, &nops)) {
		free(cs);
		return RPC_GARBAGE;
	}
	start = xdr_getpos(cs->r);
	statusp = xinline(cs->r, 4);
	if (statusp == NULL || !ebytes(cs->r, tag, taglen) ||
	    (nresp = xinline(cs->r, 4)) == NULL) {
		free(cs);
		return RPC_SYSTEM_ERR;
	}
	if (cs->minor > NFS4_MINOR_MAX)
		st = NFS4ERR_MINOR_VERS_MISMATCH;
	for (uint32_t i = 0; st == NFS4_OK && i < nops; i++) {
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
		st = run_op(cs, opnum, i, nops);
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
