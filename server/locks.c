/*
 * locks.c - the byte-range lock table (see locks.h).
 *
 * One mutex guards everything: lock requests are rare next to READ and
 * WRITE, and the lists per object are short.  Objects live in a small hash
 * table and go away with their last lock and waiter.  Ranges are kept as
 * [start, end] with end inclusive, so "to EOF" is end = UINT64_MAX and no
 * arithmetic overflows.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "locks.h"

#define LK_BUCKETS 256

struct lk_key {
	uint32_t proto, pid;
	size_t client_len, oh_len;
	uint8_t *bytes; /* client, then oh */
};

struct lk_lock {
	struct lk_lock *next;
	struct lk_key key;
	enum lk_type type;
	uint64_t start, end;
};

struct lk_waiter {
	struct lk_waiter *next;
	struct lk_key key;
	enum lk_type type;
	uint64_t start, end;
	lk_wait_fn fn;
	void *arg;
};

struct lk_obj {
	struct lk_obj *next;
	struct lk_object id;
	struct lk_lock *locks;
	struct lk_waiter *waiters; /* oldest first */
};

/* A decision made under the mutex, carried out after it. */
struct lk_notice {
	struct lk_notice *next;
	lk_wait_fn fn;
	void *arg;
	bool granted;
};

static pthread_mutex_t lk_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lk_obj *lk_table[LK_BUCKETS];
static size_t lk_nlocks;

/* ---- keys and ranges -------------------------------------------------- */

static int key_set(struct lk_key *k, const struct lk_owner *o)
{
	k->proto = o->proto;
	k->pid = o->pid;
	k->client_len = o->client_len;
	k->oh_len = o->oh_len;
	k->bytes = malloc(o->client_len + o->oh_len + 1);
	if (!k->bytes)
		return -1;
	if (o->client_len)
		memcpy(k->bytes, o->client, o->client_len);
	if (o->oh_len)
		memcpy(k->bytes + o->client_len, o->oh, o->oh_len);
	return 0;
}

static int key_copy(struct lk_key *dst, const struct lk_key *src)
{
	*dst = *src;
	dst->bytes = malloc(src->client_len + src->oh_len + 1);
	if (!dst->bytes)
		return -1;
	memcpy(dst->bytes, src->bytes, src->client_len + src->oh_len);
	return 0;
}

static bool key_is(const struct lk_key *k, const struct lk_owner *o)
{
	return k->proto == o->proto && k->pid == o->pid &&
	       k->client_len == o->client_len && k->oh_len == o->oh_len &&
	       memcmp(k->bytes, o->client, o->client_len) == 0 &&
	       /* an empty owner handle may come without a buffer */
	       (o->oh_len == 0 ||
		memcmp(k->bytes + o->client_len, o->oh, o->oh_len) == 0);
}

static bool key_eq(const struct lk_key *a, const struct lk_key *b)
{
	return a->proto == b->proto && a->pid == b->pid &&
	       a->client_len == b->client_len && a->oh_len == b->oh_len &&
	       memcmp(a->bytes, b->bytes, a->client_len + a->oh_len) == 0;
}

static bool key_of_client(const struct lk_key *k, uint32_t proto,
			  const void *client, size_t len)
{
	return k->proto == proto && k->client_len == len &&
	       memcmp(k->bytes, client, len) == 0;
}

static uint64_t range_end(uint64_t offset, uint64_t len)
{
	if (len == 0 || len - 1 > UINT64_MAX - offset)
		return UINT64_MAX;
	return offset + len - 1;
}

static bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 <= e2 && s2 <= e1;
}

static bool conflicts(const struct lk_lock *l, const struct lk_key *k,
		      enum lk_type type, uint64_t start, uint64_t end)
{
	return overlaps(l->start, l->end, start, end) &&
	       (l->type == LK_WRITE || type == LK_WRITE) &&
	       !key_eq(&l->key, k);
}

/* ---- objects ---------------------------------------------------------- */

static unsigned bucket(const struct lk_object *id)
{
	uint64_t h = id->fileid * 0x9e3779b97f4a7c15ull ^ id->export_id;

	return (unsigned)(h >> 56) % LK_BUCKETS;
}

