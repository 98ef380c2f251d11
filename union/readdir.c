/*
 * readdir.c - merged directory listings with stable cookies.
 *
 * A listing merges the directory's layers top-down: each name once, as
 * the highest layer shows it; whiteouts hide the name below and are never
 * listed.  The cookie of an entry is a keyed hash of its name, and entries
 * are returned in cookie order, so "resume after cookie C" means "entries
 * whose cookie is greater than C": nothing repeats or is skipped when
 * other entries come or go, and cookies mean the same after a restart.
 *
 * Sorted listings are cached per directory (a few, LRU) and rebuilt when
 * we changed the directory or when a layer directory's mtime/ctime moved.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define RDC_MAX 16

struct rd_ent {
	uint64_t cookie;
	uint32_t seq;		/* order found: top layer first */
	uint8_t type;
	bool whiteout;
	char *name;
};

struct rd_stamp {
	ino_t ino;
	struct timespec mtime, ctime;
};

struct rd_list {
	struct rd_list *next;
	uint64_t dir_oid;
	lmask_t mask;
	unsigned refs;
	bool stale;
	size_t n, cap;
	struct rd_ent *v;
	struct rd_stamp stamp[UN_MAX_LAYERS];
};

struct rd_cache {
	pthread_mutex_t lock;
	struct rd_list *head;	/* most recently used first */
	unsigned n;
};

static void list_free(struct rd_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l);
}

int rdc_create(struct un_export *ex)
{
	struct rd_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	ex->rdc = c;
	return 0;
}

void rdc_destroy(struct un_export *ex)
{
	struct rd_cache *c = ex->rdc;

	if (!c)
		return;
	while (c->head) {
		struct rd_list *l = c->head;

		c->head = l->next;
		list_free(l);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
	ex->rdc = NULL;
}

/* Unlink l from the cache (the lock held); freed by its last user. */
static void rdc_unlink(struct rd_cache *c, struct rd_list *l)
{
	struct rd_list **pp = &c->head;

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = l->next;
		c->n--;
	}
	l->stale = true;
	if (l->refs == 0)
		list_free(l);
}

void rdc_invalidate(struct un_export *ex, uint64_t dir_oid)
{
	struct rd_cache *c = ex->rdc;
	struct rd_list *l;

	pthread_mutex_lock(&c->lock);
	for (l = c->head; l && l->dir_oid != dir_oid; l = l->next)
		;
	if (l)
		rdc_unlink(c, l);
	pthread_mutex_unlock(&c->lock);
}

static void rdc_put(struct un_export *ex, struct rd_list *l)
{
	pthread_mutex_lock(&ex->rdc->lock);
	if (--l->refs == 0 && l->stale)
		list_free(l);
	pthread_mutex_unlock(&ex->rdc->lock);
}

static int add_ent(struct rd_list *l, struct un_export *ex, const char *name,
		   uint8_t type, bool whiteout)
{
	struct rd_ent *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct rd_ent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	if (!(e->name = strdup(name)))
		return -ENOMEM;
	e->cookie = name_cookie(ex, name);
	e->seq = (uint32_t)l->n;
	e->type = type;
	e->whiteout = whiteout;
	l->n++;
	return 0;
}

static uint8_t dtype_to_type(unsigned char t)
{
	switch (t) {
	case DT_REG:
		return UN_REG;
	case DT_DIR:
		return UN_DIR;
	case DT_LNK:
		return UN_LNK;
	case DT_BLK:
		return UN_BLK;
	case DT_SOCK:
		return UN_SOCK;
	case DT_FIFO:
		return UN_FIFO;
	default:
		return 0;
	}
}

