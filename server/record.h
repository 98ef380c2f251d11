/*
 * record.h - RPC record marking over TCP (RFC 5531 section 11) as a pure
 * state machine: bytes in, whole records out.  It knows nothing of
 * sockets or libevent, so transport.c can feed it from any buffer and
 * fuzz/fuzz_record.c can drive it on its own.
 */
#ifndef UNIONNFSD_RECORD_H
#define UNIONNFSD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In a fragment header: this fragment ends the record. */
#define RECORD_LAST_FRAG 0x80000000u

struct record {
	uint8_t *buf;		/* the record so far; malloc'd */
	size_t len, cap;
	uint32_t max;		/* largest record accepted */
	uint32_t frag_left;	/* bytes of this fragment still to come */
	uint8_t hdr[4];		/* a fragment header split across feeds */
	unsigned hdrlen;
	bool in_frag, last_frag;
	char why[80];		/* after RECORD_BAD: what was wrong */
};

enum record_status {
	RECORD_MORE,	/* everything consumed; more bytes needed */
	RECORD_DONE,	/* a whole record is ready: record_take() it */
	RECORD_BAD,	/* the stream is unusable: record_error() says why */
};

void record_init(struct record *r, uint32_t max);
void record_free(struct record *r);

/* Consumes up to n bytes from p, stopping after a complete record;
 * *used says how many were taken. */
enum record_status record_feed(struct record *r, const uint8_t *p, size_t n,
			       size_t *used);

/* Where the rest of the current fragment belongs (*left bytes there, 0
 * if none is open), so that a caller may read() it in place; then
 * record_filled() with how many bytes it put there. */
uint8_t *record_frag_dest(const struct record *r, uint32_t *left);
enum record_status record_filled(struct record *r, size_t n);

/* The finished record, now the caller's to free(). */
uint8_t *record_take(struct record *r, size_t *len);

/* True once part of a record has been received (not a bare header). */
bool record_mid(const struct record *r);
const char *record_error(const struct record *r);

#endif
