/*
 * mountproc.c - the MOUNT protocol (RFC 1813 appendix I), program 100005,
 * versions 3 and 1.
 *
 * MNT hands out the root handle of an export to the clients its rules
 * admit, or the handle of a directory inside it ("/export/sub"), looked
 * up with the client's credentials.  The list of mounts that DUMP
 * reports is informational only, as in every implementation: it lives in
 * memory, is bounded, and is lost on restart.  Version 1 is answered because showmount(8) asks with it;
 * its DUMP, UMNT, UMNTALL and EXPORT are version 3's, and its MNT cannot
 * carry our handles (32 bytes fixed), so it is refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mount3_prot.h"
#include "rpc.h"
#include "server.h"

#define MOUNT_LIST_MAX 1024
#define MOUNT_HOST_MAX 64 /* a numeric IPv6 address fits */
#define XDR_ROUNDUP(n) (((n) + 3u) & ~3u)

struct mount_entry {
	char host[MOUNT_HOST_MAX];
	char *dir;
};

static struct {
	pthread_mutex_t lock;
	struct mount_entry e[MOUNT_LIST_MAX];
	unsigned n;
} mounts = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void mount_peer_host(const struct rpc_req *req, char *host,
			    size_t len)
{
	if (getnameinfo((const struct sockaddr *)&req->peer, req->peer_len,
			host, len, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(host, len, "unknown");
}

static void mount_list_add(const char *host, const char *dir)
{
	struct mount_entry *e;

	pthread_mutex_lock(&mounts.lock);
	for (unsigned i = 0; i < mounts.n; i++)
		if (strcmp(mounts.e[i].host, host) == 0 &&
		    strcmp(mounts.e[i].dir, dir) == 0)
			goto out;
	/* Full: the list is advisory, so forgetting a mount is harmless. */
	if (mounts.n == MOUNT_LIST_MAX)
		goto out;
	e = &mounts.e[mounts.n];
	e->dir = strdup(dir);
	if (e->dir == NULL)
		goto out;
	snprintf(e->host, sizeof(e->host), "%s", host);
	mounts.n++;
out:
	pthread_mutex_unlock(&mounts.lock);
}

/* Forget host's mounts of dir, or all of host's when dir is NULL. */
static void mount_list_remove(const char *host, const char *dir)
{
	unsigned i = 0;

	pthread_mutex_lock(&mounts.lock);
	while (i < mounts.n) {
		struct mount_entry *e = &mounts.e[i];

		if (strcmp(e->host, host) != 0 ||
		    (dir != NULL && strcmp(e->dir, dir) != 0)) {
			i++;
			continue;
		}
		free(e->dir);
		*e = mounts.e[--mounts.n];
	}
	pthread_mutex_unlock(&mounts.lock);
}

/* "/export/" and "/export" name the same export. */
static void mount_trim_path(char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
}

static bool mount_export_allows_v3(const struct srv_export *ex)
{
	unsigned v = ex->conf ? ex->conf->versions : 0;

	return v == 0 || (v & VERS_NFS3);
}

/* ---- procedures ------------------------------------------------------- */

static enum rpc_status mountproc_null(struct rpc_req *req)
{
	return RPC_DONE;
}

/*
 * The export named path, or else the one whose name is the longest
 * parent of path (a mount of a directory inside it, as knfsd allows);
 * *rest receives what is below the export's name.
 */
static struct srv_export *mount_find_export(struct server *srv,
					    const char *path, const char **rest)
{
	struct srv_export *best = server_export_by_name(srv, path);
	size_t bestlen = 0;

	*rest = "";
	if (best != NULL)
		return best;
	for (unsigned i = 0; i < srv->nexports; i++) {
		const char *n = srv->exports[i].conf->u.name;
		size_t len = strcmp(n, "/") == 0 ? 0 : strlen(n);

		if (strncmp(path, n, len) != 0 ||
		    (path[len] != '/' && path[len] != '\0'))
			continue;
		if (best == NULL || len > bestlen) {
			best = &srv->exports[i];
			bestlen = len;
		}
	}
	*rest = path + bestlen;
	return best;
}

static mountstat3 mount_status(int err)
{
	switch (-err) {
	case ENOENT:
		return MNT3ERR_NOENT;
	case ENOTDIR:
		return MNT3ERR_NOTDIR;
	case EACCES:
		return MNT3ERR_ACCES;
	case EPERM:
		return MNT3ERR_PERM;
	case ENAMETOOLONG:
		return MNT3ERR_NAMETOOLONG;
	case EINVAL:
		return MNT3ERR_INVAL;
	default:
		return MNT3ERR_IO;
	}
}

/*
 * Walk from the export root down rest, as the client's (squashed)
 * credentials allow.  ".." is refused: a mount must stay inside the
 * export, whatever the path says.
 */
static mountstat3 mount_walk(struct un_export *ux, const struct un_cred *cr,
			     const char *rest, struct un_handle *fh)
{
	char comp[UN_NAME_MAX + 1];
	struct un_handle next;
	struct un_attr attr;
	int err = un_root(ux, fh);

	while (err == 0 && *rest != '\0') {
		size_t len = strcspn(rest, "/");

		if (len > UN_NAME_MAX)
			return MNT3ERR_NAMETOOLONG;
		memcpy(comp, rest, len);
		comp[len] = '\0';
		rest += len + (rest[len] == '/');
		if (len == 0 || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0)
			return MNT3ERR_ACCES;
		err = un_lookup(ux, cr, fh, comp, &next, &attr, NULL);
		if (err == 0 && attr.type != UN_DIR)
			return MNT3ERR_NOTDIR;
		*fh = next;
	}
	return err < 0 ? mount_status(err) : MNT3_OK;
}

/*
 * The flavors the client is to use on the export: its rule's sec=, in
 * order, with AUTH_NONE after AUTH_SYS (sys admits it, as anonymous).
 */
static unsigned mount_flavors(const struct srv_export *ex,
			      const struct rpc_req *req, int *out)
{
	uint32_t sec[SEC_MAX];
	unsigned n = server_sec_flavors(ex, req, sec), k = 0;

	for (unsigned i = 0; i < n; i++) {
		out[k++] = (int)sec[i];
		if (sec[i] == AUTH_SYS)
			out[k++] = AUTH_NONE;
	}
	return k;
}

static mountstat3 mount_mnt(struct rpc_req *req, char *path,
			    struct un_handle *fh, int *flavors,
			    unsigned *nflavors)
{
	struct srv_export *ex;
	struct un_cred cred;
	char host[MOUNT_HOST_MAX];
	const char *rest;
	mountstat3 st;

	mount_trim_path(path);
	mount_peer_host(req, host, sizeof(host));
	ex = mount_find_export(req->srv, path, &rest);
	if (ex == NULL) {
		log_ratelimited(LOG_NOTICE, "mount %s from %s: no such export",
				path, host);
		return MNT3ERR_NOENT;
	}
	if (!mount_export_allows_v3(ex) ||
	    server_access(ex, req, false, &cred) != ACCESS_OK) {
		log_ratelimited(LOG_NOTICE, "mount %s from %s: access denied",
				path, host);
		return MNT3ERR_ACCES;
	}
	/* private_upper=: the client's own view (server/view.c), made
	 * only for a client the rules admit */
	ex = server_view(req, ex);
	if (ex == NULL)
		return MNT3ERR_SERVERFAULT;
	st = mount_walk(ex->ux, &cred, rest, fh);
	if (st != MNT3_OK) {
		log_ratelimited(LOG_NOTICE, "mount %s from %s: status %d",
				path, host, (int)st);
		return st;
	}
	mount_list_add(host, path);
	log_info("mount %s from %s", path, host);
	*nflavors = mount_flavors(ex, req, flavors);
	return MNT3_OK;
}

static enum rpc_status mountproc3_mnt(struct rpc_req *req)
{
	dirpath path = NULL;
	mountres3 res;
	struct un_handle fh;
	int flavors[SEC_MAX + 1];
	unsigned nflavors = 0;
	enum rpc_status st = RPC_GARBAGE;

	if (!xdr_dirpath(&req->args, &path))
		goto out;
	memset(&res, 0, sizeof(res));
	res.fhs_status = mount_mnt(req, path, &fh, flavors, &nflavors);
	if (res.fhs_status == MNT3_OK) {
		mountres3_ok *ok = &res.mountres3_u.mountinfo;

		ok->fhandle.fhandle3_len = fh.len;
		ok->fhandle.fhandle3_val = (char *)fh.data;
		ok->auth_flavors.auth_flavors_len = nflavors;
		ok->auth_flavors.auth_flavors_val = flavors;
	}
	st = xdr_mountres3(&req->res, &res) ? RPC_DONE : RPC_SYSTEM_ERR;
out:
	xdr_free((xdrproc_t)xdr_dirpath, (char *)&path);
	return st;
}

/* Version 1's MNT cannot carry handles longer than 32 bytes. */
static enum rpc_status mountproc1_mnt(struct rpc_req *req)
{
	dirpath path = NULL;
	fhstatus res;
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_dirpath(&req->args, &path)) {
		memset(&res, 0, sizeof(res));
		res.fhs_status = MNT3ERR_NOTSUPP;
		st = xdr_fhstatus(&req->res, &res) ? RPC_DONE : RPC_SYSTEM_ERR;
	}
	xdr_free((xdrproc_t)xdr_dirpath, (char *)&path);
	return st;
}

static size_t mountproc_dump_max(const struct rpc_req *req)
{
	size_t size = 4;

	pthread_mutex_lock(&mounts.lock);
	for (unsigned i = 0; i < mounts.n; i++)
		size += 4 + 4 + MOUNT_HOST_MAX + 4 +
			XDR_ROUNDUP(strlen(mounts.e[i].dir));
	pthread_mutex_unlock(&mounts.lock);
	/* Mounts that arrive before DUMP runs are left out of it. */
	return size;
}

static enum rpc_status mountproc_dump(struct rpc_req *req)
{
	struct mountbody *nodes;
	mountlist list = NULL;
	size_t budget = mountproc_dump_max(req);
	size_t size = 4;
	bool ok;

	pthread_mutex_lock(&mounts.lock);
	nodes = calloc(mounts.n ? mounts.n : 1, sizeof(*nodes));
	if (nodes == NULL) {
		pthread_mutex_unlock(&mounts.lock);
		return RPC_SYSTEM_ERR;
	}
	for (unsigned i = mounts.n; i-- > 0;) {
		size_t need = 4 + 4 + MOUNT_HOST_MAX + 4 +
			      XDR_ROUNDUP(strlen(mounts.e[i].dir));

		if (size + need > budget)
			continue;
		size += need;
		nodes[i].ml_hostname = mounts.e[i].host;
		nodes[i].ml_directory = mounts.e[i].dir;
		nodes[i].ml_next = list;
		list = &nodes[i];
	}
	/* Encode under the lock: the nodes point at the entries. */
	ok = xdr_mountlist(&req->res, &list);
	pthread_mutex_unlock(&mounts.lock);
	free(nodes);
	return ok ? RPC_DONE : RPC_SYSTEM_ERR;
}

static enum rpc_status mountproc_umnt(struct rpc_req *req)
{
	dirpath path = NULL;
	char host[MOUNT_HOST_MAX];
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_dirpath(&req->args, &path)) {
		mount_trim_path(path);
		mount_peer_host(req, host, sizeof(host));
		mount_list_remove(host, path);
		st = RPC_DONE;
	}
	xdr_free((xdrproc_t)xdr_dirpath, (char *)&path);
	return st;
}

