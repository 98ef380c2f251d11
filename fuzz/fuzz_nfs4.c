/*
 * fuzz_nfs4 - NFSv4 COMPOUND arguments (tag, minor version, operations),
 * decoded and run by the v4 server against the fixture's union.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_call(FUZZ_PROG_NFS, 4, 1, data, size);
	return 0;
}
