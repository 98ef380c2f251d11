/*
 * nfs4_test.c - raw NFSv4 COMPOUNDs against a real daemon, built by hand
 * with libtirpc's XDR: minor-version dispatch, tag echo, OP_ILLEGAL, the
 * first failing op ending the COMPOUND, forged handles, the pseudo root,
 * too many ops, 4.1 sessions with the slot reply cache, and open state:
 * share reservations between two clients, OPENMODE, the 4.0 seqid rules
 * with the replay of a retransmitted OPEN, OLD_STATEID after a
 * downgrade, copy-up at OPEN for write, and a lease expiry that frees a
 * lock (on a second daemon with a two-second lease), and the grace
 * period after a restart in which a 4.1 client reclaims its open and its
 * lock (on a third daemon, restarted with "--grace 5"), and 4.2's SEEK,
 * ALLOCATE (copying a lower file up) and DEALLOCATE on sparse files;
 * SECINFO, SECINFO_NO_NAME and WRONGSEC on an export with sec=krb5:krb5i
 * (RFC 8881 2.6.3.1.1's put filehandle rules); the acl and aclsupport
 * attributes (a lower file's POSIX ACL as ACEs, SETATTR acl copying up);
 * 4.1's dacl (the acl with a flag) and sacl (always empty).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <pwd.h>
#include <rpc/rpc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "nfs4raw.h"
#include "tap.h"

#ifdef HAVE_LIBNFS_V4
#include <nfsc/libnfs.h>
#endif

static struct tdaemon d;

static void test_minor_and_tag(void)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "mytag", 3);
	comp_op(&c, OP_PUTROOTFH);
	CHECK(comp_call(&c, &r), "minor 3 answered");
	CHECK_EQ(r.status, NFS4ERR_MINOR_VERS_MISMATCH,
		 "minor 3: MINOR_VERS_MISMATCH");
	CHECK_STR(r.tag, "mytag", "minor 3: tag echoed");
	CHECK_EQ(r.nres, 0, "minor 3: no results");
}

static void test_illegal(void)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "ill", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, 2);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r), "op 2 answered");
	CHECK_EQ(r.status, NFS4ERR_OP_ILLEGAL, "op 2: OP_ILLEGAL status");
	CHECK_EQ(r.nres, 2, "op 2: stops after it");
	CHECK_EQ(get32(&r), OP_PUTROOTFH, "first result is PUTROOTFH");
	CHECK_EQ(get32(&r), NFS4_OK, "PUTROOTFH OK");
	CHECK_EQ(get32(&r), OP_ILLEGAL, "second result is OP_ILLEGAL");
	CHECK_EQ(get32(&r), NFS4ERR_OP_ILLEGAL, "OP_ILLEGAL status");

	comp_begin(&c, "", 0);
	comp_op(&c, 40); /* 4.1's BACKCHANNEL_CTL does not exist in 4.0 */
	CHECK(comp_call(&c, &r), "op 40 in 4.0 answered");
	CHECK_EQ(r.status, NFS4ERR_OP_ILLEGAL, "op 40 in 4.0: OP_ILLEGAL");
}

static void test_handles(void)
{
	struct comp c;
	struct res r;
	uint8_t forged[36] = { 1 }, fh[128];
	u_int n;

	comp_begin(&c, "", 0);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r), "GETFH without a handle answered");
	CHECK_EQ(r.status, NFS4ERR_NOFILEHANDLE, "GETFH: NOFILEHANDLE");

	comp_begin(&c, "", 0);
	comp_op(&c, OP_PUTFH);
	putbytes(&c.x, forged, sizeof(forged));
	CHECK(comp_call(&c, &r), "PUTFH of a forged handle answered");
	CHECK(r.status == NFS4ERR_BADHANDLE || r.status == NFS4ERR_STALE,
	      "forged handle: BADHANDLE or STALE (%u)", r.status);

	comp_begin(&c, "", 0);
	comp_op(&c, OP_PUTFH);
	putbytes(&c.x, forged, 0);
	CHECK(comp_call(&c, &r), "PUTFH of an empty handle answered");
	CHECK_EQ(r.status, NFS4ERR_BADHANDLE, "empty handle: BADHANDLE");

	/* the pseudo root leads to the export; a missing name ends it */
	comp_begin(&c, "", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "export", 6);
	comp_op(&c, OP_GETFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "nope", 4);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r), "LOOKUP from the pseudo root answered");
	CHECK_EQ(r.status, NFS4ERR_NOENT, "missing name: NOENT");
	CHECK_EQ(r.nres, 4, "stops at the failing LOOKUP");
	get32(&r), get32(&r), get32(&r), get32(&r); /* PUTROOTFH, LOOKUP */
	CHECK_EQ(get32(&r), OP_GETFH, "GETFH result");
	CHECK_EQ(get32(&r), NFS4_OK, "GETFH OK");
	n = getbytes(&r, fh, sizeof(fh));
	CHECK(n > 0 && fh[0] == 1, "the export's root has a union handle");
}

static void test_too_many_ops(void)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "", 0);
	for (int i = 0; i < 65; i++)
		comp_op(&c, OP_PUTROOTFH);
	CHECK(comp_call(&c, &r), "65 ops answered");
	CHECK_EQ(r.status, NFS4ERR_RESOURCE, "65 ops in 4.0: RESOURCE");
	CHECK_EQ(r.nres, 65, "65 ops: the 65th is refused");
}

/* The 4.1 session test_session made, for the state tests after it. */
static uint8_t session[16];
static uint64_t session_client;
static uint32_t slot0_seq = 1; /* the last seqid slot 0 used */

static void test_session(void)
{
	struct comp c;
	struct res r, r2;
	uint64_t clientid;
	uint32_t seq;
	uint8_t sid[16];

	comp_begin(&c, "", 1);
	comp_op(&c, OP_PUTROOTFH);
	CHECK(comp_call(&c, &r), "4.1 without SEQUENCE answered");
	CHECK_EQ(r.status, NFS4ERR_OP_NOT_IN_SESSION,
		 "4.1 without SEQUENCE: OP_NOT_IN_SESSION");

	comp_begin(&c, "", 1);
	comp_op(&c, OP_EXCHANGE_ID);
	put64(&c.x, 42); /* verifier */
	putbytes(&c.x, "nfs4_test", 9);
	put32(&c.x, 0);	 /* flags */
	put32(&c.x, 0);	 /* SP4_NONE */
	put32(&c.x, 0);	 /* no implementation id */
	CHECK(comp_call(&c, &r), "EXCHANGE_ID answered");
	CHECK_EQ(r.status, NFS4_OK, "EXCHANGE_ID OK");
	get32(&r), get32(&r);
	clientid = get64(&r);
	seq = get32(&r);

	comp_begin(&c, "", 1);
	comp_op(&c, OP_CREATE_SESSION);
	put64(&c.x, clientid);
	put32(&c.x, seq);
	put32(&c.x, 0);
	for (int ch = 0; ch < 2; ch++) { /* fore and back channel */
		put32(&c.x, 0);
		put32(&c.x, 1 << 20);
		put32(&c.x, 1 << 20);
		put32(&c.x, 8192);
		put32(&c.x, 16);
		put32(&c.x, 4);
		put32(&c.x, 0);
	}
	put32(&c.x, 0x40000000); /* callback program */
	put32(&c.x, 1);
	put32(&c.x, AUTH_NONE);
	CHECK(comp_call(&c, &r), "CREATE_SESSION answered");
	CHECK_EQ(r.status, NFS4_OK, "CREATE_SESSION OK");
	get32(&r), get32(&r);
	CHECK(xdr_opaque(&r.x, (char *)sid, 16), "session id");
	CHECK_EQ(get32(&r), seq, "CREATE_SESSION: sequence echoed");
	get32(&r);
	get32(&r), get32(&r), get32(&r), get32(&r), get32(&r);
	CHECK_EQ(get32(&r), 4, "CREATE_SESSION: 4 slots granted");

	for (int i = 0; i < 2; i++) { /* the second is a retransmission */
		comp_begin(&c, "seq", 1);
		comp_op(&c, OP_SEQUENCE);
		if (!xdr_opaque(&c.x, (char *)sid, 16))
			abort();
		put32(&c.x, 1);
		put32(&c.x, 0);
		put32(&c.x, 0);
		put32(&c.x, 1);
		comp_op(&c, OP_PUTROOTFH);
		comp_op(&c, OP_GETFH);
		CHECK(comp_call(&c, i ? &r2 : &r), "SEQUENCE %d answered", i);
	}
	CHECK_EQ(r.status, NFS4_OK, "SEQUENCE + PUTROOTFH + GETFH OK");
	CHECK_EQ(r.nres, 3, "three results");
	CHECK(r.len == r2.len && !memcmp(r.buf + 4, r2.buf + 4, r.len - 4),
	      "a retransmitted SEQUENCE gets the cached reply");

	comp_begin(&c, "", 1);
	comp_op(&c, OP_SEQUENCE);
	if (!xdr_opaque(&c.x, (char *)sid, 16))
		abort();
	put32(&c.x, 3);
	put32(&c.x, 0);
	put32(&c.x, 0);
	put32(&c.x, 0);
	CHECK(comp_call(&c, &r), "SEQUENCE out of order answered");
	CHECK_EQ(r.status, NFS4ERR_SEQ_MISORDERED, "seqid+2: SEQ_MISORDERED");
	memcpy(session, sid, 16);
	session_client = clientid;
}

/* ---- open state (4.0) ---------------------------------------------------- */

/* PUTFH and one op with a stateid: WRITE of "x" or READ of 1 byte. */
static uint32_t io40(const struct fh *fh, const struct sid *sid, bool write)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "io", 0);
	putfh(&c, fh);
	comp_op(&c, write ? OP_WRITE : OP_READ);
	put_sid(&c.x, sid);
	put64(&c.x, 0);
	if (write) {
		put32(&c.x, 2); /* FILE_SYNC4 */
		putbytes(&c.x, "x", 1);
	} else {
		put32(&c.x, 1);
	}
	return putfh_op_call(&c, &r, write ? OP_WRITE : OP_READ);
}

static uint32_t downgrade40(const struct fh *fh, struct sid *sid,
			    uint32_t seqid, uint32_t access)
{
	struct comp c;
	struct res r;
	uint32_t st;

	comp_begin(&c, "down", 0);
	putfh(&c, fh);
	comp_op(&c, OP_OPEN_DOWNGRADE);
	put_sid(&c.x, sid);
	put32(&c.x, seqid);
	put32(&c.x, access);
	put32(&c.x, DENY_NONE);
	st = putfh_op_call(&c, &r, OP_OPEN_DOWNGRADE);
	if (st == NFS4_OK)
		get_sid(&r, sid);
	return st;
}

static void test_share_deny(uint64_t a, uint64_t b)
{
	struct open_req oa = { a, "ownerA", 1, ACCESS_READ, DENY_WRITE, false,
			       "share.txt" };
	struct open_req ob = { b, "ownerB", 1, ACCESS_WRITE, DENY_NONE, false,
			       "share.txt" };
	struct sid sa, sb;
	struct fh fa, fb;
	struct res r;

	CHECK_EQ(open40(&oa, &sa, &fa, &r), NFS4_OK,
		 "A opens share.txt for read, denying write");
	CHECK_EQ(open40(&ob, &sb, &fb, &r), NFS4ERR_SHARE_DENIED,
		 "B's open for write: SHARE_DENIED");
	ob.seqid = 2; /* SHARE_DENIED moved B's seqid */
	ob.access = ACCESS_READ;
	CHECK_EQ(open40(&ob, &sb, &fb, &r), NFS4_OK,
		 "B's open for read is allowed");
	CHECK_EQ(io40(&fb, &sb, true), NFS4ERR_OPENMODE,
		 "WRITE through B's read-only open: OPENMODE");
	CHECK_EQ(io40(&fb, &sb, false), NFS4_OK, "READ through it: OK");
	CHECK_EQ(close40(&fa, &sa, 2), NFS4_OK, "A closes");
	CHECK_EQ(io40(&fa, &sa, false), NFS4ERR_BAD_STATEID,
		 "A's closed stateid: BAD_STATEID");
	ob.seqid = 3;
	ob.access = ACCESS_WRITE;
	CHECK_EQ(open40(&ob, &sb, &fb, &r), NFS4_OK,
		 "B's open for write once A closed");
	CHECK_EQ(sb.seqid, 2, "B's stateid upgraded: seqid 2");
	CHECK_EQ(io40(&fb, &sb, true), NFS4_OK, "WRITE through it: OK");
	CHECK_EQ(close40(&fb, &sb, 4), NFS4_OK, "B closes");
}

static void test_seqid(uint64_t a)
{
	struct open_req o = { a, "seqowner", 7, ACCESS_BOTH, DENY_NONE, true,
			      "seq.txt" };
	struct sid s1, s2, old;
	struct fh f1, f2;
	struct res *r1 = malloc(sizeof(*r1)), *r2 = malloc(sizeof(*r2));

	if (!r1 || !r2)
		abort();
	CHECK_EQ(open40(&o, &s1, &f1, r1), NFS4_OK, "OPEN seqid 7 (new owner)");
	CHECK_EQ(open40(&o, &s2, &f2, r2), NFS4_OK,
		 "OPEN seqid 7 again: a retransmission");
	CHECK(!memcmp(&s1, &s2, sizeof(s1)) && f1.len == f2.len &&
	      !memcmp(f1.data, f2.data, f1.len),
	      "the replay has the same stateid and file handle");
	CHECK_EQ(s1.seqid, 1, "not opened twice: stateid seqid still 1");
	o.seqid = 9;
	CHECK_EQ(open40(&o, &s2, &f2, r2), NFS4ERR_BAD_SEQID,
		 "OPEN seqid 9 after 7: BAD_SEQID");
	old = s1;
	CHECK_EQ(downgrade40(&f1, &s1, 8, ACCESS_READ), NFS4_OK,
		 "OPEN_DOWNGRADE to read (seqid 8)");
	CHECK_EQ(s1.seqid, 2, "the downgrade moved the stateid to seqid 2");
	CHECK_EQ(io40(&f1, &old, false), NFS4ERR_OLD_STATEID,
		 "READ with the stateid before the downgrade: OLD_STATEID");
	CHECK_EQ(io40(&f1, &s1, true), NFS4ERR_OPENMODE,
		 "WRITE after the downgrade to read: OPENMODE");
	CHECK_EQ(downgrade40(&f1, &s1, 9, ACCESS_BOTH), 22 /* INVAL */,
		 "a downgrade cannot add access: INVAL");
	CHECK_EQ(close40(&f1, &s1, 10), NFS4_OK, "CLOSE (seqid 10)");
	s1.seqid++;
	CHECK_EQ(close40(&f1, &s1, 10), NFS4_OK,
		 "a retransmitted CLOSE gets its reply again");
	free(r1);
	free(r2);
}

