/*
 * nfsraw.c - raw NFSv3 and MOUNTv3 calls over libnfs for the C tests
 * (see nfsraw.h).
 */
#include <poll.h>
#include <stdio.h>

#include "nfsraw.h"

struct raw_result R;
struct raw_policy raw_policy = { .timeout_ms = 10000, .hangup_fails = false };
struct rpc_context *rnfs, *rmnt;
struct fh root;

/*
 * The state of the call in flight lives as long as the program: a call
 * cut off (by a timeout, or a killed daemon) is completed as cancelled
 * later, when its context is destroyed, and must not write into a stack
 * frame that is gone by then.
 */
static struct pending inflight;

/* ---- plumbing --------------------------------------------------------- */

void rpc_done(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct pending *p = priv;

	(void)rpc;
	p->status = status;
	if (status == RPC_STATUS_SUCCESS && p->take != NULL && data != NULL)
		p->take(data);
	p->done = 1;
}

/* Forget the last result and start a call whose reply take will read. */
struct pending *raw_begin(take_fn take)
{
	memset(&R, 0, sizeof(R));
	R.status = -1;
	inflight = (struct pending){ take, 0, 0 };
	return &inflight;
}

int raw_wait(struct rpc_context *rpc, struct pending *p)
{
	while (!p->done) {
		struct pollfd pfd = { rpc_get_fd(rpc), rpc_which_events(rpc),
				      0 };

		if (poll(&pfd, 1, raw_policy.timeout_ms) <= 0)
			return -1;
		if (rpc_service(rpc, pfd.revents) < 0)
			return -1;
		if (raw_policy.hangup_fails &&
		    (pfd.revents & (POLLHUP | POLLERR)))
			return -1;
	}
	return p->status == RPC_STATUS_SUCCESS ? 0 : -1;
}

struct rpc_context *raw_connect(int port, int prog, int vers)
{
	struct rpc_context *rpc = rpc_init_context();

	if (rpc == NULL)
		return NULL;
	if (rpc_connect_port_async(rpc, "127.0.0.1", port, prog, vers,
				   rpc_done, raw_begin(NULL)) != 0 ||
	    raw_wait(rpc, &inflight) != 0) {
		rpc_destroy_context(rpc);
		return NULL;
	}
	return rpc;
}

nfs_fh3 wire(const struct fh *fh)
{
	nfs_fh3 w;

	w.data.data_len = fh->len;
	w.data.data_val = (char *)fh->data;
	return w;
}

LIBNFS_LISTS
void keep_fh(struct fh *fh, const nfs_fh3 *w)
{
	fh->len = w->data.data_len <= NFS3_FHSIZE ? w->data.data_len : 0;
	memcpy(fh->data, w->data.data_val, fh->len);
}

