/*
 * fuzz_mount - MOUNT arguments: the first byte picks the procedure (of 6)
 * and, with its top bit, version 1 instead of 3.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_call(FUZZ_PROG_MOUNT, data[0] & 0x80 ? 1 : 3, (data[0] & 0x7f) % 6,
		  data + 1, size - 1);
	return 0;
}
