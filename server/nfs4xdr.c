/*
 * nfs4xdr.c - NFSv4 attributes (RFC 7530 section 5, RFC 8881 section 5):
 * fattr4 encoding for GETATTR/READDIR/VERIFY, decoding for SETATTR/
 * CREATE/OPEN, and the small codecs the operations share.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "nfs4acl.h"
#include "nfs4xdr.h"

/* What GETATTR can return; the two *_SET attributes are write-only. */
const uint64_t nfs4_readable =
	NFS4_BIT(A_SUPPORTED_ATTRS) | NFS4_BIT(A_TYPE) |
	NFS4_BIT(A_FH_EXPIRE_TYPE) | NFS4_BIT(A_CHANGE) | NFS4_BIT(A_SIZE) |
	NFS4_BIT(A_LINK_SUPPORT) | NFS4_BIT(A_SYMLINK_SUPPORT) |
	NFS4_BIT(A_NAMED_ATTR) | NFS4_BIT(A_FSID) | NFS4_BIT(A_UNIQUE_HANDLES) |
	NFS4_BIT(A_LEASE_TIME) | NFS4_BIT(A_RDATTR_ERROR) | NFS4_BIT(A_ACL) |
	NFS4_BIT(A_ACLSUPPORT) | NFS4_BIT(A_CANSETTIME) |
	NFS4_BIT(A_CASE_INSENSITIVE) | NFS4_BIT(A_CASE_PRESERVING) |
	NFS4_BIT(A_CHOWN_RESTRICTED) | NFS4_BIT(A_FILEHANDLE) |
	NFS4_BIT(A_FILEID) | NFS4_BIT(A_FILES_AVAIL) | NFS4_BIT(A_FILES_FREE) |
	NFS4_BIT(A_FILES_TOTAL) | NFS4_BIT(A_HOMOGENEOUS) |
	NFS4_BIT(A_MAXFILESIZE) | NFS4_BIT(A_MAXLINK) | NFS4_BIT(A_MAXNAME) |
	NFS4_BIT(A_MAXREAD) | NFS4_BIT(A_MAXWRITE) | NFS4_BIT(A_MODE) |
	NFS4_BIT(A_NO_TRUNC) | NFS4_BIT(A_NUMLINKS) | NFS4_BIT(A_OWNER) |
	NFS4_BIT(A_OWNER_GROUP) | NFS4_BIT(A_RAWDEV) | NFS4_BIT(A_SPACE_AVAIL) |
	NFS4_BIT(A_SPACE_FREE) | NFS4_BIT(A_SPACE_TOTAL) |
	NFS4_BIT(A_SPACE_USED) | NFS4_BIT(A_TIME_ACCESS) |
	NFS4_BIT(A_TIME_DELTA) | NFS4_BIT(A_TIME_METADATA) |
	NFS4_BIT(A_TIME_MODIFY) | NFS4_BIT(A_MOUNTED_ON_FILEID) |
	NFS4_BIT(A_DACL) | NFS4_BIT(A_SACL);
const uint64_t nfs4_writable =
	NFS4_BIT(A_SIZE) | NFS4_BIT(A_ACL) | NFS4_BIT(A_MODE) |
	NFS4_BIT(A_OWNER) | NFS4_BIT(A_OWNER_GROUP) |
	NFS4_BIT(A_TIME_ACCESS_SET) | NFS4_BIT(A_TIME_MODIFY_SET) |
	NFS4_BIT(A_DACL) | NFS4_BIT(A_SACL);

int comp_check(const struct comp4 *c)
{
	if (c->len == 0)
		return NFS4ERR_INVAL;
	if (c->len > UN_NAME_MAX)
		return NFS4ERR_NAMETOOLONG;
	if (memchr(c->s, '\0', c->len))
		return NFS4ERR_BADCHAR;
	if (strchr(c->s, '/') || !strcmp(c->s, ".") || !strcmp(c->s, ".."))
		return NFS4ERR_BADNAME;
	return NFS4_OK;
}

uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

