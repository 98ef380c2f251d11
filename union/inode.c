/*
 * inode.c - operations on one object: attributes, lookup, access, data.
 *
 * READ and WRITE go through a bounded cache of open descriptors (oid ->
 * fd of the file in its current layer), so a stream of writes does not
 * open and close the file each time.  Entries are dropped when the object
 * is copied up or removed; holders keep the descriptor alive by a count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define FDC_MAX 256
#define FDC_BUCKETS 1024

struct fdc_ent {
	struct fdc_ent *hnext, *prev, *next;
	uint64_t oid;
	int fd;
	int mfd;		/* metacopy: O_PATH of the upper file (the
				 * metadata; fd has the lower data), else -1 */
	int8_t layer;
	bool writable;
	bool hashed;
	unsigned refs;
	/* Writers of one file take turns here: the kernel serialises
	 * buffered writes to one inode anyway, and its lock spins where
	 * this one sleeps, leaving the CPU to the requests in flight. */
	pthread_mutex_t wlock;
};

struct fd_cache {
	pthread_mutex_t lock;
	struct fdc_ent *hash[FDC_BUCKETS];
	struct fdc_ent lru;
	unsigned n;
};

static unsigned fdc_bucket(uint64_t oid)
{
	return (unsigned)(oid % FDC_BUCKETS);
}

int fdc_create(struct un_export *ex)
{
	struct fd_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->lru.next = c->lru.prev = &c->lru;
	ex->fdc = c;
	return 0;
}

static void fdc_free(struct fdc_ent *e)
{
	pthread_mutex_destroy(&e->wlock);
	close(e->fd);
	if (e->mfd >= 0)
		close(e->mfd);
	free(e);
}

