/*
 * nlm.h - what the lock manager (server/nlmproc.c, NLM v4) and the status
 * monitor (server/nsmproc.c, NSM v1) share inside the server.
 *
 * Both call other hosts: NLM sends GRANTED and the _RES answers to
 * clients, NSM sends SM_NOTIFY to them after a restart and relays their
 * reboots to local monitors.  Those calls run on threads of their own
 * (never the event loop, never a worker), each bounded by a short
 * timeout, and shutdown waits for them all.
 */
#ifndef UNIONNFSD_NLM_H
#define UNIONNFSD_NLM_H

#include <stdbool.h>
#include <sys/socket.h>
#include <rpc/rpc.h>

#include "rpc.h"
#include "server.h"

#define NLM_CALLBACK_TIMEOUT 2 /* seconds, per RPC to another host */

/* ---- background calls (nlmproc.c) ---- */

/*
 * Run fn(arg) on a detached thread that nlm_shutdown() waits for; fn
 * must call nlm_thread_done() as its last step.  Returns false (and
 * does not run fn) when shutting down or out of threads.
 */
bool nlm_thread_start(void *(*fn)(void *), void *arg);
void nlm_thread_done(void);
/* Shutdown has begun: long-running threads stop between their calls. */
bool nlm_stopping(void);
/* Wait seconds, or less when shutdown begins; false then. */
bool nlm_pause(unsigned seconds);

/*
 * A client handle for prog/vers over UDP at peer's host, the port asked
 * from the portmapper there, with NLM_CALLBACK_TIMEOUT.  NULL when the
 * host does not answer or does not have the program.
 */
CLIENT *nlm_peer_client(const struct sockaddr_storage *peer,
			socklen_t peer_len, u_long prog, u_long vers);

/* The peer's numeric address, an IPv4-mapped IPv6 one as plain IPv4, so
 * that the same host always reads the same.  False if it has none. */
bool nlm_peer_addr(const struct sockaddr_storage *peer, socklen_t peer_len,
		   char *buf, size_t buflen);
/* From this host (127.0.0.0/8, ::1, or IPv4-mapped loopback)? */
bool nlm_peer_loopback(const struct sockaddr_storage *peer);

/* ---- grace after a restart (nlmproc.c) ---- */
bool nlm_in_grace(void);
/* NFSv4's clients from before the restart start the same grace, for
 * seconds from now (one grace for both, as knfsd). */
void nlm_grace_begin(unsigned seconds);

/* ---- the monitor list (nsmproc.c) ---- */

/* A monitored LOCK from caller_name at req's address: remember the host
 * (once; written to the catalog the first time only). */
void nsm_monitor(const struct rpc_req *req, const char *caller_name);
/*
 * At start: read the hosts that held locks before (the catalog; an old
 * "<catalog>.nsm" file is imported once), and advance our state number.
 * Returns how many hosts are to be notified.
 */
unsigned nsm_load(struct server *srv);
/* Send SM_NOTIFY to those hosts, in the background. */
void nsm_notify_all(void);
/* At exit, after the background threads: free the lists. */
void nsm_clear(void);

#endif