static struct lk_obj *obj_find(const struct lk_object *id, bool create)
{
	struct lk_obj *o;
	unsigned b = bucket(id);

	for (o = lk_table[b]; o; o = o->next)
		if (o->id.export_id == id->export_id &&
		    o->id.fileid == id->fileid)
			return o;
	if (!create || !(o = calloc(1, sizeof(*o))))
		return NULL;
	o->id = *id;
	o->next = lk_table[b];
	lk_table[b] = o;
	return o;
}

static void obj_put(struct lk_obj *o)
{
	struct lk_obj **pp;

	if (o->locks || o->waiters)
		return;
	for (pp = &lk_table[bucket(&o->id)]; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			free(o);
			return;
		}
}

static void lock_free(struct lk_lock *l)
{
	free(l->key.bytes);
	free(l);
	lk_nlocks--;
}

static struct lk_lock *lock_new(const struct lk_key *k, enum lk_type type,
				uint64_t start, uint64_t end)
{
	struct lk_lock *l = calloc(1, sizeof(*l));

	if (!l || key_copy(&l->key, k) < 0) {
		free(l);
		return NULL;
	}
	l->type = type;
	l->start = start;
	l->end = end;
	lk_nlocks++;
	return l;
}

static const struct lk_lock *first_conflict(const struct lk_obj *o,
					    const struct lk_key *k,
					    enum lk_type type, uint64_t start,
					    uint64_t end)
{
	const struct lk_lock *l;

	for (l = o ? o->locks : NULL; l; l = l->next)
		if (conflicts(l, k, type, start, end))
			return l;
	return NULL;
}

static void fill_conflict(struct lk_conflict *c, const struct lk_lock *l)
{
	if (!c)
		return;
	c->type = l->type;
	c->offset = l->start;
	c->len = l->end == UINT64_MAX ? 0 : l->end - l->start + 1;
	c->pid = l->key.pid;
	c->oh_len = l->key.oh_len;
	memcpy(c->oh, l->key.bytes + l->key.client_len, l->key.oh_len);
}

/*
 * Remove k's locks from [start, end], splitting a lock that covers more.
 * The only allocation is the right half of a split; -1 if it failed
 * (nothing changed then).
 */
static int carve(struct lk_obj *o, const struct lk_key *k, uint64_t start,
		 uint64_t end)
{
	struct lk_lock **pp = &o->locks, *l, *right;

	while ((l = *pp) != NULL) {
		if (!key_eq(&l->key, k) ||
		    !overlaps(l->start, l->end, start, end)) {
			pp = &l->next;
			continue;
		}
		if (l->start < start && l->end > end) {
			right = lock_new(&l->key, l->type, end + 1, l->end);
			if (!right)
				return -1;
			l->end = start - 1;
			right->next = l->next;
			l->next = right;
			return 0; /* a lock covering both sides is the only one */
		}
		if (l->start < start) {
			l->end = start - 1;
		} else if (l->end > end) {
			l->start = end + 1;
		} else {
			*pp = l->next;
			lock_free(l);
			continue;
		}
		pp = &l->next;
	}
	return 0;
}

/* Insert k's lock, merging with its own touching locks of the same type. */
static int insert(struct lk_obj *o, const struct lk_key *k,
		  enum lk_type type, uint64_t start, uint64_t end)
{
	struct lk_lock **pp = &o->locks, *l, *n;

	if (carve(o, k, start, end) < 0)
		return -1;
	while ((l = *pp) != NULL) {
		bool touch = (l->end != UINT64_MAX && l->end + 1 == start) ||
			     (end != UINT64_MAX && end + 1 == l->start);

		if (key_eq(&l->key, k) && l->type == type && touch) {
			if (l->start < start)
				start = l->start;
			if (l->end > end)
				end = l->end;
			*pp = l->next;
			lock_free(l);
			continue;
		}
		pp = &l->next;
	}
	n = lock_new(k, type, start, end);
	if (!n)
		return -1;
	n->next = o->locks;
	o->locks = n;
	return 0;
}

/* ---- waiters ---------------------------------------------------------- */

