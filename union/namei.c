/*
 * namei.c - from a handle to an object in some layer.
 *
 * A handle names an oid; the catalog gives its (parent, name) chain up to
 * the export root.  The chain is then looked up in the union, one name at
 * a time, with overlayfs's rules: a name is searched top-down in the
 * layers its parent directory is merged from; a whiteout ends the search
 * (the name does not exist); a non-directory ends it; a directory is merged
 * with the directories of the same name further down, up to an opaque one,
 * and a non-directory below a directory is hidden.
 *
 * Where each object was found is remembered in the catalog cache, so a
 * known object costs one openat2() of its path in its layer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

const char *chain_path(struct un_chain *ch, unsigned i, char *buf)
{
	size_t len = ch->ent[i].path_len;

	memcpy(buf, ch->path, len);
	buf[len] = '\0';
	return buf;
}

int chain_push(struct un_chain *ch, const char *name)
{
	struct un_ent *prev = &ch->ent[ch->depth - 1], *e;
	size_t plen = prev->path_len, nlen = strlen(name);
	size_t off = plen ? plen + 1 : 0;

	if (ch->depth >= UN_DEPTH_MAX || off + nlen >= UN_PATH_MAX)
		return -ENAMETOOLONG;
	if (plen)
		ch->path[plen] = '/';
	memcpy(ch->path + off, name, nlen + 1);
	e = &ch->ent[ch->depth++];
	memset(e, 0, sizeof(*e));
	e->layer = -1;
	e->name_off = (uint16_t)off;
	e->path_len = (uint16_t)(off + nlen);
	return 0;
}

static int child_path(struct un_chain *ch, unsigned di, const char *name,
		      char *buf)
{
	size_t plen = ch->ent[di].path_len, nlen = strlen(name);
	size_t off = plen ? plen + 1 : 0;

	if (off + nlen >= UN_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, ch->path, plen);
	if (plen)
		buf[plen] = '/';
	memcpy(buf + off, name, nlen + 1);
	return 0;
}

void child_release(struct un_child *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static bool more_below(lmask_t mask, int l)
{
	return (mask >> (l + 1)) != 0;
}

/*
 * Layer l's entry for the name, st, joins the merge by overlayfs's rules:
 * a whiteout ends it, the topmost entry is the object, a non-directory
 * ends it, and a non-directory below a directory is hidden.  True when
 * layers further down may still take part (the caller then asks whether
 * this directory is opaque).
 */
static bool merge_layer(const struct un_export *ex, struct un_child *c,
			int l, const struct stat *st, lmask_t mask)
{
	if (is_whiteout(st)) {
		if (!c->found && l == UPPER && ex->has_upper)
			c->upper_wh = true;
		return false;
	}
	if (c->found && !S_ISDIR(st->st_mode))
		return false;
	if (!c->found) {
		c->found = true;
		c->st = *st;
		c->layer = (int8_t)l;
		c->type = mode_to_type(st->st_mode);
		if (!S_ISDIR(st->st_mode))
			return false;
	}
	c->mask |= LBIT(l);
	return more_below(mask, l);
}

/*
 * topfd, when not -1, is the directory itself (O_PATH, opened confined) in
 * layer toplayer: the name is looked up relative to it there, without
 * walking the whole path from the layer root again.
 */
