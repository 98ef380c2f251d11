/*
 * union.h - the union engine: layers, lookup, copy-up, and the catalog of
 * persistent handles.
 *
 * This interface knows nothing of NFS.  The server translates protocol
 * requests into these calls and errno values back into protocol statuses.
 *
 * Conventions
 *  - Every function returns 0 (or a non-negative count) on success and a
 *    negative errno on failure.  Two errors are the engine's own:
 *      -UN_EBADHANDLE  the handle is malformed or its integrity tag is wrong
 *      -UN_ENOTSYNC    a SETATTR guard (ctime) did not match
 *      -UN_EBADCOOKIE  a READDIR cookie verifier is no longer valid
 *    -ESTALE means a well-formed handle whose object no longer exists.
 *  - Every operation that touches the file system runs with the caller's
 *    credentials (struct un_cred, already squashed by the server), so the
 *    kernel enforces permissions.  The engine switches to its own
 *    privileges only for internal work (copy-up, whiteouts, xattrs).
 *  - All functions are thread-safe: the server calls them from a pool of
 *    worker threads, never from the network event loop.
 *  - Names given to the engine are single path components; the engine
 *    itself rejects "", ".", "..", and names containing '/' (-EINVAL) or
 *    longer than UN_NAME_MAX (-ENAMETOOLONG).  "." and ".." have their
 *    own calls (un_lookup_parent).
 */
#ifndef UNIONNFSD_UNION_H
#define UNIONNFSD_UNION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define UN_EBADHANDLE 10001
#define UN_ENOTSYNC 10002
#define UN_EBADCOOKIE 10003

#define UN_HANDLE_MAX 56 /* some clients cap handles here */
#define UN_NAME_MAX 255
#define UN_PATH_MAX 4096
#define UN_NGROUPS_MAX 16 /* AUTH_SYS carries at most 16 */
#define UN_MAX_LOWER 64

struct un_catalog;
struct un_export;

/* An opaque, self-verifying reference to one union object. */
struct un_handle {
	uint32_t len;
	uint8_t data[UN_HANDLE_MAX];
};

/* Who is asking, after squashing. */
struct un_cred {
	uid_t uid;
	gid_t gid;
	uint32_t ngroups;
	gid_t groups[UN_NGROUPS_MAX];
};

enum un_type {
	UN_REG = 1,
	UN_DIR,
	UN_BLK,
	UN_CHR,
	UN_LNK,
	UN_SOCK,
	UN_FIFO,
};

struct un_attr {
	enum un_type type;
	uint32_t mode; /* permission bits incl. setuid/setgid/sticky */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size;
	uint64_t used; /* bytes allocated */
	uint32_t rdev_major, rdev_minor;
	uint64_t fsid;	 /* per export, stable */
	uint64_t fileid; /* stable across copy-up and restart */
	struct timespec atime, mtime, ctime;
};

/* Weak cache consistency: the state before and after a change. */
struct un_wcc {
	bool pre_valid;
	uint64_t pre_size;
	struct timespec pre_mtime, pre_ctime;
	bool post_valid;
	struct un_attr post;
};

enum un_sattr_bits {
	UN_SET_MODE = 1 << 0,
	UN_SET_UID = 1 << 1,
	UN_SET_GID = 1 << 2,
	UN_SET_SIZE = 1 << 3,
	UN_SET_ATIME = 1 << 4,	   /* to atime below */
	UN_SET_ATIME_NOW = 1 << 5, /* to the server's time */
	UN_SET_MTIME = 1 << 6,
	UN_SET_MTIME_NOW = 1 << 7,
};

struct un_sattr {
	uint32_t mask; /* enum un_sattr_bits */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime;
};

enum un_createmode {
	UN_CREATE_UNCHECKED,
	UN_CREATE_GUARDED,
	UN_CREATE_EXCLUSIVE,
};

enum un_stable {
	UN_UNSTABLE = 0,
	UN_DATA_SYNC = 1,
	UN_FILE_SYNC = 2,
};

/* ACCESS bits; the values are NFSv3's, which is also what v4 uses. */
enum un_access_bits {
	UN_ACCESS_READ = 0x01,
	UN_ACCESS_LOOKUP = 0x02,
	UN_ACCESS_MODIFY = 0x04,
	UN_ACCESS_EXTEND = 0x08,
	UN_ACCESS_DELETE = 0x10,
	UN_ACCESS_EXECUTE = 0x20,
};

