/*
 * rpc_test.c - the RPC layer against a real daemon, with records built by
 * hand: call header checks, authentication flavors, record marking (many
 * fragments, oversized, truncated), UDP, pipelining with back-pressure,
 * and the duplicate request cache.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <rpc/rpc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

#define NFS_PROG 100003
#define MOUNT_PROG 100005
#define NFSPROC3_GETATTR 1
#define NFSPROC3_REMOVE 12
#define MOUNTPROC3_MNT 1
#define LAST_FRAG 0x80000000u

static struct tdaemon d;

/* ---- building calls ---------------------------------------------------- */

struct call {
	uint32_t xid, rpcvers, prog, vers, proc;
	uint32_t flavor;
	const void *cred;
	uint32_t credlen;
	const void *args;
	uint32_t argslen;
};

/* The call record (no record mark) in buf; returns its length. */
static size_t build_call(uint8_t *buf, size_t cap, const struct call *c)
{
	uint32_t zero = 0, none = AUTH_NONE;
	XDR x;
	size_t len;

	xdrmem_create(&x, (char *)buf, (u_int)cap, XDR_ENCODE);
	uint32_t words[] = { c->xid, CALL, c->rpcvers ? c->rpcvers : 2,
			     c->prog, c->vers, c->proc, c->flavor, c->credlen };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!xdr_uint32_t(&x, &words[i]))
			abort();
	if (c->credlen &&
	    !xdr_opaque(&x, (char *)(uintptr_t)c->cred, c->credlen))
		abort();
	if (!xdr_uint32_t(&x, &none) || !xdr_uint32_t(&x, &zero))
		abort();
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	if (c->argslen) {
		memcpy(buf + len, c->args, c->argslen);
		len += c->argslen;
	}
	return len;
}

/* An AUTH_SYS body: stamp, machine name, uid, gid, groups. */
static uint32_t authsys_body(uint8_t *buf, uint32_t uid, uint32_t gid)
{
	XDR x;
	char *name = "rpctest";
	uint32_t stamp = 1, ngroups = 1, group = gid;
	uint32_t len;

	xdrmem_create(&x, (char *)buf, 400, XDR_ENCODE);
	if (!xdr_uint32_t(&x, &stamp) || !xdr_string(&x, &name, 255) ||
	    !xdr_uint32_t(&x, &uid) || !xdr_uint32_t(&x, &gid) ||
	    !xdr_uint32_t(&x, &ngroups) || !xdr_uint32_t(&x, &group))
		abort();
	len = xdr_getpos(&x);
	xdr_destroy(&x);
	return len;
}

/* ---- sockets ----------------------------------------------------------- */

static int connect_to(int type)
{
	return tconnect(d.port, type, 5);
}

static bool send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_frag(int fd, const void *buf, uint32_t len, bool last)
{
	uint32_t mark = htonl((last ? LAST_FRAG : 0) | len);

	return send_all(fd, &mark, 4) && send_all(fd, buf, len);
}

static bool recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* One whole record; returns its length, or -1 (closed, timeout). */
static ssize_t recv_record(int fd, uint8_t *buf, size_t cap)
{
	uint32_t mark, len;
	size_t total = 0;

	do {
		if (!recv_all(fd, &mark, 4))
			return -1;
		mark = ntohl(mark);
		len = mark & ~LAST_FRAG;
		if (total + len > cap || !recv_all(fd, buf + total, len))
			return -1;
		total += len;
	} while (!(mark & LAST_FRAG));
	return (ssize_t)total;
}

