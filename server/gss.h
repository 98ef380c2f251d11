/*
 * gss.h - RPCSEC_GSS version 1 (RFC 2203) with Kerberos v5 through the
 * system GSS-API, on the server side: context creation and destruction
 * on the NULL procedure, the header verifier, the sequence window, the
 * integrity and privacy services, and principal to uid/gid mapping.
 *
 * server/rpc.c calls gss_accept() for every call whose credential flavor
 * is RPCSEC_GSS, and gss_finish() on its reply.  Between the two, the
 * request looks like any other: req->cred holds the mapped identity with
 * a pseudo-flavor (RPC_AUTH_KRB5...) naming the service, and req->args
 * the procedure's plain arguments.
 */
#ifndef UNIONNFSD_GSS_H
#define UNIONNFSD_GSS_H

#include <stdint.h>
#include <stdio.h>

#include "rpc.h"

struct config;

/* The pseudo-flavors of RFC 2623 section 2.2 (exports(5) sec= names). */
#define RPC_AUTH_KRB5 390003  /* krb5: authentication only */
#define RPC_AUTH_KRB5I 390004 /* krb5i: integrity */
#define RPC_AUTH_KRB5P 390005 /* krb5p: privacy */

/* RFC 2203 rpc_gss_service_t, as SECINFO (RFC 7530 3.2.1) carries it. */
enum gss_service {
	GSS_SVC_NONE = 1,
	GSS_SVC_INTEGRITY = 2,
	GSS_SVC_PRIVACY = 3,
};

/* The Kerberos v5 mechanism OID (1.2.840.113554.1.2.2), DER body, for
 * SECINFO's sec_oid4. */
extern const uint8_t gss_krb5_oid[9];

/* The service of a pseudo-flavor, 0 if it is not one. */
enum gss_service gss_flavor_service(uint32_t flavor);

enum gss_verdict {
	GSS_OK,	     /* a data call: run the procedure */
	GSS_REPLIED, /* a control call, answered: *len is the reply */
	GSS_DROP,    /* replayed or too old a sequence number: no reply */
	GSS_GARBAGE, /* the integrity or privacy body did not check out */
	GSS_DENIED,  /* AUTH_ERROR with *why */
};

/*
 * Check an RPCSEC_GSS call: cred/credlen is the credential's body,
 * hdrlen the bytes of req->rec from the xid to the end of the
 * credential (what the verifier signs), verf the verifier.  Runs on a
 * worker thread (context creation reads the keytab).
 */
enum gss_verdict gss_accept(struct rpc_req *req, const uint8_t *cred,
			    uint32_t credlen, size_t hdrlen, uint32_t vflavor,
			    const uint8_t *verf, uint32_t verflen, size_t *len,
			    enum auth_stat *why);

/*
 * Put the RPCSEC_GSS verifier (and, for a successful data call with
 * integrity or privacy, the wrapped results) into the reply of len bytes
 * that req->out holds, and release the context.  Returns the new length,
 * 0 for none.
 */
size_t gss_finish(struct rpc_req *req, size_t len);

/* Destroy every context (at exit, so nothing looks leaked). */
void gss_clear(void);

/*
 * Read the principal mapping file cfg->krb5_map into cfg: lines
 * "PRINCIPAL UID GID" or "PRINCIPAL USERNAME", '#' comments.  Errors go
 * to errf as "FILE:LINE: message"; returns their number.
 */
int gss_map_load(struct config *cfg, FILE *errf);

#endif