struct un_statfs {
	uint64_t tbytes, fbytes, abytes; /* total, free, free to non-root */
	uint64_t tfiles, ffiles, afiles;
	uint32_t name_max;
};

/* One layered export as the configuration describes it. */
struct un_export_conf {
	const char *name;	/* the path clients mount, e.g. "/export" */
	const char *lower[UN_MAX_LOWER]; /* top-most first */
	unsigned nlower;
	const char *upper;	/* may be NULL: read-only union */
	const char *work;	/* required with upper, same file system */
	bool userxattr;		/* user.overlay.* instead of trusted.overlay.* */
	/* No trusted.overlay.redirect is written: renaming a directory that
	 * a lower layer has answers -EXDEV (redirects found are followed) */
	bool redirect_dir_off;
	/* chmod/chown/utimes of a lower regular file copy up its metadata
	 * only, as overlayfs metacopy=on (the data stays below until the
	 * first write); kernels need metacopy=on to read such layers */
	bool metacopy;
};

/* ---- catalog ---------------------------------------------------------- */

/*
 * Open (creating if needed) the catalog database at path.  The handle
 * secret lives beside it in "<path>.key" (mode 0600, created on first use).
 * On failure, returns a negative errno and writes a message to err.
 */
int un_catalog_open(const char *path, struct un_catalog **out, char *err,
		    size_t errlen);
/* Flush pending catalog writes and close.  NULL is allowed. */
void un_catalog_close(struct un_catalog *cat);
/* Make every catalog change so far durable (WAL commit). */
int un_catalog_flush(struct un_catalog *cat);

/*
 * Peers and state: small records that protocols keep across restarts in
 * the catalog (no protocol types here).  A peer is a host known to a
 * protocol: kind says which use ("nsm": the hosts that held NLM locks and
 * are told when we restart), name is unique within a kind and has one
 * address.  State entries are named 64-bit counters (the NSM state
 * number).  Strings are 1..UN_PEER_STR_MAX bytes, else -EINVAL.
 *
 * Every change is committed and synced before it returns, so these block
 * on the disk: call them off the event loop and rarely (once per new
 * host, never per request).  Thread-safe.  Return 0 or a negative errno.
 */
#define UN_PEER_STR_MAX 1024
int un_catalog_peer_put(struct un_catalog *cat, const char *kind,
			const char *name, const char *addr);
int un_catalog_peer_del(struct un_catalog *cat, const char *kind,
			const char *name);
/* cb runs with the catalog locked: it must not call the catalog.  A
 * non-zero return stops the walk and is returned. */
typedef int (*un_peer_cb)(void *arg, const char *name, const char *addr);
int un_catalog_peer_list(struct un_catalog *cat, const char *kind,
			 un_peer_cb cb, void *arg);
/* -ENOENT when the key was never set. */
int un_catalog_state_get(struct un_catalog *cat, const char *key,
			 int64_t *value);
int un_catalog_state_set(struct un_catalog *cat, const char *key,
			 int64_t value);

/* ---- exports ---------------------------------------------------------- */

/*
 * Attach an export to the catalog.  The export id is allocated once per
 * export name and kept in the catalog, so handles survive restarts.  Checks
 * that the layer directories exist and that work is on upper's file system.
 */
int un_export_open(struct un_catalog *cat, const struct un_export_conf *conf,
		   struct un_export **out, char *err, size_t errlen);
void un_export_close(struct un_export *ex);
uint32_t un_export_id(const struct un_export *ex);
bool un_export_readonly(const struct un_export *ex); /* no upper layer */

/*
 * The export id a handle claims, without verifying it, so the server can
 * find the export (and its client rules) before calling into it.
 * Returns -UN_EBADHANDLE if the handle cannot be one of ours.
 */
int un_handle_export_id(const struct un_handle *fh, uint32_t *export_id);

/* ---- operations on objects --------------------------------------------
 * "fh" arguments are verified (tag, export, generation) by every call.
 * Optional out-pointers (attr, wcc, ...) may be NULL.
 */
int un_root(struct un_export *ex, struct un_handle *out);

