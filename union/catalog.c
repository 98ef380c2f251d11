/*
 * catalog.c - the persistent map from object ids to names.
 *
 * Every object a client may hold a handle for has a row in objects (oid,
 * never reused) and one row per name in names (parent oid, name).  The
 * export root is the name "" under parent 0.  SQLite in WAL mode with
 * synchronous=NORMAL: a commit is a write to the WAL, so a kill -9 loses
 * nothing that was committed.  One connection, under cat->lock.
 *
 * In front of it sits a bounded LRU cache of objects, indexed by oid and
 * by (parent, name), which also remembers where each object was last found
 * (a hint used by namei.c).  The database is the truth; the cache may drop
 * anything at any time.
 *
 * Crash consistency.  A change is made on disk first and in the catalog
 * second, so a kill -9 (or power loss) in between leaves the disk ahead
 * of the catalog.  For most changes that is harmless: a created name
 * without a row simply gets its row at the next lookup (its handle was
 * never sent), a removed name whose row survived resolves to nothing and
 * answers ESTALE, copy-up changes no row at all.  The one change that
 * would lose a live handle is RENAME: the row still holds the old name,
 * which no longer exists.  So a rename of a catalogued object first
 * commits an intent row (old and new names, synchronous=FULL so it is on
 * disk before the disk rename starts), and the catalog rename deletes it
 * in the same transaction as the name update.  An intent found when the
 * export is opened means a crash in between: if the object still
 * resolves under its old name the disk rename never happened and the
 * intent is dropped, otherwise the rename is applied to the catalog.
 * Renames are serialised by the export's namespace lock, so at most one
 * intent per export is ever pending.
 *
 * Hard links.  Names of one lower inode must share one oid (one fileid).
 * The inodes table maps (export, layer, st_dev, st_ino) of objects with
 * st_nlink > 1 to their oid; it is consulted only when a new name is
 * catalogued, so handles never depend on device or inode numbers: if the
 * layers move to another disk, catalogued names keep their oids by name
 * and only the hint goes stale (it is checked against the object's type
 * and liveness before use).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CACHE_MAX_DEFAULT 50000
#define CACHE_BUCKETS 65536

enum {
	ST_GET_OBJ,
	ST_GET_NAME,
	ST_LOOKUP,
	ST_INS_OBJ,
	ST_INS_NAME,
	ST_DEL_NAME,
	ST_HAS_NAMES,
	ST_MARK_REMOVED,
	ST_GET_EXPORT,
	ST_INS_EXPORT,
	ST_SET_ROOT,
	ST_RENAME,
	ST_INS_INTENT,
	ST_DEL_INTENT,
	ST_GET_INO,
	ST_PUT_INO,
	ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_GET_OBJ] = "SELECT export, gen, type, removed FROM objects "
		       "WHERE oid = ?1",
	[ST_GET_NAME] = "SELECT parent, name FROM names WHERE oid = ?1 "
			"LIMIT 1",
	[ST_LOOKUP] = "SELECT oid FROM names WHERE export = ?1 AND "
		      "parent = ?2 AND name = ?3",
	[ST_INS_OBJ] = "INSERT INTO objects(export, gen, type, removed) "
		       "VALUES(?1, ?2, ?3, 0)",
	[ST_INS_NAME] = "INSERT OR REPLACE INTO names(export, parent, name, "
			"oid) VALUES(?1, ?2, ?3, ?4)",
	[ST_DEL_NAME] = "DELETE FROM names WHERE export = ?1 AND "
			"parent = ?2 AND name = ?3",
	[ST_HAS_NAMES] = "SELECT 1 FROM names WHERE oid = ?1 LIMIT 1",
	[ST_MARK_REMOVED] = "UPDATE objects SET removed = 1 WHERE oid = ?1",
	[ST_GET_EXPORT] = "SELECT id, root FROM exports WHERE name = ?1",
	[ST_INS_EXPORT] = "INSERT INTO exports(name, root) VALUES(?1, 0)",
	[ST_SET_ROOT] = "UPDATE exports SET root = ?2 WHERE id = ?1",
	[ST_RENAME] = "UPDATE names SET parent = ?4, name = ?5 WHERE "
		      "export = ?1 AND parent = ?2 AND name = ?3",
	[ST_INS_INTENT] = "INSERT INTO intents(export, oid, oparent, oname, "
			  "nparent, nname) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_DEL_INTENT] = "DELETE FROM intents WHERE id = ?1",
	[ST_GET_INO] = "SELECT oid FROM inodes WHERE export = ?1 AND "
		       "layer = ?2 AND dev = ?3 AND ino = ?4",
	[ST_PUT_INO] = "INSERT OR REPLACE INTO inodes(export, layer, dev, "
		       "ino, oid) VALUES(?1, ?2, ?3, ?4, ?5)",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS exports(id INTEGER PRIMARY KEY, "
	"  name TEXT UNIQUE NOT NULL, root INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS objects(oid INTEGER PRIMARY KEY "
	"  AUTOINCREMENT, export INTEGER NOT NULL, gen INTEGER NOT NULL, "
	"  type INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS names(export INTEGER NOT NULL, "
	"  parent INTEGER NOT NULL, name BLOB NOT NULL, oid INTEGER NOT NULL, "
	"  PRIMARY KEY(export, parent, name)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS names_oid ON names(oid);"
	"CREATE TABLE IF NOT EXISTS intents(id INTEGER PRIMARY KEY, "
	"  export INTEGER NOT NULL, oid INTEGER NOT NULL, "
	"  oparent INTEGER NOT NULL, oname BLOB NOT NULL, "
	"  nparent INTEGER NOT NULL, nname BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS inodes(export INTEGER NOT NULL, "
	"  layer INTEGER NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL, "
	"  oid INTEGER NOT NULL, PRIMARY KEY(export, layer, dev, ino)) "
	"  WITHOUT ROWID;"
	/* protocol state that outlives a run: see "peers and state" */
	"CREATE TABLE IF NOT EXISTS peers(kind TEXT NOT NULL, "
	"  name TEXT NOT NULL, addr TEXT NOT NULL, PRIMARY KEY(kind, name)) "
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, "
	"  value INTEGER NOT NULL) WITHOUT ROWID;";