/* Take e out of the table; it is freed when its last holder lets go. */
static void fdc_unhash(struct fd_cache *c, struct fdc_ent *e)
{
	struct fdc_ent **pp = &c->hash[fdc_bucket(e->oid)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->hashed = false;
	c->n--;
	if (e->refs == 0)
		fdc_free(e);
}

void fdc_destroy(struct un_export *ex)
{
	struct fd_cache *c = ex->fdc;

	if (!c)
		return;
	while (c->n)
		fdc_unhash(c, c->lru.prev);
	pthread_mutex_destroy(&c->lock);
	free(c);
	ex->fdc = NULL;
}

static struct fdc_ent *fdc_get(struct un_export *ex, uint64_t oid)
{
	struct fd_cache *c = ex->fdc;
	struct fdc_ent *e;

	pthread_mutex_lock(&c->lock);
	for (e = c->hash[fdc_bucket(oid)]; e && e->oid != oid; e = e->hnext)
		;
	if (e) {
		e->refs++;
		e->prev->next = e->next;
		e->next->prev = e->prev;
		e->next = c->lru.next;
		e->prev = &c->lru;
		c->lru.next->prev = e;
		c->lru.next = e;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

static void fdc_put(struct un_export *ex, struct fdc_ent *e)
{
	pthread_mutex_lock(&ex->fdc->lock);
	if (--e->refs == 0 && !e->hashed)
		fdc_free(e);
	pthread_mutex_unlock(&ex->fdc->lock);
}

static struct fdc_ent *fdc_insert(struct un_export *ex, uint64_t oid, int fd,
				  int mfd, int layer, bool writable)
{
	struct fd_cache *c = ex->fdc;
	struct fdc_ent *e = calloc(1, sizeof(*e)), *old;
	unsigned b = fdc_bucket(oid);

	if (!e)
		return NULL;
	e->oid = oid;
	e->fd = fd;
	e->mfd = mfd;
	e->layer = (int8_t)layer;
	e->writable = writable;
	e->refs = 1;
	e->hashed = true;
	pthread_mutex_init(&e->wlock, NULL);
	pthread_mutex_lock(&c->lock);
	for (old = c->hash[b]; old && old->oid != oid; old = old->hnext)
		;
	if (old)
		fdc_unhash(c, old);
	e->hnext = c->hash[b];
	c->hash[b] = e;
	e->next = c->lru.next;
	e->prev = &c->lru;
	c->lru.next->prev = e;
	c->lru.next = e;
	if (++c->n > FDC_MAX)
		fdc_unhash(c, c->lru.prev);
	pthread_mutex_unlock(&c->lock);
	return e;
}

void fdc_invalidate(struct un_export *ex, uint64_t oid)
{
	struct fd_cache *c = ex->fdc;
	struct fdc_ent *e;

	pthread_mutex_lock(&c->lock);
	for (e = c->hash[fdc_bucket(oid)]; e && e->oid != oid; e = e->hnext)
		;
	if (e)
		fdc_unhash(c, e);
	pthread_mutex_unlock(&c->lock);
}

/* ---- attributes ------------------------------------------------------ */

void obj_attr(const struct un_export *ex, uint64_t oid, const struct stat *st,
	      struct un_attr *a)
{
	if (!a)
		return;
	memset(a, 0, sizeof(*a));
	a->type = mode_to_type(st->st_mode);
	a->mode = st->st_mode & 07777;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->size = (uint64_t)st->st_size;
	a->used = (uint64_t)st->st_blocks * 512;
	a->rdev_major = major(st->st_rdev);
	a->rdev_minor = minor(st->st_rdev);
	a->fsid = ex->id;
	a->fileid = oid;
	a->atime = st->st_atim;
	a->mtime = st->st_mtim;
	a->ctime = st->st_ctim;
}

int fd_attr(struct un_export *ex, uint64_t oid, int fd, struct un_attr *a)
{
	struct stat st;

	if (!a)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	obj_attr(ex, oid, &st, a);
	return 0;
}

void wcc_pre(struct un_wcc *w, const struct stat *st)
{
	if (!w)
		return;
	w->pre_valid = true;
	w->pre_size = (uint64_t)st->st_size;
	w->pre_mtime = st->st_mtim;
	w->pre_ctime = st->st_ctim;
}

void wcc_post(struct un_export *ex, struct un_wcc *w, uint64_t oid, int fd)
{
	if (!w)
		return;
	w->post_valid = fd_attr(ex, oid, fd, &w->post) == 0;
}

/* A metacopy file's space used is its lower data's, as overlayfs shows. */
static void data_used(int datafd, struct un_attr *a)
{
	struct stat st;

	if (fstat(datafd, &st) == 0)
		a->used = (uint64_t)st.st_blocks * 512;
}

int un_getattr(struct un_export *ex, const struct un_handle *fh,
	       struct un_attr *attr)
{
	struct un_obj o;
	int rc, fd;

	rc = obj_resolve_shared(ex, fh, &o);
	if (rc < 0)
		return rc;
	obj_attr(ex, o.e->oid, &o.st, attr);
	if (attr && metacopy_check(ex, &o) > 0 &&
	    (fd = metacopy_data_open(ex, &o)) >= 0) {
		data_used(fd, attr);
		close(fd);
	}
	obj_release(&o);
	return 0;
}

/* ---- setattr ----------------------------------------------------------- */

static int may_io(const struct un_cred *cr, int fd, const struct stat *st,
		  int mask);
static int setattr_allowed(const struct un_cred *cr, int fd,
			   const struct stat *st, const struct un_sattr *sa);
static int verify_handle(struct un_export *ex, const struct un_handle *fh,
			 uint64_t *oid);
static int setattr_obj_pre(struct un_export *ex, const struct un_cred *cr,
			   struct un_obj *o, const struct un_sattr *sa,
			   struct un_precopy *pc);

/*
 * Before ns_lock is taken for a change that copies a lower regular file
 * (or a metacopy file's data) up: build the copy without the lock
 * (copy_up_prebuild), if the caller may make the change (WRITE when sa
 * is NULL, else SETATTR sa), so a refused request copies nothing.
 */
static void precopy_oid(struct un_export *ex, const struct un_cred *cr,
			uint64_t oid, const struct un_sattr *sa,
			struct un_precopy *pc)
{
	struct un_obj o;
	int rc;

	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = obj_resolve_oid(ex, oid, &o);
	pthread_rwlock_unlock(&ex->ns_lock);
	if (rc < 0)
		return;
	/* upper: a metacopy file's data (copy_up_prebuild checks) */
	if ((o.e->layer != UPPER || ex->metacopy) && o.e->type == UN_REG &&
	    (sa ? setattr_allowed(cr, o.fd, &o.st, sa)
		: may_io(cr, o.fd, &o.st, W_OK)) == 0)
		copy_up_prebuild(ex, &o, pc);
	obj_release(&o);
}

/*
 * What chmod/chown/utimes/truncate would allow, checked before a lower
 * object is copied up, so a refused request leaves no copy behind.  The
 * kernel checks again when the change is made (as the caller).
 */
static int setattr_allowed(const struct un_cred *cr, int fd,
			   const struct stat *st, const struct un_sattr *sa)
{
	bool owner = cr->uid == 0 || cr->uid == st->st_uid;

	if ((sa->mask & UN_SET_MODE) && !owner)
		return -EPERM;
	if ((sa->mask & UN_SET_UID) && sa->uid != st->st_uid && cr->uid != 0)
		return -EPERM;
	if ((sa->mask & UN_SET_GID) && sa->gid != st->st_gid &&
	    cr->uid != 0 && (!owner || !cred_in_group(cr, sa->gid)))
		return -EPERM;
	if ((sa->mask & (UN_SET_ATIME | UN_SET_MTIME)) && !owner)
		return -EPERM;
	if ((sa->mask & (UN_SET_ATIME_NOW | UN_SET_MTIME_NOW)) && !owner &&
	    may_access(cr, fd, st, W_OK) < 0)
		return -EACCES;
	if ((sa->mask & UN_SET_SIZE) && !owner &&
	    may_access(cr, fd, st, W_OK) < 0)
		return -EACCES;
	return 0;
}

static int truncate_at(int pfd, const char *name, uint64_t size)
{
	int fd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static void sattr_times(const struct un_sattr *sa, struct timespec ts[2])
{
	ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
	if (sa->mask & UN_SET_ATIME)
		ts[0] = sa->atime;
	if (sa->mask & UN_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	if (sa->mask & UN_SET_MTIME)
		ts[1] = sa->mtime;
	if (sa->mask & UN_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
}

/* Apply sa to pfd/name as the caller: the kernel enforces the rules. */
int apply_sattr(struct un_export *ex, const struct un_cred *cr, int pfd,
		const char *name, uint8_t type, const struct un_sattr *sa)
{
	uint32_t m = sa->mask;
	struct timespec ts[2];
	int rc;

	if ((m & UN_SET_SIZE) && type != UN_REG)
		return type == UN_DIR ? -EISDIR : -EINVAL;
	if ((rc = cred_enter(cr)) < 0)
		return rc;
	if ((m & (UN_SET_UID | UN_SET_GID)) &&
	    fchownat(pfd, name, (m & UN_SET_UID) ? sa->uid : (uid_t)-1,
		     (m & UN_SET_GID) ? sa->gid : (gid_t)-1,
		     AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc == 0 && (m & UN_SET_MODE) && type != UN_LNK &&
	    fchmodat(pfd, name, sa->mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc == 0 && (m & UN_SET_SIZE))
		rc = truncate_at(pfd, name, sa->size);
	sattr_times(sa, ts);
	if (rc == 0 && (ts[0].tv_nsec != UTIME_OMIT ||
			ts[1].tv_nsec != UTIME_OMIT) &&
	    utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	cred_leave();
	(void)ex;
	return rc;
}

static bool ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int setattr_obj(struct un_export *ex, const struct un_cred *cr,
			  struct un_obj *o, const struct un_sattr *sa)
{
	return setattr_obj_pre(ex, cr, o, sa, NULL);
}

static int setattr_obj_pre(struct un_export *ex, const struct un_cred *cr,
			   struct un_obj *o, const struct un_sattr *sa,
			   struct un_precopy *pc)
{
	const char *name = ".";
	int pfd, rc;

	if (o->e->layer != UPPER || (sa->mask & UN_SET_SIZE)) {
		if (!ex->has_upper)
			return -EROFS;
		if ((rc = setattr_allowed(cr, o->fd, &o->st, sa)) < 0)
			return rc;
		/* metadata only if it can (metacopy), or the whole file; a
		 * size change of a metacopy file copies its data up first */
		rc = (sa->mask & UN_SET_SIZE) ? 0 : copy_up_meta(ex, o);
		if (rc == 0)
			rc = copy_up_pre(ex, o, pc);
		if (rc < 0)
			return rc;
	}
	if (o->ch->depth > 1) {
		pfd = obj_parent_fd(ex, o, UPPER);
		if (pfd < 0)
			return pfd;
		name = o->ch->path + o->e->name_off;
	} else {
		pfd = ex->layers[UPPER].fd;
	}
	rc = apply_sattr(ex, cr, pfd, name, o->e->type, sa);
	if (pfd != ex->layers[UPPER].fd)
		close(pfd);
	return rc;
}

int un_setattr(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *fh, const struct un_sattr *sa,
	       const struct timespec *guard_ctime, struct un_wcc *wcc)
{
	struct un_precopy pc = { .built = false };
	struct un_obj o;
	uint64_t oid;
	int rc;

	/* a change of metadata only copies no data with metacopy */
	if (ex->has_upper && (!ex->metacopy || (sa->mask & UN_SET_SIZE)) &&
	    verify_handle(ex, fh, &oid) == 0)
		precopy_oid(ex, cr, oid, sa, &pc);
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = obj_resolve(ex, fh, &o);
	if (rc < 0)
		goto out;
	wcc_pre(wcc, &o.st);
	if (guard_ctime && !ts_equal(guard_ctime, &o.st.st_ctim))
		rc = -UN_ENOTSYNC;
	else if (!ex->has_upper)
		rc = -EROFS;
	else
		rc = setattr_obj_pre(ex, cr, &o, sa, &pc);
	if (o.fd >= 0)
		wcc_post(ex, wcc, o.e->oid, o.fd);
	obj_release(&o);
out:
	pthread_rwlock_unlock(&ex->ns_lock);
	copy_up_discard(ex, &pc);
	/* NFSv3: SETATTR is stable before the reply (grouped sync) */
	return rc < 0 ? rc : un_durable(ex);
}

/* ---- lookup, access, readlink ---------------------------------------- */

static int dir_search(struct un_export *ex, const struct un_cred *cr,
		      struct un_obj *o)
{
	if (o->e->type != UN_DIR)
		return -ENOTDIR;
	return may_access(cr, o->fd, &o->st, X_OK);
}

int un_lookup(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *dir, const char *name,
	      struct un_handle *out, struct un_attr *attr,
	      struct un_attr *dir_attr)
{
	struct un_obj o;
	int rc = check_name(name);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = obj_resolve(ex, dir, &o);
	if (rc < 0)
		goto out;
	obj_attr(ex, o.e->oid, &o.st, dir_attr);
	rc = dir_search(ex, cr, &o);
	if (rc == 0)
		rc = obj_step(ex, &o, name);
	if (rc == 0) {
		obj_attr(ex, o.e->oid, &o.st, attr);
		rc = handle_make(ex, o.e->oid, out);
	}
	obj_release(&o);
out:
	pthread_rwlock_unlock(&ex->ns_lock);
	return rc < 0 ? rc : cat_sync(ex->cat);
}

int un_lookup_parent(struct un_export *ex, const struct un_cred *cr,
		     const struct un_handle *dir, struct un_handle *out,
		     struct un_attr *attr)
{
	struct un_obj o, p;
	uint64_t poid;
	int rc;

	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = obj_resolve(ex, dir, &o);
	if (rc < 0)
		goto out;
	rc = dir_search(ex, cr, &o);
	poid = o.ch->depth > 1 ? o.ch->ent[o.ch->depth - 2].oid : o.e->oid;
	obj_release(&o);
	if (rc == 0)
		rc = obj_resolve_oid(ex, poid, &p);
	if (rc == 0) {
		obj_attr(ex, poid, &p.st, attr);
		obj_release(&p);
		rc = handle_make(ex, poid, out);
	}
out:
	pthread_rwlock_unlock(&ex->ns_lock);
	return rc;
}

int un_access(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fh, uint32_t want, uint32_t *granted,
	      struct un_attr *attr)
{
	bool dir, ro = !ex->has_upper;
	struct un_obj o;
	uint32_t g = 0;
	int rc;

	rc = obj_resolve_shared(ex, fh, &o);
	if (rc < 0)
		return rc;
	dir = o.e->type == UN_DIR;
	if ((want & UN_ACCESS_READ) && may_access(cr, o.fd, &o.st, R_OK) == 0)
		g |= UN_ACCESS_READ;
	if ((want & (UN_ACCESS_MODIFY | UN_ACCESS_EXTEND)) && !ro &&
	    may_access(cr, o.fd, &o.st, W_OK) == 0)
		g |= want & (UN_ACCESS_MODIFY | UN_ACCESS_EXTEND);
	if ((want & UN_ACCESS_DELETE) && dir && !ro &&
	    may_access(cr, o.fd, &o.st, W_OK | X_OK) == 0)
		g |= UN_ACCESS_DELETE;
	if ((want & (UN_ACCESS_LOOKUP | UN_ACCESS_EXECUTE)) &&
	    may_access(cr, o.fd, &o.st, X_OK) == 0)
		g |= want & (dir ? UN_ACCESS_LOOKUP : UN_ACCESS_EXECUTE);
	*granted = g;
	obj_attr(ex, o.e->oid, &o.st, attr);
	obj_release(&o);
	return 0;
}

int un_readlink(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, char *buf, size_t buflen,
		struct un_attr *attr)
{
	struct un_obj o;
	ssize_t n;
	int rc;

	rc = obj_resolve_shared(ex, fh, &o);
	if (rc < 0)
		return rc;
	obj_attr(ex, o.e->oid, &o.st, attr);
	if (o.e->type != UN_LNK) {
		rc = -EINVAL;
	} else if (buflen == 0 || (size_t)o.st.st_size >= buflen) {
		rc = -ENAMETOOLONG;
	} else {
		/* the link itself, through its O_PATH descriptor */
		n = readlinkat(o.fd, "", buf, buflen - 1);
		rc = n < 0 ? -errno : (int)n;
		if (n >= 0)
			buf[n] = '\0';
	}
	obj_release(&o);
	return rc;
}

/* ---- data ----------------------------------------------------------- */

/* Handle -> oid, checking tag, generation and removal (cheap: cache). */
static int verify_handle(struct un_export *ex, const struct un_handle *fh,
			 uint64_t *oid)
{
	struct cat_obj co;
	uint32_t gen;
	int rc = handle_decode(ex, fh, oid, &gen);

	if (rc == 0)
		rc = cat_get(ex->cat, *oid, &co);
	if (rc == 0 && (co.gen != gen || co.removed))
		rc = -ESTALE;
	return rc;
}

static int type_err(uint8_t type)
{
	return type == UN_REG ? 0 : type == UN_DIR ? -EISDIR : -EINVAL;
}

static struct fdc_ent *open_meta_data(struct un_export *ex,
				      struct un_obj *o);

/* Open the file of o where it lives, for the descriptor cache. */
static struct fdc_ent *open_data(struct un_export *ex, struct un_obj *o)
{
	char path[UN_PATH_MAX];
	bool upper = o->e->layer == UPPER && ex->has_upper;
	int fd = metacopy_check(ex, o);

	if (fd > 0)
		return open_meta_data(ex, o);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	fd = -1;
	if (upper) /* or in the orphan dir: removed while open */
		fd = obj_open_upper(ex, o, O_RDWR);
	if (fd < 0 && !o->ch->orphan) {
		upper = false;
		/* below, a redirect may have it under another path */
		fd = chain_layer_path(o->ch, o->ch->depth - 1, o->e->layer,
				      path);
		if (fd == 0)
			fd = layer_open(ex, o->e->layer, path, O_RDONLY);
	}
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	struct fdc_ent *e = fdc_insert(ex, o->e->oid, fd, -1, o->e->layer,
				       upper);

	if (!e) {
		close(fd);
		errno = ENOMEM;
	}
	return e;
}

/* A metacopy file: the data from below, the attributes from upper;
 * never writable (the first write copies the data up). */
static struct fdc_ent *open_meta_data(struct un_export *ex, struct un_obj *o)
{
	struct fdc_ent *e = NULL;
	int fd = metacopy_data_open(ex, o), mfd = -1;

	if (fd >= 0)
		mfd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0 && mfd >= 0)
		e = fdc_insert(ex, o->e->oid, fd, mfd, o->e->layer, false);
	if (!e) {
		errno = fd < 0 ? -fd : mfd < 0 ? errno : ENOMEM;
		if (fd >= 0)
			close(fd);
		if (mfd >= 0)
			close(mfd);
	}
	return e;
}

/* What the attributes (and permissions) of a cached file come from. */
static int meta_fd(const struct fdc_ent *e)
{
	return e->mfd >= 0 ? e->mfd : e->fd;
}

static int data_get(struct un_export *ex, const struct un_handle *fh,
		    struct fdc_ent **out)
{
	struct un_obj o;
	uint64_t oid;
	int rc = verify_handle(ex, fh, &oid);

	if (rc < 0)
		return rc;
	if ((*out = fdc_get(ex, oid)))
		return 0;
	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = obj_resolve_oid(ex, oid, &o);
	if (rc == 0) {
		rc = type_err(o.e->type);
		if (rc == 0 && !(*out = open_data(ex, &o)))
			rc = -errno;
		obj_release(&o);
	}
	pthread_rwlock_unlock(&ex->ns_lock);
	return rc;
}

/* knfsd lets an owner read and write her file whatever its mode says:
 * a client that created it 0444 still writes the data it opened it for. */
static int may_io(const struct un_cred *cr, int fd, const struct stat *st,
		  int mask)
{
	if (cr->uid == st->st_uid)
		return 0;
	if (may_access(cr, fd, st, mask) == 0)
		return 0;
	if (mask == R_OK && may_access(cr, fd, st, X_OK) == 0)
		return 0;
	return -EACCES;
}

ssize_t un_read(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, uint64_t off, size_t len,
		void *buf, bool *eof, struct un_attr *attr)
{
	struct fdc_ent *e;
	struct stat st;
	ssize_t n;
	int rc = data_get(ex, fh, &e);

	if (rc < 0)
		return rc;
	if (fstat(meta_fd(e), &st) < 0)
		n = -errno;
	else if ((rc = may_io(cr, meta_fd(e), &st, R_OK)) < 0)
		n = rc;
	else if ((n = pread(e->fd, buf, len, (off_t)off)) < 0)
		n = -errno;
	if (n >= 0) {
		if (eof)
			*eof = off + (uint64_t)n >= (uint64_t)st.st_size;
		obj_attr(ex, e->oid, &st, attr);
		if (attr && e->mfd >= 0)
			data_used(e->fd, attr);
	}
	fdc_put(ex, e);
	return n;
}

/* The slow path of WRITE: check as the caller, then copy up. */
static int data_get_writable(struct un_export *ex, const struct un_cred *cr,
			     const struct un_handle *fh, bool durable,
			     struct fdc_ent **out)
{
	struct un_precopy pc = { .built = false };
	struct cat_obj co;
	struct un_obj o;
	uint64_t oid;
	int rc = verify_handle(ex, fh, &oid);

	if (rc < 0)
		return rc;
	if ((*out = fdc_get(ex, oid))) {
		if ((*out)->writable)
			return 0;
		fdc_put(ex, *out);
	}
	if (!ex->has_upper)
		return -EROFS;
	/* the catalog's hint spares a file known to be up a second walk */
	if (ex->metacopy || cat_get(ex->cat, oid, &co) < 0 ||
	    co.layer != UPPER)
		precopy_oid(ex, cr, oid, NULL, &pc);
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = obj_resolve_oid(ex, oid, &o);
	if (rc < 0)
		goto out;
	rc = type_err(o.e->type);
	if (rc == 0)
		rc = may_io(cr, o.fd, &o.st, W_OK);
	if (rc == 0) /* a lower file, or a metacopy file's data */
		rc = copy_up_pre(ex, &o, &pc);
	if (rc == 0 && !(*out = open_data(ex, &o)))
		rc = -errno;
	if (rc == 0 && !(*out)->writable) {
		fdc_put(ex, *out);
		rc = -EACCES;
	}
	obj_release(&o);
out:
	pthread_rwlock_unlock(&ex->ns_lock);
	copy_up_discard(ex, &pc);
	(void)durable; /* every copy-up is durable */
	return rc;
}

static int sync_fd(int fd, enum un_stable how)
{
	if (how == UN_FILE_SYNC)
		return fsync(fd) < 0 ? -errno : 0;
	if (how == UN_DATA_SYNC)
		return fdatasync(fd) < 0 ? -errno : 0;
	return 0;
}

static ssize_t locked_pwrite(struct fdc_ent *e, const void *buf, size_t len,
			     uint64_t off)
{
	ssize_t n;
	int err;

	pthread_mutex_lock(&e->wlock);
	n = pwrite(e->fd, buf, len, (off_t)off);
	err = errno;
	pthread_mutex_unlock(&e->wlock);
	errno = err;
	return n;
}

ssize_t un_write(struct un_export *ex, const struct un_cred *cr,
		 const struct un_handle *fh, uint64_t off, const void *buf,
		 size_t len, enum un_stable stable, enum un_stable *committed,
		 struct un_wcc *wcc)
{
	struct fdc_ent *e;
	struct stat st;
	ssize_t n;
	int rc = data_get_writable(ex, cr, fh, stable != UN_UNSTABLE, &e);

	if (rc < 0)
		return rc;
	if (fstat(e->fd, &st) < 0)
		n = -errno;
	else if ((rc = may_io(cr, e->fd, &st, W_OK)) < 0)
		n = rc;
	else if ((n = locked_pwrite(e, buf, len, off)) < 0)
		n = -errno;
	if (n >= 0 && (rc = sync_fd(e->fd, stable)) < 0)
		n = rc;
	if (n >= 0) {
		wcc_pre(wcc, &st);
		wcc_post(ex, wcc, e->oid, e->fd);
		if (committed)
			*committed = stable;
	}
	fdc_put(ex, e);
	return n;
}

int un_commit(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fh, struct un_wcc *wcc)
{
	struct fdc_ent *e;
	struct stat st;
	int rc = data_get(ex, fh, &e);

	if (rc < 0)
		return rc;
	if (fstat(meta_fd(e), &st) < 0)
		rc = -errno;
	else if (e->writable && fsync(e->fd) < 0)
		rc = -errno;
	if (rc == 0) {
		wcc_pre(wcc, &st);
		wcc_post(ex, wcc, e->oid, meta_fd(e));
	}
	fdc_put(ex, e);
	(void)cr;
	return rc;
}

int un_seek(struct un_export *ex, const struct un_cred *cr,
	    const struct un_handle *fh, uint64_t off, bool hole,
	    uint64_t *result, bool *eof)
{
	struct fdc_ent *e;
	struct stat st;
	off_t pos;
	int rc = data_get(ex, fh, &e);

	if (rc < 0)
		return rc;
	if (off > INT64_MAX)
		rc = -ENXIO;
	else if (fstat(meta_fd(e), &st) < 0)
		rc = -errno;
	else
		rc = may_io(cr, meta_fd(e), &st, R_OK);
	/* Only the result is used, never the descriptor's offset: the
	 * cached fd is shared, but every other user goes by pread/pwrite. */
	if (rc == 0 && (pos = lseek(e->fd, (off_t)off,
				    hole ? SEEK_HOLE : SEEK_DATA)) < 0)
		rc = -errno;
	if (rc == 0) {
		*result = (uint64_t)pos;
		*eof = pos >= st.st_size;
	}
	fdc_put(ex, e);
	return rc;
}

int un_allocate(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, uint64_t off, uint64_t len,
		bool punch)
{
	int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : 0;
	struct fdc_ent *e;
	struct stat st;
	int rc;

	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	rc = data_get_writable(ex, cr, fh, false, &e);
	if (rc < 0)
		return rc;
	if (fstat(e->fd, &st) < 0)
		rc = -errno;
	else
		rc = may_io(cr, e->fd, &st, W_OK);
	if (rc == 0 && fallocate(e->fd, mode, (off_t)off, (off_t)len) < 0)
		rc = -errno;
	fdc_put(ex, e);
	return rc;
}