bool etime(XDR *x, const struct timespec *t)
{
	return e64(x, (uint64_t)(int64_t)t->tv_sec) &&
	       e32(x, (uint32_t)t->tv_nsec);
}

/* change_info4 from a directory's wcc data. */
void cinfo(change_info4 *ci, const struct un_wcc *w)
{
	ci->atomic = w->pre_valid && w->post_valid;
	ci->before = w->pre_valid ? ts_ns(&w->pre_ctime) : 0;
	ci->after = w->post_valid ? ts_ns(&w->post.ctime) : 0;
}

int nfs4_status(int err)
{
	switch (-err) {
	case 0:
		return NFS4_OK;
	case EPERM:
		return NFS4ERR_PERM;
	case ENOENT:
		return NFS4ERR_NOENT;
	case ENXIO:
		return NFS4ERR_NXIO;
	case EACCES:
	case ETXTBSY:
		return NFS4ERR_ACCESS;
	case EEXIST:
		return NFS4ERR_EXIST;
	case EXDEV:
		return NFS4ERR_XDEV;
	case ENOTDIR:
		return NFS4ERR_NOTDIR;
	case EISDIR:
		return NFS4ERR_ISDIR;
	case EINVAL:
	case EOVERFLOW:
	case ERANGE:
		return NFS4ERR_INVAL;
	case ELOOP:
		return NFS4ERR_SYMLINK;
	case EFBIG:
		return NFS4ERR_FBIG;
	case ENOSPC:
		return NFS4ERR_NOSPC;
	case EROFS:
		return NFS4ERR_ROFS;
	case EMLINK:
		return NFS4ERR_MLINK;
	case ENAMETOOLONG:
		return NFS4ERR_NAMETOOLONG;
	case ENOTEMPTY:
		return NFS4ERR_NOTEMPTY;
	case EDQUOT:
		return NFS4ERR_DQUOT;
	case ESTALE:
		return NFS4ERR_STALE;
	case ENOTSUP:
		return NFS4ERR_NOTSUPP;
	case UN_EBADHANDLE:
		return NFS4ERR_BADHANDLE;
	case UN_EBADCOOKIE:
		return NFS4ERR_BAD_COOKIE;
	case UN_ENOTSYNC:
		return NFS4ERR_NOT_SAME;
	default:
		return NFS4ERR_IO;
	}
}

/* ---- file handles ---- */

void fh_wire(const struct v4fh *fh, nfs_fh4 *out, char *buf)
{
	size_t n;

	out->nfs_fh4_val = buf;
	if (!fh->pseudo) {
		memcpy(buf, fh->fh.data, fh->fh.len);
		out->nfs_fh4_len = fh->fh.len;
		return;
	}
	/* path is shorter than NFS4_FHSIZE - 1 (pseudo_enter) */
	n = strnlen(fh->path, NFS4_FHSIZE - 1);
	buf[0] = (char)NFS4_PSEUDO_FH;
	memcpy(buf + 1, fh->path, n);
	out->nfs_fh4_len = (u_int)n + 1;
}

bool efh(XDR *x, const struct v4fh *fh)
{
	char buf[NFS4_FHSIZE];
	nfs_fh4 wire;

	fh_wire(fh, &wire, buf);
	return xdr_nfs_fh4(x, &wire);
}

/* ---- attributes ---------------------------------------------------------- */

/* ---- owners as user@domain (RFC 7530 section 5.9) ----------------------
 * Names come from the password and group databases, which may be files,
 * LDAP or whatever nsswitch says: only worker threads get here (COMPOUND
 * runs on them), and answers are cached for IDMAP_TTL seconds.  An id
 * without a name goes out as its number, and numbers are always taken,
 * as Linux does with nfs4_disable_idmapping.
 */
#define IDMAP_SLOTS 512
#define IDMAP_TTL 600
#define IDMAP_NAME_MAX 64

struct idmap_ent {
	bool used, group, named;
	uint32_t id;
	time_t expires;
	char name[IDMAP_NAME_MAX];
};

static pthread_mutex_t idmap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct idmap_ent idmap_cache[IDMAP_SLOTS];
static pthread_once_t domain_once = PTHREAD_ONCE_INIT;
static char default_domain[256] = "localdomain";