/* ---- the cache ------------------------------------------------------- */

struct cnode {
	struct cnode *next_oid, *next_name;
	struct cnode *lru_prev, *lru_next;
	struct cat_obj o;
};

struct cat_cache {
	struct cnode *by_oid[CACHE_BUCKETS];
	struct cnode *by_name[CACHE_BUCKETS];
	struct cnode lru;	/* sentinel: lru.lru_next is the newest */
	unsigned n, max;
};

static unsigned oid_bucket(uint64_t oid)
{
	return (unsigned)((oid * 0x9e3779b97f4a7c15ULL) >> 48) %
	       CACHE_BUCKETS;
}

static unsigned name_bucket(uint64_t parent, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ parent;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 0x100000001b3ULL;
	return (unsigned)(h ^ (h >> 32)) % CACHE_BUCKETS;
}

static void lru_unlink(struct cnode *n)
{
	n->lru_prev->lru_next = n->lru_next;
	n->lru_next->lru_prev = n->lru_prev;
}

static void lru_push(struct cat_cache *c, struct cnode *n)
{
	n->lru_next = c->lru.lru_next;
	n->lru_prev = &c->lru;
	c->lru.lru_next->lru_prev = n;
	c->lru.lru_next = n;
}

static struct cnode *cache_find_oid(struct cat_cache *c, uint64_t oid)
{
	struct cnode *n = c->by_oid[oid_bucket(oid)];

	while (n && n->o.oid != oid)
		n = n->next_oid;
	if (n) {
		lru_unlink(n);
		lru_push(c, n);
	}
	return n;
}

static struct cnode *cache_find_name(struct cat_cache *c, uint32_t export,
				     uint64_t parent, const char *name)
{
	struct cnode *n = c->by_name[name_bucket(parent, name)];

	while (n && (n->o.parent != parent || n->o.export != export ||
		     strcmp(n->o.name, name) != 0))
		n = n->next_name;
	if (n) {
		lru_unlink(n);
		lru_push(c, n);
	}
	return n;
}

static void chain_remove(struct cnode **head, struct cnode *n, bool by_oid)
{
	for (; *head; head = by_oid ? &(*head)->next_oid : &(*head)->next_name)
		if (*head == n) {
			*head = by_oid ? n->next_oid : n->next_name;
			return;
		}
}

static void cache_drop_node(struct cat_cache *c, struct cnode *n)
{
	chain_remove(&c->by_oid[oid_bucket(n->o.oid)], n, true);
	chain_remove(&c->by_name[name_bucket(n->o.parent, n->o.name)], n,
		     false);
	lru_unlink(n);
	c->n--;
	free(n);
}

static void cache_drop(struct cat_cache *c, uint64_t oid)
{
	struct cnode *n = cache_find_oid(c, oid);

	if (n)
		cache_drop_node(c, n);
}

static void cache_put(struct cat_cache *c, const struct cat_obj *o)
{
	struct cnode *n;
	unsigned b;

	cache_drop(c, o->oid);
	n = malloc(sizeof(*n));
	if (!n)
		return; /* the cache is only a cache */
	n->o = *o;
	b = oid_bucket(o->oid);
	n->next_oid = c->by_oid[b];
	c->by_oid[b] = n;
	b = name_bucket(o->parent, o->name);
	n->next_name = c->by_name[b];
	c->by_name[b] = n;
	lru_push(c, n);
	if (++c->n > c->max)
		cache_drop_node(c, c->lru.lru_prev);
}

static void cache_clear(struct cat_cache *c)
{
	while (c->n)
		cache_drop_node(c, c->lru.lru_prev);
}

/* ---- which transactions a request depends on --------------------------
 * A request's rows go into the shared open transaction, and its reply
 * waits for cat_sync().  When that transaction is rolled back instead
 * (a full disk at COMMIT, or SQLite abandoning it on a failed statement),
 * every request that wrote to it, or read a row another request wrote to
 * it, must fail, whichever thread's COMMIT it was: otherwise a client is
 * given an oid that exists nowhere, and that the next new object may be
 * given again.  Each thread remembers the transactions it touched since
 * its last cat_sync(); the catalog remembers which of the last
 * CAT_TXN_WINDOW transactions were lost.  A request that fails before
 * its cat_sync() has answered its client already: un_request_begin()
 * forgets its span, so that the thread's next request (a LOOKUP, say)
 * is not failed for a transaction it never touched.
 */
static __thread struct txn_span {
	const struct un_catalog *cat;
	uint64_t seq[4];	/* the transactions touched, oldest first */
	unsigned n;
	bool wide;		/* more than 4: all from seq[0] to seq[3] */
} my_txns;

/* Under cat->lock, with a transaction open. */
static void txn_touch(struct un_catalog *cat)
{
	struct txn_span *t = &my_txns;

	if (t->cat != cat)
		*t = (struct txn_span){ .cat = cat };
	if (t->n > 0 && t->seq[t->n - 1] == cat->txn_seq)
		return;
	if (t->n == 4) {
		t->wide = true;
		t->n = 3;
	}
	t->seq[t->n++] = cat->txn_seq;
}

/* Every entry point locks this way: what it reads may be uncommitted. */
static void cat_lock(struct un_catalog *cat)
{
	pthread_mutex_lock(&cat->lock);
	if (cat->in_txn)
		txn_touch(cat);
}

static bool txn_known_lost(const struct un_catalog *cat, uint64_t seq)
{
	uint64_t bit = seq % CAT_TXN_WINDOW;

	if (cat->txn_seq - seq >= CAT_TXN_WINDOW)
		return false; /* forgotten (see txn_outcome) */
	return cat->txn_lost[bit / 64] & (UINT64_C(1) << (bit % 64));
}

static void txn_set_lost(struct un_catalog *cat, uint64_t seq, bool lost)
{
	uint64_t bit = seq % CAT_TXN_WINDOW;

	if (lost)
		cat->txn_lost[bit / 64] |= UINT64_C(1) << (bit % 64);
	else
		cat->txn_lost[bit / 64] &= ~(UINT64_C(1) << (bit % 64));
}

/* The open transaction is gone: its rows are gone, cached or not. */
static void txn_lost(struct un_catalog *cat, int rc)
{
	txn_set_lost(cat, cat->txn_seq, true);
	cat->txn_lost_rc = rc;
	cat->in_txn = false;
	cache_clear(cat->cache);
}