int un_getattr(struct un_export *ex, const struct un_handle *fh,
	       struct un_attr *attr);

/* guard_ctime: if non-NULL, fail with -UN_ENOTSYNC unless it matches. */
int un_setattr(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *fh, const struct un_sattr *sa,
	       const struct timespec *guard_ctime, struct un_wcc *wcc);

int un_lookup(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *dir, const char *name,
	      struct un_handle *out, struct un_attr *attr,
	      struct un_attr *dir_attr);

/* ".." of dir; the export root is its own parent. */
int un_lookup_parent(struct un_export *ex, const struct un_cred *cr,
		     const struct un_handle *dir, struct un_handle *out,
		     struct un_attr *attr);

/* want: enum un_access_bits; *granted receives the subset allowed. */
int un_access(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fh, uint32_t want, uint32_t *granted,
	      struct un_attr *attr);

/* Returns the link length; buf gets the target, NUL-terminated. */
int un_readlink(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, char *buf, size_t buflen,
		struct un_attr *attr);

/*
 * Read up to len bytes at off into buf (the caller's reply buffer, so data
 * is read straight to where it is sent from).  Returns bytes read.
 */
ssize_t un_read(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, uint64_t off, size_t len,
		void *buf, bool *eof, struct un_attr *attr);

/*
 * Write; copies the object up first if it lives in a lower layer.
 * *committed receives the stability actually achieved (>= stable).
 */
ssize_t un_write(struct un_export *ex, const struct un_cred *cr,
		 const struct un_handle *fh, uint64_t off, const void *buf,
		 size_t len, enum un_stable stable, enum un_stable *committed,
		 struct un_wcc *wcc);

/*
 * Copy the object up to the upper layer now if it lives in a lower one
 * (NFSv4 OPEN for write), with the engine's privileges: the caller has
 * checked the access.  The handle stays the same.  -EROFS without upper.
 */
int un_copy_up(struct un_export *ex, const struct un_handle *fh);

/* fsync the object's data (COMMIT). */
int un_commit(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fh, struct un_wcc *wcc);

/*
 * Where the next data (hole false) or hole (hole true) at or after off
 * starts, in *result; *eof when that is the end of the file.  -ENXIO when
 * off is at or past the end (lseek SEEK_DATA/SEEK_HOLE).
 */
int un_seek(struct un_export *ex, const struct un_cred *cr,
	    const struct un_handle *fh, uint64_t off, bool hole,
	    uint64_t *result, bool *eof);

/*
 * Reserve blocks for [off, off+len) (the size grows to cover it), or with
 * punch free them, leaving zeros and the size as it was.  Checked and
 * copied up like a write.  -EOPNOTSUPP if the upper fs cannot.
 */
int un_allocate(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, uint64_t off, uint64_t len,
		bool punch);

/*
 * Create a regular file.  With UN_CREATE_EXCLUSIVE, verf identifies the
 * request: a retry with the same verifier finds the file it made and
 * succeeds; another verifier gets -EEXIST.
 */
int un_create(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *dir, const char *name,
	      enum un_createmode how, const struct un_sattr *sa,
	      const uint8_t verf[8], struct un_handle *out,
	      struct un_attr *attr, struct un_wcc *dir_wcc);

int un_mkdir(struct un_export *ex, const struct un_cred *cr,
	     const struct un_handle *dir, const char *name,
	     const struct un_sattr *sa, struct un_handle *out,
	     struct un_attr *attr, struct un_wcc *dir_wcc);

int un_symlink(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *dir, const char *name,
	       const char *target, const struct un_sattr *sa,
	       struct un_handle *out, struct un_attr *attr,
	       struct un_wcc *dir_wcc);

/* type is UN_CHR, UN_BLK, UN_SOCK or UN_FIFO. */
int un_mknod(struct un_export *ex, const struct un_cred *cr,
	     const struct un_handle *dir, const char *name, enum un_type type,
	     uint32_t major, uint32_t minor, const struct un_sattr *sa,
	     struct un_handle *out, struct un_attr *attr,
	     struct un_wcc *dir_wcc);

/*
 * Remove a name.  When it is the last name of a file that is pinned (see
 * un_pin), the file is kept aside until the last unpin: its handle still
 * reads, writes and gets attributes (nlink 0); then it answers -ESTALE.
 */
