/*
 * tls_test.c - RPC-with-TLS (RFC 9289) against a real daemon.
 *
 * The test makes its own CA, a server certificate, a client certificate
 * from that CA and one from another CA (GnuTLS's X.509 API, ECDSA keys),
 * starts unionnfsd with three exports: /export (any transport, from the
 * command line), /tls (xprtsec=tls:mtls) and /mtls (xprtsec=mtls), and
 * talks raw RPC: the AUTH_TLS probe, the handshake with ALPN "sunrpc",
 * then MOUNT and NFSv3 calls inside the session, and the refusals
 * (NFS3ERR_ACCES, and NFS4ERR_WRONGSEC for an NFSv4 COMPOUND).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <rpc/rpc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "daemon.h"
#include "tap.h"

#define NFS_PROG 100003
#define MOUNT_PROG 100005
#define AUTH_TLS_FLAVOR 7
#define NFSPROC3_GETATTR 1
#define NFSPROC3_LOOKUP 3
#define NFSPROC3_READ 6
#define NFSPROC3_WRITE 7
#define MOUNTPROC3_MNT 1
#define NFS3ERR_ACCES 13
#define LAST_FRAG 0x80000000u
#define BIG (256u << 10)

static struct tdaemon d;

/* ---- a throwaway PKI -------------------------------------------------- */

struct ident {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
};

