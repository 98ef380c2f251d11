/*
 * gss.c - RPCSEC_GSS version 1 (RFC 2203) with Kerberos v5, server side.
 *
 * A client creates a context with RPCSEC_GSS_INIT (and CONTINUE_INIT)
 * calls to a NULL procedure carrying GSS-API tokens; gss_accept_sec_context
 * (which reads the keytab) runs on the worker thread that executes the
 * call, never on the event loop.  The context gets a random handle, and
 * the principal is mapped once to a uid, gid and groups (the krb5-map
 * file, then machine principals to anonymous as knfsd does, then
 * user@REALM to the local user through the krb5.conf auth_to_local rules).
 *
 * Every data call then carries the handle and a sequence number in its
 * credential and a MIC of its header in the verifier.  The sequence
 * window (RFC 2203 5.3.3.1) silently drops replays and calls older than
 * the window.  With integrity (krb5i) the arguments come with a MIC and
 * the results go back with one; with privacy (krb5p) both are wrapped.
 * The reply verifier is the MIC of the call's sequence number.
 *
 * Contexts live in a table of fixed size; the least recently used one is
 * dropped when it is full, and its client simply creates another when it
 * gets RPCSEC_GSS_CREDPROBLEM.  A GSS-API context is used by one thread
 * at a time (MIT krb5 keeps sequence state in it), hence its mutex.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "gss.h"
#include "log.h"
#include "server.h"

#define GSS_VERS_1 1
#define GSS_MAXSEQ 0x80000000u
#define GSS_SEQ_WIN 128	   /* advertised in the init reply */
#define GSS_HANDLE_LEN 16  /* slot index, then random bytes */
#define GSS_MAX_CTX 4096
#define GSS_MAX_TOKEN 65536
#define GSS_MAX_MIC 1024
#define MAX_AUTH_BYTES 400
#define MARK 4
#define ACCEPTED_HDR 24 /* xid, REPLY, MSG_ACCEPTED, null verifier, stat */
#define RNDUP4(n) (((size_t)(n) + 3) & ~(size_t)3)

enum gss_proc {
	GSS_PROC_DATA = 0,
	GSS_PROC_INIT = 1,
	GSS_PROC_CONTINUE_INIT = 2,
	GSS_PROC_DESTROY = 3,
};

const uint8_t gss_krb5_oid[9] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
				  0x12, 0x01, 0x02, 0x02 };

/* One security context, shared by the calls that name its handle. */
struct gss_sctx {
	uint8_t handle[GSS_HANDLE_LEN];
	uint32_t slot;
	unsigned refs;	/* the table's and running calls' (table.lock) */
	bool in_table;	/* (table.lock) */
	long last_used; /* for eviction (table.lock) */
	pthread_mutex_t lock; /* everything below */
	gss_ctx_id_t ctx;
	bool established;
	long expires; /* CLOCK_MONOTONIC seconds; 0: never */
	uint32_t seq_max;
	uint64_t seen[GSS_SEQ_WIN / 64]; /* bit seq % GSS_SEQ_WIN */
	struct rpc_cred id;		 /* the mapped principal */
	char principal[256];
};

/* What one call needs from its context until the reply is sent. */
struct gss_call {
	struct gss_sctx *c;
	uint32_t seq;
	enum gss_service svc;
	bool wrap; /* a data call: results are protected as svc says */
};

/* The decoded credential (rpc_gss_cred_vers_1_t). */
struct gss_cred {
	uint32_t proc, seq, svc;
	const uint8_t *handle;
	uint32_t handle_len;
};