int un_remove(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *dir, const char *name,
	      struct un_wcc *dir_wcc);

/*
 * Pins: a protocol holds the file fh open (NFSv4 OPEN until CLOSE or the
 * lease's end) and wants it to outlive the removal of its last name, as
 * POSIX keeps an unlinked file that is open.  Counted; un_unpin balances
 * each successful un_pin.  In memory: nothing is pinned after a restart.
 * They take the catalog, not the export, so a pin may outlive a reload.
 * Cheap (no disk I/O) except the last unpin of a removed file, which
 * deletes it.  -UN_EBADHANDLE, -ENOMEM.
 */
int un_pin(struct un_catalog *cat, const struct un_handle *fh);
void un_unpin(struct un_catalog *cat, const struct un_handle *fh);

int un_rmdir(struct un_export *ex, const struct un_cred *cr,
	     const struct un_handle *dir, const char *name,
	     struct un_wcc *dir_wcc);

int un_rename(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fromdir, const char *fromname,
	      const struct un_handle *todir, const char *toname,
	      struct un_wcc *from_wcc, struct un_wcc *to_wcc);

int un_link(struct un_export *ex, const struct un_cred *cr,
	    const struct un_handle *fh, const struct un_handle *dir,
	    const char *name, struct un_attr *attr, struct un_wcc *dir_wcc);

/*
 * Merged directory listing.  Cookies are stable: a cookie names a position
 * in the directory's order that does not move when other entries come or
 * go, and it survives restarts.  Cookie 0 starts a listing.  "." and ".."
 * are listed first.  verf is the cookie verifier: 0 on the first call;
 * *verf_out receives the one to send back.
 *
 * For every entry the callback is called; it returns 0 to go on, or 1 to
 * stop because the reply is full (that entry is then not consumed).  With
 * want_handles, fh and attr are filled (READDIRPLUS); otherwise they are
 * NULL.  *eof is set when the listing reached the end.
 */
struct un_dirent {
	const char *name;
	uint64_t fileid;
	uint64_t cookie;
	const struct un_handle *fh; /* NULL unless want_handles */
	const struct un_attr *attr; /* NULL unless want_handles */
};
typedef int (*un_readdir_cb)(void *arg, const struct un_dirent *de);

int un_readdir(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *dir, uint64_t cookie, uint64_t verf,
	       bool want_handles, un_readdir_cb cb, void *arg,
	       uint64_t *verf_out, bool *eof, struct un_attr *dir_attr);

int un_statfs(struct un_export *ex, const struct un_handle *fh,
	      struct un_statfs *st);

/* ---- POSIX ACLs (acl.c) -----------------------------------------------
 * The access and default ACLs of an object, stored in its layer as the
 * kernel stores them (system.posix_acl_access / _default), so a kernel
 * overlay of the same layers shows the same ACLs.  Tags and permission
 * bits have the kernel's (and NFSACL's) values.
 */
enum un_acl_tag {
	UN_ACL_USER_OBJ = 0x01,
	UN_ACL_USER = 0x02,
	UN_ACL_GROUP_OBJ = 0x04,
	UN_ACL_GROUP = 0x08,
	UN_ACL_MASK = 0x10,
	UN_ACL_OTHER = 0x20,
};
#define UN_ACL_READ 4
#define UN_ACL_WRITE 2
#define UN_ACL_EXECUTE 1
#define UN_ACL_MAX_ENTRIES 1024 /* knfsd's NFS_ACL_MAX_ENTRIES */

struct un_acl_entry {
	uint32_t tag;	/* enum un_acl_tag */
	uint32_t id;	/* uid or gid for USER and GROUP, else unused */
	uint32_t perm;	/* UN_ACL_READ | UN_ACL_WRITE | UN_ACL_EXECUTE */
};

struct un_acl {
	uint32_t count;
	struct un_acl_entry e[UN_ACL_MAX_ENTRIES];
};

/*
 * The access ACL (an object without one gets the three entries its mode
 * stands for, as knfsd answers) and the default ACL (count 0 when there
 * is none, and always for non-directories), in canonical order: tag,
 * then id.  Either pointer may be NULL.  No permission is needed.
 */