static int make_ident(struct ident *id, const char *cn, const struct ident *ca,
		      bool is_ca, bool server)
{
	static unsigned serial = 1;
	unsigned char ser[4];
	time_t now = time(NULL);

	if (gnutls_x509_privkey_init(&id->key) < 0 ||
	    gnutls_x509_privkey_generate(id->key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(
						 GNUTLS_ECC_CURVE_SECP256R1),
					 0) < 0 ||
	    gnutls_x509_crt_init(&id->crt) < 0)
		return -1;
	ser[0] = 0;
	ser[1] = 0;
	ser[2] = 0;
	ser[3] = (unsigned char)serial++;
	if (gnutls_x509_crt_set_version(id->crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(id->crt, ser, sizeof(ser)) < 0 ||
	    gnutls_x509_crt_set_activation_time(id->crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(id->crt, now + 86400) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(id->crt, GNUTLS_OID_X520_COMMON_NAME,
					  0, cn, (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crt_set_key(id->crt, id->key) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(id->crt, is_ca, -1) < 0)
		return -1;
	if (is_ca) {
		if (gnutls_x509_crt_set_key_usage(id->crt,
						  GNUTLS_KEY_KEY_CERT_SIGN) < 0)
			return -1;
	} else {
		if (gnutls_x509_crt_set_key_usage(
			    id->crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
		    gnutls_x509_crt_set_key_purpose_oid(
			    id->crt,
			    server ? GNUTLS_KP_TLS_WWW_SERVER
				   : GNUTLS_KP_TLS_WWW_CLIENT,
			    0) < 0)
			return -1;
		if (server &&
		    (gnutls_x509_crt_set_subject_alt_name(
			     id->crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
			     GNUTLS_FSAN_SET) < 0 ||
		     gnutls_x509_crt_set_subject_alt_name(
			     id->crt, GNUTLS_SAN_IPADDRESS,
			     "\x7f\x00\x00\x01", 4, GNUTLS_FSAN_APPEND) < 0))
			return -1;
	}
	if (!ca)
		ca = id;
	return gnutls_x509_crt_sign2(id->crt, ca->crt, ca->key,
				     GNUTLS_DIG_SHA256, 0) < 0 ? -1 : 0;
}

static void free_ident(struct ident *id)
{
	gnutls_x509_crt_deinit(id->crt);
	gnutls_x509_privkey_deinit(id->key);
}

static int write_pem(const char *path, const gnutls_datum_t *pem)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -1;
	if (fwrite(pem->data, 1, pem->size, f) != pem->size)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static int save_ident(const struct ident *id, const char *crtpath,
		      const char *keypath)
{
	gnutls_datum_t pem = { NULL, 0 };
	int rc;

	if (gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
		return -1;
	rc = write_pem(crtpath, &pem);
	gnutls_free(pem.data);
	if (rc < 0 || !keypath)
		return rc;
	if (gnutls_x509_privkey_export2(id->key, GNUTLS_X509_FMT_PEM, &pem) < 0)
		return -1;
	rc = write_pem(keypath, &pem);
	gnutls_free(pem.data);
	return rc;
}

/* forger: a CA with our CA's name but another key; stranger: a CA
 * with a name of its own, which our CertificateRequest does not list. */
static struct ident ca, forger_ca, stranger_ca, server, client, forged,
	stranger;
static char ca_pem[400];

static int make_pki(void)
{
	char a[400], b[400];

	if (make_ident(&ca, "unionnfsd test CA", NULL, true, false) < 0 ||
	    make_ident(&forger_ca, "unionnfsd test CA", NULL, true, false) < 0 ||
	    make_ident(&stranger_ca, "some other CA", NULL, true, false) < 0 ||
	    make_ident(&server, "localhost", &ca, false, true) < 0 ||
	    make_ident(&client, "client-a", &ca, false, false) < 0 ||
	    make_ident(&forged, "client-b", &forger_ca, false, false) < 0 ||
	    make_ident(&stranger, "client-c", &stranger_ca, false, false) < 0)
		return -1;
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", d.dir);
	snprintf(a, sizeof(a), "%s/server.pem", d.dir);
	snprintf(b, sizeof(b), "%s/server.key", d.dir);
	return save_ident(&ca, ca_pem, NULL) < 0 ||
			       save_ident(&server, a, b) < 0
		       ? -1
		       : 0;
}

/* ---- the daemon ------------------------------------------------------- */

static int write_config(void)
{
	char path[400], text[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/unionnfsd.conf", d.dir);
	snprintf(text, sizeof(text),
		 "tls-certificate \"%s/server.pem\"\n"
		 "tls-key \"%s/server.key\"\n"
		 "tls-ca \"%s\"\n"
		 "export \"/tls\" {\n"
		 "\tlower \"%s/tls-lower\"\n"
		 "\tupper \"%s/tls-upper\"\n"
		 "\twork \"%s/tls-work\"\n"
		 "\tclients \"127.0.0.0/8(rw,no_root_squash,xprtsec=tls:mtls)\"\n"
		 "}\n"
		 "export \"/mtls\" {\n"
		 "\tlower \"%s/mtls-lower\"\n"
		 "\tclients \"127.0.0.0/8(ro,xprtsec=mtls)\"\n"
		 "}\n",
		 d.dir, d.dir, ca_pem, d.dir, d.dir, d.dir, d.dir);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return -1;
	d.config = strdup(path);
	return d.config ? 0 : -1;
}

static int make_layers(void)
{
	static const char *const dirs[] = { "tls-lower", "tls-upper",
					    "tls-work", "mtls-lower" };
	char path[400];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", d.dir, dirs[i]);
		if (mkdir(path, 0755) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/tls-lower", d.dir);
	if (tfile_write(path, "data", "lower data\n") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/mtls-lower", d.dir);
	if (tfile_write(path, "secret", "for certified clients\n") < 0)
		return -1;
	return tfile_write(d.lower, "plain", "plaintext is fine here\n");
}

/* ---- the wire: one connection, plaintext or TLS ----------------------- */

struct wire {
	int fd;
	gnutls_session_t tls; /* NULL: plaintext */
	gnutls_certificate_credentials_t cred;
	int err; /* last GnuTLS error */
};

static int connect_tcp(void)
{
	int fd = tconnect(d.port, SOCK_STREAM, 10), one = 1;

	/* A handshake is several small writes: no Nagle wait between. */
	if (fd >= 0 &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool wire_send(struct wire *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		if (w->tls)
			n = gnutls_record_send(w->tls, p, len);
		else
			n = send(w->fd, p, len, MSG_NOSIGNAL);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0) {
			w->err = (int)n;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool wire_recv(struct wire *w, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		if (w->tls)
			n = gnutls_record_recv(w->tls, p, len);
		else
			n = recv(w->fd, p, len, 0);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0) {
			w->err = (int)n;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* One record out (a single fragment), one record back (malloc'd). */
static uint8_t *rpc(struct wire *w, const uint8_t *call, size_t len,
		    size_t *rlen)
{
	uint32_t mark = htonl(LAST_FRAG | (uint32_t)len), hdr;
	uint8_t *rec = NULL, *n;
	size_t have = 0, frag;

	if (!wire_send(w, &mark, 4) || !wire_send(w, call, len))
		return NULL;
	do {
		if (!wire_recv(w, &hdr, 4))
			goto fail;
		hdr = ntohl(hdr);
		frag = hdr & ~LAST_FRAG;
		n = realloc(rec, have + frag + 1);
		if (!n)
			goto fail;
		rec = n;
		if (!wire_recv(w, rec + have, frag))
			goto fail;
		have += frag;
	} while (!(hdr & LAST_FRAG));
	*rlen = have;
	return rec;
fail:
	free(rec);
	return NULL;
}

/* ---- calls ------------------------------------------------------------ */

static uint32_t next_xid = 0x7e500000;

struct msg {
	uint8_t buf[BIG + 1024];
	XDR x;
};

static void put32(XDR *x, uint32_t v)
{
	if (!xdr_uint32_t(x, &v))
		abort();
}

/* Call header with AUTH_SYS root (or flavor with an empty body). */
static void begin_call(struct msg *m, uint32_t prog, uint32_t vers,
		       uint32_t proc, uint32_t flavor)
{
	char *name = "tlstest";
	uint32_t zero = 0;

	xdrmem_create(&m->x, (char *)m->buf, sizeof(m->buf), XDR_ENCODE);
	put32(&m->x, next_xid++);
	put32(&m->x, CALL);
	put32(&m->x, 2);
	put32(&m->x, prog);
	put32(&m->x, vers);
	put32(&m->x, proc);
	put32(&m->x, flavor);
	if (flavor == AUTH_SYS) {
		put32(&m->x, 4 + 4 + 8 + 4 + 4 + 4);
		put32(&m->x, 1);
		if (!xdr_string(&m->x, &name, 255))
			abort();
		put32(&m->x, 0);
		put32(&m->x, 0);
		put32(&m->x, 0);
	} else {
		put32(&m->x, 0);
	}
	put32(&m->x, AUTH_NONE);
	put32(&m->x, zero);
}

struct reply {
	uint8_t *rec;
	size_t len;
	XDR x;
	uint32_t reply_stat, verf_flavor, verf_len, accept_stat, auth_stat;
	char verf[9];
};

static void reply_free(struct reply *r)
{
	if (r->rec)
		xdr_destroy(&r->x);
	free(r->rec);
	memset(r, 0, sizeof(*r));
}

/* Send m, decode the reply header; false if no reply came. */
static bool call(struct wire *w, struct msg *m, struct reply *r)
{
	uint32_t xid, type;

	memset(r, 0, sizeof(*r));
	r->rec = rpc(w, m->buf, xdr_getpos(&m->x), &r->len);
	xdr_destroy(&m->x);
	if (!r->rec)
		return false;
	xdrmem_create(&r->x, (char *)r->rec, (u_int)r->len, XDR_DECODE);
	if (!xdr_uint32_t(&r->x, &xid) || !xdr_uint32_t(&r->x, &type) ||
	    !xdr_uint32_t(&r->x, &r->reply_stat))
		return false;
	if (r->reply_stat != MSG_ACCEPTED) {
		uint32_t rs;

		return xdr_uint32_t(&r->x, &rs) &&
		       xdr_uint32_t(&r->x, &r->auth_stat);
	}
	if (!xdr_uint32_t(&r->x, &r->verf_flavor) ||
	    !xdr_uint32_t(&r->x, &r->verf_len) || r->verf_len > 8 ||
	    (r->verf_len && !xdr_opaque(&r->x, r->verf, r->verf_len)))
		return false;
	return xdr_uint32_t(&r->x, &r->accept_stat);
}

static uint32_t get32(struct reply *r)
{
	uint32_t v = UINT32_MAX;

	(void)xdr_uint32_t(&r->x, &v);
	return v;
}

struct fh {
	uint32_t len;
	char data[64];
};

static bool get_fh(struct reply *r, struct fh *fh)
{
	return xdr_uint32_t(&r->x, &fh->len) && fh->len <= 64 &&
	       xdr_opaque(&r->x, fh->data, fh->len);
}

static void put_fh(XDR *x, const struct fh *fh)
{
	uint32_t len = fh->len;

	if (!xdr_uint32_t(x, &len) || !xdr_opaque(x, (char *)fh->data, len))
		abort();
}

/* Skip a post_op_attr (or pre_op_attr with its size). */
static void skip_attr(struct reply *r, unsigned size)
{
	if (get32(r))
		xdr_setpos(&r->x, xdr_getpos(&r->x) + size);
}

/* ---- the probe and the handshake -------------------------------------- */

static bool probe(struct wire *w, struct reply *r)
{
	struct msg *m = malloc(sizeof(*m));
	bool ok;

	begin_call(m, NFS_PROG, 3, 0, AUTH_TLS_FLAVOR);
	ok = call(w, m, r);
	free(m);
	return ok;
}

static bool said_starttls(const struct reply *r)
{
	return r->reply_stat == MSG_ACCEPTED && r->verf_flavor == AUTH_NONE &&
	       r->verf_len == 8 && memcmp(r->verf, "STARTTLS", 8) == 0 &&
	       r->accept_stat == SUCCESS;
}

/* TLS 1.3, trusting our CA, offering ALPN alpn (NULL: no ALPN); with
 * id's certificate if any. */
static int start_tls(struct wire *w, const struct ident *id, const char *alpn)
{
	gnutls_datum_t offer = { (unsigned char *)alpn,
				 alpn ? (unsigned)strlen(alpn) : 0 };
	gnutls_datum_t proto = { NULL, 0 };
	int rc;

	if (gnutls_certificate_allocate_credentials(&w->cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(w->cred, ca_pem,
						   GNUTLS_X509_FMT_PEM) != 1)
		return -1;
	if (id && gnutls_certificate_set_x509_key(w->cred,
						  (gnutls_x509_crt_t *)&id->crt,
						  1, id->key) < 0)
		return -1;
	if (gnutls_init(&w->tls, GNUTLS_CLIENT) < 0 ||
	    gnutls_priority_set_direct(w->tls, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
				       NULL) < 0 ||
	    gnutls_credentials_set(w->tls, GNUTLS_CRD_CERTIFICATE, w->cred) < 0 ||
	    gnutls_server_name_set(w->tls, GNUTLS_NAME_DNS, "localhost", 9) < 0)
		return -1;
	if (alpn && gnutls_alpn_set_protocols(w->tls, &offer, 1, 0) < 0)
		return -1;
	gnutls_session_set_verify_cert(w->tls, "localhost", 0);
	gnutls_transport_set_int(w->tls, w->fd);
	do
		rc = gnutls_handshake(w->tls);
	while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
	w->err = rc;
	if (rc < 0)
		return -1;
	if (alpn && (gnutls_alpn_get_selected_protocol(w->tls, &proto) < 0 ||
		     proto.size != 6 || memcmp(proto.data, "sunrpc", 6) != 0))
		return -2;
	return 0;
}

static void wire_close(struct wire *w)
{
	if (w->tls)
		gnutls_deinit(w->tls);
	if (w->cred)
		gnutls_certificate_free_credentials(w->cred);
	if (w->fd >= 0)
		close(w->fd);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

/* Connect, probe, handshake: a TLS wire, or fd -1. */
static struct wire tls_wire(const struct ident *id)
{
	struct wire w = { .fd = connect_tcp() };
	struct reply r;

	if (w.fd < 0 || !probe(&w, &r) || !said_starttls(&r) ||
	    start_tls(&w, id, "sunrpc") < 0) {
		reply_free(&r);
		wire_close(&w);
		return w;
	}
	reply_free(&r);
	return w;
}

/* ---- NFS calls -------------------------------------------------------- */

/* MNT: the status, and the handle when 0. */
static uint32_t mnt(struct wire *w, const char *path, struct fh *fh)
{
	struct msg *m = malloc(sizeof(*m));
	struct reply r;
	uint32_t st = UINT32_MAX;

	begin_call(m, MOUNT_PROG, 3, MOUNTPROC3_MNT, AUTH_SYS);
	if (!xdr_string(&m->x, (char **)&path, 1024))
		abort();
	if (call(w, m, &r) && r.reply_stat == MSG_ACCEPTED &&
	    r.accept_stat == SUCCESS) {
		st = get32(&r);
		if (st == 0 && !get_fh(&r, fh))
			st = UINT32_MAX;
	}
	reply_free(&r);
	free(m);
	return st;
}

/* An NFSv3 call on one handle: the reply positioned after the status. */
static uint32_t nfs3(struct wire *w, uint32_t proc, const struct fh *fh,
		     struct msg *m, struct reply *r)
{
	if (!call(w, m, r) || r->reply_stat != MSG_ACCEPTED ||
	    r->accept_stat != SUCCESS)
		return UINT32_MAX;
	return get32(r);
}

static uint32_t getattr(struct wire *w, const struct fh *fh)
{
	struct msg *m = malloc(sizeof(*m));
	struct reply r;
	uint32_t st;

	begin_call(m, NFS_PROG, 3, NFSPROC3_GETATTR, AUTH_SYS);
	put_fh(&m->x, fh);
	st = nfs3(w, NFSPROC3_GETATTR, fh, m, &r);
	reply_free(&r);
	free(m);
	return st;
}

static uint32_t lookup(struct wire *w, const struct fh *dir, const char *name,
		       struct fh *out)
{
	struct msg *m = malloc(sizeof(*m));
	struct reply r;
	uint32_t st;

	begin_call(m, NFS_PROG, 3, NFSPROC3_LOOKUP, AUTH_SYS);
	put_fh(&m->x, dir);
	if (!xdr_string(&m->x, (char **)&name, 255))
		abort();
	st = nfs3(w, NFSPROC3_LOOKUP, dir, m, &r);
	if (st == 0 && !get_fh(&r, out))
		st = UINT32_MAX;
	reply_free(&r);
	free(m);
	return st;
}

/* READ count bytes at 0 into buf; *got says how many came. */
static uint32_t read3(struct wire *w, const struct fh *fh, uint32_t count,
		      uint8_t *buf, uint32_t *got)
{
	struct msg *m = malloc(sizeof(*m));
	uint64_t off = 0;
	struct reply r;
	uint32_t st;

	begin_call(m, NFS_PROG, 3, NFSPROC3_READ, AUTH_SYS);
	put_fh(&m->x, fh);
	if (!xdr_uint64_t(&m->x, &off))
		abort();
	put32(&m->x, count);
	st = nfs3(w, NFSPROC3_READ, fh, m, &r);
	*got = 0;
	if (st == 0) {
		skip_attr(&r, 84);
		(void)get32(&r); /* count */
		(void)get32(&r); /* eof */
		if (!xdr_uint32_t(&r.x, got) || *got > count ||
		    !xdr_opaque(&r.x, (char *)buf, *got))
			st = UINT32_MAX;
	}
	reply_free(&r);
	free(m);
	return st;
}

/* WRITE FILE_SYNC at 0; *count says how many the server took. */
static uint32_t write3(struct wire *w, const struct fh *fh, const uint8_t *buf,
		       uint32_t len, uint32_t *count)
{
	struct msg *m = malloc(sizeof(*m));
	uint64_t off = 0;
	struct reply r;
	uint32_t st;

	begin_call(m, NFS_PROG, 3, NFSPROC3_WRITE, AUTH_SYS);
	put_fh(&m->x, fh);
	if (!xdr_uint64_t(&m->x, &off))
		abort();
	put32(&m->x, len);
	put32(&m->x, 2); /* FILE_SYNC */
	put32(&m->x, len);
	if (!xdr_opaque(&m->x, (char *)buf, len))
		abort();
	st = nfs3(w, NFSPROC3_WRITE, fh, m, &r);
	*count = 0;
	if (st == 0) {
		skip_attr(&r, 24);
		skip_attr(&r, 84);
		*count = get32(&r);
	}
	reply_free(&r);
	free(m);
	return st;
}

static bool null_ok(struct wire *w)
{
	struct msg *m = malloc(sizeof(*m));
	struct reply r;
	bool ok;

	begin_call(m, NFS_PROG, 3, 0, AUTH_SYS);
	ok = call(w, m, &r) && r.reply_stat == MSG_ACCEPTED &&
	     r.accept_stat == SUCCESS && r.verf_len == 0;
	reply_free(&r);
	free(m);
	return ok;
}

/* ---- the tests -------------------------------------------------------- */

static void test_probe_replies(void)
{
	struct wire w = { .fd = connect_tcp() };
	struct msg *m = malloc(sizeof(*m));
	struct reply r;

	CHECK(w.fd >= 0, "connect");
	CHECK(probe(&w, &r) && said_starttls(&r),
	      "AUTH_TLS probe: MSG_ACCEPTED, SUCCESS, verifier AUTH_NONE "
	      "\"STARTTLS\"");
	reply_free(&r);
	CHECK(start_tls(&w, NULL, "sunrpc") == 0,
	      "TLS 1.3 handshake with ALPN sunrpc on the same connection (%s)",
	      gnutls_strerror(w.err));
	CHECK(null_ok(&w), "NULL inside TLS");
	CHECK(probe(&w, &r) && r.reply_stat == MSG_ACCEPTED &&
		      r.accept_stat == SUCCESS && r.verf_len == 0,
	      "a second probe inside TLS: accepted without STARTTLS");
	reply_free(&r);
	wire_close(&w);

	w.fd = connect_tcp();
	begin_call(m, NFS_PROG, 3, NFSPROC3_GETATTR, AUTH_TLS_FLAVOR);
	CHECK(call(&w, m, &r) && r.reply_stat == MSG_DENIED &&
		      r.auth_stat == AUTH_BADCRED,
	      "AUTH_TLS on a procedure other than NULL: AUTH_BADCRED");
	reply_free(&r);
	CHECK(null_ok(&w), "that connection stays plaintext and usable");
	wire_close(&w);
	free(m);
}

static void test_tls_rw(void)
{
	struct wire w = tls_wire(NULL);
	struct fh root, fh;
	uint8_t *big = malloc(BIG), *back = malloc(BIG);
	uint32_t n, i;

	CHECK(w.fd >= 0, "TLS without a client certificate (%s)",
	      gnutls_strerror(w.err));
	if (w.fd < 0)
		goto out;
	CHECK_EQ(mnt(&w, "/tls", &root), 0, "MNT /tls inside TLS");
	CHECK_EQ(getattr(&w, &root), 0, "GETATTR on xprtsec=tls:mtls over TLS");
	CHECK_EQ(lookup(&w, &root, "data", &fh), 0, "LOOKUP data");
	CHECK_EQ(read3(&w, &fh, 4096, back, &n), 0, "READ");
	CHECK(n == 11 && memcmp(back, "lower data\n", 11) == 0,
	      "READ inside TLS returns the lower layer's bytes");
	for (i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	CHECK_EQ(write3(&w, &fh, big, BIG, &n), 0,
		 "WRITE of 256 KiB inside TLS (copy-up)");
	CHECK_EQ(n, BIG, "all of it written");
	CHECK_EQ(read3(&w, &fh, BIG, back, &n), 0, "READ of 256 KiB back");
	CHECK(n == BIG && memcmp(big, back, BIG) == 0,
	      "the 256 KiB come back intact through TLS");
	CHECK_EQ(mnt(&w, "/mtls", &root), 0,
		 "MNT /mtls is answered (MOUNT is not checked, as knfsd)");
	CHECK_EQ(getattr(&w, &root), NFS3ERR_ACCES,
		 "GETATTR on xprtsec=mtls without a client certificate: "
		 "NFS3ERR_ACCES");
	CHECK(null_ok(&w), "the session goes on after the refusal");
out:
	wire_close(&w);
	free(big);
	free(back);
}

/*
 * Many READs in flight on one session: workers send replies through it
 * while the loop thread receives, and more than the connection's limit
 * in flight pauses reading, which must resume inside TLS.  A thread
 * sends while the main one reads (GnuTLS allows one of each).
 */
#define PIPELINED 200
#define PIPE_READ (64u << 10)

struct pipeline {
	struct wire *w;
	struct fh fh;
	bool sent;
};

static void *send_reads(void *arg)
{
	struct pipeline *p = arg;
	struct msg *m = malloc(sizeof(*m));
	uint32_t mark, len;
	uint64_t off = 0;
	int i;

	p->sent = true;
	for (i = 0; i < PIPELINED && p->sent; i++) {
		begin_call(m, NFS_PROG, 3, NFSPROC3_READ, AUTH_SYS);
		put_fh(&m->x, &p->fh);
		if (!xdr_uint64_t(&m->x, &off))
			abort();
		put32(&m->x, PIPE_READ);
		len = xdr_getpos(&m->x);
		xdr_destroy(&m->x);
		mark = htonl(LAST_FRAG | len);
		p->sent = wire_send(p->w, &mark, 4) &&
			  wire_send(p->w, m->buf, len);
	}
	free(m);
	return NULL;
}

static void test_pipelined(void)
{
	struct wire w = tls_wire(NULL);
	struct pipeline p = { .w = &w };
	struct fh root;
	uint32_t hdr, good = 0;
	uint8_t *rec = malloc(PIPE_READ + 4096);
	pthread_t t;
	int i;

	CHECK(w.fd >= 0 && mnt(&w, "/tls", &root) == 0 &&
		      lookup(&w, &root, "data", &p.fh) == 0,
	      "a TLS session with a file handle");
	if (w.fd < 0 || pthread_create(&t, NULL, send_reads, &p) != 0)
		goto out;
	for (i = 0; i < PIPELINED; i++) {
		if (!wire_recv(&w, &hdr, 4))
			break;
		hdr = ntohl(hdr) & ~LAST_FRAG;
		if (hdr > PIPE_READ + 4096 || !wire_recv(&w, rec, hdr))
			break;
		/* accepted, SUCCESS, NFS3_OK; the 256 KiB file's first 64 */
		if (hdr == 24 + 4 + 4 + 84 + 12 + PIPE_READ &&
		    rec[23] == 0 && rec[27] == 0)
			good++;
	}
	pthread_join(t, NULL);
	CHECK(p.sent, "%d READs of 64 KiB sent without waiting", PIPELINED);
	CHECK_EQ(good, PIPELINED,
		 "every one answered in full through TLS under back-pressure");
	CHECK(null_ok(&w), "the session is in order afterwards");
out:
	free(rec);
	wire_close(&w);
}

static void test_mtls(void)
{
	struct wire w = tls_wire(&client);
	struct fh root, fh;
	uint8_t buf[256];
	uint32_t n;

	CHECK(w.fd >= 0, "TLS with a client certificate from tls-ca (%s)",
	      gnutls_strerror(w.err));
	if (w.fd < 0)
		goto out;
	CHECK_EQ(mnt(&w, "/mtls", &root), 0, "MNT /mtls");
	CHECK_EQ(getattr(&w, &root), 0, "GETATTR on xprtsec=mtls with it");
	CHECK_EQ(lookup(&w, &root, "secret", &fh), 0, "LOOKUP secret");
	CHECK_EQ(read3(&w, &fh, sizeof(buf), buf, &n), 0, "READ secret");
	CHECK(n == 22 && memcmp(buf, "for certified clients\n", 22) == 0,
	      "READ over mutual TLS");
	CHECK_EQ(mnt(&w, "/tls", &root), 0, "MNT /tls");
	CHECK_EQ(getattr(&w, &root), 0, "xprtsec=tls:mtls admits mtls too");
	CHECK_EQ(mnt(&w, "/export", &root), 0, "MNT /export");
	CHECK_EQ(getattr(&w, &root), 0, "the default (none:tls:mtls) too");
out:
	wire_close(&w);
}

static void test_bad_certificates(void)
{
	struct wire w = tls_wire(&stranger);
	struct reply r;
	struct fh root;
	int rc = -1;

	/* The server asks for certificates from tls-ca only: a client with
	 * none from it sends none, and is a plain "tls" client. */
	CHECK(w.fd >= 0, "a client with a certificate from another CA "
	      "connects without sending it (%s)", gnutls_strerror(w.err));
	CHECK(w.fd >= 0 && mnt(&w, "/mtls", &root) == 0 &&
		      getattr(&w, &root) == NFS3ERR_ACCES,
	      "and xprtsec=mtls refuses it: NFS3ERR_ACCES");
	wire_close(&w);

	w.fd = connect_tcp();
	CHECK(w.fd >= 0 && probe(&w, &r) && said_starttls(&r), "probe");
	reply_free(&r);
	if (w.fd >= 0)
		rc = start_tls(&w, &forged, "sunrpc");
	/* TLS 1.3: the client may finish before the server has judged its
	 * certificate; then the alert comes with the first record. */
	if (rc == 0) {
		uint8_t c;

		/* Only read: a write could meet the closed socket first. */
		do
			w.err = (int)gnutls_record_recv(w.tls, &c, 1);
		while (w.err == GNUTLS_E_AGAIN ||
		       w.err == GNUTLS_E_INTERRUPTED);
	}
	CHECK_EQ(w.err, GNUTLS_E_FATAL_ALERT_RECEIVED,
		 "a certificate forged in tls-ca's name: fatal alert (%s)",
		 gnutls_strerror(w.err));
	if (w.tls)
		CHECK_EQ(gnutls_alert_get(w.tls), GNUTLS_A_BAD_CERTIFICATE,
			 "alert: bad certificate");
	wire_close(&w);
}

static void test_plaintext(void)
{
	struct wire w = { .fd = connect_tcp() };
	struct fh root, fh;
	uint8_t buf[256];
	uint32_t n;

	CHECK_EQ(mnt(&w, "/tls", &root), 0,
		 "plaintext MNT /tls answered (MOUNT is not checked)");
	CHECK_EQ(getattr(&w, &root), NFS3ERR_ACCES,
		 "plaintext GETATTR on a TLS-only export: NFS3ERR_ACCES");
	CHECK_EQ(lookup(&w, &root, "data", &fh), NFS3ERR_ACCES,
		 "plaintext LOOKUP there: NFS3ERR_ACCES");
	CHECK_EQ(mnt(&w, "/export", &root), 0, "plaintext MNT /export");
	CHECK_EQ(lookup(&w, &root, "plain", &fh), 0,
		 "plaintext LOOKUP on an export allowing none");
	CHECK_EQ(read3(&w, &fh, sizeof(buf), buf, &n), 0, "plaintext READ");
	CHECK(n == 23 && memcmp(buf, "plaintext is fine here\n", 23) == 0,
	      "plaintext still works where it is allowed");
	wire_close(&w);
}

/*
 * NFSv4: PUTFH of /tls's root then GETATTR, as "STATUS/NRES".  A
 * transport the export's rule refuses is NFS4ERR_WRONGSEC at the PUTFH
 * (knfsd's answer, RFC 8881 2.6.3.1.1.7); SECINFO still answers.
 */
#define NFS4ERR_WRONGSEC 10016

static const char *v4_putfh_getattr(struct wire *w, const struct fh *fh)
{
	static char out[32];
	struct msg *m = malloc(sizeof(*m));
	struct reply r;
	uint32_t st, taglen;

	snprintf(out, sizeof(out), "no reply");
	begin_call(m, NFS_PROG, 4, 1, AUTH_SYS);
	put32(&m->x, 0); /* tag */
	put32(&m->x, 0); /* minor version */
	put32(&m->x, 2);
	put32(&m->x, 22); /* PUTFH */
	put_fh(&m->x, fh);
	put32(&m->x, 9); /* GETATTR type */
	put32(&m->x, 1);
	put32(&m->x, 1u << 1);
	if (call(w, m, &r) && r.reply_stat == MSG_ACCEPTED &&
	    r.accept_stat == SUCCESS) {
		st = get32(&r);
		taglen = get32(&r);
		if (taglen == 0)
			snprintf(out, sizeof(out), "%u/%u", st, get32(&r));
	}
	reply_free(&r);
	free(m);
	return out;
}

static void test_v4(void)
{
	struct wire w = { .fd = connect_tcp() };
	struct fh root;

	CHECK_EQ(mnt(&w, "/tls", &root), 0, "plaintext MNT /tls for v4");
	CHECK_STR(v4_putfh_getattr(&w, &root), "10016/1",
		  "plaintext NFSv4 PUTFH GETATTR on a TLS-only export: "
		  "NFS4ERR_WRONGSEC at the PUTFH");
	wire_close(&w);
	w = tls_wire(NULL);
	CHECK(w.fd >= 0, "TLS again for v4");
	CHECK_STR(w.fd >= 0 ? v4_putfh_getattr(&w, &root) : "", "0/2",
		  "the same COMPOUND inside TLS: OK");
	wire_close(&w);
}

static void test_garbage_handshake(void)
{
	struct wire good = tls_wire(NULL), bad = { .fd = connect_tcp() };
	struct reply r;
	uint8_t junk[300], c;
	ssize_t n;

	memset(junk, 0x5a, sizeof(junk));
	CHECK(good.fd >= 0, "a TLS session open beforehand");
	CHECK(probe(&bad, &r) && said_starttls(&r), "probe on another");
	reply_free(&r);
	CHECK(send(bad.fd, junk, sizeof(junk), MSG_NOSIGNAL) ==
		      (ssize_t)sizeof(junk),
	      "garbage instead of a ClientHello");
	do
		n = recv(bad.fd, &c, 1, 0);
	while (n > 0);
	CHECK(n == 0 || errno == ECONNRESET,
	      "the daemon closes that connection (%s)",
	      n == 0 ? "EOF" : strerror(errno));
	CHECK(good.fd >= 0 && null_ok(&good),
	      "the other TLS session is still served");
	wire_close(&bad);
	wire_close(&good);
	bad = tls_wire(NULL);
	CHECK(bad.fd >= 0 && null_ok(&bad), "and new ones are accepted");
	wire_close(&bad);
}

static void test_no_alpn(void)
{
	struct wire w = { .fd = connect_tcp() };
	struct reply r;

	CHECK(probe(&w, &r) && said_starttls(&r), "probe");
	reply_free(&r);
	CHECK(start_tls(&w, NULL, NULL) == 0,
	      "a client that offers no ALPN at all is served (%s)",
	      gnutls_strerror(w.err));
	CHECK(null_ok(&w), "NULL inside it");
	wire_close(&w);

	w.fd = connect_tcp();
	CHECK(probe(&w, &r) && said_starttls(&r), "probe");
	reply_free(&r);
	CHECK(start_tls(&w, NULL, "h2") < 0 &&
		      w.err == GNUTLS_E_FATAL_ALERT_RECEIVED &&
		      gnutls_alert_get(w.tls) == GNUTLS_A_NO_APPLICATION_PROTOCOL,
	      "one that offers ALPN but not sunrpc: no_application_protocol "
	      "(%s)", gnutls_strerror(w.err));
	wire_close(&w);
}

static void test_udp_probe(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { 10, 0 };
	struct msg *m = malloc(sizeof(*m));
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t buf[512];
	ssize_t n;
	uint32_t w[7];

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sin.sin_port = htons((uint16_t)d.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	begin_call(m, NFS_PROG, 3, 0, AUTH_TLS_FLAVOR);
	n = sendto(fd, m->buf, xdr_getpos(&m->x), 0, (struct sockaddr *)&sin,
		   sizeof(sin));
	xdr_destroy(&m->x);
	CHECK(n > 0, "probe over UDP sent");
	n = recv(fd, buf, sizeof(buf), 0);
	CHECK_EQ(n, 24, "UDP: a 24-byte reply (empty verifier)");
	if (n >= 24) {
		memcpy(w, buf, 24);
		CHECK(ntohl(w[2]) == MSG_ACCEPTED && ntohl(w[3]) == AUTH_NONE &&
			      ntohl(w[4]) == 0 && ntohl(w[5]) == SUCCESS,
		      "UDP probe: accepted, no STARTTLS (no DTLS here)");
	}
	close(fd);
	free(m);
}

/* unionnfsd --check-config on text: its first line of output. */
static char *check_config(const char *name, const char *text)
{
	const char *bin = getenv("UNIONNFSD");
	char path[400], cmd[1024], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d.dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return NULL;
	snprintf(cmd, sizeof(cmd), "'%s' --check-config '%s' 2>&1",
		 bin && *bin ? bin : "./unionnfsd", path);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	/* Without the directory, which changes every run. */
	return strdup(strncmp(line, d.dir, strlen(d.dir)) == 0
			      ? line + strlen(d.dir) + 1
			      : line);
}

static void test_config_errors(void)
{
	char text[1024], *got;

	snprintf(text, sizeof(text),
		 "export \"/e\" {\n\tlower \"%s\"\n"
		 "\tclients \"*(xprtsec=tls:bogus)\"\n}\n", d.lower);
	got = check_config("bad1.conf", text);
	CHECK_STR(got, "bad1.conf:3: bad client option \"xprtsec=tls:bogus\"",
		  "a bad xprtsec= mode is a FILE:LINE error");
	free(got);
	snprintf(text, sizeof(text),
		 "export \"/e\" {\n\tlower \"%s\"\n"
		 "\tclients \"*(xprtsec=tls)\"\n}\n", d.lower);
	got = check_config("bad2.conf", text);
	CHECK_STR(got,
		  "bad2.conf:3: export \"/e\": xprtsec= without \"none\" "
		  "needs \"tls-certificate\" and \"tls-key\"",
		  "TLS required without a certificate: an error, not a "
		  "locked-out export");
	free(got);
	snprintf(text, sizeof(text),
		 "tls-certificate \"%s/server.pem\"\n"
		 "tls-key \"%s/server.key\"\n"
		 "export \"/e\" {\n\tlower \"%s\"\n"
		 "\tclients \"*(xprtsec=mtls)\"\n}\n",
		 d.dir, d.dir, d.lower);
	got = check_config("bad3.conf", text);
	CHECK_STR(got,
		  "bad3.conf:5: export \"/e\": xprtsec=mtls needs \"tls-ca\" "
		  "to verify client certificates",
		  "mtls only, without tls-ca: an error");
	free(got);
	snprintf(text, sizeof(text),
		 "tls-certificate \"%s/server.pem\"\n"
		 "export \"/e\" {\n\tlower \"%s\"\n\tclients \"*\"\n}\n",
		 d.dir, d.lower);
	got = check_config("bad4.conf", text);
	CHECK_STR(got,
		  "bad4.conf:1: RPC-with-TLS needs both \"tls-certificate\" "
		  "and \"tls-key\"",
		  "a certificate without its key: an error");
	free(got);
	snprintf(text, sizeof(text),
		 "tls-certificate \"/nonexistent/server.pem\"\n"
		 "tls-key \"%s/server.key\"\n"
		 "export \"/e\" {\n\tlower \"%s\"\n\tclients \"*\"\n}\n",
		 d.dir, d.lower);
	got = check_config("bad5.conf", text);
	CHECK_STR(got,
		  "bad5.conf:1: \"tls-certificate\" \"/nonexistent/server.pem\": "
		  "No such file or directory",
		  "an unreadable certificate file: an error with its line");
	free(got);
}

int main(void)
{
	struct wire last;
	char *log;
	int status;

	/* A refused session is closed under the client's writes. */
	signal(SIGPIPE, SIG_IGN);
	if (gnutls_global_init() < 0 || tdaemon_init(&d, "tls") < 0 ||
	    make_pki() < 0 || make_layers() < 0 || write_config() < 0) {
		fprintf(stderr, "tls_test: setup failed\n");
		return 1;
	}
	CHECK(tdaemon_start(&d) == 0, "daemon started with TLS configured");
	if (d.port) {
		test_probe_replies();
		test_tls_rw();
		test_mtls();
		test_pipelined();
		test_bad_certificates();
		test_plaintext();
		test_v4();
		test_garbage_handshake();
		test_no_alpn();
		test_udp_probe();
		test_config_errors();
		CHECK(tdaemon_alive(&d), "the daemon is still running");
		log = tfile_read(d.dir, "log");
		CHECK(log && strstr(log, ": client certificate refused: "),
		      "the refused certificate is logged with the reason");
		CHECK(log && strstr(log, ": TLS handshake failed: "),
		      "the failed handshake is logged");
		free(log);
		last = tls_wire(NULL);
		CHECK(last.fd >= 0 && null_ok(&last), "a session open at exit");
		status = tdaemon_stop(&d);
		CHECK_EQ(status, 0, "clean exit");
		if (last.fd >= 0) {
			uint8_t c;

			CHECK_EQ(gnutls_record_recv(last.tls, &c, 1), 0,
				 "it ends with close_notify, not a bare FIN");
		}
		wire_close(&last);
	}
	free_ident(&ca);
	free_ident(&forger_ca);
	free_ident(&stranger_ca);
	free_ident(&server);
	free_ident(&client);
	free_ident(&forged);
	free_ident(&stranger);
	free((char *)d.config);
	if (!tap_failed)
		tdaemon_cleanup(&d);
	gnutls_global_deinit();
	return tap_done();
}
