/*
 * nfs3_rw.h - hand-written XDR for the two messages that carry file data,
 * so that the data is never copied between the socket buffer and the file:
 *
 *  - WRITE3args is decoded with the data left where it lies in the call
 *    record; the server writes it to the file from there.
 *  - READ3resok is encoded around data that the server has already read
 *    from the file into its final place in the reply buffer.
 */
#ifndef UNIONNFSD_NFS3_RW_H
#define UNIONNFSD_NFS3_RW_H

#include <stdbool.h>
#include <stdint.h>
#include <rpc/rpc.h>

#include "nfs3_prot.h"

/* Encoded sizes (RFC 1813 types). */
#define NFS3_FATTR3_SIZE 84
#define NFS3_POST_OP_ATTR_SIZE (4 + NFS3_FATTR3_SIZE)
/* status, post_op_attr (present), count, eof, data length */
#define NFS3_READ_RESOK_HDR (4 + NFS3_POST_OP_ATTR_SIZE + 4 + 4 + 4)

struct nfs3_write_args {
	nfs_fh3 file;
	offset3 offset;
	count3 count;
	stable_how stable;
	uint32_t len;	    /* length of data on the wire */
	const uint8_t *data; /* inside the call record; not owned */
};

/*
 * Decode WRITE3args from a memory stream.  data points into the stream's
 * buffer, which must outlive the use of the arguments.  Release with
 * nfs3_write_args_free() whether or not decoding succeeded.
 */
bool_t nfs3_decode_write_args(XDR *xdrs, struct nfs3_write_args *args);
void nfs3_write_args_free(struct nfs3_write_args *args);

/*
 * Encode a successful READ3res: status NFS3_OK, the file's attributes,
 * count, eof and the data.  The caller reads the data to the position
 * that follows an NFS3_READ_RESOK_HDR header at the stream's current
 * position; it is then not copied.  If it lies elsewhere it is moved.
 */
bool_t nfs3_encode_read_resok(XDR *xdrs, const fattr3 *attr, uint32_t count,
			      bool eof, const void *data);

#endif
