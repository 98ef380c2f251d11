/*
 * nfs3proc.c - the NFSv3 procedures (RFC 1813 section 3.3), program
 * 100003 version 3.
 *
 * Every procedure follows the same steps: decode its arguments, find the
 * export that the handle names and apply the export's client rules
 * (nfs3_begin), call the union engine, and encode the results, with the
 * post-operation attributes and wcc data RFC 1813 asks for, on errors too
 * where the engine can still give them.
 *
 * Names: the engine refuses "", names containing '/' (-EINVAL) and names
 * longer than 255 bytes (-ENAMETOOLONG).  We answer NFS3ERR_INVAL and
 * NFS3ERR_NAMETOOLONG; RFC 1813 has no better status for a name that is
 * not a single component (knfsd rejects such calls as GARBAGE_ARGS).
 * TODO: libtirpc's xdr_string stops a name at an embedded NUL, so
 * "a\0b" is taken as "a"; refusing it needs a hand-written filename3
 * decoder.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../xdr/nfs3_rw.h"
#include "log.h"
#include "nfs3proc.h"
#include "nfs3xdr.h"
#include "rpc.h"
#include "server.h"

#define NFS3_RTMAX (1024 * 1024)
#define NFS3_WTMAX (1024 * 1024)
#define NFS3_DTPREF (64 * 1024)
/* The largest READDIR(PLUS) reply we build, whatever the client asks. */
#define NFS3_DIRMAX (256 * 1024)
#define NFS3_MULT 4096
#define NFS3_LINKMAX 65000
/* Room for everything in a reply besides the data or the entries. */
#define NFS3_REPLY_SLACK 512

#define XDR_ROUNDUP(n) (((n) + 3u) & ~3u)

/* What nfs3_begin found: the export, the handle and who asks. */

static bool nfs3_export_allows_v3(const struct srv_export *ex)
{
	unsigned v = ex->conf ? ex->conf->versions : 0;

	return v == 0 || (v & VERS_NFS3);
}

/*
 * Resolve a wire handle to its export and check the client's right to
 * use it.  Returns NFS3_OK with *c filled, or the status to answer.
 */
nfsstat3 nfs3_begin(struct rpc_req *req, const nfs_fh3 *wfh, bool modifying,
		    struct nfs3_ctx *c)
{
	uint32_t id;
	nfsstat3 st;

	memset(c, 0, sizeof(*c));
	st = nfs3_fh_from_wire(&c->fh, wfh);
	if (st != NFS3_OK)
		return st;
	if (un_handle_export_id(&c->fh, &id) < 0)
		return NFS3ERR_BADHANDLE;
	c->ex = server_export_of(req, &c->fh);
	if (c->ex == NULL)
		return NFS3ERR_STALE;
	if (!nfs3_export_allows_v3(c->ex))
		return NFS3ERR_ACCES;
	/* c->ux stays NULL unless the client may use the export, so that
	 * error replies give attributes only to those who may see them. */
	switch (server_access(c->ex, req, modifying, &c->cred)) {
	case ACCESS_OK:
		c->ux = c->ex->ux;
		return NFS3_OK;
	case ACCESS_ROFS:
		return NFS3ERR_ROFS;
	case ACCESS_DENIED:
	default:
		return NFS3ERR_ACCES;
	}
}

/*
 * A second handle in the same call (RENAME, LINK) must name an object of
 * the same export: a different export is a different file system.
 */
static nfsstat3 nfs3_second_fh(const struct nfs3_ctx *c, const nfs_fh3 *wfh,
			       struct un_handle *fh)
{
	uint32_t id;
	nfsstat3 st;

	st = nfs3_fh_from_wire(fh, wfh);
	if (st != NFS3_OK)
		return st;
	if (un_handle_export_id(fh, &id) < 0)
		return NFS3ERR_BADHANDLE;
	if (id != c->ex->id)
		return NFS3ERR_XDEV;
	return NFS3_OK;
}

/* Attributes for an error reply, when the object can still be found. */
static void nfs3_attr_of(const struct nfs3_ctx *c, const struct un_handle *fh,
			 post_op_attr *p)
{
	struct un_attr attr;

	if (c->ux != NULL && un_getattr(c->ux, fh, &attr) == 0)
		nfs3_post_op_attr(p, &attr);
	else
		nfs3_post_op_attr(p, NULL);
}

static enum rpc_status nfs3_reply(struct rpc_req *req, xdrproc_t fn, void *res)
{
	/* Every NFSv3 result starts with its status: the one place that
	 * sees each BADHANDLE, whichever check produced it. */
	if (*(const nfsstat3 *)res == NFS3ERR_BADHANDLE)
		log_bad_handle((const struct sockaddr *)&req->peer, "NFSv3");
	return fn(&req->res, res) ? RPC_DONE : RPC_SYSTEM_ERR;
}

/*
 * Each procedure's entry point decodes into a zeroed argument struct,
 * runs nfs3_do_<name>, and frees whatever decoding allocated.
 */
