/*
 * nfs3xdr.c - between union.h and the NFSv3 wire types.
 */
#include <errno.h>
#include <string.h>

#include "nfs3xdr.h"

/*
 * RFC 1813 section 2.6 lists the statuses; errno values without an exact
 * counterpart map the way Linux nfsd maps them, and anything unexpected
 * becomes NFS3ERR_IO, which every client treats as a hard error.
 */
nfsstat3 nfs3_status(int err)
{
	switch (-err) {
	case 0:
		return NFS3_OK;
	case EPERM:
		return NFS3ERR_PERM;
	case ENOENT:
		return NFS3ERR_NOENT;
	case ENXIO:
		return NFS3ERR_NXIO;
	case EACCES:
	case ETXTBSY:
		return NFS3ERR_ACCES;
	case EEXIST:
		return NFS3ERR_EXIST;
	case EXDEV:
		return NFS3ERR_XDEV;
	case ENODEV:
		return NFS3ERR_NODEV;
	case ENOTDIR:
		return NFS3ERR_NOTDIR;
	case EISDIR:
		return NFS3ERR_ISDIR;
	case EINVAL:
	case EOVERFLOW:
	case ERANGE:
	/* Only a symlink handle used as a file gives ELOOP: the engine
	 * never follows links.  RFC 1813 says INVAL for READ on one. */
	case ELOOP:
		return NFS3ERR_INVAL;
	case EFBIG:
		return NFS3ERR_FBIG;
	case ENOSPC:
		return NFS3ERR_NOSPC;
	case EROFS:
		return NFS3ERR_ROFS;
	case EMLINK:
		return NFS3ERR_MLINK;
	case ENAMETOOLONG:
		return NFS3ERR_NAMETOOLONG;
	case ENOTEMPTY:
		return NFS3ERR_NOTEMPTY;
	case EDQUOT:
		return NFS3ERR_DQUOT;
	case ESTALE:
		return NFS3ERR_STALE;
	case UN_EBADHANDLE:
		return NFS3ERR_BADHANDLE;
	case UN_ENOTSYNC:
		return NFS3ERR_NOT_SYNC;
	case UN_EBADCOOKIE:
		return NFS3ERR_BAD_COOKIE;
	case ENOTSUP:
	case ENOSYS:
		return NFS3ERR_NOTSUPP;
	/* Transient: the client waits and retries instead of failing. */
	case EAGAIN:
	case ENOMEM:
		return NFS3ERR_JUKEBOX;
	case EBADF:
	case EFAULT:
		return NFS3ERR_SERVERFAULT;
	default:
		return NFS3ERR_IO;
	}
}

nfsstat3 nfs3_fh_from_wire(struct un_handle *fh, const nfs_fh3 *w)
{
	u_int len = w->data.data_len;

	if (len == 0 || len > UN_HANDLE_MAX)
		return NFS3ERR_BADHANDLE;
	fh->len = len;
	memcpy(fh->data, w->data.data_val, len);
	return NFS3_OK;
}

void nfs3_fh_to_wire(nfs_fh3 *w, const struct un_handle *fh)
{
	w->data.data_len = fh->len;
	/* Results are only encoded, never freed, so the cast is safe. */
	w->data.data_val = (char *)fh->data;
}

void nfs3_post_op_fh(post_op_fh3 *p, const struct un_handle *fh)
{
	memset(p, 0, sizeof(*p));
	if (fh == NULL || fh->len == 0)
		return;
	p->handle_follows = TRUE;
	nfs3_fh_to_wire(&p->post_op_fh3_u.handle, fh);
}

/* nfstime3 has 32-bit seconds: times before 1970 or after 2106 wrap. */
void nfs3_time(nfstime3 *t, const struct timespec *ts)
{
	t->seconds = (uint32)ts->tv_sec;
	t->nseconds = (uint32)ts->tv_nsec;
}