static time_t idmap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The domain of resolv.conf's "domain" or first "search" line. */
static bool resolv_domain(char *out, size_t len)
{
	char line[512], kw[16], dom[256];
	bool found = false;
	FILE *f = fopen("/etc/resolv.conf", "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%15s %255s", kw, dom) == 2 &&
		    (!strcmp(kw, "domain") || !strcmp(kw, "search")) &&
		    strcmp(dom, ".") != 0)
			found = snprintf(out, len, "%s", dom) < (int)len;
	fclose(f);
	return found;
}

/* The host's DNS domain without asking a name server (which could take
 * seconds): what follows the first dot of the host name, else
 * resolv.conf's domain, else "localdomain", as nfsidmap(5) would. */
static void find_default_domain(void)
{
	char host[256], *dot;

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		dot = strchr(host, '.');
		if (dot && dot[1]) {
			snprintf(default_domain, sizeof(default_domain), "%s",
				 dot + 1);
			return;
		}
	}
	if (!resolv_domain(default_domain, sizeof(default_domain)))
		snprintf(default_domain, sizeof(default_domain),
			 "localdomain");
}

const char *nfs4_idmap_domain(const struct server *srv)
{
	if (srv->cfg->idmap_domain)
		return srv->cfg->idmap_domain;
	pthread_once(&domain_once, find_default_domain);
	return default_domain;
}

/* getpwuid_r/getgrgid_r: the name of id, or false (none, or an error). */
static bool id_lookup(uint32_t id, bool group, char *name, size_t len)
{
	char buf[16384];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	const char *n = NULL;

	if (group) {
		if (getgrgid_r(id, &gr, buf, sizeof(buf), &grp) == 0 && grp)
			n = grp->gr_name;
	} else if (getpwuid_r(id, &pw, buf, sizeof(buf), &pwp) == 0 && pwp) {
		n = pwp->pw_name;
	}
	return n && snprintf(name, len, "%s", n) < (int)len;
}

static bool idmap_name(uint32_t id, bool group, char name[IDMAP_NAME_MAX])
{
	struct idmap_ent *e = &idmap_cache[(id * 2u + group) % IDMAP_SLOTS];
	time_t now = idmap_now();
	bool hit, named;

	pthread_mutex_lock(&idmap_lock);
	hit = e->used && e->id == id && e->group == group && e->expires > now;
	named = hit && e->named;
	if (named)
		memcpy(name, e->name, IDMAP_NAME_MAX);
	pthread_mutex_unlock(&idmap_lock);
	if (hit)
		return named;
	named = id_lookup(id, group, name, IDMAP_NAME_MAX);
	pthread_mutex_lock(&idmap_lock);
	e->used = true;
	e->id = id;
	e->group = group;
	e->named = named;
	e->expires = now + IDMAP_TTL;
	if (named)
		memcpy(e->name, name, IDMAP_NAME_MAX);
	pthread_mutex_unlock(&idmap_lock);
	return named;
}

/* owner or owner_group: "name@domain", or the number. */
static bool eowner(struct cstate *cs, XDR *x, uint32_t id, bool group)
{
	char name[IDMAP_NAME_MAX], s[IDMAP_NAME_MAX + 256];
	int n;

	/* knfsd's nfs4_disable_idmapping: for clients without an id mapper */
	if (cs->srv->cfg->idmap_numeric && cs->req->cred.flavor == AUTH_SYS)
		n = snprintf(s, sizeof(s), "%u", id);
	else if (idmap_name(id, group, name))
		n = snprintf(s, sizeof(s), "%s@%s", name,
			     nfs4_idmap_domain(cs->srv));
	else
		n = snprintf(s, sizeof(s), "%u", id);
	if (n < 0 || (size_t)n >= sizeof(s))
		n = snprintf(s, sizeof(s), "%u", id);
	return ebytes(x, s, (u_int)n);
}

