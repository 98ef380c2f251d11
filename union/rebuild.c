/*
 * rebuild.c - the catalog's health: checks when it is opened, and a
 * fresh catalog rebuilt from the layers when it is beyond repair.
 *
 * A damaged catalog must never be recreated silently: every handle a
 * client holds would quietly name nothing (or, worse, something else).
 * So opening one stops the daemon with a message that says what to do,
 * and only an explicit `unionnfsd --rebuild-catalog` replaces it, moving
 * the old file aside (never deleting it) and saying that every handle
 * changed.
 *
 * Checks at open, cheapest first:
 *  - the file is missing but its key is there: the catalog was lost;
 *  - the first 16 bytes are not SQLite's header (garbage, another file);
 *  - application_id is not ours (another application's database), or
 *    user_version is newer than this daemon knows;
 *  - the file is shorter than its header says (truncated);
 *  - PRAGMA quick_check, when the last run did not stop cleanly (SQLite
 *    removes the WAL file when the last connection closes, so a WAL file
 *    at open means a crash or kill) or when the catalog is small enough
 *    that the check costs little (QUICK_CHECK_BYTES): quick_check reads
 *    every page, about a second per few hundred MB, which a clean restart
 *    of a big catalog should not pay.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define CAT_APPLICATION_ID 0x554e4653 /* "UNFS" */
#define CAT_SCHEMA_VERSION 1
#define QUICK_CHECK_BYTES (64u << 20)

static const char sqlite_magic[16] = "SQLite format 3";

static int corrupt(char *err, size_t errlen, const char *path,
		   const char *why)
{
	/* Short: server_open() has 256 bytes for it. */
	snprintf(err, errlen,
		 "%s is damaged: %s; nothing was changed.  Run unionnfsd "
		 "--rebuild-catalog with the same options (keeps the old "
		 "file; all handles change)",
		 path, why);
	return -EUCLEAN;
}

static bool exists(const char *path, const char *suffix)
{
	char p[UN_PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0;
}

int cat_precheck(const char *path, char *err, size_t errlen)
{
	char head[16];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (exists(path, ".key"))
			return corrupt(err, errlen, path,
				       "missing, but its .key is there");
		return 0; /* first start: created */
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	n = fstat(fd, &st) < 0 ? -1 : read(fd, head, sizeof(head));
	close(fd);
	if (n == 0 && st.st_size == 0 && !exists(path, "-wal"))
		return 0; /* created, nothing written yet: still empty */
	if (n != (ssize_t)sizeof(head) ||
	    memcmp(head, sqlite_magic, sizeof(head)) != 0)
		return corrupt(err, errlen, path, "no SQLite header");
	return 0;
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

/* The first problem quick_check reports, or "" when it says "ok". */
static int quick_check(sqlite3 *db, char *why, size_t len)
{
	sqlite3_stmt *s;
	const char *text;
	int rc;

	why[0] = '\0';
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(why, len, "%s", sqlite3_errmsg(db));
		return -EIO;
	}
	rc = sqlite3_step(s);
	text = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
				: NULL;
	if (rc != SQLITE_ROW)
		snprintf(why, len, "%s", sqlite3_errmsg(db));
	else if (text && strcmp(text, "ok") != 0)
		snprintf(why, len, "%s", text);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

/* Our tables are there when "objects" and "names" are. */
static bool has_our_tables(sqlite3 *db, bool *empty)
{
	int64_t all = 0, ours = 0;

	pragma_int(db, "SELECT count(*) FROM sqlite_master", &all);
	pragma_int(db,
		   "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
		   "AND name IN ('objects', 'names', 'exports')",
		   &ours);
	*empty = all == 0;
	return ours == 3;
}

static int check_identity(sqlite3 *db, const char *path, char *err,
			  size_t errlen)
{
	int64_t app = 0, vers = 0;
	bool empty;
	char why[160];

	if (pragma_int(db, "PRAGMA application_id", &app) < 0 ||
	    pragma_int(db, "PRAGMA user_version", &vers) < 0) {
		snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db));
		return corrupt(err, errlen, path, why);
	}
	if (app != 0 && app != CAT_APPLICATION_ID) {
		snprintf(why, sizeof(why),
			 "application_id %#llx is not unionnfsd's",
			 (unsigned long long)app);
		return corrupt(err, errlen, path, why);
	}
	if (vers > CAT_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s: catalog schema %lld is newer than this "
			 "unionnfsd's (%d); run the newer version",
			 path, (long long)vers, CAT_SCHEMA_VERSION);
		return -EPROTO;
	}
	if (app == 0 && !has_our_tables(db, &empty) && !empty)
		return corrupt(err, errlen, path,
			       "another program's database");
	return 0;
}

/* The header's page count beyond the end of the file: truncated.  Only
 * without a WAL, which may hold the pages the file does not have yet. */
