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
 *
 * READDIRPLUS also needs each entry's handle and attributes.  A listing
 * keeps them once looked up, while inotify watches its layer directories:
 * every change to a child made through a name in a watched directory
 * (data, attributes, access time, a name coming or going) queues an event
 * before the change's system call returns, and each READDIRPLUS reads the
 * queue before it answers from the cache, so it never answers older than
 * a change completed before it began.  What inotify cannot see is never
 * kept: directories (what changes inside a subdirectory reports to that
 * subdirectory only), files with other names (a write through a name
 * elsewhere reports there), and layers on network or FUSE file systems.
 * Two gaps remain: a file given a second name behind our back (link(2)
 * reports to the new name's directory only) and then changed through
 * it, and stores through a shared mmap of a layer file (no event at
 * all).  For those, what is kept is also forgotten after a second, far
 * below the attribute cache time of NFS clients (acregmin, 3 s).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define RDC_MAX 16
/* entries with room for kept attributes, all lists (200 bytes each) */
#define RDC_ATTR_MAX 131072
#define RDC_ATTR_TTL_NS 1000000000ULL /* see the top of the file */
#define RDC_WATCH_MASK (IN_ACCESS | IN_ATTRIB | IN_MODIFY | IN_CREATE | \
			IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct rd_ent {
	uint64_t cookie;
	uint32_t seq;		/* order found: top layer first */
	uint8_t type;
	bool whiteout;
	char *name;
};

/* What READDIRPLUS said of an entry, valid while epoch is its list's. */
struct rd_attr {
	uint64_t epoch;		/* 0: nothing kept */
	uint64_t born;		/* CLOCK_MONOTONIC ns, before the lookup */
	uint64_t oid;
	struct un_handle fh;
	struct un_attr attr;
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
	/* kept attributes (rd_cache's lock): valid while every layer
	 * directory is watched; epoch moves when all are invalid, seq on
	 * any invalidation (a lookup that saw seq move keeps nothing) */
	bool watched;
	int wd[UN_MAX_LAYERS];
	struct rd_attr *attr;	/* n of them, or NULL */
	uint64_t epoch, seq;
};

/* How many lists use an inotify watch (one per directory inode). */
struct rd_watch {
	int wd;
	unsigned refs;
};

struct rd_cache {
	pthread_mutex_t lock;
	struct rd_list *head;	/* most recently used first */
	unsigned n;
	int ino_fd;		/* inotify, -1: no attributes kept, -2: not
				 * tried yet (started by the first READDIRPLUS,
				 * instances are few: 128 per user) */
	size_t nattr;		/* entries with room for attributes */
	unsigned nwatch, capwatch;
	struct rd_watch *watch;
};

/* The lock held. */
static void watch_put(struct rd_cache *c, int wd)
{
	for (unsigned i = 0; i < c->nwatch; i++) {
		if (c->watch[i].wd != wd)
			continue;
		if (--c->watch[i].refs == 0) {
			/* fails harmlessly if the directory is gone */
			(void)inotify_rm_watch(c->ino_fd, wd);
			c->watch[i] = c->watch[--c->nwatch];
		}
		return;
	}
}

/* The lock held: watch dirfd's directory for list l's layer. */
static int watch_get(struct rd_cache *c, int dirfd)
{
	char proc[64];
	unsigned i;
	int wd;

	if (c->nwatch == c->capwatch) {
		unsigned cap = c->capwatch ? c->capwatch * 2 : 16;
		struct rd_watch *w = realloc(c->watch, cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		c->watch = w;
		c->capwatch = cap;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	wd = inotify_add_watch(c->ino_fd, proc, RDC_WATCH_MASK);
	if (wd < 0)
		return -errno;
	for (i = 0; i < c->nwatch && c->watch[i].wd != wd; i++)
		;
	if (i == c->nwatch)
		c->watch[c->nwatch++] = (struct rd_watch){ wd, 0 };
	c->watch[i].refs++;
	return wd;
}

/* The lock held, when the list is built with watches. */
static void list_free(struct rd_cache *c, struct rd_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	for (int i = 0; i < (int)UN_MAX_LAYERS; i++)
		if ((l->mask & LBIT(i)) && l->wd[i] >= 0)
			watch_put(c, l->wd[i]);
	if (l->attr)
		c->nattr -= l->n;
	free(l->attr);
	free(l->v);
	free(l);
}

int rdc_create(struct un_export *ex)
{
	struct rd_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->ino_fd = -2;
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
		list_free(c, l);
	}
	if (c->ino_fd >= 0)
		close(c->ino_fd);
	free(c->watch);
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
		list_free(c, l);
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
		list_free(ex->rdc, l);
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

/* Changes there reach us as inotify events (not over a network, FUSE). */
static bool notify_sees_all(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case NFS_SUPER_MAGIC:
	case SMB_SUPER_MAGIC:
	case 0xff534d42:	/* cifs */
	case 0xfe534d42:	/* smb2 */
	case 0x65735546:	/* fuse */
	case 0x00c36400:	/* ceph */
	case 0x6b414653:	/* afs */
	case CODA_SUPER_MAGIC:
	case 0x01161970:	/* gfs2 */
	case 0x7461636f:	/* ocfs2 */
	case 0x47504653:	/* gpfs */
		return false;
	default:
		return true;
	}
}

static void list_watch(struct rd_cache *c, struct rd_list *l, int layer,
		       int fd)
{
	int wd = -1;

	if (notify_sees_all(fd)) {
		pthread_mutex_lock(&c->lock);
		wd = watch_get(c, fd);
		pthread_mutex_unlock(&c->lock);
	}
	l->wd[layer] = wd < 0 ? -1 : wd;
	if (wd < 0)
		l->watched = false;
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
	/* watched before it is read: nothing after the read goes unseen */
	if (l->watched)
		list_watch(ex->rdc, l, layer, fd);
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
	pthread_mutex_lock(&ex->rdc->lock);
	l->watched = ex->rdc->ino_fd >= 0;
	pthread_mutex_unlock(&ex->rdc->lock);
	l->epoch = 1;
	for (int i = 0; i < (int)UN_MAX_LAYERS; i++)
		l->wd[i] = -1;
	/* each layer's directory where redirects say it is */
	for (int i = 0; rc == 0 && i < (int)ex->nlayers; i++)
		if ((l->mask & LBIT(i)) &&
		    (rc = chain_layer_path(dir->ch, dir->ch->depth - 1, i,
					   path)) == 0)
			rc = read_layer(ex, l, i, path);
	if (rc < 0) {
		pthread_mutex_lock(&ex->rdc->lock);
		list_free(ex->rdc, l);
		pthread_mutex_unlock(&ex->rdc->lock);
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
	for (int i = 0; ok && i < (int)ex->nlayers; i++) {
		const struct rd_stamp *sp = &l->stamp[i];
		int fd;

		if (!(l->mask & LBIT(i)))
			continue;
		fd = chain_layer_path(dir->ch, dir->ch->depth - 1, i, path);
		if (fd == 0)
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
	uint64_t now;		/* READDIRPLUS: when the call began */
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

/* ---- kept attributes (READDIRPLUS) --------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A change to name (NULL: to anything) in one of l's directories. */
static void attr_forget(struct un_export *ex, struct rd_list *l,
			const char *name)
{
	uint64_t ck;

	l->seq++;
	if (!name) {
		l->epoch++;
		return;
	}
	if (!l->attr)
		return;
	ck = name_cookie(ex, name);
	for (size_t i = first_after(l, ck - 1); i < l->n && l->v[i].cookie == ck;
	     i++)
		l->attr[i].epoch = 0;
}

static void attr_event(struct un_export *ex, const struct inotify_event *ev)
{
	bool every = ev->mask & IN_Q_OVERFLOW;
	bool whole = ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF);
	const char *name = ev->len ? ev->name : NULL;

	/* the directory itself was read or changed its own attributes: its
	 * entries are what they were (building a listing reads it) */
	if (!every && !whole && !name)
		return;
	for (struct rd_list *l = ex->rdc->head; l; l = l->next)
		for (int i = 0; i < (int)ex->nlayers; i++) {
			if (!(l->mask & LBIT(i)) ||
			    (!every && (l->wd[i] < 0 || l->wd[i] != ev->wd)))
				continue;
			if (ev->mask & IN_IGNORED)
				l->watched = false; /* the directory went */
			attr_forget(ex, l, every || whole ? NULL : name);
			break;
		}
}

/* Apply the changes queued so far; rd_cache's lock held. */
static void attr_drain(struct un_export *ex)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event overflow = { .wd = -1,
						.mask = IN_Q_OVERFLOW };
	ssize_t n;

	for (;;) {
		n = read(ex->rdc->ino_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *ev =
				(const void *)(buf + off);

			attr_event(ex, ev);
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	if (n < 0 && errno != EAGAIN)
		attr_event(ex, &overflow); /* unsure: forget everything */
}

/*
 * Before a READDIRPLUS: watching from now on if we were not, and what
 * changed so far applied.  Without inotify, READDIRPLUS looks every
 * entry up each time.
 */
static void attr_start(struct un_export *ex)
{
	struct rd_cache *c = ex->rdc;

	pthread_mutex_lock(&c->lock);
	if (c->ino_fd == -2)
		c->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (c->ino_fd >= 0)
		attr_drain(ex);
	pthread_mutex_unlock(&c->lock);
}

/* Entry i's kept handle and attributes, or its list's seq for later. */
static bool attr_get(struct un_export *ex, struct rd_list *l, size_t i,
		     uint64_t now, struct rd_attr *out, uint64_t *seq)
{
	bool hit;

	pthread_mutex_lock(&ex->rdc->lock);
	hit = l->watched && !l->stale && l->attr &&
	      l->attr[i].epoch == l->epoch &&
	      now - l->attr[i].born < RDC_ATTR_TTL_NS;
	if (hit)
		*out = l->attr[i];
	*seq = l->seq;
	pthread_mutex_unlock(&ex->rdc->lock);
	return hit;
}

/* Keep what was looked up, unless anything changed since seq. */
static void attr_put(struct un_export *ex, struct rd_list *l, size_t i,
		     uint64_t seq, const struct rd_attr *a)
{
	struct rd_cache *c = ex->rdc;

	pthread_mutex_lock(&c->lock);
	if (l->watched && !l->stale && l->seq == seq && !l->attr &&
	    c->nattr + l->n <= RDC_ATTR_MAX &&
	    (l->attr = calloc(l->n, sizeof(*l->attr))))
		c->nattr += l->n;
	if (l->watched && !l->stale && l->seq == seq && l->attr) {
		l->attr[i] = *a;
		l->attr[i].epoch = l->epoch;
	}
	pthread_mutex_unlock(&c->lock);
}

/* What inotify reports in full (see the top of the file). */
static bool attr_keepable(const struct un_child *c)
{
	return c->type != UN_DIR && c->st.st_nlink <= 1;
}

static int emit_kept(struct emit *em, const struct rd_ent *e,
		     const struct rd_attr *a)
{
	struct un_dirent de = { .name = e->name, .fileid = a->oid,
				.cookie = e->cookie, .fh = &a->fh,
				.attr = &a->attr };

	return em->cb(em->arg, &de) ? 1 : 0;
}

/* READDIRPLUS of entry i when nothing is kept: look it up, keep it. */
static int emit_plus(struct emit *em, struct un_obj *dir,
		     struct un_dirfds *d, struct rd_list *l, size_t i)
{
	struct un_export *ex = em->ex;
	const struct rd_ent *e = &l->v[i];
	struct un_child c; /* lookup_child_at fills it */
	struct rd_attr a = { .oid = 0 };
	struct cat_obj co;
	uint64_t seq;
	int rc;

	if (attr_get(ex, l, i, em->now, &a, &seq))
		return emit_kept(em, e, &a);
	a.born = em->now;
	if (d->nlayers == 0 &&
	    (rc = dirfds_open(ex, dir->ch, dir->ch->depth - 1, d)) < 0)
		return rc;
	rc = lookup_child_at(ex, d, e->name, &c);
	if (rc == -ENOENT)
		return 2; /* gone since the listing was made */
	if (rc < 0)
		return rc;
	rc = cat_lookup_insert_st(ex->cat, ex->id, dir->e->oid, e->name,
				  c.type, c.layer, &c.st, &a.oid);
	if (rc < 0)
		return rc;
	cat_set_hint(ex->cat, a.oid, c.layer,
		     c.mask | (c.nredir ? LMASK_REDIR : 0));
	if (cat_get(ex->cat, a.oid, &co) < 0) /* no handle: a bare entry */
		return emit_one(em, e->name, a.oid, e->cookie, NULL);
	handle_encode(ex, a.oid, co.gen, &a.fh);
	obj_attr(ex, a.oid, &c.st, &a.attr);
	if (attr_keepable(&c))
		attr_put(ex, l, i, seq, &a);
	return emit_kept(em, e, &a);
}

/*
 * One listed name: its oid (catalogued now if new) and, for READDIRPLUS,
 * its attributes.  1: the reply is full; 2: the name is gone.
 */
static int emit_entry(struct emit *em, struct un_obj *dir,
		      struct un_dirfds *d, struct rd_list *l, size_t i)
{
	struct un_export *ex = em->ex;
	const struct rd_ent *e = &l->v[i];
	struct un_child c; /* lookup_child_at fills it */
	uint8_t type = e->type;
	bool have_st = false;
	uint64_t oid;
	int rc;

	if (em->want)
		return emit_plus(em, dir, d, l, i);
	/* a plain READDIR stats only names never catalogued, so that hard
	 * links get their shared fileid (catalog.c) */
	if (type != UN_DIR && cat_lookup(ex->cat, ex->id, dir->e->oid,
					 e->name, &oid) == -ENOENT) {
		if (d->nlayers == 0 &&
		    (rc = dirfds_open(ex, dir->ch, dir->ch->depth - 1, d)) < 0)
			return rc;
		rc = lookup_child_at(ex, d, e->name, &c);
		if (rc == -ENOENT)
			return 2; /* gone since the listing was made */
		if (rc < 0)
			return rc;
		type = c.type;
		have_st = true;
	}
	rc = cat_lookup_insert_st(ex->cat, ex->id, dir->e->oid, e->name, type,
				  have_st ? c.layer : -1,
				  have_st ? &c.st : NULL, &oid);
	if (rc == 0)
		rc = emit_one(em, e->name, oid, e->cookie, NULL);
	return rc;
}

static int emit_entries(struct emit *em, struct un_obj *dir,
			struct rd_list *l, uint64_t cookie, bool *eof)
{
	struct un_dirfds d = { .nlayers = 0, .mask = 0 };
	size_t i;
	int rc = 0;

	for (i = first_after(l, cookie < 2 ? 2 : cookie); i < l->n; i++) {
		rc = emit_entry(em, dir, &d, l, i);
		if (rc == 2)
			rc = 0;
		else if (rc != 0)
			break;
	}
	if (i == l->n)
		*eof = true;
	dirfds_close(&d);
	return rc < 0 ? rc : 0;
}

int un_readdir(struct un_export *ex, const struct un_cred *cr,
	       const struct un_handle *dir, uint64_t cookie, uint64_t verf,
	       bool want_handles, un_readdir_cb cb, void *arg,
	       uint64_t *verf_out, bool *eof, struct un_attr *dir_attr)
{
	struct emit em = { ex, want_handles, cb, arg, mono_ns() };
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
	if (rc == 0 && want_handles)
		attr_start(ex);
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
