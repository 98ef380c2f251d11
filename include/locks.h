/*
 * locks.h - the daemon's one byte-range lock table, shared by every
 * protocol that locks (NLM for NFSv3, NFSv4 LOCK/LOCKT/LOCKU), so that a
 * lock taken through one conflicts with the others.
 *
 * Locks belong to union objects, not to layer files: an object is named
 * by its export id and its fileid (un_attr.fileid), which stay the same
 * across copy-up, rename and restart.  A lock taken on a lower file still
 * holds after a write copied the file up.
 *
 * Owners are opaque keys: the protocol, the client (NLM: caller name,
 * NFSv4: client id), the owner bytes (NLM: oh, NFSv4: lock owner) and a
 * process id (NLM: svid).  Two requests with equal keys are one owner.
 * Ranges follow POSIX: a new lock replaces the owner's own locks where they
 * overlap (splitting them), adjacent or overlapping ranges of one owner and
 * type merge, and len 0 means "to the end of the file".
 *
 * All functions are thread-safe; callbacks run without the table's mutex.
 */
#ifndef UNIONNFSD_LOCKS_H
#define UNIONNFSD_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lk_proto {
	LK_PROTO_NLM = 1,
	LK_PROTO_NFS4 = 2,
};

enum lk_type {
	LK_READ = 0,  /* shared */
	LK_WRITE = 1, /* exclusive */
};

struct lk_object {
	uint32_t export_id;
	uint64_t fileid;
};

#define LK_CLIENT_MAX 1024
#define LK_OH_MAX 1024

struct lk_owner {
	uint32_t proto; /* enum lk_proto */
	const void *client;
	size_t client_len;
	const void *oh;
	size_t oh_len;
	uint32_t pid;
};

/* A lock in the way, for TEST/LOCKT replies.  oh is a copy. */
struct lk_conflict {
	enum lk_type type;
	uint64_t offset, len; /* len 0: to EOF */
	uint32_t pid;
	uint8_t oh[LK_OH_MAX];
	size_t oh_len;
};

enum lk_result {
	LK_OK = 0,
	LK_DENIED,  /* conflict; *conflict filled when asked */
	LK_BLOCKED, /* conflict; queued, the callback will say */
	LK_NOMEM,
};

/*
 * Called once for a queued request: granted (the lock is now held) or not
 * (cancelled, or the client's locks were released); arg is the caller's,
 * to free here.
 */
typedef void (*lk_wait_fn)(void *arg, bool granted);

/* Is the range free for owner?  LK_OK or LK_DENIED (+ *conflict). */
enum lk_result lk_test(const struct lk_object *obj,
		       const struct lk_owner *owner, enum lk_type type,
		       uint64_t offset, uint64_t len,
		       struct lk_conflict *conflict);

/*
 * Take a lock.  On conflict, with wait_fn NULL: LK_DENIED; otherwise the
 * request is queued (once: a retransmission of a queued request does not
 * queue it again) and LK_BLOCKED returned.
 */
enum lk_result lk_lock(const struct lk_object *obj,
		       const struct lk_owner *owner, enum lk_type type,
		       uint64_t offset, uint64_t len,
		       struct lk_conflict *conflict, lk_wait_fn wait_fn,
		       void *wait_arg);

/* Release owner's locks in the range; grants waiters that can now run. */
void lk_unlock(const struct lk_object *obj, const struct lk_owner *owner,
	       uint64_t offset, uint64_t len);

/* Drop owner's queued request for exactly this range (NLM CANCEL).
 * Returns true if one was queued. */
bool lk_cancel(const struct lk_object *obj, const struct lk_owner *owner,
	       enum lk_type type, uint64_t offset, uint64_t len);

/* Everything a client holds or waits for, over protocol proto (NLM
 * FREE_ALL, SM_NOTIFY, NFSv4 lease expiry). */
void lk_release_client(uint32_t proto, const void *client,
		       size_t client_len);

/* Number of locks held (tests, statistics). */
size_t lk_count(void);

/* Drop everything (at exit); waiters are told "not granted". */
void lk_clear(void);

#endif