static int check_size(sqlite3 *db, const char *path, char *err,
		      size_t errlen)
{
	int64_t pages = 0, psize = 0;
	struct stat st;
	char why[160];

	if (exists(path, "-wal") || stat(path, &st) < 0)
		return 0;
	if (pragma_int(db, "PRAGMA page_count", &pages) < 0 ||
	    pragma_int(db, "PRAGMA page_size", &psize) < 0) {
		snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db));
		return corrupt(err, errlen, path, why);
	}
	if (pages * psize > (int64_t)st.st_size) {
		snprintf(why, sizeof(why),
			 "truncated to %lld of %lld bytes",
			 (long long)st.st_size, (long long)(pages * psize));
		return corrupt(err, errlen, path, why);
	}
	return 0;
}

int cat_verify(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	bool unclean = exists(path, "-wal");
	struct stat st;
	char why[200];
	int rc;

	rc = check_identity(db, path, err, errlen);
	if (rc == 0)
		rc = check_size(db, path, err, errlen);
	if (rc < 0)
		return rc;
	if (unclean || (stat(path, &st) == 0 && st.st_size < QUICK_CHECK_BYTES)) {
		rc = quick_check(db, why, sizeof(why));
		if (rc < 0 || why[0])
			return corrupt(err, errlen, path, why);
	}
	/* Stamp a new (or pre-stamp) catalog as ours. */
	snprintf(why, sizeof(why),
		 "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		 CAT_APPLICATION_ID, CAT_SCHEMA_VERSION);
	if (sqlite3_exec(db, why, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

/* ---- rebuild ---------------------------------------------------------- */

/* An empty file where the catalog was: cat_precheck() takes it for a
 * new catalog although the key file is there. */
static int make_empty(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 1;
}

int un_catalog_move_aside(const char *path, char *moved, size_t len)
{
	static const char *const parts[] = { "", "-wal", "-shm" };
	char stamp[32], from[UN_PATH_MAX], to[UN_PATH_MAX + 48];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int rc;

	moved[0] = '\0';
	if (!exists(path, "")) {
		rc = make_empty(path);
		return rc < 0 ? rc : 0;
	}
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S",
		 gmtime_r(&now, &tm));
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", path, parts[i]);
		snprintf(to, sizeof(to), "%s.corrupt-%s%s", path, stamp,
			 parts[i]);
		/* RENAME_NOREPLACE: a second rebuild in the same second
		 * must not overwrite the first one's evidence. */
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to,
			      RENAME_NOREPLACE) < 0 && errno != ENOENT)
			return -errno;
		if (i == 0)
			snprintf(moved, len, "%s", to);
	}
	return make_empty(path);
}

struct walk {
	struct un_export *ex;
	struct un_handle *dirs; /* directories still to list */
	size_t ndirs, cap;
	long objects;
	uint64_t cookie; /* of the last entry listed */
	int err;
};

static int walk_entry(void *arg, const struct un_dirent *de)
{
	struct walk *w = arg;
	struct un_handle *n;

	w->cookie = de->cookie;
	if (!strcmp(de->name, ".") || !strcmp(de->name, ".."))
		return 0;
	w->objects++;
	if (!de->attr || de->attr->type != UN_DIR)
		return 0;
	if (w->ndirs == w->cap) {
		n = realloc(w->dirs, (w->cap * 2 + 16) * sizeof(*n));
		if (!n) {
			w->err = -ENOMEM;
			return 1;
		}
		w->dirs = n;
		w->cap = w->cap * 2 + 16;
	}
	w->dirs[w->ndirs++] = *de->fh;
	return 0;
}

/* List one directory to its end, READDIRPLUS-style: that is what
 * catalogs each entry. */
static int walk_dir(struct walk *w, const struct un_handle *dir)
{
	static const struct un_cred root = { 0 };
	uint64_t verf = 0;
	bool eof = false;
	int rc = 0;

	w->cookie = 0;
	while (!eof && rc == 0 && w->err == 0)
		rc = un_readdir(w->ex, &root, dir, w->cookie, verf, true,
				walk_entry, w, &verf, &eof, NULL);
	return rc < 0 ? rc : w->err;
}

long un_rebuild(struct un_export *ex, FILE *report)
{
	struct walk w = { .ex = ex };
	struct un_handle root, dir;
	int rc;

	rc = un_root(ex, &root);
	if (rc < 0)
		return rc;
	w.objects = 1;
	rc = walk_dir(&w, &root);
	while (rc == 0 && w.ndirs > 0) {
		dir = w.dirs[--w.ndirs];
		rc = walk_dir(&w, &dir);
		if (rc == -EACCES || rc == -ENOENT) {
			fprintf(report, "%s: a directory could not be listed "
				"(%s); its entries get rows when first looked "
				"up\n", ex->name, strerror(-rc));
			rc = 0;
		}
	}
	free(w.dirs);
	if (rc == 0)
		rc = un_catalog_flush(ex->cat);
	return rc < 0 ? rc : w.objects;
}
