/*
 * server.h - the running daemon: its configuration, exports, worker pool
 * and transports, and the per-request access decision that every protocol
 * procedure makes before touching the union.
 */
#ifndef UNIONNFSD_SERVER_H
#define UNIONNFSD_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "rpc.h"
#include "union.h"

struct srv_export {
	const struct export_conf *conf;
	struct un_export *ux;
	uint32_t id; /* un_export_id(ux) */
};

struct server {
	struct config *cfg;
	struct un_catalog *cat;
	struct srv_export *exports;
	unsigned nexports;
	/* Changes whenever the daemon starts, so clients resend unstable
	 * writes that a crash may have lost (NFSv3 WRITE/COMMIT verifier). */
	uint8_t write_verf[8];
	uint64_t boot_time; /* seconds since the epoch */
	struct workers *workers;
	struct transport *transport;
	/* Held for reading while a request runs, for writing while a reload
	 * (SIGHUP) swaps the exports and their client rules. */
	pthread_rwlock_t lock;
	/* Builds a fresh configuration for a reload; NULL: nothing to
	 * reload.  Returns NULL on error (after logging). */
	struct config *(*load_config)(void *arg);
	void *load_arg;
};

/*
 * Open the catalog and every export of cfg (which the server then owns),
 * and pick the write verifier.  On failure, err says why.
 */
int server_open(struct server *srv, struct config *cfg, char *err,
		size_t errlen);
/* Close exports and the catalog (flushing it), free the configuration. */
void server_close(struct server *srv);
/*
 * Re-read the configuration: exports whose layers are unchanged keep
 * their state and take the new client rules; others are opened or closed.
 * Runs on a worker thread (it touches files); waits for running requests.
 */
void server_reload(struct server *srv);

/* The export a handle belongs to, or NULL (unknown export id). */
struct srv_export *server_export_by_handle(struct server *srv,
					   const struct un_handle *fh);
/* The export mounted as name ("/export"), or NULL. */
struct srv_export *server_export_by_name(struct server *srv, const char *name);

enum access_result {
	ACCESS_OK = 0,
	ACCESS_DENIED, /* no rule admits this client, or 'secure' failed */
	ACCESS_ROFS,   /* a modifying request on a read-only rule or export */
};

/*
 * Apply the export's client rules to a request: find the rule that admits
 * the peer, refuse writes on ro, and squash the caller's credentials into
 * *cred.  Every procedure calls this with the export its handle names.
 */
enum access_result server_access(const struct srv_export *ex,
				 const struct rpc_req *req, bool modifying,
				 struct un_cred *cred);

/* ---- worker pool (server/worker.c) ---- */
struct workers;
typedef void (*work_fn)(void *arg);
struct workers *workers_start(unsigned n);
/* Queue fn(arg) to run on a worker thread.  Thread-safe. */
void workers_submit(struct workers *w, work_fn fn, void *arg);
void workers_stop(struct workers *w); /* finish queued work and join */

/* ---- transports (server/transport.c) ---- */
struct transport;
/* Bind TCP (and UDP if configured) on cfg->listen.  Does not run the loop. */
struct transport *transport_open(struct server *srv, char *err, size_t errlen);
/* Run the event loop until transport_shutdown() or SIGTERM/SIGINT. */
int transport_run(struct transport *t);
void transport_shutdown(struct transport *t);
void transport_close(struct transport *t);
/* The TCP port actually bound (useful with port 0). */
uint16_t transport_port(const struct transport *t);

/* ---- NLM (server/nlmproc.c) ---- */
/* Free every lock and share a client holds (FREE_ALL, its reboot). */
void nlm_free_client(const char *caller_name);
/* At start: read the clients that held locks ("<catalog>.nsm"); if any,
 * grant only reclaims for grace seconds and notify them (SM_NOTIFY). */
void nlm_start(const char *catalog, unsigned grace);
/* At exit: wait for callbacks in flight, drop all locks. */
void nlm_shutdown(void);

/* ---- rpcbind (server/rpcbind.c) ---- */
/* Register every program/version of rpc_programs[] on port with the local
 * rpcbind; -1 (logged once) when none accepted it. */
int rpcbind_register(struct server *srv, uint16_t port);
/* Remove those registrations (clean shutdown). */
void rpcbind_unregister(struct server *srv);

#endif