bool fh_eq(const struct fh *a, const struct fh *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

LIBNFS_LISTS
static void keep_post(const post_op_attr *p, fattr3 *a, bool *have)
{
	*have = p->attributes_follow;
	if (*have)
		*a = p->post_op_attr_u.attributes;
}

LIBNFS_LISTS
static void keep_wcc(const wcc_data *w)
{
	R.have_pre = w->before.attributes_follow;
	keep_post(&w->after, &R.attr, &R.have_attr);
}

/* ---- result takers, one per result type ---------------------------- */

void take_mnt(mountres3 *r)
{
	R.status = r->fhs_status;
	if (r->fhs_status != MNT3_OK)
		return;
	R.fh.len = r->mountres3_u.mountinfo.fhandle.fhandle3_len;
	if (R.fh.len > NFS3_FHSIZE)
		R.fh.len = 0;
	memcpy(R.fh.data, r->mountres3_u.mountinfo.fhandle.fhandle3_val,
	       R.fh.len);
	R.have_fh = true;
	R.nflavors = r->mountres3_u.mountinfo.auth_flavors.auth_flavors_len;
	for (int i = 0; i < R.nflavors && i < 8; i++)
		R.flavors[i] =
			r->mountres3_u.mountinfo.auth_flavors.auth_flavors_val[i];
}

void take_mnt1(mountres1 *r)
{
	R.status = r->fhs_status;
}

/* DUMP: "host dir" pairs in ent[] */
LIBNFS_LISTS
void take_dump(mountlist *l)
{
	R.status = 0;
	for (struct mountbody *m = *l; m != NULL && R.nent < MAXENT;
	     m = m->ml_next)
		snprintf(R.ent[R.nent++], sizeof(R.ent[0]), "%s %s",
			 m->ml_hostname, m->ml_directory);
}

/* EXPORT: "dir group group..." in ent[] */
LIBNFS_LISTS
void take_export(exports *e)
{
	R.status = 0;
	for (struct exportnode *x = *e; x != NULL && R.nent < MAXENT;
	     x = x->ex_next) {
		char *s = R.ent[R.nent++];

		snprintf(s, sizeof(R.ent[0]), "%s", x->ex_dir);
		for (struct groupnode *g = x->ex_groups; g; g = g->gr_next)
			snprintf(s + strlen(s), sizeof(R.ent[0]) - strlen(s),
				 " %s", g->gr_name);
	}
}

void take_getattr(GETATTR3res *r)
{
	R.status = r->status;
	if (r->status == NFS3_OK) {
		R.attr = r->GETATTR3res_u.resok.obj_attributes;
		R.have_attr = true;
	}
}

void take_setattr(SETATTR3res *r)
{
	R.status = r->status;
	keep_wcc(&r->SETATTR3res_u.resok.obj_wcc);
}

void take_lookup(LOOKUP3res *r)
{
	R.status = r->status;
	if (r->status != NFS3_OK) {
		keep_post(&r->LOOKUP3res_u.resfail.dir_attributes, &R.dattr,
			  &R.have_dattr);
		return;
	}
	keep_fh(&R.fh, &r->LOOKUP3res_u.resok.object);
	R.have_fh = true;
	keep_post(&r->LOOKUP3res_u.resok.obj_attributes, &R.attr,
		  &R.have_attr);
	keep_post(&r->LOOKUP3res_u.resok.dir_attributes, &R.dattr,
		  &R.have_dattr);
}

void take_access(ACCESS3res *r)
{
	R.status = r->status;
	if (r->status == NFS3_OK) {
		R.access = r->ACCESS3res_u.resok.access;
		keep_post(&r->ACCESS3res_u.resok.obj_attributes, &R.attr,
			  &R.have_attr);
	}
}

void take_readlink(READLINK3res *r)
{
	R.status = r->status;
	if (r->status == NFS3_OK)
		snprintf(R.data, sizeof(R.data), "%s",
			 r->READLINK3res_u.resok.data);
}

void take_read(READ3res *r)
{
	R.status = r->status;
	if (r->status != NFS3_OK) {
		keep_post(&r->READ3res_u.resfail.file_attributes, &R.attr,
			  &R.have_attr);
		return;
	}
	R.count = r->READ3res_u.resok.count;
	R.eof = r->READ3res_u.resok.eof;
	R.datalen = r->READ3res_u.resok.data.data_len;
	for (u_int i = 0; i < R.datalen; i++)
		R.sum = R.sum * 31 + (uint8_t)r->READ3res_u.resok.data.data_val[i];
	if (r->READ3res_u.resok.data.data_len < sizeof(R.data)) {
		memcpy(R.data, r->READ3res_u.resok.data.data_val,
		       r->READ3res_u.resok.data.data_len);
		R.data[r->READ3res_u.resok.data.data_len] = '\0';
	}
	keep_post(&r->READ3res_u.resok.file_attributes, &R.attr,
		  &R.have_attr);
}

void take_write(WRITE3res *r)
{
	R.status = r->status;
	keep_wcc(&r->WRITE3res_u.resok.file_wcc);
	if (r->status == NFS3_OK) {
		R.count = r->WRITE3res_u.resok.count;
		R.committed = r->WRITE3res_u.resok.committed;
		memcpy(R.verf, r->WRITE3res_u.resok.verf, 8);
	}
}

void take_commit(COMMIT3res *r)
{
	R.status = r->status;
	keep_wcc(&r->COMMIT3res_u.resok.file_wcc);
	if (r->status == NFS3_OK)
		memcpy(R.verf, r->COMMIT3res_u.resok.verf, 8);
}

/* CREATE, MKDIR, SYMLINK and MKNOD results have the same layout. */
static void take_made(nfsstat3 st, const post_op_fh3 *obj,
		      const post_op_attr *attr, const wcc_data *okwcc,
		      const wcc_data *failwcc)
{
	const wcc_data *w = st == NFS3_OK ? okwcc : failwcc;

	R.status = st;
	R.have_pre = w->before.attributes_follow;
	keep_post(&w->after, &R.dattr, &R.have_dattr);
	if (st != NFS3_OK)
		return;
	R.have_fh = obj->handle_follows;
	if (R.have_fh)
		keep_fh(&R.fh, &obj->post_op_fh3_u.handle);
	keep_post(attr, &R.attr, &R.have_attr);
}

void take_create(CREATE3res *r)
{
	take_made(r->status, &r->CREATE3res_u.resok.obj,
		  &r->CREATE3res_u.resok.obj_attributes,
		  &r->CREATE3res_u.resok.dir_wcc,
		  &r->CREATE3res_u.resfail.dir_wcc);
}

void take_mkdir(MKDIR3res *r)
{
	take_made(r->status, &r->MKDIR3res_u.resok.obj,
		  &r->MKDIR3res_u.resok.obj_attributes,
		  &r->MKDIR3res_u.resok.dir_wcc,
		  &r->MKDIR3res_u.resfail.dir_wcc);
}

void take_symlink(SYMLINK3res *r)
{
	take_made(r->status, &r->SYMLINK3res_u.resok.obj,
		  &r->SYMLINK3res_u.resok.obj_attributes,
		  &r->SYMLINK3res_u.resok.dir_wcc,
		  &r->SYMLINK3res_u.resfail.dir_wcc);
}

void take_mknod(MKNOD3res *r)
{
	take_made(r->status, &r->MKNOD3res_u.resok.obj,
		  &r->MKNOD3res_u.resok.obj_attributes,
		  &r->MKNOD3res_u.resok.dir_wcc,
		  &r->MKNOD3res_u.resfail.dir_wcc);
}

void take_remove(REMOVE3res *r)
{
	R.status = r->status;
	keep_wcc(&r->REMOVE3res_u.resok.dir_wcc);
}

void take_rmdir(RMDIR3res *r)
{
	R.status = r->status;
	keep_wcc(&r->RMDIR3res_u.resok.dir_wcc);
}

void take_rename(RENAME3res *r)
{
	R.status = r->status;
	keep_wcc(&r->RENAME3res_u.resok.todir_wcc);
	keep_post(&r->RENAME3res_u.resok.fromdir_wcc.after, &R.dattr,
		  &R.have_dattr);
}

void take_link(LINK3res *r)
{
	R.status = r->status;
	keep_post(&r->LINK3res_u.resok.file_attributes, &R.attr,
		  &R.have_attr);
	keep_post(&r->LINK3res_u.resok.linkdir_wcc.after, &R.dattr,
		  &R.have_dattr);
}

LIBNFS_LISTS
void take_readdir(READDIR3res *r)
{
	R.status = r->status;
	if (r->status != NFS3_OK)
		return;
	keep_post(&r->READDIR3res_u.resok.dir_attributes, &R.dattr,
		  &R.have_dattr);
	memcpy(R.cookieverf, r->READDIR3res_u.resok.cookieverf, 8);
	R.eof = r->READDIR3res_u.resok.reply.eof;
	for (entry3 *e = r->READDIR3res_u.resok.reply.entries;
	     e != NULL && R.nent < MAXENT; e = e->nextentry) {
		snprintf(R.ent[R.nent], sizeof(R.ent[0]), "%s", e->name);
		R.cookie[R.nent] = e->cookie;
		R.fileid[R.nent] = e->fileid;
		R.nent++;
	}
}

LIBNFS_LISTS
void take_readdirplus(READDIRPLUS3res *r)
{
	R.status = r->status;
	if (r->status != NFS3_OK)
		return;
	keep_post(&r->READDIRPLUS3res_u.resok.dir_attributes, &R.dattr,
		  &R.have_dattr);
	memcpy(R.cookieverf, r->READDIRPLUS3res_u.resok.cookieverf, 8);
	R.eof = r->READDIRPLUS3res_u.resok.reply.eof;
	for (entryplus3 *e = r->READDIRPLUS3res_u.resok.reply.entries;
	     e != NULL && R.nent < MAXENT; e = e->nextentry) {
		int i = R.nent++;

		snprintf(R.ent[i], sizeof(R.ent[0]), "%s", e->name);
		R.cookie[i] = e->cookie;
		R.fileid[i] = e->fileid;
		R.entfh_ok[i] = e->name_handle.handle_follows;
		if (R.entfh_ok[i])
			keep_fh(&R.entfh[i], &e->name_handle.post_op_fh3_u.handle);
		R.enttype[i] = e->name_attributes.attributes_follow
				       ? (int)e->name_attributes.post_op_attr_u
						 .attributes.type
				       : 0;
	}
}

void take_fsstat(FSSTAT3res *r)
{
	R.status = r->status;
	if (r->status == NFS3_OK) {
		R.fsstat = r->FSSTAT3res_u.resok;
		keep_post(&r->FSSTAT3res_u.resok.obj_attributes, &R.attr,
			  &R.have_attr);
	}
}

void take_fsinfo(FSINFO3res *r)
{
	R.status = r->status;
	if (r->status == NFS3_OK) {
		R.fsinfo = r->FSINFO3res_u.resok;
		keep_post(&r->FSINFO3res_u.resok.obj_attributes, &R.attr,
			  &R.have_attr);
	}
}

void take_pathconf(PATHCONF3res *r)
{
	R.status = r->status;
	if (r->status == NFS3_OK) {
		R.pathconf = r->PATHCONF3res_u.resok;
		keep_post(&r->PATHCONF3res_u.resok.obj_attributes, &R.attr,
			  &R.have_attr);
	}
}

/* ---- NFSv3 calls on rnfs ---------------------------------------------- */

int r_getattr(const struct fh *fh)
{
	GETATTR3args a = { wire(fh) };

	return RAW(rnfs, rpc_nfs3_getattr_async, &a, take_getattr);
}

int r_lookup(const struct fh *dir, const char *n)
{
	LOOKUP3args a;

	a.what.dir = wire(dir);
	a.what.name = (char *)n;
	return RAW(rnfs, rpc_nfs3_lookup_async, &a, take_lookup);
}

/*
 * Look a path up component by component from the root into out (may be
 * NULL; R.fh holds it too): -1 when a LOOKUP got no answer or failed,
 * R.status then says how.
 */
int r_walk(const char *path, struct fh *out)
{
	char buf[1024], *save = NULL;
	struct fh cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *c = strtok_r(buf, "/", &save); c != NULL;
	     c = strtok_r(NULL, "/", &save)) {
		if (r_lookup(&cur, c) != 0 || R.status != NFS3_OK)
			return -1;
		cur = R.fh;
	}
	if (out != NULL)
		*out = cur;
	return 0;
}

