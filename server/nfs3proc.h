/*
 * nfs3proc.h - what the NFSv3 side programs (NFSACL) share with the NFSv3
 * procedures: a call's handle resolved to its export and checked against
 * the client rules, exactly as an NFSv3 call's is.
 */
#ifndef UNIONNFSD_NFS3PROC_H
#define UNIONNFSD_NFS3PROC_H

#include <stdbool.h>

#include "nfs3xdr.h"
#include "rpc.h"
#include "server.h"
#include "union.h"

struct nfs3_ctx {
	struct srv_export *ex;
	struct un_export *ux; /* NULL unless the client may use the export */
	struct un_handle fh;
	struct un_cred cred;
};

nfsstat3 nfs3_begin(struct rpc_req *req, const nfs_fh3 *wfh, bool modifying,
		    struct nfs3_ctx *c);

#endif
