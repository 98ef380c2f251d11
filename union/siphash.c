/*
 * siphash.c - SipHash-2-4: 2 compression rounds per 8-byte word, 4
 * finalization rounds.  The 128-bit variant differs only in the 0xee
 * marker in v1 and a second finalization (0xdd) for the high word.
 */
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void store64_le(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

struct sipstate {
	uint64_t v0, v1, v2, v3;
};

static void sipround(struct sipstate *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static void sip_compress(struct sipstate *s, uint64_t m)
{
	s->v3 ^= m;
	sipround(s);
	sipround(s);
	s->v0 ^= m;
}

static uint64_t sip_finalize(struct sipstate *s, uint8_t marker)
{
	int i;

	s->v2 ^= marker;
	for (i = 0; i < 4; i++)
		sipround(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

void siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *in,
	       size_t inlen, uint8_t *out, size_t outlen)
{
	const uint8_t *p = in, *end = p + (inlen - inlen % 8);
	uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
	struct sipstate s = {
		.v0 = 0x736f6d6570736575ULL ^ k0,
		.v1 = 0x646f72616e646f6dULL ^ k1,
		.v2 = 0x6c7967656e657261ULL ^ k0,
		.v3 = 0x7465646279746573ULL ^ k1,
	};
	uint64_t last = (uint64_t)inlen << 56;
	size_t left = inlen % 8;

	if (outlen == 16)
		s.v1 ^= 0xee;
	for (; p != end; p += 8)
		sip_compress(&s, load64_le(p));
	while (left-- > 0)
		last |= (uint64_t)p[left] << (8 * left);
	sip_compress(&s, last);

	store64_le(out, sip_finalize(&s, outlen == 16 ? 0xee : 0xff));
	if (outlen == 16) {
		s.v1 ^= 0xdd;
		for (int i = 0; i < 4; i++)
			sipround(&s);
		store64_le(out + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
	}
}

uint64_t siphash24_u64(const uint8_t key[SIPHASH_KEY_LEN], const void *in,
		       size_t inlen)
{
	uint8_t out[8];

	siphash24(key, in, inlen, out, sizeof(out));
	return load64_le(out);
}