/*
 * Under cat->lock: 0 if no transaction this thread touched since its last
 * cat_sync() was lost (so far), else why it was.  A span left by a request
 * that failed before its cat_sync() can be old when the thread's next
 * request asks; older than what is remembered, it is that, never a
 * request still waiting, so it counts as committed (txn_known_lost).
 */
static int txn_span_lost(const struct un_catalog *cat)
{
	const struct txn_span *t = &my_txns;
	uint64_t seq;

	if (t->cat != cat || t->n == 0)
		return 0;
	if (t->wide) {
		for (seq = t->seq[0]; seq <= t->seq[t->n - 1]; seq++)
			if (txn_known_lost(cat, seq))
				return cat->txn_lost_rc;
		return 0;
	}
	for (unsigned i = 0; i < t->n; i++)
		if (txn_known_lost(cat, t->seq[i]))
			return cat->txn_lost_rc;
	return 0;
}

void un_request_begin(void)
{
	my_txns.n = 0;
	my_txns.wide = false;
}

/* Under cat->lock, once nothing this thread touched is still open: the
 * request's outcome.  Starts a new span. */
static int txn_outcome(struct un_catalog *cat)
{
	int rc = txn_span_lost(cat);

	my_txns.n = 0;
	my_txns.wide = false;
	return rc;
}

/* ---- SQLite helpers ---------------------------------------------------- */

static int db_err(struct un_catalog *cat, const char *what)
{
	int code = sqlite3_errcode(cat->db);
	/* A full disk is the client's NOSPC, not an I/O error. */
	int rc = code == SQLITE_FULL ? -ENOSPC : -EIO;

	/* Rate limiting is the caller's business; this is rare. */
	fprintf(stderr, "unionnfsd: catalog: %s: %s\n", what,
		sqlite3_errmsg(cat->db));
	/* On some errors (a full disk among them) SQLite rolls the open
	 * transaction back by itself. */
	if (cat->in_txn && sqlite3_get_autocommit(cat->db))
		txn_lost(cat, rc);
	return rc;
}

static sqlite3_stmt *stmt(struct un_catalog *cat, int which)
{
	sqlite3_stmt *s = cat->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void bind_name(sqlite3_stmt *s, int col, const char *name)
{
	sqlite3_bind_blob(s, col, name, (int)strlen(name), SQLITE_STATIC);
}

/* Run a statement that returns no rows. */
static int step_done(struct un_catalog *cat, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_err(cat, "write");
}

/* Writes go into the shared open transaction (see cat_sync). */
static int begin_write(struct un_catalog *cat)
{
	if (cat->in_txn) {
		txn_touch(cat);
		return 0;
	}
	if (sqlite3_exec(cat->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_err(cat, "begin");
	cat->in_txn = true;
	cat->txn_new_names = false;
	txn_set_lost(cat, ++cat->txn_seq, false);
	txn_touch(cat);
	return 0;
}

static uint32_t new_gen(struct un_catalog *cat)
{
	uint64_t x = cat->rng; /* xorshift64 */

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	cat->rng = x;
	return (uint32_t)(x >> 16) | 1;
}

/* ---- locked internals ------------------------------------------------ */

static int get_locked(struct un_catalog *cat, uint64_t oid,
		      struct cat_obj *o)
{
	struct cnode *n = cache_find_oid(cat->cache, oid);
	sqlite3_stmt *s;
	int rc;

	if (n) {
		*o = n->o;
		return 0;
	}
	memset(o, 0, sizeof(*o));
	o->oid = oid;
	o->layer = -1;
	s = stmt(cat, ST_GET_OBJ);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)oid);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ESTALE : db_err(cat, "get");
	}
	o->export = (uint32_t)sqlite3_column_int64(s, 0);
	o->gen = (uint32_t)sqlite3_column_int64(s, 1);
	o->type = (uint8_t)sqlite3_column_int(s, 2);
	o->removed = sqlite3_column_int(s, 3) != 0;
	sqlite3_reset(s);

	s = stmt(cat, ST_GET_NAME);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)oid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int len = sqlite3_column_bytes(s, 1);
		const void *p = sqlite3_column_blob(s, 1);

		o->parent = (uint64_t)sqlite3_column_int64(s, 0);
		if (len > UN_NAME_MAX)
			len = UN_NAME_MAX;
		if (len > 0)
			memcpy(o->name, p, (size_t)len);
		o->name[len] = '\0';
	} else if (rc == SQLITE_DONE) {
		o->removed = true; /* no name left */
	} else {
		sqlite3_reset(s);
		return db_err(cat, "get name");
	}
	sqlite3_reset(s);
	if (!o->removed)
		cache_put(cat->cache, o);
	return 0;
}

static int lookup_locked(struct un_catalog *cat, uint32_t export,
			 uint64_t parent, const char *name, uint64_t *oid)
{
	struct cnode *n = cache_find_name(cat->cache, export, parent, name);
	sqlite3_stmt *s;
	int rc;

	if (n) {
		*oid = n->o.oid;
		return 0;
	}
	s = stmt(cat, ST_LOOKUP);
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)parent);
	bind_name(s, 3, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*oid = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : db_err(cat, "lookup");
}

static int has_names(struct un_catalog *cat, uint64_t oid)
{
	sqlite3_stmt *s = stmt(cat, ST_HAS_NAMES);
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)oid);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_err(cat, "names");
}

static int unlink_locked(struct un_catalog *cat, uint32_t export,
			 uint64_t parent, const char *name, uint64_t *oidp)
{
	uint64_t oid = 0;
	sqlite3_stmt *s;
	int rc = lookup_locked(cat, export, parent, name, &oid);

	if (oidp)
		*oidp = rc == 0 ? oid : 0;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || (rc = begin_write(cat)) < 0)
		return rc;
	cache_drop(cat->cache, oid);
	s = stmt(cat, ST_DEL_NAME);
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)parent);
	bind_name(s, 3, name);
	if ((rc = step_done(cat, s)) < 0)
		return rc;
	rc = has_names(cat, oid);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	/* Its last name: the handle must now say ESTALE, even when another
	 * object appears under the same name later (it gets a new oid). */
	s = stmt(cat, ST_MARK_REMOVED);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)oid);
	return step_done(cat, s);
}