static void test_copy_up_at_open(uint64_t a)
{
	struct open_req o = { a, "cuowner", 1, ACCESS_WRITE, DENY_NONE, false,
			      "cu.txt" };
	struct comp c;
	struct res r;
	struct fh before, after;
	struct sid s;
	struct stat st;
	char path[400];

	comp_begin(&c, "", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "export", 6);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "cu.txt", 6);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r) && r.status == NFS4_OK, "LOOKUP cu.txt");
	next_result(&r, OP_PUTROOTFH);
	next_result(&r, OP_LOOKUP);
	next_result(&r, OP_LOOKUP);
	next_result(&r, OP_GETFH);
	before.len = getbytes(&r, before.data, sizeof(before.data));
	snprintf(path, sizeof(path), "%s/cu.txt", d.upper);
	CHECK(stat(path, &st) < 0, "cu.txt is not in the upper layer yet");
	CHECK_EQ(open40(&o, &s, &after, &r), NFS4_OK, "OPEN cu.txt for write");
	CHECK(stat(path, &st) == 0 && st.st_size == 5,
	      "OPEN for write copied cu.txt up, before any WRITE");
	CHECK(before.len == after.len &&
	      !memcmp(before.data, after.data, before.len),
	      "the handle after the copy-up is the one before");
	CHECK_EQ(close40(&after, &s, 2), NFS4_OK, "CLOSE cu.txt");
}

/* GETATTR owner and owner_group of fh: "who group". */
static bool get_owner(const struct fh *fh, char *out, size_t len)
{
	struct comp c;
	struct res r;
	char o[128] = "", g[128] = "";
	u_int n;

	comp_begin(&c, "", 0);
	putfh(&c, fh);
	comp_op(&c, OP_GETATTR);
	put32(&c.x, 2);
	put32(&c.x, 0);
	put32(&c.x, 1u << (36 - 32) | 1u << (37 - 32));
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return false;
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_GETATTR);
	for (n = get32(&r); n > 0 && n < 8; n--)
		get32(&r);
	get32(&r); /* attrlist length */
	getbytes(&r, o, sizeof(o) - 1);
	getbytes(&r, g, sizeof(g) - 1);
	snprintf(out, len, "%s %s", o, g);
	return true;
}

/* SETATTR owner to the string who. */
static uint32_t set_owner(const struct fh *fh, const char *who)
{
	struct comp c;
	struct res r;
	struct sid zero = { 0, { 0 } };
	u_int n = (u_int)strlen(who);

	comp_begin(&c, "", 0);
	putfh(&c, fh);
	comp_op(&c, OP_SETATTR);
	put_sid(&c.x, &zero);
	put32(&c.x, 2);
	put32(&c.x, 0);
	put32(&c.x, 1u << (36 - 32));
	put32(&c.x, 4 + ((n + 3) & ~3u));
	putbytes(&c.x, who, n);
	return putfh_op_call(&c, &r, OP_SETATTR);
}

/* Owners on the short-lease daemon, whose idmap-domain is test.example. */
static void test_owners(const struct fh *fh)
{
	char s[300];

	CHECK(get_owner(fh, s, sizeof(s)), "GETATTR owner answered");
	CHECK_STR(s, "root@test.example root@test.example",
		  "root's file: root@test.example");
	CHECK_EQ(set_owner(fh, "4242"), NFS4_OK, "SETATTR owner \"4242\"");
	CHECK(get_owner(fh, s, sizeof(s)) &&
		      (getpwuid(4242) != NULL ||
		       !strcmp(s, "4242 root@test.example")),
	      "an id without a name goes out as its number (%s)", s);
	CHECK_EQ(set_owner(fh, "root@test.example"), NFS4_OK,
		 "SETATTR owner root@test.example");
	CHECK_EQ(set_owner(fh, "root@other.example"), 10039 /* BADOWNER */,
		 "an owner of another domain: BADOWNER");
	CHECK_EQ(set_owner(fh, "no-such-user-here@test.example"), 10039,
		 "an unknown name: BADOWNER");
}

/* ---- open state (4.1) ---------------------------------------------------- */

/* SEQUENCE on slot 0 of the session, as the first op of c. */
static void comp_sequence(struct comp *c)
{
	comp_begin(c, "", 1);
	comp_op(c, OP_SEQUENCE);
	if (!xdr_opaque(&c->x, (char *)session, 16))
		abort();
	put32(&c->x, ++slot0_seq);
	put32(&c->x, 0);
	put32(&c->x, 0);
	put32(&c->x, 0);
}

/* Call, and check that SEQUENCE went through; r is after its result. */
static bool call41(struct comp *c, struct res *r)
{
	uint8_t skip[36];

	return comp_call(c, r) && next_result(r, OP_SEQUENCE) == NFS4_OK &&
	       xdr_opaque(&r->x, (char *)skip, sizeof(skip));
}

static uint32_t test_stateid41(const struct sid *s)
{
	struct comp c;
	struct res r;

	comp_sequence(&c);
	comp_op(&c, OP_TEST_STATEID);
	put32(&c.x, 1);
	put_sid(&c.x, s);
	if (!call41(&c, &r) || next_result(&r, OP_TEST_STATEID) != NFS4_OK ||
	    get32(&r) != 1)
		return 0xdeadbeef;
	return get32(&r);
}

static uint32_t free_stateid41(const struct sid *s)
{
	struct comp c;
	struct res r;

	comp_sequence(&c);
	comp_op(&c, OP_FREE_STATEID);
	put_sid(&c.x, s);
	if (!call41(&c, &r))
		return 0xdeadbeef;
	return next_result(&r, OP_FREE_STATEID);
}

static void test_state41(void)
{
	struct comp c;
	struct res r;
	struct sid s, bogus, closed;
	struct fh fh;
	uint32_t n;

	comp_sequence(&c);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "export", 6);
	comp_op(&c, OP_OPEN);
	put32(&c.x, 0); /* seqid: unused in 4.1 */
	put32(&c.x, ACCESS_READ);
	put32(&c.x, DENY_NONE);
	put64(&c.x, session_client);
	putbytes(&c.x, "owner41", 7);
	put32(&c.x, 0); /* OPEN4_NOCREATE */
	put32(&c.x, 0); /* CLAIM_NULL */
	putbytes(&c.x, "share.txt", 9);
	comp_op(&c, OP_GETFH);
	CHECK(call41(&c, &r), "4.1 OPEN answered");
	CHECK_EQ(r.status, NFS4_OK, "4.1 OPEN share.txt");
	next_result(&r, OP_PUTROOTFH);
	next_result(&r, OP_LOOKUP);
	next_result(&r, OP_OPEN);
	get_sid(&r, &s);
	get32(&r), get64(&r), get64(&r), get32(&r);
	for (n = get32(&r); n > 0 && n < 8; n--)
		get32(&r);
	get32(&r);
	next_result(&r, OP_GETFH);
	fh.len = getbytes(&r, fh.data, sizeof(fh.data));

	bogus = s;
	bogus.other[11] ^= 0x55;
	CHECK_EQ(test_stateid41(&s), NFS4_OK, "TEST_STATEID of the open: OK");
	CHECK_EQ(test_stateid41(&bogus), NFS4ERR_BAD_STATEID,
		 "TEST_STATEID of an unknown one: BAD_STATEID");
	CHECK_EQ(free_stateid41(&s), NFS4ERR_LOCKS_HELD,
		 "FREE_STATEID of an open: LOCKS_HELD");

	comp_sequence(&c);
	putfh(&c, &fh);
	comp_op(&c, OP_CLOSE);
	put32(&c.x, 0);
	put_sid(&c.x, &s);
	CHECK(call41(&c, &r), "4.1 CLOSE answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_CLOSE), NFS4_OK, "4.1 CLOSE");
	get_sid(&r, &closed);
	CHECK(closed.seqid == UINT32_MAX &&
		      !memcmp(closed.other, (uint8_t[12]){ 0 }, 12),
	      "4.1 CLOSE answers the invalid special stateid");
	CHECK_EQ(test_stateid41(&s), NFS4ERR_BAD_STATEID,
		 "TEST_STATEID of the closed open: BAD_STATEID");
}

/* ---- the remaining operations, each with exact results ------------------
 * Namespace ops in 4.0 (CREATE of a directory and a symlink, READLINK,
 * LOOKUPP, LINK with SAVEFH, RENAME, REMOVE, READDIR), the informational
 * ones (ACCESS, VERIFY, NVERIFY, SECINFO, PUTPUBFH, COMMIT, OPENATTR,
 * DELEGRETURN, RESTOREFH), the lock ops LOCKT/LOCKU/RELEASE_LOCKOWNER,
 * and the 4.1 session ops SECINFO_NO_NAME, BIND_CONN_TO_SESSION,
 * DESTROY_SESSION and DESTROY_CLIENTID.
 */

enum {
	OP_ACCESS = 3, OP_COMMIT = 5, OP_CREATE = 6, OP_DELEGRETURN = 8,
	OP_LINK = 11, OP_LOCKT = 13, OP_LOCKU = 14, OP_LOOKUPP = 16,
	OP_NVERIFY = 17, OP_OPENATTR = 19, OP_PUTPUBFH = 23, OP_READDIR = 26,
	OP_READLINK = 27, OP_REMOVE = 28, OP_RENAME = 29, OP_RESTOREFH = 31,
	OP_SAVEFH = 32, OP_SECINFO = 33, OP_VERIFY = 37, OP_OPEN_CONFIRM = 20,
	OP_RELEASE_LOCKOWNER = 39, OP_BACKCHANNEL_CTL = 40,
	OP_BIND_CONN_TO_SESSION = 41,
	OP_DESTROY_SESSION = 44, OP_SECINFO_NO_NAME = 52,
	OP_DESTROY_CLIENTID = 57,
};
enum {
	NFS4ERR_NOTSUPP = 10004, NFS4ERR_SAME = 10009,
	NFS4ERR_RESTOREFH = 10030, NFS4ERR_NOT_SAME = 10027,
	NFS4ERR_BADSESSION = 10052, NFS4ERR_REP_TOO_BIG = 10066,
	NFS4ERR_TOO_MANY_OPS = 10070, NFS4ERR_REQ_TOO_BIG = 10065,
};
enum { NF4DIR = 2, NF4LNK = 5 };

/* SECINFO4resok as "sys,krb5,krb5i": RPCSEC_GSS entries must carry the
 * krb5 mechanism and qop 0; anything else shows as "?". */
static const char *secinfo_text(struct res *r)
{
	static const uint8_t krb5_oid[9] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
					     0x12, 0x01, 0x02, 0x02 };
	static const char *const svc[4] = { "?", "krb5", "krb5i", "krb5p" };
	static char out[128];
	uint8_t oid[16];
	uint32_t n = get32(r), flavor, qop, service;
	size_t off = 0;
	u_int olen;

	out[0] = '\0';
	for (uint32_t i = 0; i < n && i < 8 && off < sizeof(out); i++) {
		const char *name = "?";

		flavor = get32(r);
		if (flavor == AUTH_SYS) {
			name = "sys";
		} else if (flavor == 6) { /* RPCSEC_GSS */
			olen = getbytes(r, oid, sizeof(oid));
			qop = get32(r);
			service = get32(r);
			if (olen == 9 && !memcmp(oid, krb5_oid, 9) &&
			    qop == 0 && service >= 1 && service <= 3)
				name = svc[service];
		}
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s",
					i ? "," : "", name);
	}
	return out;
}

/* PUTROOTFH LOOKUP(export) [LOOKUP(name)] GETFH: *fh, or false. */
static bool fh_of(const char *name, struct fh *fh)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "fh", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "export", 6);
	if (name) {
		comp_op(&c, OP_LOOKUP);
		putbytes(&c.x, name, (u_int)strlen(name));
	}
	comp_op(&c, OP_GETFH);
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return false;
	next_result(&r, OP_PUTROOTFH);
	next_result(&r, OP_LOOKUP);
	if (name)
		next_result(&r, OP_LOOKUP);
	if (next_result(&r, OP_GETFH) != NFS4_OK)
		return false;
	fh->len = getbytes(&r, fh->data, sizeof(fh->data));
	return fh->len > 0;
}

/* Skip a change_info4 and check that it is atomic (the directory's
 * ctime may not have moved within the clock's granularity). */
static bool cinfo_atomic(struct res *r)
{
	uint32_t atomic = get32(r);
	uint64_t before = get64(r), after = get64(r);

	return atomic == 1 && after >= before;
}

/* An empty fattr4 (bitmap4 of no words, no values). */
static void put_noattrs(XDR *x)
{
	put32(x, 0);
	put32(x, 0);
}

static void test_create_ops(const struct fh *root, struct fh *dir)
{
	struct comp c;
	struct res r;
	char buf[64];
	u_int n;

	comp_begin(&c, "mkdir", 0);
	putfh(&c, root);
	comp_op(&c, OP_CREATE);
	put32(&c.x, NF4DIR);
	putbytes(&c.x, "d", 1);
	put_noattrs(&c.x);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r), "CREATE dir answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_CREATE), NFS4_OK, "CREATE dir d");
	CHECK(cinfo_atomic(&r), "CREATE: change_info4 atomic");
	CHECK(get32(&r) == 2 && get32(&r) == 0 && get32(&r) == 0,
	      "CREATE: attrset empty");
	CHECK_EQ(next_result(&r, OP_GETFH), NFS4_OK, "GETFH of d");
	dir->len = getbytes(&r, dir->data, sizeof(dir->data));

	comp_begin(&c, "symlink", 0);
	putfh(&c, dir);
	comp_op(&c, OP_CREATE);
	put32(&c.x, NF4LNK);
	putbytes(&c.x, "../share.txt", 12);
	putbytes(&c.x, "ln", 2);
	put_noattrs(&c.x);
	comp_op(&c, OP_READLINK);
	putfh(&c, dir);
	comp_op(&c, OP_LOOKUPP);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r), "CREATE symlink answered");
	CHECK_EQ(r.status, NFS4_OK, "CREATE symlink, READLINK, LOOKUPP");
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_CREATE);
	get32(&r), get64(&r), get64(&r);
	for (n = get32(&r); n > 0 && n < 8; n--)
		get32(&r);
	next_result(&r, OP_READLINK);
	n = getbytes(&r, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	CHECK_STR(buf, "../share.txt", "READLINK: the new symlink's target");
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_LOOKUPP);
	next_result(&r, OP_GETFH);
	n = getbytes(&r, buf, sizeof(buf));
	CHECK(n == root->len && !memcmp(buf, root->data, n),
	      "LOOKUPP from d: the export's root");
}