static void notice_add(struct lk_notice **list, lk_wait_fn fn, void *arg,
		       bool granted)
{
	struct lk_notice *n = malloc(sizeof(*n));

	if (!n) { /* cannot defer: tell now (the callback must not lock) */
		fn(arg, false);
		return;
	}
	*n = (struct lk_notice){ *list, fn, arg, granted };
	*list = n;
}

static void notices_run(struct lk_notice *n)
{
	struct lk_notice *next;

	for (; n; n = next) {
		next = n->next;
		n->fn(n->arg, n->granted);
		free(n);
	}
}

static void waiter_free(struct lk_waiter *w)
{
	free(w->key.bytes);
	free(w);
}

/* Grant every waiter, oldest first, that no longer conflicts. */
static void wake(struct lk_obj *o, struct lk_notice **out)
{
	struct lk_waiter **pp = &o->waiters, *w;

	while ((w = *pp) != NULL) {
		if (first_conflict(o, &w->key, w->type, w->start, w->end) ||
		    insert(o, &w->key, w->type, w->start, w->end) < 0) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		notice_add(out, w->fn, w->arg, true);
		waiter_free(w);
	}
}

static bool waiter_queued(const struct lk_obj *o, const struct lk_key *k,
			  enum lk_type type, uint64_t start, uint64_t end)
{
	const struct lk_waiter *w;

	for (w = o->waiters; w; w = w->next)
		if (key_eq(&w->key, k) && w->type == type &&
		    w->start == start && w->end == end)
			return true;
	return false;
}

static enum lk_result enqueue(struct lk_obj *o, const struct lk_key *k,
			      enum lk_type type, uint64_t start, uint64_t end,
			      lk_wait_fn fn, void *arg, struct lk_notice **out)
{
	struct lk_waiter *w, **pp;

	if (waiter_queued(o, k, type, start, end)) {
		notice_add(out, fn, arg, false); /* the first one stays */
		return LK_BLOCKED;
	}
	w = calloc(1, sizeof(*w));
	if (!w || key_copy(&w->key, k) < 0) {
		free(w);
		return LK_NOMEM;
	}
	w->type = type;
	w->start = start;
	w->end = end;
	w->fn = fn;
	w->arg = arg;
	for (pp = &o->waiters; *pp; pp = &(*pp)->next)
		;
	*pp = w;
	return LK_BLOCKED;
}

/* ---- the interface ---------------------------------------------------- */

enum lk_result lk_test(const struct lk_object *obj,
		       const struct lk_owner *owner, enum lk_type type,
		       uint64_t offset, uint64_t len,
		       struct lk_conflict *conflict)
{
	struct lk_key k;
	const struct lk_lock *l;
	enum lk_result r = LK_OK;

	if (key_set(&k, owner) < 0)
		return LK_NOMEM;
	pthread_mutex_lock(&lk_mutex);
	l = first_conflict(obj_find(obj, false), &k, type, offset,
			   range_end(offset, len));
	if (l) {
		fill_conflict(conflict, l);
		r = LK_DENIED;
	}
	pthread_mutex_unlock(&lk_mutex);
	free(k.bytes);
	return r;
}

enum lk_result lk_lock(const struct lk_object *obj,
		       const struct lk_owner *owner, enum lk_type type,
		       uint64_t offset, uint64_t len,
		       struct lk_conflict *conflict, lk_wait_fn wait_fn,
		       void *wait_arg)
{
	uint64_t end = range_end(offset, len);
	struct lk_notice *notices = NULL;
	const struct lk_lock *l;
	struct lk_obj *o;
	struct lk_key k;
	enum lk_result r = LK_NOMEM;

	if (key_set(&k, owner) < 0)
		return LK_NOMEM;
	pthread_mutex_lock(&lk_mutex);
	o = obj_find(obj, true);
	if (!o)
		goto out;
	l = first_conflict(o, &k, type, offset, end);
	if (!l) {
		r = insert(o, &k, type, offset, end) < 0 ? LK_NOMEM : LK_OK;
		/* A read lock replacing a write lock may let others in. */
		wake(o, &notices);
	} else {
		fill_conflict(conflict, l);
		r = wait_fn ? enqueue(o, &k, type, offset, end, wait_fn,
				      wait_arg, &notices)
			    : LK_DENIED;
	}
	obj_put(o);
out:
	pthread_mutex_unlock(&lk_mutex);
	free(k.bytes);
	notices_run(notices);
	return r;
}

