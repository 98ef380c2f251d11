/*
 * nfs4acl.h - NFSv4 ACLs (RFC 7530 section 6, RFC 8881 section 6) to and
 * from the POSIX ACLs the union stores (union.h: un_getacl/un_setacl),
 * mapped as knfsd maps them (fs/nfsd/nfs4acl.c), so that a client sees
 * the same ACEs from unionnfsd as from a Linux server.
 *
 * Protocol types stay out of this interface: an ACE's who is a kind
 * (OWNER@, GROUP@, EVERYONE@ or a named user or group) plus a number;
 * turning numbers into "user@domain" strings and back is the caller's
 * (the same mapping as the owner and owner_group attributes).  The
 * constant values are the protocol's.
 */
#ifndef UNIONNFSD_NFS4ACL_H
#define UNIONNFSD_NFS4ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "union.h"

/* acetype4 */
#define NFS4ACL_ALLOWED 0u
#define NFS4ACL_DENIED 1u

/* aceflag4 */
#define NFS4ACL_FILE_INHERIT 0x01u
#define NFS4ACL_DIRECTORY_INHERIT 0x02u
#define NFS4ACL_NO_PROPAGATE_INHERIT 0x04u
#define NFS4ACL_INHERIT_ONLY 0x08u
#define NFS4ACL_IDENTIFIER_GROUP 0x40u

/* acemask4 */
#define NFS4ACL_READ_DATA 0x00000001u	/* LIST_DIRECTORY */
#define NFS4ACL_WRITE_DATA 0x00000002u	/* ADD_FILE */
#define NFS4ACL_APPEND_DATA 0x00000004u /* ADD_SUBDIRECTORY */
#define NFS4ACL_READ_NAMED_ATTRS 0x00000008u
#define NFS4ACL_WRITE_NAMED_ATTRS 0x00000010u
#define NFS4ACL_EXECUTE 0x00000020u
#define NFS4ACL_DELETE_CHILD 0x00000040u
#define NFS4ACL_READ_ATTRIBUTES 0x00000080u
#define NFS4ACL_WRITE_ATTRIBUTES 0x00000100u
#define NFS4ACL_DELETE 0x00010000u
#define NFS4ACL_READ_ACL 0x00020000u
#define NFS4ACL_WRITE_ACL 0x00040000u
#define NFS4ACL_WRITE_OWNER 0x00080000u
#define NFS4ACL_SYNCHRONIZE 0x00100000u

/* aclsupport: what the acl attribute can carry (knfsd's answer). */
#define NFS4ACL_SUPPORT (0x1u /* ALLOW */ | 0x2u /* DENY */)

enum nfs4acl_who {
	NFS4ACL_WHO_NAMED = 0, /* id is a uid, or with IDENTIFIER_GROUP a gid */
	NFS4ACL_WHO_OWNER,     /* "OWNER@" */
	NFS4ACL_WHO_GROUP,     /* "GROUP@" */
	NFS4ACL_WHO_EVERYONE,  /* "EVERYONE@" */
};

struct nfs4acl_ace {
	uint32_t type;	      /* NFS4ACL_ALLOWED, NFS4ACL_DENIED, ... */
	uint32_t flag;	      /* NFS4ACL_* flags */
	uint32_t access_mask; /* NFS4ACL_* mask bits */
	enum nfs4acl_who who;
	uint32_t id;	      /* NFS4ACL_WHO_NAMED only */
};

struct nfs4acl {
	uint32_t naces;
	struct nfs4acl_ace *aces; /* malloc'd by nfs4acl_from_posix */
};

/*
 * The ACEs that stand for an object's POSIX ACLs, as knfsd's
 * nfsd4_get_nfs4_acl() makes them: the access ACL (dir: the object is a
 * directory, which adds DELETE_CHILD to write), then the default ACL as
 * inherit-only ACEs (dflt may be NULL or empty).  access is canonical
 * (un_getacl's).  Returns 0 or -ENOMEM; free out with nfs4acl_free().
 */
int nfs4acl_from_posix(const struct un_acl *access, const struct un_acl *dflt,
		       bool dir, struct nfs4acl *out);
void nfs4acl_free(struct nfs4acl *acl);

/*
 * The POSIX ACLs an ACE list sets (knfsd's nfs4_acl_nfsv4_to_posix()),
 * erring on the restrictive side.  *access is always filled (3 entries
 * when there are no named ones); *dflt gets count 0 when no ACE is
 * inheritable (no default ACL).  -EINVAL when the list has what POSIX
 * cannot say: AUDIT/ALARM ACEs, flags other than the inheritance ones and
 * IDENTIFIER_GROUP, inheritance on a non-directory, or a DENY of
 * READ_ATTRIBUTES/READ_ACL (anyone's) or WRITE_ATTRIBUTES/WRITE_ACL (the
 * owner's); knfsd answers NFS4ERR_ATTRNOTSUPP for that.  -ENOMEM.
 */
int nfs4acl_to_posix(const struct nfs4acl *acl, bool dir,
		     struct un_acl *access, struct un_acl *dflt);

/*
 * The acl attribute of an object for GETATTR: nfs4acl_from_posix() of its
 * ACLs (un_getacl()).  Free out with nfs4acl_free().
 */
int nfs4acl_get(struct un_export *ex, const struct un_handle *fh,
		struct nfs4acl *out);

/*
 * SETATTR of the acl attribute: the POSIX ACLs the ACEs stand for are
 * set with un_setacl() as cr (a lower object is copied up first); a
 * directory's default ACL is replaced too, removed when no ACE is
 * inheritable, as knfsd does.  -EINVAL: the ACEs say what POSIX cannot
 * (knfsd: NFS4ERR_ATTRNOTSUPP); else un_setacl()'s errors (-EPERM: not
 * the owner, -EROFS...).
 */
int nfs4acl_set(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, const struct nfs4acl *acl,
		struct un_wcc *wcc);

/* "OWNER@"... as a who kind; NFS4ACL_WHO_NAMED for anything else. */
enum nfs4acl_who nfs4acl_who_parse(const char *s, size_t len);
/* The string of a special who; NULL for NFS4ACL_WHO_NAMED. */
const char *nfs4acl_who_string(enum nfs4acl_who who);

#endif
