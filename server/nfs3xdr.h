/*
 * nfs3xdr.h - conversions between the union engine's types (union.h) and
 * the NFSv3 wire types that rpcgen generates from xdr/nfs3_prot.x.
 */
#ifndef UNIONNFSD_NFS3XDR_H
#define UNIONNFSD_NFS3XDR_H

#include <stdint.h>

#include "nfs3_prot.h"
#include "union.h"

/* A negative errno (or -UN_E*) from the engine as an NFSv3 status. */
nfsstat3 nfs3_status(int err);

/*
 * A wire handle as the engine's.  Returns NFS3_OK, or NFS3ERR_BADHANDLE
 * when the length cannot be one of ours.
 */
nfsstat3 nfs3_fh_from_wire(struct un_handle *fh, const nfs_fh3 *w);
/* The wire form of fh; it points into fh, which must outlive it. */
void nfs3_fh_to_wire(nfs_fh3 *w, const struct un_handle *fh);
void nfs3_post_op_fh(post_op_fh3 *p, const struct un_handle *fh);

void nfs3_time(nfstime3 *t, const struct timespec *ts);
void nfs3_fattr(fattr3 *f, const struct un_attr *a);
/* a == NULL: no attributes follow. */
void nfs3_post_op_attr(post_op_attr *p, const struct un_attr *a);
void nfs3_wcc(wcc_data *w, const struct un_wcc *wcc);

void nfs3_sattr(struct un_sattr *sa, const sattr3 *s);

/* The cookie verifier as the engine's integer and back. */
uint64_t nfs3_cookieverf_get(const cookieverf3 v);
void nfs3_cookieverf_put(cookieverf3 v, uint64_t verf);

#endif