static enum rpc_status mountproc_umntall(struct rpc_req *req)
{
	char host[MOUNT_HOST_MAX];

	mount_peer_host(req, host, sizeof(host));
	mount_list_remove(host, NULL);
	return RPC_DONE;
}

/* ---- EXPORT ----------------------------------------------------------- */

#define MOUNT_RULE_MAX (INET6_ADDRSTRLEN + 8) /* "addr/prefix" */

/* A client rule as exports(5) would write it. */
static void mount_rule_string(const struct client_rule *r, char *buf,
			      size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned full = r->family == AF_INET ? 32 : 128;

	switch (r->match) {
	case MATCH_HOST:
		snprintf(buf, len, "%s", r->host ? r->host : "?");
		return;
	case MATCH_CIDR:
		if (inet_ntop(r->family, r->addr, addr, sizeof(addr)) == NULL)
			snprintf(addr, sizeof(addr), "?");
		if (r->prefix == full)
			snprintf(buf, len, "%s", addr);
		else
			snprintf(buf, len, "%s/%u", addr, r->prefix);
		return;
	case MATCH_ANY:
	default:
		snprintf(buf, len, "*");
		return;
	}
}

static size_t mount_rule_size(const struct client_rule *r)
{
	size_t n = MOUNT_RULE_MAX;

	if (r->match == MATCH_HOST && r->host != NULL && strlen(r->host) > n)
		n = strlen(r->host);
	return 4 + 4 + XDR_ROUNDUP(n + 1);
}

