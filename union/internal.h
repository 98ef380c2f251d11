/*
 * internal.h - what the files of the union engine share.
 *
 * Layers of an export are numbered top-down: when the export has an upper
 * layer it is layer 0, the lowers follow in the configured order.  A set of
 * layers (the layers a merged directory is made of) is a bit mask over
 * those numbers; lower numbers are higher layers.
 */
#ifndef UNIONNFSD_UNION_INTERNAL_H
#define UNIONNFSD_UNION_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "siphash.h"
#include "union.h"

#define UN_MAX_LAYERS (UN_MAX_LOWER + 1)
#define UN_DEPTH_MAX 1024	/* directory levels below an export root */
#define UN_HANDLE_LEN 36
#define UN_HANDLE_VERSION 1
#define UN_TMP_PREFIX "#unionnfsd."

typedef unsigned __int128 lmask_t;
#define LBIT(l) ((lmask_t)1 << (l))

/* ---- catalog (catalog.c) --------------------------------------------- */

/* One object as the catalog knows it, plus where it was last found. */
struct cat_obj {
	uint64_t oid;
	uint64_t parent;	/* 0 for an export root */
	uint32_t export;
	uint32_t gen;
	uint8_t type;		/* enum un_type */
	bool removed;
	int8_t layer;		/* hint: top layer holding it, -1 unknown */
	lmask_t mask;		/* hint for dirs: layers merged */
	char name[UN_NAME_MAX + 1];
};

#define CAT_TXN_WINDOW 4096	/* transactions whose outcome is kept */

struct un_catalog {
	sqlite3 *db;
	pthread_mutex_t lock;
	uint8_t key[SIPHASH_KEY_LEN];
	bool in_txn;		/* writes pending in an open transaction */
	/* Write transactions are numbered; a bit per recent one that was
	 * rolled back instead of committed, so that every request whose
	 * rows (or reads of others' rows) were in it learns it failed. */
	uint64_t txn_seq;	/* the open one, or the last one */
	uint64_t txn_lost[CAT_TXN_WINDOW / 64];
	int txn_lost_rc;	/* why the last one was lost */
	bool txn_new_names;	/* the open one adds names (handles) */
	uint64_t rng;
	struct cat_cache *cache;
	sqlite3_stmt *st[24];
	struct dur *dur;	/* sync batcher, durable.c */
	struct pin_table *pins;	/* open objects, orphan.c */
};

int cat_export_attach(struct un_catalog *cat, const char *name,
		      uint32_t *id, uint64_t *root_oid);
/* Fill *o, or -ESTALE if the oid is unknown. */
int cat_get(struct un_catalog *cat, uint64_t oid, struct cat_obj *o);
/*
 * The oid named (parent, name), inserting rows when the name is new or
 * when the known object has another type (the old one is then removed).
 */
int cat_lookup_insert(struct un_catalog *cat, uint32_t export,
		      uint64_t parent, const char *name, uint8_t type,
		      uint64_t *oid);
/* The oid catalogued for (parent, name), or -ENOENT; inserts nothing. */
int cat_lookup(struct un_catalog *cat, uint32_t export, uint64_t parent,
	       const char *name, uint64_t *oid);
/* A new object under a name that did not exist: drops any stale row. */
int cat_create(struct un_catalog *cat, uint32_t export, uint64_t parent,
	       const char *name, uint8_t type, uint64_t *oid);
/* The name is gone; the object is removed when it was its last name. */
int cat_unlink(struct un_catalog *cat, uint32_t export, uint64_t parent,
	       const char *name, uint64_t *oid);
int cat_link(struct un_catalog *cat, uint32_t export, uint64_t oid,
	     uint64_t parent, const char *name);
int cat_rename(struct un_catalog *cat, uint32_t export, uint64_t oparent,
	       const char *oname, uint64_t nparent, const char *nname);
/*
 * cat_lookup_insert for an object found in `layer` with stat st: a new
 * name of a non-directory with st_nlink > 1 joins the oid already known
 * for that inode (hint table), so every name of a hard link has one
 * fileid.  st may be NULL (no hint used).
 */
