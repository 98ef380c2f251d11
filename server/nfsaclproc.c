/*
 * nfsaclproc.c - the NFSACL side protocol (program 100227 version 3):
 * NULL, GETACL and SETACL, with which Linux NFSv3 clients read and set
 * POSIX ACLs (getfacl/setfacl).  As in knfsd (fs/nfsd/nfs3acl.c and
 * fs/nfs_common/nfsacl.c); the ACLs themselves are the union's
 * (union/acl.c).
 *
 * A call's handle is checked as NFSv3 checks it (the export, its client
 * rules and squashing); SETACL is a modifying call, refused on a
 * read-only rule or export like SETATTR.
 *
 * Solaris's wire form differs from POSIX ACLs in two ways that are
 * translated here: a minimal ACL always has a MASK entry equal to
 * GROUP_OBJ (four entries; one received is dropped again), and the
 * USER_OBJ and GROUP_OBJ entries carry the owner's ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nfs3proc.h"
#include "nfs3xdr.h"
#include "nfsacl.h"
#include "rpc.h"
#include "server.h"

/* Status, attributes, mask, two counts and two full arrays. */
#define NFSACL_REPLY_MAX                                                       \
	(512 + 2 * (8 + NFSACL_MAX_ENTRIES * 12))

static void nfsacl_attr_of(const struct nfs3_ctx *c, post_op_attr *p)
{
	struct un_attr attr;

	if (c->ux != NULL && un_getattr(c->ux, &c->fh, &attr) == 0)
		nfs3_post_op_attr(p, &attr);
	else
		nfs3_post_op_attr(p, NULL);
}

static enum rpc_status nfsacl_reply(struct rpc_req *req, xdrproc_t fn,
				    void *res)
{
	if (*(const nfsstat3 *)res == NFS3ERR_BADHANDLE)
		log_bad_handle((const struct sockaddr *)&req->peer, "NFSACL");
	return fn(&req->res, res) ? RPC_DONE : RPC_SYSTEM_ERR;
}

static enum rpc_status nfsaclproc_null(struct rpc_req *req)
{
	return RPC_DONE;
}

/* ---- GETACL ----------------------------------------------------------- */

/* The wire count of an ACL: a minimal one gains its MASK entry. */
static u_int wire_count(const struct un_acl *acl)
{
	return acl->count == 0 ? 0 : acl->count < 4 ? 4 : acl->count;
}

static void put_ace(nfsacl_ace *w, const struct un_acl_entry *e,
		    u_int typeflag, const struct un_attr *attr)
{
	w->type = e->tag | typeflag;
	w->perm = e->perm & 7;
	switch (e->tag) {
	case UN_ACL_USER_OBJ:
		w->id = attr->uid;
		break;
	case UN_ACL_GROUP_OBJ:
		w->id = attr->gid;
		break;
	case UN_ACL_USER:
	case UN_ACL_GROUP:
		w->id = e->id;
		break;
	default: /* Solaris depends on that, says knfsd */
		w->id = 0;
		break;
	}
}

/*
 * Fill the wire array (room for wire_count entries) from a canonical
 * ACL.  A minimal ACL is sent as USER_OBJ, GROUP_OBJ, MASK, OTHER.
 */
static void put_acl(nfsacl_ace *w, const struct un_acl *acl, u_int typeflag,
		    const struct un_attr *attr)
{
	struct un_acl_entry mask;
	uint32_t i;

	if (acl->count == 3) {
		mask = acl->e[1];
		mask.tag = UN_ACL_MASK;
		put_ace(&w[0], &acl->e[0], typeflag, attr);
		put_ace(&w[1], &acl->e[1], typeflag, attr);
		put_ace(&w[2], &mask, typeflag, attr);
		put_ace(&w[3], &acl->e[2], typeflag, attr);
		return;
	}
	for (i = 0; i < acl->count; i++)
		put_ace(&w[i], &acl->e[i], typeflag, attr);
}