static size_t mountproc_export_max(const struct rpc_req *req)
{
	const struct server *srv = req->srv;
	size_t size = 4 + RPC_DEFAULT_REPLY / 8;

	for (unsigned i = 0; i < srv->nexports; i++) {
		const struct export_conf *ec = srv->exports[i].conf;

		size += 4 + 4 + XDR_ROUNDUP(strlen(ec->u.name)) + 4;
		for (unsigned j = 0; j < ec->nrules; j++)
			size += mount_rule_size(&ec->rules[j]);
	}
	return size;
}

/* Encode one export at a time so that nothing big is allocated. */
static bool mount_encode_export(XDR *x, const struct export_conf *ec)
{
	char spec[MOUNT_RULE_MAX];
	char *dir = (char *)ec->u.name, *name;
	bool_t more = TRUE;

	if (!xdr_bool(x, &more) || !xdr_dirpath(x, &dir))
		return false;
	for (unsigned j = 0; j < ec->nrules; j++) {
		const struct client_rule *r = &ec->rules[j];

		if (r->match == MATCH_HOST && r->host != NULL) {
			name = r->host;
		} else {
			mount_rule_string(r, spec, sizeof(spec));
			name = spec;
		}
		if (!xdr_bool(x, &more) || !xdr_mntname(x, &name))
			return false;
	}
	more = FALSE;
	return xdr_bool(x, &more);
}

