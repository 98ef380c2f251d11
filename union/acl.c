/*
 * acl.c - POSIX access and default ACLs of union objects.
 *
 * An ACL lives in the object's layer as the kernel keeps it, the xattrs
 * system.posix_acl_access and system.posix_acl_default, so that a kernel
 * overlay of the same layers (and getfacl on the layer itself) sees what
 * NFS clients set.  The kernel enforces ACLs on every access as the
 * caller (cred.c), so ACCESS, READ, WRITE and LOOKUP honour them without
 * any code here; this file reads and writes them.
 *
 * The xattr format is the kernel's (include/uapi/linux/posix_acl_xattr.h):
 * a little-endian header { u32 version = 2 } and entries
 * { u16 tag, u16 perm, u32 id }, parsed here directly rather than through
 * libacl, which would only wrap the same bytes.
 *
 * Setting runs as the caller, so the kernel applies its own rules (only
 * the owner or CAP_FOWNER, the mode follows the access ACL, an ACL equal
 * to a mode is stored as the mode alone).  They are also checked here
 * first: a lower object is copied up only for a request that will work.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"

#define XATTR_ACCESS "system.posix_acl_access"
#define XATTR_DEFAULT "system.posix_acl_default"
#define ACL_XATTR_VERSION 2
#define ACL_UNDEFINED_ID 0xffffffffu
#define ACL_XATTR_MAX (4 + 8 * UN_ACL_MAX_ENTRIES)

struct xattr_entry {
	uint16_t tag, perm;
	uint32_t id;
};

static bool tag_has_id(uint32_t tag)
{
	return tag == UN_ACL_USER || tag == UN_ACL_GROUP;
}

/* ---- the xattr format -------------------------------------------------- */

static int acl_decode(const uint8_t *buf, size_t len, struct un_acl *acl)
{
	uint32_t version;
	size_t n, i;

	if (len < 4 || (len - 4) % 8 != 0)
		return -EINVAL;
	n = (len - 4) / 8;
	memcpy(&version, buf, 4);
	if (le32toh(version) != ACL_XATTR_VERSION || n > UN_ACL_MAX_ENTRIES)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct xattr_entry x;

		memcpy(&x, buf + 4 + 8 * i, sizeof(x));
		acl->e[i].tag = le16toh(x.tag);
		acl->e[i].perm = le16toh(x.perm);
		acl->e[i].id = tag_has_id(acl->e[i].tag) ? le32toh(x.id) : 0;
	}
	acl->count = (uint32_t)n;
	return 0;
}

static size_t acl_encode(const struct un_acl *acl, uint8_t *buf)
{
	uint32_t version = htole32(ACL_XATTR_VERSION);
	uint32_t i;

	memcpy(buf, &version, 4);
	for (i = 0; i < acl->count; i++) {
		const struct un_acl_entry *e = &acl->e[i];
		struct xattr_entry x = {
			.tag = htole16((uint16_t)e->tag),
			.perm = htole16((uint16_t)e->perm),
			.id = htole32(tag_has_id(e->tag) ? e->id
							 : ACL_UNDEFINED_ID),
		};

		memcpy(buf + 4 + 8 * i, &x, sizeof(x));
	}
	return 4 + 8 * (size_t)acl->count;
}

/* ---- canonical form and validity -------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
	const struct un_acl_entry *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/*
 * Sort into the kernel's order (tag, then id: the tag values ascend in
 * the order posix_acl_valid() wants) and check what it checks, plus
 * duplicate ids, which it lets through but which make no sense.
 */