static void test_link_rename_remove(const struct fh *file,
				    const struct fh *dir)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "link", 0);
	putfh(&c, file);
	comp_op(&c, OP_SAVEFH);
	putfh(&c, dir);
	comp_op(&c, OP_LINK);
	putbytes(&c.x, "hl", 2);
	comp_op(&c, OP_SAVEFH);
	comp_op(&c, OP_RENAME);
	putbytes(&c.x, "hl", 2);
	putbytes(&c.x, "hl2", 3);
	CHECK(comp_call(&c, &r), "LINK + RENAME answered");
	CHECK_EQ(r.status, NFS4_OK, "LINK then RENAME in one COMPOUND");
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_SAVEFH);
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_LINK);
	CHECK(cinfo_atomic(&r), "LINK: change_info4");
	next_result(&r, OP_SAVEFH);
	next_result(&r, OP_RENAME);
	CHECK(cinfo_atomic(&r) && cinfo_atomic(&r),
	      "RENAME: source and target change_info4");

	comp_begin(&c, "remove", 0);
	putfh(&c, dir);
	comp_op(&c, OP_REMOVE);
	putbytes(&c.x, "hl2", 3);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "hl2", 3);
	CHECK(comp_call(&c, &r), "REMOVE answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_REMOVE), NFS4_OK, "REMOVE hl2");
	CHECK(cinfo_atomic(&r), "REMOVE: change_info4");
	CHECK_EQ(next_result(&r, OP_LOOKUP), NFS4ERR_NOENT,
		 "LOOKUP of the removed name: NOENT");
}

/* READDIR of dir with no attributes: its one entry is ln. */
static void test_readdir(const struct fh *dir)
{
	struct comp c;
	struct res r;
	char name[64];
	u_int n;

	comp_begin(&c, "readdir", 0);
	putfh(&c, dir);
	comp_op(&c, OP_READDIR);
	put64(&c.x, 0);
	put64(&c.x, 0);
	put32(&c.x, 4096);
	put32(&c.x, 4096);
	put32(&c.x, 0); /* no attributes */
	CHECK(comp_call(&c, &r), "READDIR answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_READDIR), NFS4_OK, "READDIR of d");
	get64(&r); /* cookieverf */
	CHECK_EQ(get32(&r), 1, "READDIR: an entry");
	get64(&r);
	n = getbytes(&r, name, sizeof(name) - 1);
	name[n] = '\0';
	CHECK_STR(name, "ln", "READDIR: the entry is ln");
	CHECK(get32(&r) == 2 && get32(&r) == 0 && get32(&r) == 0 &&
		      get32(&r) == 0,
	      "READDIR: a fattr4 of no attributes");
	CHECK(get32(&r) == 0 && get32(&r) == 1, "READDIR: one entry, eof");
}

/* VERIFY or NVERIFY of size == want on fh: the op's status. */
static uint32_t verify_size(const struct fh *fh, uint32_t op, uint64_t want)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "verify", 0);
	putfh(&c, fh);
	comp_op(&c, op);
	put32(&c.x, 1);
	put32(&c.x, 1u << 4); /* FATTR4_SIZE */
	put32(&c.x, 8);
	put64(&c.x, want);
	return putfh_op_call(&c, &r, op);
}

static void test_info_ops(const struct fh *file)
{
	struct comp c;
	struct res r;
	uint8_t verf[8];

	CHECK_EQ(verify_size(file, OP_VERIFY, 5), NFS4_OK,
		 "VERIFY of the right size: OK");
	CHECK_EQ(verify_size(file, OP_VERIFY, 6), NFS4ERR_NOT_SAME,
		 "VERIFY of a wrong size: NOT_SAME");
	CHECK_EQ(verify_size(file, OP_NVERIFY, 5), NFS4ERR_SAME,
		 "NVERIFY of the right size: SAME");
	CHECK_EQ(verify_size(file, OP_NVERIFY, 6), NFS4_OK,
		 "NVERIFY of a wrong size: OK");

	comp_begin(&c, "access", 0);
	putfh(&c, file);
	comp_op(&c, OP_ACCESS);
	put32(&c.x, 0x41); /* READ and a bit that does not exist */
	comp_op(&c, OP_COMMIT);
	put64(&c.x, 0);
	put32(&c.x, 0);
	comp_op(&c, OP_OPENATTR);
	put32(&c.x, 0);
	CHECK(comp_call(&c, &r), "ACCESS COMMIT OPENATTR answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_ACCESS), NFS4_OK, "ACCESS");
	CHECK_EQ(get32(&r), 1, "ACCESS: supported is what exists of it");
	CHECK_EQ(get32(&r), 1, "ACCESS: READ granted");
	CHECK_EQ(next_result(&r, OP_COMMIT), NFS4_OK, "COMMIT");
	CHECK(xdr_opaque(&r.x, (char *)verf, 8), "COMMIT: a verifier");
	CHECK_EQ(next_result(&r, OP_OPENATTR), NFS4ERR_NOTSUPP,
		 "OPENATTR: NOTSUPP");

	comp_begin(&c, "secinfo", 0);
	comp_op(&c, OP_PUTPUBFH);
	comp_op(&c, OP_SECINFO);
	putbytes(&c.x, "export", 6);
	comp_op(&c, OP_GETFH);
	CHECK(comp_call(&c, &r), "PUTPUBFH SECINFO answered");
	CHECK_EQ(next_result(&r, OP_PUTPUBFH), NFS4_OK, "PUTPUBFH");
	CHECK_EQ(next_result(&r, OP_SECINFO), NFS4_OK, "SECINFO export");
	CHECK(get32(&r) == 1 && get32(&r) == AUTH_SYS,
	      "SECINFO: one flavor, AUTH_SYS");
	CHECK_EQ(next_result(&r, OP_GETFH), NFS4ERR_NOFILEHANDLE,
		 "SECINFO consumed the current filehandle");

	comp_begin(&c, "restore", 0);
	putfh(&c, file);
	comp_op(&c, OP_RESTOREFH);
	CHECK(comp_call(&c, &r), "RESTOREFH answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_RESTOREFH), NFS4ERR_RESTOREFH,
		 "RESTOREFH without SAVEFH: RESTOREFH");

	comp_begin(&c, "delegreturn", 0);
	putfh(&c, file);
	comp_op(&c, OP_DELEGRETURN);
	put_sid(&c.x, &(struct sid){ 1, { 1, 2, 3 } });
	CHECK(comp_call(&c, &r), "DELEGRETURN answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_DELEGRETURN), NFS4ERR_BAD_STATEID,
		 "DELEGRETURN: no delegation was given, BAD_STATEID");
}

/* LOCKT of [0, 10) by owner on fh: the op's status. */
static uint32_t lockt40(const struct fh *fh, uint64_t clientid,
			const char *owner)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "lockt", 0);
	putfh(&c, fh);
	comp_op(&c, OP_LOCKT);
	put32(&c.x, 2); /* WRITE_LT */
	put64(&c.x, 0);
	put64(&c.x, 10);
	put64(&c.x, clientid);
	putbytes(&c.x, owner, (u_int)strlen(owner));
	return putfh_op_call(&c, &r, OP_LOCKT);
}

/* A write lock on [0, 10) for a new lock owner "lk" of the open. */
static uint32_t lock_new40(const struct fh *fh, const struct sid *open_sid,
			   uint32_t open_seqid, uint64_t clientid,
			   struct sid *lsid)
{
	struct comp c;
	struct res r;
	uint32_t st;

	comp_begin(&c, "lock", 0);
	putfh(&c, fh);
	comp_op(&c, OP_LOCK);
	put32(&c.x, 2);
	put32(&c.x, 0);
	put64(&c.x, 0);
	put64(&c.x, 10);
	put32(&c.x, 1); /* new lock owner */
	put32(&c.x, open_seqid);
	put_sid(&c.x, open_sid);
	put32(&c.x, 0);
	put64(&c.x, clientid);
	putbytes(&c.x, "lk", 2);
	st = putfh_op_call(&c, &r, OP_LOCK);
	if (st == NFS4_OK)
		get_sid(&r, lsid);
	return st;
}

/* RELEASE_LOCKOWNER of clientid's lock owner "lk"; false: no answer. */
static bool release_lk40(uint64_t clientid, struct res *r)
{
	struct comp c;

	comp_begin(&c, "release", 0);
	comp_op(&c, OP_RELEASE_LOCKOWNER);
	put64(&c.x, clientid);
	putbytes(&c.x, "lk", 2);
	return comp_call(&c, r);
}