static enum rpc_status mountproc_export(struct rpc_req *req)
{
	const struct server *srv = req->srv;
	bool_t more = FALSE;

	for (unsigned i = 0; i < srv->nexports; i++)
		if (!mount_encode_export(&req->res, srv->exports[i].conf))
			return RPC_SYSTEM_ERR;
	return xdr_bool(&req->res, &more) ? RPC_DONE : RPC_SYSTEM_ERR;
}

/* ---- tables ----------------------------------------------------------- */

static const struct rpc_proc mount1_procs[] = {
	{ "NULL", mountproc_null, NULL, true },
	{ "MNT", mountproc1_mnt, NULL, true },
	{ "DUMP", mountproc_dump, mountproc_dump_max, true },
	{ "UMNT", mountproc_umnt, NULL, true },
	{ "UMNTALL", mountproc_umntall, NULL, true },
	{ "EXPORT", mountproc_export, mountproc_export_max, true },
};

static const struct rpc_proc mount3_procs[] = {
	{ "NULL", mountproc_null, NULL, true },
	{ "MNT", mountproc3_mnt, NULL, true },
	{ "DUMP", mountproc_dump, mountproc_dump_max, true },
	{ "UMNT", mountproc_umnt, NULL, true },
	{ "UMNTALL", mountproc_umntall, NULL, true },
	{ "EXPORT", mountproc_export, mountproc_export_max, true },
};

static const struct rpc_version mount_versions[] = {
	{ MOUNT_V1, mount1_procs, sizeof(mount1_procs) / sizeof(mount1_procs[0]) },
	{ MOUNT_V3, mount3_procs, sizeof(mount3_procs) / sizeof(mount3_procs[0]) },
};

const struct rpc_program mount3_program = {
	.name = "mount",
	.prog = MOUNT_PROGRAM,
	.versions = mount_versions,
	.nversions = 2,
};
