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
	/* A client's own view (private_upper=, server/view.c): the client's
	 * address; NULL for the export as the configuration names it. */
	char *client;
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
	struct control *control; /* unionnfsctl's socket, or NULL */
	struct metrics *metrics; /* Prometheus endpoint, or NULL */
	struct srv_views *views; /* clients' private views (server/view.c) */
	/* Held for reading while a request runs, for writing while a reload
	 * (SIGHUP) swaps the exports and their client rules. */
	pthread_rwlock_t lock;
	/* Builds a fresh configuration for a reload; NULL: nothing to
	 * reload.  Returns NULL on error (after logging). */
	struct config *(*load_config)(void *arg);
	void *load_arg;
	/* The same configuration, with its errors ("FILE:LINE: ...") written
	 * to errf instead of the log: for unionnfsctl reload. */
	struct config *(*parse_config)(void *arg, FILE *errf);
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

/*
 * Per-client upper layers (private_upper=DIR in a client rule, view.c).
 * A client admitted by such a rule sees its own view of the export: its
 * own union of DIR/ADDRESS/upper and DIR/ADDRESS/work over the export's
 * lower layers, with its own export id, so its handles mean nothing to
 * anyone else.  Views are made on a client's first use; a reload closes
 * those whose export or private_upper= changed.
 *
 * server_view() turns an export found by name (MNT, NFSv4 PUTROOTFH and
 * LOOKUP) into the one req's client sees: ex itself, or its view.  NULL
 * when the view cannot be made (logged): answer SERVERFAULT.
 *
 * server_export_of() is server_export_by_handle() for a request: NULL
 * (answer STALE) also when the handle is of another client's view, or of
 * the shared export while the client has a view of its own.
 */
struct srv_export *server_view(const struct rpc_req *req,
			       struct srv_export *ex);
struct srv_export *server_export_of(const struct rpc_req *req,
				    const struct un_handle *fh);
/* The id ex's calls are counted under: a view's are its export's. */
uint32_t server_stats_id(const struct srv_export *ex);
struct srv_views *views_create(void);
/* After a reload swapped the exports, under srv->lock held for writing:
 * close the views whose export or private_upper= changed. */
void views_reload(struct server *srv);
void views_destroy(struct srv_views *v); /* closing every view */

enum access_result {
	ACCESS_OK = 0,
	ACCESS_DENIED, /* no rule admits this client, or 'secure' failed */
	ACCESS_ROFS,   /* a modifying request on a read-only rule or export */
	/* The rule does not accept the request's transport security
	 * (xprtsec=): NFS3ERR_ACCES, NFS4ERR_WRONGSEC, as knfsd. */
	ACCESS_WRONGSEC,
};

/*
 * Apply the export's client rules to a request: find the rule that admits
 * the peer, refuse writes on ro, and squash the caller's credentials into
 * *cred.  Every procedure calls this with the export its handle names.
 */
enum access_result server_access(const struct srv_export *ex,
				 const struct rpc_req *req, bool modifying,
				 struct un_cred *cred);

/*
 * Whether the request came over a transport the rule accepts (xprtsec=:
 * plaintext, TLS, TLS with a verified client certificate).  server_access()
 * applies it to every program but the sidecars MOUNT and NLM (which the
 * Linux client never sends over TLS, as knfsd does not check them).
 */
bool server_xprtsec_ok(const struct client_rule *r, const struct rpc_req *req);

/*
 * Security flavors (sec=): AUTH_SYS, RPC_AUTH_KRB5, RPC_AUTH_KRB5I,
 * RPC_AUTH_KRB5P (server/gss.h), in the rule's order of preference.
 * server_access() refuses other flavors with ACCESS_WRONGSEC (and sets
 * *req->wrongsec, which makes NFSv3 answer AUTH_TOOWEAK); MOUNT and NLM
 * are exempt.  NFSv4 SECINFO and SECINFO_NO_NAME list
 * server_sec_flavors(), and an operation whose flavor is not
 * server_sec_allowed() answers NFS4ERR_WRONGSEC.
 */
