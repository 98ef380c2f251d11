/*
 * fuzz_rpc - a whole RPC call record: header, credentials, verifier,
 * program/version/procedure lookup and whatever procedure that reaches.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_record(data, size);
	return 0;
}
