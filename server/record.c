/*
 * record.c - RPC record marking (RFC 5531 section 11): a record is one
 * or more fragments, each behind a 4-byte header whose top bit marks the
 * last one.  Each record is assembled into one malloc'd buffer, sized
 * from the fragment headers, so the bytes are copied only once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

void record_init(struct record *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void record_free(struct record *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

static enum record_status record_bad(struct record *r, const char *why)
{
	snprintf(r->why, sizeof(r->why), "%s", why);
	return RECORD_BAD;
}

/* Room for a fragment of len bytes; false if the record would be too big. */
static bool reserve(struct record *r, uint32_t len)
{
	size_t need = r->len + len, cap;
	uint8_t *n;

	if (need > r->max)
		return false;
	if (need <= r->cap)
		return true;
	/* A lone last fragment (the usual case) gets exactly its size;
	 * a record in several fragments grows geometrically. */
	cap = need;
	if (!(r->last_frag && r->len == 0) && 2 * r->cap > need)
		cap = 2 * r->cap < r->max ? 2 * r->cap : r->max;
	n = realloc(r->buf, cap ? cap : 1);
	if (!n)
		return false;
	r->buf = n;
	r->cap = cap;
	return true;
}

static enum record_status start_frag(struct record *r)
{
	uint32_t hdr, len;

	memcpy(&hdr, r->hdr, 4);
	r->hdrlen = 0;
	hdr = ntohl(hdr);
	len = hdr & ~RECORD_LAST_FRAG;
	r->last_frag = (hdr & RECORD_LAST_FRAG) != 0;
	if (!reserve(r, len)) {
		snprintf(r->why, sizeof(r->why),
			 "record of more than %u bytes (fragment of %u)",
			 r->max, len);
		return RECORD_BAD;
	}
	r->frag_left = len;
	r->in_frag = true;
	return RECORD_MORE;
}

/* The current fragment is complete: was that the record? */
static enum record_status end_frag(struct record *r)
{
	r->in_frag = false;
	if (!r->last_frag)
		return RECORD_MORE;
	if (r->len == 0)
		return record_bad(r, "empty record");
	return RECORD_DONE;
}

enum record_status record_feed(struct record *r, const uint8_t *p, size_t n,
			       size_t *used)
{
	enum record_status st = RECORD_MORE;
	size_t off = 0, k;

	while (st == RECORD_MORE && off < n) {
		if (!r->in_frag) {
			k = 4 - r->hdrlen < n - off ? 4 - r->hdrlen : n - off;
			memcpy(r->hdr + r->hdrlen, p + off, k);
			r->hdrlen += (unsigned)k;
			off += k;
			if (r->hdrlen < 4)
				break;
			st = start_frag(r);
			if (st != RECORD_MORE)
				break;
		}
		k = n - off < r->frag_left ? n - off : r->frag_left;
		st = record_filled(r, k);
		if (k > 0)
			memcpy(r->buf + r->len - k, p + off, k);
		off += k;
	}
	*used = off;
	return st;
}

uint8_t *record_frag_dest(const struct record *r, uint32_t *left)
{
	*left = r->in_frag ? r->frag_left : 0;
	return r->buf ? r->buf + r->len : NULL;
}

enum record_status record_filled(struct record *r, size_t n)
{
	r->len += n;
	r->frag_left -= (uint32_t)n;
	if (r->in_frag && r->frag_left == 0)
		return end_frag(r);
	return RECORD_MORE;
}

uint8_t *record_take(struct record *r, size_t *len)
{
	uint8_t *rec = r->buf;

	*len = r->len;
	r->buf = NULL;
	r->len = r->cap = 0;
	return rec;
}

bool record_mid(const struct record *r)
{
	return r->in_frag || r->len > 0;
}

const char *record_error(const struct record *r)
{
	return r->why;
}
