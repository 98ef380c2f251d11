/*
 * orphan.c - files whose last name was removed while they were open.
 *
 * NFSv4 promises that an open file stays usable through its stateid until
 * CLOSE, even when its last name goes (POSIX's unlinked-but-open file).
 * The protocol layer pins an object while it holds it open (un_pin,
 * un_unpin).  Removing the last name of a pinned non-directory does not
 * delete its data: the upper file (copied up first when it lived below)
 * moves into <work>/#unionnfsd.orphans/<oid>, leaving a whiteout at the
 * name when a lower layer has one, and the catalog re-points the object's
 * name to (parent 0, "<oid>"): its handles keep resolving there (namei.c)
 * while the union's name is gone.  The last unpin deletes the file and
 * marks the object removed, so its handles answer STALE from then on.
 *
 * Pins live in memory only: after a restart no client can reclaim the
 * open of a removed file (knfsd loses them too).  Opening the export
 * deletes the orphan directory (work_cleanup: it carries the temporaries'
 * prefix) and attaching it to the catalog drops the orphans' names.  The
 * work dir is where overlayfs never looks, so a kernel mount of the same
 * layers sees the name removed, as it should.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define PIN_BUCKETS 256

struct pin {
	struct pin *next;
	uint64_t oid;
	uint32_t export;
	unsigned count;
	int dirfd;		/* the orphan dir once its name is gone, else -1 */
	int workfd;		/* and the work dir it is in */
};

struct pin_table {
	pthread_mutex_t lock;
	struct pin *hash[PIN_BUCKETS];
};

int pins_create(struct un_catalog *cat)
{
	struct pin_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	cat->pins = t;
	return 0;
}