void lk_unlock(const struct lk_object *obj, const struct lk_owner *owner,
	       uint64_t offset, uint64_t len)
{
	struct lk_notice *notices = NULL;
	struct lk_obj *o;
	struct lk_key k;

	if (key_set(&k, owner) < 0)
		return;
	pthread_mutex_lock(&lk_mutex);
	o = obj_find(obj, false);
	/* Unlocking the middle of a range needs one allocation; if it fails
	 * the lock stays whole, which is the safe side. */
	if (o && carve(o, &k, offset, range_end(offset, len)) == 0)
		wake(o, &notices);
	if (o)
		obj_put(o);
	pthread_mutex_unlock(&lk_mutex);
	free(k.bytes);
	notices_run(notices);
}

bool lk_cancel(const struct lk_object *obj, const struct lk_owner *owner,
	       enum lk_type type, uint64_t offset, uint64_t len)
{
	uint64_t end = range_end(offset, len);
	struct lk_notice *notices = NULL;
	struct lk_waiter **pp, *w;
	struct lk_obj *o;
	bool found = false;

	pthread_mutex_lock(&lk_mutex);
	o = obj_find(obj, false);
	for (pp = o ? &o->waiters : NULL; pp && (w = *pp) != NULL;) {
		if (key_is(&w->key, owner) && w->type == type &&
		    w->start == offset && w->end == end) {
			*pp = w->next;
			notice_add(&notices, w->fn, w->arg, false);
			waiter_free(w);
			found = true;
			break;
		}
		pp = &w->next;
	}
	if (o)
		obj_put(o);
	pthread_mutex_unlock(&lk_mutex);
	notices_run(notices);
	return found;
}

static void release_in(struct lk_obj *o, uint32_t proto, const void *client,
		       size_t len, struct lk_notice **notices)
{
	struct lk_lock **lp = &o->locks, *l;
	struct lk_waiter **wp = &o->waiters, *w;

	while ((w = *wp) != NULL) {
		if (key_of_client(&w->key, proto, client, len)) {
			*wp = w->next;
			notice_add(notices, w->fn, w->arg, false);
			waiter_free(w);
		} else {
			wp = &w->next;
		}
	}
	while ((l = *lp) != NULL) {
		if (key_of_client(&l->key, proto, client, len)) {
			*lp = l->next;
			lock_free(l);
		} else {
			lp = &l->next;
		}
	}
	wake(o, notices);
}

void lk_release_client(uint32_t proto, const void *client,
		       size_t client_len)
{
	struct lk_notice *notices = NULL;
	struct lk_obj *o, *next;
	unsigned b;

	pthread_mutex_lock(&lk_mutex);
	for (b = 0; b < LK_BUCKETS; b++)
		for (o = lk_table[b]; o; o = next) {
			next = o->next;
			release_in(o, proto, client, client_len, &notices);
			obj_put(o);
		}
	pthread_mutex_unlock(&lk_mutex);
	notices_run(notices);
}

size_t lk_count(void)
{
	size_t n;

	pthread_mutex_lock(&lk_mutex);
	n = lk_nlocks;
	pthread_mutex_unlock(&lk_mutex);
	return n;
}

void lk_clear(void)
{
	struct lk_notice *notices = NULL;
	struct lk_obj *o;
	struct lk_lock *l;
	struct lk_waiter *w;
	unsigned b;

	pthread_mutex_lock(&lk_mutex);
	for (b = 0; b < LK_BUCKETS; b++)
		while ((o = lk_table[b]) != NULL) {
			lk_table[b] = o->next;
			while ((l = o->locks) != NULL) {
				o->locks = l->next;
				lock_free(l);
			}
			while ((w = o->waiters) != NULL) {
				o->waiters = w->next;
				notice_add(&notices, w->fn, w->arg, false);
				waiter_free(w);
			}
			free(o);
		}
	pthread_mutex_unlock(&lk_mutex);
	notices_run(notices);
}
