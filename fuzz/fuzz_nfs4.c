/*
 * fuzz_nfs4 - NFSv4 COMPOUND arguments (tag, minor version, operations),
 * decoded and run by the v4 server against the fixture's union: each
 * operation's arguments go through the decoder rpcgen generated from
 * xdr/nfs4_prot.x (nfs_argop4), WRITE's through its hand-written one, and
 * attribute values through nfs4xdr.c.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_call(FUZZ_PROG_NFS, 4, 1, data, size);
	return 0;
}