static struct {
	pthread_mutex_t lock;
	struct gss_sctx *slot[GSS_MAX_CTX];
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

static long now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

/* XDR opaque<>: length, bytes, zero padding. */
static uint8_t *put_opaque(uint8_t *p, const void *data, size_t len)
{
	p = put32(p, (uint32_t)len);
	if (len)
		memcpy(p, data, len);
	memset(p + len, 0, RNDUP4(len) - len);
	return p + RNDUP4(len);
}

enum gss_service gss_flavor_service(uint32_t flavor)
{
	switch (flavor) {
	case RPC_AUTH_KRB5:
		return GSS_SVC_NONE;
	case RPC_AUTH_KRB5I:
		return GSS_SVC_INTEGRITY;
	case RPC_AUTH_KRB5P:
		return GSS_SVC_PRIVACY;
	default:
		return 0;
	}
}

static uint32_t service_flavor(uint32_t svc)
{
	return svc == GSS_SVC_PRIVACY	  ? RPC_AUTH_KRB5P
	       : svc == GSS_SVC_INTEGRITY ? RPC_AUTH_KRB5I
					  : RPC_AUTH_KRB5;
}

/* Why a GSS-API call failed, for the log. */
static void log_gss(const char *what, OM_uint32 major, OM_uint32 minor)
{
	char text[512] = "";
	size_t n = 0;
	OM_uint32 m, ctx = 0;
	gss_buffer_desc msg;
	int type = GSS_C_GSS_CODE;
	OM_uint32 code = major;

	for (int pass = 0; pass < 2; pass++) {
		do {
			if (gss_display_status(&m, code, type,
					       (gss_OID)gss_mech_krb5,
					       &ctx, &msg) != GSS_S_COMPLETE)
				break;
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "%s%.*s", n ? "; " : "",
					      (int)msg.length,
					      (const char *)msg.value);
			gss_release_buffer(&m, &msg);
			if (n >= sizeof(text))
				n = sizeof(text) - 1;
		} while (ctx != 0);
		type = GSS_C_MECH_CODE;
		code = minor;
		ctx = 0;
		if (minor == 0)
			break;
	}
	log_ratelimited(LOG_NOTICE, "RPCSEC_GSS: %s: %s", what, text);
}

/* ---- the context table ------------------------------------------------ */

