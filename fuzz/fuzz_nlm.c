/*
 * fuzz_nlm - NLM v4 arguments: the first byte picks the procedure (of
 * 24).  The asynchronous _MSG forms (6..10) decode exactly what their
 * synchronous twins (1..5) decode but then call the client back over the
 * network, one thread per call: they are folded onto the twins so that
 * the fuzzer exercises decoding, not the loopback.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t proc;

	if (size < 1)
		return 0;
	proc = data[0] % 24;
	if (proc >= 6 && proc <= 10)
		proc -= 5;
	fuzz_call(FUZZ_PROG_NLM, 4, proc, data + 1, size - 1);
	return 0;
}
