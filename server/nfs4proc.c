/*
 * nfs4proc.c - NFSv4.0 (RFC 7530), program 100003 version 4: the COMPOUND
 * procedure, its operations, the pseudo file system and the attributes.
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
 * State is deliberately thin in this first step: client ids and stateids
 * carry the server's boot time so that a restart answers
 * STALE_CLIENTID/STALE_STATEID; 4.1 sessions keep a slot table with the
 * reply cache; byte-range locks go to the daemon's lock table (locks.h).
 * Opens and share reservations are not tracked yet.
 *
 * TODO (issue 3): open state with seqid checks, share deny modes, leases
 * (expiry releasing locks), grace after restart and client records in
 * the catalog, callbacks/delegations, copy-up at OPEN for write,
 * owner@domain id mapping (numeric owners only), 4.2 SEEK/ALLOCATE/
 * DEALLOCATE (NOTSUPP), rpcgen definitions in xdr/nfs4_prot.x and the
 * split into nfs4state.c/nfs4xdr.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locks.h"
#include "log.h"
#include "rpc.h"
#include "server.h"

#define NFS4_PROGRAM 100003
#define NFS4_VERSION 4
#define NFS4_MINOR_MAX 2

#define NFS4_FHSIZE 128
#define NFS4_PSEUDO_FH 0xf4
#define NFS4_MAXOPS 64
#define NFS4_MAXIO (256 * 1024)
#define NFS4_REPLY_SLACK (32 * 1024)
#define NFS4_LEASE 90
#define NFS4_OPAQUE_MAX 1024
#define NFS4_BITMAP_WORDS 3

#define XDR_ROUNDUP(n) (((n) + 3u) & ~3u)

/* nfsstat4 */
enum {
	NFS4_OK = 0,
	NFS4ERR_PERM = 1,
	NFS4ERR_NOENT = 2,
	NFS4ERR_IO = 5,
	NFS4ERR_NXIO = 6,
	NFS4ERR_ACCESS = 13,
	NFS4ERR_EXIST = 17,
	NFS4ERR_XDEV = 18,
	NFS4ERR_NOTDIR = 20,
	NFS4ERR_ISDIR = 21,
	NFS4ERR_INVAL = 22,
	NFS4ERR_FBIG = 27,
	NFS4ERR_NOSPC = 28,
	NFS4ERR_ROFS = 30,
	NFS4ERR_MLINK = 31,
	NFS4ERR_NAMETOOLONG = 63,
	NFS4ERR_NOTEMPTY = 66,
	NFS4ERR_DQUOT = 69,
	NFS4ERR_STALE = 70,
	NFS4ERR_BADHANDLE = 10001,
	NFS4ERR_BAD_COOKIE = 10003,
	NFS4ERR_NOTSUPP = 10004,
	NFS4ERR_TOOSMALL = 10005,
	NFS4ERR_SERVERFAULT = 10006,
	NFS4ERR_BADTYPE = 10007,
	NFS4ERR_SAME = 10009,
	NFS4ERR_RESOURCE = 10018,
	NFS4ERR_NOFILEHANDLE = 10020,
	NFS4ERR_MINOR_VERS_MISMATCH = 10021,
	NFS4ERR_STALE_CLIENTID = 10022,
	NFS4ERR_STALE_STATEID = 10023,
	NFS4ERR_NOT_SAME = 10027,
	NFS4ERR_SYMLINK = 10029,
	NFS4ERR_RESTOREFH = 10030,
	NFS4ERR_ATTRNOTSUPP = 10032,
	NFS4ERR_NO_GRACE = 10033,
	NFS4ERR_BADXDR = 10036,
	NFS4ERR_BADOWNER = 10039,
	NFS4ERR_BADCHAR = 10040,
	NFS4ERR_BADNAME = 10041,
	NFS4ERR_OP_ILLEGAL = 10044,
};

/* nfs_opnum4 */
enum {
	OP_ACCESS = 3,
	OP_CLOSE = 4,
	OP_COMMIT = 5,
	OP_CREATE = 6,
	OP_DELEGPURGE = 7,
	OP_DELEGRETURN = 8,
	OP_GETATTR = 9,
	OP_GETFH = 10,
	OP_LINK = 11,
	OP_LOCK = 12,
	OP_LOCKT = 13,
	OP_LOCKU = 14,
	OP_LOOKUP = 15,
	OP_LOOKUPP = 16,
	OP_NVERIFY = 17,
	OP_OPEN = 18,
	OP_OPENATTR = 19,
	OP_OPEN_CONFIRM = 20,
	OP_OPEN_DOWNGRADE = 21,
	OP_PUTFH = 22,
	OP_PUTPUBFH = 23,
	OP_PUTROOTFH = 24,
	OP_READ = 25,
	OP_READDIR = 26,
	OP_READLINK = 27,
	OP_REMOVE = 28,
	OP_RENAME = 29,
	OP_RENEW = 30,
	OP_RESTOREFH = 31,
	OP_SAVEFH = 32,
	OP_SECINFO = 33,
	OP_SETATTR = 34,
	OP_SETCLIENTID = 35,
	OP_SETCLIENTID_CONFIRM = 36,
	OP_VERIFY = 37,
	OP_WRITE = 38,
	OP_RELEASE_LOCKOWNER = 39,
	OP_LAST_40 = 39,
	OP_ILLEGAL = 10044,
};

/* Attribute numbers (RFC 7530 section 5). */
enum {
	A_SUPPORTED_ATTRS = 0,
	A_TYPE = 1,
	A_FH_EXPIRE_TYPE = 2,
	A_CHANGE = 3,
	A_SIZE = 4,
	A_LINK_SUPPORT = 5,
	A_SYMLINK_SUPPORT = 6,
	A_NAMED_ATTR = 7,
	A_FSID = 8,
	A_UNIQUE_HANDLES = 9,
	A_LEASE_TIME = 10,
	A_RDATTR_ERROR = 11,
	A_ACL = 12,
	A_ACLSUPPORT = 13,
	A_CANSETTIME = 15,
	A_CASE_INSENSITIVE = 16,
	A_CASE_PRESERVING = 17,
	A_CHOWN_RESTRICTED = 18,
	A_FILEHANDLE = 19,
	A_FILEID = 20,
	A_FILES_AVAIL = 21,
	A_FILES_FREE = 22,
	A_FILES_TOTAL = 23,
	A_HOMOGENEOUS = 26,
	A_MAXFILESIZE = 27,
	A_MAXLINK = 28,
	A_MAXNAME = 29,
	A_MAXREAD = 30,
	A_MAXWRITE = 31,
	A_MODE = 33,
	A_NO_TRUNC = 34,
	A_NUMLINKS = 35,
	A_OWNER = 36,
	A_OWNER_GROUP = 37,
	A_RAWDEV = 41,
	A_SPACE_AVAIL = 42,
	A_SPACE_FREE = 43,
	A_SPACE_TOTAL = 44,
	A_SPACE_USED = 45,
	A_TIME_ACCESS = 47,
	A_TIME_ACCESS_SET = 48,
	A_TIME_DELTA = 51,
	A_TIME_METADATA = 52,
	A_TIME_MODIFY = 53,
	A_TIME_MODIFY_SET = 54,
	A_MOUNTED_ON_FILEID = 55,
	A_NATTRS = 56,
};