int cat_lookup_insert_st(struct un_catalog *cat, uint32_t export,
			 uint64_t parent, const char *name, uint8_t type,
			 int layer, const struct stat *st, uint64_t *oid);
/* Remember that (layer, st_dev, st_ino) is the object oid (a hint). */
int cat_ino_hint(struct un_catalog *cat, uint32_t export, int layer,
		 const struct stat *st, uint64_t oid);
/*
 * Rename intents (see the top of catalog.c): recorded and committed
 * before the disk rename, dropped with the catalog rename.  *id is 0 when
 * the source was never catalogued (nothing to protect).
 */
int cat_intent_begin(struct un_catalog *cat, uint32_t export,
		     uint64_t oparent, const char *oname, uint64_t nparent,
		     const char *nname, int64_t *id);
void cat_intent_done(struct un_catalog *cat, int64_t id);
/* After a crash: apply or drop the intents left for this export. */
int cat_intents_resolve(struct un_export *ex);
/* fsck: every oid with a name; forget one; hints of objects gone. */
int cat_all_oids(struct un_catalog *cat, uint32_t export, uint64_t **oids,
		 size_t *n);
int cat_forget(struct un_catalog *cat, uint64_t oid);
int cat_prune_hints(struct un_catalog *cat, uint32_t export, bool repair);
void cat_set_hint(struct un_catalog *cat, uint64_t oid, int layer,
		  lmask_t mask);
/*
 * Make every write so far durable.  Writes of concurrent requests share
 * one open transaction; the first caller to need durability commits it
 * for everyone (group commit).  Called before a handle leaves the engine.
 * Fails (-ENOSPC, -EIO) when a transaction this thread wrote to or read
 * uncommitted rows from was rolled back, whoever tried to commit it.
 */
int cat_sync(struct un_catalog *cat);
/* Open-time health checks (rebuild.c): before SQLite opens path, and on
 * the freshly opened handle before anything is written.  -EUCLEAN with a
 * message that says what to do for a damaged catalog. */
int cat_precheck(const char *path, char *err, size_t errlen);
int cat_verify(sqlite3 *db, const char *path, char *err, size_t errlen);
void cat_set_cache_max(struct un_catalog *cat, unsigned max);

/* How many names the object has (orphan.c: is this its last one?). */
int cat_name_count(struct un_catalog *cat, uint64_t oid);

/* ---- removed while open (orphan.c) --------------------------------- */

struct un_obj;
#define ORPHAN_DIR UN_TMP_PREFIX "orphans"	/* in the work dir */
int pins_create(struct un_catalog *cat);
void pins_destroy(struct un_catalog *cat);
void orphan_name(uint64_t oid, char buf[24]);
/* 1 when removing this name of oid must keep the object as an orphan. */
int orphan_wanted(struct un_export *ex, uint64_t oid, uint8_t type);
/* Move name (of oid, under the catalogued dir parent; in upper dir upfd)
 * to the orphan dir instead of deleting it; ns_lock held. */
int orphan_remove(struct un_export *ex, uint64_t parent, const char *name,
		  uint64_t oid, bool in_upper, bool whiteout, int upfd);
/* A duplicate of the orphan dir's descriptor, or -ESTALE. */
int orphan_dirfd(struct un_catalog *cat, uint64_t oid);
/* o (an orphan chain) opened where it lives now: o->fd and o->st. */
int orphan_open(struct un_export *ex, struct un_obj *o);
/* The object's file in the upper layer (or the orphan dir), opened. */
int obj_open_upper(struct un_export *ex, struct un_obj *o, int flags);

/* ---- durability (durable.c) ------------------------------------------ */

struct dur;
int dur_create(struct dur **out);
void dur_destroy(struct dur *d);
/* Include the file system of dirfd in every sync round. */
int dur_add_fs(struct dur *d, int dirfd);
/* ... and fdatasync this file (taken over) in rounds that follow a
 * dur_files_dirty(). */