static int acl_canonical(struct un_acl *acl)
{
	unsigned user_obj = 0, group_obj = 0, other = 0, mask = 0, named = 0;
	uint32_t i;

	if (acl->count > UN_ACL_MAX_ENTRIES)
		return -EINVAL;
	for (i = 0; i < acl->count; i++) {
		if (!tag_has_id(acl->e[i].tag))
			acl->e[i].id = 0;
		if (acl->e[i].perm & ~7u)
			return -EINVAL;
	}
	qsort(acl->e, acl->count, sizeof(acl->e[0]), entry_cmp);
	for (i = 0; i < acl->count; i++) {
		switch (acl->e[i].tag) {
		case UN_ACL_USER_OBJ: user_obj++; break;
		case UN_ACL_GROUP_OBJ: group_obj++; break;
		case UN_ACL_OTHER: other++; break;
		case UN_ACL_MASK: mask++; break;
		case UN_ACL_USER:
		case UN_ACL_GROUP: named++; break;
		default: return -EINVAL;
		}
		if (i > 0 && entry_cmp(&acl->e[i - 1], &acl->e[i]) == 0)
			return -EINVAL;
	}
	if (user_obj != 1 || group_obj != 1 || other != 1 || mask > 1 ||
	    (named && !mask))
		return -EINVAL;
	return 0;
}

/* The three entries a mode stands for (posix_acl_from_mode). */
static void acl_from_mode(mode_t mode, struct un_acl *acl)
{
	acl->count = 3;
	acl->e[0] = (struct un_acl_entry){ UN_ACL_USER_OBJ, 0,
					   (mode >> 6) & 7 };
	acl->e[1] = (struct un_acl_entry){ UN_ACL_GROUP_OBJ, 0,
					   (mode >> 3) & 7 };
	acl->e[2] = (struct un_acl_entry){ UN_ACL_OTHER, 0, mode & 7 };
}

/* ---- reading and writing the xattrs ------------------------------------ */

/*
 * getxattr()/setxattr() refuse O_PATH descriptors; the /proc link of our
 * own descriptor reaches the inode without opening it (a FIFO or a device
 * must not be opened for this).
 */
static void proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* count 0 when the object has no such ACL (or its fs has none at all). */
static int acl_read(int fd, const char *name, struct un_acl *acl)
{
	char path[64];
	uint8_t *buf = malloc(ACL_XATTR_MAX);
	ssize_t n;
	int rc;

	if (!buf)
		return -ENOMEM;
	proc_path(path, sizeof(path), fd);
	n = getxattr(path, name, buf, ACL_XATTR_MAX);
	if (n < 0) {
		acl->count = 0;
		rc = errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
	} else {
		rc = acl_decode(buf, (size_t)n, acl);
		if (rc == 0)
			rc = acl_canonical(acl);
		if (rc < 0)
			rc = -EIO; /* a damaged layer, not a bad request */
	}
	free(buf);
	return rc;
}

/* Set (or with count 0 remove) one ACL of the object at path. */
static int acl_write(const char *path, const char *name,
		     const struct un_acl *acl)
{
	uint8_t *buf;
	size_t len;
	int rc = 0;

	if (acl->count == 0) {
		if (removexattr(path, name) < 0 && errno != ENODATA)
			rc = -errno;
		return rc;
	}
	if (!(buf = malloc(ACL_XATTR_MAX)))
		return -ENOMEM;
	len = acl_encode(acl, buf);
	if (setxattr(path, name, buf, len, 0) < 0)
		rc = -errno;
	free(buf);
	return rc;
}

int un_getacl(struct un_export *ex, const struct un_handle *fh,
	      struct un_acl *access, struct un_acl *dflt,
	      struct un_attr *attr)
{
	struct un_obj o;
	int rc = obj_resolve_shared(ex, fh, &o);

	if (rc < 0)
		return rc;
	if (access) {
		/* symlinks have no ACLs (and the /proc link would reach
		 * the link's target, not the link) */
		access->count = 0;
		if (o.e->type != UN_LNK)
			rc = acl_read(o.fd, XATTR_ACCESS, access);
		if (rc == 0 && access->count == 0)
			acl_from_mode(o.st.st_mode, access);
	}
	if (dflt) {
		dflt->count = 0;
		if (rc == 0 && o.e->type == UN_DIR)
			rc = acl_read(o.fd, XATTR_DEFAULT, dflt);
	}
	obj_attr(ex, o.e->oid, &o.st, attr);
	obj_release(&o);
	return rc;
}

