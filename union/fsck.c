/*
 * fsck.c - check the catalog of one export against its layers.
 *
 * Findings, and what a repair does about them (layer data is never
 * touched; only the catalog and our own temporaries in the work dir):
 *  - an object whose catalogued name no longer leads to anything on disk
 *    (an orphaned row, e.g. a file removed behind our back): its names are
 *    dropped and it is marked removed, so its handles answer STALE instead
 *    of failing over and over;
 *  - inode hints (hard links) pointing to removed objects: dropped;
 *  - temporaries left in the work directory by a crash: deleted (opening
 *    the export already does this; fsck reports what it still finds);
 *    among them #unionnfsd.orphans, the files removed while open
 *    (orphan.c), whose catalog names the export's attach drops.
 * Interrupted renames are completed when the export is opened (catalog.c).
 * Run it with the daemon stopped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int work_leftovers(struct un_export *ex, bool repair, FILE *report)
{
	struct dirent *d;
	DIR *dir;
	int fd, n = 0;

	fd = openat(ex->workfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, UN_TMP_PREFIX, strlen(UN_TMP_PREFIX))) {
			n++;
			fprintf(report, "%s: work dir: leftover %s%s\n",
				ex->name, d->d_name, repair ? ", removed" : "");
			if (repair)
				(void)remove_tree_at(ex->workfd, d->d_name, 8);
		}
	closedir(dir);
	return n;
}

static int orphans(struct un_export *ex, bool repair, FILE *report)
{
	uint64_t *oids = NULL;
	size_t n = 0, i;
	int rc, found = 0;

	rc = cat_all_oids(ex->cat, ex->id, &oids, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		struct un_obj o = { 0 };
		int r;

		if (oids[i] == ex->root_oid)
			continue;
		r = obj_resolve_oid(ex, oids[i], &o);
		obj_release(&o);
		if (r == 0)
			continue;
		if (r != -ENOENT && r != -ESTALE && r != -ENOTDIR) {
			fprintf(report, "%s: object %llu: %s (left alone)\n",
				ex->name, (unsigned long long)oids[i],
				strerror(-r));
			continue;
		}
		found++;
		fprintf(report, "%s: object %llu: catalogued, not on disk%s\n",
			ex->name, (unsigned long long)oids[i],
			repair ? ", marked removed" : "");
		if (repair)
			rc = cat_forget(ex->cat, oids[i]);
	}
	free(oids);
	return rc < 0 ? rc : found;
}

int un_fsck(struct un_export *ex, bool repair, FILE *report)
{
	int total = 0, rc;

	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = orphans(ex, repair, report);
	if (rc >= 0) {
		total += rc;
		rc = cat_prune_hints(ex->cat, ex->id, repair);
		if (rc > 0)
			fprintf(report, "%s: %d stale hard-link hints%s\n",
				ex->name, rc, repair ? ", dropped" : "");
	}
	if (rc >= 0) {
		total += rc;
		rc = ex->has_upper ? work_leftovers(ex, repair, report) : 0;
	}
	pthread_rwlock_unlock(&ex->ns_lock);
	if (rc >= 0)
		total += rc;
	if (rc >= 0 && repair)
		rc = un_durable(ex);
	return rc < 0 ? rc : total;
}
