/*
 * union_test.c - the union engine and the catalog against real layer
 * directories and a real SQLite catalog (run as root: credentials and
 * trusted.* xattrs are real).  When `mount -t overlay` works, the kernel's
 * view of the same layers is compared with the engine's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sqlite3.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "../union/siphash.h"
#include "tap.h"
#include "union.h"

static char T[256];		/* test root */
static char L1[300], L2[300], UP[300], WK[300], DB[300];
static struct un_catalog *cat;
static struct un_export *ex;
static bool redirect_off;	/* open_all: the export's redirect-dir no */
static bool metacopy_on;	/* open_all: the export's metacopy yes */
static const struct un_cred root_cr = { 0, 0, 0, { 0 } };
static const struct un_cred user_cr = { 1000, 1000, 0, { 0 } };

static const char *P(const char *fmt, ...)
{
	static __thread char bufs[8][1024];
	static __thread int n;
	char *b = bufs[n++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, 1024, fmt, ap);
	va_end(ap);
	return b;
}

static void put(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(data, f) < 0 || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(2);
	}
}

static void mkd(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		printf("Bail out! mkdir %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static void whiteout(const char *path)
{
	if (mknod(path, S_IFCHR, makedev(0, 0)) < 0) {
		printf("Bail out! mknod %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static bool is_wh(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(0, 0);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void open_all(void)
{
	char err[256];
	struct un_export_conf conf = {
		.name = "/export", .lower = { L1, L2 }, .nlower = 2,
		.upper = UP, .work = WK, .redirect_dir_off = redirect_off,
		.metacopy = metacopy_on,
	};
	int rc = un_catalog_open(DB, &cat, err, sizeof(err));

	if (rc == 0)
		rc = un_export_open(cat, &conf, &ex, err, sizeof(err));
	if (rc < 0) {
		printf("Bail out! open: %s\n", err);
		exit(2);
	}
}

static void close_all(void)
{
	un_export_close(ex);
	un_catalog_close(cat);
	ex = NULL;
	cat = NULL;
}

/* Resolve "a/b/c" from the root, as a client would. */
static int lk(const char *path, struct un_handle *out)
{
	char buf[1024], *name, *save = NULL;
	struct un_handle cur;
	int rc = un_root(ex, &cur);

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = strtok_r(buf, "/", &save); rc == 0 && name;
	     name = strtok_r(NULL, "/", &save))
		rc = un_lookup(ex, &root_cr, &cur, name, &cur, NULL, NULL);
	if (rc == 0)
		*out = cur;
	return rc;
}

/* The content of a file through the engine, or "<errno>". */
static const char *rd(const struct un_handle *fh)
{
	static __thread char buf[8][4096];
	static __thread int n;
	char *b = buf[n++ % 8];
	bool eof;
	ssize_t r = un_read(ex, &root_cr, fh, 0, 4095, b, &eof, NULL);

	if (r < 0)
		snprintf(b, 4096, "<%d>", (int)r);
	else
		b[r] = '\0';
	return b;
}

static const char *rdp(const char *path)
{
	struct un_handle fh;
	int rc = lk(path, &fh);

	return rc < 0 ? P("<%d>", rc) : rd(&fh);
}

static int wr(const struct un_handle *fh, uint64_t off, const char *s)
{
	enum un_stable got;
	ssize_t n = un_write(ex, &root_cr, fh, off, s, strlen(s), UN_FILE_SYNC,
			     &got, NULL);

	return n < 0 ? (int)n : (n == (ssize_t)strlen(s) ? 0 : -EIO);
}

static const char *file(const char *path)
{
	static char buf[4][4096];
	static __thread int n;
	char *b = buf[n++ % 4];
	int fd = open(path, O_RDONLY);
	ssize_t r = fd < 0 ? -1 : read(fd, b, 4095);

	if (fd >= 0)
		close(fd);
	if (r < 0)
		snprintf(b, 4096, "<none>");
	else
		b[r] = '\0';
	return b;
}

/* ---- tests ---------------------------------------------------------- */

static void test_siphash(void)
{
	static const uint8_t v128_0[16] = {
		0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
		0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93 };
	static const uint8_t v128_15[16] = {
		0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11,
		0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9 };
	static const uint8_t v128_63[16] = {
		0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a,
		0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd, 0x7c };
	uint8_t k[16], in[64], out[16];

	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	CHECK(siphash24_u64(k, in, 0) == 0x726fdb47dd0e0e31ULL,
	      "siphash-2-4-64, empty message");
	CHECK(siphash24_u64(k, in, 15) == 0xa129ca6149be45e5ULL,
	      "siphash-2-4-64, the paper's 15-byte example");
	siphash24(k, in, 0, out, 16);
	CHECK(memcmp(out, v128_0, 16) == 0, "siphash-2-4-128, 0 bytes");
	siphash24(k, in, 15, out, 16);
	CHECK(memcmp(out, v128_15, 16) == 0, "siphash-2-4-128, 15 bytes");
	siphash24(k, in, 63, out, 16);
	CHECK(memcmp(out, v128_63, 16) == 0, "siphash-2-4-128, 63 bytes");
}

static void set_xattr(const char *path, const char *name, const char *val)
{
	if (lsetxattr(path, name, val, strlen(val), 0) < 0) {
		printf("Bail out! setxattr %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static void setup_layers(void)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1100000000, 0 } };
	int fd;

	snprintf(T, sizeof(T), "/tmp/union_test.XXXXXX");
	if (!mkdtemp(T)) {
		printf("Bail out! mkdtemp\n");
		exit(2);
	}
	snprintf(L1, sizeof(L1), "%s/l1", T);
	snprintf(L2, sizeof(L2), "%s/l2", T);
	snprintf(UP, sizeof(UP), "%s/up", T);
	snprintf(WK, sizeof(WK), "%s/wk", T);
	snprintf(DB, sizeof(DB), "%s/catalog.db", T);
	mkd(L1), mkd(L2), mkd(UP), mkd(WK);

	put(P("%s/a.txt", L2), "l2-a"), put(P("%s/a.txt", L1), "l1-a");
	put(P("%s/a.txt", UP), "up-a");
	put(P("%s/b.txt", L2), "l2-b");
	put(P("%s/gone", L2), "g"), whiteout(P("%s/gone", L1));
	put(P("%s/hidden1", L1), "h"), whiteout(P("%s/hidden1", UP));
	mkd(P("%s/d", L2)), put(P("%s/d/y", L2), "l2-y");
	mkd(P("%s/d", L1)), put(P("%s/d/x", L1), "l1-x");
	mkd(P("%s/d", UP)), put(P("%s/d/z", UP), "up-z");
	mkd(P("%s/opq", L2)), put(P("%s/opq/o2", L2), "o2");
	mkd(P("%s/opq", L1)), put(P("%s/opq/o1", L1), "o1");
	set_xattr(P("%s/opq", L1), "trusted.overlay.opaque", "y");
	mkd(P("%s/shadow", L2)), put(P("%s/shadow/s", L2), "s");
	put(P("%s/shadow", L1), "file over dir");
	mkd(P("%s/rmd", L1)), put(P("%s/rmd/f", L1), "f");
	mkd(P("%s/lowdir", L1)), mkd(P("%s/lowdir/in", L1));
	put(P("%s/mv.txt", L1), "move me");
	put(P("%s/hl-a", L1), "hl");
	if (link(P("%s/hl-a", L1), P("%s/hl-b", L1)) < 0 ||
	    symlink("/etc/passwd", P("%s/sym", L1)) < 0 ||
	    symlink("../../", P("%s/sym2", L1)) < 0 ||
	    symlink("/etc", P("%s/esc", L1)) < 0) {
		printf("Bail out! link/symlink\n");
		exit(2);
	}
	mkd(P("%s/hl2", L1)), put(P("%s/hl2/one", L1), "v1");
	mkd(P("%s/hl2/sub", L1));
	if (link(P("%s/hl2/one", L1), P("%s/hl2/sub/two", L1)) < 0)
		exit(2);
	put(P("%s/hl2/p1", L1), "pair");
	if (link(P("%s/hl2/p1", L1), P("%s/hl2/p2", L1)) < 0)
		exit(2);
	mkd(P("%s/p", L1)), mkd(P("%s/p/q", L1));
	put(P("%s/p/q/deep.txt", L1), "deep");
	/* a file with an owner, mode, times, an xattr and a hole */
	put(P("%s/cu.txt", L1), "");
	fd = open(P("%s/cu.txt", L1), O_WRONLY);
	if (fd < 0 || pwrite(fd, "end", 3, 4 << 20) != 3 || close(fd) < 0)
		exit(2);
	if (chown(P("%s/cu.txt", L1), 1234, 2345) < 0 ||
	    chmod(P("%s/cu.txt", L1), 0640) < 0)
		exit(2);
	set_xattr(P("%s/cu.txt", L1), "user.test", "value");
	if (utimensat(AT_FDCWD, P("%s/cu.txt", L1), ts, 0) < 0)
		exit(2);
	put(P("%s/sa.txt", L1), "setattr");
	if (utimensat(AT_FDCWD, P("%s/sa.txt", L1), ts, 0) < 0)
		exit(2);
	put(P("%s/secret", UP), "s3cret"), chmod(P("%s/secret", UP), 0600);
	put(P("%s/pub", L1), "public"), chmod(P("%s/pub", L1), 0644);
	mkd(P("%s/big", L1));
	for (int i = 0; i < 60; i++)
		put(P("%s/big/f%02d", L1, i), "x");
	/* test_redirect: rd/a merged from both lowers, rd/c only in L1 */
	mkd(P("%s/rd", L1)), mkd(P("%s/rd", L2));
	mkd(P("%s/rd/a", L2)), put(P("%s/rd/a/l2f", L2), "l2f");
	mkd(P("%s/rd/a/sub", L2)), put(P("%s/rd/a/sub/deep", L2), "deep2");
	mkd(P("%s/rd/a", L1)), put(P("%s/rd/a/l1f", L1), "l1f");
	mkd(P("%s/rd/a/sub", L1)), put(P("%s/rd/a/sub/s1", L1), "s1");
	mkd(P("%s/rd/c", L1)), put(P("%s/rd/c/cf", L1), "cf");
	/* redirects already in a lower layer (once an upper layer) */
	mkd(P("%s/rr", L2)), mkd(P("%s/rr/old", L2));
	put(P("%s/rr/old/f", L2), "old-f");
	mkd(P("%s/rr2", L2)), mkd(P("%s/rr2/deep", L2));
	put(P("%s/rr2/deep/g", L2), "deep-g");
	mkd(P("%s/rr", L1)), mkd(P("%s/rr/new", L1)), mkd(P("%s/rr/abs", L1));
	put(P("%s/rr/new/n", L1), "n");
	set_xattr(P("%s/rr/new", L1), "trusted.overlay.redirect", "old");
	set_xattr(P("%s/rr/abs", L1), "trusted.overlay.redirect", "/rr2/deep");
	mkd(P("%s/rr/bad", L1));
	set_xattr(P("%s/rr/bad", L1), "trusted.overlay.redirect", "../x");
}

static void test_lookup(void)
{
	struct un_handle fh;
	struct un_attr a;

	CHECK_STR(rdp("a.txt"), "up-a", "upper wins over both lowers");
	CHECK_STR(rdp("b.txt"), "l2-b", "a name only in the bottom layer");
	CHECK_STR(rdp("d/x"), "l1-x", "merged dir: entry from lower 1");
	CHECK_STR(rdp("d/y"), "l2-y", "merged dir: entry from lower 2");
	CHECK_STR(rdp("d/z"), "up-z", "merged dir: entry from upper");
	CHECK_EQ(lk("gone", &fh), -ENOENT, "whiteout in lower 1 hides lower 2");
	CHECK_EQ(lk("hidden1", &fh), -ENOENT, "whiteout in upper hides lower");
	CHECK_STR(rdp("opq/o1"), "o1", "opaque dir shows its own entries");
	CHECK_EQ(lk("opq/o2", &fh), -ENOENT, "opaque dir hides the dir below");
	CHECK_EQ(lk("shadow", &fh), 0, "file over dir: found");
	CHECK_EQ(un_getattr(ex, &fh, &a), 0, "getattr");
	CHECK_EQ(a.type, UN_REG, "a file in a higher layer hides a dir");
	CHECK_EQ(lk("shadow/s", &fh), -ENOTDIR, "...and what is inside");
	CHECK_EQ(lk("hl-a", &fh), 0, "hard-linked lower file");
	CHECK_EQ(un_getattr(ex, &fh, &a), 0, "getattr");
	CHECK_EQ(a.nlink, 2, "lower nlink reported");
	CHECK_EQ(a.fsid, un_export_id(ex), "fsid is the export id");
}

static void test_names(void)
{
	struct un_handle root, fh;
	char longname[300];

	memset(longname, 'n', 256);
	longname[256] = '\0';
	un_root(ex, &root);
	CHECK_EQ(un_lookup(ex, &root_cr, &root, "d/x", &fh, NULL, NULL),
		 -EINVAL, "name with / refused");
	CHECK_EQ(un_lookup(ex, &root_cr, &root, "..", &fh, NULL, NULL),
		 -EINVAL, "\"..\" refused");
	CHECK_EQ(un_lookup(ex, &root_cr, &root, ".", &fh, NULL, NULL),
		 -EINVAL, "\".\" refused");
	CHECK_EQ(un_lookup(ex, &root_cr, &root, "", &fh, NULL, NULL),
		 -EINVAL, "empty name refused");
	CHECK_EQ(un_lookup(ex, &root_cr, &root, longname, &fh, NULL, NULL),
		 -ENAMETOOLONG, "256-byte name refused");
	CHECK_EQ(un_create(ex, &root_cr, &root, "../x", UN_CREATE_GUARDED,
			   NULL, NULL, &fh, NULL, NULL),
		 -EINVAL, "create with ../ refused");
	CHECK(!exists(P("%s/x", T)), "nothing created outside");
}

static void test_symlinks(void)
{
	struct un_handle fh, x;
	char buf[256];
	bool eof;

	CHECK_EQ(lk("sym", &fh), 0, "symlink looked up");
	CHECK_EQ(un_readlink(ex, &root_cr, &fh, buf, sizeof(buf), NULL), 11,
		 "readlink length");
	CHECK_STR(buf, "/etc/passwd", "absolute target returned as data");
	CHECK_EQ(un_read(ex, &root_cr, &fh, 0, sizeof(buf), buf, &eof, NULL),
		 -EINVAL, "READ of a symlink does not follow it");
	CHECK_EQ(un_lookup(ex, &root_cr, &fh, "x", &x, NULL, NULL), -ENOTDIR,
		 "lookup through a symlink fails");
	CHECK_EQ(lk("esc/passwd", &x), -ENOTDIR,
		 "symlink to /etc is not a way out");
	CHECK_EQ(lk("sym2", &fh), 0, "relative symlink");
	un_readlink(ex, &root_cr, &fh, buf, sizeof(buf), NULL);
	CHECK_STR(buf, "../../", "\"../../\" returned as data");
	CHECK_EQ(lk("sym2/etc", &x), -ENOTDIR, "and never followed");
}

struct names {
	char v[256][64];
	uint64_t cookie[256];
	int n, stop_after;
};

static int collect(void *arg, const struct un_dirent *de)
{
	struct names *ns = arg;

	if (ns->stop_after && ns->n >= ns->stop_after)
		return 1;
	if (ns->n < 256) {
		snprintf(ns->v[ns->n], 64, "%s", de->name);
		ns->cookie[ns->n] = de->cookie;
	}
	ns->n++;
	return 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(a, b);
}

static const char *listing(const char *path)
{
	static char out[4096];
	static struct names ns;
	struct un_handle fh;
	uint64_t verf;
	bool eof = false;
	int rc;

	memset(&ns, 0, sizeof(ns));
	if (*path ? (rc = lk(path, &fh)) < 0 : (rc = un_root(ex, &fh)) < 0)
		return P("<%d>", rc);
	rc = un_readdir(ex, &root_cr, &fh, 0, 0, false, collect, &ns, &verf,
			&eof, NULL);
	if (rc < 0 || !eof)
		return P("<%d eof=%d>", rc, eof);
	qsort(ns.v, (size_t)ns.n, sizeof(ns.v[0]), cmpstr);
	out[0] = '\0';
	for (int i = 0; i < ns.n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
			 i ? " " : "", ns.v[i]);
	return out;
}

static void test_readdir(void)
{
	CHECK_STR(listing("d"), ". .. x y z", "merged dir lists each name once");
	CHECK_STR(listing("opq"), ". .. o1", "opaque dir lists its own only");
	CHECK_STR(listing(""),
		  ". .. a.txt b.txt big cu.txt d esc hl-a hl-b hl2 lowdir "
		  "mv.txt opq p pub rd rmd rr rr2 sa.txt secret shadow sym "
		  "sym2",
		  "root: merged, no whiteouts, hidden names absent");
}

static void test_cookies(void)
{
	struct names a = { .stop_after = 20 }, b = { 0 };
	struct un_handle dir, root, fh;
	uint64_t verf, last;
	bool eof = false, dup = false, sorted = true;
	int seen[100] = { 0 };

	lk("big", &dir);
	un_root(ex, &root);
	CHECK_EQ(un_readdir(ex, &root_cr, &dir, 0, 0, false, collect, &a,
			    &verf, &eof, NULL), 0, "first part of a listing");
	CHECK(!eof && a.n == 20, "stopped when the reply was full");
	CHECK(verf != 0, "verifier is not zero");
	CHECK_EQ(a.cookie[0], 1, "cookie of . is 1");
	CHECK_EQ(a.cookie[1], 2, "cookie of .. is 2");
	last = a.cookie[19];
	/* entries come and go in the middle of the listing */
	for (int i = 0; i < 60; i += 7)
		un_remove(ex, &root_cr, &dir, P("f%02d", i), NULL);
	un_create(ex, &root_cr, &dir, "new1", UN_CREATE_GUARDED, NULL, NULL,
		  &fh, NULL, NULL);
	/* and the server restarts */
	close_all();
	open_all();
	lk("big", &dir);
	CHECK_EQ(un_readdir(ex, &root_cr, &dir, last, 12345, false, collect,
			    &b, &verf, &eof, NULL), -UN_EBADCOOKIE,
		 "wrong verifier refused");
	eof = false;
	CHECK_EQ(un_readdir(ex, &root_cr, &dir, last, verf, false, collect,
			    &b, &verf, &eof, NULL), 0, "resumed after restart");
	CHECK(eof, "reached the end");
	for (int i = 0; i < b.n; i++)
		if (b.cookie[i] <= last || (i && b.cookie[i] <= b.cookie[i - 1]))
			sorted = false;
	CHECK(sorted, "resumed entries come after the cookie, in order");
	for (int i = 2; i < a.n; i++)
		seen[atoi(a.v[i] + 1)]++;
	for (int i = 0; i < b.n; i++)
		if (b.v[i][0] == 'f' && seen[atoi(b.v[i] + 1)]++)
			dup = true;
	CHECK(!dup, "no entry listed twice");
	for (int i = 0; i < 60; i++)
		if (i % 7 && !seen[i])
			dup = true;
	CHECK(!dup, "no surviving entry skipped");
}

static void test_copy_up_write(void)
{
	struct un_handle fh;
	struct stat up, lo;
	char val[32] = "";
	struct un_attr a;

	CHECK_EQ(lk("cu.txt", &fh), 0, "lower file");
	CHECK_EQ(un_getattr(ex, &fh, &a), 0, "getattr before");
	CHECK_EQ(wr(&fh, 0, "head"), 0, "write copies up");
	CHECK(stat(P("%s/cu.txt", UP), &up) == 0, "copy is in upper");
	stat(P("%s/cu.txt", L1), &lo);
	CHECK_EQ(up.st_mode & 07777, 0640, "mode kept");
	CHECK(up.st_uid == 1234 && up.st_gid == 2345, "owner kept");
	CHECK_EQ(up.st_size, (4 << 20) + 3, "size kept");
	CHECK(up.st_blocks * 512 < (1 << 20), "hole kept (%lld blocks)",
	      (long long)up.st_blocks);
	CHECK(lgetxattr(P("%s/cu.txt", UP), "user.test", val, sizeof(val)) ==
		      5 && memcmp(val, "value", 5) == 0, "xattr copied");
	CHECK_EQ(up.st_atim.tv_sec, 1000000000, "atime copied");
	CHECK_EQ(lo.st_size, (4 << 20) + 3, "lower size unchanged");
	CHECK_STR(file(P("%s/cu.txt", L1)), "", "lower data unchanged");
	CHECK_STR(rd(&fh), "head", "new data through the same handle");
	{
		struct un_attr b;

		un_getattr(ex, &fh, &b);
		CHECK_EQ(b.fileid, a.fileid, "fileid stable over copy-up");
	}
}

/* Copy-ups leave nothing behind in the work dir (prebuilt copies that
 * lost a race included). */
static int work_litter(const char *work)
{
	struct dirent *d;
	DIR *dir = opendir(work);
	int n = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (strncmp(d->d_name, "#unionnfsd.", 11) == 0)
			n++;
	closedir(dir);
	return n;
}

struct race_arg {
	struct un_handle fh;
	int rc;
};

static void *race_write(void *p)
{
	struct race_arg *a = p;

	a->rc = wr(&a->fh, 0, "raced");
	return NULL;
}

/* Two writers copy the same lower file up at once: each builds a copy
 * without the namespace lock, one is published, the other dropped. */
static void test_copy_up_race(void)
{
	struct race_arg a[2];
	pthread_t t[2];
	struct stat st;

	put(P("%s/race.txt", L1), "lower data, longer than the writes");
	CHECK_EQ(lk("race.txt", &a[0].fh), 0, "lower file for the race");
	a[1].fh = a[0].fh;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race_write, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(a[0].rc == 0 && a[1].rc == 0, "both writes succeed (%d %d)",
	      a[0].rc, a[1].rc);
	CHECK_STR(file(P("%s/race.txt", UP)),
		  "raced data, longer than the writes", "one copy, both writes");
	CHECK(stat(P("%s/race.txt", UP), &st) == 0 && st.st_nlink == 1,
	      "upper copy is a single file");
	CHECK_EQ(work_litter(WK), 0, "no temporaries left in work");
}

/* Any extent of fd shared with another file (a reflink)? */
static int shared_extents(int fd)
{
	size_t len = sizeof(struct fiemap) + 32 * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, len);
	int shared = 0;

	if (!fm)
		return -ENOMEM;
	fm->fm_length = FIEMAP_MAX_OFFSET;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = 32;
	if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0)
		shared = -errno;
	for (unsigned i = 0; shared >= 0 && i < fm->fm_mapped_extents; i++)
		if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED)
			shared++;
	free(fm);
	return shared;
}

/*
 * On a reflink file system (XFS -m reflink=1 in a loop file) the data
 * copy-up is a clone (FICLONE): the upper copy shares the lower extents.
 */
static void test_reflink(void)
{
	char img[300], mnt[300], err[256], lo[320], up[320], wk[320];
	struct un_export_conf conf = {
		.name = "/xfs", .lower = { lo }, .nlower = 1,
		.upper = up, .work = wk,
	};
	struct un_export *saved = ex, *xe;
	struct un_handle fh;
	char buf[8192];
	struct stat st;
	int fd;

	snprintf(img, sizeof(img), "%s/xfs.img", T);
	snprintf(mnt, sizeof(mnt), "%s/xfs", T);
	mkd(mnt);
	if (system(P("truncate -s 320M %s && mkfs.xfs -q -m reflink=1 %s "
		     ">/dev/null 2>&1 && mount -o loop %s %s", img, img, img,
		     mnt)) != 0) {
		printf("# skip: no reflink file system (mkfs.xfs from "
		       "xfsprogs, loop mount): FICLONE path not tested\n");
		return;
	}
	snprintf(lo, sizeof(lo), "%s/lower", mnt);
	snprintf(up, sizeof(up), "%s/upper", mnt);
	snprintf(wk, sizeof(wk), "%s/work", mnt);
	mkd(lo);
	mkd(up);
	mkd(wk);
	memset(buf, 'x', sizeof(buf));
	fd = open(P("%s/big", lo), O_WRONLY | O_CREAT, 0644);
	for (int i = 0; fd >= 0 && i < 1024; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
	if (fd >= 0)
		close(fd);
	if (un_export_open(cat, &conf, &xe, err, sizeof(err)) < 0) {
		CHECK(0, "open the XFS export: %s", err);
		goto out;
	}
	ex = xe;
	CHECK_EQ(lk("big", &fh), 0, "lower file on XFS");
	CHECK_EQ(wr(&fh, 0, "head"), 0, "write copies up");
	fd = open(P("%s/big", up), O_RDONLY);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 8 << 20,
	      "upper copy has the size");
	CHECK(shared_extents(fd) > 0, "upper copy shares extents (FICLONE)");
	CHECK(fd >= 0 && pread(fd, buf, 8, 0) == 8 &&
	      memcmp(buf, "headxxxx", 8) == 0, "write on the clone");
	if (fd >= 0)
		close(fd);
	CHECK(strncmp(file(P("%s/big", lo)), "xxxxxxxx", 8) == 0,
	      "lower data unchanged");
	CHECK_EQ(work_litter(wk), 0, "no temporaries left in work");
	un_export_close(xe);
	ex = saved;
out:
	umount2(mnt, MNT_DETACH);
}

static void test_setattr(void)
{
	struct un_sattr sa = { .mask = UN_SET_MODE, .mode = 0600 };
	struct un_handle fh;
	struct un_wcc wcc;
	struct stat st;

	lk("sa.txt", &fh);
	CHECK_EQ(un_setattr(ex, &root_cr, &fh, &sa, NULL, &wcc), 0,
		 "chmod of a lower file");
	CHECK(stat(P("%s/sa.txt", UP), &st) == 0 && (st.st_mode & 0777) ==
		      0600, "copied up with the new mode");
	CHECK_EQ(st.st_mtim.tv_sec, 1100000000, "mtime kept by copy-up");
	CHECK(stat(P("%s/sa.txt", L1), &st) == 0 && (st.st_mode & 0777) ==
		      0644, "lower mode unchanged");
	CHECK(wcc.pre_valid && wcc.post_valid && wcc.post.mode == 0600,
	      "wcc filled");
	struct timespec wrong = { 1, 1 };
	CHECK_EQ(un_setattr(ex, &root_cr, &fh, &sa, &wrong, NULL),
		 -UN_ENOTSYNC, "ctime guard");
}

static void test_remove(void)
{
	struct un_handle root, fh, d;

	un_root(ex, &root);
	lk("b.txt", &fh);
	CHECK_EQ(un_remove(ex, &root_cr, &root, "b.txt", NULL), 0,
		 "remove a lower file");
	CHECK(is_wh(P("%s/b.txt", UP)), "whiteout (char 0/0) in upper");
	CHECK_EQ(lk("b.txt", &d), -ENOENT, "name is gone");
	CHECK_STR(rd(&fh), P("<%d>", -ESTALE), "old handle is stale");
	CHECK(strstr(listing(""), "b.txt") == NULL, "not listed");
	CHECK_EQ(un_remove(ex, &root_cr, &root, "d", NULL), -EISDIR,
		 "remove of a dir");
	/* rmdir of a merged dir */
	lk("rmd", &d);
	CHECK_EQ(un_rmdir(ex, &root_cr, &root, "rmd", NULL), -ENOTEMPTY,
		 "rmdir of a non-empty merged dir");
	CHECK_EQ(un_remove(ex, &root_cr, &d, "f", NULL), 0, "empty it");
	CHECK(is_wh(P("%s/rmd/f", UP)), "parent copied up, whiteout inside");
	CHECK_EQ(un_rmdir(ex, &root_cr, &root, "rmd", NULL), 0,
		 "rmdir of the merged dir");
	CHECK(is_wh(P("%s/rmd", UP)), "whiteout for the dir");
	CHECK_EQ(lk("rmd", &fh), -ENOENT, "dir gone");
	/* mkdir over the whiteout: opaque */
	CHECK_EQ(un_mkdir(ex, &root_cr, &root, "rmd", NULL, &fh, NULL, NULL),
		 0, "mkdir over a whiteout");
	{
		char v[4] = "";

		CHECK(getxattr(P("%s/rmd", UP), "trusted.overlay.opaque", v,
			       sizeof(v)) == 1 && v[0] == 'y',
		      "new dir is opaque");
	}
	CHECK_STR(listing("rmd"), ". ..", "and empty");
	CHECK_EQ(lk("rmd/f", &d), -ENOENT, "lower entry stays hidden");
	CHECK_EQ(un_rmdir(ex, &root_cr, &root, "nonexistent", NULL), -ENOENT,
		 "rmdir of nothing");
}

static void test_rename(void)
{
	struct un_handle root, fh, d;

	un_root(ex, &root);
	lk("mv.txt", &fh);
	CHECK_EQ(un_rename(ex, &root_cr, &root, "mv.txt", &root, "mv2.txt",
			   NULL, NULL), 0, "rename of a lower file");
	CHECK_STR(file(P("%s/mv2.txt", UP)), "move me", "copied up to new name");
	CHECK(is_wh(P("%s/mv.txt", UP)), "old name whited out");
	CHECK_STR(rd(&fh), "move me", "handle follows the rename");
	CHECK_EQ(lk("mv.txt", &d), -ENOENT, "old name gone");
	close_all();
	redirect_off = true;
	open_all();
	un_root(ex, &root);
	CHECK_EQ(un_rename(ex, &root_cr, &root, "lowdir", &root, "ld2", NULL,
			   NULL), -EXDEV, "redirect-dir no: lower dir EXDEV");
	CHECK_EQ(un_rename(ex, &root_cr, &root, "d", &root, "d2", NULL, NULL),
		 -EXDEV, "redirect-dir no: merged dir EXDEV");
	close_all();
	redirect_off = false;
	open_all();
	un_root(ex, &root);
	CHECK_EQ(un_rename(ex, &root_cr, &root, "mv2.txt", &root, "a.txt",
			   NULL, NULL), 0, "rename over an existing file");
	CHECK_STR(rdp("a.txt"), "move me", "target replaced");
	CHECK(!exists(P("%s/mv2.txt", UP)), "no whiteout needed for mv2.txt");
	/* an upper dir over a lower dir must become opaque */
	un_mkdir(ex, &root_cr, &root, "updir", NULL, &d, NULL, NULL);
	un_create(ex, &root_cr, &d, "in", UN_CREATE_GUARDED, NULL, NULL, &fh,
		  NULL, NULL);
	CHECK_EQ(un_rename(ex, &root_cr, &root, "updir", &root, "lowdir", NULL,
			   NULL), -ENOTEMPTY, "over a non-empty lower dir");
	un_mkdir(ex, &root_cr, &root, "empty", NULL, &d, NULL, NULL);
	CHECK_EQ(un_rmdir(ex, &root_cr, &root, "lowdir", NULL), -ENOTEMPTY,
		 "lowdir/in is there");
}

static const char *redirect_of(const char *path)
{
	static char v[512];
	ssize_t n = lgetxattr(path, "trusted.overlay.redirect", v,
			      sizeof(v) - 1);

	v[n > 0 ? n : 0] = '\0';
	return n < 0 ? "<none>" : v;
}

static bool upper_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return d && n == 0;
}

/* READDIRPLUS of a directory: entries with a handle that reads back. */
static int plus_readable(const char *path)
{
	struct names ns = { .n = 0 };
	struct un_handle dir, fh;
	uint64_t verf;
	bool eof;
	int good = 0;

	if (lk(path, &dir) < 0 ||
	    un_readdir(ex, &root_cr, &dir, 0, 0, true, collect, &ns, &verf,
		       &eof, NULL) < 0)
		return -1;
	for (int i = 0; i < ns.n; i++)
		if (strcmp(ns.v[i], ".") && strcmp(ns.v[i], "..") &&
		    lk(P("%s/%s", path, ns.v[i]), &fh) == 0)
			good++;
	return good;
}

/*
 * Directory renames the overlayfs way (redirect_dir): the directory is
 * copied up alone, renamed in upper, and told where its lower layers are
 * with trusted.overlay.redirect, written as the kernel writes it.
 */
static void test_redirect(void)
{
	struct un_handle root, dr, a, b, sub, l1f, deep, cf, c, fh;
	struct un_attr at;

	un_root(ex, &root);
	CHECK_EQ(lk("rd", &dr), 0, "rd");
	lk("rd/a", &a), lk("rd/a/sub", &sub), lk("rd/c/cf", &cf);
	lk("rd/a/l1f", &l1f), lk("rd/a/sub/deep", &deep);
	CHECK_EQ(un_rename(ex, &root_cr, &dr, "a", &dr, "b", NULL, NULL), 0,
		 "rename of a merged lower dir in its directory");
	CHECK_STR(redirect_of(P("%s/rd/b", UP)), "a", "relative redirect");
	CHECK(is_wh(P("%s/rd/a", UP)), "whiteout at the old name");
	CHECK(upper_empty(P("%s/rd/b", UP)), "copied up without its contents");
	CHECK_STR(listing("rd/b"), ". .. l1f l2f sub",
		  "both lower layers under the new name");
	CHECK_STR(listing("rd"), ". .. b c", "the old name is gone");
	CHECK_STR(rdp("rd/b/l2f"), "l2f", "lookup through the redirect");
	CHECK_STR(rd(&deep), "deep2", "handle taken before the rename");
	CHECK_EQ(un_getattr(ex, &a, &at), 0, "the dir's own handle");
	CHECK_EQ(at.type, UN_DIR, "still the directory");
	CHECK_EQ(plus_readable("rd/b"), 3, "READDIRPLUS through the redirect");

	lk("rd/b", &b), lk("rd/c", &c);
	CHECK_EQ(un_rename(ex, &root_cr, &b, "sub", &c, "sub2", NULL, NULL), 0,
		 "into another directory, out of a renamed one");
	CHECK_STR(redirect_of(P("%s/rd/c/sub2", UP)), "/rd/a/sub",
		  "absolute redirect through the parent's redirect");
	CHECK(is_wh(P("%s/rd/b/sub", UP)), "whiteout where it was");
	CHECK_STR(listing("rd/c/sub2"), ". .. deep s1", "merged below");
	CHECK_STR(listing("rd/b"), ". .. l1f l2f", "left the renamed dir");
	CHECK_STR(rd(&deep), "deep2", "handle two renames on");

	CHECK_EQ(un_rename(ex, &root_cr, &c, "sub2", &dr, "sub3", NULL, NULL),
		 0, "renamed again");
	CHECK_STR(redirect_of(P("%s/rd/sub3", UP)), "/rd/a/sub",
		  "an absolute redirect stays");
	CHECK(!exists(P("%s/rd/c/sub2", UP)), "nothing below: no whiteout");
	CHECK_EQ(un_rename(ex, &root_cr, &dr, "b", &dr, "a", NULL, NULL), 0,
		 "renamed back");
	CHECK_STR(redirect_of(P("%s/rd/a", UP)), "a", "its redirect stays");
	CHECK(!exists(P("%s/rd/b", UP)), "no whiteout for a name not below");
	CHECK_STR(listing("rd"), ". .. a c sub3", "rd/b is gone");
	CHECK_STR(listing("rd/a"), ". .. l1f l2f", "merged again");

	CHECK_EQ(wr(&l1f, 0, "L1F"), 0, "write under a renamed dir");
	CHECK_STR(file(P("%s/rd/a/l1f", UP)), "L1F", "copied up");
	CHECK_EQ(wr(&deep, 0, "DEEP2"), 0, "write two renames down");
	CHECK_STR(file(P("%s/rd/sub3/deep", UP)), "DEEP2",
		  "copied up from its path below");

	CHECK_EQ(un_rename(ex, &root_cr, &dr, "c", &a, "cc", NULL, NULL), 0,
		 "a lower dir into a renamed dir");
	CHECK_STR(redirect_of(P("%s/rd/a/cc", UP)), "/rd/c", "absolute");
	CHECK_STR(rdp("rd/a/cc/cf"), "cf", "found through its redirect");
	CHECK_STR(rd(&cf), "cf", "handle taken before");

	close_all();
	open_all();
	CHECK_STR(rd(&cf), "cf", "handle after a restart");
	CHECK_STR(rd(&l1f), "L1F", "handle after a restart (copied up)");
	CHECK_EQ(un_getattr(ex, &sub, &at), 0, "renamed dir's handle");
	CHECK_STR(listing("rd/sub3"), ". .. deep s1", "listing after restart");
	CHECK_STR(listing("rd/a/cc"), ". .. cf", "...of the nested rename");

	lk("rd/sub3", &fh);
	CHECK_EQ(un_rmdir(ex, &root_cr, &dr, "sub3", NULL), -ENOTEMPTY,
		 "rmdir of a redirected dir with entries below");
	CHECK_EQ(un_remove(ex, &root_cr, &fh, "s1", NULL), 0, "remove s1");
	CHECK_EQ(un_remove(ex, &root_cr, &fh, "deep", NULL), 0, "remove deep");
	CHECK(is_wh(P("%s/rd/sub3/s1", UP)), "whited out at its path below");
	CHECK_EQ(un_rmdir(ex, &root_cr, &dr, "sub3", NULL), 0,
		 "rmdir of a redirected dir");
	CHECK(!exists(P("%s/rd/sub3", UP)), "gone without a whiteout");
	CHECK_EQ(un_getattr(ex, &sub, &at), -ESTALE, "its handle is stale");
	CHECK_EQ(lk("rd/a/sub", &fh), -ENOENT, "still hidden where it was");
	CHECK_EQ(un_rmdir(ex, &root_cr, &a, "cc", NULL), -ENOTEMPTY,
		 "the other one keeps its entries");

	CHECK_STR(listing("rr/new"), ". .. f n", "a lower layer's redirect");
	CHECK_STR(rdp("rr/new/f"), "old-f", "...followed into the next one");
	CHECK_STR(listing("rr/abs"), ". .. g", "an absolute one in a lower");
	CHECK_STR(rdp("rr/abs/g"), "deep-g", "...from the layer root");
	CHECK_EQ(lk("rr/bad", &fh), -EIO, "a redirect overlayfs refuses");
	CHECK_EQ(plus_readable("rr/abs"), 1, "READDIRPLUS below it");
	lk("rr", &fh);
	CHECK_EQ(un_rename(ex, &root_cr, &fh, "new", &fh, "newer", NULL, NULL),
		 0, "rename of a dir redirected below");
	CHECK_STR(redirect_of(P("%s/rr/newer", UP)), "new",
		  "the name it has in the layer below");
	CHECK_STR(listing("rr/newer"), ". .. f n", "both layers still");
	/* (the kernel's view would only lack it: the one difference) */
	CHECK(rmdir(P("%s/rr/bad", L1)) == 0, "bad redirect removed below");
}

/* With userxattr the redirect is user.overlay.redirect. */
static void test_redirect_userxattr(void)
{
	char l[300], u[300], w[300], db[300], err[256], v[16] = "";
	struct un_export_conf conf = { .name = "/ux", .nlower = 1,
				       .userxattr = true };
	struct un_catalog *c2 = NULL;
	struct un_export *e2 = NULL;
	struct un_handle root, fh;
	bool eof;
	ssize_t n;

	snprintf(l, sizeof(l), "%s/ux-l", T), mkd(l);
	snprintf(u, sizeof(u), "%s/ux-u", T), mkd(u);
	snprintf(w, sizeof(w), "%s/ux-w", T), mkd(w);
	snprintf(db, sizeof(db), "%s/ux.db", T);
	mkd(P("%s/a", l)), put(P("%s/a/f", l), "uf");
	conf.lower[0] = l, conf.upper = u, conf.work = w;
	if (un_catalog_open(db, &c2, err, sizeof(err)) < 0 ||
	    un_export_open(c2, &conf, &e2, err, sizeof(err)) < 0) {
		CHECK(0, "userxattr export: %s", err);
		un_catalog_close(c2);
		return;
	}
	un_root(e2, &root);
	CHECK_EQ(un_rename(e2, &root_cr, &root, "a", &root, "b", NULL, NULL),
		 0, "userxattr: rename of a lower dir");
	n = lgetxattr(P("%s/b", u), "user.overlay.redirect", v, sizeof(v));
	CHECK(n == 1 && v[0] == 'a', "user.overlay.redirect");
	CHECK(lgetxattr(P("%s/b", u), "trusted.overlay.redirect", v,
			sizeof(v)) < 0, "no trusted.overlay.redirect");
	CHECK_EQ(un_lookup(e2, &root_cr, &root, "b", &fh, NULL, NULL), 0,
		 "userxattr: lookup");
	CHECK_EQ(un_lookup(e2, &root_cr, &fh, "f", &fh, NULL, NULL), 0,
		 "userxattr: lookup through the redirect");
	n = un_read(e2, &root_cr, &fh, 0, sizeof(v) - 1, v, &eof, NULL);
	CHECK(n == 2 && !memcmp(v, "uf", 2), "userxattr: the file below");
	un_export_close(e2);
	/* metacopy with userxattr: user.overlay.metacopy */
	conf.metacopy = true;
	if (un_export_open(c2, &conf, &e2, err, sizeof(err)) < 0) {
		CHECK(0, "userxattr metacopy export: %s", err);
		un_catalog_close(c2);
		return;
	}
	un_root(e2, &root);
	struct un_sattr sa = { .mask = UN_SET_MODE, .mode = 0600 };

	CHECK_EQ(un_lookup(e2, &root_cr, &root, "b", &fh, NULL, NULL), 0,
		 "userxattr metacopy: lookup");
	CHECK_EQ(un_lookup(e2, &root_cr, &fh, "f", &fh, NULL, NULL), 0,
		 "userxattr metacopy: the file");
	CHECK_EQ(un_setattr(e2, &root_cr, &fh, &sa, NULL, NULL), 0,
		 "userxattr metacopy: chmod");
	CHECK(lgetxattr(P("%s/b/f", u), "user.overlay.metacopy", v,
			sizeof(v)) == 0, "user.overlay.metacopy");
	CHECK(lgetxattr(P("%s/b/f", u), "trusted.overlay.metacopy", v,
			sizeof(v)) < 0, "no trusted.overlay.metacopy");
	n = un_read(e2, &root_cr, &fh, 0, sizeof(v) - 1, v, &eof, NULL);
	CHECK(n == 2 && !memcmp(v, "uf", 2), "userxattr metacopy: read below");
	un_export_close(e2);
	un_catalog_close(c2);
}

static void test_hardlinks(void)
{
	struct un_handle a, b, two;
	struct stat sa, sb;

	struct un_attr aa, ab;

	lk("hl-a", &a);
	lk("hl-b", &b);
	CHECK(un_getattr(ex, &a, &aa) == 0 && un_getattr(ex, &b, &ab) == 0 &&
		      aa.fileid == ab.fileid,
	      "names of one lower inode: one fileid");
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len),
	      "names of one lower inode: one handle");
	CHECK_EQ(lk("hl2/sub/two", &two), 0, "lookup in a lower-only dir");
	CHECK_EQ(wr(&a, 2, "+new"), 0, "write to one name");
	CHECK(un_getattr(ex, &b, &ab) == 0 && aa.fileid == ab.fileid,
	      "one fileid after copy-up");
	{
		struct un_handle p1, p2;
		struct un_attr a1, a2;

		lk("hl2/p1", &p1);
		CHECK_EQ(wr(&p1, 0, "PAIR"), 0, "copy-up of an unseen pair");
		CHECK_EQ(lk("hl2/p2", &p2), 0, "the other name, first lookup");
		CHECK(un_getattr(ex, &p1, &a1) == 0 &&
			      un_getattr(ex, &p2, &a2) == 0 &&
			      a1.fileid == a2.fileid,
		      "name first seen after copy-up: same fileid");
		CHECK_STR(rd(&p2), "PAIR", "and the new data");
	}
	CHECK_STR(rd(&b), "hl+new", "the other name shows the new data");
	CHECK(stat(P("%s/hl-a", UP), &sa) == 0 &&
		      stat(P("%s/hl-b", UP), &sb) == 0 && sa.st_ino == sb.st_ino,
	      "one inode in upper");
	CHECK_STR(file(P("%s/hl-a", L1)), "hl", "lower unchanged");
	{
		struct un_handle one;

		lk("hl2/one", &one);
		CHECK_EQ(wr(&one, 0, "v2"), 0, "write the first name");
	}
	CHECK_STR(rd(&two), "v2", "old handle of the other name, other dir");
	CHECK(exists(P("%s/hl2/sub/two", UP)), "its dir copied up too");
}