static void sctx_free(struct gss_sctx *c)
{
	OM_uint32 minor;

	if (c->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &c->ctx, GSS_C_NO_BUFFER);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void sctx_put(struct gss_sctx *c)
{
	bool last;

	pthread_mutex_lock(&table.lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&table.lock);
	if (last)
		sctx_free(c);
}

/* Under table.lock; drops the table's reference (the caller holds one). */
static void table_remove_locked(struct gss_sctx *c)
{
	if (!c->in_table)
		return;
	table.slot[c->slot] = NULL;
	c->in_table = false;
	c->refs--;
}

static void table_remove(struct gss_sctx *c)
{
	pthread_mutex_lock(&table.lock);
	table_remove_locked(c);
	pthread_mutex_unlock(&table.lock);
}

/* A free slot, making one from the least recently used if need be. */
static uint32_t table_free_slot_locked(struct gss_sctx **evicted)
{
	uint32_t i, lru = 0;

	*evicted = NULL;
	for (i = 0; i < GSS_MAX_CTX; i++) {
		if (!table.slot[i])
			return i;
		if (table.slot[i]->last_used < table.slot[lru]->last_used)
			lru = i;
	}
	*evicted = table.slot[lru];
	(*evicted)->refs++; /* freed by the caller, outside the lock */
	table_remove_locked(*evicted);
	return lru;
}

/* Give c a handle and a place; the table holds one reference. */
static int table_insert(struct gss_sctx *c)
{
	struct gss_sctx *evicted;

	if (getrandom(c->handle + 4, GSS_HANDLE_LEN - 4, 0) !=
	    GSS_HANDLE_LEN - 4)
		return -1;
	pthread_mutex_lock(&table.lock);
	c->slot = table_free_slot_locked(&evicted);
	put32(c->handle, c->slot);
	table.slot[c->slot] = c;
	c->in_table = true;
	c->refs++;
	c->last_used = now_seconds();
	pthread_mutex_unlock(&table.lock);
	if (evicted) {
		log_info("RPCSEC_GSS: %u contexts: dropped the least recently "
			 "used (%s)", GSS_MAX_CTX, evicted->principal);
		sctx_put(evicted);
	}
	return 0;
}

/* The context a handle names, with a reference, or NULL. */
static struct gss_sctx *table_get(const uint8_t *handle, uint32_t len)
{
	struct gss_sctx *c = NULL;
	uint32_t slot;

	if (len != GSS_HANDLE_LEN)
		return NULL;
	slot = get32(handle);
	if (slot >= GSS_MAX_CTX)
		return NULL;
	pthread_mutex_lock(&table.lock);
	c = table.slot[slot];
	if (c && memcmp(c->handle, handle, GSS_HANDLE_LEN) == 0) {
		c->refs++;
		c->last_used = now_seconds();
	} else {
		c = NULL;
	}
	pthread_mutex_unlock(&table.lock);
	return c;
}

void gss_clear(void)
{
	struct gss_sctx *c;

	for (uint32_t i = 0; i < GSS_MAX_CTX; i++) {
		pthread_mutex_lock(&table.lock);
		c = table.slot[i];
		if (c) {
			c->refs++;
			table_remove_locked(c);
		}
		pthread_mutex_unlock(&table.lock);
		if (c)
			sctx_put(c);
	}
}

/* ---- the sequence window (RFC 2203 5.3.3.1) ---------------------------- */

static bool seen_test_and_set(struct gss_sctx *c, uint32_t seq)
{
	uint32_t bit = seq % GSS_SEQ_WIN;
	uint64_t mask = (uint64_t)1 << (bit % 64);
	bool was = c->seen[bit / 64] & mask;

	c->seen[bit / 64] |= mask;
	return was;
}

static void seen_clear(struct gss_sctx *c, uint32_t seq)
{
	uint32_t bit = seq % GSS_SEQ_WIN;

	c->seen[bit / 64] &= ~((uint64_t)1 << (bit % 64));
}

/* Under c->lock: false for a replay or a number below the window. */
static bool seq_accept(struct gss_sctx *c, uint32_t seq)
{
	uint32_t n;

	if (seq > c->seq_max) {
		n = seq - c->seq_max;
		if (n > GSS_SEQ_WIN)
			n = GSS_SEQ_WIN;
		/* The numbers the window slides over are new again. */
		for (uint32_t s = seq - n + 1; s != seq + 1; s++)
			seen_clear(c, s);
		c->seq_max = seq;
		seen_test_and_set(c, seq);
		return true;
	}
	if (c->seq_max - seq >= GSS_SEQ_WIN)
		return false;
	return !seen_test_and_set(c, seq);
}

/* ---- principal mapping ------------------------------------------------- */

/* uid, gid and groups of a local user, from the name service. */
static bool map_user(const char *user, struct rpc_cred *id)
{
	struct passwd pw, *res = NULL;
	gid_t groups[UN_NGROUPS_MAX];
	int n = UN_NGROUPS_MAX;
	char buf[4096];

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return false;
	id->uid = pw.pw_uid;
	id->gid = pw.pw_gid;
	/* More groups than AUTH_SYS carries: the first ones, as with it. */
	if (getgrouplist(user, pw.pw_gid, groups, &n) < 0)
		n = UN_NGROUPS_MAX;
	id->ngroups = (uint32_t)n;
	for (int i = 0; i < n; i++)
		id->groups[i] = groups[i];
	return true;
}

static const struct krb5_map_entry *map_find(const struct config *cfg,
					     const char *principal)
{
	for (unsigned i = 0; i < cfg->nkrb5_maps; i++)
		if (strcmp(cfg->krb5_maps[i].principal, principal) == 0)
			return &cfg->krb5_maps[i];
	return NULL;
}

/* A service or host principal ("nfs/host@REALM"): a machine, no user. */
static bool is_machine(const char *principal)
{
	const char *slash = strchr(principal, '/');
	const char *at = strrchr(principal, '@');

	return slash && (!at || slash < at);
}

/* The local user name krb5.conf's auth_to_local gives, if any. */
static bool map_localname(gss_name_t name, struct rpc_cred *id)
{
	gss_buffer_desc local = GSS_C_EMPTY_BUFFER;
	OM_uint32 minor;
	char user[256];
	bool ok;

	if (gss_localname(&minor, name, (gss_OID)gss_mech_krb5, &local) !=
		    GSS_S_COMPLETE ||
	    local.length >= sizeof(user)) {
		gss_release_buffer(&minor, &local);
		return false;
	}
	memcpy(user, local.value, local.length);
	user[local.length] = '\0';
	gss_release_buffer(&minor, &local);
	ok = map_user(user, id);
	return ok;
}

/* Under c->lock, once the context is established. */
static void map_principal(const struct config *cfg, gss_name_t name,
			  struct gss_sctx *c)
{
	const struct krb5_map_entry *e;
	gss_buffer_desc disp = GSS_C_EMPTY_BUFFER;
	OM_uint32 minor;
	bool ok = false;

	memset(&c->id, 0, sizeof(c->id));
	if (gss_display_name(&minor, name, &disp, NULL) == GSS_S_COMPLETE &&
	    disp.length < sizeof(c->principal)) {
		memcpy(c->principal, disp.value, disp.length);
		c->principal[disp.length] = '\0';
	}
	gss_release_buffer(&minor, &disp);
	e = map_find(cfg, c->principal);
	if (e && e->user) {
		ok = map_user(e->user, &c->id);
	} else if (e) {
		c->id.uid = e->uid;
		c->id.gid = e->gid;
		ok = true;
	} else if (!is_machine(c->principal)) {
		ok = map_localname(name, &c->id);
	}
	c->id.anonymous = !ok;
	if (ok)
		log_info("RPCSEC_GSS: context for %s as uid %u gid %u",
			 c->principal, c->id.uid, c->id.gid);
	else
		log_info("RPCSEC_GSS: context for %s as the anonymous user",
			 c->principal);
}

/* ---- replies ------------------------------------------------------------ */

static bool reply_alloc(struct rpc_req *req, size_t cap)
{
	uint8_t *base = malloc(MARK + cap);

	if (!base)
		return false;
	if (req->out.base) {
		xdr_destroy(&req->res);
		free(req->out.base);
	}
	req->out.base = base;
	req->out.cap = cap;
	xdrmem_create(&req->res, (char *)base + MARK, (u_int)cap, XDR_ENCODE);
	return true;
}

/* xid, REPLY, MSG_ACCEPTED, the verifier (flavor, body). */
static uint8_t *put_accepted_hdr(uint8_t *p, uint32_t xid, uint32_t vflavor,
				 const gss_buffer_desc *verf)
{
	p = put32(p, xid);
	p = put32(p, REPLY);
	p = put32(p, MSG_ACCEPTED);
	p = put32(p, vflavor);
	return put_opaque(p, verf ? verf->value : NULL,
			  verf ? verf->length : 0);
}

/* Under c->lock: the MIC of a 4-byte number (seq or seq_window). */
static OM_uint32 mic_of_number(struct gss_sctx *c, uint32_t v,
			       gss_buffer_desc *mic)
{
	uint8_t be[4];
	gss_buffer_desc in = { sizeof(be), be };
	OM_uint32 minor, major;

	put32(be, v);
	major = gss_get_mic(&minor, c->ctx, GSS_C_QOP_DEFAULT, &in, mic);
	if (major != GSS_S_COMPLETE)
		log_gss("get_mic", major, minor);
	return major;
}

/* ---- context creation (RFC 2203 5.2) ------------------------------------ */

static OM_uint32 acquire_cred(const struct config *cfg, gss_cred_id_t *cred)
{
	gss_key_value_element_desc el = { "keytab", cfg->krb5_keytab };
	gss_key_value_set_desc store = { 1, &el };
	gss_OID_set_desc mechs = { 1, (gss_OID)gss_mech_krb5 };
	gss_name_t name = GSS_C_NO_NAME;
	gss_buffer_desc buf;
	OM_uint32 major, minor;

	if (cfg->krb5_principal) {
		buf.value = cfg->krb5_principal;
		buf.length = strlen(cfg->krb5_principal);
		/* "nfs/host@REALM" is a Kerberos name, "nfs@host" a
		 * host-based service as gssd writes it. */
		major = gss_import_name(&minor, &buf,
					strchr(cfg->krb5_principal, '/')
						? GSS_KRB5_NT_PRINCIPAL_NAME
						: GSS_C_NT_HOSTBASED_SERVICE,
					&name);
		if (major != GSS_S_COMPLETE) {
			log_gss("krb5-principal", major, minor);
			return major;
		}
	}
	major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs,
				      GSS_C_ACCEPT,
				      cfg->krb5_keytab ? &store : NULL, cred,
				      NULL, NULL);
	if (major != GSS_S_COMPLETE)
		log_gss("acquiring the service credential from the keytab",
			major, minor);
	gss_release_name(&minor, &name);
	return major;
}