/* What the kernel will refuse, checked before anything is copied up. */
static int setacl_allowed(const struct un_cred *cr, const struct un_obj *o,
			  struct un_acl *access, struct un_acl *dflt)
{
	int rc;

	if (o->e->type == UN_LNK)
		return -EOPNOTSUPP;
	if (cr->uid != 0 && cr->uid != o->st.st_uid)
		return -EPERM;
	if (access && access->count && (rc = acl_canonical(access)) < 0)
		return rc;
	if (dflt && dflt->count) {
		if (o->e->type != UN_DIR)
			return -EACCES;
		if ((rc = acl_canonical(dflt)) < 0)
			return rc;
	}
	return 0;
}

/* Write the ACLs on the (upper) object o as the caller. */
static int setacl_obj(const struct un_cred *cr, struct un_obj *o,
		      const struct un_acl *access, const struct un_acl *dflt)
{
	char path[64];
	int rc;

	proc_path(path, sizeof(path), o->fd);
	if ((rc = cred_enter(cr)) < 0)
		return rc;
	if (access)
		rc = acl_write(path, XATTR_ACCESS, access);
	if (rc == 0 && dflt && (dflt->count || o->e->type == UN_DIR))
		rc = acl_write(path, XATTR_DEFAULT, dflt);
	cred_leave();
	return rc;
}

int un_setacl(struct un_export *ex, const struct un_cred *cr,
	      const struct un_handle *fh, const struct un_acl *access,
	      const struct un_acl *dflt, struct un_wcc *wcc)
{
	struct un_acl *acc = NULL, *def = NULL;
	struct un_obj o;
	int rc;

	if (!ex->has_upper)
		return -EROFS;
	/* sorted copies: the caller's stay as they were */
	if ((access && !(acc = malloc(sizeof(*acc)))) ||
	    (dflt && !(def = malloc(sizeof(*def))))) {
		free(acc);
		return -ENOMEM;
	}
	if (acc)
		memcpy(acc, access, sizeof(*acc));
	if (def)
		memcpy(def, dflt, sizeof(*def));
	pthread_rwlock_wrlock(&ex->ns_lock);
	rc = obj_resolve(ex, fh, &o);
	if (rc < 0)
		goto out;
	wcc_pre(wcc, &o.st);
	rc = setacl_allowed(cr, &o, acc, def);
	if (rc == 0 && o.e->layer != UPPER)
		rc = copy_up(ex, &o, false);
	if (rc == 0)
		rc = setacl_obj(cr, &o, acc, def);
	if (o.fd >= 0)
		wcc_post(ex, wcc, o.e->oid, o.fd);
	obj_release(&o);
out:
	pthread_rwlock_unlock(&ex->ns_lock);
	free(acc);
	free(def);
	/* stable before the reply, as SETATTR */
	return rc < 0 ? rc : un_durable(ex);
}

/* ---- inheritance ------------------------------------------------------- */

/*
 * The access ACL a new object gets from its directory's default ACL,
 * limited by the mode it was created with (the kernel's
 * posix_acl_create_masq()); *mode gets the permission bits that result.
 * Returns true when the ACL says more than the mode (it must be stored).
 */
static bool acl_create_masq(struct un_acl *acl, mode_t *mode)
{
	struct un_acl_entry *group_obj = NULL, *mask = NULL;
	mode_t m = *mode;
	bool extended = false;
	uint32_t i;

	for (i = 0; i < acl->count; i++) {
		struct un_acl_entry *e = &acl->e[i];

		switch (e->tag) {
		case UN_ACL_USER_OBJ:
			e->perm &= (m >> 6) & 7;
			m = (m & ~0700u) | e->perm << 6;
			break;
		case UN_ACL_GROUP_OBJ:
			group_obj = e;
			break;
		case UN_ACL_MASK:
			mask = e;
			extended = true;
			break;
		case UN_ACL_OTHER:
			e->perm &= m & 7;
			m = (m & ~0007u) | e->perm;
			break;
		default:
			extended = true;
			break;
		}
	}
	if (mask) {
		mask->perm &= (m >> 3) & 7;
		m = (m & ~0070u) | mask->perm << 3;
	} else if (group_obj) {
		group_obj->perm &= (m >> 3) & 7;
		m = (m & ~0070u) | group_obj->perm << 3;
	}
	*mode = m;
	return extended;
}

