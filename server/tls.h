/*
 * tls.h - RPC-with-TLS (RFC 9289) credentials and sessions, with GnuTLS.
 *
 * The transport (transport.c) owns the bytes: it answers the AUTH_TLS
 * probe, moves the connection's socket to its own reader, and gives
 * each session pull and push functions.  This file owns what GnuTLS
 * needs to know: the server's certificate and key, the CA that client
 * certificates must chain to, TLS 1.3 only and ALPN "sunrpc" (RFC 9289
 * section 5.1), and the check of a client's certificate.
 */
#ifndef UNIONNFSD_TLS_H
#define UNIONNFSD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/gnutls.h>

#include "config.h"

struct tls_server;

/*
 * Load cfg's tls-certificate, tls-key and tls-ca (blocking file reads:
 * at start, before the loop runs).  *out is NULL when TLS is not
 * configured.  -1 with err filled when a file cannot be used.
 */
int tls_server_open(const struct config *cfg, struct tls_server **out,
		    char *err, size_t errlen);
void tls_server_close(struct tls_server *ts);

/*
 * A non-blocking server session.  name (the peer, for log lines) must
 * outlive it.  The caller sets the transport functions and pointer.
 * NULL after logging why.
 */
gnutls_session_t tls_session_new(struct tls_server *ts, const char *name);

/* After the handshake: the XPRTSEC_* mode the session gives its
 * requests, XPRTSEC_MTLS when the client proved a certificate that
 * chains to tls-ca (one that does not fails the handshake). */
unsigned tls_session_mode(gnutls_session_t s);

#endif