int dur_add_file(struct dur *d, int fd);
void dur_files_dirty(struct dur *d);
/* Return when everything done before the call is on stable storage. */
int dur_sync(struct dur *d);
/* Return when these directories' changes are on stable storage. */
int dur_sync_dirs(struct dur *d, const int *dirfds, unsigned n);
/* Commit the catalog, then make that and the layers durable (grouped). */
int un_durable(struct un_export *ex);
/* The same, for changes confined to the directories dirfds (-1: none). */
int un_durable_dirs(struct un_export *ex, const int *dirfds, unsigned n);

/* ---- export ------------------------------------------------------------ */

struct un_layer {
	int fd;			/* O_PATH|O_DIRECTORY of the layer root */
	char *path;
	dev_t dev;
};

struct fd_cache;
struct rd_cache;

struct un_export {
	struct un_catalog *cat;
	char *name;
	uint32_t id;
	uint64_t root_oid;
	uint64_t verf;		/* readdir cookie verifier */
	bool userxattr;
	bool redirect_dir;	/* lower directories move with a redirect */
	bool metacopy;		/* metadata-only copy-up (copy_up.c) */
	bool has_upper;
	unsigned nlayers;
	struct un_layer layers[UN_MAX_LAYERS];
	int workfd;
	pthread_rwlock_t ns_lock; /* namespace changes vs lookups */
	struct fd_cache *fdc;
	struct rd_cache *rdc;
	uint64_t tmp_seq;	/* names for temporary objects in work */
	pthread_mutex_t tmp_lock;
	/* Observability (stats.c): atomics, updated by copy_up.c. */
	uint64_t copyups_done;
	uint32_t copyups_active;
};

#define UPPER 0			/* layer number of the upper layer */

/* ---- resolution (namei.c) ------------------------------------------- */

/* One step of the path from the export root to an object. */
struct un_ent {
	uint64_t oid;
	lmask_t mask;		/* dirs: layers merged */
	uint8_t type;
	int8_t layer;		/* top layer holding it */
	uint16_t name_off;	/* name at path + name_off */
	uint16_t path_len;	/* its path is path[0..path_len) */
	bool redir;		/* dirs: redirected in lower layers */
};

/*
 * A redirect (overlayfs redirect_dir) followed while a directory was
 * looked up: from layer `from` down, the directory is named str there,
 * in its parent's directory of that layer, or (abs) str is its whole
 * path from the layer root.  str is off/len in the owner's buffer.
 */
struct un_redir {
	uint16_t ent;		/* chains: the entry it belongs to */
	uint8_t from;
	bool abs;
	uint16_t off, len;
};
#define UN_REDIR_MAX 8		/* redirects followed for one directory */
#define UN_CHAIN_REDIR 64	/* ... for all the entries of one chain */
/* In a catalog hint only (cat_set_hint's mask): un_ent.redir. */
#define LMASK_REDIR LBIT(127)

struct un_chain {
	unsigned depth;		/* ent[0] is the root, ent[depth-1] the object */
	bool orphan;		/* ent[1]: removed while open, in the orphan
				 * dir (orphan.c), not in the union */
	struct un_ent ent[UN_DEPTH_MAX];
	char path[UN_PATH_MAX]; /* "a/b/c", NUL-terminated at each use */
	/* the redirects of the entries, in entry order: where their paths in
	 * lower layers differ from path (chain_layer_path) */
	unsigned nredir;
	unsigned rlen;
	struct un_redir redir[UN_CHAIN_REDIR];
	char rbuf[2 * UN_PATH_MAX];
};

/* The object a handle or a path resolved to. */
struct un_obj {
	struct un_chain *ch;
	struct un_ent *e;	/* &ch->ent[ch->depth - 1] */
	int fd;			/* O_PATH of the object in layer e->layer */
	struct stat st;
};