int un_getacl(struct un_export *ex, const struct un_handle *fh,
	      struct un_acl *access, struct un_acl *dflt,
	      struct un_attr *attr);

/*
 * Set the ACLs that are not NULL; count 0 removes one.  Entries may come
 * in any order; the ACL must be valid (one USER_OBJ, GROUP_OBJ and
 * OTHER, a MASK when there are USER or GROUP entries, no id twice):
 * else -EINVAL.  Only the owner or root may (-EPERM), as chmod.  An
 * access ACL also sets the mode's permission bits (and an ACL that the
 * mode says all of is stored as the mode alone); a default ACL on a
 * non-directory is -EACCES, any ACL on a symlink -EOPNOTSUPP (as on a
 * layer without ACL support).  A lower object is copied up first.
 */
int un_setacl(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fh, const struct un_acl *access,
	      const struct un_acl *dflt, struct un_wcc *wcc);

/* ---- observability (union/stats.c) ------------------------------------
 * For the daemon's statistics and its control socket (unionnfsctl):
 * nothing here changes the union.  Thread-safe like the rest.
 */
struct un_stats {
	uint64_t copyups;	 /* objects copied up since the export opened */
	uint32_t copyups_active; /* copy-ups running now */
};
void un_stats(struct un_export *ex, struct un_stats *st);

/*
 * A thread starts on a new request: what earlier requests on it touched in
 * the catalog's shared transaction is theirs, not this one's (a request's
 * calls fail when a commit carrying its own rows is lost).
 */
void un_request_begin(void);

/* Objects catalogued, and the bytes of the database (with its WAL). */
int un_catalog_size(struct un_catalog *cat, uint64_t *objects,
		    uint64_t *bytes);

/* Where an object of the union comes from. */
struct un_where {
	bool found;	   /* false: the name does not exist (see whiteout) */
	bool whiteout;	   /* !found because a layer holds a whiteout */
	bool upper;	   /* in the upper layer; else in lower[lower] */
	unsigned lower;	   /* index in un_export_conf.lower, top-most 0 */
	bool opaque;	   /* a directory marked opaque in that layer */
	unsigned nmerged;  /* directories: how many layers are merged */
	enum un_type type;
	uint64_t fileid;
	char layer_dir[UN_PATH_MAX]; /* the layer's root directory */
	char path[UN_PATH_MAX];	     /* inside it; "" for the export root */
};

/*
 * The object a handle names, where it lives now.  A forged or damaged
 * handle is -UN_EBADHANDLE, a removed object -ESTALE.
 */
int un_handle_where(struct un_export *ex, const struct un_handle *fh,
		    struct un_where *w);
/*
 * The layer a path of the union comes from ("a/b/c", relative to the
 * export root; "" or "/" is the root).  A name hidden by a whiteout
 * returns 0 with found false, whiteout true and the whiteout's layer.
 */
int un_whereis(struct un_export *ex, const char *path, struct un_where *w);

/* ---- consistency check (fsck.c) ----------------------------------------
 * Check an export's catalog against its layers, with the daemon stopped:
 * catalogued objects that no longer exist on disk, stale hard-link hints,
 * leftover work-dir temporaries.  One line per finding goes to report.
 * With repair, orphaned objects are marked removed (their handles answer
 * STALE), stale hints dropped, temporaries deleted; layer data is never
 * touched.  Returns the number of findings, or a negative errno.
 */
int un_fsck(struct un_export *ex, bool repair, FILE *report);

/* ---- catalog rebuild (rebuild.c) ---------------------------------------
 * For a catalog that un_catalog_open() refused as damaged (-EUCLEAN), with
 * the daemon stopped.  First move it aside: path (and its -wal, -shm)
 * become path.corrupt-<UTC time>, never deleted; *moved receives the new
 * name.  Returns 1 if moved, 0 if there was no file, or a negative errno.
 * The key file stays, so old handles answer STALE, not BADHANDLE.
 */
int un_catalog_move_aside(const char *path, char *moved, size_t len);
/*
 * Then, on the fresh catalog, catalogue every object of the export's
 * union (as listed with whiteouts and opaque directories applied).  Every
 * object gets a new handle.  Returns the number of objects, or a negative
 * errno; directories that cannot be listed are reported and skipped.
 */
long un_rebuild(struct un_export *ex, FILE *report);

#endif