/* Has the server closed this connection (within a few seconds)? */
static bool closed_by_peer(int fd)
{
	uint8_t b[256];
	ssize_t n;

	for (;;) {
		n = recv(fd, b, sizeof(b), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false; /* timeout: still open */
	}
}

/* ---- replies ----------------------------------------------------------- */

struct reply {
	uint32_t xid, type, stat;    /* stat: reply_stat */
	uint32_t detail;	      /* accept_stat, reject_stat */
	uint32_t low, high;	      /* mismatch info */
	uint32_t auth;		      /* auth_stat for AUTH_ERROR */
	const uint8_t *results;
	size_t resultslen;
};

static bool parse_reply(const uint8_t *buf, size_t len, struct reply *r)
{
	uint32_t vflavor, vlen;
	XDR x;
	bool ok = false;

	memset(r, 0, sizeof(*r));
	xdrmem_create(&x, (char *)buf, (u_int)len, XDR_DECODE);
	if (!xdr_uint32_t(&x, &r->xid) || !xdr_uint32_t(&x, &r->type) ||
	    !xdr_uint32_t(&x, &r->stat))
		goto out;
	if (r->stat == MSG_ACCEPTED) {
		if (!xdr_uint32_t(&x, &vflavor) || !xdr_uint32_t(&x, &vlen) ||
		    vlen > 400 || !xdr_setpos(&x, xdr_getpos(&x) + RNDUP(vlen)) ||
		    !xdr_uint32_t(&x, &r->detail))
			goto out;
		if (r->detail == PROG_MISMATCH &&
		    (!xdr_uint32_t(&x, &r->low) || !xdr_uint32_t(&x, &r->high)))
			goto out;
	} else {
		if (!xdr_uint32_t(&x, &r->detail))
			goto out;
		if (r->detail == RPC_MISMATCH &&
		    (!xdr_uint32_t(&x, &r->low) || !xdr_uint32_t(&x, &r->high)))
			goto out;
		if (r->detail == AUTH_ERROR && !xdr_uint32_t(&x, &r->auth))
			goto out;
	}
	r->results = buf + xdr_getpos(&x);
	r->resultslen = len - xdr_getpos(&x);
	ok = true;
out:
	xdr_destroy(&x);
	return ok;
}

static uint8_t rbuf[1 << 20];

/* Send one call on a fresh TCP connection and parse the reply. */
static bool tcp_call(const struct call *c, struct reply *r)
{
	uint8_t buf[2048];
	size_t len = build_call(buf, sizeof(buf), c);
	int fd = connect_to(SOCK_STREAM);
	ssize_t n;
	bool ok;

	if (fd < 0)
		return false;
	ok = send_frag(fd, buf, (uint32_t)len, true) &&
	     (n = recv_record(fd, rbuf, sizeof(rbuf))) > 0 &&
	     parse_reply(rbuf, (size_t)n, r);
	close(fd);
	return ok;
}

static bool udp_call(const struct call *c, struct reply *r)
{
	uint8_t buf[2048];
	size_t len = build_call(buf, sizeof(buf), c);
	int fd = connect_to(SOCK_DGRAM);
	ssize_t n = -1;
	int tries;

	if (fd < 0)
		return false;
	for (tries = 0; tries < 3 && n < 0; tries++) {
		if (send(fd, buf, len, 0) != (ssize_t)len)
			break;
		n = recv(fd, rbuf, sizeof(rbuf), 0);
	}
	close(fd);
	return n > 0 && parse_reply(rbuf, (size_t)n, r);
}

static void check_success(const struct reply *r, uint32_t xid,
			  const char *what)
{
	CHECK_EQ(r->xid, xid, "%s: reply xid matches", what);
	CHECK_EQ(r->type, REPLY, "%s: is a reply", what);
	CHECK_EQ(r->stat, MSG_ACCEPTED, "%s: accepted", what);
	CHECK_EQ(r->detail, SUCCESS, "%s: SUCCESS", what);
}

/* ---- tests ------------------------------------------------------------- */

static void test_null(void)
{
	struct call c = { .xid = 0x1001, .prog = NFS_PROG, .vers = 3 };
	struct reply r;

	CHECK(tcp_call(&c, &r), "NFS NULL over TCP answered");
	check_success(&r, 0x1001, "NFS NULL tcp");
	CHECK_EQ(r.resultslen, 0, "NULL has no results");

	c = (struct call){ .xid = 0x1002, .prog = MOUNT_PROG, .vers = 3 };
	CHECK(tcp_call(&c, &r), "MOUNT NULL over TCP answered");
	check_success(&r, 0x1002, "MOUNT NULL tcp");

	c = (struct call){ .xid = 0x1003, .prog = NFS_PROG, .vers = 3 };
	CHECK(udp_call(&c, &r), "NFS NULL over UDP answered");
	check_success(&r, 0x1003, "NFS NULL udp");

	c = (struct call){ .xid = 0x1004, .prog = MOUNT_PROG, .vers = 3 };
	CHECK(udp_call(&c, &r), "MOUNT NULL over UDP answered");
	check_success(&r, 0x1004, "MOUNT NULL udp");
}

static void test_auth_sys(void)
{
	uint8_t body[400];
	struct call c = { .xid = 0x2001, .prog = NFS_PROG, .vers = 3,
			  .flavor = AUTH_SYS, .cred = body };
	struct reply r;

	c.credlen = authsys_body(body, 1000, 1000);
	CHECK(tcp_call(&c, &r), "NULL with AUTH_SYS answered");
	check_success(&r, 0x2001, "AUTH_SYS");

	/* Machine name claims 1000 bytes in a 28-byte body. */
	body[4] = 0, body[5] = 0, body[6] = 0x03, body[7] = 0xe8;
	c.xid = 0x2002;
	CHECK(tcp_call(&c, &r), "malformed AUTH_SYS answered");
	CHECK_EQ(r.xid, 0x2002, "malformed AUTH_SYS: xid");
	CHECK_EQ(r.stat, MSG_DENIED, "malformed AUTH_SYS: denied");
	CHECK_EQ(r.detail, AUTH_ERROR, "malformed AUTH_SYS: AUTH_ERROR");
	CHECK_EQ(r.auth, AUTH_BADCRED, "malformed AUTH_SYS: AUTH_BADCRED");

	/* Too short to hold even uid and gid. */
	c.xid = 0x2003;
	c.credlen = 8;
	memset(body, 0, 8);
	CHECK(tcp_call(&c, &r), "short AUTH_SYS answered");
	CHECK_EQ(r.auth, AUTH_BADCRED, "short AUTH_SYS: AUTH_BADCRED");

	/* More than 16 groups. */
	c.xid = 0x2004;
	c.credlen = authsys_body(body, 0, 0);
	body[c.credlen - 8 + 3] = 17;
	CHECK(tcp_call(&c, &r), "AUTH_SYS with 17 groups answered");
	CHECK_EQ(r.auth, AUTH_BADCRED, "17 groups: AUTH_BADCRED");

	c = (struct call){ .xid = 0x2005, .prog = NFS_PROG, .vers = 3,
			   .flavor = 12345 };
	CHECK(tcp_call(&c, &r), "unknown flavor answered");
	CHECK_EQ(r.xid, 0x2005, "unknown flavor: xid");
	CHECK_EQ(r.stat, MSG_DENIED, "unknown flavor: denied");
	CHECK_EQ(r.detail, AUTH_ERROR, "unknown flavor: AUTH_ERROR");
	CHECK_EQ(r.auth, AUTH_BADCRED, "unknown flavor: AUTH_BADCRED");
}

static void test_dispatch_errors(void)
{
	struct call c = { .xid = 0x3001, .prog = 123456, .vers = 1 };
	struct reply r;
	uint8_t garbage[3] = { 1, 2, 3 };

	CHECK(tcp_call(&c, &r), "unknown program answered");
	CHECK_EQ(r.xid, 0x3001, "unknown program: xid");
	CHECK_EQ(r.stat, MSG_ACCEPTED, "unknown program: accepted");
	CHECK_EQ(r.detail, PROG_UNAVAIL, "unknown program: PROG_UNAVAIL");

	/* The tables serve NFS versions 3 and 4. */
	for (uint32_t v = 2; v <= 5; v += 3) {
		c = (struct call){ .xid = 0x3002 + v, .prog = NFS_PROG,
				   .vers = v };
		CHECK(tcp_call(&c, &r), "NFS v%u answered", v);
		CHECK_EQ(r.xid, 0x3002 + v, "NFS v%u: xid", v);
		CHECK_EQ(r.detail, PROG_MISMATCH, "NFS v%u: PROG_MISMATCH", v);
		CHECK_EQ(r.low, 3, "NFS v%u: low version", v);
		CHECK_EQ(r.high, 4, "NFS v%u: high version", v);
	}
	c = (struct call){ .xid = 0x3010, .prog = MOUNT_PROG, .vers = 4 };
	CHECK(tcp_call(&c, &r), "MOUNT v4 answered");
	CHECK_EQ(r.detail, PROG_MISMATCH, "MOUNT v4: PROG_MISMATCH");
	CHECK_EQ(r.high, 3, "MOUNT v4: high version 3");

	c = (struct call){ .xid = 0x3011, .prog = NFS_PROG, .vers = 3,
			   .proc = 99 };
	CHECK(tcp_call(&c, &r), "unknown procedure answered");
	CHECK_EQ(r.detail, PROC_UNAVAIL, "proc 99: PROC_UNAVAIL");

	c = (struct call){ .xid = 0x3012, .rpcvers = 3, .prog = NFS_PROG,
			   .vers = 3 };
	CHECK(tcp_call(&c, &r), "RPC version 3 answered");
	CHECK_EQ(r.xid, 0x3012, "rpcvers 3: xid");
	CHECK_EQ(r.stat, MSG_DENIED, "rpcvers 3: denied");
	CHECK_EQ(r.detail, RPC_MISMATCH, "rpcvers 3: RPC_MISMATCH");
	CHECK_EQ(r.low, 2, "rpcvers 3: low 2");
	CHECK_EQ(r.high, 2, "rpcvers 3: high 2");

	c = (struct call){ .xid = 0x3013, .prog = NFS_PROG, .vers = 3,
			   .proc = NFSPROC3_GETATTR, .args = garbage,
			   .argslen = 3 };
	CHECK(tcp_call(&c, &r), "GETATTR with 3 bytes answered");
	CHECK_EQ(r.xid, 0x3013, "garbage args: xid");
	CHECK_EQ(r.stat, MSG_ACCEPTED, "garbage args: accepted");
	CHECK_EQ(r.detail, GARBAGE_ARGS, "garbage args: GARBAGE_ARGS");
}

static void test_fragments(void)
{
	struct call c = { .xid = 0x4001, .prog = NFS_PROG, .vers = 3 };
	uint8_t buf[256];
	size_t len = build_call(buf, sizeof(buf), &c);
	int fd = connect_to(SOCK_STREAM);
	struct reply r;
	ssize_t n;

	CHECK(fd >= 0, "connected");
	/* 5 + 0 + 11 + rest bytes, in four fragments. */
	CHECK(send_frag(fd, buf, 5, false) && send_frag(fd, buf + 5, 0, false) &&
	      send_frag(fd, buf + 5, 11, false) &&
	      send_frag(fd, buf + 16, (uint32_t)len - 16, true),
	      "sent a call in four fragments");
	n = recv_record(fd, rbuf, sizeof(rbuf));
	CHECK(n > 0 && parse_reply(rbuf, (size_t)n, &r),
	      "multi-fragment call answered");
	check_success(&r, 0x4001, "multi-fragment");

	/* A message that is not a call is dropped; the connection lives. */
	buf[7] = 1; /* msg_type REPLY */
	CHECK(send_frag(fd, buf, (uint32_t)len, true), "sent a REPLY");
	buf[7] = 0;
	buf[3] = 2; /* xid 0x4002 */
	CHECK(send_frag(fd, buf, (uint32_t)len, true), "sent a NULL after it");
	n = recv_record(fd, rbuf, sizeof(rbuf));
	CHECK(n > 0 && parse_reply(rbuf, (size_t)n, &r),
	      "connection survives a non-call");
	CHECK_EQ(r.xid, 0x4002, "only the call is answered");
	close(fd);
}

static void test_bad_records(void)
{
	struct call c = { .xid = 0x5001, .prog = NFS_PROG, .vers = 3 };
	uint32_t huge = htonl(LAST_FRAG | (100u << 20));
	uint8_t buf[256];
	size_t len = build_call(buf, sizeof(buf), &c);
	struct reply r;
	int fd, other;
	ssize_t n;

	fd = connect_to(SOCK_STREAM);
	CHECK(send_all(fd, &huge, 4), "sent a 100 MiB fragment header");
	CHECK(closed_by_peer(fd), "oversized record: connection closed");
	close(fd);
	CHECK(tcp_call(&c, &r), "a new connection still works");
	check_success(&r, 0x5001, "after oversized");

	/* Half a record, then the client goes away. */
	fd = connect_to(SOCK_STREAM);
	huge = htonl(LAST_FRAG | 100);
	CHECK(send_all(fd, &huge, 4) && send_all(fd, buf, 50),
	      "sent half a record");
	/* Meanwhile another client is served. */
	c.xid = 0x5002;
	CHECK(tcp_call(&c, &r), "other clients served during a partial record");
	CHECK_EQ(r.xid, 0x5002, "xid while another record is partial");
	close(fd);
	c.xid = 0x5003;
	CHECK(tcp_call(&c, &r), "served after a truncated record");
	CHECK_EQ(r.xid, 0x5003, "xid after truncated record");

	/* A partial record completed later is answered. */
	fd = connect_to(SOCK_STREAM);
	other = connect_to(SOCK_STREAM);
	c.xid = 0x5004;
	len = build_call(buf, sizeof(buf), &c);
	huge = htonl(LAST_FRAG | (uint32_t)len);
	CHECK(send_all(fd, &huge, 4) && send_all(fd, buf, 10),
	      "sent the start of a record");
	usleep(100000);
	CHECK(send_all(fd, buf + 10, len - 10), "sent the rest");
	n = recv_record(fd, rbuf, sizeof(rbuf));
	CHECK(n > 0 && parse_reply(rbuf, (size_t)n, &r) && r.xid == 0x5004,
	      "slowly sent record answered");
	close(fd);
	close(other);

	/* An empty record is garbage: the connection is closed. */
	fd = connect_to(SOCK_STREAM);
	huge = htonl(LAST_FRAG);
	CHECK(send_all(fd, &huge, 4), "sent an empty record");
	CHECK(closed_by_peer(fd), "empty record: connection closed");
	close(fd);
	CHECK(tdaemon_alive(&d), "daemon still running");
}

/*
 * Many calls sent without reading any reply: the server stops reading
 * when too many are in flight and resumes as replies drain.  Every call
 * must be answered exactly once.
 */
static void test_pipeline(void)
{
	enum { N = 2000 };
	static uint8_t out[N * 64];
	static bool seen[N];
	struct call c = { .prog = NFS_PROG, .vers = 3 };
	struct reply r;
	size_t off = 0, len;
	int fd = connect_to(SOCK_STREAM), i, got = 0, dups = 0;
	ssize_t n;

	for (i = 0; i < N; i++) {
		uint32_t mark;

		c.xid = 0x100000 + (uint32_t)i;
		len = build_call(out + off + 4, sizeof(out) - off - 4, &c);
		mark = htonl(LAST_FRAG | (uint32_t)len);
		memcpy(out + off, &mark, 4);
		off += 4 + len;
	}
	CHECK(send_all(fd, out, off), "sent %d calls in one burst", N);
	for (i = 0; i < N; i++) {
		n = recv_record(fd, rbuf, sizeof(rbuf));
		if (n <= 0 || !parse_reply(rbuf, (size_t)n, &r))
			break;
		if (r.xid - 0x100000 < N) {
			if (seen[r.xid - 0x100000])
				dups++;
			seen[r.xid - 0x100000] = true;
			got++;
		}
	}
	CHECK_EQ(got, N, "every pipelined call answered");
	CHECK_EQ(dups, 0, "no call answered twice");
	close(fd);
}

static uint32_t mnt_status;

/* MNT "/export": the root handle, or 0 length (status in mnt_status). */
static uint32_t mount_root(uint8_t *fh)
{
	uint8_t args[64], body[400];
	char *path = "/export";
	struct call c = { .xid = 0x6001, .prog = MOUNT_PROG, .vers = 3,
			  .proc = MOUNTPROC3_MNT, .flavor = AUTH_SYS,
			  .cred = body, .args = args };
	struct reply r;
	uint32_t status, fhlen = 0;
	XDR x;

	c.credlen = authsys_body(body, 0, 0);
	xdrmem_create(&x, (char *)args, sizeof(args), XDR_ENCODE);
	if (!xdr_string(&x, &path, 1024))
		abort();
	c.argslen = xdr_getpos(&x);
	xdr_destroy(&x);
	mnt_status = 0xffffffff;
	if (!tcp_call(&c, &r) || r.detail != SUCCESS)
		return 0;
	xdrmem_create(&x, (char *)r.results, (u_int)r.resultslen, XDR_DECODE);
	if (xdr_uint32_t(&x, &status))
		mnt_status = status;
	if (status != 0 ||
	    !xdr_uint32_t(&x, &fhlen) || fhlen > 64 ||
	    !xdr_opaque(&x, (char *)fh, fhlen))
		fhlen = 0;
	xdr_destroy(&x);
	return fhlen;
}

static uint32_t nfs_status(const uint8_t *buf, size_t n)
{
	struct reply r;

	if (!parse_reply(buf, n, &r) || r.detail != SUCCESS ||
	    r.resultslen < 4)
		return 0xffffffff;
	return ntohl(*(const uint32_t *)r.results);
}

/*
 * REMOVE is not idempotent: a retransmission (same xid, same client) must
 * get the first reply again, not NFS3ERR_NOENT.
 */
static void test_drc(void)
{
	uint8_t fh[64], args[256], body[400], call[1024], first[512];
	char *name = "victim", *fhp = (char *)fh;
	struct call c = { .xid = 0x7001, .prog = NFS_PROG, .vers = 3,
			  .proc = NFSPROC3_REMOVE, .flavor = AUTH_SYS,
			  .cred = body, .args = args };
	uint32_t fhlen = mount_root(fh);
	ssize_t n1, n2, n3;
	size_t len;
	int fd;
	XDR x;

	CHECK(fhlen > 0, "MNT /export returned the root handle");
	if (!fhlen)
		return;
	CHECK(tfile_write(d.upper, "victim", "x\n") == 0, "made upper/victim");
	c.credlen = authsys_body(body, 0, 0);
	xdrmem_create(&x, (char *)args, sizeof(args), XDR_ENCODE);
	if (!xdr_bytes(&x, &fhp, &fhlen, 64) || !xdr_string(&x, &name, 255))
		abort();
	c.argslen = xdr_getpos(&x);
	xdr_destroy(&x);
	len = build_call(call, sizeof(call), &c);

	fd = connect_to(SOCK_STREAM);
	CHECK(send_frag(fd, call, (uint32_t)len, true), "sent REMOVE");
	n1 = recv_record(fd, first, sizeof(first));
	CHECK(n1 > 0, "REMOVE answered");
	CHECK_EQ(nfs_status(first, (size_t)n1), 0, "REMOVE: NFS3_OK");
	CHECK(send_frag(fd, call, (uint32_t)len, true),
	      "retransmitted REMOVE");
	n2 = recv_record(fd, rbuf, sizeof(rbuf));
	CHECK(n2 == n1 && memcmp(rbuf, first, (size_t)n1) == 0,
	      "retransmission gets the cached reply, byte for byte");
	{
		char *gone = tfile_read(d.upper, "victim");

		CHECK(gone == NULL, "upper/victim is gone");
		free(gone);
	}

	/* A new xid is a new request: the file is gone now. */
	call[3] = 0x02;
	CHECK(send_frag(fd, call, (uint32_t)len, true), "REMOVE, new xid");
	n3 = recv_record(fd, rbuf, sizeof(rbuf));
	CHECK(n3 > 0, "new REMOVE answered");
	CHECK_EQ(nfs_status(rbuf, (size_t)n3), 2, "new xid: NFS3ERR_NOENT");
	close(fd);
}

/* ---- SIGHUP ------------------------------------------------------------ */

static void write_reload_conf(const char *path, const char *clients)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fprintf(f,
		"listen 127.0.0.1:0\n"
		"catalog \"%s\"\n"
		"export \"/export\" {\n"
		"\tlower \"%s\"\n"
		"\tupper \"%s\"\n"
		"\twork \"%s\"\n"
		"\tclients \"%s\"\n"
		"}\n",
		d.catalog, d.lower, d.upper, d.work, clients);
	if (fclose(f) != 0)
		abort();
}