static bool name_lookup(const char *name, bool group, uint32_t *id)
{
	char buf[16384];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;

	if (group) {
		if (getgrnam_r(name, &gr, buf, sizeof(buf), &grp) != 0 || !grp)
			return false;
		*id = grp->gr_gid;
		return true;
	}
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return false;
	*id = pwp->pw_uid;
	return true;
}

/*
 * An owner string to set: a number ("1000", and "1000@domain" as some
 * clients send), or "name@domain" with our domain (any case), or a bare
 * name.  Anything else is BADOWNER.
 */
static int parse_owner(struct cstate *cs, const char *s, u_int len,
		       bool group, uint32_t *id)
{
	char buf[IDMAP_NAME_MAX + 256];
	char *at;

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
		return NFS4ERR_BADOWNER;
	memcpy(buf, s, len);
	buf[len] = '\0';
	at = strchr(buf, '@');
	if (at)
		*at = '\0';
	if (config_parse_u32(buf, id) == 0)
		return NFS4_OK;
	if (at && strcasecmp(at + 1, nfs4_idmap_domain(cs->srv)) != 0)
		return NFS4ERR_BADOWNER;
	return name_lookup(buf, group, id) ? NFS4_OK : NFS4ERR_BADOWNER;
}

/* ---- the acl attribute (RFC 7530 section 6, RFC 8881 section 6) --------
 * The ACEs are the ones the object's POSIX ACLs stand for (nfs4acl.c,
 * mapped as knfsd maps them); a named who is a user or group string
 * mapped like owner and owner_group.
 */

/* A pseudo directory's ACL: what its mode 0555 stands for. */
static int pseudo_acl(struct nfs4acl *acl)
{
	static const struct un_acl_entry e[] = {
		{ UN_ACL_USER_OBJ, 0, UN_ACL_READ | UN_ACL_EXECUTE },
		{ UN_ACL_GROUP_OBJ, 0, UN_ACL_READ | UN_ACL_EXECUTE },
		{ UN_ACL_OTHER, 0, UN_ACL_READ | UN_ACL_EXECUTE },
	};
	struct un_acl *access = calloc(1, sizeof(*access));
	int err;

	if (access == NULL)
		return -ENOMEM;
	access->count = 3;
	memcpy(access->e, e, sizeof(e));
	err = nfs4acl_from_posix(access, NULL, true, acl);
	free(access);
	return err;
}

static bool eace(struct cstate *cs, XDR *x, const struct nfs4acl_ace *a)
{
	const char *who = nfs4acl_who_string(a->who);

	if (!e32(x, a->type) || !e32(x, a->flag) || !e32(x, a->access_mask))
		return false;
	if (who != NULL)
		return ebytes(x, who, (u_int)strlen(who));
	return eowner(cs, x, a->id, a->flag & NFS4ACL_IDENTIFIER_GROUP);
}

static bool eacl(struct cstate *cs, XDR *x, struct v4obj *o)
{
	struct nfs4acl acl = { 0, NULL };
	bool ok;

	if ((o->ex ? nfs4acl_get(o->ex->ux, &o->fh->fh, &acl)
		   : pseudo_acl(&acl)) < 0)
		return false;
	ok = e32(x, acl.naces);
	for (uint32_t i = 0; ok && i < acl.naces; i++)
		ok = eace(cs, x, &acl.aces[i]);
	nfs4acl_free(&acl);
	return ok;
}

/* One nfsace4 to set; who "OWNER@"..., or a user or group. */
static int dace(struct cstate *cs, XDR *v, struct nfs4acl_ace *a)
{
	char who[NFS4_OPAQUE_MAX + 1];
	u_int len;

	if (!d32(v, &a->type) || !d32(v, &a->flag) ||
	    !d32(v, &a->access_mask) ||
	    !dbytes(v, who, NFS4_OPAQUE_MAX, &len))
		return NFS4ERR_BADXDR;
	a->who = nfs4acl_who_parse(who, len);
	if (a->who != NFS4ACL_WHO_NAMED)
		return NFS4_OK;
	return parse_owner(cs, who, len, a->flag & NFS4ACL_IDENTIFIER_GROUP,
			   &a->id);
}

