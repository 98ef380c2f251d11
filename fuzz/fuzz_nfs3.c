/*
 * fuzz_nfs3 - NFSv3 arguments: the first byte picks the procedure (of
 * 22), the rest are its arguments, decoded by nfs3proc.c against the
 * fixture's union.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_call(FUZZ_PROG_NFS, 3, data[0] % 22, data + 1, size - 1);
	return 0;
}