#define BIT(n) (1ull << (n))
/* What GETATTR can return; the two *_SET attributes are write-only. */
static const uint64_t nfs4_readable =
	BIT(A_SUPPORTED_ATTRS) | BIT(A_TYPE) | BIT(A_FH_EXPIRE_TYPE) |
	BIT(A_CHANGE) | BIT(A_SIZE) | BIT(A_LINK_SUPPORT) |
	BIT(A_SYMLINK_SUPPORT) | BIT(A_NAMED_ATTR) | BIT(A_FSID) |
	BIT(A_UNIQUE_HANDLES) | BIT(A_LEASE_TIME) | BIT(A_RDATTR_ERROR) |
	BIT(A_ACLSUPPORT) | BIT(A_CANSETTIME) | BIT(A_CASE_INSENSITIVE) |
	BIT(A_CASE_PRESERVING) | BIT(A_CHOWN_RESTRICTED) | BIT(A_FILEHANDLE) |
	BIT(A_FILEID) | BIT(A_FILES_AVAIL) | BIT(A_FILES_FREE) |
	BIT(A_FILES_TOTAL) | BIT(A_HOMOGENEOUS) | BIT(A_MAXFILESIZE) |
	BIT(A_MAXLINK) | BIT(A_MAXNAME) | BIT(A_MAXREAD) | BIT(A_MAXWRITE) |
	BIT(A_MODE) | BIT(A_NO_TRUNC) | BIT(A_NUMLINKS) | BIT(A_OWNER) |
	BIT(A_OWNER_GROUP) | BIT(A_RAWDEV) | BIT(A_SPACE_AVAIL) |
	BIT(A_SPACE_FREE) | BIT(A_SPACE_TOTAL) | BIT(A_SPACE_USED) |
	BIT(A_TIME_ACCESS) | BIT(A_TIME_DELTA) | BIT(A_TIME_METADATA) |
	BIT(A_TIME_MODIFY) | BIT(A_MOUNTED_ON_FILEID);
static const uint64_t nfs4_writable =
	BIT(A_SIZE) | BIT(A_MODE) | BIT(A_OWNER) | BIT(A_OWNER_GROUP) |
	BIT(A_TIME_ACCESS_SET) | BIT(A_TIME_MODIFY_SET);
#define NFS4_SUPPORTED (nfs4_readable | nfs4_writable)

/* A current or saved filehandle. */
struct v4fh {
	bool set;
	bool pseudo;
	char path[NFS4_FHSIZE]; /* pseudo: the path below the root */
	struct srv_export *ex;	/* otherwise: the export and the handle */
	struct un_handle fh;
};

/* One COMPOUND in progress. */
struct cstate {
	struct rpc_req *req;
	struct server *srv;
	XDR *a, *r;
	uint32_t minor;
	struct v4fh cur, saved;
	struct un_cred cred;
	bool keep_body; /* the op's results follow a failing status too */
	/* 4.1: the session slot this COMPOUND holds (SEQUENCE) */
	struct nfs4_session *session;
	struct nfs4_slot *slot;
	bool destroy_session;
	uint8_t *replay; /* a retransmission: the cached reply to send */
	u_int replaylen;
};

/* An object whose attributes are being encoded. */
struct v4obj {
	const struct v4fh *fh;
	struct un_attr attr;
	struct srv_export *ex; /* NULL in the pseudo file system */
	bool have_statfs;
	struct un_statfs st;
};

/* ---- state --------------------------------------------------------------
 * Client ids and stateids start with the boot time, which is all a first
 * step needs to tell a stale id from a current one.
 */
static pthread_mutex_t nfs4_state_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t nfs4_next_id = 1;

static uint64_t nfs4_new_id(void)
{
	uint64_t id;

	pthread_mutex_lock(&nfs4_state_lock);
	id = nfs4_next_id++;
	pthread_mutex_unlock(&nfs4_state_lock);
	return id;
}

static uint32_t nfs4_epoch(const struct server *srv)
{
	return (uint32_t)srv->boot_time;
}

static uint64_t nfs4_new_clientid(const struct server *srv)
{
	return (uint64_t)nfs4_epoch(srv) << 32 | (uint32_t)nfs4_new_id();
}

static bool nfs4_clientid_current(const struct server *srv, uint64_t id)
{
	return (uint32_t)(id >> 32) == nfs4_epoch(srv);
}

struct stateid4 {
	uint32_t seqid;
	uint8_t other[12];
};

static void nfs4_new_stateid(const struct server *srv, struct stateid4 *s)
{
	uint32_t e = htonl(nfs4_epoch(srv));
	uint64_t id = nfs4_new_id();

	s->seqid = 1;
	memcpy(s->other, &e, 4);
	memcpy(s->other + 4, &id, 8);
}

/* The all-zeros and all-ones special stateids, or one of this boot. */
static int nfs4_check_stateid(const struct server *srv,
			      const struct stateid4 *s)
{
	static const uint8_t zeros[12], ones[12] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint32_t e = htonl(nfs4_epoch(srv));

	if (!memcmp(s->other, zeros, 12) || !memcmp(s->other, ones, 12))
		return NFS4_OK;
	if (memcmp(s->other, &e, 4))
		return NFS4ERR_STALE_STATEID;
	return NFS4_OK;
}

/* ---- XDR helpers --------------------------------------------------------- */

/* xdr_inline gives int32_t *; the reply is written as raw bytes. */
static void *xinline(XDR *x, u_int n)
{
	return xdr_inline(x, (int)n);
}

static bool d32(XDR *x, uint32_t *v)
{
	return xdr_uint32_t(x, v);
}

static bool d64(XDR *x, uint64_t *v)
{
	return xdr_uint64_t(x, v);
}

static bool e32(XDR *x, uint32_t v)
{
	return xdr_uint32_t(x, &v);
}

static bool e64(XDR *x, uint64_t v)
{
	return xdr_uint64_t(x, &v);
}

static bool efixed(XDR *x, const void *p, u_int n)
{
	return xdr_opaque(x, (char *)p, n);
}

static bool ebytes(XDR *x, const void *p, u_int n)
{
	char *cp = (char *)p;

	return xdr_bytes(x, &cp, &n, n);
}

/* A variable-length opaque of at most max bytes, into buf. */
static bool dbytes(XDR *x, void *buf, u_int max, u_int *len)
{
	char *cp = buf;

	return xdr_bytes(x, &cp, len, max);
}

static bool dstateid(XDR *x, struct stateid4 *s)
{
	return d32(x, &s->seqid) && xdr_opaque(x, (char *)s->other, 12);
}

static bool estateid(XDR *x, const struct stateid4 *s)
{
	return e32(x, s->seqid) && efixed(x, s->other, 12);
}

static bool dbitmap(XDR *x, uint32_t bm[NFS4_BITMAP_WORDS])
{
	uint32_t n, w, i;

	memset(bm, 0, NFS4_BITMAP_WORDS * sizeof(bm[0]));
	if (!d32(x, &n) || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		if (!d32(x, &w))
			return false;
		if (i < NFS4_BITMAP_WORDS)
			bm[i] = w;
	}
	return true;
}

static uint64_t bm64(const uint32_t bm[NFS4_BITMAP_WORDS])
{
	return (uint64_t)bm[1] << 32 | bm[0];
}

static bool ebitmap(XDR *x, uint64_t bits)
{
	return e32(x, 2) && e32(x, (uint32_t)bits) && e32(x, bits >> 32);
}

/*
 * A component4: up to NFS4_OPAQUE_MAX bytes decode (longer is bad XDR);
 * the status says whether it is a name the engine can take.
 */
struct comp4 {
	char s[NFS4_OPAQUE_MAX + 1];
	u_int len;
};

static bool dcomp(XDR *x, struct comp4 *c)
{
	if (!dbytes(x, c->s, NFS4_OPAQUE_MAX, &c->len))
		return false;
	c->s[c->len] = '\0';
	return true;
}