static void test_lock_ops(uint64_t a, uint64_t b)
{
	struct open_req o = { a, "lockops", 1, ACCESS_BOTH, DENY_NONE, true,
			      "lockops.txt" };
	struct sid osid, lsid;
	struct fh fh;
	struct comp c;
	struct res r;

	CHECK_EQ(open40(&o, &osid, &fh, &r), NFS4_OK, "OPEN lockops.txt");
	CHECK_EQ(lock_new40(&fh, &osid, 2, a, &lsid), NFS4_OK,
		 "LOCK [0, 10) by a new owner");
	CHECK_EQ(lockt40(&fh, b, "other"), NFS4ERR_DENIED,
		 "LOCKT by another client's owner: DENIED");
	CHECK_EQ(lockt40(&fh, a, "lk"), NFS4_OK,
		 "LOCKT by the holder itself: OK");

	CHECK(release_lk40(a, &r), "RELEASE_LOCKOWNER answered");
	CHECK_EQ(next_result(&r, OP_RELEASE_LOCKOWNER), NFS4ERR_LOCKS_HELD,
		 "RELEASE_LOCKOWNER of an owner holding a lock: LOCKS_HELD");

	comp_begin(&c, "locku", 0);
	putfh(&c, &fh);
	comp_op(&c, OP_LOCKU);
	put32(&c.x, 2);
	put32(&c.x, 1);
	put_sid(&c.x, &lsid);
	put64(&c.x, 0);
	put64(&c.x, 10);
	CHECK(comp_call(&c, &r), "LOCKU answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_LOCKU), NFS4_OK, "LOCKU");
	CHECK_EQ(get32(&r), lsid.seqid + 1, "LOCKU: the stateid moves on");
	CHECK_EQ(lockt40(&fh, b, "other"), NFS4_OK,
		 "LOCKT after LOCKU: OK");

	CHECK(release_lk40(a, &r), "RELEASE_LOCKOWNER answered");
	CHECK_EQ(next_result(&r, OP_RELEASE_LOCKOWNER), NFS4_OK,
		 "RELEASE_LOCKOWNER without locks: OK");
	comp_begin(&c, "confirm", 0);
	putfh(&c, &fh);
	comp_op(&c, OP_OPEN_CONFIRM);
	put_sid(&c.x, &osid);
	put32(&c.x, 3);
	CHECK(comp_call(&c, &r), "OPEN_CONFIRM answered");
	next_result(&r, OP_PUTFH);
	CHECK_EQ(next_result(&r, OP_OPEN_CONFIRM), NFS4_OK, "OPEN_CONFIRM");
	get_sid(&r, &lsid);
	CHECK(lsid.seqid == osid.seqid + 1 &&
		      !memcmp(lsid.other, osid.other, 12),
	      "OPEN_CONFIRM: the open's stateid, moved on");
	CHECK_EQ(close40(&fh, &lsid, 4), NFS4_OK, "CLOSE lockops.txt");
}

static void test_more_ops(uint64_t a, uint64_t b)
{
	struct fh root, dir, file;

	CHECK(fh_of(NULL, &root) && fh_of("share.txt", &file),
	      "handles of the export and share.txt");
	test_create_ops(&root, &dir);
	test_link_rename_remove(&file, &dir);
	test_readdir(&dir);
	test_info_ops(&file);
	test_lock_ops(a, b);
}

/* 4.1: SECINFO_NO_NAME, then BIND_CONN_TO_SESSION, DESTROY_SESSION and
 * DESTROY_CLIENTID of a client of its own. */
static void test_session_end(void)
{
	struct comp c;
	struct res r;
	uint64_t clientid;
	uint8_t sid[16], got[16];
	char name[1000];

	comp_sequence(&c);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_SECINFO_NO_NAME);
	put32(&c.x, 0); /* SECINFO_STYLE4_CURRENT_FH */
	comp_op(&c, OP_GETFH);
	CHECK(call41(&c, &r), "SECINFO_NO_NAME answered");
	next_result(&r, OP_PUTROOTFH);
	CHECK_EQ(next_result(&r, OP_SECINFO_NO_NAME), NFS4_OK,
		 "SECINFO_NO_NAME");
	CHECK_STR(secinfo_text(&r), "sys,krb5,krb5i",
		  "SECINFO_NO_NAME of the pseudo root: the flavors of the "
		  "exports below it");
	CHECK_EQ(next_result(&r, OP_GETFH), NFS4ERR_NOFILEHANDLE,
		 "SECINFO_NO_NAME consumed the current filehandle");

	comp_sequence(&c);
	comp_op(&c, OP_BACKCHANNEL_CTL);
	put32(&c.x, 0x40000001);
	put32(&c.x, 1);
	put32(&c.x, AUTH_NONE);
	CHECK(call41(&c, &r), "BACKCHANNEL_CTL answered");
	CHECK_EQ(next_result(&r, OP_BACKCHANNEL_CTL), NFS4_OK,
		 "BACKCHANNEL_CTL");

	comp_begin(&c, "", 1);
	comp_op(&c, OP_EXCHANGE_ID);
	put64(&c.x, 43);
	putbytes(&c.x, "nfs4_test end", 13);
	put32(&c.x, 0);
	put32(&c.x, 0);
	put32(&c.x, 0);
	CHECK(comp_call(&c, &r) && r.status == NFS4_OK, "EXCHANGE_ID");
	get32(&r), get32(&r);
	clientid = get64(&r);
	comp_begin(&c, "", 1);
	comp_op(&c, OP_CREATE_SESSION);
	put64(&c.x, clientid);
	put32(&c.x, get32(&r));
	put32(&c.x, 0);
	for (int ch = 0; ch < 2; ch++) { /* fore: requests of 4 KiB */
		put32(&c.x, 0);
		put32(&c.x, ch ? 1 << 20 : 4096);
		put32(&c.x, 1 << 20);
		put32(&c.x, 8192);
		put32(&c.x, 16);
		put32(&c.x, 1);
		put32(&c.x, 0);
	}
	put32(&c.x, 0x40000000);
	put32(&c.x, 0);
	CHECK(comp_call(&c, &r) && r.status == NFS4_OK, "CREATE_SESSION");
	get32(&r), get32(&r);
	CHECK(xdr_opaque(&r.x, (char *)sid, 16), "its session id");

	/* its fore channel asked for 16 operations: 17 are too many, and
	 * the slot is untouched, so the next SEQUENCE is seqid 1 again */
	for (int ops = 17; ops >= 16; ops--) {
		comp_begin(&c, "", 1);
		comp_op(&c, OP_SEQUENCE);
		if (!xdr_opaque(&c.x, (char *)sid, 16))
			abort();
		put32(&c.x, 1);
		put32(&c.x, 0);
		put32(&c.x, 0);
		put32(&c.x, 0);
		for (int i = 1; i < ops; i++)
			comp_op(&c, OP_PUTROOTFH);
		CHECK(comp_call(&c, &r), "%d ops answered", ops);
		CHECK_EQ(r.status, ops > 16 ? NFS4ERR_TOO_MANY_OPS : NFS4_OK,
			 "%d ops in a session of 16: %s", ops,
			 ops > 16 ? "TOO_MANY_OPS" : "OK");
		CHECK_EQ(r.nres, ops > 16 ? 1 : 16, "%d ops: %d results", ops,
			 ops > 16 ? 1 : 16);
	}

	/* and 4 KiB: five names of 1000 bytes are too big a request */
	comp_begin(&c, "", 1);
	comp_op(&c, OP_SEQUENCE);
	if (!xdr_opaque(&c.x, (char *)sid, 16))
		abort();
	put32(&c.x, 2);
	put32(&c.x, 0);
	put32(&c.x, 0);
	put32(&c.x, 0);
	memset(name, 'n', sizeof(name));
	for (int i = 0; i < 5; i++) {
		comp_op(&c, OP_LOOKUP);
		putbytes(&c.x, name, sizeof(name));
	}
	CHECK(comp_call(&c, &r), "a 5 KB request answered");
	CHECK_EQ(r.status, NFS4ERR_REQ_TOO_BIG,
		 "5 KB in a session of 4 KiB requests: REQ_TOO_BIG");
	CHECK_EQ(r.nres, 1, "REQ_TOO_BIG: SEQUENCE's result only");

	comp_begin(&c, "", 1);
	comp_op(&c, OP_BIND_CONN_TO_SESSION);
	if (!xdr_opaque(&c.x, (char *)sid, 16))
		abort();
	put32(&c.x, 3); /* CDFC4_FORE_OR_BOTH */
	put32(&c.x, 0);
	CHECK(comp_call(&c, &r), "BIND_CONN_TO_SESSION answered");
	CHECK_EQ(next_result(&r, OP_BIND_CONN_TO_SESSION), NFS4_OK,
		 "BIND_CONN_TO_SESSION");
	CHECK(xdr_opaque(&r.x, (char *)got, 16) && !memcmp(got, sid, 16),
	      "BIND_CONN_TO_SESSION: the session id");
	CHECK(get32(&r) == 1 && get32(&r) == 0,
	      "BIND_CONN_TO_SESSION: fore channel, no RDMA");

	for (int i = 0; i < 2; i++) {
		comp_begin(&c, "", 1);
		comp_op(&c, OP_DESTROY_SESSION);
		if (!xdr_opaque(&c.x, (char *)sid, 16))
			abort();
		CHECK(comp_call(&c, &r), "DESTROY_SESSION answered");
		CHECK_EQ(next_result(&r, OP_DESTROY_SESSION),
			 i ? NFS4ERR_BADSESSION : NFS4_OK,
			 i ? "DESTROY_SESSION again: BADSESSION"
			   : "DESTROY_SESSION");
	}
	comp_begin(&c, "", 1);
	comp_op(&c, OP_DESTROY_CLIENTID);
	put64(&c.x, clientid);
	CHECK(comp_call(&c, &r), "DESTROY_CLIENTID answered");
	CHECK_EQ(next_result(&r, OP_DESTROY_CLIENTID), NFS4_OK,
		 "DESTROY_CLIENTID without sessions");
}

/* ---- security flavors: SECINFO, SECINFO_NO_NAME, WRONGSEC ----------------
 * /krb (sec=krb5:krb5i for 127.0.0.1, sys for 127.0.0.2) and the AUTH_SYS
 * requests of the test: RFC 8881 2.6.3.1.1's rules for the put filehandle
 * operations, and the flavor lists.
 */
enum { NFS4ERR_WRONGSEC = 10016 };

/* Run fn with the test's connection coming from 127.0.0.2. */
static bool from_127_0_0_2(bool (*fn)(void *), void *arg)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct timeval tv = { 10, 0 };
	int saved = nfs4_sock, s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	src.sin_addr.s_addr = htonl(0x7f000002);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)d.port);
	if (s < 0 || bind(s, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(s, (struct sockaddr *)&dst, sizeof(dst)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		if (s >= 0)
			close(s);
		return false;
	}
	nfs4_sock = s;
	ok = fn(arg);
	nfs4_sock = saved;
	close(s);
	return ok;
}

/* PUTROOTFH LOOKUP("krb") GETFH: the root handle of /krb. */
static bool krb_root(void *arg)
{
	struct fh *fh = arg;
	struct comp c;
	struct res r;

	comp_begin(&c, "krbfh", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "krb", 3);
	comp_op(&c, OP_GETFH);
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return false;
	next_result(&r, OP_PUTROOTFH);
	next_result(&r, OP_LOOKUP);
	next_result(&r, OP_GETFH);
	fh->len = getbytes(&r, fh->data, sizeof(fh->data));
	return fh->len > 0;
}

/* A GETATTR of type, as an op that uses the current filehandle. */
static void getattr_type(struct comp *c)
{
	comp_op(c, OP_GETATTR);
	put32(&c->x, 1);
	put32(&c->x, 1u << 1);
}

/* "STATUS/NRES": a COMPOUND's status and how many results it has. */
static const char *outcome(struct comp *c)
{
	static char out[32];
	struct res r;

	if (!comp_call(c, &r))
		return "no reply";
	snprintf(out, sizeof(out), "%u/%u", r.status, r.nres);
	return out;
}

static void test_wrongsec40(struct fh *krb, const struct fh *file)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "secinfo krb", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_SECINFO);
	putbytes(&c.x, "krb", 3);
	CHECK(comp_call(&c, &r), "PUTROOTFH SECINFO(krb) answered");
	CHECK_EQ(next_result(&r, OP_PUTROOTFH), NFS4_OK, "PUTROOTFH");
	CHECK_EQ(next_result(&r, OP_SECINFO), NFS4_OK,
		 "SECINFO of a krb5-only export with AUTH_SYS: OK");
	CHECK_STR(secinfo_text(&r), "krb5,krb5i",
		  "SECINFO: RPCSEC_GSS krb5 (service none), then integrity");

	comp_begin(&c, "secinfo missing", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_SECINFO);
	putbytes(&c.x, "nosuch", 6);
	CHECK_STR(outcome(&c), "2/2", "SECINFO of a missing name: NOENT");

	comp_begin(&c, "lookup krb", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "krb", 3);
	comp_op(&c, OP_GETFH);
	CHECK_STR(outcome(&c), "10016/2",
		  "LOOKUP into the krb5 export, then GETFH: WRONGSEC at the "
		  "LOOKUP");

	CHECK(from_127_0_0_2(krb_root, krb),
	      "the root handle of /krb, as 127.0.0.2 (sec=sys there)");

	comp_begin(&c, "putfh getattr", 0);
	putfh(&c, krb);
	getattr_type(&c);
	CHECK_STR(outcome(&c), "10016/1",
		  "PUTFH of a krb5 export then GETATTR: the PUTFH fails "
		  "WRONGSEC");

	comp_begin(&c, "putfh", 0);
	putfh(&c, krb);
	CHECK_STR(outcome(&c), "0/1", "PUTFH alone: OK (2.6.3.1.1.6)");

	comp_begin(&c, "putfh putfh", 0);
	putfh(&c, krb);
	putfh(&c, file);
	getattr_type(&c);
	CHECK_STR(outcome(&c), "0/3",
		  "PUTFH followed by another PUTFH: not checked "
		  "(2.6.3.1.1.2)");

	comp_begin(&c, "putfh savefh getfh", 0);
	putfh(&c, krb);
	comp_op(&c, OP_SAVEFH);
	comp_op(&c, OP_GETFH);
	CHECK_STR(outcome(&c), "10016/3",
		  "PUTFH SAVEFH: both OK, the GETFH after them WRONGSEC");

	comp_begin(&c, "restorefh", 0);
	putfh(&c, krb);
	comp_op(&c, OP_SAVEFH);
	putfh(&c, file);
	comp_op(&c, OP_RESTOREFH);
	getattr_type(&c);
	CHECK_STR(outcome(&c), "10016/4",
		  "RESTOREFH of the krb5 handle then GETATTR: RESTOREFH "
		  "fails WRONGSEC");

	comp_begin(&c, "putfh secinfo", 0);
	putfh(&c, krb);
	comp_op(&c, OP_SECINFO);
	putbytes(&c.x, "data", 4);
	CHECK(comp_call(&c, &r), "PUTFH SECINFO(data) answered");
	CHECK_EQ(next_result(&r, OP_PUTFH), NFS4_OK,
		 "PUTFH followed by SECINFO: OK (2.6.3.1.1.5)");
	CHECK_EQ(next_result(&r, OP_SECINFO), NFS4_OK,
		 "SECINFO inside the krb5 export");
	CHECK_STR(secinfo_text(&r), "krb5,krb5i", "its list");

	comp_begin(&c, "putfh lookup", 0);
	putfh(&c, krb);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "data", 4);
	CHECK_STR(outcome(&c), "10016/2",
		  "PUTFH LOOKUP in the krb5 export: WRONGSEC at the LOOKUP");

	comp_begin(&c, "secinfo export", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "deep", 4);
	comp_op(&c, OP_SECINFO);
	putbytes(&c.x, "v4only", 6);
	CHECK(comp_call(&c, &r), "SECINFO(deep/v4only) answered");
	next_result(&r, OP_PUTROOTFH);
	next_result(&r, OP_LOOKUP);
	CHECK_EQ(next_result(&r, OP_SECINFO), NFS4_OK, "SECINFO v4only");
	CHECK_STR(secinfo_text(&r), "sys", "an export without sec=: sys");
}

static void test_wrongsec41(const struct fh *krb)
{
	struct comp c;
	struct res r;

	comp_sequence(&c);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "krb", 3);
	comp_op(&c, OP_SECINFO_NO_NAME);
	put32(&c.x, 0); /* SECINFO_STYLE4_CURRENT_FH */
	CHECK(call41(&c, &r), "4.1 LOOKUP(krb) SECINFO_NO_NAME answered");
	CHECK_EQ(next_result(&r, OP_PUTROOTFH), NFS4_OK, "PUTROOTFH");
	CHECK_EQ(next_result(&r, OP_LOOKUP), NFS4_OK,
		 "LOOKUP followed by SECINFO_NO_NAME: OK");
	CHECK_EQ(next_result(&r, OP_SECINFO_NO_NAME), NFS4_OK,
		 "SECINFO_NO_NAME of the krb5 export's root");
	CHECK_STR(secinfo_text(&r), "krb5,krb5i", "its list");

	comp_sequence(&c);
	putfh(&c, krb);
	comp_op(&c, OP_SECINFO_NO_NAME);
	put32(&c.x, 1); /* SECINFO_STYLE4_PARENT */
	CHECK(call41(&c, &r), "4.1 PUTFH SECINFO_NO_NAME(parent) answered");
	CHECK_EQ(next_result(&r, OP_PUTFH), NFS4_OK,
		 "PUTFH followed by SECINFO_NO_NAME: OK");
	CHECK_EQ(next_result(&r, OP_SECINFO_NO_NAME), NFS4_OK,
		 "SECINFO_NO_NAME(parent) of an export's root");
	CHECK_STR(secinfo_text(&r), "sys,krb5,krb5i",
		  "the parent is the pseudo root: all the flavors below it");

	comp_sequence(&c);
	putfh(&c, krb);
	comp_op(&c, OP_GETFH);
	CHECK(call41(&c, &r), "4.1 PUTFH GETFH answered");
	CHECK_EQ(next_result(&r, OP_PUTFH), NFS4ERR_WRONGSEC,
		 "4.1 PUTFH then GETFH on the krb5 export: WRONGSEC");
}

/* ---- the acl attribute (bit 12) and aclsupport (13) ----------------------
 * ACEs as text "A:flag:who:mask,...", exactly as the daemon maps the
 * POSIX ACLs of the union (knfsd's mapping).
 */
#define ACL_WORD0 (1u << 12)

/* Put a POSIX access ACL on a layer file, as setfacl does: entries
 * "tag:id:perm" with tag 1 (owner), 2 (user), 4, 8, 16 (mask), 32. */