#define NFS3_PROC(name, argtype)                                               \
	static enum rpc_status nfs3_do_##name(struct rpc_req *req,             \
					      argtype *args);                  \
	static enum rpc_status nfs3proc_##name(struct rpc_req *req)            \
	{                                                                      \
		argtype args;                                                  \
		enum rpc_status st = RPC_GARBAGE;                              \
                                                                               \
		memset(&args, 0, sizeof(args));                                \
		if (xdr_##argtype(&req->args, &args))                          \
			st = nfs3_do_##name(req, &args);                       \
		xdr_free((xdrproc_t)xdr_##argtype, (char *)&args);             \
		return st;                                                     \
	}

static enum rpc_status nfs3proc_null(struct rpc_req *req)
{
	return RPC_DONE;
}

/* ---- GETATTR ---------------------------------------------------------- */

NFS3_PROC(getattr, GETATTR3args)
static enum rpc_status nfs3_do_getattr(struct rpc_req *req, GETATTR3args *a)
{
	GETATTR3res res;
	struct nfs3_ctx c;
	struct un_attr attr;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->object, false, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_getattr(c.ux, &c.fh, &attr));
	if (res.status == NFS3_OK)
		nfs3_fattr(&res.GETATTR3res_u.resok.obj_attributes, &attr);
	return nfs3_reply(req, (xdrproc_t)xdr_GETATTR3res, &res);
}

/* ---- SETATTR ---------------------------------------------------------- */

NFS3_PROC(setattr, SETATTR3args)
static enum rpc_status nfs3_do_setattr(struct rpc_req *req, SETATTR3args *a)
{
	SETATTR3res res;
	struct nfs3_ctx c;
	struct un_sattr sa;
	struct un_wcc wcc;
	struct timespec guard, *guardp = NULL;

	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	res.status = nfs3_begin(req, &a->object, true, &c);
	if (res.status == NFS3_OK) {
		nfs3_sattr(&sa, &a->new_attributes);
		if (a->guard.check) {
			guard.tv_sec = a->guard.sattrguard3_u.obj_ctime.seconds;
			guard.tv_nsec =
				a->guard.sattrguard3_u.obj_ctime.nseconds;
			guardp = &guard;
		}
		res.status = nfs3_status(
			un_setattr(c.ux, &c.cred, &c.fh, &sa, guardp, &wcc));
	}
	/* resok and resfail are the same wcc_data at the same place. */
	nfs3_wcc(&res.SETATTR3res_u.resok.obj_wcc, &wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_SETATTR3res, &res);
}

/* ---- LOOKUP ----------------------------------------------------------- */

/* "." is the directory itself; the engine only takes real names. */
static int nfs3_lookup_dot(struct nfs3_ctx *c, struct un_handle *out,
			   struct un_attr *attr)
{
	int err = un_getattr(c->ux, &c->fh, attr);

	if (err < 0)
		return err;
	if (attr->type != UN_DIR)
		return -ENOTDIR;
	*out = c->fh;
	return 0;
}

static int nfs3_lookup_name(struct nfs3_ctx *c, const char *name,
			    struct un_handle *out, struct un_attr *attr,
			    struct un_attr *dir_attr, bool *dir_valid)
{
	int err;

	*dir_valid = false;
	if (strcmp(name, ".") == 0)
		err = nfs3_lookup_dot(c, out, attr);
	else if (strcmp(name, "..") == 0)
		err = un_lookup_parent(c->ux, &c->cred, &c->fh, out, attr);
	else {
		err = un_lookup(c->ux, &c->cred, &c->fh, name, out, attr,
				dir_attr);
		*dir_valid = err == 0;
	}
	return err;
}

NFS3_PROC(lookup, LOOKUP3args)
static enum rpc_status nfs3_do_lookup(struct rpc_req *req, LOOKUP3args *a)
{
	LOOKUP3res res;
	LOOKUP3resok *ok = &res.LOOKUP3res_u.resok;
	struct nfs3_ctx c;
	struct un_handle out;
	struct un_attr attr, dir_attr;
	bool dir_valid = false;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->what.dir, false, &c);
	if (res.status != NFS3_OK)
		return nfs3_reply(req, (xdrproc_t)xdr_LOOKUP3res, &res);
	res.status = nfs3_status(nfs3_lookup_name(&c, a->what.name, &out,
						  &attr, &dir_attr,
						  &dir_valid));
	if (res.status != NFS3_OK) {
		nfs3_attr_of(&c, &c.fh, &res.LOOKUP3res_u.resfail.dir_attributes);
		return nfs3_reply(req, (xdrproc_t)xdr_LOOKUP3res, &res);
	}
	nfs3_fh_to_wire(&ok->object, &out);
	nfs3_post_op_attr(&ok->obj_attributes, &attr);
	if (dir_valid)
		nfs3_post_op_attr(&ok->dir_attributes, &dir_attr);
	else
		nfs3_attr_of(&c, &c.fh, &ok->dir_attributes);
	return nfs3_reply(req, (xdrproc_t)xdr_LOOKUP3res, &res);
}

/* ---- ACCESS ----------------------------------------------------------- */

NFS3_PROC(access, ACCESS3args)
static enum rpc_status nfs3_do_access(struct rpc_req *req, ACCESS3args *a)
{
	ACCESS3res res;
	struct nfs3_ctx c;
	struct un_attr attr;
	uint32_t granted = 0;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->object, false, &c);
	if (res.status != NFS3_OK)
		return nfs3_reply(req, (xdrproc_t)xdr_ACCESS3res, &res);
	res.status = nfs3_status(un_access(c.ux, &c.cred, &c.fh, a->access,
					   &granted, &attr));
	if (res.status == NFS3_OK) {
		nfs3_post_op_attr(&res.ACCESS3res_u.resok.obj_attributes,
				  &attr);
		res.ACCESS3res_u.resok.access = granted & a->access;
	} else {
		nfs3_attr_of(&c, &c.fh,
			     &res.ACCESS3res_u.resfail.obj_attributes);
	}
	return nfs3_reply(req, (xdrproc_t)xdr_ACCESS3res, &res);
}

/* ---- READLINK --------------------------------------------------------- */