struct init_res {
	const uint8_t *handle; /* NULL: none */
	OM_uint32 major, minor;
	gss_buffer_desc token;
	gss_buffer_desc verf; /* empty: AUTH_NONE */
};

/* rpc_gss_init_res in a SUCCESS reply (errors travel in it, too). */
static size_t reply_init(struct rpc_req *req, const struct init_res *r)
{
	size_t cap = ACCEPTED_HDR + RNDUP4(r->verf.length) + 4 +
		     GSS_HANDLE_LEN + 12 + 4 + RNDUP4(r->token.length);
	uint8_t *p;

	if (!reply_alloc(req, cap))
		return 0;
	p = put_accepted_hdr(req->out.base + MARK, req->xid,
			     r->verf.length ? RPCSEC_GSS : AUTH_NONE,
			     &r->verf);
	p = put32(p, SUCCESS);
	p = put_opaque(p, r->handle, r->handle ? GSS_HANDLE_LEN : 0);
	p = put32(p, r->major);
	p = put32(p, r->minor);
	p = put32(p, GSS_SEQ_WIN);
	p = put_opaque(p, r->token.value, r->token.length);
	return (size_t)(p - (req->out.base + MARK));
}

/* The opaque token of rpc_gss_init_arg, in place. */
static bool decode_token(XDR *x, gss_buffer_desc *tok)
{
	uint32_t len;

	if (!xdr_uint32_t(x, &len) || len > GSS_MAX_TOKEN)
		return false;
	tok->length = len;
	tok->value = XDR_INLINE(x, (int)RNDUP4(len));
	return tok->value != NULL || len == 0;
}