/* The state of one name in a merged directory. */
struct un_child {
	bool found;
	bool upper_wh;		/* the upper layer holds a whiteout there */
	int8_t layer;
	uint8_t type;
	lmask_t mask;
	int fd;			/* O_PATH of the visible object, or -1 */
	struct stat st;
	unsigned nredir;	/* redirects followed below its top layer */
	unsigned rlen;
	struct un_redir redir[UN_REDIR_MAX];
	char rbuf[UN_PATH_MAX];	/* last: not cleared for each lookup */
};

int layer_open(struct un_export *ex, int layer, const char *path, int flags);
int layer_openat(int dirfd, const char *path, int flags);
bool is_whiteout(const struct stat *st);
int is_opaque(struct un_export *ex, int fd);
int set_opaque(struct un_export *ex, int dirfd, const char *name);
const char *ovl_xattr_prefix(const struct un_export *ex);

int obj_resolve(struct un_export *ex, const struct un_handle *fh,
		struct un_obj *o);
int obj_resolve_shared(struct un_export *ex, const struct un_handle *fh,
		       struct un_obj *o);
int obj_resolve_oid(struct un_export *ex, uint64_t oid, struct un_obj *o);
void obj_release(struct un_obj *o);
/* Path of entry i of a chain, NUL-terminated in a scratch buffer. */
const char *chain_path(struct un_chain *ch, unsigned i, char *buf);
int lookup_child(struct un_export *ex, struct un_chain *ch, unsigned di,
		 const char *name, struct un_child *c);
void child_release(struct un_child *c);
/* The layer directories of a merged directory, held for many lookups. */
struct un_dirfds {
	lmask_t mask;		/* layers where the directory was found */
	unsigned nlayers;
	int fd[UN_MAX_LAYERS];	/* O_PATH; valid where mask has the bit */
};
int dirfds_open(struct un_export *ex, struct un_chain *ch, unsigned di,
		struct un_dirfds *d);
void dirfds_close(struct un_dirfds *d);
/* lookup_child relative to d, without opening the child (c->fd is -1). */
int lookup_child_at(struct un_export *ex, const struct un_dirfds *d,
		    const char *name, struct un_child *c);
/* Does a layer below `from` in the dir's set hold this name (visibly)? */
int lower_positive(struct un_export *ex, struct un_chain *ch, unsigned di,
		   const char *name, int from);
/* Append name below entry di (which must be the last); fills the entry. */
int chain_push(struct un_chain *ch, const char *name);
/* Resolve a child into the chain and the catalog (o->ch is extended). */
int obj_step(struct un_export *ex, struct un_obj *o, const char *name);
/* Open the object's parent directory in the object's own layer. */
int obj_parent_fd(struct un_export *ex, struct un_obj *o, int layer);
int obj_refresh(struct un_export *ex, struct un_obj *o);
/*
 * Path of entry i of a chain in layer l, where redirects may have moved
 * it (the upper layer's path is always chain_path's).  -ENAMETOOLONG.
 */
int chain_layer_path(struct un_chain *ch, unsigned i, int l, char *buf);
/* A directory's redirect xattr (fd may be O_PATH): its length, 0 when
 * there is none, -EIO when it is not one overlayfs would follow. */
int get_redirect(struct un_export *ex, int fd, char *buf, size_t len);
/* The hint cat_set_hint keeps for an entry (with LMASK_REDIR). */
void ent_set_hint(struct un_export *ex, const struct un_ent *e);

/* ---- copy-up (copy_up.c) ------------------------------------------- */

/* Make every ancestor and the object itself live in the upper layer. */
int copy_up(struct un_export *ex, struct un_obj *o, bool durable);
/*
 * A lower regular file's copy built in the work dir before ns_lock is
 * taken (copy_up_prebuild, without the lock), published by copy_up_pre
 * if the object still is the lower file st, else dropped by
 * copy_up_discard: a copy of gigabytes does not hold the namespace.
 */
struct un_precopy {
	bool built;
	struct stat st;		/* the lower file it copies */
	char tmp[64];		/* its name in the work dir */
};
void copy_up_prebuild(struct un_export *ex, struct un_obj *o,
		      struct un_precopy *pc);