static int insert_name(struct un_catalog *cat, uint32_t export,
		       uint64_t parent, const char *name, uint64_t oid)
{
	sqlite3_stmt *s = stmt(cat, ST_INS_NAME);

	cat->txn_new_names = true;
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)parent);
	bind_name(s, 3, name);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)oid);
	return step_done(cat, s);
}

static int insert_locked(struct un_catalog *cat, uint32_t export,
			 uint64_t parent, const char *name, uint8_t type,
			 uint64_t *oid)
{
	struct cat_obj o = { .parent = parent, .export = export,
			     .type = type, .layer = -1 };
	sqlite3_stmt *s;
	int rc = begin_write(cat);

	if (rc < 0)
		return rc;
	o.gen = new_gen(cat);
	s = stmt(cat, ST_INS_OBJ);
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int64(s, 2, o.gen);
	sqlite3_bind_int(s, 3, type);
	if ((rc = step_done(cat, s)) < 0)
		return rc;
	o.oid = (uint64_t)sqlite3_last_insert_rowid(cat->db);
	if ((rc = insert_name(cat, export, parent, name, o.oid)) < 0)
		return rc;
	snprintf(o.name, sizeof(o.name), "%s", name);
	cache_put(cat->cache, &o);
	*oid = o.oid;
	return 0;
}

/* ---- the interface ----------------------------------------------------- */

int cat_get(struct un_catalog *cat, uint64_t oid, struct cat_obj *o)
{
	int rc, lost;

	cat_lock(cat);
	rc = get_locked(cat, oid, o);
	/* An object whose transaction was just lost under this request
	 * (a CREATE's, say): the request fails for that reason, not with
	 * STALE, which would tell the client its directory is gone. */
	if (rc == -ESTALE && (lost = txn_span_lost(cat)) < 0)
		rc = lost;
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_lookup(struct un_catalog *cat, uint32_t export, uint64_t parent,
	       const char *name, uint64_t *oid)
{
	int rc;

	cat_lock(cat);
	rc = lookup_locked(cat, export, parent, name, oid);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_lookup_insert(struct un_catalog *cat, uint32_t export,
		      uint64_t parent, const char *name, uint8_t type,
		      uint64_t *oid)
{
	struct cat_obj o;
	int rc;

	cat_lock(cat);
	rc = lookup_locked(cat, export, parent, name, oid);
	if (rc == 0) {
		rc = get_locked(cat, *oid, &o);
		if (rc == 0 && o.type == type && !o.removed)
			goto out;
		/* Replaced behind our back by another kind of object. */
		rc = unlink_locked(cat, export, parent, name, NULL);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (rc == 0)
		rc = insert_locked(cat, export, parent, name, type, oid);
out:
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_create(struct un_catalog *cat, uint32_t export, uint64_t parent,
	       const char *name, uint8_t type, uint64_t *oid)
{
	int rc;

	cat_lock(cat);
	rc = unlink_locked(cat, export, parent, name, NULL);
	if (rc == 0)
		rc = insert_locked(cat, export, parent, name, type, oid);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_unlink(struct un_catalog *cat, uint32_t export, uint64_t parent,
	       const char *name, uint64_t *oid)
{
	int rc;

	cat_lock(cat);
	rc = unlink_locked(cat, export, parent, name, oid);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_link(struct un_catalog *cat, uint32_t export, uint64_t oid,
	     uint64_t parent, const char *name)
{
	int rc;

	cat_lock(cat);
	rc = unlink_locked(cat, export, parent, name, NULL);
	if (rc == 0)
		rc = begin_write(cat);
	if (rc == 0)
		rc = insert_name(cat, export, parent, name, oid);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_rename(struct un_catalog *cat, uint32_t export, uint64_t oparent,
	       const char *oname, uint64_t nparent, const char *nname)
{
	uint64_t oid, victim;
	sqlite3_stmt *s;
	int rc;

	cat_lock(cat);
	rc = lookup_locked(cat, export, oparent, oname, &oid);
	if (rc == -ENOENT) { /* never looked up: nothing to move */
		rc = unlink_locked(cat, export, nparent, nname, NULL);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (lookup_locked(cat, export, nparent, nname, &victim) == 0 &&
	    victim == oid) {
		/* two names of one object: rename(2) keeps both */
		goto out;
	}
	rc = unlink_locked(cat, export, nparent, nname, NULL);
	if (rc == 0)
		rc = begin_write(cat);
	if (rc < 0)
		goto out;
	cache_drop(cat->cache, oid);
	s = stmt(cat, ST_RENAME);
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)oparent);
	bind_name(s, 3, oname);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)nparent);
	bind_name(s, 5, nname);
	rc = step_done(cat, s);
out:
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* ---- hard links ------------------------------------------------------- */

static int ino_get_locked(struct un_catalog *cat, uint32_t export, int layer,
			  const struct stat *st, uint64_t *oid)
{
	sqlite3_stmt *s = stmt(cat, ST_GET_INO);
	int rc;

	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int(s, 2, layer);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)st->st_dev);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)st->st_ino);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*oid = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : db_err(cat, "inode hint");
}

static int ino_put_locked(struct un_catalog *cat, uint32_t export, int layer,
			  const struct stat *st, uint64_t oid)
{
	sqlite3_stmt *s;
	int rc = begin_write(cat);

	if (rc < 0)
		return rc;
	s = stmt(cat, ST_PUT_INO);
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int(s, 2, layer);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)st->st_dev);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)st->st_ino);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)oid);
	return step_done(cat, s);
}