/* One step of gss_accept_sec_context, under c->lock. */
static void accept_step(const struct config *cfg, struct gss_sctx *c,
			gss_buffer_desc *in, struct init_res *r)
{
	gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
	gss_name_t src = GSS_C_NO_NAME;
	OM_uint32 minor, lifetime = 0;

	r->major = acquire_cred(cfg, &cred);
	if (r->major != GSS_S_COMPLETE)
		return;
	r->major = gss_accept_sec_context(&r->minor, &c->ctx, cred, in,
					  GSS_C_NO_CHANNEL_BINDINGS, &src,
					  NULL, &r->token, NULL, &lifetime,
					  NULL);
	gss_release_cred(&minor, &cred);
	if (r->major == GSS_S_COMPLETE) {
		c->established = true;
		c->expires = lifetime == GSS_C_INDEFINITE
				     ? 0
				     : now_seconds() + (long)lifetime;
		map_principal(cfg, src, c);
		if (mic_of_number(c, GSS_SEQ_WIN, &r->verf) != GSS_S_COMPLETE)
			r->major = GSS_S_FAILURE;
	} else if (r->major != GSS_S_CONTINUE_NEEDED) {
		log_gss("accept_sec_context", r->major, r->minor);
	}
	gss_release_name(&minor, &src);
}

static struct gss_sctx *sctx_new(void)
{
	struct gss_sctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->ctx = GSS_C_NO_CONTEXT;
	c->refs = 1; /* the caller's */
	if (table_insert(c) < 0) {
		sctx_free(c);
		return NULL;
	}
	return c;
}

/* RPCSEC_GSS_INIT and CONTINUE_INIT. */
static enum gss_verdict gss_init(struct rpc_req *req,
				 const struct gss_cred *gc, size_t *len,
				 enum auth_stat *why)
{
	struct init_res r = { .token = GSS_C_EMPTY_BUFFER,
			      .verf = GSS_C_EMPTY_BUFFER };
	struct gss_sctx *c;
	gss_buffer_desc in;
	OM_uint32 minor;

	if (!decode_token(&req->args, &in))
		return GSS_GARBAGE;
	c = gc->proc == GSS_PROC_INIT ? sctx_new()
				      : table_get(gc->handle, gc->handle_len);
	if (!c) {
		*why = gc->proc == GSS_PROC_INIT ? AUTH_FAILED
						 : RPCSEC_GSS_CREDPROBLEM;
		return GSS_DENIED;
	}
	pthread_mutex_lock(&c->lock);
	if (c->established) {
		/* A CONTINUE_INIT replayed: the context stays as it is. */
		r.major = GSS_S_FAILURE;
	} else {
		accept_step(req->srv->cfg, c, &in, &r);
		if (r.major != GSS_S_COMPLETE &&
		    r.major != GSS_S_CONTINUE_NEEDED)
			table_remove(c); /* the client starts again */
	}
	pthread_mutex_unlock(&c->lock);
	if (r.major == GSS_S_COMPLETE || r.major == GSS_S_CONTINUE_NEEDED)
		r.handle = c->handle;
	*len = reply_init(req, &r);
	gss_release_buffer(&minor, &r.token);
	gss_release_buffer(&minor, &r.verf);
	sctx_put(c);
	return *len ? GSS_REPLIED : GSS_DROP;
}

/* ---- data calls (RFC 2203 5.3) ------------------------------------------ */

static bool decode_cred(const uint8_t *body, uint32_t len,
			struct gss_cred *gc)
{
	uint32_t vers;
	XDR x;
	bool ok;

	xdrmem_create(&x, (char *)body, len, XDR_DECODE);
	ok = xdr_uint32_t(&x, &vers) && vers == GSS_VERS_1 &&
	     xdr_uint32_t(&x, &gc->proc) && xdr_uint32_t(&x, &gc->seq) &&
	     xdr_uint32_t(&x, &gc->svc) && xdr_uint32_t(&x, &gc->handle_len) &&
	     gc->handle_len <= MAX_AUTH_BYTES;
	if (ok) {
		gc->handle = (const uint8_t *)XDR_INLINE(
			&x, (int)RNDUP4(gc->handle_len));
		ok = (gc->handle || gc->handle_len == 0) &&
		     xdr_getpos(&x) == len;
	}
	xdr_destroy(&x);
	return ok;
}

/* The procedure's arguments become plain (they were in req->rec). */
static bool replace_args(struct rpc_req *req, const void *plain, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return false;
	memcpy(copy, plain, len);
	xdr_destroy(&req->args);
	free(req->rec);
	req->rec = copy;
	req->reclen = len;
	xdrmem_create(&req->args, (char *)copy, (u_int)len, XDR_DECODE);
	return true;
}

