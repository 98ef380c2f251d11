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
 * Redirects (overlayfs's redirect_dir): a directory renamed in the union
 * carries in its upper copy the xattr overlay.redirect, the name it had
 * in the layers below ("old": in the same parent directory there) or its
 * whole path there ("/a/b/old": from the root of every layer below).  The
 * lookup continues below under that name, exactly as ovl_lookup() does,
 * so a chain entry's path in a lower layer may differ from its path in
 * the union; the redirects followed are kept with the chain
 * (chain_layer_path), and an entry that had some is marked in its hint,
 * so that its redirects are read again before its path below is used.
 *
 * Where each object was found is remembered in the catalog cache, so a
 * known object costs one openat2() of its path in its layer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
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

/* ---- redirects ---------------------------------------------------------- */

/* The redirect of entry i that layer l sees (the last one above it). */
static const struct un_redir *ent_redir(const struct un_chain *ch,
					unsigned i, int l)
{
	const struct un_redir *r = NULL;

	for (unsigned j = 0; j < ch->nredir && ch->redir[j].ent <= i; j++)
		if (ch->redir[j].ent == i && ch->redir[j].from <= l)
			r = &ch->redir[j];
	return r;
}

int chain_layer_path(struct un_chain *ch, unsigned i, int l, char *buf)
{
	size_t pos, len;
	unsigned k;

	if (ch->nredir == 0 || ch->redir[0].ent > i) {
		chain_path(ch, i, buf);
		return 0;
	}
	/* the union's path up to the first redirected entry */
	k = ch->redir[0].ent;
	pos = ch->ent[k - 1].path_len;
	memcpy(buf, ch->path, pos);
	for (; k <= i; k++) {
		const struct un_redir *r = ent_redir(ch, k, l);
		const char *s = ch->path + ch->ent[k].name_off;

		len = (size_t)(ch->ent[k].path_len - ch->ent[k].name_off);
		if (r) {
			s = ch->rbuf + r->off;
			len = r->len;
		}
		if (r && r->abs)
			pos = 0;
		else if (pos)
			buf[pos++] = '/';
		if (pos + len >= UN_PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(buf + pos, s, len);
		pos += len;
	}
	buf[pos] = '\0';
	return 0;
}

/* Entry i's redirects are those c followed (the entries after it have to
 * be looked up again: theirs depend on i's). */
static int chain_set_redir(struct un_chain *ch, unsigned i,
			   const struct un_child *c)
{
	unsigned j;

	for (j = 0; j < ch->nredir && ch->redir[j].ent < i; j++)
		;
	ch->nredir = j;
	ch->rlen = j ? ch->redir[j - 1].off + ch->redir[j - 1].len + 1u : 0;
	ch->ent[i].redir = c->nredir > 0;
	for (j = 0; j < c->nredir; j++) {
		const struct un_redir *r = &c->redir[j];
		struct un_redir *d;

		if (ch->nredir == UN_CHAIN_REDIR ||
		    ch->rlen + r->len + 1u > sizeof(ch->rbuf))
			return -ELOOP;
		d = &ch->redir[ch->nredir++];
		*d = *r;
		d->ent = (uint16_t)i;
		d->off = (uint16_t)ch->rlen;
		memcpy(ch->rbuf + ch->rlen, c->rbuf + r->off, r->len + 1u);
		ch->rlen += r->len + 1u;
	}
	return 0;
}

void ent_set_hint(struct un_export *ex, const struct un_ent *e)
{
	cat_set_hint(ex->cat, e->oid, e->layer,
		     e->mask | (e->redir ? LMASK_REDIR : 0));
}

static bool dot_or_dotdot(const char *s, size_t len)
{
	return (len == 1 && s[0] == '.') ||
	       (len == 2 && s[0] == '.' && s[1] == '.');
}

/* What ovl_get_redirect_xattr() accepts: a name, or "/a/b" with no empty
 * component (and, as lookup_one_len() would refuse them, no . or ..). */
static bool redirect_valid(const char *r)
{
	const char *s, *next;

	if (r[0] != '/')
		return !strchr(r, '/') && !dot_or_dotdot(r, strlen(r));
	for (s = r + 1;; s = next + 1) {
		next = strchrnul(s, '/');
		if (next == s || dot_or_dotdot(s, (size_t)(next - s)))
			return false;
		if (!*next)
			return true;
	}
}

int get_redirect(struct un_export *ex, int fd, char *buf, size_t len)
{
	char proc[64], xname[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	snprintf(xname, sizeof(xname), "%sredirect", ovl_xattr_prefix(ex));
	n = getxattr(proc, xname, buf, len - 1);
	if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
		return 0;
	if (n < 0 && errno != ERANGE)
		return -errno;
	if (n <= 0)
		return -EIO; /* empty, or longer than any path */
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n || !redirect_valid(buf))
		return -EIO;
	return (int)n;
}

/* ---- lookup of one name -------------------------------------------------- */

void child_release(struct un_child *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The string buffer stays as it is: clearing 4 KiB per lookup is waste. */
static void child_init(struct un_child *c)
{
	memset(c, 0, offsetof(struct un_child, rbuf));
	c->fd = -1;
}

static int child_add_redir(struct un_child *c, int from, const char *path)
{
	bool abs = path[0] == '/';
	size_t len = strlen(path + abs);
	struct un_redir *r;

	if (c->nredir == UN_REDIR_MAX || c->rlen + len + 1 > sizeof(c->rbuf))
		return -ELOOP;
	r = &c->redir[c->nredir++];
	r->ent = 0;
	r->from = (uint8_t)from;
	r->abs = abs;
	r->off = (uint16_t)c->rlen;
	r->len = (uint16_t)len;
	memcpy(c->rbuf + c->rlen, path + abs, len + 1);
	c->rlen += (unsigned)len + 1;
	return 0;
}

/* The directory whose child is looked up, in each of its layers: by path
 * (entry di of a chain; topfd is the directory itself in toplayer), or
 * by the descriptors of an un_dirfds. */
struct lk_parent {
	struct un_chain *ch;
	unsigned di;
	int topfd, toplayer;
	const struct un_dirfds *d;
	lmask_t mask;
};

/* The name being looked up, as redirects change it on the way down
 * (overlayfs's struct ovl_lookup_data): a name in the parent directory,
 * or after an absolute redirect a path from each layer's root. */
struct lk {
	struct un_export *ex;
	struct un_child *c;
	bool want_fd;		/* c->fd: the object (else only stat) */
	bool stop;		/* no layer below takes part */
	char name[UN_PATH_MAX];
};

/*
 * ovl_check_redirect(): the directory found in layer l where the
 * component at name[prelen] followed by post was looked up says the
 * layers below have it elsewhere, r.  An absolute redirect replaces the
 * whole name, a relative one that component.
 */
static int lk_apply(struct lk *k, int l, const char *r, size_t prelen,
		    const char *post)
{
	char buf[UN_PATH_MAX];
	int n;

	if (r[0] == '/') {
		/* an opaque dir on the way does not stop an absolute one */
		k->stop = false;
		n = snprintf(buf, sizeof(buf), "%s%s", r, post);
	} else {
		n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)prelen,
			     k->name, r, post);
	}
	if (n >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(k->name, buf, (size_t)n + 1);
	return child_add_redir(k->c, l + 1, buf);
}

static int lk_redirect(struct lk *k, int l, int fd, size_t prelen,
		       const char *post)
{
	char r[UN_PATH_MAX];
	int n = get_redirect(k->ex, fd, r, sizeof(r));

	return n <= 0 ? n : lk_apply(k, l, r, prelen, post);
}

/*
 * What an open of one lookup step found: a missing step (or one through a
 * non-directory or symlink) is ENOENT; else the object, stat'ed.
 */
static int lk_stat(int fd, struct stat *st)
{
	int rc;

	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
		return -ENOENT;
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* The name (a single component) in layer l's directory of the parent. */
static int lk_open_rel(struct lk *k, const struct lk_parent *p, int l,
		       int *fdp, struct stat *st)
{
	char path[UN_PATH_MAX];
	size_t plen, nlen = strlen(k->name);
	int fd, rc;

	*fdp = -1;
	if (p->d) {
		if (fstatat(p->d->fd[l], k->name, st, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	}
	if (l == p->toplayer && p->topfd >= 0) {
		fd = layer_openat(p->topfd, k->name, O_PATH);
	} else {
		if ((rc = chain_layer_path(p->ch, p->di, l, path)) < 0)
			return rc;
		plen = strlen(path);
		if (plen + 1 + nlen >= sizeof(path))
			return -ENAMETOOLONG;
		if (plen)
			path[plen++] = '/';
		memcpy(path + plen, k->name, nlen + 1);
		fd = layer_open(k->ex, l, path, O_PATH);
	}
	fd = lk_stat(fd, st);
	if (fd < 0)
		return fd;
	*fdp = fd;
	return 0;
}

/*
 * ovl_lookup_layer() for an absolute name: one component at a time from
 * layer l's root.  A whiteout or a non-directory on the way ends the
 * lookup for every layer, an opaque directory after this layer (unless
 * an absolute redirect further on says otherwise), and a redirect on the
 * way changes what the layers below look for.  *prelen: where the last
 * component starts in k->name.
 */
static int lk_open_abs(struct lk *k, int l, int *fdp, struct stat *st,
		       size_t *prelen)
{
	char name[UN_PATH_MAX], *s, *next;
	bool last_layer = l + 1 >= (int)k->ex->nlayers;
	int dfd = k->ex->layers[l].fd, fd, rc;

	*fdp = -1;
	memcpy(name, k->name, strlen(k->name) + 1);
	for (s = name + 1;; s = next + 1) {
		char save;

		next = strchrnul(s, '/');
		save = *next;
		*next = '\0';
		fd = layer_openat(dfd, s, O_PATH);
		*next = save;
		if (dfd != k->ex->layers[l].fd)
			close(dfd);
		fd = lk_stat(fd, st);
		if (fd < 0)
			return fd;
		/* the suffix from s on is the same in k->name, whatever
		 * redirects on the way did to the prefix */
		*prelen = strlen(k->name) - strlen(s);
		if (!save) {
			*fdp = fd;
			return 0;
		}
		if (is_whiteout(st) || !S_ISDIR(st->st_mode)) {
			close(fd);
			k->stop = true;
			return -ENOENT;
		}
		rc = 0;
		if (!last_layer && (rc = is_opaque(k->ex, fd)) > 0)
			k->stop = true;
		else if (!last_layer && rc == 0)
			rc = lk_redirect(k, l, fd, *prelen, next);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		dfd = fd;
	}
}

/*
 * Layer l's entry for the name, st, joins the merge by overlayfs's rules:
 * a whiteout ends it, the topmost entry is the object, a non-directory
 * ends it, and a non-directory below a directory is hidden.  True when
 * the entry is a directory of the merge.
 */
static bool merge_layer(const struct un_export *ex, struct un_child *c,
			int l, const struct stat *st)
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
	return true;
}

static bool more_below(lmask_t mask, int l)
{
	return (mask >> (l + 1)) != 0;
}

/*
 * A directory of the merge found in layer l (fd, or -1 when only
 * stat'ed through p->d): does the merge go on below (1) or not (0)?  Not
 * below an opaque directory; a redirect may send it to other names or
 * other layers.  Without layers below the parent's, only a redirect
 * could, so the opaque marker is read only when there is one.
 */
static int lk_below(struct lk *k, const struct lk_parent *p, int l, int fd,
		    size_t prelen)
{
	bool below = k->name[0] == '/' ? l + 1 < (int)k->ex->nlayers
				       : more_below(p->mask, l);
	char r[UN_PATH_MAX];
	int own = -1, n, rc;

	if (l + 1 >= (int)k->ex->nlayers)
		return 0; /* the bottom layer: nothing to read */
	if (fd < 0) {
		own = fd = layer_openat(p->d->fd[l], k->name,
					O_PATH | O_DIRECTORY);
		/* gone or replaced since the fstatat: ends the merge here */
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			return 0;
		if (fd < 0)
			return fd;
	}
	n = get_redirect(k->ex, fd, r, sizeof(r));
	/* opaque first: overlayfs never reads an opaque dir's redirect */
	rc = below || n != 0 ? is_opaque(k->ex, fd) : 0;
	if (own >= 0)
		close(own);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (n <= 0)
		return n < 0 ? n : below;
	rc = lk_apply(k, l, r, prelen, "");
	return rc < 0 ? rc : 1;
}

/* Layer l's part in the lookup. */
static int lk_layer(struct lk *k, const struct lk_parent *p, int l)
{
	struct un_child *c = k->c;
	bool was_found = c->found;
	size_t prelen = 0;
	struct stat st;
	int fd, rc;

	rc = k->name[0] == '/' ? lk_open_abs(k, l, &fd, &st, &prelen)
			       : lk_open_rel(k, p, l, &fd, &st);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = merge_layer(k->ex, c, l, &st) ? lk_below(k, p, l, fd, prelen)
					    : 0;
	if (rc == 0)
		k->stop = true;
	if (rc >= 0 && !was_found && c->found && k->want_fd) {
		c->fd = fd; /* the object itself: kept open */
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc < 0 ? rc : 0;
}

/* ovl_lookup(): the name top-down through the layers p is merged from. */
static int lk_run(struct un_export *ex, const struct lk_parent *p,
		  const char *name, struct un_child *c, bool want_fd)
{
	struct lk k; /* not cleared as a whole: name is 4 KiB */
	size_t len = strlen(name);
	int rc = 0, l;

	k.ex = ex;
	k.c = c;
	k.want_fd = want_fd;
	k.stop = false;
	child_init(c);
	if (len >= sizeof(k.name))
		return -ENAMETOOLONG;
	memcpy(k.name, name, len + 1);
	for (l = 0; l < (int)ex->nlayers && !k.stop; l++) {
		/* after an absolute redirect, every layer below */
		if (k.name[0] != '/' && !(p->mask & LBIT(l)))
			continue;
		if ((rc = lk_layer(&k, p, l)) < 0)
			break;
	}
	if (rc < 0) {
		child_release(c);
		c->found = false;
		return rc;
	}
	return c->found ? 0 : -ENOENT;
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
	struct lk_parent p = { .ch = ch, .di = di, .topfd = topfd,
			       .toplayer = toplayer, .mask = ch->ent[di].mask };

	return lk_run(ex, &p, name, c, true);
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
	for (l = 0; l < (int)ex->nlayers; l++) {
		d->fd[l] = -1;
		if (!(ch->ent[di].mask & LBIT(l)))
			continue;
		fd = chain_layer_path(ch, di, l, path);
		if (fd == 0)
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

/* lookup_child's rules, with stat results only: c->fd stays -1. */
int lookup_child_at(struct un_export *ex, const struct un_dirfds *d,
		    const char *name, struct un_child *c)
{
	struct lk_parent p = { .topfd = -1, .toplayer = -1, .d = d,
			       .mask = d->mask };
	int rc;

	if ((rc = check_name(name)) < 0) {
		child_init(c);
		return rc;
	}
	return lk_run(ex, &p, name, c, false);
}

/* ovl_lower_positive(): the name itself (redirects are not followed) in
 * the directory's layers below `from`. */
int lower_positive(struct un_export *ex, struct un_chain *ch, unsigned di,
		   const char *name, int from)
{
	lmask_t m = ch->ent[di].mask;
	char path[UN_PATH_MAX];
	size_t plen, nlen = strlen(name);
	struct stat st;
	int rc, fd, l;

	for (l = from + 1; l < (int)ex->nlayers; l++) {
		if (!(m & LBIT(l)))
			continue;
		if ((rc = chain_layer_path(ch, di, l, path)) < 0)
			return rc;
		plen = strlen(path);
		if (plen + 1 + nlen >= sizeof(path))
			return -ENAMETOOLONG;
		if (plen)
			path[plen++] = '/';
		memcpy(path + plen, name, nlen + 1);
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
/*
 * An object removed while open (orphan.c) is named (parent 0, "<oid>"):
 * its chain is the root and the object, whose name is its file's in the
 * orphan dir.  The root entry is there for code that asks for a parent;
 * obj_parent_fd gives the orphan dir instead.
 */
static int orphan_chain(struct un_export *ex, const struct cat_obj *co,
			struct un_chain *ch)
{
	size_t len = strlen(co->name);

	memset(ch->ent, 0, 2 * sizeof(ch->ent[0]));
	ch->ent[0].oid = ex->root_oid;
	ch->ent[0].type = UN_DIR;
	ch->ent[0].mask = ((lmask_t)1 << ex->nlayers) - 1;
	ch->ent[1].oid = co->oid;
	ch->ent[1].type = co->type;
	ch->ent[1].layer = UPPER;
	ch->ent[1].path_len = (uint16_t)len;
	memcpy(ch->path, co->name, len + 1);
	ch->depth = 2;
	ch->nredir = ch->rlen = 0;
	ch->orphan = true;
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
		e->mask = co.mask & ~LMASK_REDIR;
		e->redir = (co.mask & LMASK_REDIR) != 0;
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
	ch->orphan = false;
	if (cur != ex->root_oid && n == 1 && co.name[0])
		return orphan_chain(ex, &co, ch);
	if (cur != ex->root_oid)
		return -ESTALE;
	memmove(ch->ent, &ch->ent[UN_DEPTH_MAX - n], n * sizeof(ch->ent[0]));
	ch->depth = n;
	ch->nredir = ch->rlen = 0;
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

	fd = chain_layer_path(o->ch, o->ch->depth - 1, o->e->layer, path);
	if (fd == 0)
		fd = layer_open(ex, o->e->layer, path, O_PATH);
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

/* Look entry i up again (its parent's redirects known) and note where
 * it is now, with the redirects it follows. */
static int walk_one(struct un_export *ex, struct un_obj *o, unsigned i)
{
	struct un_chain *ch = o->ch;
	struct un_ent *e = &ch->ent[i];
	char name[UN_NAME_MAX + 1];
	struct un_child c;
	int rc;

	snprintf(name, sizeof(name), "%.*s", (int)(e->path_len - e->name_off),
		 ch->path + e->name_off);
	rc = lookup_child(ex, ch, i - 1, name, &c);
	if (rc == -ENOENT || (rc == 0 && c.type != e->type)) {
		child_release(&c);
		return -ESTALE;
	}
	if (rc == 0)
		rc = chain_set_redir(ch, i, &c);
	if (rc < 0) {
		child_release(&c);
		return rc;
	}
	e->layer = c.layer;
	e->mask = c.mask;
	ent_set_hint(ex, e);
	if (i + 1 == ch->depth) {
		if (o->fd >= 0)
			close(o->fd);
		o->fd = c.fd;
		o->st = c.st;
	} else {
		child_release(&c);
	}
	return 0;
}

/* Look the chain up again from entry k on, with the union's rules. */
static int walk_from(struct un_export *ex, struct un_obj *o, unsigned k)
{
	int rc = 0;

	for (unsigned i = k; rc == 0 && i < o->ch->depth; i++)
		rc = walk_one(ex, o, i);
	return rc;
}

/* Hints do not keep redirects: entries before k that had some are looked
 * up again, so that paths below them are known. */
static int walk_redirected(struct un_export *ex, struct un_obj *o,
			   unsigned k)
{
	int rc = 0;

	for (unsigned i = 1; rc == 0 && i < k; i++)
		if (o->ch->ent[i].redir)
			rc = walk_one(ex, o, i);
	return rc;
}

static bool moved_away(int rc)
{
	return rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP ||
	       rc == -ESTALE;
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
	if (o->ch->orphan) {
		rc = orphan_open(ex, o);
		goto out;
	}
	for (k = 1; k < o->ch->depth && hints_known(&o->ch->ent[k]); k++)
		;
	rc = walk_redirected(ex, o, k);
	if (rc == 0 && k == o->ch->depth) {
		if (o->fd < 0)
			rc = open_known(ex, o);
		if (!moved_away(rc))
			goto out;
	} else if (rc == 0 || !moved_away(rc)) {
		if (rc == 0)
			rc = walk_from(ex, o, k);
		goto out;
	}
	/* moved behind our back: look everything up again */
	rc = walk_from(ex, o, 1);
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
	if (rc == 0)
		rc = chain_set_redir(o->ch, o->ch->depth - 1, &c);
	if (rc < 0) {
		child_release(&c);
		return rc;
	}
	o->e = &o->ch->ent[o->ch->depth - 1];
	o->e->oid = oid;
	o->e->type = c.type;
	o->e->layer = c.layer;
	o->e->mask = c.mask;
	ent_set_hint(ex, o->e);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = c.fd;
	o->st = c.st;
	return 0;
}

int obj_parent_fd(struct un_export *ex, struct un_obj *o, int layer)
{
	char path[UN_PATH_MAX];
	int rc;

	if (o->ch->depth < 2)
		return -EINVAL;
	if (o->ch->orphan)
		return layer == UPPER ? orphan_dirfd(ex->cat, o->e->oid)
				      : -ENOENT;
	if ((rc = chain_layer_path(o->ch, o->ch->depth - 2, layer, path)) < 0)
		return rc;
	return layer_open(ex, layer, path, O_PATH | O_DIRECTORY);
}

/* After a change (copy-up), open the object where it lives now. */
int obj_refresh(struct un_export *ex, struct un_obj *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	return o->ch->orphan ? orphan_open(ex, o) : open_known(ex, o);
}

int obj_open_upper(struct un_export *ex, struct un_obj *o, int flags)
{
	char path[UN_PATH_MAX];
	int dirfd, fd;

	if (!o->ch->orphan)
		return layer_open(ex, UPPER, chain_path(o->ch,
				  o->ch->depth - 1, path), flags);
	if ((dirfd = orphan_dirfd(ex->cat, o->e->oid)) < 0)
		return dirfd;
	fd = layer_openat(dirfd, o->ch->path + o->e->name_off, flags);
	close(dirfd);
	return fd;
}