NFS3_PROC(readlink, READLINK3args)
static enum rpc_status nfs3_do_readlink(struct rpc_req *req,
					READLINK3args *a)
{
	READLINK3res res;
	struct nfs3_ctx c;
	struct un_attr attr;
	char target[UN_PATH_MAX + 1];
	int n;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->symlink, false, &c);
	if (res.status != NFS3_OK)
		return nfs3_reply(req, (xdrproc_t)xdr_READLINK3res, &res);
	n = un_readlink(c.ux, &c.cred, &c.fh, target, sizeof(target), &attr);
	res.status = nfs3_status(n < 0 ? n : 0);
	if (res.status == NFS3_OK) {
		nfs3_post_op_attr(&res.READLINK3res_u.resok.symlink_attributes,
				  &attr);
		res.READLINK3res_u.resok.data = target;
	} else {
		nfs3_attr_of(&c, &c.fh,
			     &res.READLINK3res_u.resfail.symlink_attributes);
	}
	return nfs3_reply(req, (xdrproc_t)xdr_READLINK3res, &res);
}

/* ---- READ ------------------------------------------------------------- */

static enum rpc_status nfs3_read_fail(struct rpc_req *req,
				      const struct nfs3_ctx *c, nfsstat3 st)
{
	READ3res res;

	memset(&res, 0, sizeof(res));
	res.status = st;
	if (c->ux != NULL)
		nfs3_attr_of(c, &c->fh, &res.READ3res_u.resfail.file_attributes);
	return nfs3_reply(req, (xdrproc_t)xdr_READ3res, &res);
}

/*
 * The data is read from the file straight into the reply buffer, after
 * room left for the header; the header is then written in front of it.
 */
NFS3_PROC(read, READ3args)
static enum rpc_status nfs3_do_read(struct rpc_req *req, READ3args *a)
{
	struct nfs3_ctx c;
	struct un_attr attr;
	fattr3 fattr;
	uint32_t count = a->count < NFS3_RTMAX ? a->count : NFS3_RTMAX;
	u_int start = xdr_getpos(&req->res);
	uint8_t *buf;
	bool eof = false;
	ssize_t n;
	nfsstat3 st;

	st = nfs3_begin(req, &a->file, false, &c);
	if (st != NFS3_OK)
		return nfs3_read_fail(req, &c, st);
	buf = rpc_res_inline(req, NFS3_READ_RESOK_HDR + XDR_ROUNDUP(count));
	if (buf == NULL)
		return RPC_SYSTEM_ERR;
	n = un_read(c.ux, &c.cred, &c.fh, a->offset, count,
		    buf + NFS3_READ_RESOK_HDR, &eof, &attr);
	if (!xdr_setpos(&req->res, start))
		return RPC_SYSTEM_ERR;
	if (n < 0)
		return nfs3_read_fail(req, &c, nfs3_status((int)n));
	nfs3_fattr(&fattr, &attr);
	if (!nfs3_encode_read_resok(&req->res, &fattr, (uint32_t)n, eof,
				    buf + NFS3_READ_RESOK_HDR))
		return RPC_SYSTEM_ERR;
	return RPC_DONE;
}

/* ---- WRITE ------------------------------------------------------------ */

static nfsstat3 nfs3_write(struct rpc_req *req, struct nfs3_write_args *a,
			   struct un_wcc *wcc, WRITE3resok *ok)
{
	struct nfs3_ctx c;
	enum un_stable committed = UN_FILE_SYNC;
	ssize_t n;
	nfsstat3 st;

	st = nfs3_begin(req, &a->file, true, &c);
	if (st != NFS3_OK)
		return st;
	if (a->count > NFS3_WTMAX || a->len != a->count ||
	    (uint32_t)a->stable > FILE_SYNC)
		return NFS3ERR_INVAL;
	n = un_write(c.ux, &c.cred, &c.fh, a->offset, a->data, a->len,
		     (enum un_stable)a->stable, &committed, wcc);
	if (n < 0)
		return nfs3_status((int)n);
	ok->count = (count3)n;
	ok->committed = (stable_how)committed;
	memcpy(ok->verf, req->srv->write_verf, NFS3_WRITEVERFSIZE);
	return NFS3_OK;
}

/* Hand-decoded so that the data stays where it is in the call record. */
static enum rpc_status nfs3proc_write(struct rpc_req *req)
{
	struct nfs3_write_args args;
	WRITE3res res;
	struct un_wcc wcc;
	enum rpc_status rst;

	memset(&args, 0, sizeof(args));
	if (!nfs3_decode_write_args(&req->args, &args)) {
		nfs3_write_args_free(&args);
		return RPC_GARBAGE;
	}
	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	res.status = nfs3_write(req, &args, &wcc, &res.WRITE3res_u.resok);
	/* resok and resfail both begin with the wcc_data. */
	nfs3_wcc(&res.WRITE3res_u.resok.file_wcc, &wcc);
	rst = nfs3_reply(req, (xdrproc_t)xdr_WRITE3res, &res);
	nfs3_write_args_free(&args);
	return rst;
}

/* ---- CREATE, MKDIR, SYMLINK, MKNOD ------------------------------------ */

/* What the four creating procedures return: post_op_fh3, attributes and
 * the directory's wcc_data, in the same layout in all four resoks. */
struct nfs3_made {
	struct un_handle fh;
	struct un_attr attr;
	struct un_wcc dir_wcc;
};

static void nfs3_made_res(const struct nfs3_made *m, nfsstat3 st,
			  post_op_fh3 *obj, post_op_attr *attr, wcc_data *wcc)
{
	if (st == NFS3_OK) {
		nfs3_post_op_fh(obj, &m->fh);
		nfs3_post_op_attr(attr, &m->attr);
	}
	nfs3_wcc(wcc, &m->dir_wcc);
}

