/*
 * tls.c - the GnuTLS side of RPC-with-TLS (RFC 9289): credentials loaded
 * once at start, one session per connection that asked for STARTTLS.
 *
 * RFC 9289 section 5.1 allows TLS 1.3 only and names the ALPN protocol
 * "sunrpc"; a client that offers other protocols and not this one fails
 * the handshake.  With tls-ca, clients are asked for a certificate but
 * not required to send one (the client rule's xprtsec= decides what a
 * connection without one may reach); one that is sent must chain to the
 * CA and be fit for client authentication, or the handshake fails, as
 * tlshd(8) does for knfsd.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "log.h"
#include "tls.h"

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

struct tls_server {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	bool verify_clients; /* tls-ca given */
};

static const gnutls_datum_t alpn_sunrpc = {
	.data = (unsigned char *)"sunrpc",
	.size = 6,
};

/*
 * Called by GnuTLS during the handshake, once the client's certificate
 * message is in.  No certificate is fine (a "tls" session); a bad one
 * aborts the handshake with an alert, so the client learns why.
 */
static int verify_client(gnutls_session_t s)
{
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	const char *name = gnutls_session_get_ptr(s);
	gnutls_datum_t why = { NULL, 0 };
	unsigned status = 0, n = 0;

	if (!gnutls_certificate_get_peers(s, &n) || n == 0)
		return 0;
	if (gnutls_certificate_verify_peers(s, &purpose, 1, &status) < 0)
		status = GNUTLS_CERT_INVALID;
	if (status == 0)
		return 0;
	if (gnutls_certificate_verification_status_print(
		    status, GNUTLS_CRT_X509, &why, 0) < 0)
		why.data = NULL;
	while (why.data && why.size > 0 && why.data[why.size - 1] == ' ')
		why.data[--why.size] = '\0';
	log_ratelimited(LOG_NOTICE, "%s: client certificate refused: %s",
			name ? name : "?",
			why.data ? (const char *)why.data : "not trusted");
	gnutls_free(why.data);
	return GNUTLS_E_CERTIFICATE_ERROR;
}

static int load(struct tls_server *ts, const struct config *cfg, char *err,
		size_t errlen)
{
	int rc;

	rc = gnutls_certificate_allocate_credentials(&ts->cred);
	if (rc < 0)
		goto fail;
	rc = gnutls_certificate_set_x509_key_file2(
		ts->cred, cfg->tls_cert, cfg->tls_key, GNUTLS_X509_FMT_PEM,
		NULL, 0);
	if (rc < 0) {
		snprintf(err, errlen,
			 "tls-certificate \"%s\", tls-key \"%s\": %s",
			 cfg->tls_cert, cfg->tls_key, gnutls_strerror(rc));
		return -1;
	}
	if (cfg->tls_ca) {
		rc = gnutls_certificate_set_x509_trust_file(
			ts->cred, cfg->tls_ca, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			snprintf(err, errlen, "tls-ca \"%s\": %s", cfg->tls_ca,
				 rc == 0 ? "no certificate in it"
					 : gnutls_strerror(rc));
			return -1;
		}
		ts->verify_clients = true;
		gnutls_certificate_set_verify_function(ts->cred, verify_client);
	}
	rc = gnutls_priority_init(&ts->prio, TLS_PRIORITIES, NULL);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "TLS: %s", gnutls_strerror(rc));
	return -1;
}

int tls_server_open(const struct config *cfg, struct tls_server **out,
		    char *err, size_t errlen)
{
	struct tls_server *ts;

	*out = NULL;
	if (!cfg->tls_cert)
		return 0;
	ts = calloc(1, sizeof(*ts));
	if (!ts) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load(ts, cfg, err, errlen) < 0) {
		tls_server_close(ts);
		return -1;
	}
	*out = ts;
	return 0;
}

void tls_server_close(struct tls_server *ts)
{
	if (!ts)
		return;
	if (ts->prio)
		gnutls_priority_deinit(ts->prio);
	if (ts->cred)
		gnutls_certificate_free_credentials(ts->cred);
	free(ts);
}

gnutls_session_t tls_session_new(struct tls_server *ts, const char *name)
{
	gnutls_session_t s;
	int rc;

	rc = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK);
	if (rc < 0) {
		log_ratelimited(LOG_ERR, "%s: TLS session: %s", name,
				gnutls_strerror(rc));
		return NULL;
	}
	if ((rc = gnutls_priority_set(s, ts->prio)) < 0 ||
	    (rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
					 ts->cred)) < 0 ||
	    (rc = gnutls_alpn_set_protocols(s, &alpn_sunrpc, 1,
					    GNUTLS_ALPN_MANDATORY)) < 0) {
		log_ratelimited(LOG_ERR, "%s: TLS session: %s", name,
				gnutls_strerror(rc));
		gnutls_deinit(s);
		return NULL;
	}
	gnutls_certificate_server_set_request(s, ts->verify_clients
							 ? GNUTLS_CERT_REQUEST
							 : GNUTLS_CERT_IGNORE);
	/* The transport's own timer bounds the handshake. */
	gnutls_handshake_set_timeout(s, 0);
	gnutls_session_set_ptr(s, (void *)name);
	return s;
}

unsigned tls_session_mode(gnutls_session_t s)
{
	unsigned n = 0;

	/* A certificate that did not verify has failed the handshake. */
	if (gnutls_certificate_get_peers(s, &n) && n > 0)
		return XPRTSEC_MTLS;
	return XPRTSEC_TLS;
}
