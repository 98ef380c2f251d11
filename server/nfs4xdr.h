/*
 * nfs4xdr.h - what the parts of the NFSv4 server share (like fs/nfsd's
 * xdr4.h): protocol numbers from RFC 7531/5662/7863, the streaming XDR
 * helpers every operation decodes and encodes with, the COMPOUND state,
 * and the attribute codecs of nfs4xdr.c.
 *
 * The helpers work straight on the call and reply XDR streams: each
 * operation decodes its arguments from cs->a and encodes its results into
 * cs->r, so READ and WRITE data are never copied.
 */
#ifndef UNIONNFSD_NFS4XDR_H
#define UNIONNFSD_NFS4XDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rpc/rpc.h>

#include "rpc.h"
#include "server.h"
#include "union.h"

#define NFS4_PROGRAM 100003
#define NFS4_VERSION 4
#define NFS4_MINOR_MAX 2

#define NFS4_FHSIZE 128
#define NFS4_PSEUDO_FH 0xf4
#define NFS4_MAXOPS 64
#define NFS4_MAXIO (256 * 1024)
#define NFS4_REPLY_SLACK (32 * 1024)
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
	NFS4ERR_RECLAIM_BAD = 10034,
	NFS4ERR_COMPLETE_ALREADY = 10054,
	NFS4ERR_BADXDR = 10036,
	NFS4ERR_BADOWNER = 10039,
	NFS4ERR_BADCHAR = 10040,
	NFS4ERR_BADNAME = 10041,
	NFS4ERR_OP_ILLEGAL = 10044,
	NFS4ERR_EXPIRED = 10011,
	NFS4ERR_LOCKED = 10012,
	NFS4ERR_GRACE = 10013,
	NFS4ERR_SHARE_DENIED = 10015,
	NFS4ERR_CLID_INUSE = 10017,
	NFS4ERR_DENIED = 10010,
	NFS4ERR_DELAY = 10008,
	NFS4ERR_BAD_SEQID = 10026,
	NFS4ERR_BAD_STATEID = 10025,
	NFS4ERR_OLD_STATEID = 10024,
	NFS4ERR_LOCK_RANGE = 10028,
	NFS4ERR_OPENMODE = 10038,
	NFS4ERR_LOCKS_HELD = 10037,
	NFS4ERR_LEASE_MOVED = 10031,
	NFS4ERR_BADSESSION = 10052,
	NFS4ERR_BADSLOT = 10053,
	NFS4ERR_SEQ_MISORDERED = 10063,
	NFS4ERR_SEQUENCE_POS = 10064,
	NFS4ERR_RETRY_UNCACHED_REP = 10068,
	NFS4ERR_TOO_MANY_OPS = 10070,
	NFS4ERR_OP_NOT_IN_SESSION = 10071,
	NFS4ERR_NOT_ONLY_OP = 10081,
	NFS4ERR_UNION_NOTSUPP = 10090,
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
	OP_ALLOCATE = 59,
	OP_DEALLOCATE = 62,
	OP_SEEK = 69,
	OP_LAST_42 = 71,
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

#define NFS4_BIT(n) (1ull << (n))
/* What GETATTR can return, and what SETATTR can set (nfs4xdr.c). */
extern const uint64_t nfs4_readable, nfs4_writable;
#define NFS4_SUPPORTED (nfs4_readable | nfs4_writable)


struct stateid4 {
	uint32_t seqid;
	uint8_t other[12];
};

/*
 * A component4: up to NFS4_OPAQUE_MAX bytes decode (longer is bad XDR);
 * comp_check says whether it is a name the engine can take.
 */
struct comp4 {
	char s[NFS4_OPAQUE_MAX + 1];
	u_int len;
};

/* ---- streaming XDR helpers ---------------------------------------------- */

/* xdr_inline gives int32_t *; the reply is written as raw bytes. */
static inline void *xinline(XDR *x, u_int n)
{
	return xdr_inline(x, (int)n);
}

static inline bool d32(XDR *x, uint32_t *v)
{
	return xdr_uint32_t(x, v);
}

static inline bool d64(XDR *x, uint64_t *v)
{
	return xdr_uint64_t(x, v);
}

static inline bool e32(XDR *x, uint32_t v)
{
	return xdr_uint32_t(x, &v);
}