NFS3_PROC(create, CREATE3args)
static enum rpc_status nfs3_do_create(struct rpc_req *req, CREATE3args *a)
{
	CREATE3res res;
	struct nfs3_ctx c;
	struct nfs3_made m;
	struct un_sattr sa;
	const uint8_t *verf = NULL;
	enum un_createmode how;

	memset(&res, 0, sizeof(res));
	memset(&m, 0, sizeof(m));
	memset(&sa, 0, sizeof(sa));
	res.status = nfs3_begin(req, &a->where.dir, true, &c);
	if (res.status != NFS3_OK)
		goto out;
	switch (a->how.mode) {
	case UNCHECKED:
		how = UN_CREATE_UNCHECKED;
		nfs3_sattr(&sa, &a->how.createhow3_u.obj_attributes);
		break;
	case GUARDED:
		how = UN_CREATE_GUARDED;
		nfs3_sattr(&sa, &a->how.createhow3_u.obj_attributes);
		break;
	case EXCLUSIVE:
	default:
		how = UN_CREATE_EXCLUSIVE;
		verf = (const uint8_t *)a->how.createhow3_u.verf;
		break;
	}
	res.status = nfs3_status(un_create(c.ux, &c.cred, &c.fh,
					   a->where.name, how, &sa, verf,
					   &m.fh, &m.attr, &m.dir_wcc));
out:
	nfs3_made_res(&m, res.status, &res.CREATE3res_u.resok.obj,
		      &res.CREATE3res_u.resok.obj_attributes,
		      res.status == NFS3_OK ? &res.CREATE3res_u.resok.dir_wcc
					    : &res.CREATE3res_u.resfail.dir_wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_CREATE3res, &res);
}

NFS3_PROC(mkdir, MKDIR3args)
static enum rpc_status nfs3_do_mkdir(struct rpc_req *req, MKDIR3args *a)
{
	MKDIR3res res;
	struct nfs3_ctx c;
	struct nfs3_made m;
	struct un_sattr sa;

	memset(&res, 0, sizeof(res));
	memset(&m, 0, sizeof(m));
	res.status = nfs3_begin(req, &a->where.dir, true, &c);
	if (res.status == NFS3_OK) {
		nfs3_sattr(&sa, &a->attributes);
		res.status = nfs3_status(un_mkdir(c.ux, &c.cred, &c.fh,
						  a->where.name, &sa, &m.fh,
						  &m.attr, &m.dir_wcc));
	}
	nfs3_made_res(&m, res.status, &res.MKDIR3res_u.resok.obj,
		      &res.MKDIR3res_u.resok.obj_attributes,
		      res.status == NFS3_OK ? &res.MKDIR3res_u.resok.dir_wcc
					    : &res.MKDIR3res_u.resfail.dir_wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_MKDIR3res, &res);
}

NFS3_PROC(symlink, SYMLINK3args)
static enum rpc_status nfs3_do_symlink(struct rpc_req *req, SYMLINK3args *a)
{
	SYMLINK3res res;
	struct nfs3_ctx c;
	struct nfs3_made m;
	struct un_sattr sa;
	const char *target = a->symlink.symlink_data;

	memset(&res, 0, sizeof(res));
	memset(&m, 0, sizeof(m));
	res.status = nfs3_begin(req, &a->where.dir, true, &c);
	if (res.status == NFS3_OK && strlen(target) >= UN_PATH_MAX)
		res.status = NFS3ERR_NAMETOOLONG;
	if (res.status == NFS3_OK) {
		nfs3_sattr(&sa, &a->symlink.symlink_attributes);
		res.status = nfs3_status(un_symlink(c.ux, &c.cred, &c.fh,
						    a->where.name, target, &sa,
						    &m.fh, &m.attr,
						    &m.dir_wcc));
	}
	nfs3_made_res(&m, res.status, &res.SYMLINK3res_u.resok.obj,
		      &res.SYMLINK3res_u.resok.obj_attributes,
		      res.status == NFS3_OK
			      ? &res.SYMLINK3res_u.resok.dir_wcc
			      : &res.SYMLINK3res_u.resfail.dir_wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_SYMLINK3res, &res);
}

static int nfs3_mknod(struct nfs3_ctx *c, MKNOD3args *a, struct nfs3_made *m,
		      nfsstat3 *badtype)
{
	const mknoddata3 *w = &a->what;
	struct un_sattr sa;
	enum un_type type;
	uint32_t major = 0, minor = 0;

	switch (w->type) {
	case NF3CHR:
	case NF3BLK:
		type = w->type == NF3CHR ? UN_CHR : UN_BLK;
		nfs3_sattr(&sa, &w->mknoddata3_u.device.dev_attributes);
		major = w->mknoddata3_u.device.spec.specdata1;
		minor = w->mknoddata3_u.device.spec.specdata2;
		break;
	case NF3SOCK:
	case NF3FIFO:
		type = w->type == NF3SOCK ? UN_SOCK : UN_FIFO;
		nfs3_sattr(&sa, &w->mknoddata3_u.pipe_attributes);
		break;
	default:
		/* Regular files, directories and symlinks have their own
		 * procedures (RFC 1813 3.3.11). */
		*badtype = NFS3ERR_BADTYPE;
		return 0;
	}
	return un_mknod(c->ux, &c->cred, &c->fh, a->where.name, type, major,
			minor, &sa, &m->fh, &m->attr, &m->dir_wcc);
}

NFS3_PROC(mknod, MKNOD3args)
static enum rpc_status nfs3_do_mknod(struct rpc_req *req, MKNOD3args *a)
{
	MKNOD3res res;
	struct nfs3_ctx c;
	struct nfs3_made m;
	nfsstat3 badtype = NFS3_OK;