/* An opaque<> of the arguments, in place. */
static bool decode_opaque(struct rpc_req *req, size_t max,
			  gss_buffer_desc *b)
{
	uint32_t len;

	if (!xdr_uint32_t(&req->args, &len) || len > max)
		return false;
	b->length = len;
	b->value = XDR_INLINE(&req->args, (int)RNDUP4(len));
	return b->value != NULL;
}

/* rpc_gss_integ_data or rpc_gss_priv_data; under c->lock. */
static bool unwrap_args(struct rpc_req *req, struct gss_sctx *c,
			const struct gss_cred *gc)
{
	gss_buffer_desc body, mic, plain = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor;
	int conf = 0;
	bool ok = false;

	if (!decode_opaque(req, req->reclen, &body))
		return false;
	if (gc->svc == GSS_SVC_INTEGRITY) {
		if (!decode_opaque(req, GSS_MAX_MIC, &mic))
			return false;
		major = gss_verify_mic(&minor, c->ctx, &body, &mic, NULL);
		plain = body;
	} else {
		major = gss_unwrap(&minor, c->ctx, &body, &plain, &conf, NULL);
		if (!GSS_ERROR(major) && !conf)
			major = GSS_S_BAD_SIG; /* privacy without privacy */
	}
	if (GSS_ERROR(major))
		log_gss(gc->svc == GSS_SVC_INTEGRITY ? "arguments' checksum"
						     : "unwrapping arguments",
			major, minor);
	/* The body starts with the credential's sequence number, so that a
	 * body cannot be moved under another header. */
	else if (plain.length >= 4 && get32(plain.value) == gc->seq)
		ok = replace_args(req, (const uint8_t *)plain.value + 4,
				  plain.length - 4);
	if (gc->svc == GSS_SVC_PRIVACY)
		gss_release_buffer(&minor, &plain);
	return ok;
}

/* The verifier is a MIC of the header from the xid to the credential's
 * end; the sequence number is checked only after it (RFC 2203 5.3.3.1). */
static enum gss_verdict check_header(struct rpc_req *req, struct gss_sctx *c,
				     const struct gss_cred *gc, size_t hdrlen,
				     uint32_t vflavor, const uint8_t *verf,
				     uint32_t verflen, enum auth_stat *why)
{
	gss_buffer_desc hdr = { hdrlen, req->rec };
	gss_buffer_desc mic = { verflen, (void *)verf };
	OM_uint32 major, minor;

	*why = RPCSEC_GSS_CREDPROBLEM;
	if (!c->established || vflavor != RPCSEC_GSS)
		return GSS_DENIED;
	if (c->expires && now_seconds() >= c->expires) {
		table_remove(c); /* the client makes a new one */
		*why = RPCSEC_GSS_CTXPROBLEM;
		return GSS_DENIED;
	}
	/* Supplementary bits (a duplicate or out-of-order token, if the
	 * client asked the mechanism for replay detection) are no error:
	 * the sequence window below is what decides. */
	major = gss_verify_mic(&minor, c->ctx, &hdr, &mic, NULL);
	if (GSS_ERROR(major)) {
		log_gss("header checksum", major, minor);
		return GSS_DENIED;
	}
	if (gc->seq >= GSS_MAXSEQ) {
		*why = RPCSEC_GSS_CTXPROBLEM;
		return GSS_DENIED;
	}
	if (!seq_accept(c, gc->seq)) {
		log_debug("RPCSEC_GSS: %s: sequence number %u replayed or "
			  "below the window: dropped",
			  c->principal, gc->seq);
		return GSS_DROP;
	}
	return GSS_OK;
}

static enum gss_verdict gss_data(struct rpc_req *req, struct gss_cred *gc,
				 size_t hdrlen, uint32_t vflavor,
				 const uint8_t *verf, uint32_t verflen,
				 enum auth_stat *why)
{
	struct gss_sctx *c = table_get(gc->handle, gc->handle_len);
	struct gss_call *call;
	enum gss_verdict v;

	if (!c) {
		*why = RPCSEC_GSS_CREDPROBLEM;
		return GSS_DENIED;
	}
	call = calloc(1, sizeof(*call));
	if (!call) {
		sctx_put(c);
		*why = AUTH_FAILED;
		return GSS_DENIED;
	}
	pthread_mutex_lock(&c->lock);
	v = check_header(req, c, gc, hdrlen, vflavor, verf, verflen, why);
	if (v == GSS_OK && gc->proc == GSS_PROC_DATA &&
	    gc->svc != GSS_SVC_NONE && !unwrap_args(req, c, gc))
		v = GSS_GARBAGE;
	pthread_mutex_unlock(&c->lock);
	if (v == GSS_DROP || v == GSS_DENIED) {
		free(call);
		sctx_put(c);
		return v;
	}
	/* From here on the reply carries this context's verifier. */
	call->c = c;
	call->seq = gc->seq;
	call->svc = gc->svc;
	call->wrap = gc->proc == GSS_PROC_DATA;
	req->gss = call;
	req->cred = c->id;
	req->cred.flavor = service_flavor(gc->svc);
	if (gc->proc == GSS_PROC_DESTROY) {
		table_remove(c);
		log_info("RPCSEC_GSS: context for %s destroyed", c->principal);
	}
	return v;
}

