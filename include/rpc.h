/*
 * rpc.h - ONC RPC (RFC 5531) request dispatch, between the transport
 * (server/transport.c, which frames records) and the protocol procedures
 * (server/nfs3proc.c, server/mountproc.c, ...).
 *
 * Flow: the transport hands a complete record to rpc_submit(); a worker
 * thread decodes the call header and credentials (server/rpc.c), finds the
 * program/version/procedure in the table that each protocol registers, and
 * calls the procedure.  The procedure decodes its arguments from req->args
 * and encodes its results into req->res, after the accepted-reply header
 * that rpc.c has already written.  The transport then sends the reply.
 */
#ifndef UNIONNFSD_RPC_H
#define UNIONNFSD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <rpc/rpc.h>

#include "union.h"

struct server;
struct conn;

/* RFC 9289's flavor of the probe for RPC-with-TLS (libtirpc lacks it). */
#define AUTH_TLS 7

/* What the caller claimed, before any export's squashing. */
struct rpc_cred {
	uint32_t flavor; /* AUTH_NONE, AUTH_SYS or RPC_AUTH_KRB5[IP] */
	/* RPCSEC_GSS: a principal with no local identity (a machine's
	 * nfs/host@REALM, an unknown user): runs as the rule's anonuid. */
	bool anonymous;
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t groups[UN_NGROUPS_MAX];
};

/*
 * A reply buffer.  It is allocated once per request with room for the
 * largest reply the procedure can produce (rpc_proc.max_reply), with four
 * bytes in front for the TCP record mark, so the whole reply goes to the
 * socket as one buffer without being copied.
 */
struct rpc_buf {
	uint8_t *base; /* record mark at base[0..3], reply from base+4 */
	size_t cap;    /* bytes available from base+4 */
};

struct rpc_req {
	struct server *srv;
	struct conn *conn; /* NULL for UDP */
	uint32_t xid, prog, vers, proc;
	struct rpc_cred cred;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	bool tcp;
	bool portmap; /* came to the portmapper's port: only it answers */
	/* The connection's transport security: XPRTSEC_TLS or XPRTSEC_MTLS
	 * inside RPC-with-TLS; 0 for plaintext (and UDP). */
	uint8_t xprtsec;
	/* In: the transport can start TLS on this connection now.  Out: the
	 * reply (to an AUTH_TLS probe) told the client to (RFC 9289). */
	bool starttls;
	uint64_t t_recv; /* record complete (stats_clock()), for latency */

	/* The call record; args is positioned at the procedure's arguments. */
	uint8_t *rec;
	size_t reclen;
	XDR args;

	/* The reply; res is positioned after the accepted-reply header. */
	struct rpc_buf out;
	XDR res;

	/* RPCSEC_GSS: the call's context and sequence number (server/gss.c);
	 * NULL for other flavors. */
	struct gss_call *gss;
	/* Set by server_access() when the client rule does not allow the
	 * request's flavor (sec=); rpc.c then answers AUTH_TOOWEAK. */
	bool *wrongsec;
};

/* What a procedure returns to the dispatcher. */
enum rpc_status {
	RPC_DONE = 0,	      /* results are encoded in req->res */
	RPC_GARBAGE = 1,      /* arguments did not decode: GARBAGE_ARGS */
	RPC_SYSTEM_ERR = 2,   /* could not produce a reply: SYSTEM_ERR */
	RPC_DROP = 3,	      /* send nothing */
	RPC_AUTH_TOOWEAK = 4, /* reject with AUTH_ERROR / AUTH_TOOWEAK */
};

struct rpc_proc {
	const char *name;
	enum rpc_status (*fn)(struct rpc_req *req);
	/* Upper bound of the results' encoded size, given the call; NULL
	 * means RPC_DEFAULT_REPLY. */
	size_t (*max_reply)(const struct rpc_req *req);
	bool idempotent; /* false: eligible for the duplicate request cache */
};

#define RPC_DEFAULT_REPLY 8192

struct rpc_version {
	uint32_t vers;
	const struct rpc_proc *procs;
	uint32_t nprocs;
};

struct rpc_program {
	const char *name;
	uint32_t prog;
	const struct rpc_version *versions; /* sorted by vers */
	uint32_t nversions;
	/* rpcbind: register only if no other server has the program (NSM:
	 * the host's rpc.statd may), and never unset another's entry. */
	bool rpcbind_if_free;
};

/* Programs served; defined by each protocol module.  Several tables may
 * share a program number (one per version family). */
extern const struct rpc_program nfs3_program;
extern const struct rpc_program mount3_program;
extern const struct rpc_program nlm4_program; /* server/nlmproc.c */
extern const struct rpc_program nsm1_program; /* server/nsmproc.c */
extern const struct rpc_program nfs4_program;
extern const struct rpc_program nfsacl_program; /* server/nfsaclproc.c */

/* All of them, in server/rpc.c. */
extern const struct rpc_program *const rpc_programs[];
extern const size_t rpc_nprograms;

/*
 * Decode and execute one call record, producing the reply in req->out.
 * Returns the reply length (without the record mark), or 0 when nothing
 * is to be sent.  Runs on a worker thread.  Takes ownership of rec.
 */
size_t rpc_execute(struct server *srv, struct rpc_req *req);

/*
 * For procedures that need more room than max_reply promised (should not
 * happen) and for hand-written codecs: a pointer to n bytes of the reply
 * at the current position, advancing it, or NULL if the reply is full.
 */
void *rpc_res_inline(struct rpc_req *req, size_t n);

/* Empty the duplicate request cache (at exit, so nothing looks leaked). */
void rpc_drc_clear(void);

#endif