/* Run SQL on the closed catalog, as a crash would have left it. */
static int db_exec(const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(DB, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static int count_cb(void *arg, int n, char **v, char **names)
{
	(void)names;
	*(int *)arg = n > 0 && v[0] ? atoi(v[0]) : -1;
	return 0;
}

static int db_count(const char *sql)
{
	sqlite3 *db;
	int n = -1;

	if (sqlite3_open(DB, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, count_cb, &n, NULL) != SQLITE_OK)
		n = -1;
	sqlite3_close(db);
	return n;
}

/*
 * kill -9 between a disk rename and its catalog commit: the intent row
 * committed before the disk change lets the restart finish the rename in
 * the catalog, so the client's handle keeps working; an intent whose disk
 * rename never happened is dropped.
 */
static void test_crash_rename(void)
{
	struct un_handle root, h, g, h2, g2;

	un_root(ex, &root);
	un_create(ex, &root_cr, &root, "crash1", UN_CREATE_GUARDED, NULL, NULL,
		  &h, NULL, NULL);
	wr(&h, 0, "one");
	un_create(ex, &root_cr, &root, "crash2", UN_CREATE_GUARDED, NULL, NULL,
		  &g, NULL, NULL);
	wr(&g, 0, "two");
	close_all();
	/* crash1 was renamed on disk, crash2's rename never started */
	CHECK(rename(P("%s/crash1", UP), P("%s/crash1b", UP)) == 0,
	      "disk rename behind the catalog");
	CHECK_EQ(db_exec("INSERT INTO intents(export, oid, oparent, oname, "
			 "nparent, nname) SELECT export, oid, parent, name, "
			 "parent, CAST('crash1b' AS BLOB) FROM names WHERE "
			 "name = CAST('crash1' AS BLOB);"
			 "INSERT INTO intents(export, oid, oparent, oname, "
			 "nparent, nname) SELECT export, oid, parent, name, "
			 "parent, CAST('crash2b' AS BLOB) FROM names WHERE "
			 "name = CAST('crash2' AS BLOB);"),
		 0, "intent rows left by the crash");
	open_all();
	CHECK_STR(rd(&h), "one", "handle of the renamed object works");
	CHECK(lk("crash1b", &h2) == 0 && h2.len == h.len &&
		      !memcmp(h2.data, h.data, h.len),
	      "its new name has the same handle");
	CHECK_EQ(lk("crash1", &h2), -ENOENT, "the old name is gone");
	CHECK_STR(rd(&g), "two", "handle of the unrenamed object works");
	CHECK(lk("crash2", &g2) == 0 && g2.len == g.len &&
		      !memcmp(g2.data, g.data, g.len),
	      "it keeps its old name and handle");
	close_all();
	CHECK_EQ(db_count("SELECT count(*) FROM intents"), 0,
		 "no intent left after the restart");
	open_all();
	{
		struct un_handle f;
		struct un_attr a;
		FILE *devnull = fopen("/dev/null", "w");

		CHECK_EQ(un_fsck(ex, false, devnull), 0, "fsck: consistent");
		lk("crash2", &f);
		unlink(P("%s/crash2", UP)); /* behind the server's back */
		CHECK_EQ(un_fsck(ex, false, devnull), 1, "fsck finds the orphan");
		CHECK_EQ(un_fsck(ex, true, devnull), 1, "fsck repairs it");
		CHECK_EQ(un_fsck(ex, false, devnull), 0, "then all is well");
		CHECK_EQ(un_getattr(ex, &f, &a), -ESTALE, "its handle: STALE");
		CHECK_STR(rd(&h), "one", "other handles untouched");
		if (devnull)
			fclose(devnull);
	}
	close_all();
	open_all();
}

static void test_handles(void)
{
	struct un_handle root, h, h2, d, u1, bad, fh;
	struct un_attr a;

	un_root(ex, &root);
	CHECK_EQ(lk("p/q/deep.txt", &h), 0, "deep lower file");
	CHECK(h.len <= UN_HANDLE_MAX, "handle fits (%u)", h.len);
	CHECK_EQ(wr(&h, 0, "DEEP"), 0, "copy-up of a deep file");
	CHECK(exists(P("%s/p/q/deep.txt", UP)), "ancestors copied up");
	CHECK_STR(rd(&h), "DEEP", "handle after copy-up");
	lk("p/q", &d);
	CHECK_EQ(un_rename(ex, &root_cr, &d, "deep.txt", &d, "deep2.txt", NULL,
			   NULL), 0, "rename");
	CHECK_STR(rd(&h), "DEEP", "handle after rename");
	un_mkdir(ex, &root_cr, &root, "u1", NULL, &u1, NULL, NULL);
	un_create(ex, &root_cr, &u1, "f", UN_CREATE_UNCHECKED, NULL, NULL,
		  &h2, NULL, NULL);
	wr(&h2, 0, "uf");
	CHECK_EQ(un_rename(ex, &root_cr, &root, "u1", &root, "u2", NULL, NULL),
		 0, "rename of an upper dir");
	CHECK_STR(rd(&h2), "uf", "handle after rename of its parent");
	un_getattr(ex, &h2, &a);
	close_all();
	open_all();
	{
		struct un_handle r2;
		struct un_attr b;

		un_root(ex, &r2);
		CHECK(r2.len == root.len && !memcmp(r2.data, root.data, r2.len),
		      "root handle same after restart");
		CHECK_STR(rd(&h), "DEEP", "handle after restart");
		CHECK_STR(rd(&h2), "uf", "handle after restart (renamed dir)");
		un_getattr(ex, &h2, &b);
		CHECK_EQ(b.fileid, a.fileid, "fileid after restart");
	}
	un_root(ex, &root);
	lk("p/q", &d);
	CHECK_EQ(un_remove(ex, &root_cr, &d, "deep2.txt", NULL), 0, "remove");
	CHECK_EQ(un_getattr(ex, &h, &a), -ESTALE, "removed -> ESTALE");
	un_create(ex, &root_cr, &d, "deep2.txt", UN_CREATE_GUARDED, NULL, NULL,
		  &fh, NULL, NULL);
	CHECK_EQ(un_getattr(ex, &h, &a), -ESTALE,
		 "still ESTALE when a new file takes the name");
	CHECK(memcmp(fh.data, h.data, h.len) != 0, "new file, new handle");
	bad = h2;
	bad.data[10] ^= 1;
	CHECK_EQ(un_getattr(ex, &bad, &a), -UN_EBADHANDLE, "flipped byte");
	bad = h2;
	bad.data[30] ^= 0x80;
	CHECK_EQ(un_getattr(ex, &bad, &a), -UN_EBADHANDLE, "flipped tag bit");
	bad = h2;
	bad.len = 20;
	CHECK_EQ(un_getattr(ex, &bad, &a), -UN_EBADHANDLE, "short handle");
	{
		uint32_t id = 0;

		CHECK_EQ(un_handle_export_id(&h2, &id), 0, "export id parse");
		CHECK_EQ(id, un_export_id(ex), "export id");
	}
}

static void test_create(void)
{
	const uint8_t v1[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t v2[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	struct un_handle root, a, b;

	un_root(ex, &root);
	CHECK_EQ(un_create(ex, &root_cr, &root, "ex", UN_CREATE_EXCLUSIVE,
			   NULL, v1, &a, NULL, NULL), 0, "exclusive create");
	CHECK_EQ(un_create(ex, &root_cr, &root, "ex", UN_CREATE_EXCLUSIVE,
			   NULL, v1, &b, NULL, NULL), 0, "retransmission");
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len), "same file");
	CHECK_EQ(un_create(ex, &root_cr, &root, "ex", UN_CREATE_EXCLUSIVE,
			   NULL, v2, &b, NULL, NULL), -EEXIST, "other verifier");
	CHECK_EQ(un_create(ex, &root_cr, &root, "ex", UN_CREATE_GUARDED,
			   NULL, NULL, &b, NULL, NULL), -EEXIST, "guarded");
	CHECK_EQ(un_create(ex, &root_cr, &root, "hidden1", UN_CREATE_GUARDED,
			   NULL, NULL, &b, NULL, NULL), 0, "create over whiteout");
	CHECK_STR(rd(&b), "", "new empty file, nothing from below");
	CHECK(S_ISREG(0100000) && !is_wh(P("%s/hidden1", UP)),
	      "whiteout replaced");
}

static void test_creds(void)
{
	struct un_handle fh, root;
	char buf[64];
	bool eof;
	uint32_t granted = 0;

	lk("secret", &fh);
	CHECK_EQ(un_read(ex, &user_cr, &fh, 0, sizeof(buf), buf, &eof, NULL),
		 -EACCES, "uid 1000 cannot read a 0600 root file");
	CHECK(un_read(ex, &root_cr, &fh, 0, sizeof(buf), buf, &eof, NULL) == 6,
	      "root can");
	lk("pub", &fh);
	CHECK(un_read(ex, &user_cr, &fh, 0, sizeof(buf), buf, &eof, NULL) == 6,
	      "uid 1000 can read a 0644 file");
	CHECK_EQ(un_write(ex, &user_cr, &fh, 0, "x", 1, UN_FILE_SYNC, NULL,
			  NULL), -EACCES, "but not write it");
	CHECK(!exists(P("%s/pub", UP)), "and nothing was copied up");
	struct un_sattr sa = { .mask = UN_SET_MODE, .mode = 0777 };
	CHECK_EQ(un_setattr(ex, &user_cr, &fh, &sa, NULL, NULL), -EPERM,
		 "nor chmod it");
	CHECK(!exists(P("%s/pub", UP)), "still not copied up");
	CHECK_EQ(un_access(ex, &user_cr, &fh, UN_ACCESS_READ | UN_ACCESS_MODIFY,
			   &granted, NULL), 0, "access");
	CHECK_EQ(granted, UN_ACCESS_READ, "read granted, modify not");
	un_root(ex, &root);
	CHECK_EQ(un_create(ex, &user_cr, &root, "mine", UN_CREATE_GUARDED,
			   NULL, NULL, &fh, NULL, NULL), -EACCES,
		 "uid 1000 cannot create in a 0755 root dir");
	CHECK_EQ(un_remove(ex, &user_cr, &root, "a.txt", NULL), -EACCES,
		 "nor remove");
}

struct plus {
	int n, with_fh;
	uint64_t fileid_x;
};

static int collect_plus(void *arg, const struct un_dirent *de)
{
	struct plus *p = arg;

	p->n++;
	if (de->fh && de->attr && de->attr->fileid == de->fileid)
		p->with_fh++;
	if (!strcmp(de->name, "x"))
		p->fileid_x = de->fileid;
	return 0;
}

static void test_misc(void)
{
	struct un_handle root, fh, a, d;
	struct un_attr at, lat;
	struct plus pl = { 0 };
	uint64_t verf;
	bool eof;
	char buf[64];

	un_root(ex, &root);
	CHECK_EQ(un_symlink(ex, &root_cr, &root, "newsym", "a.txt", NULL, &fh,
			    &at, NULL), 0, "symlink");
	CHECK_EQ(at.type, UN_LNK, "it is a symlink");
	CHECK_EQ(un_readlink(ex, &root_cr, &fh, buf, sizeof(buf), NULL), 5,
		 "readlink of the new symlink");
	CHECK_EQ(un_mknod(ex, &root_cr, &root, "fifo", UN_FIFO, 0, 0, NULL,
			  &fh, &at, NULL), 0, "mknod fifo");
	CHECK_EQ(at.type, UN_FIFO, "it is a fifo");
	CHECK_EQ(un_mknod(ex, &user_cr, &root, "dev", UN_CHR, 1, 3, NULL,
			  &fh, &at, NULL), -EPERM, "devices need root");
	lk("pub", &a);
	CHECK_EQ(un_link(ex, &root_cr, &a, &root, "pub-link", &lat, NULL), 0,
		 "link of a lower file");
	CHECK_EQ(lat.nlink, 2, "two names now");
	CHECK(exists(P("%s/pub", UP)) && exists(P("%s/pub-link", UP)),
	      "copied up and linked in upper");
	CHECK_EQ(lk("d", &d), 0, "merged dir");
	CHECK_EQ(un_readdir(ex, &root_cr, &d, 0, 0, true, collect_plus, &pl,
			    &verf, &eof, NULL), 0, "readdirplus");
	CHECK(eof && pl.n == 5 && pl.with_fh == 5, "handles and attrs for all "
	      "(%d of %d)", pl.with_fh, pl.n);
	CHECK_EQ(lk("d/x", &fh), 0, "lookup");
	CHECK_EQ(un_getattr(ex, &fh, &at), 0, "getattr");
	CHECK_EQ(pl.fileid_x, at.fileid, "readdir fileid = lookup fileid");
	CHECK_EQ(un_lookup_parent(ex, &root_cr, &d, &fh, &at), 0, "..");
	CHECK(fh.len == root.len && !memcmp(fh.data, root.data, fh.len),
	      ".. of d is the root");
}

/* ---- READDIRPLUS attributes kept between listings (readdir.c) ---- */

struct plus_one {
	const char *name;
	bool found;
	struct un_attr attr;
};

static int find_plus(void *arg, const struct un_dirent *de)
{
	struct plus_one *p = arg;

	if (!strcmp(de->name, p->name) && de->attr) {
		p->found = true;
		p->attr = *de->attr;
	}
	return 0;
}

/* The attributes READDIRPLUS of dir gives name, size or -1. */
static long long plus_size(const char *dir, const char *name, uint32_t *mode)
{
	struct plus_one p = { .name = name };
	struct un_handle d;
	uint64_t verf;
	bool eof;

	if (lk(dir, &d) < 0 ||
	    un_readdir(ex, &root_cr, &d, 0, 0, true, find_plus, &p, &verf,
		       &eof, NULL) < 0 || !p.found)
		return -1;
	if (mode)
		*mode = p.attr.mode;
	return (long long)p.attr.size;
}

static void test_plus_kept(void)
{
	struct un_handle root, dir, fh, d2;
	uint32_t mode = 0;

	un_root(ex, &root);
	CHECK_EQ(un_mkdir(ex, &root_cr, &root, "pk", NULL, &dir, NULL, NULL),
		 0, "mkdir pk");
	CHECK_EQ(un_create(ex, &root_cr, &dir, "f", UN_CREATE_GUARDED, NULL,
			   NULL, &fh, NULL, NULL), 0, "create pk/f");
	CHECK_EQ(wr(&fh, 0, "abc"), 0, "write 3 bytes");
	CHECK_EQ(plus_size("pk", "f", NULL), 3, "listed with 3 bytes");
	CHECK_EQ(plus_size("pk", "f", NULL), 3, "again: 3 bytes");
	put(P("%s/pk/f", UP), "abcdef");
	CHECK_EQ(plus_size("pk", "f", NULL), 6,
		 "a write behind our back shows at the next listing");
	CHECK_EQ(wr(&fh, 0, "0123456789"), 0, "write 10 bytes through us");
	CHECK_EQ(plus_size("pk", "f", NULL), 10, "and that one too");
	CHECK_EQ(chmod(P("%s/pk/f", UP), 0600), 0, "chmod behind our back");
	CHECK_EQ(plus_size("pk", "f", &mode), 10, "listed");
	CHECK_EQ(mode, 0600, "with the new mode");
	/* a write through another name is reported in the other directory,
	 * so a file with two names is looked up each time */
	mkd(P("%s/pk2", UP));
	CHECK_EQ(lk("pk2", &d2), 0, "pk2");
	CHECK_EQ(un_link(ex, &root_cr, &fh, &d2, "g", NULL, NULL), 0,
		 "hard link through us");
	CHECK_EQ(plus_size("pk", "f", NULL), 10, "listed with two names");
	put(P("%s/pk2/g", UP), "0123456789abcdef");
	CHECK_EQ(plus_size("pk", "f", NULL), 16,
		 "a write through the other name shows");
	/* linked behind our back while kept with one name: forgotten
	 * within a second (readdir.c), waited for here up to a minute */
	CHECK_EQ(un_create(ex, &root_cr, &dir, "h", UN_CREATE_GUARDED, NULL,
			   NULL, &fh, NULL, NULL), 0, "create pk/h");
	CHECK_EQ(plus_size("pk", "h", NULL), 0, "listed empty");
	CHECK_EQ(link(P("%s/pk/h", UP), P("%s/pk2/h2", UP)), 0,
		 "linked behind our back");
	put(P("%s/pk2/h2", UP), "12345");
	for (int i = 0; i < 6000 && plus_size("pk", "h", NULL) != 5; i++)
		usleep(10000);
	CHECK_EQ(plus_size("pk", "h", NULL), 5,
		 "a write through a name made behind our back shows");
	/* lower layers are watched too */
	CHECK_EQ(plus_size("d", "y", NULL), 4, "d/y from lower 2");
	put(P("%s/d/y", L2), "l2-y-longer");
	CHECK_EQ(plus_size("d", "y", NULL), 11,
		 "a change in a lower layer shows");
	CHECK_EQ(un_remove(ex, &root_cr, &dir, "f", NULL), 0, "remove pk/f");
	CHECK_EQ(plus_size("pk", "f", NULL), -1, "gone from the listing");
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct un_handle dir, fh;
	long bad = 0;

	if (lk("conc", &dir) < 0)
		return (void *)1L;
	for (int j = 0; j < 50; j++) {
		const char *name = P("t%ld-%d", id, j);

		if (un_create(ex, &root_cr, &dir, name, UN_CREATE_GUARDED, NULL,
			      NULL, &fh, NULL, NULL) < 0 ||
		    wr(&fh, 0, name) < 0 || strcmp(rd(&fh), name) != 0)
			bad++;
		if (lk("d/x", &fh) < 0 || lk("big", &fh) < 0)
			bad++;
	}
	return (void *)bad;
}

static void test_threads(void)
{
	struct un_handle root, fh;
	pthread_t t[4];
	long bad = 0;
	void *r;

	un_root(ex, &root);
	un_mkdir(ex, &root_cr, &root, "conc", NULL, &fh, NULL, NULL);
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	CHECK_EQ(bad, 0, "4 threads creating, writing, reading, looking up");
	CHECK_EQ(strlen(listing("conc")) > 0, 1, "listing");
	{
		int n = 0;
		const char *s = listing("conc");

		for (; *s; s++)
			n += *s == ' ';
		CHECK_EQ(n + 1, 202, "every file listed once");
	}
}

/* ---- overlayfs comparison ------------------------------------------- */

struct lines {
	char **v;
	int n;
};

static void add_line(struct lines *l, const char *s)
{
	l->v = realloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
	l->v[l->n++] = strdup(s);
}

static void engine_tree(const struct un_handle *dir, const char *prefix,
			struct lines *out);

static void engine_entry(const struct un_handle *dir, const char *prefix,
			 const char *name, struct lines *out)
{
	struct un_handle fh;
	struct un_attr a;
	char path[1024], buf[512] = "";

	if (un_lookup(ex, &root_cr, dir, name, &fh, &a, NULL) < 0) {
		add_line(out, P("%s/%s LOOKUP-FAILED", prefix, name));
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", prefix, name);
	if (a.type == UN_REG)
		snprintf(buf, sizeof(buf), "%s", rd(&fh));
	else if (a.type == UN_LNK)
		un_readlink(ex, &root_cr, &fh, buf, sizeof(buf), NULL);
	add_line(out, P("%s t%d m%o %s", path, a.type, a.mode, buf));
	if (a.type == UN_DIR)
		engine_tree(&fh, path, out);
}

static void engine_tree(const struct un_handle *dir, const char *prefix,
			struct lines *out)
{
	struct names *ns = calloc(1, sizeof(*ns));
	uint64_t verf;
	bool eof;

	un_readdir(ex, &root_cr, dir, 0, 0, false, collect, ns, &verf, &eof,
		   NULL);
	for (int i = 0; i < ns->n && i < 256; i++)
		if (strcmp(ns->v[i], ".") && strcmp(ns->v[i], ".."))
			engine_entry(dir, prefix, ns->v[i], out);
	free(ns);
}

static void kernel_tree(const char *real, const char *prefix,
			struct lines *out)
{
	DIR *d = opendir(real);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char rp[1024], path[1024], buf[512] = "";
		struct stat st;
		int type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(rp, sizeof(rp), "%s/%s", real, de->d_name);
		snprintf(path, sizeof(path), "%s/%s", prefix, de->d_name);
		if (lstat(rp, &st) < 0)
			continue;
		type = S_ISREG(st.st_mode) ? UN_REG : S_ISDIR(st.st_mode) ? UN_DIR
			: S_ISLNK(st.st_mode) ? UN_LNK : S_ISFIFO(st.st_mode)
			? UN_FIFO : S_ISSOCK(st.st_mode) ? UN_SOCK
			: S_ISCHR(st.st_mode) ? UN_CHR : UN_BLK;
		if (type == UN_REG)
			snprintf(buf, sizeof(buf), "%s", file(rp));
		else if (type == UN_LNK) {
			ssize_t n = readlink(rp, buf, sizeof(buf) - 1);

			buf[n > 0 ? n : 0] = '\0';
		}
		add_line(out, P("%s t%d m%o %s", path, type,
				st.st_mode & 07777, buf));
		if (type == UN_DIR)
			kernel_tree(rp, path, out);
	}
	if (d)
		closedir(d);
}

static int cmpline(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_lines(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void test_overlay_mount(void)
{
	struct lines eng = { 0 }, ker = { 0 };
	struct un_handle root;
	char mnt[300], opts[2048];
	int diff = 0;

	snprintf(mnt, sizeof(mnt), "%s/mnt", T);
	mkd(mnt);
	un_root(ex, &root);
	engine_tree(&root, "", &eng);
	close_all(); /* the layers must not change while mounted */
	snprintf(opts, sizeof(opts), "lowerdir=%s:%s,upperdir=%s,workdir=%s",
		 L1, L2, UP, WK);
	if (mount("overlay", mnt, "overlay", 0, opts) < 0) {
		printf("# skip: mount -t overlay: %s\n", strerror(errno));
		free_lines(&eng);
		open_all();
		return;
	}
	kernel_tree(mnt, "", &ker);
	umount2(mnt, MNT_DETACH);
	qsort(eng.v, (size_t)eng.n, sizeof(char *), cmpline);
	qsort(ker.v, (size_t)ker.n, sizeof(char *), cmpline);
	for (int i = 0; i < eng.n || i < ker.n; i++) {
		const char *e = i < eng.n ? eng.v[i] : "(none)";
		const char *k = i < ker.n ? ker.v[i] : "(none)";

		if (strcmp(e, k) != 0 && diff++ < 5)
			printf("#   engine: %s\n#   kernel: %s\n", e, k);
	}
	CHECK_EQ(eng.n, ker.n, "kernel overlay: same number of entries");
	CHECK_EQ(diff, 0, "kernel overlay of the layers = the engine's view");
	free_lines(&eng);
	free_lines(&ker);
	open_all();
}

/* Length of the metacopy xattr of path, or -errno (-ENODATA: none). */
static int metacopy_len(const char *path)
{
	ssize_t n = lgetxattr(path, "trusted.overlay.metacopy", NULL, 0);

	return n < 0 ? -errno : (int)n;
}

static int chmod_h(const struct un_handle *fh, mode_t mode)
{
	struct un_sattr sa = { .mask = UN_SET_MODE, .mode = mode };

	return un_setattr(ex, &root_cr, fh, &sa, NULL, NULL);
}

/* Kernel overlayfs (metacopy=on) reads the layers the engine made as the
 * engine does: data from below, metadata from upper. */
static void metacopy_kernel(void)
{
	char mnt[300], opts[2048];
	struct stat st;

	snprintf(mnt, sizeof(mnt), "%s/mnt", T);
	mkd(mnt);
	close_all();
	snprintf(opts, sizeof(opts), "lowerdir=%s:%s,upperdir=%s,workdir=%s,"
		 "metacopy=on,redirect_dir=on", L1, L2, UP, WK);
	if (mount("overlay", mnt, "overlay", 0, opts) < 0) {
		printf("# skip: mount -t overlay -o metacopy=on: %s\n",
		       strerror(errno));
		open_all();
		return;
	}
	CHECK_STR(file(P("%s/mc-keep.txt", mnt)), "kept below",
		  "kernel: a metacopy file's data from below");
	CHECK(stat(P("%s/mc-keep.txt", mnt), &st) == 0 &&
	      (st.st_mode & 07777) == 0604 && st.st_blocks > 0,
	      "kernel: its mode from upper, its blocks from below");
	CHECK_STR(file(P("%s/mc.txt", mnt)), "Metacopy data",
		  "kernel: the written file");
	CHECK_STR(file(P("%s/mc-moved", mnt)), "in a renamed dir",
		  "kernel: metacopy file moved out of a redirected dir");
	umount2(mnt, MNT_DETACH);
	open_all();
}

static void test_metacopy(void)
{
	struct un_sattr touch = { .mask = UN_SET_MTIME,
				  .mtime = { 1200000000, 0 } };
	struct un_sattr trunc = { .mask = UN_SET_SIZE, .size = 3 };
	struct un_handle fh, sp, root, d, keep, tf;
	struct stat st, lo;
	struct un_attr a;
	char buf[16];
	bool eof;
	int fd;

	put(P("%s/mc.txt", L1), "metacopy data");
	put(P("%s/mc-keep.txt", L1), "kept below");
	put(P("%s/mc-off.txt", L1), "full copy");
	put(P("%s/mc-touch.txt", L1), "touched then cut");
	mkd(P("%s/mcdir", L1));
	put(P("%s/mcdir/f", L1), "in a renamed dir");
	fd = open(P("%s/mc-sparse", L1), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && pwrite(fd, "S", 1, 6 << 20) == 1 &&
	      ftruncate(fd, 8 << 20) == 0, "sparse lower file");
	if (fd >= 0)
		close(fd);

	/* the switch off (the default): chmod copies the data */
	CHECK_EQ(lk("mc-off.txt", &fh), 0, "lower file, metacopy off");
	CHECK_EQ(chmod_h(&fh, 0600), 0, "chmod, metacopy off");
	CHECK_EQ(metacopy_len(P("%s/mc-off.txt", UP)), -ENODATA,
		 "metacopy off: no metacopy xattr");
	CHECK_STR(file(P("%s/mc-off.txt", UP)), "full copy",
		  "metacopy off: the data copied up");

	close_all();
	metacopy_on = true;
	open_all();
	CHECK_EQ(lk("mc.txt", &fh), 0, "lower file");
	CHECK_EQ(chmod_h(&fh, 0600), 0, "chmod of a lower file");
	CHECK(stat(P("%s/mc.txt", UP), &st) == 0 && st.st_size == 13 &&
	      st.st_blocks == 0 && (st.st_mode & 07777) == 0600,
	      "upper: the metadata, the size, no data");
	CHECK_EQ(metacopy_len(P("%s/mc.txt", UP)), 0,
		 "upper: empty trusted.overlay.metacopy");
	CHECK(stat(P("%s/mc.txt", L1), &lo) == 0 &&
	      (lo.st_mode & 07777) == 0644, "lower untouched");
	CHECK_STR(rd(&fh), "metacopy data", "READ takes the data from below");
	CHECK_EQ(un_getattr(ex, &fh, &a), 0, "GETATTR");
	CHECK(a.mode == 0600 && a.size == 13 &&
	      a.used == (uint64_t)lo.st_blocks * 512,
	      "GETATTR: upper mode, lower size and blocks (%llu)",
	      (unsigned long long)a.used);
	CHECK_EQ(un_read(ex, &user_cr, &fh, 0, sizeof(buf), buf, &eof, NULL),
		 -EACCES, "READ checks the upper mode, not the lower one");
	CHECK_EQ(wr(&fh, 0, "M"), 0, "WRITE copies the data up");
	CHECK_STR(file(P("%s/mc.txt", UP)), "Metacopy data", "data in upper");
	CHECK_EQ(metacopy_len(P("%s/mc.txt", UP)), -ENODATA,
		 "metacopy xattr gone");
	CHECK(stat(P("%s/mc.txt", UP), &st) == 0 &&
	      (st.st_mode & 07777) == 0600, "mode kept by the data copy-up");
	CHECK_STR(file(P("%s/mc.txt", L1)), "metacopy data", "lower data kept");

	CHECK_EQ(lk("mc-sparse", &sp), 0, "sparse lower file");
	CHECK_EQ(chmod_h(&sp, 0640), 0, "chmod: metacopy");
	CHECK_EQ(metacopy_len(P("%s/mc-sparse", UP)), 0, "sparse: metacopy");
	CHECK_EQ(wr(&sp, 0, "x"), 0, "write to the sparse file");
	CHECK(stat(P("%s/mc-sparse", UP), &st) == 0 && st.st_size == 8 << 20 &&
	      st.st_blocks * 512 < (1 << 20), "holes kept (%lld blocks)",
	      (long long)st.st_blocks);
	CHECK(un_read(ex, &root_cr, &sp, 6 << 20, 2, buf, &eof, NULL) == 2 &&
	      buf[0] == 'S', "data past the hole");

	CHECK_EQ(lk("mc-touch.txt", &tf), 0, "another lower file");
	CHECK_EQ(un_setattr(ex, &root_cr, &tf, &touch, NULL, NULL), 0,
		 "touch: metacopy");
	CHECK(metacopy_len(P("%s/mc-touch.txt", UP)) == 0 &&
	      stat(P("%s/mc-touch.txt", UP), &st) == 0 &&
	      st.st_mtim.tv_sec == 1200000000, "touch: metadata only");
	CHECK_EQ(un_setattr(ex, &root_cr, &tf, &trunc, NULL, NULL), 0,
		 "truncate of a metacopy file");
	CHECK_STR(file(P("%s/mc-touch.txt", UP)), "tou", "data up, then cut");
	CHECK_EQ(metacopy_len(P("%s/mc-touch.txt", UP)), -ENODATA,
		 "truncate: metacopy xattr gone");

	un_root(ex, &root);
	CHECK_EQ(un_rename(ex, &root_cr, &root, "mcdir", &root, "mcdir2",
			   NULL, NULL), 0, "rename of a lower dir");
	CHECK_EQ(lk("mcdir2/f", &d), 0, "file in the renamed dir");
	CHECK_EQ(chmod_h(&d, 0600), 0, "chmod below a redirect");
	CHECK_EQ(metacopy_len(P("%s/mcdir2/f", UP)), 0, "metacopy there too");
	CHECK_STR(redirect_of(P("%s/mcdir2/f", UP)), "/mcdir/f",
		  "absolute redirect to its data");
	CHECK_STR(rd(&d), "in a renamed dir", "data through the redirect");
	lk("mcdir2", &d);
	CHECK_EQ(un_rename(ex, &root_cr, &d, "f", &root, "mc-moved", NULL,
			   NULL), 0, "rename of a metacopy file");
	CHECK_EQ(metacopy_len(P("%s/mc-moved", UP)), 0, "still metacopy");
	CHECK_STR(rdp("mc-moved"), "in a renamed dir", "data after the rename");

	put(P("%s/mc-link", L1), "linked");
	CHECK_EQ(lk("mc-link", &d), 0, "a lower file to link");
	CHECK_EQ(chmod_h(&d, 0600), 0, "chmod: metacopy");
	CHECK_EQ(un_link(ex, &root_cr, &d, &root, "mc-link2", NULL, NULL), 0,
		 "LINK of a metacopy file");
	CHECK_EQ(metacopy_len(P("%s/mc-link", UP)), -ENODATA,
		 "LINK copied the data up first (in place)");
	CHECK(stat(P("%s/mc-link", UP), &st) == 0 &&
	      stat(P("%s/mc-link2", UP), &lo) == 0 && st.st_ino == lo.st_ino &&
	      (st.st_mode & 07777) == 0600, "one upper inode, mode kept");
	CHECK_STR(rdp("mc-link2"), "linked", "the new name reads the data");

	CHECK_EQ(lk("mc-keep.txt", &keep), 0, "one more lower file");
	CHECK_EQ(chmod_h(&keep, 0604), 0, "chmod: stays metacopy");
	CHECK_EQ(work_litter(WK), 0, "no temporaries left in work");
	metacopy_kernel();
	/* leave no metacopy file for kernels mounted without metacopy=on */
	CHECK_EQ(lk("mc-keep.txt", &keep), 0, "again");
	CHECK_EQ(wr(&keep, 0, "K"), 0, "complete it");
	CHECK_EQ(lk("mc-moved", &d), 0, "again");
	CHECK_EQ(wr(&d, 0, "I"), 0, "complete it");
	close_all();
	metacopy_on = false;
	open_all();
}

static void test_key(void)
{
	struct un_catalog *c2;
	char err[256] = "";

	chmod(P("%s.key", DB), 0644);
	CHECK(un_catalog_open(DB, &c2, err, sizeof(err)) == -EPERM,
	      "key file with mode 0644 refused (%s)", err);
	chmod(P("%s.key", DB), 0600);
}

/* A pinned (open) file outlives the removal of its last name (orphan.c). */
static void test_pinned_remove(void)
{
	struct un_handle root, fh, low, d;
	struct un_attr a;

	put(P("%s/pinlow.txt", L1), "lower pinned");
	un_root(ex, &root);
	CHECK_EQ(un_create(ex, &root_cr, &root, "pin.txt", UN_CREATE_GUARDED,
			   NULL, NULL, &fh, NULL, NULL), 0, "create pin.txt");
	CHECK_EQ(wr(&fh, 0, "pinned"), 0, "write it");
	CHECK_EQ(un_pin(cat, &fh), 0, "pin it");
	CHECK_EQ(un_remove(ex, &root_cr, &root, "pin.txt", NULL), 0,
		 "remove the pinned file");
	CHECK_EQ(lk("pin.txt", &d), -ENOENT, "its name is gone");
	CHECK(!exists(P("%s/pin.txt", UP)), "and gone from upper");
	CHECK_STR(rd(&fh), "pinned", "its handle still reads");
	CHECK_EQ(wr(&fh, 6, "!"), 0, "and writes");
	CHECK_STR(rd(&fh), "pinned!", "the write is there");
	CHECK(un_getattr(ex, &fh, &a) == 0 && a.nlink == 0, "nlink 0");
	CHECK_EQ(un_link(ex, &root_cr, &fh, &root, "back.txt", NULL, NULL),
		 -ENOENT, "no new name for a removed file");
	un_unpin(cat, &fh);
	CHECK_EQ(un_getattr(ex, &fh, &a), -ESTALE, "unpinned: STALE");
	CHECK_STR(rd(&fh), P("<%d>", -ESTALE), "READ: STALE");
	CHECK(!exists(P("%s/#unionnfsd.orphans", WK)), "the work dir is clean");

	/* pinned twice, from below: copied up aside, a whiteout at the name */
	CHECK_EQ(lk("pinlow.txt", &low), 0, "look up a lower file");
	CHECK(un_pin(cat, &low) == 0 && un_pin(cat, &low) == 0, "pin it twice");
	CHECK_EQ(un_remove(ex, &root_cr, &root, "pinlow.txt", NULL), 0,
		 "remove it");
	CHECK(is_wh(P("%s/pinlow.txt", UP)), "a whiteout hides the name");
	CHECK_STR(file(P("%s/pinlow.txt", L1)), "lower pinned",
		  "the lower file is untouched");
	un_unpin(cat, &low);
	CHECK_STR(rd(&low), "lower pinned", "one pin left: still reads");
	un_unpin(cat, &low);
	CHECK_STR(rd(&low), P("<%d>", -ESTALE), "no pin left: STALE");
	CHECK(!exists(P("%s/#unionnfsd.orphans", WK)), "the work dir is clean");
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # skip: needs root\n");
		return 77;
	}
	test_siphash();
	setup_layers();
	open_all();
	test_lookup();
	test_names();
	test_symlinks();
	test_readdir();
	test_cookies();
	test_copy_up_write();
	test_copy_up_race();
	test_reflink();
	test_setattr();
	test_remove();
	test_rename();
	test_redirect();
	test_redirect_userxattr();
	test_hardlinks();
	test_handles();
	test_crash_rename();
	test_create();
	test_creds();
	test_misc();
	test_plus_kept();
	test_threads();
	test_overlay_mount();
	test_metacopy();
	test_pinned_remove();
	close_all();
	test_key();
	if (!getenv("KEEP"))
		system(P("rm -rf %s", T));
	return tap_done();
}
