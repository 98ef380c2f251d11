/*
 * nfs4state.h - NFSv4 state (RFC 7530 section 9, RFC 8881 sections 2.10
 * and 9): clients and their leases, 4.1 sessions and slots, open owners
 * and lock owners with the 4.0 seqid rules, open stateids with share
 * reservations, lock stateids.
 *
 * Everything lives in memory behind one mutex; the operations in
 * nfs4proc.c call these functions and never see the structures.  Every
 * function returns an nfsstat4.  A client whose lease ran out loses its
 * opens, its locks (released from the daemon's lock table, so NLM and
 * v4 waiters get them) and its sessions; its ids then answer EXPIRED
 * (stateids) or STALE_CLIENTID until it registers again.
 *
 * A client that gets state (its first OPEN, or 4.1 RECLAIM_COMPLETE) is
 * recorded in the catalog until it is destroyed or expires.  A restart
 * answers STALE_CLIENTID/STALE_STATEID; if clients were recorded, the
 * server is then in grace (RFC 7530 9.6, RFC 8881 8.4): those clients
 * reclaim their opens (CLAIM_PREVIOUS) and locks (LOCK reclaim), other
 * OPENs and LOCKs get GRACE, and at its end the records of the clients
 * that did not come back go.  The grace is one with NLM's (knfsd's way):
 * either protocol's reclaims hold back the other's new locks.
 */
#ifndef UNIONNFSD_NFS4STATE_H
#define UNIONNFSD_NFS4STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "locks.h"
#include "nfs4xdr.h"

#define NFS4_SLOTS 64
#define NFS4_CACHED_MAX (64 * 1024)

/*
 * A file as the state knows it: by its handle, which READ and WRITE have
 * at no cost, and by its lock-table object (the fileid, which OPEN and
 * LOCK look up; 0 where unknown).
 */
struct nfs4_file {
	uint32_t export_id;
	struct un_handle fh;
	uint64_t fileid;
};

/* OPEN4_SHARE_ACCESS_* and OPEN4_SHARE_DENY_* */
enum {
	SHARE_READ = 1,
	SHARE_WRITE = 2,
	SHARE_BOTH = 3,
};

/*
 * Called at the start of every COMPOUND: takes the boot time and lease
 * of the running configuration, expires clients whose lease ran out, and
 * starts the thread that does the same while no request comes.
 */
void nfs4_state_tick(uint64_t boot_time, unsigned lease);

/*
 * At start, before the first request: load the client records of cat;
 * if there are any, the grace period of grace seconds begins.
 */
void nfs4_state_start(struct un_catalog *cat, unsigned grace);
/*
 * OPEN and LOCK during grace: a reclaim (CLAIM_PREVIOUS, LOCK reclaim)
 * needs a recorded client that has not sent RECLAIM_COMPLETE (else
 * NO_GRACE, or RECLAIM_BAD for a client not recorded); anything else
 * waits for the end of the grace (GRACE).
 */
int nfs4_grace_check(uint64_t clientid, bool reclaim);
/* 4.1 RECLAIM_COMPLETE for the client of the COMPOUND's session. */
int nfs4_reclaim_complete(struct cstate *cs);

/* ---- clients ---- */
/* 4.0 SETCLIENTID / SETCLIENTID_CONFIRM (RFC 7530 16.33, 16.34). */
int nfs4_setclientid(const uint8_t verf[8], const void *name, u_int len,
		     uint64_t *clientid, uint8_t confirm[8]);
int nfs4_setclientid_confirm(uint64_t clientid, const uint8_t confirm[8]);
/* 4.1 EXCHANGE_ID: *confirmed says whether a session was made before. */
int nfs4_exchange_id(const uint8_t verf[8], const void *name, u_int len,
		     uint64_t *clientid, uint32_t *seq, bool *confirmed);
/* A confirmed client's lease is renewed (RENEW and every op naming it). */
int nfs4_client_renew(uint64_t clientid);
/* DESTROY_CLIENTID: refused while the client has state or sessions
 * other than the one the COMPOUND runs in. */
int nfs4_destroy_clientid(uint64_t clientid, const struct nfs4_session *cur);

/* ---- 4.1 sessions ---- */
/* fore: the fore channel as negotiated (its maxrequests slots); SEQUENCE
 * holds the session's COMPOUNDs to its maxoperations and maxrequestsize. */
int nfs4_create_session(uint64_t clientid, const channel_attrs4 *fore,
			uint8_t id[16]);
/* The COMPOUND cs runs in may be the one destroyed: freed at its end. */
int nfs4_destroy_session(struct cstate *cs, const uint8_t id[16]);
int nfs4_bind_session(const uint8_t id[16]);
/*
 * SEQUENCE: claim the slot (cs->session, cs->slot) and renew the lease,
 * or find the cached reply of a retransmission (cs->replay).  A COMPOUND
 * of more operations (cs->nops) or bytes than the session's channel
 * allows gets TOO_MANY_OPS or REQ_TOO_BIG, its slot untouched.
 */
int nfs4_sequence(struct cstate *cs, const uint8_t id[16], uint32_t seq,
		  uint32_t slotid, uint32_t *nslots);