enum gss_verdict gss_accept(struct rpc_req *req, const uint8_t *cred,
			    uint32_t credlen, size_t hdrlen, uint32_t vflavor,
			    const uint8_t *verf, uint32_t verflen, size_t *len,
			    enum auth_stat *why)
{
	struct gss_cred gc;

	*len = 0;
	*why = AUTH_BADCRED;
	if (!decode_cred(cred, credlen, &gc) || gc.svc < GSS_SVC_NONE ||
	    gc.svc > GSS_SVC_PRIVACY)
		return GSS_DENIED;
	switch (gc.proc) {
	case GSS_PROC_DATA:
		return gss_data(req, &gc, hdrlen, vflavor, verf, verflen, why);
	case GSS_PROC_INIT:
	case GSS_PROC_CONTINUE_INIT:
		/* Control messages go to the NULL procedure only. */
		if (req->proc != 0)
			return GSS_DENIED;
		return gss_init(req, &gc, len, why);
	case GSS_PROC_DESTROY:
		if (req->proc != 0)
			return GSS_DENIED;
		return gss_data(req, &gc, hdrlen, vflavor, verf, verflen, why);
	default:
		return GSS_DENIED;
	}
}

/* ---- protecting the reply --------------------------------------------- */

/*
 * The results, with the sequence number in front, protected for svc;
 * under c->lock.  On success *body is malloc'd for integrity (with *mic
 * beside it), GSS-allocated for privacy; on failure both are untouched.
 */
static bool wrap_results(struct gss_call *g, const uint8_t *res, size_t n,
			 gss_buffer_desc *body, gss_buffer_desc *mic)
{
	gss_buffer_desc plain, out = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor;
	uint8_t *buf = malloc(4 + n);

	if (!buf)
		return false;
	put32(buf, g->seq);
	memcpy(buf + 4, res, n);
	plain.value = buf;
	plain.length = 4 + n;
	if (g->svc == GSS_SVC_INTEGRITY) {
		major = gss_get_mic(&minor, g->c->ctx, GSS_C_QOP_DEFAULT,
				    &plain, &out);
		if (major == GSS_S_COMPLETE) {
			*body = plain;
			*mic = out;
			return true;
		}
	} else {
		major = gss_wrap(&minor, g->c->ctx, 1, GSS_C_QOP_DEFAULT,
				 &plain, NULL, &out);
		if (major == GSS_S_COMPLETE) {
			free(buf);
			*body = out;
			return true;
		}
	}
	log_gss("protecting results", major, minor);
	gss_release_buffer(&minor, &out);
	free(buf);
	return false;
}

/* Rebuild an accepted reply with the GSS verifier and protected body. */
static size_t finish_accepted(struct rpc_req *req, struct gss_call *g,
			      size_t len)
{
	const uint8_t *old = req->out.base + MARK;
	uint32_t astat = get32(old + 20);
	gss_buffer_desc verf = GSS_C_EMPTY_BUFFER, mic = GSS_C_EMPTY_BUFFER;
	gss_buffer_desc body;
	bool wrap = astat == SUCCESS && g->wrap && g->svc != GSS_SVC_NONE;
	bool wrapped = false; /* body is ours to free */
	OM_uint32 minor, major;
	uint8_t *base, *p;
	size_t cap, n = 0;

	body.value = (void *)(old + ACCEPTED_HDR);
	body.length = len - ACCEPTED_HDR;
	pthread_mutex_lock(&g->c->lock);
	major = mic_of_number(g->c, g->seq, &verf);
	if (major == GSS_S_COMPLETE && wrap) {
		wrapped = wrap_results(g, body.value, body.length, &body, &mic);
		if (!wrapped)
			major = GSS_S_FAILURE;
	}
	pthread_mutex_unlock(&g->c->lock);
	if (major != GSS_S_COMPLETE)
		goto out;
	cap = ACCEPTED_HDR + RNDUP4(verf.length) + 4 + RNDUP4(body.length) +
	      4 + RNDUP4(mic.length);
	base = malloc(MARK + cap);
	if (!base)
		goto out;
	p = put_accepted_hdr(base + MARK, req->xid, RPCSEC_GSS, &verf);
	p = put32(p, astat);
	if (!wrap) {
		memcpy(p, body.value, body.length);
		p += body.length;
	} else {
		p = put_opaque(p, body.value, body.length);
		if (g->svc == GSS_SVC_INTEGRITY)
			p = put_opaque(p, mic.value, mic.length);
	}
	n = (size_t)(p - (base + MARK));
	xdr_destroy(&req->res);
	free(req->out.base);
	req->out.base = base;
	req->out.cap = cap;
	xdrmem_create(&req->res, (char *)base + MARK, (u_int)cap, XDR_ENCODE);
	xdr_setpos(&req->res, (u_int)n);
out:
	if (wrapped && g->svc == GSS_SVC_INTEGRITY)
		free(body.value);
	else if (wrapped)
		gss_release_buffer(&minor, &body);
	gss_release_buffer(&minor, &mic);
	gss_release_buffer(&minor, &verf);
	return n;
}