	memset(&res, 0, sizeof(res));
	memset(&m, 0, sizeof(m));
	res.status = nfs3_begin(req, &a->where.dir, true, &c);
	if (res.status == NFS3_OK) {
		res.status = nfs3_status(nfs3_mknod(&c, a, &m, &badtype));
		if (badtype != NFS3_OK)
			res.status = badtype;
	}
	nfs3_made_res(&m, res.status, &res.MKNOD3res_u.resok.obj,
		      &res.MKNOD3res_u.resok.obj_attributes,
		      res.status == NFS3_OK ? &res.MKNOD3res_u.resok.dir_wcc
					    : &res.MKNOD3res_u.resfail.dir_wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_MKNOD3res, &res);
}

/* ---- REMOVE, RMDIR ---------------------------------------------------- */

NFS3_PROC(remove, REMOVE3args)
static enum rpc_status nfs3_do_remove(struct rpc_req *req, REMOVE3args *a)
{
	REMOVE3res res;
	struct nfs3_ctx c;
	struct un_wcc wcc;

	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	res.status = nfs3_begin(req, &a->object.dir, true, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_remove(c.ux, &c.cred, &c.fh,
						   a->object.name, &wcc));
	nfs3_wcc(&res.REMOVE3res_u.resok.dir_wcc, &wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_REMOVE3res, &res);
}

NFS3_PROC(rmdir, RMDIR3args)
static enum rpc_status nfs3_do_rmdir(struct rpc_req *req, RMDIR3args *a)
{
	RMDIR3res res;
	struct nfs3_ctx c;
	struct un_wcc wcc;

	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	res.status = nfs3_begin(req, &a->object.dir, true, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_rmdir(c.ux, &c.cred, &c.fh,
						  a->object.name, &wcc));
	nfs3_wcc(&res.RMDIR3res_u.resok.dir_wcc, &wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_RMDIR3res, &res);
}

/* ---- RENAME, LINK ----------------------------------------------------- */

NFS3_PROC(rename, RENAME3args)
static enum rpc_status nfs3_do_rename(struct rpc_req *req, RENAME3args *a)
{
	RENAME3res res;
	struct nfs3_ctx c;
	struct un_handle todir;
	struct un_wcc from_wcc, to_wcc;

	memset(&res, 0, sizeof(res));
	memset(&from_wcc, 0, sizeof(from_wcc));
	memset(&to_wcc, 0, sizeof(to_wcc));
	res.status = nfs3_begin(req, &a->from.dir, true, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_second_fh(&c, &a->to.dir, &todir);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_rename(c.ux, &c.cred, &c.fh,
						   a->from.name, &todir,
						   a->to.name, &from_wcc,
						   &to_wcc));
	nfs3_wcc(&res.RENAME3res_u.resok.fromdir_wcc, &from_wcc);
	nfs3_wcc(&res.RENAME3res_u.resok.todir_wcc, &to_wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_RENAME3res, &res);
}