static inline bool e64(XDR *x, uint64_t v)
{
	return xdr_uint64_t(x, &v);
}

static inline bool efixed(XDR *x, const void *p, u_int n)
{
	return xdr_opaque(x, (char *)(uintptr_t)p, n);
}

static inline bool dfixed(XDR *x, void *p, u_int n)
{
	return xdr_opaque(x, p, n);
}

static inline bool ebytes(XDR *x, const void *p, u_int n)
{
	char *cp = (char *)(uintptr_t)p;

	return xdr_bytes(x, &cp, &n, n);
}

/* A variable-length opaque of at most max bytes, into buf. */
static inline bool dbytes(XDR *x, void *buf, u_int max, u_int *len)
{
	char *cp = buf;

	return xdr_bytes(x, &cp, len, max);
}

static inline bool dstateid(XDR *x, struct stateid4 *s)
{
	return d32(x, &s->seqid) && dfixed(x, s->other, 12);
}

static inline bool estateid(XDR *x, const struct stateid4 *s)
{
	return e32(x, s->seqid) && efixed(x, s->other, 12);
}

static inline uint64_t bm64(const uint32_t bm[NFS4_BITMAP_WORDS])
{
	return (uint64_t)bm[1] << 32 | bm[0];
}

static inline bool ebitmap(XDR *x, uint64_t bits)
{
	return e32(x, 2) && e32(x, (uint32_t)bits) && e32(x, bits >> 32);
}

static inline bool dcomp(XDR *x, struct comp4 *c)
{
	if (!dbytes(x, c->s, NFS4_OPAQUE_MAX, &c->len))
		return false;
	c->s[c->len] = '\0';
	return true;
}

/* An opaque the server does not keep. */
static inline bool skip_bytes(XDR *x)
{
	char buf[NFS4_OPAQUE_MAX];
	u_int len;

	return dbytes(x, buf, sizeof(buf), &len);
}

/* In an operation: a result that does not fit ends the COMPOUND. */
#define ENC(expr)                                                              \
	do {                                                                   \
		if (!(expr))                                                   \
			return NFS4ERR_RESOURCE;                               \
	} while (0)

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
	/* 4.0: the owner whose seqid the running op moves (0: none) */
	uint64_t seq_owner;
	uint32_t seq_value;
	uint64_t open_owner; /* OPEN: the owner nfs4_open_owner found */
};

/* An object whose attributes are being encoded. */
struct v4obj {
	const struct v4fh *fh;
	struct un_attr attr;
	struct srv_export *ex; /* NULL in the pseudo file system */
	bool have_statfs;
	struct un_statfs st;
};

/* ---- nfs4xdr.c ---------------------------------------------------------- */
bool dbitmap(XDR *x, uint32_t bm[NFS4_BITMAP_WORDS]);
int comp_check(const struct comp4 *c);
uint64_t ts_ns(const struct timespec *t);
bool etime(XDR *x, const struct timespec *t);
/* change_info4 from a directory's wcc data. */
bool ecinfo(XDR *x, const struct un_wcc *w);
/* An engine errno as an nfsstat4. */
int nfs4_status(int err);
bool efh(XDR *x, const struct v4fh *fh);
/* fattr4 with the requested attributes we can give. */
bool efattr(struct cstate *cs, XDR *x, struct v4obj *o,
	    const uint32_t req[NFS4_BITMAP_WORDS]);
int obj_load(struct cstate *cs, const struct v4fh *fh, struct v4obj *o);
/*
 * Decode a fattr4 to set.  *set receives the bits taken; returns a status
 * (ATTRNOTSUPP for what we cannot set, INVAL for read-only attributes).
 */
int dfattr_set(struct cstate *cs, XDR *x, struct un_sattr *sa,
	       uint64_t *set);
/* The id-mapping domain of owner@domain strings. */
const char *nfs4_idmap_domain(const struct server *srv);

/* ---- nfs4proc.c: the pseudo file system, used by the attributes ---- */
bool nfs4_export_v4(const struct srv_export *ex);
const char *nfs4_export_rel(const struct srv_export *ex);
uint64_t nfs4_pseudo_fileid(const char *path);
bool nfs4_is_export_root(const struct v4fh *fh);
int nfs4_getattr(struct cstate *cs, const struct v4fh *fh, struct un_attr *a);

#endif