/* The fattr4_acl to set: an nfsace4 array (at least 4 words each). */
static int dacl(struct cstate *cs, XDR *v, struct nfs4acl *acl)
{
	uint32_t n;
	int st = NFS4_OK;

	if (acl == NULL)
		return NFS4ERR_ATTRNOTSUPP;
	if (!d32(v, &n))
		return NFS4ERR_BADXDR;
	/* more than POSIX ACLs can say (an entry is at most 2 ACEs and the
	 * default ACL's as many again) is refused before any allocation */
	if (n > UN_ACL_MAX_ENTRIES * 4u)
		return NFS4ERR_INVAL;
	acl->aces = calloc(n ? n : 1, sizeof(*acl->aces));
	if (acl->aces == NULL)
		return NFS4ERR_RESOURCE;
	acl->naces = n;
	for (uint32_t i = 0; i < n && st == NFS4_OK; i++)
		st = dace(cs, v, &acl->aces[i]);
	return st;
}

/*
 * dacl and sacl (RFC 8881 section 6.2.3): an aclflag4 before the ACEs.
 * ACL4_AUTO_INHERIT, ACL4_PROTECTED and ACL4_DEFAULTED describe automatic
 * inheritance (section 6.4.3), which POSIX ACLs have no room for.  They
 * are ignored on SETATTR rather than refused: refusing a whole ACL for
 * bookkeeping flags is the user-unfriendly last resort knfsd avoids for
 * ACE inheritance bits; GETATTR returns 0, so the client sees they did
 * not stick.  Other bits are undefined: INVAL.
 */
#define ACL4_FLAGS 0x7u

static int dacl_flag(XDR *v)
{
	uint32_t flag;

	if (!d32(v, &flag))
		return NFS4ERR_BADXDR;
	return flag & ~ACL4_FLAGS ? NFS4ERR_INVAL : NFS4_OK;
}

static int ddacl(struct cstate *cs, XDR *v, struct nfs4acl *acl)
{
	int st = acl == NULL ? NFS4ERR_ATTRNOTSUPP : dacl_flag(v);

	return st == NFS4_OK ? dacl(cs, v, acl) : st;
}

/* POSIX ACLs hold no AUDIT or ALARM ACEs: only an empty sacl is set
 * (as nothing). */
static int dsacl(XDR *v)
{
	uint32_t n;
	int st = dacl_flag(v);

	if (st != NFS4_OK)
		return st;
	if (!d32(v, &n))
		return NFS4ERR_BADXDR;
	return n ? NFS4ERR_ATTRNOTSUPP : NFS4_OK;
}

static int obj_statfs(struct v4obj *o)
{
	if (o->have_statfs)
		return 0;
	o->have_statfs = true;
	if (o->ex == NULL) {
		memset(&o->st, 0, sizeof(o->st));
		o->st.name_max = UN_NAME_MAX;
		return 0;
	}
	return un_statfs(o->ex->ux, &o->fh->fh, &o->st);
}