NFS3_PROC(link, LINK3args)
static enum rpc_status nfs3_do_link(struct rpc_req *req, LINK3args *a)
{
	LINK3res res;
	LINK3resok *ok = &res.LINK3res_u.resok;
	struct nfs3_ctx c;
	struct un_handle dir;
	struct un_attr attr;
	struct un_wcc wcc;

	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	res.status = nfs3_begin(req, &a->file, true, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_second_fh(&c, &a->link.dir, &dir);
	if (res.status == NFS3_OK) {
		res.status = nfs3_status(un_link(c.ux, &c.cred, &c.fh, &dir,
						 a->link.name, &attr, &wcc));
		if (res.status == NFS3_OK)
			nfs3_post_op_attr(&ok->file_attributes, &attr);
		else
			nfs3_attr_of(&c, &c.fh, &ok->file_attributes);
	}
	nfs3_wcc(&ok->linkdir_wcc, &wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_LINK3res, &res);
}

/* ---- READDIR, READDIRPLUS --------------------------------------------- */

/*
 * Entries are encoded straight into the reply as the engine produces
 * them, after room for the fixed part of the result (status, directory
 * attributes, cookie verifier), which is written last because it is
 * known only at the end.  An entry that would make the reply exceed the
 * client's count is not taken, and the engine does not consume it.
 */
#define NFS3_DIR_HDR (4 + NFS3_POST_OP_ATTR_SIZE + NFS3_COOKIEVERFSIZE)
#define NFS3_DIR_TAIL 8 /* no more entries, eof */

struct nfs3_dir {
	XDR *xdrs;
	bool plus;
	uint32_t maxcount; /* whole reply */
	uint32_t dircount; /* READDIRPLUS: names, fileids and cookies */
	uint32_t used, dirused;
	unsigned nentries;
	bool failed; /* the encoder ran out of room: a bug, not the client */
};

static bool nfs3_encode_entry(struct nfs3_dir *d, const struct un_dirent *de);

static uint32_t *put32(uint32_t *p, uint32_t v)
{
	*p++ = htonl(v);
	return p;
}

static uint32_t *put64(uint32_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

/* Variable-length opaque: length, bytes, zero padding to 4. */
static uint32_t *put_opaque(uint32_t *p, const void *data, uint32_t len)
{
	uint32_t padded = XDR_ROUNDUP(len);

	p = put32(p, len);
	if (padded)
		p[padded / 4 - 1] = 0;
	memcpy(p, data, len);
	return p + padded / 4;
}

static uint32_t *put_fattr3(uint32_t *p, const struct un_attr *a)
{
	fattr3 f;

	nfs3_fattr(&f, a);
	p = put32(p, f.type);
	p = put32(p, f.mode);
	p = put32(p, f.nlink);
	p = put32(p, f.uid);
	p = put32(p, f.gid);
	p = put64(p, f.size);
	p = put64(p, f.used);
	p = put32(p, f.rdev.specdata1);
	p = put32(p, f.rdev.specdata2);
	p = put64(p, f.fsid);
	p = put64(p, f.fileid);
	p = put32(p, f.atime.seconds);
	p = put32(p, f.atime.nseconds);
	p = put32(p, f.mtime.seconds);
	p = put32(p, f.mtime.nseconds);
	p = put32(p, f.ctime.seconds);
	return put32(p, f.ctime.nseconds);
}

/*
 * A listing is thousands of entries of a fixed shape: written straight
 * into the reply buffer (which has room: nfs3_dir_cb checked), instead of
 * one XDR call per field.  size is what nfs3_dir_cb counted.
 */
static bool nfs3_encode_inline(struct nfs3_dir *d, const struct un_dirent *de,
			       uint32_t name_len, uint32_t size)
{
	uint32_t *p = (uint32_t *)XDR_INLINE(d->xdrs, (int)size), *start = p;

	if (p == NULL) /* the XDR stream has no contiguous room */
		return nfs3_encode_entry(d, de);
	p = put32(p, TRUE); /* value_follows */
	p = put64(p, de->fileid);
	p = put_opaque(p, de->name, name_len);
	p = put64(p, de->cookie);
	if (d->plus) {
		p = put32(p, de->attr != NULL);
		if (de->attr != NULL)
			p = put_fattr3(p, de->attr);
		p = put32(p, de->fh != NULL);
		if (de->fh != NULL)
			p = put_opaque(p, de->fh->data, de->fh->len);
	}
	return (uint32_t)((char *)p - (char *)start) == size;
}

static bool nfs3_encode_entry(struct nfs3_dir *d, const struct un_dirent *de)
{
	bool_t follows = TRUE;
	uint64_t fileid = de->fileid, cookie = de->cookie;
	char *name = (char *)de->name;
	post_op_attr pa;
	post_op_fh3 pfh;

	if (!xdr_bool(d->xdrs, &follows) || !xdr_fileid3(d->xdrs, &fileid) ||
	    !xdr_filename3(d->xdrs, &name) || !xdr_cookie3(d->xdrs, &cookie))
		return false;
	if (!d->plus)
		return true;
	nfs3_post_op_attr(&pa, de->attr);
	nfs3_post_op_fh(&pfh, de->fh);
	return xdr_post_op_attr(d->xdrs, &pa) && xdr_post_op_fh3(d->xdrs, &pfh);
}

static int nfs3_dir_cb(void *arg, const struct un_dirent *de)
{
	struct nfs3_dir *d = arg;
	uint32_t len = (uint32_t)strlen(de->name);
	uint32_t namelen = XDR_ROUNDUP(len);
	uint32_t dirsize = 8 + 4 + namelen + 8;
	uint32_t size = 4 + dirsize;

	if (d->plus) {
		/* post_op_attr and post_op_fh3: a bool, then the value */
		size += 4 + (de->attr != NULL ? NFS3_FATTR3_SIZE : 0);
		size += 4 + (de->fh != NULL ? 4 + XDR_ROUNDUP(de->fh->len) : 0);
		/* dircount 0: the client sets no separate limit. */
		if (d->dircount != 0 && d->dirused + dirsize > d->dircount)
			return 1;
	}
	if (d->used + size + NFS3_DIR_TAIL > d->maxcount)
		return 1;
	if (!nfs3_encode_inline(d, de, len, size)) {
		d->failed = true;
		return 1;
	}
	d->used += size;
	d->dirused += dirsize;
	d->nentries++;
	return 0;
}

static enum rpc_status nfs3_dir_fail(struct rpc_req *req,
				     const struct nfs3_ctx *c, nfsstat3 st)
{
	READDIR3res res; /* its error arm is READDIRPLUS3res's too */

	memset(&res, 0, sizeof(res));
	res.status = st;
	if (c->ux != NULL)
		nfs3_attr_of(c, &c->fh, &res.READDIR3res_u.resfail.dir_attributes);
	return nfs3_reply(req, (xdrproc_t)xdr_READDIR3res, &res);
}

/* Write the fixed part in front of the entries and close the list. */
static enum rpc_status nfs3_dir_finish(struct nfs3_dir *d, u_int start,
				       const struct un_attr *dir_attr,
				       uint64_t verf, bool eof)
{
	XDR *x = d->xdrs;
	bool_t no_more = FALSE, eof_b = eof;
	nfsstat3 status = NFS3_OK;
	post_op_attr pa;
	cookieverf3 cv;
	u_int end;

	if (!xdr_bool(x, &no_more) || !xdr_bool(x, &eof_b))
		return RPC_SYSTEM_ERR;
	end = xdr_getpos(x);
	nfs3_post_op_attr(&pa, dir_attr);
	nfs3_cookieverf_put(cv, verf);
	if (!xdr_setpos(x, start) || !xdr_nfsstat3(x, &status) ||
	    !xdr_post_op_attr(x, &pa) || !xdr_opaque(x, cv, sizeof(cv)) ||
	    xdr_getpos(x) != start + NFS3_DIR_HDR || !xdr_setpos(x, end))
		return RPC_SYSTEM_ERR;
	return RPC_DONE;
}

static enum rpc_status nfs3_readdir_common(struct rpc_req *req,
					   const nfs_fh3 *wfh, uint64_t cookie,
					   const cookieverf3 cookieverf,
					   struct nfs3_dir *d)
{
	struct nfs3_ctx c;
	struct un_attr dir_attr;
	uint64_t verf = 0;
	u_int start = xdr_getpos(&req->res);
	bool eof = false;
	nfsstat3 st;
	int err;

	st = nfs3_begin(req, wfh, false, &c);
	if (st != NFS3_OK)
		return nfs3_dir_fail(req, &c, st);
	d->xdrs = &req->res;
	d->used = NFS3_DIR_HDR;
	if (d->maxcount > NFS3_DIRMAX)
		d->maxcount = NFS3_DIRMAX;
	if (d->used + NFS3_DIR_TAIL > d->maxcount)
		return nfs3_dir_fail(req, &c, NFS3ERR_TOOSMALL);
	if (rpc_res_inline(req, NFS3_DIR_HDR) == NULL)
		return RPC_SYSTEM_ERR;
	/* RFC 1813: the verifier of a listing's first call means nothing;
	 * clients may send an old one there after a server restart. */
	if (cookie != 0)
		verf = nfs3_cookieverf_get(cookieverf);
	err = un_readdir(c.ux, &c.cred, &c.fh, cookie, verf, d->plus,
			 nfs3_dir_cb, d, &verf, &eof, &dir_attr);
	if (err == 0 && d->failed)
		return RPC_SYSTEM_ERR;
	st = nfs3_status(err);
	if (st == NFS3_OK && d->nentries == 0 && !eof)
		st = NFS3ERR_TOOSMALL; /* not even one entry fits */
	if (st == NFS3_OK)
		return nfs3_dir_finish(d, start, &dir_attr, verf, eof);
	if (!xdr_setpos(&req->res, start))
		return RPC_SYSTEM_ERR;
	return nfs3_dir_fail(req, &c, st);
}

NFS3_PROC(readdir, READDIR3args)
static enum rpc_status nfs3_do_readdir(struct rpc_req *req, READDIR3args *a)
{
	struct nfs3_dir d;

	memset(&d, 0, sizeof(d));
	d.maxcount = a->count;
	return nfs3_readdir_common(req, &a->dir, a->cookie, a->cookieverf, &d);
}

NFS3_PROC(readdirplus, READDIRPLUS3args)
static enum rpc_status nfs3_do_readdirplus(struct rpc_req *req,
					   READDIRPLUS3args *a)
{
	struct nfs3_dir d;

	memset(&d, 0, sizeof(d));
	d.plus = true;
	d.maxcount = a->maxcount;
	d.dircount = a->dircount;
	return nfs3_readdir_common(req, &a->dir, a->cookie, a->cookieverf, &d);
}

/* ---- FSSTAT, FSINFO, PATHCONF ----------------------------------------- */

NFS3_PROC(fsstat, FSSTAT3args)
static enum rpc_status nfs3_do_fsstat(struct rpc_req *req, FSSTAT3args *a)
{
	FSSTAT3res res;
	FSSTAT3resok *ok = &res.FSSTAT3res_u.resok;
	struct nfs3_ctx c;
	struct un_statfs st;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->fsroot, false, &c);
	if (res.status != NFS3_OK)
		return nfs3_reply(req, (xdrproc_t)xdr_FSSTAT3res, &res);
	res.status = nfs3_status(un_statfs(c.ux, &c.fh, &st));
	/* resok and resfail both begin with the attributes. */
	nfs3_attr_of(&c, &c.fh, &ok->obj_attributes);
	if (res.status == NFS3_OK) {
		ok->tbytes = st.tbytes;
		ok->fbytes = st.fbytes;
		ok->abytes = st.abytes;
		ok->tfiles = st.tfiles;
		ok->ffiles = st.ffiles;
		ok->afiles = st.afiles;
		ok->invarsec = 0; /* the upper layer changes at any time */
	}
	return nfs3_reply(req, (xdrproc_t)xdr_FSSTAT3res, &res);
}

NFS3_PROC(fsinfo, FSINFO3args)
static enum rpc_status nfs3_do_fsinfo(struct rpc_req *req, FSINFO3args *a)
{
	FSINFO3res res;
	FSINFO3resok *ok = &res.FSINFO3res_u.resok;
	struct nfs3_ctx c;
	struct un_attr attr;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->fsroot, false, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_getattr(c.ux, &c.fh, &attr));
	if (res.status != NFS3_OK)
		return nfs3_reply(req, (xdrproc_t)xdr_FSINFO3res, &res);
	nfs3_post_op_attr(&ok->obj_attributes, &attr);
	ok->rtmax = ok->rtpref = NFS3_RTMAX;
	ok->wtmax = ok->wtpref = NFS3_WTMAX;
	ok->rtmult = ok->wtmult = NFS3_MULT;
	ok->dtpref = NFS3_DTPREF;
	ok->maxfilesize = INT64_MAX;
	ok->time_delta.seconds = 0;
	ok->time_delta.nseconds = 1;
	ok->properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS |
			 FSF3_CANSETTIME;
	return nfs3_reply(req, (xdrproc_t)xdr_FSINFO3res, &res);
}