/* Orphans still pinned stay on disk: the next start deletes them. */
void pins_destroy(struct un_catalog *cat)
{
	struct pin_table *t = cat->pins;
	struct pin *p, *next;

	if (!t)
		return;
	for (unsigned b = 0; b < PIN_BUCKETS; b++)
		for (p = t->hash[b]; p; p = next) {
			next = p->next;
			if (p->dirfd >= 0) {
				close(p->dirfd);
				close(p->workfd);
			}
			free(p);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
	cat->pins = NULL;
}

static struct pin **pin_slot(struct pin_table *t, uint64_t oid)
{
	struct pin **pp = &t->hash[oid % PIN_BUCKETS];

	while (*pp && (*pp)->oid != oid)
		pp = &(*pp)->next;
	return pp;
}

/* A handle of ours, its tag checked (the protocol layer may keep any). */
static int pin_decode(struct un_catalog *cat, const struct un_handle *fh,
		      uint32_t *export, uint64_t *oid)
{
	uint8_t tag[16], diff = 0;

	if (un_handle_export_id(fh, export) < 0)
		return -UN_EBADHANDLE;
	siphash24(cat->key, fh->data, 20, tag, sizeof(tag));
	for (int i = 0; i < 16; i++)
		diff |= tag[i] ^ fh->data[20 + i];
	if (diff)
		return -UN_EBADHANDLE;
	*oid = 0;
	for (int i = 7; i >= 0; i--)
		*oid = *oid << 8 | fh->data[8 + i];
	return 0;
}

void orphan_name(uint64_t oid, char buf[24])
{
	snprintf(buf, 24, "%" PRIu64, oid);
}

int un_pin(struct un_catalog *cat, const struct un_handle *fh)
{
	struct pin_table *t = cat->pins;
	struct pin **pp, *p;
	uint32_t export;
	uint64_t oid;
	int rc = pin_decode(cat, fh, &export, &oid);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&t->lock);
	pp = pin_slot(t, oid);
	if (!*pp && (p = calloc(1, sizeof(*p)))) {
		p->oid = oid;
		p->export = export;
		p->dirfd = p->workfd = -1;
		*pp = p;
	}
	if (*pp)
		(*pp)->count++;
	else
		rc = -ENOMEM;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/*
 * The object is gone for good: its file, then its catalog name.  The
 * orphan dir goes when it is empty, so that the work dir holds nothing
 * of ours at rest; made and filled under the same lock (orphan_remove).
 */
static void orphan_delete(struct un_catalog *cat, uint32_t export,
			  uint64_t oid, int dirfd, int workfd)
{
	char name[24];

	orphan_name(oid, name);
	pthread_mutex_lock(&cat->pins->lock);
	(void)unlinkat(dirfd, name, 0); /* else litter for the next start */
	(void)unlinkat(workfd, ORPHAN_DIR, AT_REMOVEDIR); /* if empty */
	pthread_mutex_unlock(&cat->pins->lock);
	(void)cat_unlink(cat, export, 0, name, NULL);
}

void un_unpin(struct un_catalog *cat, const struct un_handle *fh)
{
	struct pin_table *t = cat->pins;
	struct pin **pp, *p = NULL;
	uint32_t export;
	uint64_t oid;

	if (pin_decode(cat, fh, &export, &oid) < 0)
		return;
	pthread_mutex_lock(&t->lock);
	pp = pin_slot(t, oid);
	if (*pp && --(*pp)->count == 0) {
		p = *pp;
		*pp = p->next;
	}
	pthread_mutex_unlock(&t->lock);
	if (!p)
		return;
	if (p->dirfd >= 0) {
		orphan_delete(cat, p->export, oid, p->dirfd, p->workfd);
		close(p->dirfd);
		close(p->workfd);
	}
	free(p);
}

static bool pinned(struct un_catalog *cat, uint64_t oid)
{
	struct pin_table *t = cat->pins;
	bool held;

	pthread_mutex_lock(&t->lock);
	held = *pin_slot(t, oid) != NULL;
	pthread_mutex_unlock(&t->lock);
	return held;
}

int orphan_dirfd(struct un_catalog *cat, uint64_t oid)
{
	struct pin_table *t = cat->pins;
	struct pin *p;
	int fd = -ESTALE;

	pthread_mutex_lock(&t->lock);
	p = *pin_slot(t, oid);
	if (p && p->dirfd >= 0) {
		fd = fcntl(p->dirfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = -errno;
	}
	pthread_mutex_unlock(&t->lock);
	return fd;
}

/*
 * The orphan is in place: hand its directory to the pin (1), or say the
 * pin went meanwhile (0), and the caller deletes it.
 */
static int orphan_keep(struct un_catalog *cat, uint64_t oid, int dirfd,
		       int workfd)
{
	struct pin_table *t = cat->pins;
	struct pin *p;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	p = *pin_slot(t, oid);
	if (p && p->dirfd < 0) {
		p->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		p->workfd = fcntl(workfd, F_DUPFD_CLOEXEC, 0);
		rc = p->dirfd >= 0 && p->workfd >= 0 ? 1 : -errno;
		if (rc < 0) { /* the file stays, for the next start */
			if (p->dirfd >= 0)
				close(p->dirfd);
			if (p->workfd >= 0)
				close(p->workfd);
			p->dirfd = p->workfd = -1;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int orphan_dir_open(struct un_export *ex)
{
	if (mkdirat(ex->workfd, ORPHAN_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	return layer_openat(ex->workfd, ORPHAN_DIR, O_PATH | O_DIRECTORY);
}

int orphan_wanted(struct un_export *ex, uint64_t oid, uint8_t type)
{
	int n;

	if (type == UN_DIR || !pinned(ex->cat, oid))
		return 0;
	n = cat_name_count(ex->cat, oid);
	return n < 0 ? n : n == 1;
}

/* The file from below comes up first: writes through the open go there. */
static int orphan_copy_up(struct un_export *ex, uint64_t oid)
{
	struct un_obj o;
	int rc = obj_resolve_oid(ex, oid, &o);

	if (rc == 0)
		rc = copy_up(ex, &o, false);
	obj_release(&o);
	return rc;
}

int orphan_remove(struct un_export *ex, uint64_t parent, const char *name,
		  uint64_t oid, bool in_upper, bool whiteout, int upfd)
{
	char oname[24];
	int dirfd, rc;

	if (!in_upper && (rc = orphan_copy_up(ex, oid)) < 0)
		return rc;
	orphan_name(oid, oname);
	pthread_mutex_lock(&ex->cat->pins->lock);
	dirfd = rc = orphan_dir_open(ex);
	/* one atomic step, as remove_upper: the name goes, the whiteout
	 * (if needed) takes its place */
	if (dirfd >= 0)
		rc = renameat2(upfd, name, dirfd, oname,
			       whiteout ? RENAME_WHITEOUT : 0) < 0 ? -errno : 0;
	pthread_mutex_unlock(&ex->cat->pins->lock);
	if (rc == 0)
		rc = cat_rename(ex->cat, ex->id, parent, name, 0, oname);
	if (rc == 0)
		rc = orphan_keep(ex->cat, oid, dirfd, ex->workfd);
	if (rc == 0) /* unpinned while we moved it */
		orphan_delete(ex->cat, ex->id, oid, dirfd, ex->workfd);
	if (dirfd >= 0)
		close(dirfd);
	return rc < 0 ? rc : 0;
}

int orphan_open(struct un_export *ex, struct un_obj *o)
{
	const char *name = o->ch->path + o->e->name_off;
	int dirfd = orphan_dirfd(ex->cat, o->e->oid), fd;

	if (dirfd < 0)
		return dirfd;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	close(dirfd);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	if (fstat(fd, &o->st) < 0 || mode_to_type(o->st.st_mode) != o->e->type) {
		close(fd);
		return -ESTALE;
	}
	/* the orphan dir's link is ours, not a name of the union */
	o->st.st_nlink = o->st.st_nlink > 0 ? o->st.st_nlink - 1 : 0;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = fd;
	return 0;
}