size_t gss_finish(struct rpc_req *req, size_t len)
{
	struct gss_call *g = req->gss;
	const uint8_t *r;

	if (!g)
		return len;
	req->gss = NULL;
	r = req->out.base ? req->out.base + MARK : NULL;
	/* Denied replies carry no verifier: they stay as they are. */
	if (len >= ACCEPTED_HDR && r && get32(r + 8) == MSG_ACCEPTED &&
	    get32(r + 16) == 0)
		len = finish_accepted(req, g, len);
	sctx_put(g->c);
	free(g);
	return len;
}

/* ---- the krb5-map file ------------------------------------------------ */

static void map_err(FILE *errf, const char *path, unsigned line,
		    const char *msg, const char *word)
{
	if (errf)
		fprintf(errf, "%s:%u: %s \"%s\"\n", path, line, msg, word);
}

/* One line's words: PRINCIPAL UID GID, or PRINCIPAL USERNAME. */
static int map_line(struct config *cfg, char **w, unsigned n,
		    const char *path, unsigned line, FILE *errf)
{
	struct krb5_map_entry e = { 0 }, *grown;

	if (n != 2 && n != 3) {
		map_err(errf, path, line,
			"want PRINCIPAL UID GID or PRINCIPAL USERNAME, not",
			w[0]);
		return 1;
	}
	if (n == 3 && (config_parse_u32(w[1], &e.uid) < 0 ||
		       config_parse_u32(w[2], &e.gid) < 0)) {
		map_err(errf, path, line, "bad uid or gid for", w[0]);
		return 1;
	}
	for (unsigned i = 0; i < cfg->nkrb5_maps; i++)
		if (strcmp(cfg->krb5_maps[i].principal, w[0]) == 0) {
			map_err(errf, path, line, "duplicate principal", w[0]);
			return 1;
		}
	e.principal = strdup(w[0]);
	e.user = n == 2 ? strdup(w[1]) : NULL;
	grown = realloc(cfg->krb5_maps,
			(cfg->nkrb5_maps + 1) * sizeof(*grown));
	if (!e.principal || (n == 2 && !e.user) || !grown) {
		free(e.principal);
		free(e.user);
		if (grown)
			cfg->krb5_maps = grown;
		map_err(errf, path, line, "out of memory at", w[0]);
		return 1;
	}
	cfg->krb5_maps = grown;
	cfg->krb5_maps[cfg->nkrb5_maps++] = e;
	return 0;
}

int gss_map_load(struct config *cfg, FILE *errf)
{
	FILE *f = fopen(cfg->krb5_map, "r");
	char buf[1024], *w[4], *save, *t;
	unsigned line = 0, n;
	int errors = 0;

	if (!f) {
		if (errf)
			fprintf(errf, "%s: %s\n", cfg->krb5_map,
				strerror(errno));
		return 1;
	}
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			map_err(errf, cfg->krb5_map, line, "line too long:",
				"...");
			errors++;
			while (fgets(buf, sizeof(buf), f) && !strchr(buf, '\n'))
				;
			continue;
		}
		if ((t = strchr(buf, '#')) != NULL)
			*t = '\0';
		n = 0;
		for (t = strtok_r(buf, " \t\r\n", &save); t && n < 4;
		     t = strtok_r(NULL, " \t\r\n", &save))
			w[n++] = t;
		if (n > 0)
			errors += map_line(cfg, w, n, cfg->krb5_map, line,
					   errf);
	}
	if (ferror(f)) {
		map_err(errf, cfg->krb5_map, line, "read error after", "");
		errors++;
	}
	fclose(f);
	return errors;
}