static int posix_acl_set(const char *layer, const char *name,
			 const uint32_t (*e)[3], int n)
{
	uint8_t buf[4 + 8 * 8];
	char path[700];
	uint32_t v = htole32(2);

	memcpy(buf, &v, 4);
	for (int i = 0; i < n; i++) {
		uint16_t tag = htole16((uint16_t)e[i][0]);
		uint16_t perm = htole16((uint16_t)e[i][2]);
		uint32_t id = htole32(e[i][1]);

		memcpy(buf + 4 + 8 * i, &tag, 2);
		memcpy(buf + 6 + 8 * i, &perm, 2);
		memcpy(buf + 8 + 8 * i, &id, 4);
	}
	snprintf(path, sizeof(path), "%s/%s", layer, name);
	return setxattr(path, "system.posix_acl_access", buf, 4 + 8 * (size_t)n,
			0);
}

/* The layer file's access ACL xattr as "tag:id:perm,...", or "". */
static const char *posix_acl_text(const char *layer, const char *name)
{
	static char out[256];
	uint8_t buf[512];
	char path[700];
	size_t off = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", layer, name);
	out[0] = '\0';
	n = getxattr(path, "system.posix_acl_access", buf, sizeof(buf));
	for (ssize_t i = 4; i + 8 <= n && off < sizeof(out); i += 8) {
		uint32_t id;

		memcpy(&id, buf + i + 4, 4);
		id = le32toh(id);
		off += (size_t)snprintf(out + off, sizeof(out) - off,
					"%s%u:%d:%u", off ? "," : "",
					buf[i] | buf[i + 1] << 8,
					id == 0xffffffffu ? -1 : (int)id,
					buf[i + 2] | buf[i + 3] << 8);
	}
	return out;
}

/* GETATTR acl of fh as text; "" after an error. */
static const char *getattr_acl(const struct fh *fh)
{
	static char out[1024];
	char who[256];
	struct comp c;
	struct res r;
	size_t off = 0;
	uint32_t n, type, flag, mask;

	out[0] = '\0';
	comp_begin(&c, "getacl", 0);
	putfh(&c, fh);
	comp_op(&c, OP_GETATTR);
	put32(&c.x, 1);
	put32(&c.x, ACL_WORD0);
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return out;
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_GETATTR);
	n = get32(&r); /* the bitmap: acl alone */
	if (n < 1 || n > 3 || get32(&r) != ACL_WORD0)
		return out;
	while (--n > 0)
		if (get32(&r) != 0)
			return out;
	get32(&r); /* attrlist length */
	n = get32(&r);
	for (uint32_t i = 0; i < n && i < 32 && off < sizeof(out); i++) {
		u_int wl;

		type = get32(&r);
		flag = get32(&r);
		mask = get32(&r);
		wl = getbytes(&r, who, sizeof(who) - 1);
		who[wl] = '\0';
		off += (size_t)snprintf(out + off, sizeof(out) - off,
					"%s%c:%x:%s:%x", i ? "," : "",
					type == 0 ? 'A' : type == 1 ? 'D' : '?',
					flag, who, mask);
	}
	return out;
}

struct ace4 {
	uint32_t type, flag, mask;
	const char *who;
};

/* SETATTR acl (and mode, when not -1) of fh: the SETATTR's status. */
static uint32_t setattr_acl(const struct fh *fh, const struct ace4 *a, int n,
			    int mode)
{
	struct sid zero = { 0, { 0 } };
	struct comp c;
	struct res r;
	u_int lenpos, start;

	comp_begin(&c, "setacl", 0);
	putfh(&c, fh);
	comp_op(&c, OP_SETATTR);
	put_sid(&c.x, &zero);
	put32(&c.x, 2);
	put32(&c.x, ACL_WORD0);
	put32(&c.x, mode >= 0 ? 1u << (33 - 32) : 0);
	lenpos = xdr_getpos(&c.x);
	put32(&c.x, 0);
	start = xdr_getpos(&c.x);
	put32(&c.x, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		put32(&c.x, a[i].type);
		put32(&c.x, a[i].flag);
		put32(&c.x, a[i].mask);
		putbytes(&c.x, a[i].who, (u_int)strlen(a[i].who));
	}
	if (mode >= 0)
		put32(&c.x, (uint32_t)mode);
	*(uint32_t *)(void *)(c.buf + lenpos) =
		htonl(xdr_getpos(&c.x) - start);
	return putfh_op_call(&c, &r, OP_SETATTR);
}

/* GETATTR supported_attrs word 0 and aclsupport. */
static bool acl_support(const struct fh *fh, uint32_t *word0, uint32_t *sup)
{
	struct comp c;
	struct res r;
	uint32_t n;

	comp_begin(&c, "aclsupport", 0);
	putfh(&c, fh);
	comp_op(&c, OP_GETATTR);
	put32(&c.x, 1);
	put32(&c.x, 1u << 0 | 1u << 13);
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return false;
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_GETATTR);
	for (n = get32(&r); n > 0 && n < 4; n--)
		get32(&r);
	get32(&r); /* attrlist length */
	n = get32(&r); /* supported_attrs: a bitmap4 */
	*word0 = get32(&r);
	for (; n > 1 && n < 4; n--)
		get32(&r);
	*sup = get32(&r);
	return true;
}