/* One ACL of the reply: its count always, its entries when asked. */
static int put_wire_acl(u_int *count, u_int *len, nfsacl_ace **val,
			const struct un_acl *acl, bool entries,
			u_int typeflag, const struct un_attr *attr)
{
	*count = wire_count(acl);
	*len = 0;
	*val = NULL;
	if (!entries || *count == 0)
		return 0;
	*val = calloc(*count, sizeof(**val));
	if (*val == NULL)
		return -ENOMEM;
	put_acl(*val, acl, typeflag, attr);
	*len = *count;
	return 0;
}

static nfsstat3 nfsacl_getacl(struct nfs3_ctx *c, u_int mask,
			      GETACL3resok *ok)
{
	struct un_acl *acc = NULL, *def = NULL;
	struct un_attr attr;
	int err = 0;

	if (mask & ~(u_int)NFSACL_MASK_ALL)
		return NFS3ERR_INVAL;
	if ((mask & (NFSACL_ACL | NFSACL_ACLCNT)) &&
	    !(acc = calloc(1, sizeof(*acc))))
		err = -ENOMEM;
	if (err == 0 && (mask & (NFSACL_DFACL | NFSACL_DFACLCNT)) &&
	    !(def = calloc(1, sizeof(*def))))
		err = -ENOMEM;
	if (err == 0)
		err = un_getacl(c->ux, &c->fh, acc, def, &attr);
	if (err == 0 && acc)
		err = put_wire_acl(&ok->ace_count, &ok->ace.ace_len,
				   &ok->ace.ace_val, acc, mask & NFSACL_ACL,
				   0, &attr);
	if (err == 0 && def)
		err = put_wire_acl(&ok->default_ace_count,
				   &ok->default_ace.default_ace_len,
				   &ok->default_ace.default_ace_val, def,
				   mask & NFSACL_DFACL, NFSACL_DEFAULT, &attr);
	if (err == 0) {
		nfs3_post_op_attr(&ok->attr, &attr);
		ok->mask = mask;
	}
	free(acc);
	free(def);
	return nfs3_status(err);
}

static enum rpc_status nfsaclproc_getacl(struct rpc_req *req)
{
	GETACL3args args;
	GETACL3res res;
	struct nfs3_ctx c;
	enum rpc_status rst;

	memset(&args, 0, sizeof(args));
	memset(&res, 0, sizeof(res));
	if (!xdr_GETACL3args(&req->args, &args)) {
		xdr_free((xdrproc_t)xdr_GETACL3args, (char *)&args);
		return RPC_GARBAGE;
	}
	res.status = nfs3_begin(req, &args.fh, false, &c);
	if (res.status == NFS3_OK)
		res.status = nfsacl_getacl(&c, args.mask,
					   &res.GETACL3res_u.resok);
	if (res.status != NFS3_OK)
		nfsacl_attr_of(&c, &res.GETACL3res_u.resfail.attr);
	rst = nfsacl_reply(req, (xdrproc_t)xdr_GETACL3res, &res);
	if (res.status == NFS3_OK) {
		free(res.GETACL3res_u.resok.ace.ace_val);
		free(res.GETACL3res_u.resok.default_ace.default_ace_val);
	}
	xdr_free((xdrproc_t)xdr_GETACL3args, (char *)&args);
	return rst;
}

/* ---- SETACL ----------------------------------------------------------- */

/*
 * A wire ACL as the union's, checked as knfsd's decoder checks each
 * entry: false (GARBAGE_ARGS) for an unknown tag or stray permission
 * bits; Solaris may set extra bits in the MASK, which are dropped.
 */
static bool get_acl(struct un_acl *acl, const nfsacl_ace *w, u_int n)
{
	int group_obj = -1, mask = -1;
	u_int i;

	for (i = 0; i < n; i++) {
		struct un_acl_entry *e = &acl->e[i];

		e->tag = w[i].type & ~(u_int)NFSACL_DEFAULT;
		e->id = w[i].id;
		e->perm = w[i].perm;
		switch (e->tag) {
		case UN_ACL_MASK:
			e->perm &= 7;
			mask = (int)i;
			break;
		case UN_ACL_GROUP_OBJ:
			group_obj = (int)i;
			/* fall through */
		case UN_ACL_USER_OBJ:
		case UN_ACL_USER:
		case UN_ACL_GROUP:
		case UN_ACL_OTHER:
			if (e->perm & ~7u)
				return false;
			break;
		default:
			return false;
		}
	}
	acl->count = n;
	/* the MASK a minimal ACL travels with is not part of it */
	if (n == 4 && group_obj >= 0 && mask >= 0 &&
	    acl->e[mask].perm == acl->e[group_obj].perm) {
		memmove(&acl->e[mask], &acl->e[mask + 1],
			(3 - (size_t)mask) * sizeof(acl->e[0]));
		acl->count = 3;
	}
	return true;
}

