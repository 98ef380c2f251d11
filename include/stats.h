/*
 * stats.h - the daemon's own counters: calls and latency per RPC
 * procedure, replies by status, clients, connections and bytes.
 *
 * Requests are counted by the thread that runs them, each in a shard of
 * its own (plain stores, no lock, no shared cache line), so counting
 * costs a clock read and a few increments.  Readers (the control socket,
 * the metrics endpoint) add the shards up into a snapshot.
 */
#ifndef UNIONNFSD_STATS_H
#define UNIONNFSD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rpc_req;

/*
 * Latency histogram: fixed log-scale buckets, ten per decade from 1 us
 * to 80 s; bucket i counts calls that took at most stats_bounds[i] ns,
 * the last one (STATS_NBUCKETS - 1) the rest.
 */
#define STATS_NBOUNDS 80
#define STATS_NBUCKETS (STATS_NBOUNDS + 1)
extern const uint64_t stats_bounds[STATS_NBOUNDS];

#define STATS_MAX_EXPORT_ID 256 /* per-export counts for ids below this */
#define STATS_NO_EXPORT UINT32_MAX

/* Set up the procedure table from rpc_programs[].  Before any thread
 * counts; stats_fini() after every thread stopped counting. */
int stats_init(void);
void stats_fini(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t stats_clock(void);

/* ---- counting (the request path) ---- */
struct stats_call {
	uint64_t t0;
	size_t bytes_in, bytes_out;
	uint32_t prog, vers, proc;
	int accept;	  /* enum stats_accept */
	uint32_t nfsstat; /* NFS results' status, when accept is SUCCESS */
	bool has_nfsstat;
	struct sockaddr_storage peer;
};

/* Before rpc_execute(): req->t_recv (or now) and the record's size. */
void stats_begin(struct stats_call *sc, const struct rpc_req *req);
/* After it, before the reply leaves: what the reply says. */
void stats_reply(struct stats_call *sc, const struct rpc_req *req,
		 size_t len);
/* After the reply was sent: the latency, into this thread's shard. */
void stats_end(struct stats_call *sc);
/* The export a request works on (server_access() tells). */
void stats_export_used(uint32_t export_id);
/* Connections accepted and closed (the loop thread). */
void stats_conn_opened(void);
void stats_conn_closed(void);

/* ---- reading ---- */
enum stats_accept {
	STATS_SUCCESS,
	STATS_PROG_UNAVAIL,
	STATS_PROG_MISMATCH,
	STATS_PROC_UNAVAIL,
	STATS_GARBAGE_ARGS,
	STATS_SYSTEM_ERR,
	STATS_DENIED,  /* MSG_DENIED: RPC version or authentication */
	STATS_DROPPED, /* no reply sent (duplicate in progress, not a call) */
	STATS_NACCEPT,
};
extern const char *const stats_accept_names[STATS_NACCEPT];

struct stats_proc {
	const char *program; /* "nfs", "mount", ...; NULL: unknown calls */
	uint32_t prog, vers;
	const char *name;    /* "READ"; NULL: unknown */
	uint64_t calls, sum_ns;
	uint64_t hist[STATS_NBUCKETS];
};

struct stats_client {
	struct sockaddr_storage addr; /* port 0 */
	uint32_t export_id;	      /* STATS_NO_EXPORT: NULL, MOUNT... */
	uint64_t requests;
	uint64_t last_seen;	      /* seconds since the epoch */
};

#define STATS_NSTATUS 256 /* see stats_status_code() */

struct stats_snapshot {
	struct stats_proc *procs; /* every procedure served, then unknown */
	size_t nprocs;
	struct stats_client *clients;
	size_t nclients;
	uint64_t requests, bytes_in, bytes_out;
	uint64_t accept[STATS_NACCEPT];
	uint64_t nfsstat[2][STATS_NSTATUS]; /* [0] NFSv3, [1] NFSv4 */
	uint64_t export_calls[STATS_MAX_EXPORT_ID];
	uint64_t conns_open, conns_total;
};

/* Add the shards up.  Returns -ENOMEM or 0. */
int stats_snapshot(struct stats_snapshot *s);
void stats_snapshot_free(struct stats_snapshot *s);

/* The latency at or below which a fraction p (0..1) of the calls took,
 * in ns, interpolated inside its bucket; 0 with no calls. */
uint64_t stats_percentile(const struct stats_proc *p, double fraction);

/* The NFS status of nfsstat[][i], and its name ("NOENT") or NULL. */
uint32_t stats_status_code(unsigned i);
const char *stats_status_name(uint32_t status);

#endif
