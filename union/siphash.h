/*
 * siphash.h - SipHash-2-4 (Aumasson and Bernstein, 2012), 64- and 128-bit
 * output, written from the paper's reference algorithm.
 */
#ifndef UNIONNFSD_SIPHASH_H
#define UNIONNFSD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* outlen is 8 or 16; the output bytes are little-endian words, as in the
 * reference implementation and its test vectors. */
void siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *in,
	       size_t inlen, uint8_t *out, size_t outlen);

/* The 64-bit tag as a number. */
uint64_t siphash24_u64(const uint8_t key[SIPHASH_KEY_LEN], const void *in,
		       size_t inlen);

#endif