/* The ACLs the mask names, or GARBAGE_ARGS (*bad) as knfsd decodes. */
static int setacl_args(const SETACL3args *a, struct un_acl **acc,
		       struct un_acl **def, bool *bad)
{
	*acc = *def = NULL;
	*bad = (a->mask & ~(u_int)NFSACL_MASK_ALL) != 0;
	if ((a->mask & NFSACL_ACL) && a->ace_count != a->ace.ace_len)
		*bad = true;
	if ((a->mask & NFSACL_DFACL) &&
	    a->default_ace_count != a->default_ace.default_ace_len)
		*bad = true;
	if (*bad)
		return 0;
	if ((a->mask & NFSACL_ACL) && !(*acc = calloc(1, sizeof(**acc))))
		return -ENOMEM;
	if ((a->mask & NFSACL_DFACL) && !(*def = calloc(1, sizeof(**def))))
		return -ENOMEM;
	if (*acc && !get_acl(*acc, a->ace.ace_val, a->ace.ace_len))
		*bad = true;
	if (*def && !get_acl(*def, a->default_ace.default_ace_val,
			     a->default_ace.default_ace_len))
		*bad = true;
	return 0;
}

static enum rpc_status nfsacl_setacl(struct rpc_req *req, SETACL3args *a)
{
	struct un_acl *acc, *def;
	struct nfs3_ctx c;
	struct un_wcc wcc;
	SETACL3res res;
	bool bad;
	int err;

	memset(&res, 0, sizeof(res));
	memset(&wcc, 0, sizeof(wcc));
	memset(&c, 0, sizeof(c));
	err = setacl_args(a, &acc, &def, &bad);
	if (err == 0 && bad) {
		free(acc);
		free(def);
		return RPC_GARBAGE;
	}
	res.status = nfs3_begin(req, &a->fh, true, &c);
	if (res.status == NFS3_OK && err == 0)
		err = un_setacl(c.ux, &c.cred, &c.fh, acc, def, &wcc);
	if (res.status == NFS3_OK)
		res.status = nfs3_status(err);
	/* resok and resfail are the same post_op_attr */
	if (wcc.post_valid)
		nfs3_post_op_attr(&res.SETACL3res_u.resok.attr, &wcc.post);
	else
		nfsacl_attr_of(&c, &res.SETACL3res_u.resok.attr);
	free(acc);
	free(def);
	return nfsacl_reply(req, (xdrproc_t)xdr_SETACL3res, &res);
}

static enum rpc_status nfsaclproc_setacl(struct rpc_req *req)
{
	SETACL3args args;
	enum rpc_status st = RPC_GARBAGE;

	memset(&args, 0, sizeof(args));
	if (xdr_SETACL3args(&req->args, &args))
		st = nfsacl_setacl(req, &args);
	xdr_free((xdrproc_t)xdr_SETACL3args, (char *)&args);
	return st;
}

static size_t nfsacl_getacl_max(const struct rpc_req *req)
{
	return NFSACL_REPLY_MAX;
}

static const struct rpc_proc nfsacl_procs[] = {
	{ "NULL", nfsaclproc_null, NULL, true },
	{ "GETACL", nfsaclproc_getacl, nfsacl_getacl_max, true },
	{ "SETACL", nfsaclproc_setacl, NULL, false },
};

static const struct rpc_version nfsacl_versions[] = {
	{ NFSACL_V3, nfsacl_procs,
	  sizeof(nfsacl_procs) / sizeof(nfsacl_procs[0]) },
};

const struct rpc_program nfsacl_program = {
	.name = "nfsacl",
	.prog = NFSACL_PROGRAM,
	.versions = nfsacl_versions,
	.nversions = 1,
};