static int lookup_child_in(struct un_export *ex, struct un_chain *ch,
			   unsigned di, const char *name, struct un_child *c,
			   int topfd, int toplayer)
{
	lmask_t m = ch->ent[di].mask;
	char path[UN_PATH_MAX];
	struct stat st;
	bool found, more;
	int rc, fd, l;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if ((rc = child_path(ch, di, name, path)) < 0)
		return rc;
	for (l = 0; l < (int)ex->nlayers; l++) {
		if (!(m & LBIT(l)))
			continue;
		if (l == toplayer && topfd >= 0)
			fd = layer_openat(topfd, name, O_PATH);
		else
			fd = layer_open(ex, l, path, O_PATH);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue;
		if (fd < 0) {
			rc = fd;
			goto fail;
		}
		if (fstat(fd, &st) < 0) {
			rc = -errno;
			close(fd);
			goto fail;
		}
		found = c->found;
		more = merge_layer(ex, c, l, &st, m);
		if (!found && c->found)
			c->fd = fd; /* the object itself: kept open */
		if (!more) {
			if (fd != c->fd)
				close(fd);
			break;
		}
		rc = is_opaque(ex, fd);
		if (fd != c->fd)
			close(fd);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			break;
	}
	return c->found ? 0 : -ENOENT;
fail:
	child_release(c);
	c->found = false;
	return rc;
}

int lookup_child(struct un_export *ex, struct un_chain *ch, unsigned di,
		 const char *name, struct un_child *c)
{
	return lookup_child_in(ex, ch, di, name, c, -1, -1);
}

/*
 * Many children of one merged directory (a READDIRPLUS reply): its layer
 * directories are opened once, and each child costs an fstatat() per
 * layer instead of an openat2() of its whole path from each layer root.
 * The directories are opened confined (layer_open); names from a listing
 * are single components, so a lookup relative to them stays inside.
 */
int dirfds_open(struct un_export *ex, struct un_chain *ch, unsigned di,
		struct un_dirfds *d)
{
	char path[UN_PATH_MAX];
	int l, fd;

