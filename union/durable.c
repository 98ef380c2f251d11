/*
 * durable.c - group the syncs that make namespace changes stable.
 *
 * NFSv3 wants every namespace change (CREATE ... LINK, SETATTR) on stable
 * storage before the reply, as knfsd's commit_metadata does for `sync`
 * exports.  An fsync of each parent directory per request would cost a
 * journal commit per request; instead every request that needs "all my
 * changes so far are durable" calls dur_sync(), and concurrent callers
 * share one round of syncfs() over the file systems involved (the upper
 * layers and the catalog's).
 *
 * Rounds are numbered.  A caller's change is covered only by a round that
 * *started* after the change, i.e. by round started+1 at the time of the
 * call (a round already running may have missed it).  The first caller
 * that finds no round running runs the next one for everyone waiting;
 * the others sleep until it is done.  Nothing is lost: a caller returns
 * only when a round that started after its change has completed.
 *
 * What a round syncs: the directories the waiting requests changed (an
 * fsync of each distinct one: concurrent requests in one directory share
 * it, which matters most without a journal, where every fsync flushes the
 * device cache; with one, the first commits the journal transaction that
 * holds them all and the others find it done), as
 * knfsd's commit_metadata does per request; or, when a request cannot
 * name its directories (SETATTR, the catalog's own file system), the
 * whole file system with syncfs(), which also writes back other files'
 * unstable data and is therefore the slow path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DUR_MAX_FS 16
#define DUR_MAX_DIRS 256
#define DUR_MAX_FILES 4

struct dur {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	uint64_t started, done;	/* round numbers */
	int last_rc;		/* result of round `done` */
	bool running;
	unsigned nfs;
	int fd[DUR_MAX_FS];	/* one open directory per file system */
	dev_t dev[DUR_MAX_FS];
	bool want_fs;		/* the next round syncs whole file systems */
	unsigned ndirs;		/* directories for the next round */
	int dirs[DUR_MAX_DIRS];
	dev_t dir_dev[DUR_MAX_DIRS];	/* which ones, to queue each once */
	ino_t dir_ino[DUR_MAX_DIRS];
	unsigned nfiles;	/* files the next round fdatasyncs */
	int files[DUR_MAX_FILES];
	bool files_dirty;	/* ... if they were written since the last */
};

int dur_create(struct dur **out)
{
	struct dur *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->done_cv, NULL);
	*out = d;
	return 0;
}

void dur_destroy(struct dur *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->nfs; i++)
		close(d->fd[i]);
	for (unsigned i = 0; i < d->ndirs; i++)
		close(d->dirs[i]);
	for (unsigned i = 0; i < d->nfiles; i++)
		close(d->files[i]);
	pthread_cond_destroy(&d->done_cv);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* Include the file system holding dirfd in every round from now on. */
int dur_add_fs(struct dur *d, int dirfd)
{
	struct stat st;
	int fd, rc = 0;

	/* syncfs() refuses O_PATH descriptors: reopen for reading */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nfs; i++)
		if (d->dev[i] == st.st_dev)
			rc = 1;
	if (rc == 0 && d->nfs == DUR_MAX_FS)
		rc = -ENOSPC;
	if (rc == 0) {
		d->fd[d->nfs] = fd;
		d->dev[d->nfs++] = st.st_dev;
	}
	pthread_mutex_unlock(&d->lock);
	if (rc != 0)
		close(fd);
	return rc < 0 ? rc : 0;
}

/*
 * Include the file fd in rounds from now on, when dur_files_dirty() was
 * called since the last round: the catalog's WAL, whose commits SQLite
 * does not sync, so a round is what makes the new names of the changes it
 * covers durable.  Takes fd over, also on failure.
 */
int dur_add_file(struct dur *d, int fd)
{
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (d->nfiles == DUR_MAX_FILES)
		rc = -ENOSPC;
	else
		d->files[d->nfiles++] = fd;
	pthread_mutex_unlock(&d->lock);
	if (rc < 0)
		close(fd);
	return rc;
}

void dur_files_dirty(struct dur *d)
{
	pthread_mutex_lock(&d->lock);
	d->files_dirty = true;
	pthread_mutex_unlock(&d->lock);
}

/* One round; d->lock is dropped meanwhile, new callers queue up. */
static int dur_round(struct dur *d)
{
	int dirs[DUR_MAX_DIRS];
	unsigned n = d->nfs, nd = d->ndirs;
	bool whole = d->want_fs, files = d->files_dirty && !whole;
	int rc = 0;

	memcpy(dirs, d->dirs, nd * sizeof(dirs[0]));
	d->ndirs = 0;
	d->want_fs = false;
	d->files_dirty = false; /* syncfs() below covers them when whole */
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < nd; i++) {
		if (fsync(dirs[i]) < 0 && rc == 0)
			rc = -errno;
		close(dirs[i]);
	}
	for (unsigned i = 0; files && i < d->nfiles; i++)
		if (fdatasync(d->files[i]) < 0 && rc == 0)
			rc = -errno;
	for (unsigned i = 0; whole && i < n; i++)
		if (syncfs(d->fd[i]) < 0 && rc == 0)
			rc = -errno;
	pthread_mutex_lock(&d->lock);
	return rc;
}

static bool dur_queued(const struct dur *d, const struct stat *st)
{
	for (unsigned i = 0; i < d->ndirs; i++)
		if (d->dir_ino[i] == st->st_ino && d->dir_dev[i] == st->st_dev)
			return true;
	return false;
}

/* Queue the directories (or the file systems) for the next round. */
static void dur_queue(struct dur *d, const int *dirfds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		int fd;

		if (dirfds[i] < 0)
			continue;
		if (fstat(dirfds[i], &st) < 0) {
			d->want_fs = true;
			continue;
		}
		if (dur_queued(d, &st))
			continue;
		if (d->ndirs == DUR_MAX_DIRS) {
			d->want_fs = true;
			return;
		}
		/* the caller's descriptors may be O_PATH, which fsync()
		 * refuses */
		fd = openat(dirfds[i], ".", O_RDONLY | O_DIRECTORY |
						   O_CLOEXEC);
		if (fd < 0) {
			d->want_fs = true;
			continue;
		}
		d->dir_dev[d->ndirs] = st.st_dev;
		d->dir_ino[d->ndirs] = st.st_ino;
		d->dirs[d->ndirs++] = fd;
	}
	if (n == 0)
		d->want_fs = true;
}

int dur_sync_dirs(struct dur *d, const int *dirfds, unsigned n)
{
	uint64_t target;
	int rc;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	dur_queue(d, dirfds, n);
	target = d->started + 1;
	while (d->done < target) {
		if (d->running) {
			pthread_cond_wait(&d->done_cv, &d->lock);
			continue;
		}
		d->running = true;
		d->started++;
		rc = dur_round(d);
		d->done = d->started;
		d->last_rc = rc;
		d->running = false;
		pthread_cond_broadcast(&d->done_cv);
	}
	/* a later round may have succeeded where ours failed: report the
	 * newest, which covers our change too */
	rc = d->last_rc;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int dur_sync(struct dur *d)
{
	return dur_sync_dirs(d, NULL, 0);
}

int un_durable(struct un_export *ex)
{
	int rc = cat_sync(ex->cat);

	return rc < 0 ? rc : dur_sync(ex->cat->dur);
}

int un_durable_dirs(struct un_export *ex, const int *dirfds, unsigned n)
{
	int rc = cat_sync(ex->cat);

	return rc < 0 ? rc : dur_sync_dirs(ex->cat->dur, dirfds, n);
}
