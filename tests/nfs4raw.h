/*
 * nfs4raw.h - raw NFSv4 COMPOUNDs for the C tests, built and parsed by
 * hand with libtirpc's XDR over one TCP connection (nfs4_sock).
 *
 * By hand because the tests need bytes no client library would send:
 * forged handles, wrong seqids, replayed OPENs, ops a minor version does
 * not have.  A result is read field by field (next_result, get32...) in
 * the order the server wrote it.
 */
#ifndef UNIONNFSD_TESTS_NFS4RAW_H
#define UNIONNFSD_TESTS_NFS4RAW_H

#include <rpc/rpc.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	OP_CLOSE = 4, OP_GETATTR = 9, OP_GETFH = 10, OP_LOCK = 12,
	OP_LOOKUP = 15, OP_OPEN = 18, OP_OPEN_DOWNGRADE = 21, OP_PUTFH = 22,
	OP_PUTROOTFH = 24, OP_READ = 25, OP_RENEW = 30, OP_SETATTR = 34,
	OP_SETCLIENTID = 35,
	OP_SETCLIENTID_CONFIRM = 36, OP_WRITE = 38, OP_EXCHANGE_ID = 42,
	OP_CREATE_SESSION = 43, OP_FREE_STATEID = 45, OP_SEQUENCE = 53,
	OP_TEST_STATEID = 55, OP_RECLAIM_COMPLETE = 58,
	OP_ILLEGAL = 10044,
};
enum {
	NFS4_OK = 0, NFS4ERR_NOENT = 2, NFS4ERR_STALE = 70,
	NFS4ERR_BADHANDLE = 10001, NFS4ERR_DENIED = 10010,
	NFS4ERR_EXPIRED = 10011, NFS4ERR_SHARE_DENIED = 10015,
	NFS4ERR_RESOURCE = 10018, NFS4ERR_NOFILEHANDLE = 10020,
	NFS4ERR_MINOR_VERS_MISMATCH = 10021, NFS4ERR_STALE_CLIENTID = 10022,
	NFS4ERR_OLD_STATEID = 10024, NFS4ERR_BAD_STATEID = 10025,
	NFS4ERR_BAD_SEQID = 10026, NFS4ERR_LOCKS_HELD = 10037,
	NFS4ERR_OPENMODE = 10038,
	NFS4ERR_OP_ILLEGAL = 10044, NFS4ERR_SEQ_MISORDERED = 10063,
	NFS4ERR_OP_NOT_IN_SESSION = 10071, NFS4ERR_GRACE = 10013,
	NFS4ERR_NO_GRACE = 10033, NFS4ERR_RECLAIM_BAD = 10034,
	NFS4ERR_COMPLETE_ALREADY = 10054,
};
enum { ACCESS_READ = 1, ACCESS_WRITE = 2, ACCESS_BOTH = 3 };
enum { DENY_NONE = 0, DENY_READ = 1, DENY_WRITE = 2 };

/* The connection every call goes over; a test may swap it for a while. */
extern int nfs4_sock;

/* A COMPOUND being built: the call record after the RPC header. */
struct comp {
	uint8_t buf[8192];
	XDR x;
	uint32_t *nops;
};

/* The reply's COMPOUND4res, after the accepted header. */
struct res {
	uint8_t buf[65536];
	size_t len;
	XDR x;
	uint32_t status, nres;
	char tag[64];
};

struct sid {
	uint32_t seqid;
	uint8_t other[12];
};

struct fh {
	uint8_t data[128];
	u_int len;
};

/* OPEN of name in the export's root by owner of clientid. */
struct open_req {
	uint64_t clientid;
	const char *owner;
	uint32_t seqid, access, deny;
	bool create;
	const char *name;
};

void put32(XDR *x, uint32_t v);
void put64(XDR *x, uint64_t v);
void putbytes(XDR *x, const void *p, u_int n);
void put_sid(XDR *x, const struct sid *s);
void comp_begin(struct comp *c, const char *tag, uint32_t minor);
void comp_op(struct comp *c, uint32_t op);
void putfh(struct comp *c, const struct fh *fh);

bool comp_call_buf(struct comp *c, struct res *r, uint8_t *buf, size_t cap);
bool comp_call(struct comp *c, struct res *r);

uint32_t get32(struct res *r);
uint64_t get64(struct res *r);
u_int getbytes(struct res *r, void *buf, u_int max);
void get_sid(struct res *r, struct sid *s);
uint32_t next_result(struct res *r, uint32_t op);
/* Call a COMPOUND of PUTFH and op (and its arguments): op's status, r at
 * its result's body; 0xdeadbeef when there is no answer. */
uint32_t putfh_op_call(struct comp *c, struct res *r, uint32_t op);

uint64_t client40(const char *name);
uint32_t open40(const struct open_req *o, struct sid *sid, struct fh *fh,
		struct res *r);
uint32_t close40(const struct fh *fh, const struct sid *sid, uint32_t seqid);

#endif