static mode_t upper_mode(const char *name)
{
	char path[700];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", d.upper, name);
	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void test_wrongsec(void)
{
	struct fh krb = { { 0 }, 0 }, file;

	CHECK(fh_of("share.txt", &file), "handle of share.txt");
	test_wrongsec40(&krb, &file);
	test_wrongsec41(&krb);
}

static void test_acl(void)
{
	static const struct ace4 set[] = {
		{ 0, 0, 0x7, "OWNER@" },
		{ 0, 0, 0x1, "4243" },
		{ 0, 0, 0x1, "GROUP@" },
		{ 0, 0, 0x0, "EVERYONE@" },
	};
	static const struct ace4 bad_who[] = {
		{ 0, 0, 0x7, "OWNER@" },
		{ 0, 0, 0x1, "no-such-user-here@elsewhere.example" },
	};
	static const struct ace4 audit[] = { { 2, 0, 0x1, "EVERYONE@" } };
	static const struct ace4 plain[] = {
		{ 0, 0, 0x7, "OWNER@" },
		{ 0, 0, 0x1, "GROUP@" },
		{ 0, 0, 0x0, "EVERYONE@" },
	};
	struct fh lower, lower2, root;
	uint32_t word0 = 0, sup = 0;

	CHECK(fh_of(NULL, &root) && fh_of("acl.txt", &lower) &&
		      fh_of("acl2.txt", &lower2),
	      "handles of acl.txt and acl2.txt (lower files)");
	CHECK(acl_support(&root, &word0, &sup), "GETATTR aclsupport answered");
	CHECK_EQ(word0 & (3u << 12), 3u << 12,
		 "supported_attrs has acl and aclsupport");
	CHECK_EQ(sup, 3, "aclsupport: ALLOW and DENY ACEs");

	/* u::rw, u:4242:rw, g::r, m::rw, o::- on the lower layer */
	CHECK_STR(getattr_acl(&lower),
		  "A:0:OWNER@:160187,A:0:4242:120087,A:0:GROUP@:120081,"
		  "A:0:EVERYONE@:120080",
		  "GETATTR acl of a lower file with a POSIX ACL: knfsd's ACEs");
	CHECK_STR(getattr_acl(&lower2),
		  "A:0:OWNER@:160187,A:0:GROUP@:120081,A:0:EVERYONE@:120081",
		  "GETATTR acl of a file without one: its mode 0644");

	CHECK_EQ(setattr_acl(&lower2, set, 4, -1), NFS4_OK,
		 "SETATTR acl of a lower file");
	CHECK_STR(posix_acl_text(d.upper, "acl2.txt"),
		  "1:-1:6,2:4243:4,4:-1:4,16:-1:4,32:-1:0",
		  "it was copied up, with the POSIX ACL the ACEs stand for");
	CHECK_STR(posix_acl_text(d.lower, "acl2.txt"), "",
		  "the lower file kept no ACL");
	CHECK_STR(getattr_acl(&lower2),
		  "A:0:OWNER@:160187,A:0:4243:120081,A:0:GROUP@:120081,"
		  "A:0:EVERYONE@:120080",
		  "GETATTR acl gives the ACEs back");

	CHECK_EQ(setattr_acl(&lower2, bad_who, 2, -1), 10039,
		 "an ACE for an unknown name: BADOWNER");
	CHECK_EQ(setattr_acl(&lower2, audit, 1, -1), 10032,
		 "an AUDIT ACE, which POSIX cannot say: ATTRNOTSUPP");
	CHECK_EQ(setattr_acl(&lower2, plain, 3, 0600), NFS4_OK,
		 "SETATTR of mode 0600 and an acl of rw,r,-");
	CHECK_EQ(upper_mode("acl2.txt"), 0640,
		 "the mode is set first, then the ACL (mode 0640)");
	CHECK_STR(posix_acl_text(d.upper, "acl2.txt"), "",
		  "an ACL of the mode's three entries is no xattr");
}

/* ---- dacl (bit 58) and sacl (59), NFSv4.1 only ---------------------------
 * dacl is the acl attribute with an aclflag4 in front; sacl is always
 * empty, as POSIX ACLs hold no AUDIT or ALARM ACEs.
 */
#define DACL_WORD1 (1u << (58 - 32))
#define SACL_WORD1 (1u << (59 - 32))

/* The fattr4 of a GETATTR of fh for the bitmap {w0, w1} over minor
 * version 0 or 1 (the session's slot 0): its status; the values go to
 * val, their length to *len. */
static uint32_t getattr_raw(uint32_t minor, const struct fh *fh, uint32_t w0,
			    uint32_t w1, uint8_t *val, u_int *len)
{
	struct comp c;
	struct res r;
	uint32_t st, n;

	*len = 0;
	if (minor)
		comp_sequence(&c);
	else
		comp_begin(&c, "getattr", 0);
	putfh(&c, fh);
	comp_op(&c, OP_GETATTR);
	put32(&c.x, 2);
	put32(&c.x, w0);
	put32(&c.x, w1);
	if (minor ? !call41(&c, &r) : !comp_call(&c, &r))
		return 0xdeadbeef;
	next_result(&r, OP_PUTFH);
	st = next_result(&r, OP_GETATTR);
	if (st != NFS4_OK)
		return st;
	for (n = get32(&r); n > 0 && n < 4; n--)
		get32(&r);
	*len = getbytes(&r, val, 4096);
	return NFS4_OK;
}

/* SETATTR over minor version 0 or 1 of fh: bitmap {w0, w1}, values
 * val: the status. */
static uint32_t setattr_raw(uint32_t minor, const struct fh *fh, uint32_t w0,
			    uint32_t w1, const uint8_t *val, u_int len)
{
	struct sid zero = { 0, { 0 } };
	struct comp c;
	struct res r;

	if (minor)
		comp_sequence(&c);
	else
		comp_begin(&c, "setattr", 0);
	putfh(&c, fh);
	comp_op(&c, OP_SETATTR);
	put_sid(&c.x, &zero);
	put32(&c.x, 2);
	put32(&c.x, w0);
	put32(&c.x, w1);
	putbytes(&c.x, val, len);
	if (minor ? !call41(&c, &r) : !comp_call(&c, &r))
		return 0xdeadbeef;
	next_result(&r, OP_PUTFH);
	return next_result(&r, OP_SETATTR);
}

/* An nfsacl41 (flag, then the ACEs) as XDR into buf: its length. */
static u_int nfsacl41(uint8_t *buf, u_int cap, uint32_t flag,
		      const struct ace4 *a, int n)
{
	XDR x;
	u_int len;

	xdrmem_create(&x, (char *)buf, cap, XDR_ENCODE);
	put32(&x, flag);
	put32(&x, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		put32(&x, a[i].type);
		put32(&x, a[i].flag);
		put32(&x, a[i].mask);
		putbytes(&x, a[i].who, (u_int)strlen(a[i].who));
	}
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	return len;
}

static void test_dacl(void)
{
	static const struct ace4 set[] = {
		{ 0, 0, 0x7, "OWNER@" },
		{ 0, 0, 0x1, "4244" },
		{ 0, 0, 0x1, "GROUP@" },
		{ 0, 0, 0x0, "EVERYONE@" },
	};
	static const struct ace4 audit[] = { { 2, 0, 0x1, "EVERYONE@" } };
	static uint8_t acl[4096], dacl[4096], buf[4096], old[4096];
	static const uint8_t empty[8];
	u_int alen, dlen, blen, olen;
	struct fh root, file;
	uint32_t w1 = 0;

	CHECK(fh_of(NULL, &root) && fh_of("acl.txt", &file),
	      "handles of the root and acl.txt");
	CHECK_EQ(getattr_raw(0, &root, 1, 0, buf, &blen), NFS4_OK,
		 "4.0 GETATTR supported_attrs");
	if (blen >= 12)
		memcpy(&w1, buf + 8, 4);
	CHECK_EQ(ntohl(w1) & (DACL_WORD1 | SACL_WORD1), 0,
		 "4.0: supported_attrs has neither dacl nor sacl");
	CHECK_EQ(getattr_raw(1, &root, 1, 0, buf, &blen), NFS4_OK,
		 "4.1 GETATTR supported_attrs");
	w1 = 0;
	if (blen >= 12)
		memcpy(&w1, buf + 8, 4);
	CHECK_EQ(ntohl(w1) & (DACL_WORD1 | SACL_WORD1),
		 DACL_WORD1 | SACL_WORD1, "4.1: supported_attrs has both");
	CHECK_EQ(getattr_raw(0, &file, 0, DACL_WORD1, buf, &blen), NFS4_OK,
		 "4.0 GETATTR dacl: OK");
	CHECK_EQ(blen, 0, "4.0 GETATTR dacl: no value, as unsupported");
	CHECK_EQ(setattr_raw(0, &file, 0, SACL_WORD1, empty, 8), 10032,
		 "4.0 SETATTR sacl: ATTRNOTSUPP");

	/* the dacl of a file with a POSIX ACL: flag 0 + the acl's bytes */
	CHECK_EQ(getattr_raw(1, &file, ACL_WORD0, 0, acl, &alen), NFS4_OK,
		 "4.1 GETATTR acl");
	CHECK_EQ(getattr_raw(1, &file, 0, DACL_WORD1, dacl, &dlen), NFS4_OK,
		 "4.1 GETATTR dacl");
	CHECK(alen > 4 && dlen == alen + 4 && !memcmp(dacl, empty, 4) &&
		      !memcmp(dacl + 4, acl, alen),
	      "dacl = na41_flag 0 + the acl's ACEs (%u, %u bytes)", alen,
	      dlen);
	memcpy(old, dacl, dlen);
	olen = dlen;

	/* a round trip; then the old dacl back */
	blen = nfsacl41(buf, sizeof(buf), 0, set, 4);
	CHECK_EQ(setattr_raw(1, &file, 0, DACL_WORD1, buf, blen), NFS4_OK,
		 "SETATTR dacl");
	CHECK_STR(getattr_acl(&file),
		  "A:0:OWNER@:160187,A:0:4244:120081,A:0:GROUP@:120081,"
		  "A:0:EVERYONE@:120080",
		  "the acl attribute shows the dacl set");
	CHECK(getattr_raw(1, &file, ACL_WORD0, 0, acl, &alen) == NFS4_OK &&
		      getattr_raw(1, &file, 0, DACL_WORD1, dacl, &dlen) ==
			      NFS4_OK,
	      "GETATTR acl and dacl again");
	CHECK(alen > 4 && dlen == alen + 4 && !memcmp(dacl, empty, 4) &&
		      !memcmp(dacl + 4, acl, alen),
	      "GETATTR dacl: flag 0 + the new acl's ACEs");
	CHECK_EQ(setattr_raw(1, &file, ACL_WORD0, DACL_WORD1, buf, blen),
		 22 /* INVAL */, "SETATTR of both acl and dacl: INVAL");
	blen = nfsacl41(buf, sizeof(buf), 0, audit, 1);
	CHECK_EQ(setattr_raw(1, &file, 0, DACL_WORD1, buf, blen), 10032,
		 "SETATTR dacl of an AUDIT ACE: ATTRNOTSUPP");
	CHECK_EQ(setattr_raw(1, &file, 0, DACL_WORD1, old, olen), NFS4_OK,
		 "SETATTR dacl of the old value");
	CHECK_EQ(getattr_raw(1, &file, 0, DACL_WORD1, buf, &blen), NFS4_OK,
		 "GETATTR dacl");
	CHECK(blen == olen && !memcmp(buf, old, olen),
	      "the old dacl is back, byte for byte");

	/* sacl: empty; only an empty one is set */
	CHECK_EQ(getattr_raw(1, &file, 0, SACL_WORD1, buf, &blen), NFS4_OK,
		 "GETATTR sacl");
	CHECK(blen == 8 && !memcmp(buf, empty, 8),
	      "sacl: flag 0 and no ACEs (%u bytes)", blen);
	CHECK_EQ(setattr_raw(1, &file, 0, SACL_WORD1, empty, 8), NFS4_OK,
		 "SETATTR of an empty sacl: OK");
	blen = nfsacl41(buf, sizeof(buf), 0, audit, 1);
	CHECK_EQ(setattr_raw(1, &file, 0, SACL_WORD1, buf, blen), 10032,
		 "SETATTR of a sacl with an AUDIT ACE: ATTRNOTSUPP");
}

/* ---- per-export versions --------------------------------------------------
 * The daemon also serves /v3only (versions 3) and /deep/v4only (versions
 * 4), from its configuration file: NFSv4 sees the second, through the
 * pseudo directory "deep", and not the first; NFSv3 (libnfs) the reverse.
 */
static int versions_conf(struct tdaemon *t, char *path, size_t len)
{
	static const char *const ex[3][3] = {
		{ "/v3only", "3", "127.0.0.0/8(rw,no_root_squash)" },
		{ "/deep/v4only", "4", "127.0.0.0/8(rw,no_root_squash)" },
		/* AUTH_SYS from 127.0.0.2 only: how the test gets handles */
		{ "/krb", "4",
		  "127.0.0.2(rw,no_root_squash) "
		  "127.0.0.0/8(rw,no_root_squash,sec=krb5:krb5i)" },
	};
	char dir[400];
	FILE *f;

	snprintf(path, len, "%s/versions.conf", t->dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		for (int l = 0; l < 3; l++) {
			snprintf(dir, sizeof(dir), "%s/vers%d-%c", t->dir, i,
				 "luw"[l]);
			if (mkdir(dir, 0755) < 0)
				break;
		}
		/* /krb's lower layer has a file, for SECINFO inside it */
		snprintf(dir, sizeof(dir), "%s/vers%d-l", t->dir, i);
		if (i == 2 && tfile_write(dir, "data", "x") < 0)
			return -1;
		fprintf(f, "export \"%s\" {\n\tlower %s/vers%d-l\n"
			   "\tupper %s/vers%d-u\n\twork %s/vers%d-w\n"
			   "\tversions %s\n"
			   "\tclients \"%s\"\n}\n",
			ex[i][0], t->dir, i, t->dir, i, t->dir, i, ex[i][1],
			ex[i][2]);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* PUTROOTFH, a LOOKUP of each of names, GETFH: the first failing status. */
static uint32_t v4_walk(const char *const *names, int n)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "walk", 0);
	comp_op(&c, OP_PUTROOTFH);
	for (int i = 0; i < n; i++) {
		comp_op(&c, OP_LOOKUP);
		putbytes(&c.x, names[i], (u_int)strlen(names[i]));
	}
	comp_op(&c, OP_GETFH);
	return comp_call(&c, &r) ? r.status : 0xdeadbeef;
}

#ifdef HAVE_LIBNFS_V4
/* A libnfs mount of url (nfs://...), or NULL (said in a TAP comment). */
static struct nfs_context *url_mount(const char *u)
{
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *url;

	if (nfs == NULL)
		return NULL;
	url = nfs_parse_url_dir(nfs, u);
	if (url == NULL || nfs_mount(nfs, url->server, url->path) != 0) {
		printf("# libnfs mount %s: %s\n", u, nfs_get_error(nfs));
		if (url != NULL)
			nfs_destroy_url(url);
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_destroy_url(url);
	return nfs;
}

static bool v3_mounts(const char *export)
{
	struct nfs_context *nfs;
	char u[256];

	snprintf(u, sizeof(u),
		 "nfs://127.0.0.1%s?version=3&nfsport=%d&mountport=%d",
		 export, d.port, d.port);
	nfs = url_mount(u);
	if (nfs == NULL)
		return false;
	nfs_destroy_context(nfs);
	return true;
}
#endif

static void test_versions(void)
{
	CHECK_EQ(v4_walk((const char *[]){ "v3only" }, 1), NFS4ERR_NOENT,
		 "v4: a versions-3 export is not in the pseudo root");
	CHECK_EQ(v4_walk((const char *[]){ "deep" }, 1), NFS4_OK,
		 "v4: the pseudo directory leading to /deep/v4only");
	CHECK_EQ(v4_walk((const char *[]){ "deep", "v4only" }, 2), NFS4_OK,
		 "v4: /deep/v4only by LOOKUPs from the pseudo root");
#ifdef HAVE_LIBNFS_V4
	CHECK(v3_mounts("/v3only"), "v3: /v3only mounts");
	CHECK(!v3_mounts("/deep/v4only"), "v3: /deep/v4only does not");
#endif
}

#ifdef HAVE_LIBNFS_V4
/* ---- libnfs over NFSv4 (version=4): what it supports -------------------- */

static struct nfs_context *v4_mount(void)
{
	char u[256];

	snprintf(u, sizeof(u), "nfs://127.0.0.1/export?version=4&nfsport=%d",
		 d.port);
	return url_mount(u);
}

/* Does the host file at path hold exactly want? */
static bool file_is(const char *path, const char *want)
{
	char buf[256];
	ssize_t n = -1;
	int f = open(path, O_RDONLY);

	if (f >= 0) {
		n = read(f, buf, sizeof(buf));
		close(f);
	}
	return n == (ssize_t)strlen(want) && !memcmp(buf, want, (size_t)n);
}

/* Is name in the listing of dir? */
static bool v4_listed(struct nfs_context *nfs, const char *dir,
		      const char *name)
{
	struct nfsdir *nd;
	struct nfsdirent *de;
	bool found = false;

	if (nfs_opendir(nfs, dir, &nd) != 0)
		return false;
	while ((de = nfs_readdir(nfs, nd)) != NULL)
		found = found || !strcmp(de->name, name);
	nfs_closedir(nfs, nd);
	return found;
}

static void test_libnfs(void)
{
	struct nfs_context *nfs = v4_mount();
	struct nfsfh *fh = NULL;
	struct nfs_stat_64 st;
	char buf[64] = "", path[400];
	int n = -1;

	CHECK(nfs != NULL, "libnfs mounts /export with version=4");
	if (nfs == NULL)
		return;
	CHECK(nfs_open(nfs, "/share.txt", O_RDONLY, &fh) == 0 &&
		      (n = nfs_read(nfs, fh, sizeof(buf) - 1, buf)) >= 0,
	      "libnfs v4: read share.txt");
	if (fh)
		nfs_close(nfs, fh);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_EQ(n, 5, "libnfs v4: share.txt has 5 bytes");
	/* nfs_creat() opens for reading only: NFSv4 then refuses WRITE */
	CHECK(nfs_create(nfs, "/libnfs4.txt", O_RDWR, 0644, &fh) == 0 &&
		      nfs_write(nfs, fh, 7, "libnfs4") == 7 &&
		      nfs_close(nfs, fh) == 0,
	      "libnfs v4: create and write libnfs4.txt");
	CHECK(nfs_stat64(nfs, "/libnfs4.txt", &st) == 0 &&
		      st.nfs_size == 7 && (st.nfs_mode & 0777) == 0644,
	      "libnfs v4: stat libnfs4.txt: 7 bytes, 0644");
	snprintf(path, sizeof(path), "%s/libnfs4.txt", d.upper);
	CHECK(file_is(path, "libnfs4"),
	      "libnfs v4: the data are in the upper layer");
	CHECK(nfs_mkdir(nfs, "/libnfs4.d") == 0 &&
		      nfs_rename(nfs, "/libnfs4.txt", "/libnfs4.d/moved") == 0,
	      "libnfs v4: mkdir, rename into it");
	CHECK(v4_listed(nfs, "/libnfs4.d", "moved") &&
		      !v4_listed(nfs, "/", "libnfs4.txt"),
	      "libnfs v4: the listings show the rename");
	CHECK(nfs_unlink(nfs, "/libnfs4.d/moved") == 0 &&
		      nfs_rmdir(nfs, "/libnfs4.d") == 0 &&
		      nfs_stat64(nfs, "/libnfs4.d", &st) != 0,
	      "libnfs v4: unlink, rmdir");
	nfs_destroy_context(nfs);
}
#else
static void test_libnfs(void)
{
	printf("# no libnfs: its version=4 test skipped\n");
}
#endif

/* ---- 4.2 sparse files: SEEK, ALLOCATE, DEALLOCATE ----------------------- */

enum { OP_ALLOCATE = 59, OP_DEALLOCATE = 62, OP_SEEK = 69 };
enum { NFS4_CONTENT_DATA = 0, NFS4_CONTENT_HOLE = 1 };
enum { NFS4ERR_NXIO = 6 };

#define MIB (1024 * 1024)

static const struct sid anon_sid; /* all zeros: no open needed */

/* SEQUENCE PUTROOTFH LOOKUP(export) LOOKUP(name), in minor version minor. */
static void comp_file(struct comp *c, uint32_t minor, const char *name)
{
	comp_sequence(c);
	c->nops[-1] = htonl(minor); /* the word before the op count */
	comp_op(c, OP_PUTROOTFH);
	comp_op(c, OP_LOOKUP);
	putbytes(&c->x, "export", 6);
	comp_op(c, OP_LOOKUP);
	putbytes(&c->x, name, (u_int)strlen(name));
}

/* Call; the opnum and status of the op after the LOOKUPs. */
static uint32_t file_op_call(struct comp *c, struct res *r, uint32_t *op)
{
	if (!call41(c, r) || next_result(r, OP_PUTROOTFH) != NFS4_OK ||
	    next_result(r, OP_LOOKUP) != NFS4_OK ||
	    next_result(r, OP_LOOKUP) != NFS4_OK)
		return 0xdeadbeef;
	*op = get32(r);
	return get32(r);
}

/* SEEK in minor version minor; *op gets the opnum the reply names. */
static uint32_t seek_in(uint32_t minor, const char *name, uint64_t off,
			uint32_t what, bool *eof, uint64_t *where,
			uint32_t *op)
{
	struct comp c;
	struct res r;
	uint32_t st;

	comp_file(&c, minor, name);
	comp_op(&c, OP_SEEK);
	put_sid(&c.x, &anon_sid);
	put64(&c.x, off);
	put32(&c.x, what);
	st = file_op_call(&c, &r, op);
	if (st == NFS4_OK) {
		*eof = get32(&r) != 0;
		*where = get64(&r);
	}
	return st;
}

static uint32_t seek42(const char *name, uint64_t off, uint32_t what,
		       bool *eof, uint64_t *where)
{
	uint32_t op, st = seek_in(2, name, off, what, eof, where, &op);

	return op == OP_SEEK ? st : 0xdeadbeef;
}

/* ALLOCATE (punch false) or DEALLOCATE of [off, off+len) of name. */
static uint32_t allocate42(const char *name, uint64_t off, uint64_t len,
			   bool punch)
{
	uint32_t want = punch ? OP_DEALLOCATE : OP_ALLOCATE, op, st;
	struct comp c;
	struct res r;

	comp_file(&c, 2, name);
	comp_op(&c, want);
	put_sid(&c.x, &anon_sid);
	put64(&c.x, off);
	put64(&c.x, len);
	st = file_op_call(&c, &r, &op);
	return op == want ? st : 0xdeadbeef;
}

/*
 * Reply too big: two READs of 256 KiB do not fit in one reply (NFSv4's
 * largest is 288 KiB): the second one fails with REP_TOO_BIG in 4.1,
 * RESOURCE in 4.0, and ends the COMPOUND; the first one's data stay.
 */
static void test_reply_too_big(void)
{
	static uint8_t big[1 << 20];
	uint8_t skip[36];
	struct comp c;
	struct res r;
	uint32_t n;

	for (uint32_t minor = 0; minor < 2; minor++) {
		if (minor) {
			comp_file(&c, minor, "sparse.bin");
		} else { /* no SEQUENCE in 4.0 */
			comp_begin(&c, "", 0);
			comp_op(&c, OP_PUTROOTFH);
			comp_op(&c, OP_LOOKUP);
			putbytes(&c.x, "export", 6);
			comp_op(&c, OP_LOOKUP);
			putbytes(&c.x, "sparse.bin", 10);
		}
		for (int i = 0; i < 2; i++) {
			comp_op(&c, OP_READ);
			put_sid(&c.x, &anon_sid);
			put64(&c.x, 0);
			put32(&c.x, 256 * 1024);
		}
		CHECK(comp_call_buf(&c, &r, big, sizeof(big)),
		      "two 256 KiB READs in 4.%u answered", minor);
		CHECK_EQ(r.status,
			 minor ? NFS4ERR_REP_TOO_BIG : NFS4ERR_RESOURCE,
			 "two 256 KiB READs in 4.%u: %s", minor,
			 minor ? "REP_TOO_BIG" : "RESOURCE");
		CHECK_EQ(r.nres, minor ? 6 : 5,
			 "4.%u: the second READ's result is the last", minor);
		if (minor && (next_result(&r, OP_SEQUENCE) != NFS4_OK ||
			      !xdr_opaque(&r.x, (char *)skip, sizeof(skip))))
			continue;
		next_result(&r, OP_PUTROOTFH);
		next_result(&r, OP_LOOKUP);
		next_result(&r, OP_LOOKUP);
		CHECK_EQ(next_result(&r, OP_READ), NFS4_OK, "first READ OK");
		get32(&r); /* eof */
		n = get32(&r);
		CHECK_EQ(n, 256 * 1024, "the first READ's 256 KiB");
	}
}

/* What lseek says on the host file: the server must agree exactly. */
static off_t host_seek(const char *path, off_t off, int whence)
{
	int f = open(path, O_RDONLY);
	off_t pos = f < 0 ? -2 : lseek(f, off, whence);

	if (f >= 0)
		close(f);
	return pos;
}

/* 4 KiB of data at 0 and at 1 MiB with a hole between, in the upper. */
static int make_sparse(const char *upper, const char *name)
{
	char path[400], block[4096];
	int f, rc = 0;

	memset(block, 'd', sizeof(block));
	snprintf(path, sizeof(path), "%s/%s", upper, name);
	f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (f < 0)
		return -1;
	if (pwrite(f, block, sizeof(block), 0) != sizeof(block) ||
	    pwrite(f, block, sizeof(block), MIB) != sizeof(block))
		rc = -1;
	if (close(f) < 0)
		rc = -1;
	return rc;
}

static void test_seek(void)
{
	char path[400];
	uint64_t where = 0;
	uint32_t op;
	bool eof = true;

	snprintf(path, sizeof(path), "%s/sparse.bin", d.upper);
	CHECK_EQ(seek42("sparse.bin", 8192, NFS4_CONTENT_DATA, &eof, &where),
		 NFS4_OK, "SEEK DATA from 8192");
	CHECK_EQ(where, (uint64_t)host_seek(path, 8192, SEEK_DATA),
		 "SEEK DATA from 8192: where the host's lseek says");
	CHECK_EQ(where, MIB, "SEEK DATA from 8192: the block at 1 MiB");
	CHECK(!eof, "SEEK DATA from 8192: not eof");
	CHECK_EQ(seek42("sparse.bin", 0, NFS4_CONTENT_HOLE, &eof, &where),
		 NFS4_OK, "SEEK HOLE from 0");
	CHECK_EQ(where, (uint64_t)host_seek(path, 0, SEEK_HOLE),
		 "SEEK HOLE from 0: where the host's lseek says");
	CHECK_EQ(where, 4096, "SEEK HOLE from 0: after the first block");
	CHECK_EQ(seek42("sparse.bin", MIB, NFS4_CONTENT_HOLE, &eof, &where),
		 NFS4_OK, "SEEK HOLE from 1 MiB");
	CHECK(eof && where == MIB + 4096,
	      "SEEK HOLE from 1 MiB: the end of file, with eof");
	CHECK_EQ(seek42("sparse.bin", 2 * MIB, NFS4_CONTENT_DATA, &eof,
			&where),
		 NFS4ERR_NXIO, "SEEK past the end: NXIO");
	CHECK_EQ(seek42("sparse.bin", 0, 7, &eof, &where), 10090,
		 "SEEK of an unknown content type: UNION_NOTSUPP");
	CHECK_EQ(seek_in(1, "sparse.bin", 0, NFS4_CONTENT_DATA, &eof, &where,
			 &op),
		 NFS4ERR_OP_ILLEGAL, "SEEK in 4.1: OP_ILLEGAL");
	CHECK_EQ(op, OP_ILLEGAL, "SEEK in 4.1: the result is OP_ILLEGAL's");
}

static bool all_zero(const char *path, off_t off, size_t len)
{
	char buf[4096];
	int f = open(path, O_RDONLY);
	ssize_t n = f < 0 ? -1 : pread(f, buf, len, off);

	if (f >= 0)
		close(f);
	if (n != (ssize_t)len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static void test_allocate(void)
{
	char upath[400], lpath[400];
	struct stat lower_before, st;

	snprintf(upath, sizeof(upath), "%s/sparse.bin", d.upper);
	CHECK_EQ(allocate42("sparse.bin", 0, 4096, true), NFS4_OK,
		 "DEALLOCATE [0, 4096)");
	CHECK(all_zero(upath, 0, 4096), "DEALLOCATE: zeros there on disk");
	CHECK(stat(upath, &st) == 0 && st.st_size == MIB + 4096,
	      "DEALLOCATE: the size is unchanged");
	CHECK(!all_zero(upath, MIB, 4096), "DEALLOCATE: the rest stays");

	snprintf(lpath, sizeof(lpath), "%s/alloc.bin", d.lower);
	snprintf(upath, sizeof(upath), "%s/alloc.bin", d.upper);
	CHECK(stat(lpath, &lower_before) == 0 && stat(upath, &st) < 0,
	      "alloc.bin is only in the lower layer");
	CHECK_EQ(allocate42("alloc.bin", 0, MIB, false), NFS4_OK,
		 "ALLOCATE 1 MiB of a lower file");
	CHECK(stat(upath, &st) == 0, "ALLOCATE copied alloc.bin up");
	CHECK(st.st_size == MIB && st.st_blocks > lower_before.st_blocks &&
		      st.st_blocks * 512 >= MIB,
	      "ALLOCATE: the upper copy has the blocks and the size");
	CHECK(stat(lpath, &st) == 0 && st.st_size == lower_before.st_size &&
		      st.st_blocks == lower_before.st_blocks,
	      "ALLOCATE left the lower file as it was");
	CHECK_EQ(allocate42("alloc.bin", 0, 0, false), 22 /* INVAL */,
		 "ALLOCATE of nothing: INVAL");
}

/* ---- lease expiry, on a daemon with a short lease ---------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static uint32_t lock40(const struct fh *fh, const struct sid *open_sid,
		       uint32_t open_seqid, uint64_t clientid,
		       const char *owner)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "lock", 0);
	putfh(&c, fh);
	comp_op(&c, OP_LOCK);
	put32(&c.x, 2); /* WRITE_LT */
	put32(&c.x, 0);
	put64(&c.x, 0);
	put64(&c.x, UINT64_MAX);
	put32(&c.x, 1); /* a new lock owner */
	put32(&c.x, open_seqid);
	put_sid(&c.x, open_sid);
	put32(&c.x, 1);
	put64(&c.x, clientid);
	putbytes(&c.x, owner, (u_int)strlen(owner));
	return putfh_op_call(&c, &r, OP_LOCK);
}

static uint32_t renew40(uint64_t clientid)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "", 0);
	comp_op(&c, OP_RENEW);
	put64(&c.x, clientid);
	return comp_call(&c, &r) ? r.status : 0xdeadbeef;
}

/* EXCHANGE_ID + CREATE_SESSION for the 4.1 client called name; its
 * client id in *clientid if not NULL. */
static bool session41(const char *name, uint8_t sid[16], uint64_t *clientid_out)
{
	struct comp c;
	struct res r;
	uint64_t clientid;
	uint32_t seq;

	comp_begin(&c, "", 1);
	comp_op(&c, OP_EXCHANGE_ID);
	put64(&c.x, 42);
	putbytes(&c.x, name, (u_int)strlen(name));
	put32(&c.x, 0);
	put32(&c.x, 0);
	put32(&c.x, 0);
	if (!comp_call(&c, &r) || next_result(&r, OP_EXCHANGE_ID) != NFS4_OK)
		return false;
	clientid = get64(&r);
	seq = get32(&r);
	if (clientid_out)
		*clientid_out = clientid;
	comp_begin(&c, "", 1);
	comp_op(&c, OP_CREATE_SESSION);
	put64(&c.x, clientid);
	put32(&c.x, seq);
	put32(&c.x, 0);
	for (int ch = 0; ch < 2; ch++) {
		put32(&c.x, 0);
		put32(&c.x, 1 << 20);
		put32(&c.x, 1 << 20);
		put32(&c.x, 8192);
		put32(&c.x, 16);
		put32(&c.x, 1);
		put32(&c.x, 0);
	}
	put32(&c.x, 0x40000000);
	put32(&c.x, 1);
	put32(&c.x, AUTH_NONE);
	return comp_call(&c, &r) &&
	       next_result(&r, OP_CREATE_SESSION) == NFS4_OK &&
	       xdr_opaque(&r.x, (char *)sid, 16);
}

/* A SEQUENCE alone on slot 0 of session sid, with seqid seq. */
static uint32_t sequence_status(const uint8_t sid[16], uint32_t seq)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "", 1);
	comp_op(&c, OP_SEQUENCE);
	if (!xdr_opaque(&c.x, (char *)sid, 16))
		abort();
	put32(&c.x, seq);
	put32(&c.x, 0);
	put32(&c.x, 0);
	put32(&c.x, 0);
	return comp_call(&c, &r) ? r.status : 0xdeadbeef;
}