NFS3_PROC(pathconf, PATHCONF3args)
static enum rpc_status nfs3_do_pathconf(struct rpc_req *req,
					PATHCONF3args *a)
{
	PATHCONF3res res;
	PATHCONF3resok *ok = &res.PATHCONF3res_u.resok;
	struct nfs3_ctx c;
	struct un_attr attr;

	memset(&res, 0, sizeof(res));
	res.status = nfs3_begin(req, &a->object, false, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_getattr(c.ux, &c.fh, &attr));
	if (res.status != NFS3_OK)
		return nfs3_reply(req, (xdrproc_t)xdr_PATHCONF3res, &res);
	nfs3_post_op_attr(&ok->obj_attributes, &attr);
	ok->linkmax = NFS3_LINKMAX;
	ok->name_max = UN_NAME_MAX;
	ok->no_trunc = TRUE;
	ok->chown_restricted = TRUE;
	ok->case_insensitive = FALSE;
	ok->case_preserving = TRUE;
	return nfs3_reply(req, (xdrproc_t)xdr_PATHCONF3res, &res);
}

/* ---- COMMIT ----------------------------------------------------------- */

NFS3_PROC(commit, COMMIT3args)
static enum rpc_status nfs3_do_commit(struct rpc_req *req, COMMIT3args *a)
{
	COMMIT3res res;
	struct nfs3_ctx c;
	struct un_wcc wcc;

	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	/* COMMIT changes nothing a client can see, so a read-only rule
	 * allows it; nothing can be uncommitted there anyway. */
	res.status = nfs3_begin(req, &a->file, false, &c);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(un_commit(c.ux, &c.cred, &c.fh, &wcc));
	if (res.status == NFS3_OK)
		memcpy(res.COMMIT3res_u.resok.verf, req->srv->write_verf,
		       NFS3_WRITEVERFSIZE);
	nfs3_wcc(&res.COMMIT3res_u.resok.file_wcc, &wcc);
	return nfs3_reply(req, (xdrproc_t)xdr_COMMIT3res, &res);
}