static ftype3 nfs3_ftype(enum un_type t)
{
	switch (t) {
	case UN_DIR:
		return NF3DIR;
	case UN_BLK:
		return NF3BLK;
	case UN_CHR:
		return NF3CHR;
	case UN_LNK:
		return NF3LNK;
	case UN_SOCK:
		return NF3SOCK;
	case UN_FIFO:
		return NF3FIFO;
	case UN_REG:
	default:
		return NF3REG;
	}
}

void nfs3_fattr(fattr3 *f, const struct un_attr *a)
{
	memset(f, 0, sizeof(*f));
	f->type = nfs3_ftype(a->type);
	f->mode = a->mode & 07777;
	f->nlink = a->nlink;
	f->uid = a->uid;
	f->gid = a->gid;
	f->size = a->size;
	f->used = a->used;
	f->rdev.specdata1 = a->rdev_major;
	f->rdev.specdata2 = a->rdev_minor;
	f->fsid = a->fsid;
	f->fileid = a->fileid;
	nfs3_time(&f->atime, &a->atime);
	nfs3_time(&f->mtime, &a->mtime);
	nfs3_time(&f->ctime, &a->ctime);
}

void nfs3_post_op_attr(post_op_attr *p, const struct un_attr *a)
{
	memset(p, 0, sizeof(*p));
	if (a == NULL)
		return;
	p->attributes_follow = TRUE;
	nfs3_fattr(&p->post_op_attr_u.attributes, a);
}

void nfs3_wcc(wcc_data *w, const struct un_wcc *wcc)
{
	memset(w, 0, sizeof(*w));
	if (wcc == NULL)
		return;
	if (wcc->pre_valid) {
		wcc_attr *pre = &w->before.pre_op_attr_u.attributes;

		w->before.attributes_follow = TRUE;
		pre->size = wcc->pre_size;
		nfs3_time(&pre->mtime, &wcc->pre_mtime);
		nfs3_time(&pre->ctime, &wcc->pre_ctime);
	}
	nfs3_post_op_attr(&w->after, wcc->post_valid ? &wcc->post : NULL);
}

static void nfs3_set_time(struct un_sattr *sa, const nfstime3 *t, time_how how,
			  uint32_t set_bit, uint32_t now_bit,
			  struct timespec *ts)
{
	if (how == SET_TO_SERVER_TIME) {
		sa->mask |= now_bit;
	} else if (how == SET_TO_CLIENT_TIME) {
		sa->mask |= set_bit;
		ts->tv_sec = t->seconds;
		ts->tv_nsec = t->nseconds;
	}
}

void nfs3_sattr(struct un_sattr *sa, const sattr3 *s)
{
	memset(sa, 0, sizeof(*sa));
	if (s->mode.set_it) {
		sa->mask |= UN_SET_MODE;
		sa->mode = s->mode.set_mode3_u.mode & 07777;
	}
	if (s->uid.set_it) {
		sa->mask |= UN_SET_UID;
		sa->uid = s->uid.set_uid3_u.uid;
	}
	if (s->gid.set_it) {
		sa->mask |= UN_SET_GID;
		sa->gid = s->gid.set_gid3_u.gid;
	}
	if (s->size.set_it) {
		sa->mask |= UN_SET_SIZE;
		sa->size = s->size.set_size3_u.size;
	}
	nfs3_set_time(sa, &s->atime.set_atime_u.atime, s->atime.set_it,
		      UN_SET_ATIME, UN_SET_ATIME_NOW, &sa->atime);
	nfs3_set_time(sa, &s->mtime.set_mtime_u.mtime, s->mtime.set_it,
		      UN_SET_MTIME, UN_SET_MTIME_NOW, &sa->mtime);
}

uint64_t nfs3_cookieverf_get(const cookieverf3 v)
{
	uint64_t verf = 0;

	for (int i = 0; i < NFS3_COOKIEVERFSIZE; i++)
		verf = verf << 8 | (uint8_t)v[i];
	return verf;
}

void nfs3_cookieverf_put(cookieverf3 v, uint64_t verf)
{
	for (int i = NFS3_COOKIEVERFSIZE - 1; i >= 0; i--, verf >>= 8)
		v[i] = (char)(verf & 0xff);
}
