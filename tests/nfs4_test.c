/*
 * nfs4_test.c - raw NFSv4 COMPOUNDs against a real daemon, built by hand
 * with libtirpc's XDR: minor-version dispatch, tag echo, OP_ILLEGAL, the
 * first failing op ending the COMPOUND, forged handles, the pseudo root,
 * too many ops, and 4.1 sessions with the slot reply cache.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rpc/rpc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

#define NFS_PROG 100003
#define LAST_FRAG 0x80000000u

enum {
	OP_GETATTR = 9, OP_GETFH = 10, OP_LOOKUP = 15, OP_PUTFH = 22,
	OP_PUTROOTFH = 24, OP_EXCHANGE_ID = 42, OP_CREATE_SESSION = 43,
	OP_SEQUENCE = 53, OP_ILLEGAL = 10044,
};
enum {
	NFS4_OK = 0, NFS4ERR_NOENT = 2, NFS4ERR_STALE = 70,
	NFS4ERR_BADHANDLE = 10001, NFS4ERR_RESOURCE = 10018,
	NFS4ERR_NOFILEHANDLE = 10020, NFS4ERR_MINOR_VERS_MISMATCH = 10021,
	NFS4ERR_OP_ILLEGAL = 10044, NFS4ERR_SEQ_MISORDERED = 10063,
	NFS4ERR_OP_NOT_IN_SESSION = 10071,
};

static struct tdaemon d;
static int fd = -1;
static uint32_t next_xid = 0x4000;

/* A COMPOUND being built: the call record after the RPC header. */
struct comp {
	uint8_t buf[8192];
	XDR x;
	uint32_t *nops;
};

static void put32(XDR *x, uint32_t v)
{
	if (!xdr_uint32_t(x, &v))
		abort();
}

static void put64(XDR *x, uint64_t v)
{
	if (!xdr_uint64_t(x, &v))
		abort();
}

static void putbytes(XDR *x, const void *p, u_int n)
{
	char *cp = (char *)(uintptr_t)p;

	if (!xdr_bytes(x, &cp, &n, n))
		abort();
}

static void comp_begin(struct comp *c, const char *tag, uint32_t minor)
{

	xdrmem_create(&c->x, (char *)c->buf, sizeof(c->buf), XDR_ENCODE);
	put32(&c->x, next_xid++);
	put32(&c->x, CALL);
	put32(&c->x, 2);
	put32(&c->x, NFS_PROG);
	put32(&c->x, 4);
	put32(&c->x, 1); /* COMPOUND */
	/* AUTH_SYS (24 bytes): stamp, machine "t", uid 0, gid 0, no groups */
	put32(&c->x, AUTH_SYS);
	put32(&c->x, 24);
	put32(&c->x, 0);
	putbytes(&c->x, "t", 1);
	put32(&c->x, 0);
	put32(&c->x, 0);
	put32(&c->x, 0);
	put32(&c->x, AUTH_NONE);
	put32(&c->x, 0);
	putbytes(&c->x, tag, (u_int)strlen(tag));
	put32(&c->x, minor);
	c->nops = (uint32_t *)(void *)(c->buf + xdr_getpos(&c->x));
	put32(&c->x, 0);
}

static void comp_op(struct comp *c, uint32_t op)
{
	*c->nops = htonl(ntohl(*c->nops) + 1);
	put32(&c->x, op);
}

/* The reply's COMPOUND4res, after the accepted header. */
struct res {
	uint8_t buf[65536];
	size_t len;
	XDR x;
	uint32_t status, nres;
	char tag[64];
};

static bool recv_all(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool comp_call(struct comp *c, struct res *r)
{
	uint32_t mark = htonl(LAST_FRAG | xdr_getpos(&c->x)), len, w[6];
	u_int taglen;
	char *tp = r->tag;

	memset(r->tag, 0, sizeof(r->tag));
	if (send(fd, &mark, 4, MSG_NOSIGNAL) != 4 ||
	    send(fd, c->buf, xdr_getpos(&c->x), MSG_NOSIGNAL) !=
		    (ssize_t)xdr_getpos(&c->x))
		return false;
	xdr_destroy(&c->x);
	if (!recv_all(&mark, 4))
		return false;
	len = ntohl(mark) & ~LAST_FRAG;
	if (len > sizeof(r->buf) || !recv_all(r->buf, len))
		return false;
	r->len = len;
	xdrmem_create(&r->x, (char *)r->buf, len, XDR_DECODE);
	/* xid, REPLY, MSG_ACCEPTED, verifier flavor + length, SUCCESS */
	for (int i = 0; i < 6; i++)
		if (!xdr_uint32_t(&r->x, &w[i]))
			return false;
	if (w[2] != MSG_ACCEPTED || w[5] != SUCCESS)
		return false;
	return xdr_uint32_t(&r->x, &r->status) &&
	       xdr_bytes(&r->x, &tp, &taglen, sizeof(r->tag) - 1) &&
	       xdr_uint32_t(&r->x, &r->nres);
}

static uint32_t get32(struct res *r)
{
	uint32_t v = 0xdeadbeef;

	(void)xdr_uint32_t(&r->x, &v);
	return v;
}

static uint64_t get64(struct res *r)
{
	uint64_t v = 0;

	(void)xdr_uint64_t(&r->x, &v);
	return v;
}

static u_int getbytes(struct res *r, void *buf, u_int max)
{
	char *p = buf;
	u_int n = 0;

	if (!xdr_bytes(&r->x, &p, &n, max))
		return 0;
	return n;
}

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
}

int main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { 10, 0 };

	if (tdaemon_init(&d, "nfs4") < 0 || tdaemon_start(&d) < 0) {
		printf("Bail out! daemon did not start\n");
		tdaemon_cleanup(&d);
		return 99;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = htons((uint16_t)d.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		printf("Bail out! cannot connect\n");
		tdaemon_stop(&d);
		tdaemon_cleanup(&d);
		return 99;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	test_minor_and_tag();
	test_illegal();
	test_handles();
	test_too_many_ops();
	test_session();
	close(fd);
	CHECK_EQ(tdaemon_stop(&d), 0, "daemon exits cleanly");
	tdaemon_cleanup(&d);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
