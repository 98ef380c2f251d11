/*
 * nfs3_rw.c - zero-copy XDR for WRITE arguments and READ results.
 * See nfs3_rw.h.
 */
#include <limits.h>
#include <string.h>

#include "nfs3_rw.h"

#define XDR_ROUNDUP(n) (((n) + 3u) & ~3u)

bool_t nfs3_decode_write_args(XDR *xdrs, struct nfs3_write_args *args)
{
	uint32_t padded;

	args->data = NULL;
	args->len = 0;
	if (!xdr_nfs_fh3(xdrs, &args->file) ||
	    !xdr_offset3(xdrs, &args->offset) ||
	    !xdr_count3(xdrs, &args->count) ||
	    !xdr_stable_how(xdrs, &args->stable) ||
	    !xdr_u_int(xdrs, &args->len))
		return FALSE;
	/* Refuse lengths whose padding would wrap or not fit XDR_INLINE. */
	if (args->len > INT_MAX - 3)
		return FALSE;
	padded = XDR_ROUNDUP(args->len);
	if (padded == 0) {
		args->data = (const uint8_t *)"";
		return TRUE;
	}
	/* On a memory stream this is a pointer into the record, or NULL
	 * when the record is shorter than it claims. */
	args->data = (const uint8_t *)XDR_INLINE(xdrs, (int)padded);
	return args->data != NULL;
}

void nfs3_write_args_free(struct nfs3_write_args *args)
{
	xdr_free((xdrproc_t)xdr_nfs_fh3, (char *)&args->file);
	args->data = NULL;
}

bool_t nfs3_encode_read_resok(XDR *xdrs, const fattr3 *attr, uint32_t count,
			      bool eof, const void *data)
{
	nfsstat3 status = NFS3_OK;
	post_op_attr pa;
	bool_t eof_b = eof;
	uint32_t len = count, padded = XDR_ROUNDUP(count);
	uint8_t *p;

	memset(&pa, 0, sizeof(pa));
	pa.attributes_follow = TRUE;
	pa.post_op_attr_u.attributes = *attr;
	if (!xdr_nfsstat3(xdrs, &status) || !xdr_post_op_attr(xdrs, &pa) ||
	    !xdr_count3(xdrs, &count) || !xdr_bool(xdrs, &eof_b) ||
	    !xdr_u_int(xdrs, &len))
		return FALSE;
	if (padded == 0)
		return TRUE;
	if (padded > INT_MAX)
		return FALSE;
	p = (uint8_t *)XDR_INLINE(xdrs, (int)padded);
	if (p == NULL)
		return FALSE;
	if (p != data)
		memmove(p, data, count);
	memset(p + count, 0, padded - count);
	return TRUE;
}