int copy_up_pre(struct un_export *ex, struct un_obj *o, struct un_precopy *pc);
void copy_up_discard(struct un_export *ex, struct un_precopy *pc);
/*
 * Metacopy (overlayfs metacopy=on), with the export's switch: copy_up_meta
 * copies a lower regular file's metadata only (1; 0 when it does not
 * apply: switch off, not a lower regular file, hard-linked); copy_up()
 * of a metacopy file copies its data.  metacopy_check: 1 when o is a
 * metacopy file; metacopy_data_open: its lower data, opened to read.
 */
int copy_up_meta(struct un_export *ex, struct un_obj *o);
int metacopy_check(struct un_export *ex, const struct un_obj *o);
int metacopy_data_open(struct un_export *ex, struct un_obj *o);
int copy_up_parents(struct un_export *ex, struct un_obj *o);
int work_tmpname(struct un_export *ex, char *buf, size_t len);
int copy_xattrs(struct un_export *ex, int from, int to);
int remove_tree_at(int dirfd, const char *name, int depth);
void work_cleanup(struct un_export *ex);

/* ---- ACLs (acl.c) ----------------------------------------------------- */

/* Give the new object tmp (in the work dir) the ACLs it inherits from
 * the upper directory dirfd's default ACL, as creating it there would. */
int acl_inherit(struct un_export *ex, int dirfd, const char *tmp,
		uint8_t type);
/* POSIX ACL check of the O_PATH fd as the caller (R_OK|W_OK|X_OK), for
 * read-only file systems; -ENODATA when it has no ACL. */
int acl_permission(const struct un_cred *cr, int fd, const struct stat *st,
		   int want);

/* ---- credentials (cred.c) --------------------------------------------- */

int cred_enter(const struct un_cred *cr);
void cred_leave(void);
bool cred_in_group(const struct un_cred *cr, gid_t gid);
/* Check access (R_OK/W_OK/X_OK) to the object fd as the caller. */
int may_access(const struct un_cred *cr, int fd, const struct stat *st,
	       int mask);
int may_delete(const struct un_cred *cr, const struct stat *dir,
	       const struct stat *victim);

/* ---- inode.c -------------------------------------------------------- */

void fdc_invalidate(struct un_export *ex, uint64_t oid);
int fdc_create(struct un_export *ex);
void fdc_destroy(struct un_export *ex);
void obj_attr(const struct un_export *ex, uint64_t oid, const struct stat *st,
	      struct un_attr *a);
int fd_attr(struct un_export *ex, uint64_t oid, int fd, struct un_attr *a);
void wcc_pre(struct un_wcc *w, const struct stat *st);
void wcc_post(struct un_export *ex, struct un_wcc *w, uint64_t oid, int fd);
/* SETATTR of a resolved object (copying it up first); ns_lock held. */
int setattr_obj(struct un_export *ex, const struct un_cred *cr,
		struct un_obj *o, const struct un_sattr *sa);
int apply_sattr(struct un_export *ex, const struct un_cred *cr, int pfd,
		const char *name, uint8_t type, const struct un_sattr *sa);

/* ---- readdir.c ------------------------------------------------------- */

int rdc_create(struct un_export *ex);
void rdc_destroy(struct un_export *ex);
void rdc_invalidate(struct un_export *ex, uint64_t dir_oid);
/* Is the merged directory (the chain's last entry) empty? 1, 0 or -errno */
int dir_is_empty(struct un_export *ex, struct un_obj *dir);

/* ---- util.c --------------------------------------------------------- */

int check_name(const char *name);
uint8_t mode_to_type(mode_t mode);
void handle_encode(const struct un_export *ex, uint64_t oid, uint32_t gen,
		   struct un_handle *fh);
int handle_make(struct un_export *ex, uint64_t oid, struct un_handle *fh);
int handle_decode(const struct un_export *ex, const struct un_handle *fh,
		  uint64_t *oid, uint32_t *gen);
uint64_t name_cookie(const struct un_export *ex, const char *name);

#endif