static bool eattr(struct cstate *cs, XDR *x, struct v4obj *o, int n)
{
	const struct un_attr *a = &o->attr;

	switch (n) {
	case A_SUPPORTED_ATTRS:
		return ebitmap(x, nfs4_attrs(NFS4_SUPPORTED, cs->minor));
	case A_TYPE:
		return e32(x, a->type);
	case A_FH_EXPIRE_TYPE:
		return e32(x, 0); /* FH4_PERSISTENT */
	case A_CHANGE:
		return e64(x, ts_ns(&a->ctime));
	case A_SIZE:
		return e64(x, a->size);
	case A_LINK_SUPPORT:
	case A_SYMLINK_SUPPORT:
	case A_UNIQUE_HANDLES:
	case A_CANSETTIME:
	case A_CASE_PRESERVING:
	case A_CHOWN_RESTRICTED:
	case A_HOMOGENEOUS:
	case A_NO_TRUNC:
		return e32(x, 1);
	case A_NAMED_ATTR:
	case A_CASE_INSENSITIVE:
		return e32(x, 0);
	case A_FSID:
		if (o->ex == NULL)
			return e64(x, ~0ull) && e64(x, ~0ull);
		return e64(x, a->fsid) && e64(x, 0);
	case A_LEASE_TIME:
		return e32(x, cs->srv->cfg->lease_time);
	case A_RDATTR_ERROR:
		return e32(x, NFS4_OK);
	case A_ACL:
		return eacl(cs, x, o);
	case A_ACLSUPPORT:
		return e32(x, NFS4ACL_SUPPORT);
	case A_DACL:
		return e32(x, 0) && eacl(cs, x, o);
	case A_SACL:
		return e32(x, 0) && e32(x, 0);
	case A_FILEHANDLE:
		return efh(x, o->fh);
	case A_FILEID:
		return e64(x, a->fileid);
	case A_FILES_AVAIL:
		return obj_statfs(o) == 0 && e64(x, o->st.afiles);
	case A_FILES_FREE:
		return obj_statfs(o) == 0 && e64(x, o->st.ffiles);
	case A_FILES_TOTAL:
		return obj_statfs(o) == 0 && e64(x, o->st.tfiles);
	case A_MAXFILESIZE:
		return e64(x, INT64_MAX);
	case A_MAXLINK:
		return e32(x, 65000);
	case A_MAXNAME:
		return e32(x, UN_NAME_MAX);
	case A_MAXREAD:
	case A_MAXWRITE:
		return e64(x, NFS4_MAXIO);
	case A_MODE:
		return e32(x, a->mode & 07777);
	case A_NUMLINKS:
		return e32(x, a->nlink);
	case A_OWNER:
		return eowner(cs, x, a->uid, false);
	case A_OWNER_GROUP:
		return eowner(cs, x, a->gid, true);
	case A_RAWDEV:
		return e32(x, a->rdev_major) && e32(x, a->rdev_minor);
	case A_SPACE_AVAIL:
		return obj_statfs(o) == 0 && e64(x, o->st.abytes);
	case A_SPACE_FREE:
		return obj_statfs(o) == 0 && e64(x, o->st.fbytes);
	case A_SPACE_TOTAL:
		return obj_statfs(o) == 0 && e64(x, o->st.tbytes);
	case A_SPACE_USED:
		return e64(x, a->used);
	case A_TIME_ACCESS:
		return etime(x, &a->atime);
	case A_TIME_DELTA: {
		struct timespec d = { 0, 1 };

		return etime(x, &d);
	}
	case A_TIME_METADATA:
		return etime(x, &a->ctime);
	case A_TIME_MODIFY:
		return etime(x, &a->mtime);
	case A_MOUNTED_ON_FILEID:
		/* An export's root sits on a pseudo directory. */
		if (o->ex != NULL && a->type == UN_DIR &&
		    nfs4_is_export_root(o->fh))
			return e64(x,
				   nfs4_pseudo_fileid(nfs4_export_rel(o->ex)));
		return e64(x, a->fileid);
	default:
		return false;
	}
}

/* fattr4 with the requested attributes we can give. */
bool efattr(struct cstate *cs, XDR *x, struct v4obj *o,
		   const uint32_t req[NFS4_BITMAP_WORDS])
{
	uint64_t bits = bm64(req) & nfs4_attrs(nfs4_readable, cs->minor);
	uint32_t *lenp;
	u_int start;

	if (!ebitmap(x, bits))
		return false;
	lenp = xinline(x, 4);
	if (lenp == NULL)
		return false;
	start = xdr_getpos(x);
	for (int n = 0; n < A_NATTRS; n++)
		if ((bits & NFS4_BIT(n)) && !eattr(cs, x, o, n))
			return false;
	*lenp = htonl(xdr_getpos(x) - start);
	return true;
}

int obj_load(struct cstate *cs, const struct v4fh *fh,
		    struct v4obj *o)
{
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	o->ex = fh->pseudo ? NULL : fh->ex;
	return nfs4_getattr(cs, fh, &o->attr);
}