/* The COMPOUND is done: keep its reply in the slot, release the slot. */
void nfs4_sequence_done(struct cstate *cs, const uint8_t *res, u_int len);

/* ---- owners and the 4.0 seqid rules ----
 * A seqid-mutating 4.0 operation (OPEN, OPEN_CONFIRM, OPEN_DOWNGRADE,
 * CLOSE, LOCK, LOCKU) first checks its seqid: the next one runs, the
 * last one is a retransmission answered with the reply it got (replayed
 * into the reply by the op), anything else is BAD_SEQID.  When the op is
 * done, nfs4_seqid_done (called by the COMPOUND loop) advances the
 * owner's seqid and keeps the reply.  In 4.1 the session does all this.
 */
struct nfs4_replay {
	int status;
	uint8_t *body; /* the op's results after its status (malloc'd) */
	u_int len;
	uint8_t fh[NFS4_FHSIZE]; /* OPEN: the file it opened */
	u_int fhlen;
};

/*
 * Find or make the open owner, check the client and the seqid.  Here and
 * below, replay->status >= 0 says the op is a retransmission: its answer
 * is that status with replay->body as results (nfs4_replay_free after).
 */
int nfs4_open_owner(struct cstate *cs, uint64_t clientid,
		    const void *owner, u_int len, uint32_t seqid,
		    struct nfs4_replay *replay);
void nfs4_seqid_done(struct cstate *cs, int status, const uint8_t *body,
		     u_int len, const uint8_t *fh, u_int fhlen);
void nfs4_replay_free(struct nfs4_replay *r);

/* ---- stateids ---- */
/*
 * What a READ, WRITE or SETATTR(size) may do with a stateid on obj:
 * want is SHARE_READ or SHARE_WRITE.  The special stateids are checked
 * against other clients' deny modes (LOCKED); a WRITE through an open
 * without write access is OPENMODE.
 */
int nfs4_stateid_io(uint32_t minor, const struct stateid4 *sid,
		    const struct nfs4_file *obj, uint32_t want);
/* TEST_STATEID's answer for one stateid (no renewal, no side effect). */
int nfs4_stateid_test(const struct stateid4 *sid);
int nfs4_free_stateid(const struct stateid4 *sid);

/*
 * OPEN, after the file was found or made: share reservation of the open
 * owner from nfs4_open_owner on obj (SHARE_DENIED on conflict); an owner
 * that has the file open already has its stateid upgraded.
 */
int nfs4_open_state(struct cstate *cs, const struct nfs4_file *obj,
		    uint32_t access, uint32_t deny, struct stateid4 *sid);
/* 4.1 OPEN by CLAIM_FH has no seqid but an owner all the same. */
int nfs4_open_owner41(struct cstate *cs, uint64_t clientid,
		      const void *owner, u_int len);

/*
 * OPEN_CONFIRM, OPEN_DOWNGRADE, CLOSE: the open stateid, whose owner's
 * seqid is checked (4.0) and whose seqid then moves.
 */
int nfs4_open_confirm(struct cstate *cs, struct stateid4 *sid,
		      uint32_t seqid, const struct nfs4_file *obj,
		      struct nfs4_replay *replay);
int nfs4_open_downgrade(struct cstate *cs, struct stateid4 *sid,
			uint32_t seqid, uint32_t access, uint32_t deny,
			const struct nfs4_file *obj,
			struct nfs4_replay *replay);
int nfs4_close(struct cstate *cs, struct stateid4 *sid, uint32_t seqid,
	       const struct nfs4_file *obj, struct nfs4_replay *replay);

/* ---- byte-range locks ---- */
/* The lock table's owner of a lock stateid: a copy, valid unlocked. */
struct nfs4_lockowner {
	uint64_t clientid;
	uint8_t owner[NFS4_OPAQUE_MAX];
	u_int owner_len;
};
void nfs4_lk_owner(const struct nfs4_lockowner *lo, struct lk_owner *o);

/*
 * LOCK with a new lock owner (open_to_lock_owner4: the open stateid and
 * its owner's seqid) or an existing lock stateid (and its owner's seqid):
 * *lsid and *lo name the lock state to take the lock for.
 */
int nfs4_lock_new(struct cstate *cs, const struct stateid4 *open_sid,
		  uint32_t open_seqid, uint32_t lock_seqid,
		  const struct nfs4_lockowner *owner,
		  const struct nfs4_file *obj, struct stateid4 *lsid,
		  struct nfs4_replay *replay);
int nfs4_lock_existing(struct cstate *cs, const struct stateid4 *lsid,
		       uint32_t seqid, const struct nfs4_file *obj,
		       struct nfs4_lockowner *lo, struct nfs4_replay *replay);
/* The lock was granted (locked true) or released: record the range,
 * advance the stateid. */
int nfs4_lock_update(const struct stateid4 *lsid, bool locked,
		     uint64_t off, uint64_t len, struct stateid4 *out);
/* RELEASE_LOCKOWNER: LOCKS_HELD while it holds any. */
int nfs4_release_lockowner(uint64_t clientid, const void *owner, u_int len);

#endif
