/*
 * util.c - names, handles and cookies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

int check_name(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, UN_NAME_MAX + 1);
	if (len > UN_NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return -EINVAL;
	/* Our own temporary names never leave the work dir, but a client
	 * must not be able to create look-alikes either: they are legal. */
	return 0;
}

uint8_t mode_to_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return UN_REG;
	case S_IFDIR:
		return UN_DIR;
	case S_IFBLK:
		return UN_BLK;
	case S_IFCHR:
		return UN_CHR;
	case S_IFLNK:
		return UN_LNK;
	case S_IFSOCK:
		return UN_SOCK;
	default:
		return UN_FIFO;
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/*
 * Layout: version, 3 zero bytes, export id, oid, generation, then a
 * SipHash-2-4-128 tag over those 20 bytes.  Nothing in it depends on where
 * the layers are stored.
 */
void handle_encode(const struct un_export *ex, uint64_t oid, uint32_t gen,
		   struct un_handle *fh)
{
	memset(fh, 0, sizeof(*fh));
	fh->len = UN_HANDLE_LEN;
	fh->data[0] = UN_HANDLE_VERSION;
	put32(fh->data + 4, ex->id);
	put64(fh->data + 8, oid);
	put32(fh->data + 16, gen);
	siphash24(ex->cat->key, fh->data, 20, fh->data + 20, 16);
}

int handle_make(struct un_export *ex, uint64_t oid, struct un_handle *fh)
{
	struct cat_obj o;
	int rc;

	if (!fh)
		return 0;
	rc = cat_get(ex->cat, oid, &o);
	if (rc < 0)
		return rc;
	handle_encode(ex, oid, o.gen, fh);
	return 0;
}

int un_handle_export_id(const struct un_handle *fh, uint32_t *export_id)
{
	if (!fh || fh->len != UN_HANDLE_LEN ||
	    fh->data[0] != UN_HANDLE_VERSION || fh->data[1] || fh->data[2] ||
	    fh->data[3])
		return -UN_EBADHANDLE;
	*export_id = get32(fh->data + 4);
	return 0;
}

int handle_decode(const struct un_export *ex, const struct un_handle *fh,
		  uint64_t *oid, uint32_t *gen)
{
	uint8_t tag[16], diff = 0;
	uint32_t id;

	if (un_handle_export_id(fh, &id) < 0 || id != ex->id)
		return -UN_EBADHANDLE;
	siphash24(ex->cat->key, fh->data, 20, tag, sizeof(tag));
	/* constant time: the tag is what keeps handles unforgeable */
	for (int i = 0; i < 16; i++)
		diff |= tag[i] ^ fh->data[20 + i];
	if (diff)
		return -UN_EBADHANDLE;
	*oid = get64(fh->data + 8);
	*gen = get32(fh->data + 16);
	return 0;
}

/*
 * A directory entry's cookie is a keyed hash of its name, so it does not
 * depend on what else is in the directory and survives restarts.  1 and 2
 * are "." and "..", 0 means "start".
 */
uint64_t name_cookie(const struct un_export *ex, const char *name)
{
	uint64_t h = siphash24_u64(ex->cat->key, name, strlen(name)) >> 1;

	return h < 3 ? h + 3 : h;
}
