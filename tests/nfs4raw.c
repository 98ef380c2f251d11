/*
 * nfs4raw.c - raw NFSv4 COMPOUNDs for the C tests (see nfs4raw.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nfs4raw.h"

#define NFS_PROG 100003
#define LAST_FRAG 0x80000000u

int nfs4_sock = -1;
static uint32_t next_xid = 0x4000;

/* Encoding into a fixed buffer only fails when a test overflows it. */
void put32(XDR *x, uint32_t v)
{
	if (!xdr_uint32_t(x, &v))
		abort();
}

void put64(XDR *x, uint64_t v)
{
	if (!xdr_uint64_t(x, &v))
		abort();
}

void putbytes(XDR *x, const void *p, u_int n)
{
	char *cp = (char *)(uintptr_t)p;

	if (!xdr_bytes(x, &cp, &n, n))
		abort();
}

void put_sid(XDR *x, const struct sid *s)
{
	put32(x, s->seqid);
	if (!xdr_opaque(x, (char *)(uintptr_t)s->other, 12))
		abort();
}

void comp_begin(struct comp *c, const char *tag, uint32_t minor)
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

void comp_op(struct comp *c, uint32_t op)
{
	*c->nops = htonl(ntohl(*c->nops) + 1);
	put32(&c->x, op);
}

void putfh(struct comp *c, const struct fh *fh)
{
	comp_op(c, OP_PUTFH);
	putbytes(&c->x, fh->data, fh->len);
}

static bool recv_all(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(nfs4_sock, p, len, 0);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Call; the reply goes to buf (cap bytes), r->x decodes it. */
bool comp_call_buf(struct comp *c, struct res *r, uint8_t *buf, size_t cap)
{
	uint32_t mark = htonl(LAST_FRAG | xdr_getpos(&c->x)), len, w[6];
	u_int taglen;
	char *tp = r->tag;

	memset(r->tag, 0, sizeof(r->tag));
	if (send(nfs4_sock, &mark, 4, MSG_NOSIGNAL) != 4 ||
	    send(nfs4_sock, c->buf, xdr_getpos(&c->x), MSG_NOSIGNAL) !=
		    (ssize_t)xdr_getpos(&c->x))
		return false;
	xdr_destroy(&c->x);
	if (!recv_all(&mark, 4))
		return false;
	len = ntohl(mark) & ~LAST_FRAG;
	if (len > cap || !recv_all(buf, len))
		return false;
	r->len = len;
	xdrmem_create(&r->x, (char *)buf, len, XDR_DECODE);
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

bool comp_call(struct comp *c, struct res *r)
{
	return comp_call_buf(c, r, r->buf, sizeof(r->buf));
}

/* A short reply reads as 0xdeadbeef (64-bit: 0), which no check expects. */
uint32_t get32(struct res *r)
{
	uint32_t v = 0xdeadbeef;

	(void)xdr_uint32_t(&r->x, &v);
	return v;
}

uint64_t get64(struct res *r)
{
	uint64_t v = 0;

	(void)xdr_uint64_t(&r->x, &v);
	return v;
}

u_int getbytes(struct res *r, void *buf, u_int max)
{
	char *p = buf;
	u_int n = 0;

	if (!xdr_bytes(&r->x, &p, &n, max))
		return 0;
	return n;
}

void get_sid(struct res *r, struct sid *s)
{
	s->seqid = get32(r);
	if (!xdr_opaque(&r->x, (char *)s->other, 12))
		memset(s->other, 0, 12);
}

/* The status of the next result, which must be op's. */
uint32_t next_result(struct res *r, uint32_t op)
{
	uint32_t got = get32(r);

	if (got != op)
		return 0xdeadbeef;
	return get32(r);
}

uint32_t putfh_op_call(struct comp *c, struct res *r, uint32_t op)
{
	if (!comp_call(c, r))
		return 0xdeadbeef;
	next_result(r, OP_PUTFH);
	return next_result(r, op);
}

/* SETCLIENTID + SETCLIENTID_CONFIRM for the client called name; 0 on
 * failure. */
uint64_t client40(const char *name)
{
	struct comp c;
	struct res r;
	uint64_t clientid;
	uint8_t confirm[8];

	comp_begin(&c, "", 0);
	comp_op(&c, OP_SETCLIENTID);
	put64(&c.x, 0x1234); /* verifier */
	putbytes(&c.x, name, (u_int)strlen(name));
	put32(&c.x, 0x40000000);
	putbytes(&c.x, "tcp", 3);
	putbytes(&c.x, "127.0.0.1.0.0", 13);
	put32(&c.x, 1);
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return 0;
	next_result(&r, OP_SETCLIENTID);
	clientid = get64(&r);
	if (!xdr_opaque(&r.x, (char *)confirm, 8))
		return 0;
	comp_begin(&c, "", 0);
	comp_op(&c, OP_SETCLIENTID_CONFIRM);
	put64(&c.x, clientid);
	if (!xdr_opaque(&c.x, (char *)confirm, 8))
		abort();
	if (!comp_call(&c, &r) || r.status != NFS4_OK)
		return 0;
	return clientid;
}

/* PUTROOTFH LOOKUP(export) OPEN GETFH.  Returns OPEN's status; on
 * success *sid and *fh; r keeps the whole reply. */
uint32_t open40(const struct open_req *o, struct sid *sid, struct fh *fh,
		struct res *r)
{
	struct comp c;
	uint32_t st, n;

	comp_begin(&c, "open", 0);
	comp_op(&c, OP_PUTROOTFH);
	comp_op(&c, OP_LOOKUP);
	putbytes(&c.x, "export", 6);
	comp_op(&c, OP_OPEN);
	put32(&c.x, o->seqid);
	put32(&c.x, o->access);
	put32(&c.x, o->deny);
	put64(&c.x, o->clientid);
	putbytes(&c.x, o->owner, (u_int)strlen(o->owner));
	put32(&c.x, o->create);
	if (o->create) {
		put32(&c.x, 0); /* UNCHECKED4, no attributes */
		put32(&c.x, 0);
		put32(&c.x, 0);
	}
	put32(&c.x, 0); /* CLAIM_NULL */
	putbytes(&c.x, o->name, (u_int)strlen(o->name));
	comp_op(&c, OP_GETFH);
	if (!comp_call(&c, r))
		return 0xdeadbeef;
	next_result(r, OP_PUTROOTFH);
	next_result(r, OP_LOOKUP);
	st = next_result(r, OP_OPEN);
	if (st != NFS4_OK)
		return st;
	get_sid(r, sid);
	get32(r), get64(r), get64(r); /* change_info4 */
	get32(r);		      /* rflags */
	for (n = get32(r); n > 0 && n < 8; n--)
		get32(r);
	get32(r); /* OPEN_DELEGATE_NONE */
	if (next_result(r, OP_GETFH) != NFS4_OK)
		return 0xdeadbeef;
	fh->len = getbytes(r, fh->data, sizeof(fh->data));
	return st;
}

uint32_t close40(const struct fh *fh, const struct sid *sid, uint32_t seqid)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "close", 0);
	putfh(&c, fh);
	comp_op(&c, OP_CLOSE);
	put32(&c.x, seqid);
	put_sid(&c.x, sid);
	return putfh_op_call(&c, &r, OP_CLOSE);
}