/* Wait until reload.log holds `what` n times (5 s at most). */
static bool wait_log(const char *what, int n)
{
	for (int i = 0; i < 500; i++) {
		char *text = tfile_read(d.dir, "reload.log"), *p = text;
		int found = 0;

		while (p && (p = strstr(p, what)) != NULL) {
			found++;
			p += strlen(what);
		}
		if (found >= n && text) {
			const char *port = strstr(text, "listening on 127.0.0.1:");

			if (port && d.port == 0)
				d.port = atoi(port + 23);
			free(text);
			return true;
		}
		free(text);
		usleep(10000);
	}
	return false;
}

static uint32_t getattr_status(const uint8_t *fh, uint32_t fhlen)
{
	uint8_t args[128], body[400];
	char *fhp = (char *)(uintptr_t)fh;
	struct call c = { .xid = 0x8001, .prog = NFS_PROG, .vers = 3,
			  .proc = NFSPROC3_GETATTR, .flavor = AUTH_SYS,
			  .cred = body, .args = args };
	struct reply r;
	XDR x;

	c.credlen = authsys_body(body, 0, 0);
	xdrmem_create(&x, (char *)args, sizeof(args), XDR_ENCODE);
	if (!xdr_bytes(&x, &fhp, &fhlen, 64))
		abort();
	c.argslen = xdr_getpos(&x);
	xdr_destroy(&x);
	if (!tcp_call(&c, &r) || r.detail != SUCCESS || r.resultslen < 4)
		return 0xffffffff;
	return ntohl(*(const uint32_t *)r.results);
}