int cat_ino_hint(struct un_catalog *cat, uint32_t export, int layer,
		 const struct stat *st, uint64_t oid)
{
	int rc;

	cat_lock(cat);
	rc = ino_put_locked(cat, export, layer, st, oid);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* The live oid of another name of this inode, or -ENOENT. */
static int ino_find_locked(struct un_catalog *cat, uint32_t export,
			   int layer, const struct stat *st, uint8_t type,
			   uint64_t *oid)
{
	struct cat_obj o;
	int rc = ino_get_locked(cat, export, layer, st, oid);

	if (rc < 0)
		return rc;
	rc = get_locked(cat, *oid, &o);
	if (rc == -ESTALE || (rc == 0 && (o.removed || o.type != type)))
		return -ENOENT; /* a stale hint: the inode was reused */
	return rc;
}

int cat_lookup_insert_st(struct un_catalog *cat, uint32_t export,
			 uint64_t parent, const char *name, uint8_t type,
			 int layer, const struct stat *st, uint64_t *oid)
{
	bool linked = st && type != UN_DIR && st->st_nlink > 1 && layer >= 0;
	int rc;

	if (!linked)
		return cat_lookup_insert(cat, export, parent, name, type, oid);
	cat_lock(cat);
	rc = lookup_locked(cat, export, parent, name, oid);
	if (rc == -ENOENT) {
		rc = ino_find_locked(cat, export, layer, st, type, oid);
		if (rc == 0 && (rc = begin_write(cat)) == 0)
			rc = insert_name(cat, export, parent, name, *oid);
		else if (rc == -ENOENT)
			rc = insert_locked(cat, export, parent, name, type,
					   oid);
		if (rc == 0)
			rc = ino_put_locked(cat, export, layer, st, *oid);
	}
	pthread_mutex_unlock(&cat->lock);
	if (rc == 0) {
		struct cat_obj o;

		/* a name known with another type: the generic path
		 * replaces the row */
		if ((rc = cat_get(cat, *oid, &o)) == 0 &&
		    (o.type != type || o.removed))
			rc = cat_lookup_insert(cat, export, parent, name, type,
					       oid);
	}
	return rc;
}

/* ---- rename intents -------------------------------------------------- */

static int commit_locked(struct un_catalog *cat)
{
	int rc = 0;

	if (!cat->in_txn)
		return 0;
	if (sqlite3_exec(cat->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(cat, "commit");
		/* Whatever SQLite kept of it, it is not durable: drop it
		 * all, and tell everyone whose rows were in it. */
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
		txn_lost(cat, rc);
	} else if (cat->txn_new_names && cat->dur) {
		/* a handle may now depend on these rows: the next sync
		 * round makes them durable (wal_setup) */
		dur_files_dirty(cat->dur);
	}
	cat->in_txn = false;
	return rc;
}

/*
 * The intent must be on disk before the disk rename, so it is committed
 * with the WAL fsynced.  The level can only change between transactions.
 */
static int set_synchronous(struct un_catalog *cat, bool full)
{
	if (sqlite3_exec(cat->db, full ? "PRAGMA synchronous=FULL"
				       : "PRAGMA synchronous=NORMAL",
			 NULL, NULL, NULL) != SQLITE_OK)
		return db_err(cat, "synchronous");
	return 0;
}

int cat_intent_begin(struct un_catalog *cat, uint32_t export,
		     uint64_t oparent, const char *oname, uint64_t nparent,
		     const char *nname, int64_t *id)
{
	sqlite3_stmt *s;
	uint64_t oid;
	int rc;

	*id = 0;
	cat_lock(cat);
	rc = lookup_locked(cat, export, oparent, oname, &oid);
	if (rc == -ENOENT) { /* no handle can name it: nothing to protect */
		rc = 0;
		goto out;
	}
	/* other requests' pending writes go first, at the usual level */
	if (rc < 0 || (rc = commit_locked(cat)) < 0 ||
	    (rc = set_synchronous(cat, true)) < 0)
		goto out;
	if ((rc = begin_write(cat)) < 0)
		goto normal;
	s = stmt(cat, ST_INS_INTENT);
	sqlite3_bind_int64(s, 1, export);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)oid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)oparent);
	bind_name(s, 4, oname);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)nparent);
	bind_name(s, 6, nname);
	if ((rc = step_done(cat, s)) == 0) {
		*id = sqlite3_last_insert_rowid(cat->db);
		rc = commit_locked(cat);
	}
	if (rc < 0)
		*id = 0;
normal:
	if (set_synchronous(cat, false) < 0 && rc == 0)
		rc = -EIO;
out:
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int intent_del_locked(struct un_catalog *cat, int64_t id)
{
	sqlite3_stmt *s;
	int rc = begin_write(cat);

	if (rc < 0)
		return rc;
	s = stmt(cat, ST_DEL_INTENT);
	sqlite3_bind_int64(s, 1, id);
	return step_done(cat, s);
}

void cat_intent_done(struct un_catalog *cat, int64_t id)
{
	if (id == 0)
		return;
	cat_lock(cat);
	/* if this fails the intent is resolved at the next start */
	(void)intent_del_locked(cat, id);
	pthread_mutex_unlock(&cat->lock);
}

struct intent {
	int64_t id;
	uint64_t oid, oparent, nparent;
	char oname[UN_NAME_MAX + 1], nname[UN_NAME_MAX + 1];
};

static void col_name(sqlite3_stmt *s, int col, char *buf)
{
	int len = sqlite3_column_bytes(s, col);
	const void *p = sqlite3_column_blob(s, col);

	if (len > UN_NAME_MAX)
		len = UN_NAME_MAX;
	if (len > 0)
		memcpy(buf, p, (size_t)len);
	buf[len > 0 ? len : 0] = '\0';
}