int r_read(const struct fh *fh, uint64_t off, uint32_t count)
{
	READ3args a;

	a.file = wire(fh);
	a.offset = off;
	a.count = count;
	return RAW(rnfs, rpc_nfs3_read_async, &a, take_read);
}

int r_write(const struct fh *fh, uint64_t off, const char *data,
		   uint32_t count, uint32_t len, stable_how how)
{
	WRITE3args a;

	a.file = wire(fh);
	a.offset = off;
	a.count = count;
	a.stable = how;
	a.data.data_len = len;
	a.data.data_val = (char *)data;
	return RAW(rnfs, rpc_nfs3_write_async, &a, take_write);
}

int r_commit(const struct fh *fh)
{
	COMMIT3args a;

	a.file = wire(fh);
	a.offset = 0;
	a.count = 0;
	return RAW(rnfs, rpc_nfs3_commit_async, &a, take_commit);
}

int r_create(const struct fh *dir, const char *n, createmode3 how,
		    const char *verf)
{
	CREATE3args a;

	memset(&a, 0, sizeof(a));
	a.where.dir = wire(dir);
	a.where.name = (char *)n;
	a.how.mode = how;
	if (how == EXCLUSIVE) {
		memcpy(a.how.createhow3_u.verf, verf, 8);
	} else {
		a.how.createhow3_u.obj_attributes.mode.set_it = 1;
		a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
	}
	return RAW(rnfs, rpc_nfs3_create_async, &a, take_create);
}