/*
 * SIGHUP re-reads the file: new client rules apply at once, and a handle
 * of an export whose layers did not change keeps working.
 */
static void test_reload(void)
{
	char conf[400], log[400];
	const char *bin = getenv("UNIONNFSD");
	uint8_t fh[64];
	uint32_t fhlen;
	int status;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/reload.conf", d.dir);
	snprintf(log, sizeof(log), "%s/reload.log", d.dir);
	write_reload_conf(conf, "10.0.0.0/8(rw)");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (!freopen(log, "w", stderr))
			_exit(127);
		bin = bin && *bin ? bin : "./unionnfsd";
		execl(bin, bin, "-f", "-c", conf, (char *)NULL);
		_exit(127);
	}
	d.port = 0;
	CHECK(wait_log("listening on", 1) && d.port > 0,
	      "daemon with a configuration file started");
	if (d.port == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	fhlen = mount_root(fh);
	CHECK_EQ(mnt_status, 13, "10.0.0.0/8 only: MNT3ERR_ACCES");

	write_reload_conf(conf, "127.0.0.0/8(rw)");
	kill(pid, SIGHUP);
	CHECK(wait_log("reloaded configuration", 1), "reloaded");
	fhlen = mount_root(fh);
	CHECK_EQ(mnt_status, 0, "after SIGHUP: 127.0.0.0/8 may mount");
	CHECK(fhlen > 0, "root handle");

	write_reload_conf(conf, "127.0.0.1(ro)");
	kill(pid, SIGHUP);
	CHECK(wait_log("reloaded configuration", 2), "reloaded again");
	CHECK_EQ(getattr_status(fh, fhlen), 0,
		 "the handle from before the reload still works");

	write_reload_conf(conf, "127.0.0.1(bogus)");
	kill(pid, SIGHUP);
	CHECK(wait_log("keeping the running one", 1),
	      "a bad file is refused");
	CHECK_EQ(getattr_status(fh, fhlen), 0, "and the old rules stay");

	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "SIGTERM: exit 0");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (tdaemon_init(&d, "rpc") < 0 || tdaemon_start(&d) < 0) {
		printf("Bail out! cannot start unionnfsd\n");
		tdaemon_cleanup(&d);
		return 99;
	}
	test_null();
	test_auth_sys();
	test_dispatch_errors();
	test_fragments();
	test_bad_records();
	test_pipeline();
	test_drc();
	CHECK(tdaemon_alive(&d), "daemon survived everything");
	CHECK_EQ(tdaemon_stop(&d), 0, "SIGTERM: exit status 0");
	test_reload();
	tdaemon_cleanup(&d);
	return tap_done();
}