/* A settime4: the server's time now, or the client's. */
static bool dsettime(XDR *x, struct un_sattr *sa, uint32_t now_bit,
		     uint32_t set_bit, struct timespec *t)
{
	settime4 st;

	memset(&st, 0, sizeof(st));
	if (!xdr_settime4(x, &st))
		return false;
	if (st.set_it != SET_TO_CLIENT_TIME4) {
		sa->mask |= now_bit;
		return true;
	}
	t->tv_sec = (time_t)st.settime4_u.time.seconds;
	t->tv_nsec = st.settime4_u.time.nseconds;
	sa->mask |= set_bit;
	return true;
}

/* One attribute value of a fattr4 to set, from v. */
static int dattr_set(struct cstate *cs, XDR *v, int n, struct un_sattr *sa,
		     struct nfs4acl *acl)
{
	char owner[NFS4_OPAQUE_MAX + 1];
	u_int olen;

	switch (n) {
	case A_ACL:
		return dacl(cs, v, acl);
	case A_DACL:
		return ddacl(cs, v, acl);
	case A_SACL:
		return dsacl(v);
	case A_SIZE:
		sa->mask |= UN_SET_SIZE;
		return d64(v, &sa->size) ? NFS4_OK : NFS4ERR_BADXDR;
	case A_MODE:
		sa->mask |= UN_SET_MODE;
		if (!d32(v, &sa->mode))
			return NFS4ERR_BADXDR;
		sa->mode &= 07777;
		return NFS4_OK;
	case A_OWNER:
	case A_OWNER_GROUP:
		if (!dbytes(v, owner, NFS4_OPAQUE_MAX, &olen))
			return NFS4ERR_BADXDR;
		sa->mask |= n == A_OWNER ? UN_SET_UID : UN_SET_GID;
		return parse_owner(cs, owner, olen, n == A_OWNER_GROUP,
				   n == A_OWNER ? &sa->uid : &sa->gid);
	case A_TIME_ACCESS_SET:
		return dsettime(v, sa, UN_SET_ATIME_NOW, UN_SET_ATIME,
				&sa->atime) ? NFS4_OK : NFS4ERR_BADXDR;
	case A_TIME_MODIFY_SET:
		return dsettime(v, sa, UN_SET_MTIME_NOW, UN_SET_MTIME,
				&sa->mtime) ? NFS4_OK : NFS4ERR_BADXDR;
	default:
		return NFS4_OK;
	}
}

/*
 * The attributes to set of a decoded fattr4.  *set receives the bits
 * taken; returns a status (ATTRNOTSUPP for what we cannot set, INVAL for
 * read-only attributes).  attr_vals is opaque in the protocol's XDR: its
 * values are parsed here, in bit order.
 */
int dfattr_set(struct cstate *cs, const fattr4 *fa, struct un_sattr *sa,
	       struct nfs4acl *acl, uint64_t *set)
{
	uint32_t bm[NFS4_BITMAP_WORDS];
	uint64_t bits;
	XDR v;
	int st = NFS4_OK;

	memset(sa, 0, sizeof(*sa));
	if (acl != NULL)
		*acl = (struct nfs4acl){ 0, NULL };
	*set = 0;
	bitmap_words(&fa->attrmask, bm);
	bits = bm64(bm);
	if (bm[2] || (bits & ~nfs4_attrs(NFS4_SUPPORTED, cs->minor)))
		return NFS4ERR_ATTRNOTSUPP;
	if (bits & ~nfs4_writable)
		return NFS4ERR_INVAL;
	/* acl and dacl are two views of one ACL (RFC 8881 section 6.4):
	 * which one a SETATTR giving both meant is not ours to guess */
	if ((bits & NFS4_ACL_ATTRS) == NFS4_ACL_ATTRS)
		return NFS4ERR_INVAL;
	xdrmem_create(&v, fa->attr_vals.attrlist4_val,
		      fa->attr_vals.attrlist4_len, XDR_DECODE);
	for (int n = 0; n < A_NATTRS && st == NFS4_OK; n++)
		if (bits & NFS4_BIT(n))
			st = dattr_set(cs, &v, n, sa, acl);
	xdr_destroy(&v);
	if (st == NFS4_OK)
		*set = bits;
	else if (acl != NULL)
		nfs4acl_free(acl);
	return st;
}