static int read_layer(struct un_export *ex, struct rd_list *l, int layer,
		      const char *path)
{
	int fd = layer_open(ex, layer, path, O_RDONLY | O_DIRECTORY), rc = 0;
	struct rd_stamp *sp = &l->stamp[layer];
	struct dirent *d;
	struct stat st;
	DIR *dir;

	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
	if (fstat(fd, &st) < 0 || !(dir = fdopendir(fd))) {
		rc = -errno;
		close(fd);
		return rc;
	}
	sp->ino = st.st_ino;
	sp->mtime = st.st_mtim;
	sp->ctime = st.st_ctim;
	while (rc == 0 && (errno = 0, d = readdir(dir))) {
		uint8_t type = dtype_to_type(d->d_type);
		bool wh = false;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (type == 0) { /* DT_CHR (maybe a whiteout) or unknown */
			if (fstatat(dirfd(dir), d->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = mode_to_type(st.st_mode);
			wh = is_whiteout(&st);
		}
		rc = add_ent(l, ex, d->d_name, type, wh);
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(dir);
	return rc;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct rd_ent *x = a, *y = b;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort by cookie; of equal names keep the highest layer's; drop whiteouts */
static void merge(struct rd_list *l)
{
	size_t i, out = 0;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), ent_cmp);
	for (i = 0; i < l->n; i++) {
		bool dup = out > 0 && l->v[out - 1].cookie == l->v[i].cookie;
		bool shadowed = i > 0 && l->v[i - 1].cookie == l->v[i].cookie;

		/* TODO: two different names with one 63-bit hash: the second
		 * is not listed (never seen; would need a collision chain) */
		if (dup || shadowed || l->v[i].whiteout) {
			free(l->v[i].name);
			continue;
		}
		l->v[out++] = l->v[i];
	}
	l->n = out;
}

static struct rd_list *build(struct un_export *ex, struct un_obj *dir,
			     int *err)
{
	struct rd_list *l = calloc(1, sizeof(*l));
	char path[UN_PATH_MAX];
	int rc = 0;

	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	l->dir_oid = dir->e->oid;
	l->mask = dir->e->mask;
	chain_path(dir->ch, dir->ch->depth - 1, path);
	for (int i = 0; rc == 0 && i < (int)ex->nlayers; i++)
		if (l->mask & LBIT(i))
			rc = read_layer(ex, l, i, path);
	if (rc < 0) {
		list_free(l);
		*err = rc;
		return NULL;
	}
	merge(l);
	return l;
}

/* Changed behind our back?  Compare each layer directory's times. */
static bool fresh(struct un_export *ex, struct un_obj *dir,
		  const struct rd_list *l)
{
	char path[UN_PATH_MAX];
	struct stat st;
	bool ok = true;

	if (l->mask != dir->e->mask)
		return false;
	chain_path(dir->ch, dir->ch->depth - 1, path);
	for (int i = 0; ok && i < (int)ex->nlayers; i++) {
		const struct rd_stamp *sp = &l->stamp[i];
		int fd;

		if (!(l->mask & LBIT(i)))
			continue;
		fd = layer_open(ex, i, path, O_PATH | O_DIRECTORY);
		if (fd < 0)
			return false;
		ok = fstat(fd, &st) == 0 && st.st_ino == sp->ino &&
		     st.st_mtim.tv_sec == sp->mtime.tv_sec &&
		     st.st_mtim.tv_nsec == sp->mtime.tv_nsec &&
		     st.st_ctim.tv_sec == sp->ctime.tv_sec &&
		     st.st_ctim.tv_nsec == sp->ctime.tv_nsec;
		close(fd);
	}
	return ok;
}

static struct rd_list *rdc_get(struct un_export *ex, struct un_obj *dir,
			       int *err)
{
	struct rd_cache *c = ex->rdc;
	struct rd_list *l, **pp;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->head; *pp && (*pp)->dir_oid != dir->e->oid;
	     pp = &(*pp)->next)
		;
	l = *pp;
	if (l) { /* to the front */
		*pp = l->next;
		l->next = c->head;
		c->head = l;
		l->refs++;
	}
	pthread_mutex_unlock(&c->lock);
	if (l && fresh(ex, dir, l))
		return l;
	if (l) {
		pthread_mutex_lock(&c->lock);
		l->refs--;
		rdc_unlink(c, l);
		pthread_mutex_unlock(&c->lock);
	}
	if (!(l = build(ex, dir, err)))
		return NULL;
	l->refs = 1;
	pthread_mutex_lock(&c->lock);
	l->next = c->head;
	c->head = l;
	if (++c->n > RDC_MAX) {
		struct rd_list *last = c->head;

		while (last->next)
			last = last->next;
		rdc_unlink(c, last);
	}
	pthread_mutex_unlock(&c->lock);
	return l;
}

int dir_is_empty(struct un_export *ex, struct un_obj *dir)
{
	int err = 0;
	struct rd_list *l = rdc_get(ex, dir, &err);
	int rc;

	if (!l)
		return err;
	rc = l->n == 0;
	rdc_put(ex, l);
	return rc;
}

/* ---- un_readdir ------------------------------------------------------ */

struct emit {
	struct un_export *ex;
	bool want;
	un_readdir_cb cb;
	void *arg;
};

/* Returns 1 when the callback says the reply is full. */
static int emit_one(struct emit *em, const char *name, uint64_t oid,
		    uint64_t cookie, const struct stat *st)
{
	struct un_handle fh;
	struct un_attr attr;
	struct un_dirent de = { .name = name, .fileid = oid,
				.cookie = cookie };

	if (em->want && st) {
		if (handle_make(em->ex, oid, &fh) == 0) {
			obj_attr(em->ex, oid, st, &attr);
			de.fh = &fh;
			de.attr = &attr;
		}
	}
	return em->cb(em->arg, &de) ? 1 : 0;
}

static int emit_dots(struct emit *em, struct un_obj *dir, uint64_t cookie)
{
	struct un_chain *ch = dir->ch;
	uint64_t poid = ch->depth > 1 ? ch->ent[ch->depth - 2].oid
				      : dir->e->oid;
	struct un_obj p;
	int rc;

	if (cookie < 1 && emit_one(em, ".", dir->e->oid, 1, &dir->st))
		return 1;
	if (cookie >= 2)
		return 0;
	if (!em->want)
		return emit_one(em, "..", poid, 2, NULL);
	if ((rc = obj_resolve_oid(em->ex, poid, &p)) < 0)
		return rc;
	rc = emit_one(em, "..", poid, 2, &p.st);
	obj_release(&p);
	return rc;
}

static size_t first_after(const struct rd_list *l, uint64_t cookie)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].cookie <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int emit_entries(struct emit *em, struct un_obj *dir,
			const struct rd_list *l, uint64_t cookie, bool *eof)
{
	struct un_export *ex = em->ex;
	size_t i;
	int rc = 0;

	for (i = first_after(l, cookie < 2 ? 2 : cookie); i < l->n; i++) {
		const struct rd_ent *e = &l->v[i];
		struct un_child c = { .fd = -1 };
		uint8_t type = e->type;
		bool have_st = false;
		uint64_t oid;

		/* a plain READDIR stats only names never catalogued, so
		 * that hard links get their shared fileid (catalog.c) */
		if (em->want || (type != UN_DIR &&
				 cat_lookup(ex->cat, ex->id, dir->e->oid,
					    e->name, &oid) == -ENOENT)) {
			rc = lookup_child(ex, dir->ch, dir->ch->depth - 1,
					  e->name, &c);
			if (rc == -ENOENT)
				continue; /* gone since the listing was made */
			if (rc < 0)
				return rc;
			type = c.type;
			have_st = true;
		}
		rc = cat_lookup_insert_st(ex->cat, ex->id, dir->e->oid,
					  e->name, type, c.layer,
					  have_st ? &c.st : NULL, &oid);
		if (rc == 0 && em->want)
			cat_set_hint(ex->cat, oid, c.layer, c.mask);
		if (rc == 0)
			rc = emit_one(em, e->name, oid, e->cookie,
				      em->want ? &c.st : NULL);
		child_release(&c);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	*eof = true;
	return 0;
}

int un_readdir(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *dir, uint64_t cookie, uint64_t verf,
	       bool want_handles, un_readdir_cb cb, void *arg,
	       uint64_t *verf_out, bool *eof, struct un_attr *dir_attr)
{
	struct emit em = { ex, want_handles, cb, arg };
	struct rd_list *l = NULL;
	struct un_obj o;
	bool done = false;
	int rc;

	if (verf != 0 && verf != ex->verf)
		return -UN_EBADCOOKIE;
	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = obj_resolve(ex, dir, &o);
	if (rc < 0)
		goto out;
	obj_attr(ex, o.e->oid, &o.st, dir_attr);
	if (o.e->type != UN_DIR)
		rc = -ENOTDIR;
	else
		rc = may_access(cr, o.fd, &o.st, R_OK);
	if (rc == 0 && !(l = rdc_get(ex, &o, &rc)))
		rc = rc < 0 ? rc : -EIO;
	if (rc == 0) {
		rc = emit_dots(&em, &o, cookie);
		if (rc == 0)
			rc = emit_entries(&em, &o, l, cookie, &done);
		rc = rc < 0 ? rc : 0;
	}
	if (l)
		rdc_put(ex, l);
	obj_release(&o);
out:
	pthread_rwlock_unlock(&ex->ns_lock);
	if (rc == 0) {
		if (verf_out)
			*verf_out = ex->verf;
		if (eof)
			*eof = done;
		rc = cat_sync(ex->cat);
	}
	return rc;
}