/* ---- reply sizes ------------------------------------------------------ */

/*
 * Peek at a 32-bit argument that follows the file handle and skip bytes
 * of fixed-size fields, on a copy of the argument stream so the procedure
 * decodes from the start.  Returns false if the call is too short; the
 * procedure then answers GARBAGE_ARGS.
 */
static bool nfs3_peek_u32(const struct rpc_req *req, u_int skip, u_int *val)
{
	XDR x = req->args;
	u_int fhlen;

	if (!xdr_u_int(&x, &fhlen) || fhlen > NFS3_FHSIZE)
		return false;
	if (XDR_INLINE(&x, (int)(XDR_ROUNDUP(fhlen) + skip)) == NULL &&
	    XDR_ROUNDUP(fhlen) + skip > 0)
		return false;
	return xdr_u_int(&x, val);
}

static size_t nfs3_capped(u_int count, u_int cap)
{
	return (size_t)(count < cap ? count : cap) + NFS3_REPLY_SLACK;
}

static size_t nfs3_read_max(const struct rpc_req *req)
{
	u_int count;

	if (!nfs3_peek_u32(req, 8, &count)) /* offset */
		return RPC_DEFAULT_REPLY;
	return nfs3_capped(count, NFS3_RTMAX);
}

static size_t nfs3_readdir_max(const struct rpc_req *req)
{
	u_int count;

	if (!nfs3_peek_u32(req, 8 + NFS3_COOKIEVERFSIZE, &count))
		return RPC_DEFAULT_REPLY;
	return nfs3_capped(count, NFS3_DIRMAX);
}

static size_t nfs3_readdirplus_max(const struct rpc_req *req)
{
	u_int maxcount;

	/* cookie, verifier, dircount */
	if (!nfs3_peek_u32(req, 8 + NFS3_COOKIEVERFSIZE + 4, &maxcount))
		return RPC_DEFAULT_REPLY;
	return nfs3_capped(maxcount, NFS3_DIRMAX);
}

/* The longest symlink target, plus its attributes. */
static size_t nfs3_readlink_max(const struct rpc_req *req)
{
	return UN_PATH_MAX + NFS3_REPLY_SLACK;
}

#define P(name, fn, max, idem) { name, fn, max, idem }

static const struct rpc_proc nfs3_procs[] = {
	P("NULL", nfs3proc_null, NULL, true),
	P("GETATTR", nfs3proc_getattr, NULL, true),
	P("SETATTR", nfs3proc_setattr, NULL, false),
	P("LOOKUP", nfs3proc_lookup, NULL, true),
	P("ACCESS", nfs3proc_access, NULL, true),
	P("READLINK", nfs3proc_readlink, nfs3_readlink_max, true),
	P("READ", nfs3proc_read, nfs3_read_max, true),
	P("WRITE", nfs3proc_write, NULL, false),
	P("CREATE", nfs3proc_create, NULL, false),
	P("MKDIR", nfs3proc_mkdir, NULL, false),
	P("SYMLINK", nfs3proc_symlink, NULL, false),
	P("MKNOD", nfs3proc_mknod, NULL, false),
	P("REMOVE", nfs3proc_remove, NULL, false),
	P("RMDIR", nfs3proc_rmdir, NULL, false),
	P("RENAME", nfs3proc_rename, NULL, false),
	P("LINK", nfs3proc_link, NULL, false),
	P("READDIR", nfs3proc_readdir, nfs3_readdir_max, true),
	P("READDIRPLUS", nfs3proc_readdirplus, nfs3_readdirplus_max, true),
	P("FSSTAT", nfs3proc_fsstat, NULL, true),
	P("FSINFO", nfs3proc_fsinfo, NULL, true),
	P("PATHCONF", nfs3proc_pathconf, NULL, true),
	P("COMMIT", nfs3proc_commit, NULL, true),
};

static const struct rpc_version nfs3_versions[] = {
	{ NFS_V3, nfs3_procs, sizeof(nfs3_procs) / sizeof(nfs3_procs[0]) },
};

const struct rpc_program nfs3_program = {
	.name = "nfs",
	.prog = NFS_PROGRAM,
	.versions = nfs3_versions,
	.nversions = 1,
};