#define SEC_MAX 4
/* A rule's flavors; sys when it has no sec=.  Returns how many. */
unsigned server_rule_flavors(const struct client_rule *r,
			     uint32_t flavors[SEC_MAX]);
/* Does the rule allow flavor?  sys also allows AUTH_NONE (anonymous). */
bool server_sec_ok(const struct client_rule *r, uint32_t flavor);
/* The flavors of the rule admitting req's peer on ex; 0: no rule does. */
unsigned server_sec_flavors(const struct srv_export *ex,
			    const struct rpc_req *req,
			    uint32_t flavors[SEC_MAX]);
/* Is req's flavor one the rule admitting its peer on ex allows? */
bool server_sec_allowed(const struct srv_export *ex, const struct rpc_req *req);

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
/* The portmapper's TCP port (config "portmap"), 0 when not serving it. */
uint16_t transport_portmap_port(const struct transport *t);

/* ---- NLM and NSM (server/nlmproc.c, server/nsmproc.c) ---- */
/* Free every lock and share a client holds (FREE_ALL, its reboot). */
void nlm_free_client(const char *caller_name);
/* At start: read the clients that held locks (the catalog's monitor
 * list); if any, grant only reclaims for cfg->grace seconds and notify
 * them (SM_NOTIFY).  Call once, before serving, with srv->cat open. */
void nlm_start(struct server *srv);
/* NFSv4: load the client records; grace if there are any (nfs4proc.c). */
void nfs4_start(struct server *srv);
/* At exit, after the workers: wait for calls to other hosts in flight,
 * drop all locks. */
void nlm_shutdown(void);

/* ---- control socket (server/control.c), unionnfsctl(8) ---- */
struct control;
/* Listen on the unix socket path (mode 0600, root only) on the loop of
 * srv->transport.  NULL after logging why (as an error if required). */
struct control *control_open(struct server *srv, const char *path,
			     bool required);
void control_close(struct control *ctl); /* and unlink the socket */

/* ---- Prometheus endpoint (server/metrics.c) ---- */
struct metrics;
/* "ADDR:PORT", "[V6]:PORT" or "PORT" (loopback); out may be NULL. */
int metrics_parse_addr(const char *s, struct sockaddr_storage *out,
		       socklen_t *len);
struct metrics *metrics_open(struct server *srv, const char *addr);
void metrics_close(struct metrics *m);
/* The address it listens on ("127.0.0.1:9100"), for the log and stats. */
const char *metrics_address(const struct metrics *m);

/* The libevent loop of the transport, for the control and metrics
 * listeners that share its thread. */
struct event_base *transport_base(const struct transport *t);

/* ---- rpcbind (server/rpcbind.c) ---- */
/* Register every program/version of rpc_programs[] on port with the local
 * rpcbind; -1 (logged once) when none accepted it. */
int rpcbind_register(struct server *srv, uint16_t port);
/* Remove those registrations (clean shutdown). */
void rpcbind_unregister(struct server *srv);

/* ---- own portmapper (server/portmap.c) ---- */
/* Portmapper v2 and rpcbind v3/v4, for hosts without rpcbind (containers):
 * served only on the transport's portmapper port (config "portmap"). */
extern const struct rpc_program portmap_program;
/* Take the table it answers from: rpc_programs[] on the transport's port,
 * itself on the portmapper port.  Before the event loop runs. */
void portmap_start(const struct server *srv);

/* ---- service manager (server/sdnotify.c) ---- */
/* Send "READY=1", "STOPPING=1"... to $NOTIFY_SOCKET as sd_notify(3) does.
 * 0: no service manager asked; 1: sent; -1: failed (logged). */
int sd_notify_state(const char *state);
/* "RELOADING=1" with the time the reload began (systemd >= 253 checks). */
void sd_notify_reloading(void);

#endif
