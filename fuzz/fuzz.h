/*
 * fuzz.h - the fixture the libFuzzer harnesses share: a real server (one
 * union export over temporary directories, a real catalog) driven through
 * rpc_execute(), with no socket in between.
 *
 * Handles are not reproducible across runs (the catalog's key and the
 * generations are random), so inputs name them symbolically: wherever an
 * input holds the 12 bytes  00 00 00 08 'U' 'N' 'F' 'H' i0 i1 i2 i3  (an
 * XDR opaque of length 8 saying "UNFH" and an index), the fixture puts
 * the real handle of fixture object (index % FUZZ_NFH) as an opaque in
 * its place.  Seeds use this; mutations of it give forged handles.
 */
#ifndef UNIONNFSD_FUZZ_H
#define UNIONNFSD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

enum {
	FUZZ_FH_ROOT,	 /* the export root */
	FUZZ_FH_FILE,	 /* "file": a regular file in the lower layer */
	FUZZ_FH_DIR,	 /* "dir": a lower directory with "dir/sub" */
	FUZZ_FH_LINK,	 /* "link": a symlink in the lower layer */
	FUZZ_FH_UPPER,	 /* "new": a regular file in the upper layer */
	FUZZ_NFH,
};

#define FUZZ_PROG_NFS 100003
#define FUZZ_PROG_MOUNT 100005
#define FUZZ_PROG_NLM 100021

/* libFuzzer's entry points.  fixture.c defines the first for every
 * harness that links it: it builds the fixture once. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Build the fixture once; exits on failure. */
void fuzz_setup(void);

/* Execute one record as it would arrive from 127.0.0.1:700 (after
 * handle substitution) and throw the reply away. */
void fuzz_record(const uint8_t *data, size_t size);

/* Execute a call with a valid header and AUTH_SYS root credentials. */
void fuzz_call(uint32_t prog, uint32_t vers, uint32_t proc,
	       const uint8_t *args, size_t size);

#endif
