/*
 * copy_up.c - bring an object from a lower layer into the upper layer.
 *
 * The data is cloned where the file system shares extents (FICLONE),
 * else copied extent by extent (copy_file_range), holes kept; for WRITE
 * and SETATTR it is copied before the namespace lock is taken.  With the
 * export's metacopy switch, a change of metadata copies only that, as
 * overlayfs metacopy=on; the data follows on the first write.
 *
 * The copy is built under a temporary name in the work directory (same
 * file system as upper) with its data, owner, mode, times and xattrs, and
 * only then renamed into place: after a crash the upper layer holds either
 * nothing or the complete copy: the copy is fsynced before the rename and
 * the directory after it, whatever caused the copy-up.  Leftover
 * temporaries are removed when the export is opened.  Runs with the server's own credentials.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

#include "internal.h"

#define COPY_BUF (128 * 1024)

int work_tmpname(struct un_export *ex, char *buf, size_t len)
{
	uint64_t n;

	pthread_mutex_lock(&ex->tmp_lock);
	n = ++ex->tmp_seq;
	pthread_mutex_unlock(&ex->tmp_lock);
	if (snprintf(buf, len, UN_TMP_PREFIX "%d.%llu", (int)getpid(),
		     (unsigned long long)n) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static bool is_ovl_xattr(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 ||
	       strncmp(name, "user.overlay.", 13) == 0;
}

/*
 * Copy every xattr except overlayfs's own: an opaque marker of a lower
 * directory must not make the upper copy (a merge dir) opaque.
 */