int r_remove(const struct fh *dir, const char *n)
{
	REMOVE3args a;

	a.object.dir = wire(dir);
	a.object.name = (char *)n;
	return RAW(rnfs, rpc_nfs3_remove_async, &a, take_remove);
}

int r_rename(const struct fh *fd, const char *fn,
		    const struct fh *td, const char *tn)
{
	RENAME3args a;

	a.from.dir = wire(fd);
	a.from.name = (char *)fn;
	a.to.dir = wire(td);
	a.to.name = (char *)tn;
	return RAW(rnfs, rpc_nfs3_rename_async, &a, take_rename);
}

int r_mkdir(const struct fh *dir, const char *n)
{
	MKDIR3args a;

	memset(&a, 0, sizeof(a));
	a.where.dir = wire(dir);
	a.where.name = (char *)n;
	a.attributes.mode.set_it = 1;
	a.attributes.mode.set_mode3_u.mode = 0755;
	return RAW(rnfs, rpc_nfs3_mkdir_async, &a, take_mkdir);
}

int r_readdir(const struct fh *dir, uint64_t cookie,
		     const char *verf, uint32_t count)
{
	READDIR3args a;

	memset(&a, 0, sizeof(a));
	a.dir = wire(dir);
	a.cookie = cookie;
	if (verf != NULL)
		memcpy(a.cookieverf, verf, 8);
	a.count = count;
	return RAW(rnfs, rpc_nfs3_readdir_async, &a, take_readdir);
}