/* At most one per export is pending (renames are serialised). */
static int intents_read(struct un_catalog *cat, uint32_t export,
			struct intent *v, unsigned max, unsigned *n)
{
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(cat->db, "SELECT id, oid, oparent, oname, "
				"nparent, nname FROM intents WHERE export = ?1 "
				"ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return db_err(cat, "intents");
	sqlite3_bind_int64(s, 1, export);
	while (*n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct intent *it = &v[(*n)++];

		it->id = sqlite3_column_int64(s, 0);
		it->oid = (uint64_t)sqlite3_column_int64(s, 1);
		it->oparent = (uint64_t)sqlite3_column_int64(s, 2);
		col_name(s, 3, it->oname);
		it->nparent = (uint64_t)sqlite3_column_int64(s, 4);
		col_name(s, 5, it->nname);
	}
	sqlite3_finalize(s);
	return 0;
}

/* Does the catalog still hold the intent's object under the old name? */
static bool intent_pending(struct un_catalog *cat, uint32_t export,
			   const struct intent *it)
{
	uint64_t oid = 0;
	int rc;

	cat_lock(cat);
	rc = lookup_locked(cat, export, it->oparent, it->oname, &oid);
	pthread_mutex_unlock(&cat->lock);
	return rc == 0 && oid == it->oid;
}

static int intent_apply(struct un_export *ex, const struct intent *it)
{
	struct un_obj o = { 0 };
	int rc = obj_resolve_oid(ex, it->oid, &o);

	obj_release(&o);
	if (rc == 0) {
		/* still there under the old name: the rename never
		 * reached the disk */
		rc = 0;
	} else if ((rc == -ENOENT || rc == -ESTALE) &&
		   !intent_pending(ex->cat, ex->id, it)) {
		rc = 0; /* the catalog rename was committed already */
	} else if (rc == -ENOENT || rc == -ESTALE) {
		fprintf(stderr, "unionnfsd: %s: completing an interrupted "
			"rename to \"%s\"\n", ex->name, it->nname);
		rc = cat_rename(ex->cat, ex->id, it->oparent, it->oname,
				it->nparent, it->nname);
	} else {
		return rc; /* cannot tell now: keep the intent */
	}
	if (rc == 0) {
		cat_lock(ex->cat);
		rc = intent_del_locked(ex->cat, it->id);
		pthread_mutex_unlock(&ex->cat->lock);
	}
	return rc;
}

int cat_intents_resolve(struct un_export *ex)
{
	struct intent v[8];
	unsigned n, i;
	int rc;

	cat_lock(ex->cat);
	rc = intents_read(ex->cat, ex->id, v, 8, &n);
	pthread_mutex_unlock(&ex->cat->lock);
	for (i = 0; rc == 0 && i < n; i++)
		rc = intent_apply(ex, &v[i]);
	return rc < 0 ? rc : cat_sync(ex->cat);
}

/* ---- fsck support --------------------------------------------------- */

int cat_all_oids(struct un_catalog *cat, uint32_t export, uint64_t **out,
		 size_t *n)
{
	sqlite3_stmt *s;
	uint64_t *v = NULL, *nv;
	size_t cap = 0;
	int rc = 0;

	*n = 0;
	cat_lock(cat);
	if (sqlite3_prepare_v2(cat->db, "SELECT DISTINCT oid FROM names "
				"WHERE export = ?1 ORDER BY oid", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = db_err(cat, "fsck");
		goto out;
	}
	sqlite3_bind_int64(s, 1, export);
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			if (!(nv = realloc(v, cap * sizeof(*v)))) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[(*n)++] = (uint64_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
out:
	pthread_mutex_unlock(&cat->lock);
	if (rc < 0) {
		free(v);
		v = NULL;
		*n = 0;
	}
	*out = v;
	return rc;
}

static int exec_oid(struct un_catalog *cat, const char *sql, uint64_t oid)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(cat->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(cat, "fsck");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)oid);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(cat, "fsck");
	sqlite3_finalize(s);
	return rc;
}

int cat_forget(struct un_catalog *cat, uint64_t oid)
{
	int rc;

	cat_lock(cat);
	cache_drop(cat->cache, oid);
	rc = begin_write(cat);
	if (rc == 0)
		rc = exec_oid(cat, "DELETE FROM names WHERE oid = ?1", oid);
	if (rc == 0)
		rc = exec_oid(cat, "UPDATE objects SET removed = 1 "
			      "WHERE oid = ?1", oid);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_prune_hints(struct un_catalog *cat, uint32_t export, bool repair)
{
	static const char *const sql[2] = {
		"SELECT count(*) FROM inodes WHERE export = ?1 AND oid NOT IN "
		"(SELECT oid FROM names)",
		"DELETE FROM inodes WHERE export = ?1 AND oid NOT IN "
		"(SELECT oid FROM names)",
	};
	sqlite3_stmt *s;
	int rc, n = 0;

	cat_lock(cat);
	for (int i = 0; i < (repair ? 2 : 1); i++) {
		if ((i == 1 && (rc = begin_write(cat)) < 0) ||
		    sqlite3_prepare_v2(cat->db, sql[i], -1, &s, NULL) !=
			    SQLITE_OK) {
			n = db_err(cat, "fsck");
			break;
		}
		sqlite3_bind_int64(s, 1, export);
		rc = sqlite3_step(s);
		if (i == 0 && rc == SQLITE_ROW)
			n = sqlite3_column_int(s, 0);
		else if (rc != (i == 0 ? SQLITE_ROW : SQLITE_DONE))
			n = db_err(cat, "fsck");
		sqlite3_finalize(s);
		if (n < 0)
			break;
	}
	pthread_mutex_unlock(&cat->lock);
	return n;
}

void cat_set_hint(struct un_catalog *cat, uint64_t oid, int layer,
		  lmask_t mask)
{
	struct cnode *n;

	cat_lock(cat);
	n = cache_find_oid(cat->cache, oid);
	if (n) {
		n->o.layer = (int8_t)layer;
		n->o.mask = mask;
	}
	pthread_mutex_unlock(&cat->lock);
}

int cat_sync(struct un_catalog *cat)
{
	int rc, outcome;

	cat_lock(cat);
	rc = commit_locked(cat);
	outcome = txn_outcome(cat);
	pthread_mutex_unlock(&cat->lock);
	return rc < 0 ? rc : outcome;
}

int un_catalog_flush(struct un_catalog *cat)
{
	return cat_sync(cat);
}

/* ---- peers and state --------------------------------------------------
 * Small records the protocols keep across restarts (include/union.h): the
 * hosts to tell when we restart, the NSM state number.  They change
 * rarely (once per new host), so each change is a transaction of its own,
 * committed with the WAL synced, as rename intents are: a host that took
 * a lock is still known after a power loss.  Other requests' pending
 * writes are committed first, at the usual level.
 */
static bool peer_str_ok(const char *s)
{
	return s && *s && strlen(s) <= UN_PEER_STR_MAX;
}

static sqlite3_stmt *prepare(struct un_catalog *cat, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(cat->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_err(cat, "prepare");
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static void bind_text(sqlite3_stmt *s, int col, const char *text)
{
	sqlite3_bind_text(s, col, text, -1, SQLITE_STATIC);
}

/* Run the prepared write s (NULL: preparing failed) as one synced
 * transaction, and finalize it. */
static int small_write_locked(struct un_catalog *cat, sqlite3_stmt *s)
{
	struct txn_span saved;
	int rc;

	if (!s)
		return -EIO;
	if ((rc = commit_locked(cat)) < 0 ||
	    (rc = set_synchronous(cat, true)) < 0)
		goto out;
	/* our own transaction, whose outcome we return: not the
	 * request's business at its next cat_sync() */
	saved = my_txns;
	if ((rc = begin_write(cat)) == 0 && (rc = step_done(cat, s)) == 0)
		rc = commit_locked(cat);
	if (rc < 0 && cat->in_txn) {
		/* only our statement was in it */
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
		cat->in_txn = false;
	}
	my_txns = saved;
	if (set_synchronous(cat, false) < 0 && rc == 0)
		rc = -EIO;
out:
	sqlite3_finalize(s);
	return rc;
}

int un_catalog_peer_put(struct un_catalog *cat, const char *kind,
			const char *name, const char *addr)
{
	sqlite3_stmt *s;
	int rc;

	if (!peer_str_ok(kind) || !peer_str_ok(name) || !peer_str_ok(addr))
		return -EINVAL;
	cat_lock(cat);
	s = prepare(cat, "INSERT OR REPLACE INTO peers(kind, name, addr) "
			 "VALUES(?1, ?2, ?3)");
	if (s) {
		bind_text(s, 1, kind);
		bind_text(s, 2, name);
		bind_text(s, 3, addr);
	}
	rc = small_write_locked(cat, s);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int un_catalog_peer_del(struct un_catalog *cat, const char *kind,
			const char *name)
{
	sqlite3_stmt *s;
	int rc;

	if (!peer_str_ok(kind) || !peer_str_ok(name))
		return -EINVAL;
	cat_lock(cat);
	s = prepare(cat, "DELETE FROM peers WHERE kind = ?1 AND name = ?2");
	if (s) {
		bind_text(s, 1, kind);
		bind_text(s, 2, name);
	}
	rc = small_write_locked(cat, s);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int un_catalog_peer_list(struct un_catalog *cat, const char *kind,
			 un_peer_cb cb, void *arg)
{
	sqlite3_stmt *s;
	int rc = 0, step = SQLITE_DONE;

	if (!peer_str_ok(kind))
		return -EINVAL;
	cat_lock(cat);
	s = prepare(cat, "SELECT name, addr FROM peers WHERE kind = ?1 "
			 "ORDER BY name");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	bind_text(s, 1, kind);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *addr = (const char *)sqlite3_column_text(s, 1);

		if (name && addr)
			rc = cb(arg, name, addr);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_err(cat, "peers");
	sqlite3_finalize(s);
out:
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int un_catalog_state_get(struct un_catalog *cat, const char *key,
			 int64_t *value)
{
	sqlite3_stmt *s;
	int rc = -ENOENT, step;

	if (!peer_str_ok(key))
		return -EINVAL;
	cat_lock(cat);
	s = prepare(cat, "SELECT value FROM state WHERE key = ?1");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	bind_text(s, 1, key);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*value = sqlite3_column_int64(s, 0);
		rc = 0;
	} else if (step != SQLITE_DONE) {
		rc = db_err(cat, "state");
	}
	sqlite3_finalize(s);
out:
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int un_catalog_state_set(struct un_catalog *cat, const char *key,
			 int64_t value)
{
	sqlite3_stmt *s;
	int rc;

	if (!peer_str_ok(key))
		return -EINVAL;
	cat_lock(cat);
	s = prepare(cat, "INSERT OR REPLACE INTO state(key, value) "
			 "VALUES(?1, ?2)");
	if (s) {
		bind_text(s, 1, key);
		sqlite3_bind_int64(s, 2, value);
	}
	rc = small_write_locked(cat, s);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/*
 * Files removed while open (orphan.c) are named (parent 0, "<oid>"); no
 * open survives a restart, so when the export is attached they are
 * removed for good (their files go with the work dir's temporaries).
 */
static int orphans_purge_locked(struct un_catalog *cat, const char *ename,
				uint32_t export)
{
	static const char *const sql[] = {
		"UPDATE objects SET removed = 1 WHERE oid IN (SELECT oid "
		"FROM names WHERE export = ?1 AND parent = 0 AND "
		"length(name) > 0)",
		"DELETE FROM names WHERE export = ?1 AND parent = 0 AND "
		"length(name) > 0",
	};
	int rc = 0, n = 0;

	for (unsigned i = 0; rc == 0 && i < 2; i++) {
		sqlite3_stmt *s;

		if (i == 0 && (rc = begin_write(cat)) < 0)
			break;
		if (!(s = prepare(cat, sql[i])))
			return -EIO;
		sqlite3_bind_int64(s, 1, export);
		rc = step_done(cat, s);
		sqlite3_finalize(s);
		if (i == 0)
			n = sqlite3_changes(cat->db);
	}
	if (rc == 0 && n > 0) {
		cache_clear(cat->cache);
		fprintf(stderr, "unionnfsd: %s: %d file%s removed while open "
			"%s gone for good (no open survives a restart)\n",
			ename, n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
	}
	return rc;
}

int cat_name_count(struct un_catalog *cat, uint64_t oid)
{
	sqlite3_stmt *s;
	int rc;

	cat_lock(cat);
	s = prepare(cat, "SELECT count(*) FROM names WHERE oid = ?1");
	if (!s) {
		pthread_mutex_unlock(&cat->lock);
		return -EIO;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)oid);
	rc = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0)
					   : db_err(cat, "names");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int cat_export_attach(struct un_catalog *cat, const char *name,
		      uint32_t *id, uint64_t *root_oid)
{
	sqlite3_stmt *s;
	int rc;

	cat_lock(cat);
	s = stmt(cat, ST_GET_EXPORT);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = (uint32_t)sqlite3_column_int64(s, 0);
		*root_oid = (uint64_t)sqlite3_column_int64(s, 1);
		sqlite3_reset(s);
		rc = orphans_purge_locked(cat, name, *id);
		pthread_mutex_unlock(&cat->lock);
		return rc < 0 ? rc : cat_sync(cat);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		rc = db_err(cat, "export");
		goto out;
	}
	if ((rc = begin_write(cat)) < 0)
		goto out;
	s = stmt(cat, ST_INS_EXPORT);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if ((rc = step_done(cat, s)) < 0)
		goto out;
	*id = (uint32_t)sqlite3_last_insert_rowid(cat->db);
	/* The root is the name "" under parent 0. */
	rc = insert_locked(cat, *id, 0, "", UN_DIR, root_oid);
	if (rc < 0)
		goto out;
	s = stmt(cat, ST_SET_ROOT);
	sqlite3_bind_int64(s, 1, *id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)*root_oid);
	rc = step_done(cat, s);
out:
	pthread_mutex_unlock(&cat->lock);
	return rc < 0 ? rc : cat_sync(cat);
}

void cat_set_cache_max(struct un_catalog *cat, unsigned max)
{
	cat_lock(cat);
	cat->cache->max = max ? max : 1;
	while (cat->cache->n > cat->cache->max)
		cache_drop_node(cat->cache, cat->cache->lru.lru_prev);
	pthread_mutex_unlock(&cat->lock);
}

/* ---- open and close ------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int create_key(const char *path, uint8_t *key, char *err,
		      size_t errlen)
{
	int fd, rc = 0;

	if (getrandom(key, SIPHASH_KEY_LEN, 0) != SIPHASH_KEY_LEN) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (write(fd, key, SIPHASH_KEY_LEN) != SIPHASH_KEY_LEN ||
	    fsync(fd) < 0) {
		rc = -EIO;
		snprintf(err, errlen, "%s: cannot write", path);
		unlink(path);
	}
	close(fd);
	return rc;
}

/* The handle secret: whoever has it can forge handles, hence 0600. */
static int load_key(const char *dbpath, uint8_t *key, char *err,
		    size_t errlen)
{
	char path[UN_PATH_MAX];
	struct stat st;
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s.key", dbpath) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "catalog path too long");
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return create_key(path, key, err, errlen);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (st.st_mode & 07777) != 0600) {
		snprintf(err, errlen, "%s: mode is %04o, must be 0600", path,
			 st.st_mode & 07777);
		rc = -EPERM;
	} else if (rc == 0 && (rc = read_full(fd, key, SIPHASH_KEY_LEN)) < 0) {
		snprintf(err, errlen, "%s: cannot read %d bytes", path,
			 SIPHASH_KEY_LEN);
	}
	close(fd);
	return rc;
}

static int db_setup(struct un_catalog *cat, const char *path, char *err,
		    size_t errlen)
{
	int i;

	if (sqlite3_open_v2(path, &cat->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(cat->db, 5000);
	i = cat_verify(cat->db, path, err, errlen); /* rebuild.c */
	if (i < 0)
		return i;
	if (sqlite3_exec(cat->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(cat->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(cat->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &cat->st[i],
				       NULL) != SQLITE_OK)
			goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path,
		 cat->db ? sqlite3_errmsg(cat->db) : "cannot open");
	return -EIO;
}

/*
 * Commits are not synced (synchronous=NORMAL: a kill -9 loses nothing,
 * a power loss may), so each sync round of namespace changes also
 * fdatasyncs the WAL: the reply to a CREATE waits for its row to be
 * durable, as well as its file.  SQLite keeps the WAL while the
 * connection is open, so this descriptor stays on it.
 */
static int wal_setup(struct un_catalog *cat, const char *path, char *err,
		     size_t errlen)
{
	char wal[UN_PATH_MAX];
	int fd;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(wal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", wal, strerror(errno));
		return -errno;
	}
	return dur_add_file(cat->dur, fd);
}

/* Syncs of namespace changes cover the catalog's file system too. */
static int dur_setup(struct un_catalog *cat, const char *path, char *err,
		     size_t errlen)
{
	char dir[UN_PATH_MAX];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir ? 1 : 0] = '\0';
	rc = dur_create(&cat->dur);
	if (rc == 0 && (fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = -errno;
	else if (rc == 0) {
		rc = dur_add_fs(cat->dur, fd);
		close(fd);
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	return wal_setup(cat, path, err, errlen);
}

int un_catalog_open(const char *path, struct un_catalog **out, char *err,
		    size_t errlen)
{
	struct un_catalog *cat = calloc(1, sizeof(*cat));
	int rc = -ENOMEM;

	*out = NULL;
	if (!cat || !(cat->cache = calloc(1, sizeof(*cat->cache)))) {
		snprintf(err, errlen, "out of memory");
		free(cat);
		return rc;
	}
	cat->cache->lru.lru_next = cat->cache->lru.lru_prev = &cat->cache->lru;
	cat->cache->max = CACHE_MAX_DEFAULT;
	pthread_mutex_init(&cat->lock, NULL);
	/* Never create a new catalog over a damaged one (rebuild.c). */
	rc = cat_precheck(path, err, errlen);
	if (rc == 0)
		rc = load_key(path, cat->key, err, errlen);
	if (rc == 0)
		rc = db_setup(cat, path, err, errlen);
	if (rc == 0)
		rc = dur_setup(cat, path, err, errlen);
	if (rc == 0 && (rc = pins_create(cat)) < 0)
		snprintf(err, errlen, "out of memory");
	if (rc < 0) {
		un_catalog_close(cat);
		return rc;
	}
	if (getrandom(&cat->rng, sizeof(cat->rng), 0) != sizeof(cat->rng) ||
	    cat->rng == 0)
		cat->rng = 0x2545f4914f6cdd1dULL ^ (uint64_t)getpid();
	*out = cat;
	return 0;
}

void un_catalog_close(struct un_catalog *cat)
{
	if (!cat)
		return;
	if (cat->db) {
		cat_sync(cat);
		for (int i = 0; i < ST_COUNT; i++)
			sqlite3_finalize(cat->st[i]);
		sqlite3_close(cat->db);
	}
	if (cat->cache) {
		cache_clear(cat->cache);
		free(cat->cache);
	}
	dur_destroy(cat->dur);
	pins_destroy(cat);
	pthread_mutex_destroy(&cat->lock);
	explicit_bzero(cat->key, sizeof(cat->key));
	free(cat);
}