/*
 * A new object is built in the work dir, where nothing is inherited, and
 * renamed into the upper directory dirfd.  Give it what the kernel would
 * have given it there: the directory's default ACL as its access ACL,
 * limited by its mode, and as its own default ACL if it is a directory.
 * tmp is the name in the work dir; runs with the server's privileges.
 */
int acl_inherit(struct un_export *ex, int dirfd, const char *tmp,
		uint8_t type)
{
	struct un_acl *acl = malloc(sizeof(*acl));
	char path[UN_PATH_MAX];
	struct stat st;
	mode_t mode;
	int rc;

	if (!acl)
		return -ENOMEM;
	rc = type == UN_LNK ? 1 : acl_read(dirfd, XATTR_DEFAULT, acl);
	if (rc != 0 || acl->count == 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", ex->workfd, tmp);
	if (type == UN_DIR && (rc = acl_write(path, XATTR_DEFAULT, acl)) < 0)
		goto out;
	if (fstatat(ex->workfd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		goto out;
	}
	mode = st.st_mode & 07777;
	if (acl_create_masq(acl, &mode))
		rc = acl_write(path, XATTR_ACCESS, acl);
	else if (fchmodat(ex->workfd, tmp, mode, 0) < 0)
		rc = -errno;
out:
	free(acl);
	return rc < 0 ? rc : 0;
}

/* ---- permission without the kernel --------------------------------------- */

/* The MASK limits what a named entry or the owning group grants. */
static int masked(const struct un_acl *acl, uint32_t i, uint32_t want)
{
	for (; i < acl->count; i++)
		if (acl->e[i].tag == UN_ACL_MASK)
			return (acl->e[i].perm & want) == want ? 0 : -EACCES;
	return 0;
}

/*
 * The kernel's posix_acl_permission() for an object whose file system
 * answers every write check with EROFS (a read-only lower layer), where
 * may_access() must decide itself.  want is R_OK|W_OK|X_OK, whose values
 * are the ACL's.  -ENODATA: the object has no ACL, its mode decides.
 * Not for root, whose capabilities decide.
 */
int acl_permission(const struct un_cred *cr, int fd, const struct stat *st,
		   int want)
{
	struct un_acl *acl = malloc(sizeof(*acl));
	bool group_found = false;
	uint32_t w = (uint32_t)want & 7, i;
	int rc;

	if (!acl)
		return -ENOMEM;
	rc = S_ISLNK(st->st_mode) ? 0 : acl_read(fd, XATTR_ACCESS, acl);
	if (rc == 0 && (S_ISLNK(st->st_mode) || acl->count == 0))
		rc = -ENODATA;
	for (i = 0; rc == 0 && i < acl->count; i++) {
		const struct un_acl_entry *e = &acl->e[i];
		bool ok = (e->perm & w) == w;

		if (e->tag == UN_ACL_USER_OBJ && cr->uid == st->st_uid)
			break;
		if (e->tag == UN_ACL_USER && e->id == cr->uid) {
			rc = ok ? masked(acl, i, w) : -EACCES;
			goto out;
		}
		if ((e->tag == UN_ACL_GROUP_OBJ &&
		     cred_in_group(cr, st->st_gid)) ||
		    (e->tag == UN_ACL_GROUP && cred_in_group(cr, e->id))) {
			group_found = true;
			if (ok) {
				rc = masked(acl, i, w);
				goto out;
			}
		}
		if (e->tag == UN_ACL_OTHER && group_found) {
			rc = -EACCES;
			goto out;
		}
		if (e->tag == UN_ACL_OTHER)
			break;
	}
	/* USER_OBJ or OTHER, unmasked */
	if (rc == 0 && i < acl->count)
		rc = (acl->e[i].perm & w) == w ? 0 : -EACCES;
out:
	free(acl);
	return rc;
}
