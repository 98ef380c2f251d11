/*
 * stats.c - what the daemon's control socket asks of the engine: copy-up
 * counters, the catalog's size, and where an object of the union lives.
 *
 * Nothing here changes the union's contents.  Looking a path up does
 * catalogue the names it walks, exactly as a LOOKUP from a client would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

void un_stats(struct un_export *ex, struct un_stats *st)
{
	st->copyups = __atomic_load_n(&ex->copyups_done, __ATOMIC_RELAXED);
	st->copyups_active =
		__atomic_load_n(&ex->copyups_active, __ATOMIC_RELAXED);
}

static uint64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/*
 * Counted on a connection of its own, read-only: with WAL it reads beside
 * the daemon's connection instead of holding cat->lock (and every request
 * behind it) for as long as a count of a large table takes.
 */
int un_catalog_size(struct un_catalog *cat, uint64_t *objects,
		    uint64_t *bytes)
{
	const char *file = sqlite3_db_filename(cat->db, "main");
	char wal[UN_PATH_MAX];
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int rc = -EIO;

	if (!file || !*file)
		return -ENOENT;
	snprintf(wal, sizeof(wal), "%s-wal", file);
	*bytes = file_bytes(file) + file_bytes(wal);
	if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_busy_timeout(db, 1000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM objects", -1, &st,
			       NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*objects = (uint64_t)sqlite3_column_int64(st, 0);
		rc = 0;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* ---- where objects live ----------------------------------------------- */

static void where_layer(const struct un_export *ex, int layer,
			struct un_where *w)
{
	w->upper = ex->has_upper && layer == UPPER;
	w->lower = (unsigned)(ex->has_upper ? layer - 1 : layer);
	if (w->upper)
		w->lower = 0;
	snprintf(w->layer_dir, sizeof(w->layer_dir), "%s",
		 ex->layers[layer].path);
}

static unsigned mask_count(lmask_t m)
{
	unsigned n = 0;

	for (; m; m >>= 1)
		n += (unsigned)(m & 1);
	return n;
}

/* Fill w from a resolved object. */
static int where_obj(struct un_export *ex, struct un_obj *o,
		     struct un_where *w)
{
	int rc = 0;

	w->found = true;
	w->type = o->e->type;
	w->fileid = o->e->oid;
	where_layer(ex, o->e->layer, w);
	/* the path in that layer, where redirects may have put it */
	if ((rc = chain_layer_path(o->ch, o->ch->depth - 1, o->e->layer,
				   w->path)) < 0)
		return rc;
	if (o->e->type == UN_DIR) {
		w->nmerged = mask_count(o->e->mask);
		/* the root is not a name anyone could have made opaque */
		if (o->ch->depth > 1 && (rc = is_opaque(ex, o->fd)) > 0)
			w->opaque = true;
	}
	return rc < 0 ? rc : 0;
}

int un_handle_where(struct un_export *ex, const struct un_handle *fh,
		    struct un_where *w)
{
	struct un_obj o;
	int rc;

	memset(w, 0, sizeof(*w));
	rc = obj_resolve_shared(ex, fh, &o);
	if (rc == 0)
		rc = where_obj(ex, &o, w);
	obj_release(&o);
	return rc;
}

/*
 * A name of the merged directory o that the union does not show: the top
 * layer holding it (in the directory's layers) says whether a whiteout
 * hides it.
 */
static int find_whiteout(struct un_export *ex, struct un_obj *o,
			 const char *name, struct un_where *w)
{
	char path[UN_PATH_MAX], lpath[UN_PATH_MAX];
	struct stat st;
	int l, fd;

	chain_path(o->ch, o->ch->depth - 1, path);
	if (snprintf(w->path, sizeof(w->path), "%s%s%s", path,
		     *path ? "/" : "", name) >= (int)sizeof(w->path))
		return -ENAMETOOLONG;
	for (l = 0; l < (int)ex->nlayers; l++) {
		if (!(o->e->mask & LBIT(l)))
			continue;
		/* the directory in this layer, where redirects may put it */
		if ((fd = chain_layer_path(o->ch, o->ch->depth - 1, l,
					   path)) < 0)
			return fd;
		if (snprintf(lpath, sizeof(lpath), "%s%s%s", path,
			     *path ? "/" : "", name) >= (int)sizeof(lpath))
			return -ENAMETOOLONG;
		fd = layer_open(ex, l, lpath, O_PATH);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && is_whiteout(&st)) {
			w->whiteout = true;
			where_layer(ex, l, w);
			memcpy(w->path, lpath, sizeof(lpath));
		}
		close(fd);
		break;
	}
	return 0;
}

static int walk_path(struct un_export *ex, const char *path, struct un_obj *o,
		     struct un_where *w)
{
	char buf[UN_PATH_MAX], *name, *next, *save = NULL;
	int rc;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	rc = obj_resolve_oid(ex, ex->root_oid, o);
	for (name = strtok_r(buf, "/", &save); rc == 0 && name; name = next) {
		next = strtok_r(NULL, "/", &save);
		if ((rc = check_name(name)) < 0)
			break;
		if (o->e->type != UN_DIR)
			return -ENOTDIR;
		rc = obj_step(ex, o, name);
		if (rc == -ENOENT && !next)
			return find_whiteout(ex, o, name, w);
	}
	return rc < 0 ? rc : where_obj(ex, o, w);
}

int un_whereis(struct un_export *ex, const char *path, struct un_where *w)
{
	struct un_obj o = { 0 };
	int rc;

	memset(w, 0, sizeof(*w));
	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = walk_path(ex, path, &o, w);
	pthread_rwlock_unlock(&ex->ns_lock);
	obj_release(&o);
	return rc;
}