	d->mask = 0;
	chain_path(ch, di, path);
	for (l = 0; l < (int)ex->nlayers; l++) {
		d->fd[l] = -1;
		if (!(ch->ent[di].mask & LBIT(l)))
			continue;
		fd = layer_open(ex, l, path, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue; /* as lookup_child: not part of it now */
		if (fd < 0) {
			dirfds_close(d);
			return fd;
		}
		d->fd[l] = fd;
		d->mask |= LBIT(l);
	}
	d->nlayers = ex->nlayers;
	return 0;
}

void dirfds_close(struct un_dirfds *d)
{
	for (int l = 0; l < (int)UN_MAX_LAYERS; l++)
		if (d->mask & LBIT(l))
			close(d->fd[l]);
	d->mask = 0;
}

/* Is the directory `name` below dirfd opaque? */
static int child_opaque(struct un_export *ex, int dirfd, const char *name)
{
	int fd = layer_openat(dirfd, name, O_PATH | O_DIRECTORY), rc;

	if (fd < 0)
		return fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP ? 1 : fd;
	rc = is_opaque(ex, fd);
	close(fd);
	return rc;
}

/* lookup_child's rules, with stat results only: c->fd stays -1. */
int lookup_child_at(struct un_export *ex, const struct un_dirfds *d,
		    const char *name, struct un_child *c)
{
	struct stat st;
	int rc, l;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if ((rc = check_name(name)) < 0)
		return rc;
	for (l = 0; l < (int)d->nlayers; l++) {
		if (!(d->mask & LBIT(l)))
			continue;
		if (fstatat(d->fd[l], name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return -errno;
		}
		if (!merge_layer(ex, c, l, &st, d->mask))
			break;
		/* gone or replaced since the fstatat: ends the merge here */
		if ((rc = child_opaque(ex, d->fd[l], name)) < 0)
			return rc;
		if (rc > 0)
			break;
	}
	return c->found ? 0 : -ENOENT;
}

int lower_positive(struct un_export *ex, struct un_chain *ch, unsigned di,
		   const char *name, int from)
{
	lmask_t m = ch->ent[di].mask;
	char path[UN_PATH_MAX];
	struct stat st;
	int rc, fd, l;

	if ((rc = child_path(ch, di, name, path)) < 0)
		return rc;
	for (l = from + 1; l < (int)ex->nlayers; l++) {
		if (!(m & LBIT(l)))
			continue;
		fd = layer_open(ex, l, path, O_PATH);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue;
		if (fd < 0)
			return fd;
		rc = fstat(fd, &st) < 0 ? -errno : !is_whiteout(&st);
		close(fd);
		return rc;
	}
	return 0;
}

/* Load oid's ancestry from the catalog into ch: ent[0] is the root. */
static int build_chain(struct un_export *ex, uint64_t oid,
		       struct un_chain *ch)
{
	char tmp[UN_PATH_MAX];
	size_t pos = sizeof(tmp) - 1, len;
	unsigned n = 0, i;
	struct cat_obj co;
	uint64_t cur = oid;
	int rc;

	tmp[pos] = '\0';
	for (;;) {
		struct un_ent *e = &ch->ent[UN_DEPTH_MAX - 1 - n];

		if ((rc = cat_get(ex->cat, cur, &co)) < 0)
			return rc;
		if (co.removed || co.export != ex->id)
			return -ESTALE;
		memset(e, 0, sizeof(*e));
		e->oid = cur;
		e->type = co.type;
		e->layer = co.layer;
		e->mask = co.mask;
		n++;
		if (co.parent == 0)
			break;
		len = strlen(co.name);
		if (n >= UN_DEPTH_MAX || len + 1 > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(tmp + pos, co.name, len);
		tmp[--pos] = '/';
		cur = co.parent;
	}
	if (cur != ex->root_oid)
		return -ESTALE;
	memmove(ch->ent, &ch->ent[UN_DEPTH_MAX - n], n * sizeof(ch->ent[0]));
	ch->depth = n;
	/* tmp holds "/a/b/c": drop the first '/' and cut it into entries */
	len = strlen(tmp + pos);
	memcpy(ch->path, tmp + pos + (len ? 1 : 0), len ? len : 1);
	ch->path[len ? len - 1 : 0] = '\0';
	ch->ent[0].layer = 0;
	ch->ent[0].mask = ((lmask_t)1 << ex->nlayers) - 1;
	ch->ent[0].path_len = 0;
	for (i = 1, pos = 0; i < n; i++) {
		char *slash = strchr(ch->path + pos, '/');

		ch->ent[i].name_off = (uint16_t)pos;
		ch->ent[i].path_len =
			(uint16_t)(slash ? (size_t)(slash - ch->path)
					 : strlen(ch->path));
		pos = ch->ent[i].path_len + 1;
	}
	return 0;
}

static bool hints_known(const struct un_ent *e)
{
	return e->layer >= 0 && (e->type != UN_DIR || e->mask != 0);
}

static int open_known(struct un_export *ex, struct un_obj *o)
{
	char path[UN_PATH_MAX];
	int fd;

	fd = layer_open(ex, o->e->layer, chain_path(o->ch, o->ch->depth - 1,
						    path), O_PATH);
	if (fd < 0)
		return fd;
	if (fstat(fd, &o->st) < 0 || is_whiteout(&o->st) ||
	    mode_to_type(o->st.st_mode) != o->e->type) {
		close(fd);
		return -ENOENT;
	}
	o->fd = fd;
	return 0;
}

/* Look the chain up again from entry k on, with the union's rules. */
static int walk_from(struct un_export *ex, struct un_obj *o, unsigned k)
{
	struct un_chain *ch = o->ch;
	struct un_child c;
	char name[UN_NAME_MAX + 1];
	unsigned i;
	int rc;

	for (i = k; i < ch->depth; i++) {
		struct un_ent *e = &ch->ent[i];

		snprintf(name, sizeof(name), "%.*s",
			 (int)(e->path_len - e->name_off),
			 ch->path + e->name_off);
		rc = lookup_child(ex, ch, i - 1, name, &c);
		if (rc == -ENOENT || (rc == 0 && c.type != e->type)) {
			child_release(&c);
			return -ESTALE;
		}
		if (rc < 0)
			return rc;
		e->layer = c.layer;
		e->mask = c.mask;
		cat_set_hint(ex->cat, e->oid, c.layer, c.mask);
		if (i + 1 == ch->depth) {
			o->fd = c.fd;
			o->st = c.st;
		} else {
			child_release(&c);
		}
	}
	return 0;
}

int obj_resolve_oid(struct un_export *ex, uint64_t oid, struct un_obj *o)
{
	unsigned k;
	int rc;

	o->fd = -1;
	o->ch = malloc(sizeof(*o->ch));
	if (!o->ch)
		return -ENOMEM;
	rc = build_chain(ex, oid, o->ch);
	if (rc < 0)
		goto fail;
	o->e = &o->ch->ent[o->ch->depth - 1];
	for (k = 1; k < o->ch->depth && hints_known(&o->ch->ent[k]); k++)
		;
	if (k == o->ch->depth) {
		rc = open_known(ex, o);
		if (rc != -ENOENT && rc != -ENOTDIR && rc != -ELOOP)
			goto out;
		k = 1; /* moved behind our back: look everything up again */
	}
	rc = walk_from(ex, o, k);
out:
	if (rc == 0)
		return 0;
fail:
	obj_release(o);
	return rc;
}

int obj_resolve(struct un_export *ex, const struct un_handle *fh,
		struct un_obj *o)
{
	struct cat_obj co;
	uint64_t oid;
	uint32_t gen;
	int rc;

	o->ch = NULL;
	o->fd = -1;
	if (!fh)
		return -UN_EBADHANDLE;
	rc = handle_decode(ex, fh, &oid, &gen);
	if (rc < 0)
		return rc;
	rc = cat_get(ex->cat, oid, &co);
	if (rc < 0)
		return rc;
	if (co.gen != gen || co.removed || co.export != ex->id)
		return -ESTALE;
	return obj_resolve_oid(ex, oid, o);
}

/* For read-only operations: resolve under the shared namespace lock, which
 * is not needed once the object's fd is held. */
int obj_resolve_shared(struct un_export *ex, const struct un_handle *fh,
		       struct un_obj *o)
{
	int rc;

	pthread_rwlock_rdlock(&ex->ns_lock);
	rc = obj_resolve(ex, fh, o);
	pthread_rwlock_unlock(&ex->ns_lock);
	return rc;
}

/* Objects that never got a chain (never resolved) own no descriptor. */
void obj_release(struct un_obj *o)
{
	if (!o->ch)
		return;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	free(o->ch);
	o->ch = NULL;
}

int obj_step(struct un_export *ex, struct un_obj *o, const char *name)
{
	struct un_child c;
	uint64_t oid;
	int rc;

	if ((rc = check_name(name)) < 0)
		return rc;
	rc = lookup_child_in(ex, o->ch, o->ch->depth - 1, name, &c, o->fd,
			     o->e->layer);
	if (rc < 0)
		return rc;
	rc = cat_lookup_insert_st(ex->cat, ex->id, o->e->oid, name, c.type,
				  c.layer, &c.st, &oid);
	if (rc == 0)
		rc = chain_push(o->ch, name);
	if (rc < 0) {
		child_release(&c);
		return rc;
	}
	o->e = &o->ch->ent[o->ch->depth - 1];
	o->e->oid = oid;
	o->e->type = c.type;
	o->e->layer = c.layer;
	o->e->mask = c.mask;
	cat_set_hint(ex->cat, oid, c.layer, c.mask);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = c.fd;
	o->st = c.st;
	return 0;
}

int obj_parent_fd(struct un_export *ex, struct un_obj *o, int layer)
{
	char path[UN_PATH_MAX];

	if (o->ch->depth < 2)
		return -EINVAL;
	return layer_open(ex, layer, chain_path(o->ch, o->ch->depth - 2, path),
			  O_PATH | O_DIRECTORY);
}

/* After a change (copy-up), open the object where it lives now. */
int obj_refresh(struct un_export *ex, struct un_obj *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	return open_known(ex, o);
}
