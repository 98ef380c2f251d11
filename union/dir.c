/*
 * dir.c - namespace changes: create, mkdir, symlink, mknod, remove, rmdir,
 * rename, link.
 *
 * Each runs under the export's write lock.  Permissions are checked as
 * the caller on the merged directory before anything changes; the work is
 * then done with the server's privileges, in overlayfs's format:
 *  - a new object is built in the work dir with its final owner and mode
 *    and renamed into place, replacing a whiteout if there is one (a new
 *    directory over a whiteout is made opaque first);
 *  - a removed name that still exists below leaves a whiteout, put in
 *    place atomically (RENAME_WHITEOUT, or mknod of the whiteout itself);
 *  - the catalog is updated only after the disk change succeeded (a
 *    rename is announced to the catalog first, see catalog.c);
 *  - before the reply, the change and the catalog are made durable by a
 *    grouped sync (durable.c), outside the namespace lock so that
 *    concurrent requests share it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"

struct new_obj {
	uint8_t type;
	mode_t mode;
	dev_t rdev;
	const char *target;		/* symlinks */
	const struct un_sattr *sa;	/* may be NULL */
	const uint8_t *verf;		/* exclusive create */
};

/* Resolve a directory for a change and check the caller may change it. */
static int dir_begin(struct un_export *ex, const struct un_cred *cr,
		     const struct un_handle *fh, struct un_obj *d,
		     struct un_wcc *wcc)
{
	int rc = obj_resolve(ex, fh, d);

	if (rc < 0)
		return rc;
	wcc_pre(wcc, &d->st);
	if (d->e->type != UN_DIR)
		return -ENOTDIR;
	return may_access(cr, d->fd, &d->st, W_OK | X_OK);
}

static int upper_dir_fd(struct un_export *ex, struct un_obj *d)
{
	char path[UN_PATH_MAX];

	return layer_open(ex, UPPER, chain_path(d->ch, d->ch->depth - 1, path),
			  O_PATH | O_DIRECTORY);
}

static void dir_end(struct un_export *ex, struct un_obj *d,
		    struct un_wcc *wcc)
{
	int fd;

	if (!wcc || !d->ch)
		return;
	fd = ex->has_upper ? upper_dir_fd(ex, d) : -1;
	wcc_post(ex, wcc, d->e->oid, fd >= 0 ? fd : d->fd);
	if (fd >= 0)
		close(fd);
}

/*
 * Durability before the reply (NFSv3 stable namespace changes): the upper
 * directories that changed are synced, grouped with concurrent requests
 * (durable.c), after the namespace lock is dropped.  A directory that
 * cannot be named (-1) makes it a sync of the whole file system.
 */
static int sync_fd_of(struct un_export *ex, struct un_obj *d, int rc)
{
	return rc == 0 && d->ch && ex->has_upper ? upper_dir_fd(ex, d) : -1;
}