/* The short-lease daemon: the test daemon's layers, a config file with
 * "lease-time 2", on its own port. */
static pid_t lease_daemon(struct tdaemon *ld, const char *conf)
{
	const char *bin = getenv("UNIONNFSD");
	long deadline = now_ms() + 10000;
	char line[512];
	pid_t pid;
	int lfd;

	if (!bin || !*bin)
		bin = "./unionnfsd";
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		lfd = open(ld->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (lfd < 0 || dup2(lfd, 2) < 0 || dup2(lfd, 1) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(127);
		execl(bin, bin, "-f", "--no-rpcbind", "-c", conf, (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && now_ms() < deadline) {
		FILE *f = fopen(ld->log, "r");
		char *p;

		while (f && fgets(line, sizeof(line), f))
			if ((p = strstr(line, "listening on 127.0.0.1:")))
				ld->port = atoi(p + 23);
		if (f)
			fclose(f);
		if (ld->port)
			return pid;
		usleep(20000);
	}
	return -1;
}

static void test_lease_expiry(void)
{
	struct tdaemon ld;
	struct open_req oa = { 0, "leaseA", 1, ACCESS_BOTH, DENY_NONE, true,
			       "lease.txt" };
	struct open_req ob = { 0, "leaseB", 1, ACCESS_BOTH, DENY_NONE, false,
			       "lease.txt" };
	struct sid sa, sb;
	struct fh fa, fb;
	struct res r;
	uint8_t sess[16];
	char conf[400], text[1400];
	uint32_t st = 0;
	long deadline;
	int main_fd = nfs4_sock, status;
	pid_t pid;

	if (tdaemon_init(&ld, "nfs4lease") < 0)
		return;
	snprintf(conf, sizeof(conf), "%s/unionnfsd.conf", ld.dir);
	snprintf(text, sizeof(text),
		 "listen 127.0.0.1:0\ncatalog %s\nlease-time 2\n"
		 "idmap-domain test.example\n"
		 "export /export {\n\tlower %s\n\tupper %s\n\twork %s\n"
		 "\tclients 127.0.0.0/8(rw,no_root_squash)\n}\n",
		 ld.catalog, ld.lower, ld.upper, ld.work);
	CHECK(tfile_write(ld.dir, "unionnfsd.conf", text) == 0,
	      "config with lease-time 2 written");
	pid = lease_daemon(&ld, conf);
	CHECK(pid > 0, "daemon with a 2 s lease started");
	if (pid <= 0) {
		tdaemon_cleanup(&ld);
		return;
	}
	nfs4_sock = tconnect(ld.port, SOCK_STREAM, 10);
	if (nfs4_sock >= 0) {
		/* a 4.1 client made first, silent too: it expires first */
		CHECK(session41("lease-client-C", sess, NULL),
		      "4.1 session made");
		CHECK_EQ(sequence_status(sess, 1), NFS4_OK,
			 "its first SEQUENCE is OK");
		oa.clientid = client40("lease-client-A");
		ob.clientid = client40("lease-client-B");
		CHECK_EQ(open40(&oa, &sa, &fa, &r), NFS4_OK,
			 "A opens lease.txt");
		test_owners(&fa);
		CHECK_EQ(lock40(&fa, &sa, 2, oa.clientid, "lockA"),
			 NFS4_OK, "A locks all of it");
		CHECK_EQ(lock40(&fa, &sa, 2, oa.clientid, "lockA"),
			 NFS4_OK, "a retransmitted LOCK gets its reply again");
		CHECK_EQ(lock40(&fa, &sa, 5, oa.clientid, "lockA"),
			 NFS4ERR_BAD_SEQID, "LOCK with open seqid 5: BAD_SEQID");
		CHECK_EQ(open40(&ob, &sb, &fb, &r), NFS4_OK,
			 "B opens lease.txt");
		CHECK_EQ(lock40(&fb, &sb, 2, ob.clientid, "lockB"),
			 NFS4ERR_DENIED, "B's lock: DENIED while A's lease runs");
		/* A goes silent; B polls (renewing its own lease) until A's
		 * lease expired and its lock went with it. */
		deadline = now_ms() + 30000;
		for (uint32_t seq = 3; now_ms() < deadline; seq++) {
			st = lock40(&fb, &sb, seq, ob.clientid, "lockB");
			if (st != NFS4ERR_DENIED)
				break;
			usleep(100000);
		}
		CHECK_EQ(st, NFS4_OK, "B gets the lock once A's lease expired");
		CHECK_EQ(renew40(oa.clientid), NFS4ERR_EXPIRED,
			 "A's RENEW after the expiry: EXPIRED");
		CHECK_EQ(io40(&fa, &sa, false), NFS4ERR_EXPIRED,
			 "A's open stateid: EXPIRED");
		CHECK_EQ(renew40(ob.clientid), NFS4_OK, "B's lease is alive");
		CHECK_EQ(sequence_status(sess, 2), 10052 /* BADSESSION */,
			 "the expired 4.1 client's session: BADSESSION");
	} else {
		CHECK(0, "connect to the short-lease daemon");
	}
	close(nfs4_sock);
	nfs4_sock = main_fd;
	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0,
	      "the short-lease daemon exits cleanly");
	tdaemon_cleanup(&ld);
}

/* ---- grace and reclaim after a restart (4.1) --------------------------- */

struct sess41 {
	uint8_t id[16];
	uint64_t clientid;
	uint32_t seq; /* the last seqid slot 0 used */
};

static bool sess41_new(const char *name, struct sess41 *s)
{
	s->seq = 0;
	return session41(name, s->id, &s->clientid);
}

static void seq41(struct comp *c, struct sess41 *s)
{
	comp_begin(c, "", 1);
	comp_op(c, OP_SEQUENCE);
	if (!xdr_opaque(&c->x, (char *)s->id, 16))
		abort();
	put32(&c->x, ++s->seq);
	put32(&c->x, 0);
	put32(&c->x, 0);
	put32(&c->x, 0);
}

/* OPEN grace.txt for read and write: CLAIM_NULL by name, or CLAIM_PREVIOUS
 * of *fh (reclaim).  Returns OPEN's status; on success *sid and *fh. */
static uint32_t open41(struct sess41 *s, const char *owner, bool reclaim,
		       struct sid *sid, struct fh *fh)
{
	struct comp c;
	struct res r;
	uint32_t st, n;

	seq41(&c, s);
	if (reclaim) {
		putfh(&c, fh);
	} else {
		comp_op(&c, OP_PUTROOTFH);
		comp_op(&c, OP_LOOKUP);
		putbytes(&c.x, "export", 6);
	}
	comp_op(&c, OP_OPEN);
	put32(&c.x, 0);
	put32(&c.x, ACCESS_BOTH);
	put32(&c.x, DENY_NONE);
	put64(&c.x, s->clientid);
	putbytes(&c.x, owner, (u_int)strlen(owner));
	put32(&c.x, 0); /* OPEN4_NOCREATE */
	put32(&c.x, reclaim ? 1 : 0);
	if (reclaim)
		put32(&c.x, 0); /* OPEN_DELEGATE_NONE */
	else
		putbytes(&c.x, "grace.txt", 9);
	comp_op(&c, OP_GETFH);
	if (!call41(&c, &r))
		return 0xdeadbeef;
	next_result(&r, reclaim ? OP_PUTFH : OP_PUTROOTFH);
	if (!reclaim)
		next_result(&r, OP_LOOKUP);
	st = next_result(&r, OP_OPEN);
	if (st != NFS4_OK)
		return st;
	get_sid(&r, sid);
	get32(&r), get64(&r), get64(&r), get32(&r);
	for (n = get32(&r); n > 0 && n < 8; n--)
		get32(&r);
	get32(&r);
	if (next_result(&r, OP_GETFH) != NFS4_OK)
		return 0xdeadbeef;
	fh->len = getbytes(&r, fh->data, sizeof(fh->data));
	return st;
}

/* A write lock on all of fh by a new lock owner of the open sid. */
static uint32_t lock41(struct sess41 *s, const struct fh *fh,
		       const struct sid *open_sid, bool reclaim,
		       const char *owner)
{
	struct comp c;
	struct res r;

	seq41(&c, s);
	putfh(&c, fh);
	comp_op(&c, OP_LOCK);
	put32(&c.x, 2); /* WRITE_LT */
	put32(&c.x, reclaim);
	put64(&c.x, 0);
	put64(&c.x, UINT64_MAX);
	put32(&c.x, 1);
	put32(&c.x, 0);
	put_sid(&c.x, open_sid);
	put32(&c.x, 0);
	put64(&c.x, s->clientid);
	putbytes(&c.x, owner, (u_int)strlen(owner));
	if (!call41(&c, &r))
		return 0xdeadbeef;
	next_result(&r, OP_PUTFH);
	return next_result(&r, OP_LOCK);
}

static uint32_t reclaim_complete41(struct sess41 *s)
{
	struct comp c;
	struct res r;

	seq41(&c, s);
	comp_op(&c, OP_RECLAIM_COMPLETE);
	put32(&c.x, 0); /* rca_one_fs: false */
	if (!call41(&c, &r))
		return 0xdeadbeef;
	return next_result(&r, OP_RECLAIM_COMPLETE);
}

/* 4.0 OPEN CLAIM_PREVIOUS of fh by a new open owner (seqid 1). */
static uint32_t reclaim40(uint64_t clientid, const char *owner,
			  const struct fh *fh)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "reclaim", 0);
	putfh(&c, fh);
	comp_op(&c, OP_OPEN);
	put32(&c.x, 1);
	put32(&c.x, ACCESS_READ);
	put32(&c.x, DENY_NONE);
	put64(&c.x, clientid);
	putbytes(&c.x, owner, (u_int)strlen(owner));
	put32(&c.x, 0); /* OPEN4_NOCREATE */
	put32(&c.x, 1); /* CLAIM_PREVIOUS */
	put32(&c.x, 0); /* OPEN_DELEGATE_NONE */
	return putfh_op_call(&c, &r, OP_OPEN);
}