int copy_xattrs(struct un_export *ex, int from, int to)
{
	char *names = NULL, *val = NULL, *p;
	ssize_t len, vlen;
	int rc = 0;

	len = flistxattr(from, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	names = malloc((size_t)len);
	val = malloc(XATTR_SIZE_MAX);
	if (!names || !val) {
		rc = -ENOMEM;
		goto out;
	}
	len = flistxattr(from, names, (size_t)len);
	if (len < 0) {
		rc = -errno;
		goto out;
	}
	for (p = names; p < names + len; p += strlen(p) + 1) {
		if (is_ovl_xattr(p))
			continue;
		vlen = fgetxattr(from, p, val, XATTR_SIZE_MAX);
		if (vlen < 0)
			continue; /* went away meanwhile */
		if (fsetxattr(to, p, val, (size_t)vlen, 0) < 0 &&
		    errno != ENOTSUP && errno != EPERM) {
			rc = -errno;
			break;
		}
	}
out:
	free(names);
	free(val);
	(void)ex;
	return rc;
}

static int copy_plain(int src, int dst, off_t from, off_t to)
{
	char *buf = malloc(COPY_BUF);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (from < to) {
		size_t want = (size_t)(to - from) < COPY_BUF
				      ? (size_t)(to - from) : COPY_BUF;
		ssize_t n = pread(src, buf, want, from);

		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		/* A short write is the file system filling up: write the
		 * rest, and the next write says why (ENOSPC, EDQUOT). */
		n = pwrite(dst, buf, (size_t)n, from);
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		from += n;
	}
	free(buf);
	return rc;
}

static int copy_range(int src, int dst, off_t from, off_t to)
{
	loff_t in = from, out = from;

	while (in < to) {
		ssize_t n = copy_file_range(src, &in, dst, &out,
					    (size_t)(to - in), 0);

		if (n < 0 && (errno == EXDEV || errno == EINVAL ||
			      errno == ENOSYS || errno == EOPNOTSUPP))
			return copy_plain(src, dst, in, to);
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* the source shrank */
	}
	return 0;
}

/* Copy the data extents only, so holes stay holes. */
static int copy_data(int src, int dst, off_t size)
{
	off_t off = 0, data, hole;
	int rc;

	while (off < size) {
		data = lseek(src, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0) { /* no SEEK_DATA: copy everything */
			data = off;
			hole = size;
		} else {
			hole = lseek(src, data, SEEK_HOLE);
			if (hole < 0 || hole > size)
				hole = size;
		}
		if ((rc = copy_range(src, dst, data, hole)) < 0)
			return rc;
		off = hole;
	}
	return ftruncate(dst, size) < 0 ? -errno : 0;
}

static int set_meta(int fd, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	/* chown first: it clears setuid/setgid bits that fchmod sets */
	if (fchown(fd, st->st_uid, st->st_gid) < 0 ||
	    fchmod(fd, st->st_mode & 07777) < 0 || futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

/*
 * Share the extents when the file system can (btrfs, XFS with reflink,
 * bcachefs): O(1) whatever the size, and no space used until written.
 * Anything else (ext4, another file system below) copies.
 */
static int clone_or_copy(int src, int dst, off_t size)
{
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	/* nothing was shared: start from an empty file again */
	if (ftruncate(dst, 0) < 0)
		return -errno;
	return copy_data(src, dst, size);
}

/*
 * A regular file's copy in the work dir; with data_only, the data alone
 * (what a metacopy file lacks: metacopy_fill keeps its own metadata).
 */
static int build_reg_fd(struct un_export *ex, int src, const struct stat *st,
			const char *tmp, bool data_only)
{
	int dst, rc;

	dst = openat(ex->workfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
					      O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		return -errno;
	rc = clone_or_copy(src, dst, st->st_size);
	if (rc == 0 && !data_only)
		rc = copy_xattrs(ex, src, dst);
	if (rc == 0 && !data_only)
		rc = set_meta(dst, st);
	/* always: the rename into place must never publish a partial copy,
	 * even when the copy-up was caused by an UNSTABLE write */
	if (rc == 0 && fsync(dst) < 0)
		rc = -errno;
	close(dst);
	return rc;
}

static int build_reg(struct un_export *ex, int layer, const char *path,
		     const struct stat *st, const char *tmp)
{
	int src, rc;

	src = layer_open(ex, layer, path, O_RDONLY);
	if (src < 0)
		return src;
	rc = build_reg_fd(ex, src, st, tmp, false);
	close(src);
	return rc;
}

static void prebuild_from(struct un_export *ex, int src, bool data_only,
			  struct un_precopy *pc)
{
	struct stat st;
	int rc;

	if (fstat(src, &st) == 0 && S_ISREG(st.st_mode) &&
	    work_tmpname(ex, pc->tmp, sizeof(pc->tmp)) == 0) {
		rc = build_reg_fd(ex, src, &st, pc->tmp, data_only);
		if (rc == 0) {
			pc->built = true;
			pc->st = st;
		} else {
			(void)unlinkat(ex->workfd, pc->tmp, 0);
		}
	}
	close(src);
}

/*
 * The data of a lower regular file (or of a metacopy file) copied into
 * the work dir without the namespace lock, so a copy of gigabytes stalls
 * nobody else; copy_up_pre() publishes it if the object is still that
 * file by then.  Failures
 * are not reported: the copy-up under the lock then does it all again and
 * says why.  Called without ns_lock, o resolved (its chain is private).
 */
void copy_up_prebuild(struct un_export *ex, struct un_obj *o,
		      struct un_precopy *pc)
{
	char path[UN_PATH_MAX];
	int src, rc;

	pc->built = false;
	if (!ex->has_upper || o->e->type != UN_REG)
		return;
	if (o->e->layer == UPPER) { /* a metacopy file lacks its data */
		if (metacopy_check(ex, o) > 0 &&
		    (src = metacopy_data_open(ex, o)) >= 0)
			prebuild_from(ex, src, true, pc);
		return;
	}
	rc = chain_layer_path(o->ch, o->ch->depth - 1, o->e->layer, path);
	src = rc < 0 ? rc : layer_open(ex, o->e->layer, path, O_RDONLY);
	if (src >= 0)
		prebuild_from(ex, src, false, pc);
}

/* A prebuilt copy nobody published (someone else copied up first). */
void copy_up_discard(struct un_export *ex, struct un_precopy *pc)
{
	if (pc->built)
		(void)unlinkat(ex->workfd, pc->tmp, 0);
	pc->built = false;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The prebuilt copy of st if there is one, taken over; else build one. */
static int take_reg(struct un_export *ex, struct un_precopy *pc, int layer,
		    const char *path, const struct stat *st, char *tmp,
		    size_t tmplen)
{
	if (pc && pc->built && same_file(&pc->st, st) &&
	    strlen(pc->tmp) < tmplen) {
		strcpy(tmp, pc->tmp);
		pc->built = false;
		return 0;
	}
	return build_reg(ex, layer, path, st, tmp);
}

/* ---- metacopy ------------------------------------------------------- */

static void ovl_xname(const struct un_export *ex, const char *what,
		      char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", ovl_xattr_prefix(ex), what);
}

/*
 * The upper file of a metadata-only copy-up, as overlayfs metacopy=on
 * makes it: owner, mode, times and xattrs of the lower file, its size by
 * truncate (no data blocks), and an empty overlay.metacopy.  Unlike
 * overlayfs, which adds one when it renames a metacopy file, it gets an
 * absolute overlay.redirect to its data (path in its lower layer) at
 * once: a RENAME of it then needs nothing more, here or in a kernel.
 */
static int build_meta(struct un_export *ex, int layer, const char *path,
		      const struct stat *st, const char *tmp)
{
	char xname[64], redir[UN_PATH_MAX + 1];
	int src, dst, rc;

	if (snprintf(redir, sizeof(redir), "/%s", path) >= (int)sizeof(redir))
		return -ENAMETOOLONG;
	src = layer_open(ex, layer, path, O_RDONLY);
	if (src < 0)
		return src;
	dst = openat(ex->workfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
					      O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0) {
		rc = -errno;
		close(src);
		return rc;
	}
	ovl_xname(ex, "metacopy", xname, sizeof(xname));
	rc = ftruncate(dst, st->st_size) < 0 ? -errno : 0;
	if (rc == 0)
		rc = copy_xattrs(ex, src, dst);
	if (rc == 0 && fsetxattr(dst, xname, "", 0, 0) < 0)
		rc = -errno;
	ovl_xname(ex, "redirect", xname, sizeof(xname));
	if (rc == 0 && fsetxattr(dst, xname, redir, strlen(redir), 0) < 0)
		rc = -errno;
	if (rc == 0)
		rc = set_meta(dst, st);
	if (rc == 0 && fsync(dst) < 0)
		rc = -errno;
	close(src);
	close(dst);
	return rc;
}

int metacopy_check(struct un_export *ex, const struct un_obj *o)
{
	char proc[64], xname[64];

	if (!ex->metacopy || o->e->layer != UPPER || o->e->type != UN_REG ||
	    o->fd < 0)
		return 0;
	/* o->fd is O_PATH: fgetxattr() refuses those */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	ovl_xname(ex, "metacopy", xname, sizeof(xname));
	if (getxattr(proc, xname, NULL, 0) >= 0)
		return 1;
	return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
}

/* Where the lower data of a metacopy file is: its redirect (a kernel
 * overlay sets one when it renames a metacopy file), else its own path
 * as seen from layer l, its parents' redirects followed. */
static int meta_lower_path(struct un_export *ex, struct un_obj *o, int l,
			   const char *redir, char *buf)
{
	unsigned i = o->ch->depth - 1;
	char ppath[UN_PATH_MAX];
	int rc;

	if (!*redir)
		return chain_layer_path(o->ch, i, l, buf);
	if (redir[0] == '/') {
		if (strlen(redir + 1) >= UN_PATH_MAX)
			return -ENAMETOOLONG;
		strcpy(buf, redir + 1);
		return 0;
	}
	rc = chain_layer_path(o->ch, i - 1, l, ppath);
	if (rc == 0 && snprintf(buf, UN_PATH_MAX, "%s%s%s", ppath,
				*ppath ? "/" : "", redir) >= UN_PATH_MAX)
		rc = -ENAMETOOLONG;
	return rc;
}

int metacopy_data_open(struct un_export *ex, struct un_obj *o)
{
	char redir[UN_PATH_MAX] = "", path[UN_PATH_MAX];
	struct stat st;
	int rc, fd;

	rc = get_redirect(ex, o->fd, redir, sizeof(redir));
	if (rc < 0)
		return rc;
	/* the first lower layer that has the name has the data */
	for (int l = 1; l < (int)ex->nlayers; l++) {
		if (meta_lower_path(ex, o, l, redir, path) < 0)
			continue;
		fd = layer_open(ex, l, path, O_RDONLY);
		if (fd == -ENOENT || fd == -ENOTDIR)
			continue;
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return -EIO;
		}
		return fd;
	}
	return -EIO; /* the data went away from below */
}

/*
 * The data copy-up of a metacopy file, into the upper file itself as
 * overlayfs does: while the xattr is there readers take the data from
 * below, so the file is never seen half copied, even after a crash (the
 * next write starts again); and its inode, hence its hard links, stays.
 */
static int fill_in_place(struct un_export *ex, struct un_obj *o, int src)
{
	char path[UN_PATH_MAX], xname[64];
	struct stat st;
	int rc, dst;

	dst = layer_open(ex, UPPER, chain_path(o->ch, o->ch->depth - 1, path),
			 O_WRONLY);
	if (dst < 0)
		return dst;
	rc = fstat(dst, &st) < 0 ? -errno : 0;
	if (rc == 0)
		rc = clone_or_copy(src, dst, st.st_size);
	if (rc == 0) { /* writing the data is no change of the file */
		struct timespec ts[2] = { st.st_atim, st.st_mtim };

		if (futimens(dst, ts) < 0 || fsync(dst) < 0)
			rc = -errno;
	}
	ovl_xname(ex, "metacopy", xname, sizeof(xname));
	if (rc == 0 && fremovexattr(dst, xname) < 0 && errno != ENODATA)
		rc = -errno;
	if (rc == 0 && fsync(dst) < 0)
		rc = -errno;
	close(dst);
	return rc;
}

/*
 * The same with the data copied before the lock was taken (pc): the
 * copy gets the metacopy file's attributes and xattrs (not the overlay
 * ones) and is renamed over it.  Only for a file with one name.
 */
static int fsync_dir(int pathfd);

static int fill_by_rename(struct un_export *ex, struct un_obj *o,
			  struct un_precopy *pc)
{
	char path[UN_PATH_MAX], name[UN_NAME_MAX + 1];
	struct un_ent *e = o->e;
	struct stat st;
	int up, tmp = -1, pfd = -1, rc;

	snprintf(name, sizeof(name), "%.*s", (int)(e->path_len - e->name_off),
		 o->ch->path + e->name_off);
	up = layer_open(ex, UPPER, chain_path(o->ch, o->ch->depth - 1, path),
			O_RDONLY);
	if (up < 0)
		return up;
	rc = fstat(up, &st) < 0 ? -errno : 0;
	if (rc == 0 && (tmp = openat(ex->workfd, pc->tmp, O_WRONLY |
				     O_NOFOLLOW | O_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = copy_xattrs(ex, up, tmp);
	if (rc == 0)
		rc = set_meta(tmp, &st);
	if (rc == 0 && fsync(tmp) < 0)
		rc = -errno;
	if (rc == 0 && (pfd = obj_parent_fd(ex, o, UPPER)) < 0)
		rc = pfd;
	if (rc == 0 && renameat(ex->workfd, pc->tmp, pfd, name) < 0)
		rc = -errno;
	if (rc == 0) {
		pc->built = false;
		rc = fsync_dir(pfd);
	}
	if (pfd >= 0)
		close(pfd);
	if (tmp >= 0)
		close(tmp);
	close(up);
	return rc;
}

static int metacopy_fill(struct un_export *ex, struct un_obj *o,
			 struct un_precopy *pc)
{
	struct stat lst;
	int rc = metacopy_check(ex, o), src;

	if (rc <= 0)
		return rc;
	src = metacopy_data_open(ex, o);
	if (src < 0)
		return src;
	rc = fstat(src, &lst) < 0 ? -errno : 0;
	if (rc == 0 && pc && pc->built && same_file(&pc->st, &lst) &&
	    o->st.st_nlink == 1 && o->st.st_size == lst.st_size)
		rc = fill_by_rename(ex, o, pc);
	else if (rc == 0)
		rc = fill_in_place(ex, o, src);
	close(src);
	fdc_invalidate(ex, o->e->oid);
	if (rc == 0)
		__atomic_add_fetch(&ex->copyups_done, 1, __ATOMIC_RELAXED);
	return rc < 0 ? rc : obj_refresh(ex, o);
}

static int build_dir(struct un_export *ex, int srcfd, const struct stat *st,
		     const char *tmp)
{
	int src, dst, rc;

	if (mkdirat(ex->workfd, tmp, 0700) < 0)
		return -errno;
	dst = openat(ex->workfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
	if (dst < 0)
		return -errno;
	src = openat(srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = src < 0 ? -errno : copy_xattrs(ex, src, dst);
	if (rc == 0)
		rc = set_meta(dst, st);
	if (rc == 0 && fsync(dst) < 0)
		rc = -errno;
	if (src >= 0)
		close(src);
	close(dst);
	return rc;
}

static int build_other(struct un_export *ex, int srcfd, const struct stat *st,
		       const char *tmp)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char target[UN_PATH_MAX + 1];
	ssize_t n;

	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(srcfd, "", target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, ex->workfd, tmp) < 0)
			return -errno;
		/* TODO: xattrs of symlinks (trusted.*, security.*) */
	} else {
		if (mknodat(ex->workfd, tmp, st->st_mode & (S_IFMT | 0777),
			    st->st_rdev) < 0)
			return -errno;
		if (fchmodat(ex->workfd, tmp, st->st_mode & 07777, 0) < 0)
			return -errno;
	}
	if (fchownat(ex->workfd, tmp, st->st_uid, st->st_gid,
		     AT_SYMLINK_NOFOLLOW) < 0 ||
	    utimensat(ex->workfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st->st_mode) &&
	    fchmodat(ex->workfd, tmp, st->st_mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

static int fsync_dir(int pathfd)
{
	int fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int copy_up_entry(struct un_export *ex, struct un_chain *ch,
			 unsigned i, struct stat *lower_st,
			 struct un_precopy *pc, bool meta);

/* Copy entry i of the chain up; its parent must be in upper already.
 * Counted for un_stats(): how many ran, and how many are running.
 * meta: a regular file's metadata only (metacopy). */
static int copy_up_one(struct un_export *ex, struct un_chain *ch, unsigned i,
		       struct stat *lower_st, struct un_precopy *pc, bool meta)
{
	int rc;

	__atomic_add_fetch(&ex->copyups_active, 1, __ATOMIC_RELAXED);
	rc = copy_up_entry(ex, ch, i, lower_st, pc, meta);
	if (rc == 0)
		__atomic_add_fetch(&ex->copyups_done, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&ex->copyups_active, 1, __ATOMIC_RELAXED);
	return rc;
}

static int copy_up_entry(struct un_export *ex, struct un_chain *ch,
			 unsigned i, struct stat *lower_st,
			 struct un_precopy *pc, bool meta)
{
	struct un_ent *e = &ch->ent[i];
	char path[UN_PATH_MAX], ppath[UN_PATH_MAX], tmp[64];
	const char *name = ch->path + e->name_off;
	char nbuf[UN_NAME_MAX + 1];
	int srcfd, upfd, rc;
	struct stat st;

	snprintf(nbuf, sizeof(nbuf), "%.*s", (int)(e->path_len - e->name_off),
		 name);
	/* below, a redirect may have it under another path */
	srcfd = chain_layer_path(ch, i, e->layer, path);
	if (srcfd == 0)
		srcfd = layer_open(ex, e->layer, path, O_PATH);
	if (srcfd < 0)
		return srcfd;
	upfd = layer_open(ex, UPPER, chain_path(ch, i - 1, ppath),
			  O_PATH | O_DIRECTORY);
	if (upfd < 0) {
		close(srcfd);
		return upfd;
	}
	rc = fstat(srcfd, &st) < 0 ? -errno : work_tmpname(ex, tmp, sizeof(tmp));
	if (rc < 0)
		goto out;
	if (S_ISREG(st.st_mode) && meta)
		rc = build_meta(ex, e->layer, path, &st, tmp);
	else if (S_ISREG(st.st_mode))
		rc = take_reg(ex, pc, e->layer, path, &st, tmp, sizeof(tmp));
	else if (S_ISDIR(st.st_mode))
		rc = build_dir(ex, srcfd, &st, tmp);
	else
		rc = build_other(ex, srcfd, &st, tmp);
	if (rc == 0 && renameat2(ex->workfd, tmp, upfd, nbuf,
				 RENAME_NOREPLACE) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(ex->workfd, tmp, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
		goto out;
	}
	/* The new name is durable before anyone is told about it: nothing
	 * later in a WRITE or COMMIT would sync this directory. */
	rc = fsync_dir(upfd);
	if (lower_st)
		*lower_st = st;
	e->layer = UPPER;
	if (e->type == UN_DIR)
		e->mask |= LBIT(UPPER);
	ent_set_hint(ex, e);
	fdc_invalidate(ex, e->oid);
	rdc_invalidate(ex, ch->ent[i - 1].oid);
out:
	close(srcfd);
	close(upfd);
	return rc;
}

int copy_up_parents(struct un_export *ex, struct un_obj *o)
{
	unsigned i;
	int rc;

	if (!ex->has_upper)
		return -EROFS;
	for (i = 1; i + 1 < o->ch->depth; i++) {
		if (o->ch->ent[i].layer == UPPER)
			continue;
		rc = copy_up_one(ex, o->ch, i, NULL, NULL, false);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- hard links ------------------------------------------------------ */

struct pathlist {
	char **v;
	unsigned n, cap;
};

static int pathlist_add(struct pathlist *pl, const char *p)
{
	if (pl->n == pl->cap) {
		unsigned cap = pl->cap ? pl->cap * 2 : 16;
		char **v = realloc(pl->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pl->v = v;
		pl->cap = cap;
	}
	if (!(pl->v[pl->n] = strdup(p)))
		return -ENOMEM;
	pl->n++;
	return 0;
}

static void pathlist_free(struct pathlist *pl)
{
	while (pl->n)
		free(pl->v[--pl->n]);
	free(pl->v);
}

/*
 * Every path of the layer that names the inode st: a walk of the whole
 * layer, acceptable because only a copy-up of a hard-linked lower file
 * needs it.  Directories are walked breadth-first from a path list.
 */
static int find_links(struct un_export *ex, int layer, const struct stat *st,
		      struct pathlist *found)
{
	struct pathlist dirs = { 0 };
	unsigned di;
	int rc = pathlist_add(&dirs, "");

	for (di = 0; rc == 0 && di < dirs.n &&
		     found->n < (unsigned)st->st_nlink; di++) {
		int fd = layer_open(ex, layer, dirs.v[di], O_RDONLY |
							   O_DIRECTORY);
		struct dirent *d;
		DIR *dir;

		if (fd < 0)
			continue;
		if (!(dir = fdopendir(fd))) {
			close(fd);
			continue;
		}
		while (rc == 0 && (d = readdir(dir))) {
			char p[UN_PATH_MAX];
			struct stat s;

			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (snprintf(p, sizeof(p), "%s%s%s", dirs.v[di],
				     *dirs.v[di] ? "/" : "", d->d_name) >=
			    (int)sizeof(p))
				continue;
			if (d->d_type == DT_DIR) {
				rc = pathlist_add(&dirs, p);
				continue;
			}
			if (d->d_type != DT_REG && d->d_type != DT_UNKNOWN)
				continue;
			if (fstatat(dirfd(dir), d->d_name, &s,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(s.st_mode))
				rc = pathlist_add(&dirs, p);
			else if (s.st_ino == st->st_ino &&
				 s.st_dev == st->st_dev)
				rc = pathlist_add(found, p);
		}
		closedir(dir);
	}
	pathlist_free(&dirs);
	return rc;
}

/* Walk a layer path through the union; 0 if it shows that lower inode. */
static int union_walk(struct un_export *ex, const char *path, int layer,
		      const struct stat *st, struct un_obj *o)
{
	char buf[UN_PATH_MAX], *name, *save = NULL;
	int rc = obj_resolve_oid(ex, ex->root_oid, o);

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = strtok_r(buf, "/", &save); rc == 0 && name;
	     name = strtok_r(NULL, "/", &save))
		rc = obj_step(ex, o, name);
	if (rc == 0 && (o->e->layer != layer || o->st.st_ino != st->st_ino ||
			o->st.st_dev != st->st_dev))
		rc = -ENOENT;
	return rc;
}

/*
 * One name of a hard-linked lower file was copied up.  Make every other
 * visible name of the same lower inode a link to the copy, so all names
 * keep showing the same data, through us and through a kernel overlay.
 */
static int copy_up_links(struct un_export *ex, struct un_obj *o, int layer,
			 const struct stat *lst)
{
	struct pathlist found = { 0 };
	char self[UN_PATH_MAX];
	unsigned i;
	int rc, srcdir;

	rc = find_links(ex, layer, lst, &found);
	srcdir = obj_parent_fd(ex, o, UPPER);
	if (srcdir < 0)
		rc = srcdir;
	if (rc == 0)
		rc = chain_layer_path(o->ch, o->ch->depth - 1, layer, self);
	for (i = 0; rc == 0 && i < found.n; i++) {
		struct un_obj other = { 0 };
		int dstdir;

		if (strcmp(found.v[i], self) == 0 ||
		    union_walk(ex, found.v[i], layer, lst, &other) < 0 ||
		    copy_up_parents(ex, &other) < 0) {
			obj_release(&other);
			continue;
		}
		dstdir = obj_parent_fd(ex, &other, UPPER);
		if (dstdir >= 0 &&
		    linkat(srcdir, o->ch->path + o->e->name_off, dstdir,
			   other.ch->path + other.e->name_off, 0) == 0 &&
		    fsync_dir(dstdir) == 0) {
			other.e->layer = UPPER;
			cat_set_hint(ex->cat, other.e->oid, UPPER, 0);
			fdc_invalidate(ex, other.e->oid);
			rdc_invalidate(ex, other.ch->ent[other.ch->depth - 2].oid);
		}
		if (dstdir >= 0)
			close(dstdir);
		obj_release(&other);
	}
	if (srcdir >= 0)
		close(srcdir);
	pathlist_free(&found);
	return rc;
}

/*
 * Every copy is durable before it is visible (fsync of the copy, rename,
 * fsync of the directory), so `durable` is kept only for the callers.
 */
int copy_up(struct un_export *ex, struct un_obj *o, bool durable)
{
	(void)durable;
	return copy_up_pre(ex, o, NULL);
}

int copy_up_pre(struct un_export *ex, struct un_obj *o, struct un_precopy *pc)
{
	int layer = o->e->layer, rc;
	struct stat lst;

	rc = copy_up_parents(ex, o);
	if (rc < 0)
		return rc;
	if (layer == UPPER) /* but maybe its data is still below */
		return metacopy_fill(ex, o, pc);
	rc = copy_up_one(ex, o->ch, o->ch->depth - 1, &lst, pc, false);
	if (rc < 0)
		return rc;
	if (S_ISREG(lst.st_mode) && lst.st_nlink > 1) {
		rc = copy_up_links(ex, o, layer, &lst);
		if (rc < 0)
			return rc;
	}
	rc = obj_refresh(ex, o);
	/* names of the copy not catalogued yet must find this oid */
	if (rc == 0 && S_ISREG(o->st.st_mode) && o->st.st_nlink > 1)
		rc = cat_ino_hint(ex->cat, ex->id, UPPER, &o->st, o->e->oid);
	return rc;
}

int copy_up_meta(struct un_export *ex, struct un_obj *o)
{
	int rc;

	/* a hard-linked lower file is copied whole, so that every name of
	 * it is linked to the copy (copy_up_links) */
	if (!ex->metacopy || o->e->layer == UPPER || o->e->type != UN_REG ||
	    o->st.st_nlink > 1)
		return 0;
	rc = copy_up_parents(ex, o);
	if (rc == 0)
		rc = copy_up_one(ex, o->ch, o->ch->depth - 1, NULL, NULL, true);
	if (rc == 0)
		rc = obj_refresh(ex, o);
	return rc < 0 ? rc : 1;
}

int un_copy_up(struct un_export *ex, const struct un_handle *fh)
{
	struct un_precopy pc = { .built = false };
	struct un_obj o;
	bool upper;
	int rc;

	if (!ex->has_upper)
		return -EROFS;
	/* the common case, a file already up, under the shared lock only */
	rc = obj_resolve_shared(ex, fh, &o);
	if (rc < 0)
		return rc;
	upper = o.e->layer == UPPER;
	if (!upper)
		copy_up_prebuild(ex, &o, &pc);
	obj_release(&o);
	if (upper)
		return 0;
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = obj_resolve(ex, fh, &o);
	if (rc == 0) {
		if (o.e->layer != UPPER)
			rc = copy_up_pre(ex, &o, &pc);
		obj_release(&o);
	}
	pthread_rwlock_unlock(&ex->ns_lock);
	copy_up_discard(ex, &pc);
	return rc;
}

/* ---- removal of work-dir objects ------------------------------------ */

int remove_tree_at(int parent, const char *name, int depth)
{
	struct dirent *d;
	DIR *dir;
	int fd, rc = 0;

	if (unlinkat(parent, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth <= 0)
		return -ELOOP;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		rc = remove_tree_at(dirfd(dir), d->d_name, depth - 1);
		if (rc < 0)
			break;
	}
	closedir(dir);
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

/* Temporaries left by a crash: neither old nor new state, just litter. */
void work_cleanup(struct un_export *ex)
{
	struct dirent *d;
	unsigned n = 0;
	DIR *dir;
	int fd;

	fd = openat(ex->workfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((d = readdir(dir)))
		if (strncmp(d->d_name, UN_TMP_PREFIX,
			    strlen(UN_TMP_PREFIX)) == 0 &&
		    remove_tree_at(ex->workfd, d->d_name, 8) == 0)
			n++;
	closedir(dir);
	if (n) /* fsck and the operator want to know */
		fprintf(stderr, "unionnfsd: %s: removed %u leftover "
			"temporaries from the work dir\n", ex->name, n);
}