static int durable_end(struct un_export *ex, int rc, int *fds, unsigned n)
{
	unsigned i, valid = 0;

	for (i = 0; i < n; i++)
		valid += fds[i] >= 0;
	if (rc == 0)
		rc = un_durable_dirs(ex, fds, valid == n ? n : 0);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

/*
 * A name this request put in the upper layer, to be taken back if the
 * request fails after all, most often because the shared catalog commit
 * that carried its row was lost (a full disk): the client is told it
 * failed, and a GUARDED retry must not find the name.
 */
struct made_name {
	bool made;
	bool is_dir;
	bool over_wh;		/* it replaced a whiteout: put one back */
	uint64_t parent;
	uint64_t oid;
	dev_t dev;
	ino_t ino;
};

/* Swap a fresh whiteout in for name, then drop what it displaced. */
static int rewhiteout(struct un_export *ex, int upfd, const char *name,
		      bool is_dir)
{
	char tmp[64];
	int rc = work_tmpname(ex, tmp, sizeof(tmp));

	if (rc < 0)
		return rc;
	if (mknodat(ex->workfd, tmp, S_IFCHR | 0, makedev(0, 0)) < 0)
		return -errno;
	if (renameat2(ex->workfd, tmp, upfd, name, RENAME_EXCHANGE) < 0) {
		rc = -errno;
		(void)unlinkat(ex->workfd, tmp, 0);
		return rc;
	}
	if (unlinkat(ex->workfd, tmp, is_dir ? AT_REMOVEDIR : 0) == 0)
		return 0;
	/* a directory filled meanwhile: it stays where it was */
	rc = -errno;
	if (renameat2(ex->workfd, tmp, upfd, name, RENAME_EXCHANGE) == 0)
		(void)unlinkat(ex->workfd, tmp, 0);
	return rc;
}

/* Take name out of upfd for good: back to the whiteout, or unlinked. */
static int made_drop(struct un_export *ex, int upfd, const char *name,
		     const struct made_name *m)
{
	if (m->over_wh)
		return rewhiteout(ex, upfd, name, m->is_dir);
	return unlinkat(upfd, name, m->is_dir ? AT_REMOVEDIR : 0) < 0
		       ? -errno : 0;
}

/*
 * The row was committed, but the request failed all the same (it read
 * rows of a transaction that was lost): the name is removed as a REMOVE
 * would, the disk first.  If the catalog cannot commit that either, its
 * row names nothing, as after a crash between the two steps: the name
 * is not found, and a new object under it replaces the row.  Oids are
 * never given again, so a handle someone else got meanwhile answers
 * STALE, as after a REMOVE.  Not for a directory, which someone may have
 * filled by now.
 */
static void made_remove(struct un_export *ex, int upfd, const char *name,
			const struct made_name *m)
{
	uint64_t oid = 0;

	if (m->is_dir || made_drop(ex, upfd, name, m) < 0)
		return;
	if (cat_unlink(ex->cat, ex->id, m->parent, name, &oid) == 0)
		(void)cat_sync(ex->cat);
}

/*
 * Under ns_lock, once the request has failed: name, if it is still the
 * object this request made (dev/ino) and has no other name, is taken
 * back, so that a retry does not find it.  Anything else (the name
 * replaced or renamed, another name made, a directory filled, the
 * catalog unreadable) stays as it is.  Only the upper layer is touched.
 */
static void made_undo(struct un_export *ex, int upfd, const char *name,
		      const struct made_name *m)
{
	struct stat st;
	int names = cat_name_count(ex->cat, m->oid);

	if (names < 0 || names > 1)
		return;
	if (fstatat(upfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != m->dev || st.st_ino != m->ino)
		return;
	/* no row: the transaction that carried it was lost */
	if (names == 0)
		(void)made_drop(ex, upfd, name, m);
	else
		made_remove(ex, upfd, name, m);
}

/* durable_end for a request that may have made a name (upfd: its dir). */
static int durable_made(struct un_export *ex, int rc, int upfd,
			const char *name, const struct made_name *m)
{
	if (rc == 0)
		rc = un_durable_dirs(ex, &upfd, upfd >= 0 ? 1 : 0);
	if (rc < 0 && m->made && upfd >= 0) {
		pthread_rwlock_wrlock(&ex->ns_lock);
		made_undo(ex, upfd, name, m);
		rdc_invalidate(ex, m->parent);
		pthread_rwlock_unlock(&ex->ns_lock);
	}
	if (upfd >= 0)
		close(upfd);
	return rc;
}

static void verf_times(const uint8_t *v, struct timespec ts[2])
{
	ts[0].tv_sec = (time_t)((uint32_t)v[0] << 24 | v[1] << 16 |
				v[2] << 8 | v[3]);
	ts[1].tv_sec = (time_t)((uint32_t)v[4] << 24 | v[5] << 16 |
				v[6] << 8 | v[7]);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
}

static bool verf_matches(const uint8_t *v, const struct stat *st)
{
	struct timespec ts[2];

	verf_times(v, ts);
	return st->st_atim.tv_sec == ts[0].tv_sec &&
	       st->st_mtim.tv_sec == ts[1].tv_sec;
}

static int make_tmp(struct un_export *ex, const struct new_obj *n,
		    const char *tmp)
{
	int fd, rc = 0;

	switch (n->type) {
	case UN_REG:
		fd = openat(ex->workfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
						     O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0)
			return -errno;
		if (n->sa && (n->sa->mask & UN_SET_SIZE) && !n->verf &&
		    ftruncate(fd, (off_t)n->sa->size) < 0)
			rc = -errno;
		close(fd);
		return rc;
	case UN_DIR:
		return mkdirat(ex->workfd, tmp, 0700) < 0 ? -errno : 0;
	case UN_LNK:
		return symlinkat(n->target, ex->workfd, tmp) < 0 ? -errno : 0;
	default:
		return mknodat(ex->workfd, tmp, n->mode & S_IFMT, n->rdev) < 0
			       ? -errno : 0;
	}
}

/* Owner, mode and times of a new object, as the kernel would set them. */
static int tmp_meta(struct un_export *ex, const struct un_cred *cr,
		    const struct stat *dir, const struct new_obj *n,
		    const char *tmp)
{
	gid_t gid = (dir->st_mode & S_ISGID) ? dir->st_gid : cr->gid;
	mode_t perm = n->mode & 07777;
	struct timespec ts[2];

	if (n->type == UN_DIR && (dir->st_mode & S_ISGID))
		perm |= S_ISGID;
	if (n->type != UN_DIR && (perm & S_ISGID) && cr->uid != 0 &&
	    !cred_in_group(cr, gid))
		perm &= (mode_t)~S_ISGID;
	if (fchownat(ex->workfd, tmp, cr->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (n->type != UN_LNK &&
	    fchmodat(ex->workfd, tmp, perm, 0) < 0)
		return -errno;
	ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
	if (n->verf) {
		verf_times(n->verf, ts);
	} else if (n->sa) {
		if (n->sa->mask & UN_SET_ATIME)
			ts[0] = n->sa->atime;
		if (n->sa->mask & UN_SET_MTIME)
			ts[1] = n->sa->mtime;
	}
	if ((ts[0].tv_nsec != UTIME_OMIT || ts[1].tv_nsec != UTIME_OMIT) &&
	    utimensat(ex->workfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* Rename tmp (in work) to name in upfd, over a whiteout if there is one. */
static int tmp_install(struct un_export *ex, const char *tmp, int upfd,
		       const char *name, bool is_dir, bool over_wh)
{
	if (!over_wh)
		return renameat2(ex->workfd, tmp, upfd, name,
				 RENAME_NOREPLACE) < 0 ? -errno : 0;
	if (!is_dir)
		return renameat(ex->workfd, tmp, upfd, name) < 0 ? -errno : 0;
	/* a directory cannot replace a non-directory: swap, then drop the
	 * whiteout that is now in work */
	if (renameat2(ex->workfd, tmp, upfd, name, RENAME_EXCHANGE) < 0)
		return -errno;
	(void)unlinkat(ex->workfd, tmp, 0);
	return 0;
}

/*
 * Create the object under d (a resolved merged dir, the caller's rights
 * already checked) where c says nothing is visible.
 */
static int new_object(struct un_export *ex, const struct un_cred *cr,
		      struct un_obj *d, const struct un_child *c,
		      const char *name, const struct new_obj *n,
		      struct un_obj *out, struct made_name *m)
{
	bool is_dir = n->type == UN_DIR;
	struct stat st;
	char tmp[64];
	uint64_t oid;
	int upfd, rc;

	if ((rc = copy_up(ex, d, false)) < 0)
		return rc;
	if ((upfd = upper_dir_fd(ex, d)) < 0)
		return upfd;
	rc = work_tmpname(ex, tmp, sizeof(tmp));
	if (rc == 0 && (rc = make_tmp(ex, n, tmp)) == 0) {
		rc = tmp_meta(ex, cr, &d->st, n, tmp);
		/* built in work: what the upper dir would have given it */
		if (rc == 0)
			rc = acl_inherit(ex, upfd, tmp, n->type);
		/* a dir over a whiteout must hide what is below; with
		 * redirects, overlayfs (redirect_dir=on) makes every new dir
		 * in a merged one opaque, and so do we: the same layers */
		if (rc == 0 && is_dir &&
		    (c->upper_wh ||
		     (ex->redirect_dir && (d->e->mask & ~LBIT(UPPER)))))
			rc = set_opaque(ex, ex->workfd, tmp);
		if (rc == 0)
			rc = tmp_install(ex, tmp, upfd, name, is_dir,
					 c->upper_wh);
		if (rc < 0)
			(void)unlinkat(ex->workfd, tmp, is_dir ? AT_REMOVEDIR : 0);
	}
	if (rc < 0) {
		close(upfd);
		return rc;
	}
	rdc_invalidate(ex, d->e->oid);
	*m = (struct made_name){ .is_dir = is_dir, .over_wh = c->upper_wh,
				 .parent = d->e->oid };
	rc = cat_create(ex->cat, ex->id, d->e->oid, name, n->type, &oid);
	/* The client is told it failed (the catalog's disk is full, say):
	 * take the new name back (the whiteout it replaced, if any). */
	if (rc < 0)
		(void)made_drop(ex, upfd, name, m);
	/* from here a failure, even the commit's before the reply, takes
	 * this very object back (durable_made) */
	if (rc == 0 && fstatat(upfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		m->made = true;
		m->oid = oid;
		m->dev = st.st_dev;
		m->ino = st.st_ino;
	}
	close(upfd);
	if (rc < 0)
		return rc;
	cat_set_hint(ex->cat, oid, UPPER, is_dir ? LBIT(UPPER) : 0);
	return obj_resolve_oid(ex, oid, out);
}

static int finish_new(struct un_export *ex, struct un_obj *o,
		      struct un_handle *out, struct un_attr *attr)
{
	obj_attr(ex, o->e->oid, &o->st, attr);
	return handle_make(ex, o->e->oid, out);
}

/* The common part of create, mkdir, symlink and mknod. */
static int make_node(struct un_export *ex, const struct un_cred *cr,
		     const struct un_handle *dir, const char *name,
		     const struct new_obj *n, struct un_handle *out,
		     struct un_attr *attr, struct un_wcc *dir_wcc)
{
	struct un_obj d = { 0 }, o = { 0 };
	struct made_name made = { 0 };
	struct un_child c;
	int rc = check_name(name), sfd;

	if (rc < 0)
		return rc;
	if (!ex->has_upper)
		return -EROFS;
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = dir_begin(ex, cr, dir, &d, dir_wcc);
	if (rc == 0) {
		rc = lookup_child(ex, d.ch, d.ch->depth - 1, name, &c);
		child_release(&c);
		if (rc == 0)
			rc = -EEXIST;
		else if (rc == -ENOENT)
			rc = new_object(ex, cr, &d, &c, name, n, &o, &made);
	}
	if (rc == 0)
		rc = finish_new(ex, &o, out, attr);
	dir_end(ex, &d, dir_wcc);
	/* a name made is taken back there if the request fails */
	sfd = sync_fd_of(ex, &d, made.made ? 0 : rc);
	obj_release(&o);
	obj_release(&d);
	pthread_rwlock_unlock(&ex->ns_lock);
	return durable_made(ex, rc, sfd, name, &made);
}

/* CREATE of a name that exists: what each mode makes of it. */
static int create_existing(struct un_export *ex, const struct un_cred *cr,
			   struct un_obj *d, const struct un_child *c,
			   const char *name, enum un_createmode how,
			   const struct un_sattr *sa, const uint8_t *verf,
			   struct un_obj *o)
{
	int rc;

	if (how == UN_CREATE_GUARDED || c->type != UN_REG)
		return -EEXIST;
	if (how == UN_CREATE_EXCLUSIVE &&
	    (!verf || !verf_matches(verf, &c->st)))
		return -EEXIST;
	/* obj_step extends d's chain to the child: o takes it over */
	rc = obj_step(ex, d, name);
	*o = *d;
	d->ch = NULL;
	d->fd = -1;
	if (rc < 0)
		return rc;
	if (how == UN_CREATE_UNCHECKED && sa && (sa->mask & UN_SET_SIZE)) {
		struct un_sattr trunc = { .mask = UN_SET_SIZE,
					  .size = sa->size };

		rc = setattr_obj(ex, cr, o, &trunc);
		if (rc == 0)
			rc = obj_refresh(ex, o);
	}
	return rc;
}

int un_create(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *dir, const char *name,
	      enum un_createmode how, const struct un_sattr *sa,
	      const uint8_t verf[8], struct un_handle *out,
	      struct un_attr *attr, struct un_wcc *dir_wcc)
{
	struct new_obj n = {
		.type = UN_REG,
		.mode = S_IFREG | ((sa && (sa->mask & UN_SET_MODE)) ? sa->mode
								     : 0644),
		.sa = how == UN_CREATE_EXCLUSIVE ? NULL : sa,
		.verf = how == UN_CREATE_EXCLUSIVE ? verf : NULL,
	};
	struct un_obj d = { 0 }, o = { 0 };
	struct made_name made = { 0 };
	struct un_child c;
	int rc = check_name(name), sfd = -1;

	if (rc < 0)
		return rc;
	if (how == UN_CREATE_EXCLUSIVE && !verf)
		return -EINVAL;
	if (!ex->has_upper)
		return -EROFS;
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = dir_begin(ex, cr, dir, &d, dir_wcc);
	if (rc == 0) {
		rc = lookup_child(ex, d.ch, d.ch->depth - 1, name, &c);
		child_release(&c);
		if (rc == 0)
			rc = create_existing(ex, cr, &d, &c, name, how, sa,
					     verf, &o);
		else if (rc == -ENOENT)
			rc = new_object(ex, cr, &d, &c, name, &n, &o,
					&made);
	}
	if (rc == 0)
		rc = finish_new(ex, &o, out, attr);
	if (d.ch) {
		dir_end(ex, &d, dir_wcc);
		/* a new name; an existing file that was truncated has no
		 * directory to name (-1: the whole file system); a name
		 * made is taken back there if the request fails */
		sfd = sync_fd_of(ex, &d, made.made ? 0 : rc);
	} else if (dir_wcc && o.ch) {
		/* d became the child; report the directory from o's chain */
		o.ch->depth--;
		o.e = &o.ch->ent[o.ch->depth - 1];
		dir_end(ex, &o, dir_wcc);
	}
	obj_release(&o);
	obj_release(&d);
	pthread_rwlock_unlock(&ex->ns_lock);
	return durable_made(ex, rc, sfd, name, &made);
}

int un_mkdir(struct un_export *ex, const struct un_cred *cr,
	     const struct un_handle *dir, const char *name,
	     const struct un_sattr *sa, struct un_handle *out,
	     struct un_attr *attr, struct un_wcc *dir_wcc)
{
	struct new_obj n = {
		.type = UN_DIR,
		.mode = S_IFDIR | ((sa && (sa->mask & UN_SET_MODE)) ? sa->mode
								     : 0755),
		.sa = sa,
	};

	return make_node(ex, cr, dir, name, &n, out, attr, dir_wcc);
}

int un_symlink(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *dir, const char *name,
	       const char *target, const struct un_sattr *sa,
	       struct un_handle *out, struct un_attr *attr,
	       struct un_wcc *dir_wcc)
{
	struct new_obj n = { .type = UN_LNK, .mode = S_IFLNK | 0777,
			     .target = target, .sa = sa };

	if (!target || !*target)
		return -EINVAL;
	if (strlen(target) >= UN_PATH_MAX)
		return -ENAMETOOLONG;
	return make_node(ex, cr, dir, name, &n, out, attr, dir_wcc);
}

int un_mknod(struct un_export *ex, const struct un_cred *cr,
	     const struct un_handle *dir, const char *name, enum un_type type,
	     uint32_t major, uint32_t minor, const struct un_sattr *sa,
	     struct un_handle *out, struct un_attr *attr,
	     struct un_wcc *dir_wcc)
{
	struct new_obj n = { .type = (uint8_t)type, .sa = sa };
	mode_t perm = (sa && (sa->mask & UN_SET_MODE)) ? sa->mode : 0644;

	switch (type) {
	case UN_CHR:
	case UN_BLK:
		if (cr->uid != 0)
			return -EPERM; /* CAP_MKNOD */
		n.mode = (type == UN_CHR ? S_IFCHR : S_IFBLK) | perm;
		n.rdev = makedev(major, minor);
		/* 0/0 would be a whiteout: the name would vanish */
		if (type == UN_CHR && n.rdev == makedev(0, 0))
			return -EINVAL;
		break;
	case UN_SOCK:
		n.mode = S_IFSOCK | perm;
		break;
	case UN_FIFO:
		n.mode = S_IFIFO | perm;
		break;
	default:
		return -EINVAL;
	}
	return make_node(ex, cr, dir, name, &n, out, attr, dir_wcc);
}

/* ---- removal ------------------------------------------------------------ */

/*
 * Take name out of the upper dir upfd; leave a whiteout when a lower layer
 * still has something under that name.  What was in upper moves to the
 * work dir under the name left in tmp ("" if none), for the caller to
 * delete once it has let the namespace lock go.
 */
static int remove_upper(struct un_export *ex, int upfd, const char *name,
			bool in_upper, bool whiteout, char tmp[64])
{
	int rc;

	tmp[0] = '\0';
	if (!in_upper) /* only below: hide it */
		return mknodat(upfd, name, S_IFCHR | 0, makedev(0, 0)) < 0
			       ? -errno : 0;
	/* a file with nothing below: one unlink is atomic already (the
	 * caller's descriptor keeps the kernel from freeing it here) */
	if (!whiteout && unlinkat(upfd, name, 0) == 0)
		return 0;
	if (!whiteout && errno != EISDIR)
		return -errno;
	if ((rc = work_tmpname(ex, tmp, 64)) < 0)
		return rc;
	/* one atomic step: the object moves to work, a whiteout (if
	 * needed) takes its place */
	if (renameat2(upfd, name, ex->workfd, tmp,
		      whiteout ? RENAME_WHITEOUT : 0) < 0) {
		tmp[0] = '\0';
		return -errno;
	}
	return 0;
}

static int remove_common(struct un_export *ex, const struct un_cred *cr,
			 const struct un_handle *dir, const char *name,
			 bool want_dir, struct un_wcc *dir_wcc)
{
	struct un_obj d = { 0 }, child = { 0 };
	struct un_child c = { .fd = -1 };
	uint64_t oid = 0;
	char tmp[64] = "";
	int rc = check_name(name), wh, upfd = -1, orphan = 0;

	if (rc < 0)
		return rc;
	if (!ex->has_upper)
		return -EROFS;
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = dir_begin(ex, cr, dir, &d, dir_wcc);
	if (rc == 0)
		rc = lookup_child(ex, d.ch, d.ch->depth - 1, name, &c);
	if (rc == 0 && want_dir != (c.type == UN_DIR))
		rc = want_dir ? -ENOTDIR : -EISDIR;
	if (rc == 0)
		rc = may_delete(cr, &d.st, &c.st);
	if (rc == 0)
		rc = cat_lookup_insert(ex->cat, ex->id, d.e->oid, name, c.type,
				       &oid);
	if (rc == 0 && want_dir && (rc = obj_resolve_oid(ex, oid, &child)) == 0)
		rc = dir_is_empty(ex, &child) > 0 ? 0 : -ENOTEMPTY;
	wh = rc == 0 ? lower_positive(ex, d.ch, d.ch->depth - 1, name, UPPER)
		     : 0;
	if (wh < 0)
		rc = wh;
	if (rc == 0)
		rc = copy_up(ex, &d, false);
	if (rc == 0)
		rc = orphan = orphan_wanted(ex, oid, c.type);
	if (rc >= 0 && (upfd = rc = upper_dir_fd(ex, &d)) >= 0)
		/* open and its last name: kept in the orphan dir */
		rc = orphan ? orphan_remove(ex, d.e->oid, name, oid,
					    c.layer == UPPER, wh > 0, upfd)
			    : remove_upper(ex, upfd, name, c.layer == UPPER,
					   wh > 0, tmp);
	if (rc == 0) {
		fdc_invalidate(ex, oid);
		rdc_invalidate(ex, d.e->oid);
		rdc_invalidate(ex, oid);
		rc = cat_unlink(ex->cat, ex->id, d.e->oid, name, NULL);
	}
	/* upfd (the upper dir) serves for the wcc and the sync */
	if (upfd >= 0 && dir_wcc)
		wcc_post(ex, dir_wcc, d.e->oid, upfd);
	else
		dir_end(ex, &d, dir_wcc);
	if (rc != 0 && upfd >= 0) {
		close(upfd);
		upfd = -1;
	}
	obj_release(&child);
	obj_release(&d);
	pthread_rwlock_unlock(&ex->ns_lock);
	/*
	 * Outside the lock, the slow part: our descriptor was the removed
	 * file's last reference, so the kernel frees it now, and what moved
	 * to work is deleted.  Left there (an error), it is only litter that
	 * the next start clears (work_cleanup): the name is gone already.
	 */
	child_release(&c);
	if (tmp[0])
		(void)remove_tree_at(ex->workfd, tmp, 4);
	return durable_end(ex, rc, &upfd, 1);
}

int un_remove(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *dir, const char *name,
	      struct un_wcc *dir_wcc)
{
	return remove_common(ex, cr, dir, name, false, dir_wcc);
}

int un_rmdir(struct un_export *ex, const struct un_cred *cr,
	     const struct un_handle *dir, const char *name,
	     struct un_wcc *dir_wcc)
{
	return remove_common(ex, cr, dir, name, true, dir_wcc);
}

/* ---- rename ----------------------------------------------------------- */

/* overlayfs's redirect_max: a longer absolute redirect is EXDEV */
#define REDIRECT_MAX 256

struct rename_ctx {
	struct un_obj fd, td, src, victim;
	struct un_child sc, tc;
	uint64_t soid, voids;
	int64_t intent;		/* catalog intent row, 0 if none */
	const char *from, *to;
	bool src_wh, opaque;
	bool redirect;		/* set rval on the source, then move */
	char rval[REDIRECT_MAX + 1];
};

/*
 * An empty merged directory being replaced may still hold whiteouts in
 * upper: make it opaque first (so nothing below shows up meanwhile), then
 * empty it so rename(2) can replace it.
 */
static int clear_upper_dir(struct un_export *ex, int upfd, const char *name)
{
	struct dirent *de;
	DIR *dir;
	int fd, rc = set_opaque(ex, upfd, name);

	if (rc < 0)
		return rc;
	fd = layer_openat(upfd, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = remove_tree_at(dirfd(dir), de->d_name, 4);
	closedir(dir);
	return rc;
}

static bool chain_has(const struct un_chain *ch, uint64_t oid)
{
	for (unsigned i = 0; i < ch->depth; i++)
		if (ch->ent[i].oid == oid)
			return true;
	return false;
}

/* Everything rename(2) would refuse, before anything changes. */
static int rename_check(struct un_export *ex, const struct un_cred *cr,
			struct rename_ctx *r)
{
	struct un_child *sc = &r->sc, *tc = &r->tc;
	int rc;

	rc = lookup_child(ex, r->fd.ch, r->fd.ch->depth - 1, r->from, sc);
	if (rc == 0)
		rc = may_delete(cr, &r->fd.st, &sc->st);
	if (rc == 0)
		rc = cat_lookup_insert(ex->cat, ex->id, r->fd.e->oid, r->from,
				       sc->type, &r->soid);
	if (rc < 0)
		return rc;
	/* without redirects a dir from below cannot move (overlayfs's
	 * redirect_dir=off): the client copies the tree instead */
	if (sc->type == UN_DIR && (sc->mask & ~LBIT(UPPER)) &&
	    !ex->redirect_dir)
		return -EXDEV;
	if (sc->type == UN_DIR && chain_has(r->td.ch, r->soid))
		return -EINVAL;
	rc = lookup_child(ex, r->td.ch, r->td.ch->depth - 1, r->to, tc);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (tc->st.st_ino == sc->st.st_ino && tc->st.st_dev == sc->st.st_dev)
		return 1; /* two names of one file: nothing to do */
	if (sc->type == UN_DIR && tc->type != UN_DIR)
		return -ENOTDIR;
	if (sc->type != UN_DIR && tc->type == UN_DIR)
		return -EISDIR;
	if ((rc = may_delete(cr, &r->td.st, &tc->st)) < 0)
		return rc;
	rc = cat_lookup_insert(ex->cat, ex->id, r->td.e->oid, r->to, tc->type,
			       &r->voids);
	if (rc < 0 || tc->type != UN_DIR)
		return rc;
	if ((rc = obj_resolve_oid(ex, r->voids, &r->victim)) < 0)
		return rc;
	rc = dir_is_empty(ex, &r->victim);
	return rc < 0 ? rc : rc ? 0 : -ENOTEMPTY;
}

/* Bring both directories and a lower source up.  The directories may share
 * ancestors, so each is resolved again after the other's copy-up. */
static int rename_copy_up(struct un_export *ex, const struct un_handle *tofh,
			  struct rename_ctx *r)
{
	uint64_t toid = r->td.e->oid;
	int rc = copy_up(ex, &r->fd, false);

	if (rc < 0)
		return rc;
	(void)tofh;
	obj_release(&r->td);
	if ((rc = obj_resolve_oid(ex, toid, &r->td)) < 0 ||
	    (rc = copy_up(ex, &r->td, false)) < 0)
		return rc;
	if (r->sc.layer == UPPER)
		return 0;
	if ((rc = obj_resolve_oid(ex, r->soid, &r->src)) < 0)
		return rc;
	return copy_up(ex, &r->src, false);
}

/*
 * The redirect of the upper directory name in dirfd as ovl_lookup()
 * takes it: none on an opaque one.  Its length, or 0.
 */
static int upper_redirect(struct un_export *ex, int dirfd, const char *name,
			  char *buf, size_t len)
{
	int fd = layer_openat(dirfd, name, O_PATH | O_DIRECTORY), rc;

	if (fd < 0)
		return fd;
	rc = is_opaque(ex, fd);
	if (rc == 0)
		rc = get_redirect(ex, fd, buf, len);
	else if (rc > 0)
		rc = 0;
	close(fd);
	return rc;
}

/* Prepend name and, unless it is absolute (1: the path is complete), a
 * '/' at buf[*pos]. */
static int redirect_prepend(char *buf, size_t *pos, const char *name)
{
	size_t len = strlen(name);

	if (len + (name[0] != '/') > *pos)
		return -EXDEV; /* as overlayfs: the client copies instead */
	*pos -= len;
	memcpy(buf + *pos, name, len);
	if (name[0] == '/')
		return 1;
	buf[--*pos] = '/';
	return 0;
}

/*
 * ovl_set_redirect(): what the source directory, already in upper under
 * its old name, must say so that the layers below are still found after
 * the move.  In the same directory its old name (unless it already has a
 * redirect); elsewhere its absolute path below (ovl_get_redirect()): the
 * names, or redirects, of it and its ancestors up to the root or to an
 * absolute redirect.  1 with r->rval set, 0 when its redirect will do.
 */
static int rename_redirect(struct un_export *ex, struct rename_ctx *r)
{
	struct un_chain *ch = r->fd.ch;
	char cur[UN_PATH_MAX], path[UN_PATH_MAX], buf[REDIRECT_MAX + 1];
	size_t pos = REDIRECT_MAX;
	unsigned i = ch->depth;
	int sfd, n, rc = 0;

	if ((sfd = upper_dir_fd(ex, &r->fd)) < 0)
		return sfd;
	n = upper_redirect(ex, sfd, r->from, cur, sizeof(cur));
	close(sfd);
	if (n < 0)
		return n;
	if (n > 0 && (r->fd.e->oid == r->td.e->oid || cur[0] == '/'))
		return 0;
	if (r->fd.e->oid == r->td.e->oid) {
		snprintf(r->rval, sizeof(r->rval), "%s", r->from);
		return 1;
	}
	buf[pos] = '\0';
	rc = redirect_prepend(buf, &pos, n > 0 ? cur : r->from);
	/* up through the old parent's ancestors (all in upper now) */
	while (rc == 0 && --i > 0) {
		const struct un_ent *e = &ch->ent[i];

		chain_path(ch, i, path);
		n = upper_redirect(ex, ex->layers[UPPER].fd, path, cur,
				   sizeof(cur));
		if (n < 0)
			return n;
		rc = redirect_prepend(buf, &pos,
				      n > 0 ? cur : path + e->name_off);
	}
	if (rc < 0)
		return rc;
	memcpy(r->rval, buf + pos, REDIRECT_MAX + 1 - pos);
	return 1;
}

/* Write the redirect, durable before the rename that needs it (a crash
 * in between leaves a directory redirected to where it still is). */
static int set_redirect(struct un_export *ex, int dirfd, const char *name,
			const char *val)
{
	char xname[64];
	int fd, rc = 0;

	snprintf(xname, sizeof(xname), "%sredirect", ovl_xattr_prefix(ex));
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				 O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* as overlayfs: a redirect that cannot be written is EXDEV, and
	 * the client copies the tree instead */
	if (fsetxattr(fd, xname, val, strlen(val), 0) < 0)
		rc = -EXDEV;
	else if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int rename_disk(struct un_export *ex, struct rename_ctx *r)
{
	bool is_dir = r->sc.type == UN_DIR;
	int sfd, tfd, rc = 0;
	unsigned flags;

	sfd = upper_dir_fd(ex, &r->fd);
	tfd = upper_dir_fd(ex, &r->td);
	if (sfd < 0 || tfd < 0) {
		rc = sfd < 0 ? sfd : tfd;
		goto out;
	}
	if (r->opaque)
		rc = set_opaque(ex, sfd, r->from);
	if (rc == 0 && r->redirect)
		rc = set_redirect(ex, sfd, r->from, r->rval);
	if (rc == 0 && r->tc.found && r->tc.type == UN_DIR &&
	    r->tc.layer == UPPER)
		rc = clear_upper_dir(ex, tfd, r->to);
	if (rc < 0)
		goto out;
	if (is_dir && r->tc.upper_wh) {
		/* a dir cannot replace the whiteout: swap them; the
		 * whiteout lands at the source, where it may be needed */
		if (renameat2(sfd, r->from, tfd, r->to, RENAME_EXCHANGE) < 0)
			rc = -errno;
		else if (!r->src_wh && unlinkat(sfd, r->from, 0) < 0)
			rc = -errno;
		goto out;
	}
	flags = r->src_wh ? RENAME_WHITEOUT : 0;
	if (!r->tc.upper_wh && !(r->tc.found && r->tc.layer == UPPER))
		flags |= RENAME_NOREPLACE;
	if (renameat2(sfd, r->from, tfd, r->to, flags) < 0)
		rc = -errno;
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	return rc;
}

/*
 * The file renamed over is open and this is its last name: it moves to
 * the orphan dir first (leaving a whiteout if a layer below has the
 * name), and the rename then takes its place as if it were in upper.
 */
static int rename_orphan_victim(struct un_export *ex, struct rename_ctx *r)
{
	int wh = lower_positive(ex, r->td.ch, r->td.ch->depth - 1, r->to,
				UPPER), tfd, rc;

	if (wh < 0)
		return wh;
	if ((tfd = upper_dir_fd(ex, &r->td)) < 0)
		return tfd;
	rc = orphan_remove(ex, r->td.e->oid, r->to, r->voids,
			   r->tc.layer == UPPER, wh > 0, tfd);
	close(tfd);
	if (rc == 0)
		r->tc.layer = UPPER; /* a whiteout or nothing, replaced */
	return rc;
}

static int rename_locked(struct un_export *ex, const struct un_cred *cr,
			 const struct un_handle *fromdir,
			 const struct un_handle *todir, struct rename_ctx *r,
			 struct un_wcc *from_wcc, struct un_wcc *to_wcc)
{
	int rc;

	if ((rc = dir_begin(ex, cr, fromdir, &r->fd, from_wcc)) < 0 ||
	    (rc = dir_begin(ex, cr, todir, &r->td, to_wcc)) < 0)
		return rc;
	if (r->fd.e->oid == r->td.e->oid && strcmp(r->from, r->to) == 0)
		return lookup_child(ex, r->fd.ch, r->fd.ch->depth - 1, r->from,
				    &r->sc);
	if ((rc = rename_check(ex, cr, r)) != 0)
		return rc > 0 ? 0 : rc;
	rc = lower_positive(ex, r->fd.ch, r->fd.ch->depth - 1, r->from, UPPER);
	if (rc < 0)
		return rc;
	r->src_wh = rc > 0;
	if (r->sc.type == UN_DIR && !(r->sc.mask & ~LBIT(UPPER))) {
		rc = lower_positive(ex, r->td.ch, r->td.ch->depth - 1, r->to,
				    UPPER);
		if (rc < 0)
			return rc;
		/* As overlayfs does: a directory only in upper moved into
		 * a merged directory turns opaque, so that nothing below
		 * the new name can ever show through it.  One from below
		 * gets a redirect instead (rename_redirect). */
		r->opaque = rc > 0 || r->tc.upper_wh ||
			    (r->td.e->mask & ~LBIT(UPPER));
	}
	if ((rc = rename_copy_up(ex, todir, r)) < 0)
		return rc;
	if (r->voids && (rc = orphan_wanted(ex, r->voids, r->tc.type)) != 0 &&
	    (rc < 0 || (rc = rename_orphan_victim(ex, r)) < 0))
		return rc;
	if (r->sc.type == UN_DIR && (r->sc.mask & ~LBIT(UPPER))) {
		if ((rc = rename_redirect(ex, r)) < 0)
			return rc;
		r->redirect = rc > 0;
	}
	rc = cat_intent_begin(ex->cat, ex->id, r->fd.e->oid, r->from,
			      r->td.e->oid, r->to, &r->intent);
	if (rc < 0)
		return rc;
	if ((rc = rename_disk(ex, r)) < 0) {
		cat_intent_done(ex->cat, r->intent);
		return rc;
	}
	if (r->voids)
		fdc_invalidate(ex, r->voids);
	rdc_invalidate(ex, r->fd.e->oid);
	rdc_invalidate(ex, r->td.e->oid);
	if (r->voids)
		rdc_invalidate(ex, r->voids);
	rdc_invalidate(ex, r->soid);
	rc = cat_rename(ex->cat, ex->id, r->fd.e->oid, r->from,
			r->td.e->oid, r->to);
	if (rc == 0)
		cat_intent_done(ex->cat, r->intent);
	return rc;
}

int un_rename(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fromdir, const char *fromname,
	      const struct un_handle *todir, const char *toname,
	      struct un_wcc *from_wcc, struct un_wcc *to_wcc)
{
	struct rename_ctx r = { .from = fromname, .to = toname };
	int rc, sfd[2];

	r.sc.fd = r.tc.fd = -1;
	if ((rc = check_name(fromname)) < 0 || (rc = check_name(toname)) < 0)
		return rc;
	if (!ex->has_upper)
		return -EROFS;
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = rename_locked(ex, cr, fromdir, todir, &r, from_wcc, to_wcc);
	child_release(&r.sc);
	child_release(&r.tc);
	if (r.fd.ch)
		dir_end(ex, &r.fd, from_wcc);
	if (r.td.ch)
		dir_end(ex, &r.td, to_wcc);
	sfd[0] = sync_fd_of(ex, &r.fd, rc);
	sfd[1] = sync_fd_of(ex, &r.td, rc);
	obj_release(&r.fd);
	obj_release(&r.td);
	obj_release(&r.src);
	obj_release(&r.victim);
	pthread_rwlock_unlock(&ex->ns_lock);
	return durable_end(ex, rc, sfd, 2);
}

/* ---- link ----------------------------------------------------------- */

static int link_locked(struct un_export *ex, const struct un_cred *cr,
		       const struct un_handle *fh, const struct un_handle *dir,
		       const char *name, struct un_obj *o, struct un_obj *d,
		       struct un_wcc *dir_wcc)
{
	struct un_child c;
	char tmp[64];
	uint64_t oid;
	int opfd = -1, upfd = -1, rc;

	if ((rc = obj_resolve(ex, fh, o)) < 0)
		return rc;
	if (o->e->type == UN_DIR)
		return -EISDIR;
	if (o->ch->orphan) /* no name left to link to, as link(2) says */
		return -ENOENT;
	oid = o->e->oid;
	if ((rc = dir_begin(ex, cr, dir, d, dir_wcc)) < 0)
		return rc;
	rc = lookup_child(ex, d->ch, d->ch->depth - 1, name, &c);
	child_release(&c);
	if (rc != -ENOENT)
		return rc == 0 ? -EEXIST : rc;
	/* the dir first, then the file (they may share ancestors) */
	if ((rc = copy_up(ex, d, false)) < 0)
		return rc;
	obj_release(o);
	if ((rc = obj_resolve_oid(ex, oid, o)) < 0 ||
	    (rc = copy_up(ex, o, false)) < 0)
		return rc;
	opfd = obj_parent_fd(ex, o, UPPER);
	upfd = upper_dir_fd(ex, d);
	if (opfd < 0 || upfd < 0) {
		rc = opfd < 0 ? opfd : upfd;
		goto out;
	}
	if (!c.upper_wh) {
		if (linkat(opfd, o->ch->path + o->e->name_off, upfd, name, 0) < 0)
			rc = -errno;
	} else if ((rc = work_tmpname(ex, tmp, sizeof(tmp))) == 0) {
		if (linkat(opfd, o->ch->path + o->e->name_off, ex->workfd, tmp,
			   0) < 0)
			rc = -errno;
		else if (renameat(ex->workfd, tmp, upfd, name) < 0) {
			rc = -errno;
			(void)unlinkat(ex->workfd, tmp, 0);
		}
	}
	if (rc == 0) {
		rdc_invalidate(ex, d->e->oid);
		/* the source's listing may keep it as a file of one name,
		 * and link(2) tells only the new name's directory */
		rdc_invalidate(ex, o->ch->ent[o->ch->depth - 2].oid);
		rc = cat_link(ex->cat, ex->id, oid, d->e->oid, name);
	}
	if (rc == 0)
		rc = obj_refresh(ex, o);
out:
	if (opfd >= 0)
		close(opfd);
	if (upfd >= 0)
		close(upfd);
	return rc;
}

int un_link(struct un_export *ex, const struct un_cred *cr,
	    const struct un_handle *fh, const struct un_handle *dir,
	    const char *name, struct un_attr *attr, struct un_wcc *dir_wcc)
{
	struct un_obj o = { 0 }, d = { 0 };
	int rc = check_name(name), sfd;

	if (rc < 0)
		return rc;
	if (!ex->has_upper)
		return -EROFS;
	o.fd = d.fd = -1;
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = link_locked(ex, cr, fh, dir, name, &o, &d, dir_wcc);
	if (rc == 0)
		obj_attr(ex, o.e->oid, &o.st, attr);
	if (d.ch)
		dir_end(ex, &d, dir_wcc);
	/* the new name; the file's link count goes with it in the journal
	 * TODO: fsync the file itself on file systems without one */
	sfd = sync_fd_of(ex, &d, rc);
	obj_release(&o);
	obj_release(&d);
	pthread_rwlock_unlock(&ex->ns_lock);
	return durable_end(ex, rc, &sfd, 1);
}