static int comp_check(const struct comp4 *c)
{
	if (c->len == 0)
		return NFS4ERR_INVAL;
	if (c->len > UN_NAME_MAX)
		return NFS4ERR_NAMETOOLONG;
	if (memchr(c->s, '\0', c->len))
		return NFS4ERR_BADCHAR;
	if (strchr(c->s, '/') || !strcmp(c->s, ".") || !strcmp(c->s, ".."))
		return NFS4ERR_BADNAME;
	return NFS4_OK;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static bool etime(XDR *x, const struct timespec *t)
{
	return e64(x, (uint64_t)(int64_t)t->tv_sec) &&
	       e32(x, (uint32_t)t->tv_nsec);
}

/* change_info4 from a directory's wcc data. */
static bool ecinfo(XDR *x, const struct un_wcc *w)
{
	uint64_t before = w->pre_valid ? ts_ns(&w->pre_ctime) : 0;
	uint64_t after = w->post_valid ? ts_ns(&w->post.ctime) : 0;

	return e32(x, w->pre_valid && w->post_valid) && e64(x, before) &&
	       e64(x, after);
}

static int nfs4_status(int err)
{
	switch (-err) {
	case 0:
		return NFS4_OK;
	case EPERM:
		return NFS4ERR_PERM;
	case ENOENT:
		return NFS4ERR_NOENT;
	case ENXIO:
		return NFS4ERR_NXIO;
	case EACCES:
	case ETXTBSY:
		return NFS4ERR_ACCESS;
	case EEXIST:
		return NFS4ERR_EXIST;
	case EXDEV:
		return NFS4ERR_XDEV;
	case ENOTDIR:
		return NFS4ERR_NOTDIR;
	case EISDIR:
		return NFS4ERR_ISDIR;
	case EINVAL:
	case EOVERFLOW:
	case ERANGE:
		return NFS4ERR_INVAL;
	case ELOOP:
		return NFS4ERR_SYMLINK;
	case EFBIG:
		return NFS4ERR_FBIG;
	case ENOSPC:
		return NFS4ERR_NOSPC;
	case EROFS:
		return NFS4ERR_ROFS;
	case EMLINK:
		return NFS4ERR_MLINK;
	case ENAMETOOLONG:
		return NFS4ERR_NAMETOOLONG;
	case ENOTEMPTY:
		return NFS4ERR_NOTEMPTY;
	case EDQUOT:
		return NFS4ERR_DQUOT;
	case ESTALE:
		return NFS4ERR_STALE;
	case ENOTSUP:
		return NFS4ERR_NOTSUPP;
	case UN_EBADHANDLE:
		return NFS4ERR_BADHANDLE;
	case UN_EBADCOOKIE:
		return NFS4ERR_BAD_COOKIE;
	case UN_ENOTSYNC:
		return NFS4ERR_NOT_SAME;
	default:
		return NFS4ERR_IO;
	}
}

/* ---- pseudo file system -------------------------------------------------- */

static bool export_v4(const struct srv_export *ex)
{
	unsigned v = ex->conf ? ex->conf->versions : 0;

	return v == 0 || (v & VERS_NFS4);
}

/* An export's path below the pseudo root: "/a/b" -> "a/b", "/" -> "". */
static const char *export_rel(const struct srv_export *ex)
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

		if (export_v4(ex) && !strcmp(export_rel(ex), path))
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
		const char *r = export_rel(&srv->exports[i]);

		if (export_v4(&srv->exports[i]) && !strncmp(r, path, n) &&
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

static uint64_t pseudo_fileid(const char *path)
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
	a->fileid = pseudo_fileid(path);
	a->atime.tv_sec = (time_t)srv->boot_time;
	a->mtime = a->ctime = a->atime;
}

/* ---- file handles -------------------------------------------------------- */

static bool efh(XDR *x, const struct v4fh *fh)
{
	uint8_t buf[NFS4_FHSIZE];
	size_t n;

	if (!fh->pseudo)
		return ebytes(x, fh->fh.data, fh->fh.len);
	n = strlen(fh->path);
	buf[0] = NFS4_PSEUDO_FH;
	memcpy(buf + 1, fh->path, n);
	return ebytes(x, buf, (u_int)n + 1);
}

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
	if (fh->ex == NULL || !export_v4(fh->ex))
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

static int nfs4_getattr(struct cstate *cs, const struct v4fh *fh,
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

static bool is_export_root(const struct v4fh *fh)
{
	struct un_handle root;

	return !fh->pseudo && un_root(fh->ex->ux, &root) == 0 &&
	       root.len == fh->fh.len &&
	       !memcmp(root.data, fh->fh.data, root.len);
}

/* ---- attributes ---------------------------------------------------------- */

static bool estr_id(XDR *x, uint32_t id)
{
	char s[16];
	int n = snprintf(s, sizeof(s), "%u", id);

	return ebytes(x, s, (u_int)n);
}

static int obj_statfs(struct v4obj *o)
{
	if (o->have_statfs)
		return 0;
	o->have_statfs = true;
	if (o->ex == NULL) {
		memset(&o->st, 0, sizeof(o->st));
		o->st.name_max = UN_NAME_MAX;
		return 0;
	}
	return un_statfs(o->ex->ux, &o->fh->fh, &o->st);
}

static bool eattr(struct cstate *cs, XDR *x, struct v4obj *o, int n)
{
	const struct un_attr *a = &o->attr;

	switch (n) {
	case A_SUPPORTED_ATTRS:
		return ebitmap(x, NFS4_SUPPORTED);
	case A_TYPE:
		return e32(x, a->type);
	case A_FH_EXPIRE_TYPE:
		return e32(x, 0); /* FH4_PERSISTENT */
	case A_CHANGE:
		return e64(x, ts_ns(&a->ctime));
	case A_SIZE:
		return e64(x, a->size);
	case A_LINK_SUPPORT:
	case A_SYMLINK_SUPPORT:
	case A_UNIQUE_HANDLES:
	case A_CANSETTIME:
	case A_CASE_PRESERVING:
	case A_CHOWN_RESTRICTED:
	case A_HOMOGENEOUS:
	case A_NO_TRUNC:
		return e32(x, 1);
	case A_NAMED_ATTR:
	case A_CASE_INSENSITIVE:
		return e32(x, 0);
	case A_FSID:
		if (o->ex == NULL)
			return e64(x, ~0ull) && e64(x, ~0ull);
		return e64(x, a->fsid) && e64(x, 0);
	case A_LEASE_TIME:
		return e32(x, NFS4_LEASE);
	case A_RDATTR_ERROR:
		return e32(x, NFS4_OK);
	case A_ACLSUPPORT:
		return e32(x, 0);
	case A_FILEHANDLE:
		return efh(x, o->fh);
	case A_FILEID:
		return e64(x, a->fileid);
	case A_FILES_AVAIL:
		return obj_statfs(o) == 0 && e64(x, o->st.afiles);
	case A_FILES_FREE:
		return obj_statfs(o) == 0 && e64(x, o->st.ffiles);
	case A_FILES_TOTAL:
		return obj_statfs(o) == 0 && e64(x, o->st.tfiles);
	case A_MAXFILESIZE:
		return e64(x, INT64_MAX);
	case A_MAXLINK:
		return e32(x, 65000);
	case A_MAXNAME:
		return e32(x, UN_NAME_MAX);
	case A_MAXREAD:
	case A_MAXWRITE:
		return e64(x, NFS4_MAXIO);
	case A_MODE:
		return e32(x, a->mode & 07777);
	case A_NUMLINKS:
		return e32(x, a->nlink);
	case A_OWNER:
		return estr_id(x, a->uid);
	case A_OWNER_GROUP:
		return estr_id(x, a->gid);
	case A_RAWDEV:
		return e32(x, a->rdev_major) && e32(x, a->rdev_minor);
	case A_SPACE_AVAIL:
		return obj_statfs(o) == 0 && e64(x, o->st.abytes);
	case A_SPACE_FREE:
		return obj_statfs(o) == 0 && e64(x, o->st.fbytes);
	case A_SPACE_TOTAL:
		return obj_statfs(o) == 0 && e64(x, o->st.tbytes);
	case A_SPACE_USED:
		return e64(x, a->used);
	case A_TIME_ACCESS:
		return etime(x, &a->atime);
	case A_TIME_DELTA: {
		struct timespec d = { 0, 1 };

		return etime(x, &d);
	}
	case A_TIME_METADATA:
		return etime(x, &a->ctime);
	case A_TIME_MODIFY:
		return etime(x, &a->mtime);
	case A_MOUNTED_ON_FILEID:
		/* An export's root sits on a pseudo directory. */
		if (o->ex != NULL && a->type == UN_DIR && is_export_root(o->fh))
			return e64(x, pseudo_fileid(export_rel(o->ex)));
		return e64(x, a->fileid);
	default:
		(void)cs;
		return false;
	}
}

/* fattr4 with the requested attributes we can give. */
static bool efattr(struct cstate *cs, XDR *x, struct v4obj *o,
		   const uint32_t req[NFS4_BITMAP_WORDS])
{
	uint64_t bits = bm64(req) & nfs4_readable;
	uint32_t *lenp;
	u_int start;

	if (!ebitmap(x, bits))
		return false;
	lenp = xinline(x, 4);
	if (lenp == NULL)
		return false;
	start = xdr_getpos(x);
	for (int n = 0; n < A_NATTRS; n++)
		if ((bits & BIT(n)) && !eattr(cs, x, o, n))
			return false;
	*lenp = htonl(xdr_getpos(x) - start);
	return true;
}

static int obj_load(struct cstate *cs, const struct v4fh *fh,
		    struct v4obj *o)
{
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	o->ex = fh->pseudo ? NULL : fh->ex;
	return nfs4_getattr(cs, fh, &o->attr);
}

static int parse_id(const char *s, u_int len, uint32_t *id)
{
	char buf[32];
	char *end;
	unsigned long v;

	/* "1000" or "1000@domain": numeric ids, as Linux sends without
	 * an id mapper. */
	const char *at = memchr(s, '@', len);

	if (at)
		len = (u_int)(at - s);
	if (len == 0 || len >= sizeof(buf))
		return NFS4ERR_BADOWNER;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (*end || errno || v > UINT32_MAX)
		return NFS4ERR_BADOWNER;
	*id = (uint32_t)v;
	return NFS4_OK;
}

static bool dsettime(XDR *x, struct un_sattr *sa, uint32_t now_bit,
		     uint32_t set_bit, struct timespec *t)
{
	uint32_t how, ns;
	uint64_t s;

	if (!d32(x, &how))
		return false;
	if (how == 0) { /* SET_TO_SERVER_TIME4 */
		sa->mask |= now_bit;
		return true;
	}
	if (!d64(x, &s) || !d32(x, &ns))
		return false;
	t->tv_sec = (time_t)(int64_t)s;
	t->tv_nsec = ns;
	sa->mask |= set_bit;
	return true;
}

/*
 * Decode a fattr4 to set.  *set receives the bits taken; returns a status
 * (ATTRNOTSUPP for what we cannot set, INVAL for read-only attributes).
 */
static int dfattr_set(XDR *x, struct un_sattr *sa, uint64_t *set)
{
	uint32_t bm[NFS4_BITMAP_WORDS];
	char vals[4096], owner[NFS4_OPAQUE_MAX + 1];
	u_int len, olen;
	uint64_t bits;
	XDR v;
	int st = NFS4_OK;

	memset(sa, 0, sizeof(*sa));
	*set = 0;
	if (!dbitmap(x, bm) || !dbytes(x, vals, sizeof(vals), &len))
		return NFS4ERR_BADXDR;
	bits = bm64(bm);
	if (bm[2] || (bits & ~NFS4_SUPPORTED))
		return NFS4ERR_ATTRNOTSUPP;
	if (bits & ~nfs4_writable)
		return NFS4ERR_INVAL;
	xdrmem_create(&v, vals, len, XDR_DECODE);
	for (int n = 0; n < A_NATTRS && st == NFS4_OK; n++) {
		bool ok = true;

		if (!(bits & BIT(n)))
			continue;
		switch (n) {
		case A_SIZE:
			ok = d64(&v, &sa->size);
			sa->mask |= UN_SET_SIZE;
			break;
		case A_MODE:
			ok = d32(&v, &sa->mode);
			sa->mode &= 07777;
			sa->mask |= UN_SET_MODE;
			break;
		case A_OWNER:
		case A_OWNER_GROUP:
			ok = dbytes(&v, owner, NFS4_OPAQUE_MAX, &olen);
			if (!ok)
				break;
			st = parse_id(owner, olen,
				      n == A_OWNER ? &sa->uid : &sa->gid);
			sa->mask |= n == A_OWNER ? UN_SET_UID : UN_SET_GID;
			break;
		case A_TIME_ACCESS_SET:
			ok = dsettime(&v, sa, UN_SET_ATIME_NOW, UN_SET_ATIME,
				      &sa->atime);
			break;
		case A_TIME_MODIFY_SET:
			ok = dsettime(&v, sa, UN_SET_MTIME_NOW, UN_SET_MTIME,
				      &sa->mtime);
			break;
		}
		if (!ok)
			st = NFS4ERR_BADXDR;
	}
	xdr_destroy(&v);
	if (st == NFS4_OK)
		*set = bits;
	return st;
}

/* ---- operations ----------------------------------------------------------
 * Each decodes its arguments from cs->a and, on success, encodes its
 * results after the status into cs->r; it returns the status.
 */
#define ENC(expr)                                                              \
	do {                                                                   \
		if (!(expr))                                                   \
			return NFS4ERR_RESOURCE;                               \
	} while (0)

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
	if (bm64(bm) & BIT(A_RDATTR_ERROR))
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
	if (cs->cur.pseudo || is_export_root(&cs->cur)) {
		snprintf(path, sizeof(path), "%s",
			 cs->cur.pseudo ? cs->cur.path
					: export_rel(cs->cur.ex));
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
		st = nfs4_check_stateid(cs->srv, &sid);
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
	if (len > 0) {
		data = xinline(cs->a, XDR_ROUNDUP(len));
		if (data == NULL)
			return NFS4ERR_BADXDR;
	}
	st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = nfs4_check_stateid(cs->srv, &sid);
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
	st = dfattr_set(cs->a, &sa, &bits);
	if (st == NFS4ERR_BADXDR)
		cs->keep_body = false;
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, true);
	if (st == NFS4_OK && (sa.mask & UN_SET_SIZE))
		st = nfs4_check_stateid(cs->srv, &sid);
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
	st = dfattr_set(cs->a, &sa, &bits);
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
	const char *r = export_rel(ex), *end;

	if (!export_v4(ex))
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

/* ---- client ids and opens (4.0) ---- */

static int op_setclientid(struct cstate *cs)
{
	char buf[NFS4_OPAQUE_MAX];
	uint8_t verf[8], confirm[8];
	uint32_t prog, ident;
	u_int len;
	uint64_t id;

	if (!xdr_opaque(cs->a, (char *)verf, 8) ||
	    !dbytes(cs->a, buf, sizeof(buf), &len) || !d32(cs->a, &prog) ||
	    !dbytes(cs->a, buf, sizeof(buf), &len) ||
	    !dbytes(cs->a, buf, sizeof(buf), &len) || !d32(cs->a, &ident))
		return NFS4ERR_BADXDR;
	/* TODO: remember clients (by id string and verifier) in the
	 * catalog, CLID_INUSE for another principal, callbacks. */
	id = nfs4_new_clientid(cs->srv);
	memcpy(confirm, &id, 8);
	ENC(e64(cs->r, id) && efixed(cs->r, confirm, 8));
	return NFS4_OK;
}

static int op_setclientid_confirm(struct cstate *cs)
{
	uint64_t id;
	uint8_t confirm[8];

	if (!d64(cs->a, &id) || !xdr_opaque(cs->a, (char *)confirm, 8))
		return NFS4ERR_BADXDR;
	return nfs4_clientid_current(cs->srv, id) ? NFS4_OK
						  : NFS4ERR_STALE_CLIENTID;
}

static int op_renew(struct cstate *cs)
{
	uint64_t id;

	if (!d64(cs->a, &id))
		return NFS4ERR_BADXDR;
	return nfs4_clientid_current(cs->srv, id) ? NFS4_OK
						  : NFS4ERR_STALE_CLIENTID;
}

/* OPEN with CLAIM_NULL: find or create the file named in cs->cur. */
static int open_file(struct cstate *cs, const struct comp4 *name, bool create,
		     uint32_t how, const struct un_sattr *sa,
		     const uint8_t verf[8], uint32_t access,
		     struct v4fh *nfh, struct un_wcc *wcc)
{
	struct un_export *ux = cs->cur.ex->ux;
	struct un_attr a;
	uint32_t want = 0, granted = 0;
	int st;

	*nfh = cs->cur;
	if (create) {
		/* UN_CREATE_* match createmode4 UNCHECKED/GUARDED/EXCLUSIVE */
		st = un_create(ux, &cs->cred, &cs->cur.fh, name->s,
			       (enum un_createmode)how, sa, verf, &nfh->fh, &a,
			       wcc);
		if (st < 0)
			return nfs4_status(st);
	} else {
		st = un_lookup(ux, &cs->cred, &cs->cur.fh, name->s, &nfh->fh,
			       &a, NULL);
		if (st < 0)
			return nfs4_status(st);
	}
	if (a.type == UN_DIR)
		return NFS4ERR_ISDIR;
	if (a.type == UN_LNK)
		return NFS4ERR_SYMLINK;
	if (a.type != UN_REG)
		return NFS4ERR_INVAL;
	if (access & 1)
		want |= UN_ACCESS_READ;
	if (access & 2)
		want |= UN_ACCESS_MODIFY;
	/* The creator may write a file it just made read-only (RFC 7530
	 * 16.16.5): only existing files are checked. */
	if (!create || wcc->post_valid == false) {
		st = un_access(ux, &cs->cred, &nfh->fh, want, &granted, NULL);
		if (st < 0)
			return nfs4_status(st);
		if ((granted & want) != want && a.uid != cs->cred.uid)
			return NFS4ERR_ACCESS;
	}
	/* TODO: copy up here for a write open, so the handle's data is in
	 * the upper layer before the first WRITE (un_open_prepare). */
	return NFS4_OK;
}

static bool eopen_ok(struct cstate *cs, const struct un_wcc *wcc,
		     uint64_t bits)
{
	struct stateid4 sid;

	nfs4_new_stateid(cs->srv, &sid);
	return estateid(cs->r, &sid) && ecinfo(cs->r, wcc) &&
	       e32(cs->r, 4 /* OPEN4_RESULT_LOCKTYPE_POSIX */) &&
	       ebitmap(cs->r, bits) && e32(cs->r, 0 /* OPEN_DELEGATE_NONE */);
}

/* 4.1 OPEN of the file the current filehandle names (CLAIM_FH). */
static int open_by_fh(struct cstate *cs, uint32_t access, uint32_t deny,
		      uint32_t opentype)
{
	struct un_attr a;
	struct un_wcc wcc;
	uint32_t want = 0, granted = 0;
	int st;

	access &= 0xff;
	if (access == 0 || access > 3 || deny > 3 || opentype != 0)
		return NFS4ERR_INVAL;
	st = nfs4_use(cs, &cs->cur, access & 2);
	if (st == NFS4_OK && cs->cur.pseudo)
		st = NFS4ERR_ISDIR;
	if (st == NFS4_OK)
		st = nfs4_getattr(cs, &cs->cur, &a);
	if (st != NFS4_OK)
		return st;
	if (a.type != UN_REG)
		return a.type == UN_DIR ? NFS4ERR_ISDIR
		       : a.type == UN_LNK ? NFS4ERR_SYMLINK
					  : NFS4ERR_INVAL;
	if (access & 1)
		want |= UN_ACCESS_READ;
	if (access & 2)
		want |= UN_ACCESS_MODIFY;
	st = nfs4_status(un_access(cs->cur.ex->ux, &cs->cred, &cs->cur.fh,
				   want, &granted, NULL));
	if (st != NFS4_OK)
		return st;
	if ((granted & want) != want && a.uid != cs->cred.uid)
		return NFS4ERR_ACCESS;
	memset(&wcc, 0, sizeof(wcc));
	ENC(eopen_ok(cs, &wcc, 0));
	return NFS4_OK;
}

static int op_open(struct cstate *cs)
{
	uint32_t seqid, access, deny, opentype, how = 0, claim, dtype;
	char owner[NFS4_OPAQUE_MAX];
	uint8_t verf[8] = { 0 };
	struct comp4 name;
	struct un_sattr sa;
	struct un_wcc wcc;
	struct v4fh nfh;
	uint64_t clientid, bits = 0;
	u_int olen;
	int st = NFS4_OK;

	memset(&sa, 0, sizeof(sa));
	if (!d32(cs->a, &seqid) || !d32(cs->a, &access) ||
	    !d32(cs->a, &deny) || !d64(cs->a, &clientid) ||
	    !dbytes(cs->a, owner, sizeof(owner), &olen) ||
	    !d32(cs->a, &opentype))
		return NFS4ERR_BADXDR;
	if (opentype == 1) { /* OPEN4_CREATE */
		if (!d32(cs->a, &how))
			return NFS4ERR_BADXDR;
		if (how == 0 || how == 1)
			st = dfattr_set(cs->a, &sa, &bits);
		else if (how == 2)
			st = xdr_opaque(cs->a, (char *)verf, 8)
				     ? NFS4_OK
				     : NFS4ERR_BADXDR;
		else if (how == 3 && cs->minor > 0) /* EXCLUSIVE4_1 */
			st = xdr_opaque(cs->a, (char *)verf, 8)
				     ? dfattr_set(cs->a, &sa, &bits)
				     : NFS4ERR_BADXDR;
		else
			return NFS4ERR_INVAL;
		if (st != NFS4_OK)
			return st;
	}
	if (!d32(cs->a, &claim))
		return NFS4ERR_BADXDR;
	switch (claim) {
	case 0: /* CLAIM_NULL */
		if (!dcomp(cs->a, &name))
			return NFS4ERR_BADXDR;
		break;
	case 1: /* CLAIM_PREVIOUS: no state survives a restart yet */
		if (!d32(cs->a, &dtype))
			return NFS4ERR_BADXDR;
		return NFS4ERR_NO_GRACE;
	case 4: /* CLAIM_FH (4.1): the current filehandle is the file */
		if (cs->minor == 0)
			return NFS4ERR_NOTSUPP;
		return open_by_fh(cs, access, deny, opentype);
	default:
		return NFS4ERR_NOTSUPP;
	}
	if (!nfs4_clientid_current(cs->srv, clientid))
		return NFS4ERR_STALE_CLIENTID;
	access &= 0xff;
	if (access == 0 || access > 3 || deny > 3)
		return NFS4ERR_INVAL;
	if (how == 3) /* EXCLUSIVE4_1 is EXCLUSIVE4 with attributes */
		how = 2;
	st = need_dir(cs, &cs->cur);
	if (st == NFS4_OK)
		st = comp_check(&name);
	if (st == NFS4_OK)
		st = nfs4_use(cs, &cs->cur, opentype == 1 || (access & 2));
	if (st == NFS4_OK && cs->cur.pseudo)
		st = opentype == 1 ? NFS4ERR_ROFS : NFS4ERR_ISDIR;
	if (st != NFS4_OK)
		return st;
	memset(&wcc, 0, sizeof(wcc));
	st = open_file(cs, &name, opentype == 1, how, &sa, verf, access, &nfh,
		       &wcc);
	if (st != NFS4_OK)
		return st;
	/* EXCLUSIVE4 sets no attributes: the client follows with SETATTR */
	if (how == 2)
		bits = 0;
	ENC(eopen_ok(cs, &wcc, bits));
	cs->cur = nfh;
	return NFS4_OK;
}

/* OPEN_CONFIRM, CLOSE, OPEN_DOWNGRADE: the stateid moves to its next
 * seqid.  TODO: check it against the open it names. */
static int next_stateid(struct cstate *cs, struct stateid4 *sid)
{
	int st;

	if (!cs->cur.set)
		return NFS4ERR_NOFILEHANDLE;
	if (cs->cur.pseudo)
		return NFS4ERR_ISDIR;
	st = nfs4_check_stateid(cs->srv, sid);
	if (st != NFS4_OK)
		return st;
	sid->seqid++;
	ENC(estateid(cs->r, sid));
	return NFS4_OK;
}

static int op_open_confirm(struct cstate *cs)
{
	struct stateid4 sid;
	uint32_t seqid;

	if (!dstateid(cs->a, &sid) || !d32(cs->a, &seqid))
		return NFS4ERR_BADXDR;
	return next_stateid(cs, &sid);
}

static int op_close(struct cstate *cs)
{
	struct stateid4 sid;
	uint32_t seqid;

	if (!d32(cs->a, &seqid) || !dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	return next_stateid(cs, &sid);
}

static int op_open_downgrade(struct cstate *cs)
{
	struct stateid4 sid;
	uint32_t seqid, access, deny;

	if (!dstateid(cs->a, &sid) || !d32(cs->a, &seqid) ||
	    !d32(cs->a, &access) || !d32(cs->a, &deny))
		return NFS4ERR_BADXDR;
	return next_stateid(cs, &sid);
}

static int op_delegreturn(struct cstate *cs)
{
	struct stateid4 sid;

	if (!dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	return NFS4_OK; /* no delegations are given */
}

static int op_release_lockowner(struct cstate *cs)
{
	char owner[NFS4_OPAQUE_MAX];
	uint64_t clientid;
	u_int len;

	if (!d64(cs->a, &clientid) ||
	    !dbytes(cs->a, owner, sizeof(owner), &len))
		return NFS4ERR_BADXDR;
	return NFS4_OK;
}

static int op_notsupp(struct cstate *cs)
{
	(void)cs;
	return NFS4ERR_NOTSUPP;
}

/* ---- 4.1 sessions --------------------------------------------------------
 * A session's slot table caches each slot's last reply, so that a
 * retransmitted SEQUENCE gets the reply it missed instead of a second
 * execution (RFC 8881 section 2.10.6).
 */
#define NFS4_SESSIONS 64
#define NFS4_SLOTS 64
#define NFS4_CACHED_MAX (64 * 1024)

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
	struct nfs4_slot slots[NFS4_SLOTS];
};

static struct nfs4_session nfs4_sessions[NFS4_SESSIONS];
static uint64_t nfs4_session_clock;

static void session_free(struct nfs4_session *se)
{
	for (unsigned i = 0; i < NFS4_SLOTS; i++)
		free(se->slots[i].cache);
	memset(se, 0, sizeof(*se));
}

/* Callers hold nfs4_state_lock. */
static struct nfs4_session *session_find(const uint8_t id[16])
{
	for (unsigned i = 0; i < NFS4_SESSIONS; i++)
		if (nfs4_sessions[i].used &&
		    !memcmp(nfs4_sessions[i].id, id, 16))
			return &nfs4_sessions[i];
	return NULL;
}

/* A free entry, else the least recently used idle one. */
static struct nfs4_session *session_alloc(void)
{
	struct nfs4_session *lru = NULL;

	for (unsigned i = 0; i < NFS4_SESSIONS; i++) {
		struct nfs4_session *se = &nfs4_sessions[i];
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

enum {
	OP_BIND_CONN_TO_SESSION = 41,
	OP_EXCHANGE_ID = 42,
	OP_CREATE_SESSION = 43,
	OP_DESTROY_SESSION = 44,
	OP_FREE_STATEID = 45,
	OP_SECINFO_NO_NAME = 52,
	OP_SEQUENCE = 53,
	OP_TEST_STATEID = 55,
	OP_DESTROY_CLIENTID = 57,
	OP_RECLAIM_COMPLETE = 58,
	OP_LAST_41 = 58,
	OP_LAST_42 = 71,
};

enum {
	NFS4ERR_BADSESSION = 10052,
	NFS4ERR_BADSLOT = 10053,
	NFS4ERR_NOT_ONLY_OP = 10081,
	NFS4ERR_SEQ_MISORDERED = 10063,
	NFS4ERR_SEQUENCE_POS = 10064,
	NFS4ERR_RETRY_UNCACHED_REP = 10068,
	NFS4ERR_TOO_MANY_OPS = 10070,
	NFS4ERR_OP_NOT_IN_SESSION = 10071,
	NFS4ERR_DELAY = 10008,
};

static bool skip_bytes(XDR *x)
{
	char buf[NFS4_OPAQUE_MAX];
	u_int len;

	return dbytes(x, buf, sizeof(buf), &len);
}

static int op_exchange_id(struct cstate *cs)
{
	uint8_t verf[8];
	uint32_t flags, how, n, bm[NFS4_BITMAP_WORDS];
	uint64_t t;
	static const char scope[] = "unionnfsd";
	uint64_t id;

	if (!xdr_opaque(cs->a, (char *)verf, 8) || !skip_bytes(cs->a) ||
	    !d32(cs->a, &flags) || !d32(cs->a, &how))
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
	/* TODO: one client id per client owner, confirmed flag, catalog. */
	id = nfs4_new_clientid(cs->srv);
	ENC(e64(cs->r, id) && e32(cs->r, 1) &&
	    e32(cs->r, 0x00010000 /* EXCHGID4_FLAG_USE_NON_PNFS */) &&
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
	struct nfs4_session *se;
	uint8_t id[16];
	uint64_t n;

	if (!d64(cs->a, &clientid) || !d32(cs->a, &seq) ||
	    !d32(cs->a, &flags) || !dchan(cs->a, &fore) ||
	    !dchan(cs->a, &back) || !d32(cs->a, &prog) ||
	    !skip_cb_sec(cs->a))
		return NFS4ERR_BADXDR;
	if (!nfs4_clientid_current(cs->srv, clientid))
		return NFS4ERR_STALE_CLIENTID;
	fore.maxreq = min32(fore.maxreq, cs->srv->cfg->max_record);
	fore.maxresp = min32(fore.maxresp, NFS4_MAXIO + NFS4_REPLY_SLACK);
	fore.maxcached = min32(fore.maxcached, NFS4_CACHED_MAX);
	fore.maxops = min32(fore.maxops, NFS4_MAXOPS);
	fore.maxreqs = min32(fore.maxreqs, NFS4_SLOTS);
	if (fore.maxreqs == 0)
		fore.maxreqs = 1;
	n = nfs4_new_id();
	memcpy(id, &clientid, 8);
	memcpy(id + 8, &n, 8);
	pthread_mutex_lock(&nfs4_state_lock);
	se = session_alloc();
	if (se) {
		se->used = true;
		memcpy(se->id, id, 16);
		se->clientid = clientid;
		se->nslots = fore.maxreqs;
		se->last_used = ++nfs4_session_clock;
	}
	pthread_mutex_unlock(&nfs4_state_lock);
	if (se == NULL)
		return NFS4ERR_DELAY; /* every session is busy */
	/* flags 0: no persistence, no back channel (no callbacks yet) */
	ENC(efixed(cs->r, id, 16) && e32(cs->r, seq) && e32(cs->r, 0) &&
	    echan(cs->r, &fore) && echan(cs->r, &back));
	return NFS4_OK;
}

static int op_destroy_session(struct cstate *cs)
{
	uint8_t id[16];
	struct nfs4_session *se;

	if (!xdr_opaque(cs->a, (char *)id, 16))
		return NFS4ERR_BADXDR;
	pthread_mutex_lock(&nfs4_state_lock);
	se = session_find(id);
	/* The session of this very COMPOUND is in use: its slot is freed
	 * when the COMPOUND ends (cs->session is cleared below). */
	if (se && se == cs->session)
		cs->destroy_session = true;
	else if (se)
		session_free(se);
	pthread_mutex_unlock(&nfs4_state_lock);
	return se ? NFS4_OK : NFS4ERR_BADSESSION;
}

static int op_destroy_clientid(struct cstate *cs)
{
	uint64_t id;

	if (!d64(cs->a, &id))
		return NFS4ERR_BADXDR;
	if (!nfs4_clientid_current(cs->srv, id))
		return NFS4ERR_STALE_CLIENTID;
	pthread_mutex_lock(&nfs4_state_lock);
	for (unsigned i = 0; i < NFS4_SESSIONS; i++)
		if (nfs4_sessions[i].used && nfs4_sessions[i].clientid == id &&
		    &nfs4_sessions[i] != cs->session)
			session_free(&nfs4_sessions[i]);
	pthread_mutex_unlock(&nfs4_state_lock);
	return NFS4_OK;
}

static int op_bind_conn_to_session(struct cstate *cs)
{
	uint8_t id[16];
	uint32_t dir, rdma;
	bool found;

	if (!xdr_opaque(cs->a, (char *)id, 16) || !d32(cs->a, &dir) ||
	    !d32(cs->a, &rdma))
		return NFS4ERR_BADXDR;
	pthread_mutex_lock(&nfs4_state_lock);
	found = session_find(id) != NULL;
	pthread_mutex_unlock(&nfs4_state_lock);
	if (!found)
		return NFS4ERR_BADSESSION;
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
	uint32_t seq, slotid, highest, cachethis;
	struct nfs4_session *se;
	struct nfs4_slot *sl;
	uint32_t nslots = 0;
	int st = NFS4_OK;

	if (!xdr_opaque(cs->a, (char *)id, 16) || !d32(cs->a, &seq) ||
	    !d32(cs->a, &slotid) || !d32(cs->a, &highest) ||
	    !d32(cs->a, &cachethis))
		return NFS4ERR_BADXDR;
	pthread_mutex_lock(&nfs4_state_lock);
	se = session_find(id);
	if (se == NULL) {
		st = NFS4ERR_BADSESSION;
	} else if (slotid >= se->nslots) {
		st = NFS4ERR_BADSLOT;
	} else {
		sl = &se->slots[slotid];
		nslots = se->nslots;
		if (sl->busy) {
			st = NFS4ERR_DELAY;
		} else if (seq == sl->seqid && seq != 0) {
			if (sl->cache) {
				cs->replay = malloc(sl->cachelen);
				if (cs->replay) {
					memcpy(cs->replay, sl->cache,
					       sl->cachelen);
					cs->replaylen = sl->cachelen;
				} else {
					st = NFS4ERR_DELAY;
				}
			} else {
				st = NFS4ERR_RETRY_UNCACHED_REP;
			}
		} else if (seq != sl->seqid + 1) {
			st = NFS4ERR_SEQ_MISORDERED;
		} else {
			sl->seqid = seq;
			sl->busy = true;
			se->last_used = ++nfs4_session_clock;
			cs->session = se;
			cs->slot = sl;
		}
	}
	pthread_mutex_unlock(&nfs4_state_lock);
	if (st != NFS4_OK || cs->replay)
		return st;
	ENC(efixed(cs->r, id, 16) && e32(cs->r, seq) && e32(cs->r, slotid) &&
	    e32(cs->r, nslots - 1) && e32(cs->r, nslots - 1) &&
	    e32(cs->r, 0 /* status flags */));
	return NFS4_OK;
}

/* The reply is done: keep it in the slot for a retransmission. */
static void sequence_done(struct cstate *cs, const uint8_t *res, u_int len)
{
	pthread_mutex_lock(&nfs4_state_lock);
	free(cs->slot->cache);
	cs->slot->cache = NULL;
	cs->slot->cachelen = 0;
	if (len <= NFS4_CACHED_MAX) {
		cs->slot->cache = malloc(len);
		if (cs->slot->cache) {
			memcpy(cs->slot->cache, res, len);
			cs->slot->cachelen = len;
		}
	}
	cs->slot->busy = false;
	if (cs->destroy_session)
		session_free(cs->session);
	pthread_mutex_unlock(&nfs4_state_lock);
}

static int op_reclaim_complete(struct cstate *cs)
{
	uint32_t one_fs;

	if (!d32(cs->a, &one_fs))
		return NFS4ERR_BADXDR;
	return NFS4_OK; /* no grace period yet */
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
		ENC(e32(cs->r, (uint32_t)nfs4_check_stateid(cs->srv, &sid[i])));
	return NFS4_OK;
}

static int op_free_stateid(struct cstate *cs)
{
	struct stateid4 sid;

	if (!dstateid(cs->a, &sid))
		return NFS4ERR_BADXDR;
	return nfs4_check_stateid(cs->srv, &sid);
}

/* ---- byte-range locks ----------------------------------------------------
 * NFS4_LOCKS 0 turns LOCK/LOCKT/LOCKU into NOTSUPP.
 */
#define NFS4_LOCKS 1
#if NFS4_LOCKS
/*
 * The locks live in the daemon's one table (locks.h), keyed by the union
 * object, so NFSv4 and NLM locks conflict and survive copy-up.  A lock
 * stateid names its lock owner here.  TODO: this ring forgets the oldest
 * of NFS4_LOCKSTATES owners (LOCKU then gets BAD_STATEID); lease expiry
 * does not release locks yet.
 */
#define NFS4_LOCKSTATES 256
#define NFS4ERR_DENIED 10010
#define NFS4ERR_BAD_STATEID 10025
#define NFS4ERR_LOCK_RANGE 10028

struct nfs4_lockstate {
	bool used;
	uint8_t other[12];
	uint32_t seqid;
	uint64_t clientid;
	uint8_t owner[NFS4_OPAQUE_MAX];
	u_int owner_len;
};

static struct nfs4_lockstate nfs4_lockstates[NFS4_LOCKSTATES];
static unsigned nfs4_lockstate_next;

/* Callers hold nfs4_state_lock. */
static struct nfs4_lockstate *lockstate_find(const uint8_t other[12])
{
	for (unsigned i = 0; i < NFS4_LOCKSTATES; i++)
		if (nfs4_lockstates[i].used &&
		    !memcmp(nfs4_lockstates[i].other, other, 12))
			return &nfs4_lockstates[i];
	return NULL;
}

/* Copy of a lock stateid's owner, taken under the lock. */
struct lock_owner4 {
	uint64_t clientid;
	uint8_t owner[NFS4_OPAQUE_MAX];
	u_int owner_len;
};

static void lk_owner_of(const struct lock_owner4 *lo, struct lk_owner *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = LK_PROTO_NFS4;
	o->client = &lo->clientid;
	o->client_len = sizeof(lo->clientid);
	o->oh = lo->owner;
	o->oh_len = lo->owner_len;
}

/* A stateid for a new lock owner, or the existing one's next seqid. */
static int lockstate_get(struct cstate *cs, bool is_new,
			 const struct lock_owner4 *lo, struct stateid4 *sid,
			 struct lock_owner4 *out)
{
	struct nfs4_lockstate *ls;
	int st = NFS4_OK;

	/* before taking nfs4_state_lock: nfs4_new_id takes it too */
	if (is_new)
		nfs4_new_stateid(cs->srv, sid);
	pthread_mutex_lock(&nfs4_state_lock);
	if (is_new) {
		ls = &nfs4_lockstates[nfs4_lockstate_next++ % NFS4_LOCKSTATES];
		memset(ls, 0, sizeof(*ls));
		ls->used = true;
		memcpy(ls->other, sid->other, 12);
		ls->clientid = lo->clientid;
		memcpy(ls->owner, lo->owner, lo->owner_len);
		ls->owner_len = lo->owner_len;
	} else {
		ls = lockstate_find(sid->other);
		if (ls == NULL)
			st = nfs4_check_stateid(cs->srv, sid) == NFS4_OK
				     ? NFS4ERR_BAD_STATEID
				     : NFS4ERR_STALE_STATEID;
	}
	if (st == NFS4_OK) {
		sid->seqid = ++ls->seqid;
		out->clientid = ls->clientid;
		memcpy(out->owner, ls->owner, ls->owner_len);
		out->owner_len = ls->owner_len;
	}
	pthread_mutex_unlock(&nfs4_state_lock);
	return st;
}

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
static int lock_object(struct cstate *cs, struct lk_object *obj)
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
	}
	return st;
}

static bool dlock_owner(XDR *x, struct lock_owner4 *lo)
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

static int op_lock(struct cstate *cs)
{
	uint32_t type, reclaim, is_new, seq;
	uint64_t off, len, lklen = 0;
	struct stateid4 sid, open_sid;
	struct lock_owner4 lo, owner;
	struct lk_object obj;
	struct lk_owner o;
	struct lk_conflict conflict;
	enum lk_result r;
	int st;

	memset(&lo, 0, sizeof(lo));
	if (!d32(cs->a, &type) || !d32(cs->a, &reclaim) || !d64(cs->a, &off) ||
	    !d64(cs->a, &len) || !d32(cs->a, &is_new))
		return NFS4ERR_BADXDR;
	if (is_new) {
		if (!d32(cs->a, &seq) || !dstateid(cs->a, &open_sid) ||
		    !d32(cs->a, &seq) || !dlock_owner(cs->a, &lo))
			return NFS4ERR_BADXDR;
	} else if (!dstateid(cs->a, &sid) || !d32(cs->a, &seq)) {
		return NFS4ERR_BADXDR;
	}
	if (type < 1 || type > 4)
		return NFS4ERR_INVAL;
	if (reclaim)
		return NFS4ERR_NO_GRACE;
	st = lock_range(off, len, &lklen);
	if (st == NFS4_OK)
		st = lock_object(cs, &obj);
	if (st == NFS4_OK && is_new)
		st = nfs4_check_stateid(cs->srv, &open_sid);
	if (st == NFS4_OK && is_new &&
	    !nfs4_clientid_current(cs->srv, lo.clientid))
		st = NFS4ERR_STALE_CLIENTID;
	if (st != NFS4_OK)
		return st;
	/* the stateid's seqid moves only when the lock is granted */
	st = lockstate_get(cs, is_new, &lo, &sid, &owner);
	if (st != NFS4_OK)
		return st;
	lk_owner_of(&owner, &o);
	/* READW/WRITEW: the client polls; no blocking grants (no callbacks) */
	r = lk_lock(&obj, &o, type == 1 || type == 3 ? LK_READ : LK_WRITE, off,
		    lklen, &conflict, NULL, NULL);
	if (r == LK_DENIED || r == LK_BLOCKED)
		return lock_denied(cs, &conflict);
	if (r != LK_OK)
		return NFS4ERR_RESOURCE;
	ENC(estateid(cs->r, &sid));
	return NFS4_OK;
}

static int op_lockt(struct cstate *cs)
{
	uint32_t type;
	uint64_t off, len, lklen = 0;
	struct lock_owner4 lo;
	struct lk_object obj;
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
		st = lock_object(cs, &obj);
	if (st != NFS4_OK)
		return st;
	lk_owner_of(&lo, &o);
	if (lk_test(&obj, &o, type == 1 || type == 3 ? LK_READ : LK_WRITE, off,
		    lklen, &conflict) == LK_DENIED)
		return lock_denied(cs, &conflict);
	return NFS4_OK;
}

static int op_locku(struct cstate *cs)
{
	uint32_t type, seq;
	uint64_t off, len, lklen = 0;
	struct stateid4 sid;
	struct lock_owner4 owner;
	struct lk_object obj;
	struct lk_owner o;
	int st;

	if (!d32(cs->a, &type) || !d32(cs->a, &seq) ||
	    !dstateid(cs->a, &sid) || !d64(cs->a, &off) || !d64(cs->a, &len))
		return NFS4ERR_BADXDR;
	st = lock_range(off, len, &lklen);
	if (st == NFS4_OK)
		st = lock_object(cs, &obj);
	if (st == NFS4_OK)
		st = lockstate_get(cs, false, NULL, &sid, &owner);
	if (st != NFS4_OK)
		return st;
	lk_owner_of(&owner, &o);
	lk_unlock(&obj, &o, off, lklen);
	ENC(estateid(cs->r, &sid));
	return NFS4_OK;
}

#endif /* NFS4_LOCKS */

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
#if NFS4_LOCKS
	[OP_LOCK] = op_lock,
	[OP_LOCKT] = op_lockt,
	[OP_LOCKU] = op_locku,
#else
	[OP_LOCK] = op_notsupp,
	[OP_LOCKT] = op_notsupp,
	[OP_LOCKU] = op_notsupp,
#endif
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
	if (st != NFS4_OK && !cs->keep_body && !xdr_setpos(cs->r, pos))
		return -1;
	*statusp = htonl((uint32_t)st);
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
		sequence_done(cs, (const uint8_t *)statusp,
			      xdr_getpos(cs->r) - start);
	free(cs->replay);
	free(cs);
	return ret;
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
