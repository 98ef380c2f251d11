/*
 * fuzz_record - the TCP record-marking framer (server/record.c) on an
 * arbitrary byte stream cut at arbitrary places, part of it written in
 * place the way transport.c's direct reads do.  Every record it delivers
 * must be exactly what a one-pass reference parser of the whole stream
 * finds, never larger than the maximum, and it must fail exactly where
 * the reference does.
 *
 * Input: 2 bytes maximum record size - 1, 1 byte count k (mod 16) of cut
 * bytes, k cut bytes (low 7 bits: chunk length, 0 = an empty feed; top
 * bit: write the chunk in place), then the stream.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

struct expect {
	const uint8_t *s;
	size_t n, pos;
	uint8_t *rec;	/* the next record the reference finds */
	size_t len, cap;
	const char *bad; /* why the stream goes bad after its records */
};

/* The reference: the next complete record in the stream, if any. */
static bool expect_next(struct expect *e, uint32_t max)
{
	uint32_t hdr, flen;

	e->len = 0;
	while (e->pos + 4 <= e->n) {
		memcpy(&hdr, e->s + e->pos, 4);
		hdr = ntohl(hdr);
		flen = hdr & 0x7fffffffu;
		if (e->len + flen > max) {
			e->bad = "record of more than";
			return false;
		}
		if (e->pos + 4 + flen > e->n)
			return false;
		if (e->len + flen > e->cap) {
			e->cap = e->len + flen;
			e->rec = realloc(e->rec, e->cap);
			if (!e->rec)
				abort();
		}
		if (flen > 0)
			memcpy(e->rec + e->len, e->s + e->pos + 4, flen);
		e->len += flen;
		e->pos += 4 + flen;
		if (hdr & 0x80000000u) {
			if (e->len == 0)
				e->bad = "empty record";
			return e->len > 0;
		}
	}
	return false;
}

static void check_record(struct record *r, struct expect *e)
{
	uint8_t *rec;
	size_t len;

	if (!expect_next(e, r->max))
		abort(); /* delivered a record the reference does not see */
	rec = record_take(r, &len);
	if (len != e->len || len > r->max || len == 0 ||
	    memcmp(rec, e->rec, len) != 0)
		abort();
	free(rec);
}

/* In place, as a read() into record_frag_dest() would. */
static enum record_status fill(struct record *r, const uint8_t *p, size_t n,
			       size_t *used)
{
	uint32_t left;
	uint8_t *dest = record_frag_dest(r, &left);

	if (left == 0)
		return record_feed(r, p, n, used);
	*used = n < left ? n : left;
	memcpy(dest, p, *used);
	return record_filled(r, *used);
}

/* The next cut: how many bytes to feed, and whether in place. */
static size_t next_cut(const uint8_t *cuts, size_t k, size_t i, size_t rem,
		       bool *in_place)
{
	size_t chunk = k ? cuts[i % k] & 0x7f : rem;

	*in_place = k && (cuts[i % k] & 0x80);
	return chunk < rem ? chunk : rem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expect e = { 0 };
	struct record r;
	enum record_status st = RECORD_MORE;
	const uint8_t *cuts, *p;
	size_t k, i, used, chunk, rem;
	bool in_place;

	if (size < 3 || size < 3 + (size_t)(data[2] % 16))
		return 0;
	record_init(&r, (uint32_t)((data[0] << 8 | data[1]) + 1));
	k = data[2] % 16;
	cuts = data + 3;
	p = e.s = data + 3 + k;
	rem = e.n = size - 3 - k;
	for (i = 0; rem > 0 && st != RECORD_BAD; i++) {
		chunk = next_cut(cuts, k, i, rem, &in_place);
		if (chunk == 0) {
			/* An empty feed changes nothing. */
			if (record_feed(&r, p, 0, &used) != RECORD_MORE ||
			    used != 0)
				abort();
			chunk = 1;
		}
		if (in_place)
			st = fill(&r, p, chunk, &used);
		else
			st = record_feed(&r, p, chunk, &used);
		if (used > chunk ||
		    (!in_place && st == RECORD_MORE && used != chunk))
			abort();
		if (st == RECORD_DONE)
			check_record(&r, &e);
		p += used;
		rem -= used;
	}
	/* The reference finds no further whole record, and goes bad
	 * exactly when the framer did, for the same reason. */
	if (expect_next(&e, r.max) || !e.bad != (st != RECORD_BAD))
		abort();
	if (e.bad && strncmp(record_error(&r), e.bad, strlen(e.bad)) != 0)
		abort();
	record_free(&r);
	free(e.rec);
	return 0;
}