static bool connect_port(int port)
{
	nfs4_sock = tconnect(port, SOCK_STREAM, 10);
	return nfs4_sock >= 0;
}

/* After the restart: A reclaims, B waits for the grace to end. */
static void grace_reclaims(struct tdaemon *g, const struct fh *old_fh)
{
	struct sess41 a, b;
	struct sid sa, sb, sl;
	struct fh fa = *old_fh, fb;
	uint32_t st = 0;
	long deadline;

	CHECK(sess41_new("grace-client-B", &b), "B: a 4.1 session");
	CHECK_EQ(open41(&b, "ownB", false, &sb, &fb), NFS4ERR_GRACE,
		 "in grace: B's CLAIM_NULL OPEN gets GRACE");
	CHECK(sess41_new("grace-client-A", &a), "A: a new session");
	CHECK_EQ(open41(&a, "ownA", true, &sa, &fa), NFS4_OK,
		 "A reclaims its open (CLAIM_PREVIOUS)");
	CHECK_EQ(lock41(&a, &fa, &sa, true, "lockA"), NFS4_OK,
		 "A reclaims its lock");
	CHECK_EQ(lock41(&a, &fa, &sa, false, "lockA2"), NFS4ERR_GRACE,
		 "in grace: A's new (non-reclaim) LOCK gets GRACE");
	fb = *old_fh;
	CHECK_EQ(open41(&b, "ownB", true, &sb, &fb), NFS4ERR_RECLAIM_BAD,
		 "B, not recorded, cannot reclaim: RECLAIM_BAD");
	CHECK_EQ(reclaim40(client40("grace-client-C"), "ownC", old_fh), NFS4_OK,
		 "4.0: C (same id string, new SETCLIENTID) reclaims its open");
	CHECK_EQ(reclaim40(client40("grace-client-D"), "ownD", old_fh),
		 NFS4ERR_RECLAIM_BAD, "4.0: D, not recorded: RECLAIM_BAD");
	CHECK_EQ(io40(&fa, &(struct sid){ 0 }, true), NFS4ERR_GRACE,
		 "in grace: WRITE with the anonymous stateid gets GRACE");
	CHECK_EQ(reclaim_complete41(&a), NFS4_OK, "A: RECLAIM_COMPLETE");
	CHECK_EQ(reclaim_complete41(&a), NFS4ERR_COMPLETE_ALREADY,
		 "a second RECLAIM_COMPLETE: COMPLETE_ALREADY");
	CHECK_EQ(lock41(&a, &fa, &sa, true, "lockA3"), NFS4ERR_NO_GRACE,
		 "a reclaim after RECLAIM_COMPLETE: NO_GRACE");
	deadline = now_ms() + 30000;
	while (now_ms() < deadline) {
		st = open41(&b, "ownB", false, &sb, &fb);
		if (st != NFS4ERR_GRACE)
			break;
		usleep(100000);
	}
	CHECK_EQ(st, NFS4_OK, "after the grace, B's OPEN works");
	CHECK_EQ(lock41(&b, &fb, &sb, false, "lockB"), NFS4ERR_DENIED,
		 "B's LOCK: DENIED by A's reclaimed lock");
	sl = sb;
	CHECK_EQ(open41(&b, "ownB", true, &sl, &fb), NFS4ERR_NO_GRACE,
		 "a reclaim after the grace: NO_GRACE");
	CHECK_EQ(reclaim40(client40("grace-client-C"), "ownC2", old_fh),
		 NFS4ERR_NO_GRACE, "4.0: a reclaim after the grace: NO_GRACE");
	(void)g;
}

static void test_grace(void)
{
	struct tdaemon g;
	struct open_req oc = { 0, "ownC", 1, ACCESS_READ, DENY_NONE, false,
			       "grace.txt" };
	struct open_req oe = { 0, "ownE", 1, ACCESS_READ, DENY_NONE, false,
			       "grace.txt" };
	struct sess41 a;
	struct sid sa, sc;
	struct fh fa, fc;
	struct res r;
	int main_fd = nfs4_sock;

	if (tdaemon_init(&g, "nfs4grace") < 0)
		return;
	g.grace = "5";
	if (tfile_write(g.lower, "grace.txt", "grace") < 0 ||
	    tdaemon_start(&g) < 0 || !connect_port(g.port)) {
		CHECK(0, "the grace daemon starts");
		goto out;
	}
	CHECK(sess41_new("grace-client-A", &a), "A: a 4.1 session");
	CHECK_EQ(open41(&a, "ownA", false, &sa, &fa), NFS4_OK,
		 "no records, no grace: A opens grace.txt");
	CHECK_EQ(lock41(&a, &fa, &sa, false, "lockA"), NFS4_OK,
		 "A locks all of it");
	oc.clientid = client40("grace-client-C");
	CHECK_EQ(open40(&oc, &sc, &fc, &r), NFS4_OK, "4.0: C opens it too");
	oe.clientid = client40("grace-client-E");
	CHECK_EQ(open40(&oe, &sc, &fc, &r), NFS4_OK, "4.0: E opens it too");
	close(nfs4_sock);
	CHECK_EQ(tdaemon_stop(&g), 0, "the grace daemon stops cleanly");
	if (tdaemon_start(&g) < 0 || !connect_port(g.port)) {
		CHECK(0, "the grace daemon restarts");
		goto out;
	}
	grace_reclaims(&g, &fa);
	close(nfs4_sock);
	CHECK_EQ(tdaemon_stop(&g), 0, "the restarted daemon stops cleanly");
	/* E did not come back in that grace: its record went, C's stayed */
	if (tdaemon_start(&g) < 0 || !connect_port(g.port)) {
		CHECK(0, "the grace daemon restarts again");
		goto out;
	}
	CHECK_EQ(reclaim40(client40("grace-client-C"), "ownC3", &fa), NFS4_OK,
		 "after a second restart, C reclaims again");
	CHECK_EQ(reclaim40(client40("grace-client-E"), "ownE", &fa),
		 NFS4ERR_RECLAIM_BAD, "E, who did not reclaim, was forgotten");
	close(nfs4_sock);
	CHECK_EQ(tdaemon_stop(&g), 0, "the daemon stops in grace cleanly");
out:
	nfs4_sock = main_fd;
	tdaemon_cleanup(&g);
}

/* acl.txt's: u::rw, u:4242:rw, g::r, m::rw, o::- */
static const uint32_t lower_acl[5][3] = {
	{ 1, 0xffffffffu, 6 }, { 2, 4242, 6 }, { 4, 0xffffffffu, 4 },
	{ 16, 0xffffffffu, 6 }, { 32, 0xffffffffu, 0 },
};

int main(void)
{
	char conf[400];

	uint64_t a, b;

	if (tdaemon_init(&d, "nfs4") < 0 ||
	    tfile_write(d.lower, "share.txt", "share") < 0 ||
	    tfile_write(d.lower, "cu.txt", "lower") < 0 ||
	    tfile_write(d.lower, "alloc.bin", "lower") < 0 ||
	    tfile_write(d.lower, "acl.txt", "acl") < 0 ||
	    tfile_write(d.lower, "acl2.txt", "acl2") < 0 ||
	    posix_acl_set(d.lower, "acl.txt", lower_acl, 5) < 0 ||
	    make_sparse(d.upper, "sparse.bin") < 0 ||
	    versions_conf(&d, conf, sizeof(conf)) < 0 ||
	    (d.config = conf, tdaemon_start(&d) < 0)) {
		printf("Bail out! daemon did not start\n");
		tdaemon_cleanup(&d);
		return 99;
	}
	nfs4_sock = tconnect(d.port, SOCK_STREAM, 10);
	if (nfs4_sock < 0) {
		printf("Bail out! cannot connect\n");
		tdaemon_stop(&d);
		tdaemon_cleanup(&d);
		return 99;
	}
	test_minor_and_tag();
	test_illegal();
	test_handles();
	test_too_many_ops();
	test_session();
	a = client40("nfs4_test client A");
	b = client40("nfs4_test client B");
	CHECK(a != 0 && b != 0 && a != b, "two 4.0 clients confirmed");
	test_share_deny(a, b);
	test_seqid(a);
	test_copy_up_at_open(a);
	test_more_ops(a, b);
	test_state41();
	test_wrongsec();
	test_dacl();
	test_session_end();
	test_acl();
	test_seek();
	test_allocate();
	test_reply_too_big();
	test_libnfs();
	test_versions();
	test_lease_expiry();
	test_grace();
	close(nfs4_sock);
	CHECK_EQ(tdaemon_stop(&d), 0, "daemon exits cleanly");
	tdaemon_cleanup(&d);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