int r_readdirplus(const struct fh *dir, uint64_t cookie,
			 const char *verf, uint32_t dircount,
			 uint32_t maxcount)
{
	READDIRPLUS3args a;

	memset(&a, 0, sizeof(a));
	a.dir = wire(dir);
	a.cookie = cookie;
	if (verf != NULL)
		memcpy(a.cookieverf, verf, 8);
	a.dircount = dircount;
	a.maxcount = maxcount;
	return RAW(rnfs, rpc_nfs3_readdirplus_async, &a, take_readdirplus);
}

/* ---- connecting ------------------------------------------------------- */

void raw_close(void)
{
	inflight.take = NULL; /* a call cancelled now must not touch R */
	if (rnfs != NULL)
		rpc_destroy_context(rnfs);
	if (rmnt != NULL)
		rpc_destroy_context(rmnt);
	rnfs = rmnt = NULL;
}

/* Connect MOUNT and NFS to the daemon on port and mount /export. */
int raw_open(int port)
{
	char path[] = "/export";

	raw_close();
	rmnt = raw_connect(port, MOUNT_PROGRAM, MOUNT_V3);
	rnfs = raw_connect(port, NFS_PROGRAM, NFS_V3);
	if (rmnt == NULL || rnfs == NULL)
		return -1;
	if (RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt) != 0 ||
	    R.status != MNT3_OK)
		return -1;
	root = R.fh;
	return 0;
}
