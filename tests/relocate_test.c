/*
 * relocate_test.c - handles depend on no device or inode number: the
 * layers copied to another file system (`cp -a` onto a tmpfs: new st_dev,
 * new inode numbers) and served again with the same catalog keep every
 * handle and fileid: of a lower file, of an upper file, of a copied-up
 * file, of a renamed one, of both names of a lower hard link, and of a
 * directory.  Removed objects stay STALE.
 *
 * The tmpfs is mounted in a private mount namespace, so it goes away
 * with the test however it exits.  Needs root, otherwise skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "nfsraw.h"
#include "tap.h"

struct kept {
	const char *path, *data;	/* data: NULL for a directory */
	struct fh fh;
	uint64_t fileid;
};

/* cow.txt is copied up by a write, made.txt created, renamed.txt was
 * ren.txt, hl-a and hl-b are one lower file written through hl-b. */
static struct kept kept[] = {
	{ .path = "low.txt", .data = "lower file\n" },
	{ .path = "dir/deep.txt", .data = "deep lower\n" },
	{ .path = "cow.txt", .data = "COPIED UP\n" },
	{ .path = "made.txt", .data = "made upper\n" },
	{ .path = "renamed.txt", .data = "renamed\n" },
	{ .path = "hl-a", .data = "HARD\n" },
	{ .path = "hl-b", .data = "HARD\n" },
	{ .path = "dir", .data = NULL },
};
#define NKEPT (sizeof(kept) / sizeof(kept[0]))

static int run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		printf("# %s: status %d\n", cmd, rc);
	return rc;
}

/* The changes through NFS that put objects in every situation. */
static int prepare(struct fh *gone)
{
	struct fh f;

	r_walk("cow.txt", NULL);
	f = R.fh;
	r_write(&f, 0, "COPIED UP\n", 10, 10, FILE_SYNC);
	if (R.status != NFS3_OK)
		return -1;
	r_create(&root, "made.txt", GUARDED, NULL);
	f = R.fh;
	r_write(&f, 0, "made upper\n", 11, 11, FILE_SYNC);
	r_rename(&root, "ren.txt", &root, "renamed.txt");
	if (R.status != NFS3_OK)
		return -1;
	r_walk("hl-b", NULL);
	f = R.fh;
	r_write(&f, 0, "HARD\n", 5, 5, FILE_SYNC);
	r_walk("doomed.txt", NULL);
	*gone = R.fh;
	r_remove(&root, "doomed.txt");
	return R.status == NFS3_OK ? 0 : -1;
}

static void check_all(const char *when)
{
	int bad = 0;

	for (size_t i = 0; i < NKEPT; i++) {
		struct kept *k = &kept[i];

		r_getattr(&k->fh);
		if (R.status != NFS3_OK || R.attr.fileid != k->fileid) {
			printf("# %s: GETATTR %d, fileid %llu want %llu\n",
			       k->path, R.status,
			       (unsigned long long)R.attr.fileid,
			       (unsigned long long)k->fileid);
			bad++;
			continue;
		}
		if (k->data) {
			r_read(&k->fh, 0, 100);
			if (R.status != NFS3_OK || strcmp(R.data, k->data)) {
				printf("# %s: READ %d \"%s\"\n", k->path,
				       R.status, R.data);
				bad++;
			}
		}
		r_walk(k->path, NULL);
		if (R.status != NFS3_OK || !fh_eq(&R.fh, &k->fh)) {
			printf("# %s: LOOKUP %d, not the kept handle\n",
			       k->path, R.status);
			bad++;
		}
	}
	CHECK_EQ(bad, 0, "%s: every kept handle works, keeps its fileid and "
		 "is what LOOKUP gives", when);
}

int main(void)
{
	struct tdaemon d;
	struct fh gone;
	char fs[280], cmd[4096], path[600];
	struct stat before, after;

	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP needs root and a private mount namespace\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (tdaemon_init(&d, "relocate") < 0 ||
	    tfile_write(d.lower, "low.txt", "lower file\n") < 0 ||
	    tfile_write(d.lower, "dir/deep.txt", "deep lower\n") < 0 ||
	    tfile_write(d.lower, "cow.txt", "lower cow\n") < 0 ||
	    tfile_write(d.lower, "ren.txt", "renamed\n") < 0 ||
	    tfile_write(d.lower, "doomed.txt", "bye\n") < 0 ||
	    tfile_write(d.lower, "hl-a", "hl\n") < 0) {
		printf("Bail out! layers\n");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "ln '%s/hl-a' '%s/hl-b'", d.lower, d.lower);
	if (run(cmd) != 0 || tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		printf("Bail out! daemon\n");
		tdaemon_cleanup(&d);
		return 1;
	}
	CHECK_EQ(prepare(&gone), 0, "copy-up, create, rename, hard-link "
		 "copy-up and remove through NFS");
	for (size_t i = 0; i < NKEPT; i++) {
		r_walk(kept[i].path, NULL);
		kept[i].fh = R.fh;
		r_getattr(&kept[i].fh);
		kept[i].fileid = R.attr.fileid;
	}
	CHECK_EQ(kept[5].fileid, kept[6].fileid,
		 "both names of the lower hard link: one fileid");
	check_all("before the move");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "clean stop");

	/* Everything but the catalog moves to another file system. */
	snprintf(fs, sizeof(fs), "%s/elsewhere", d.dir);
	if (mkdir(fs, 0755) < 0 ||
	    mount("tmpfs", fs, "tmpfs", 0, "size=64m,mode=0755") < 0) {
		printf("Bail out! tmpfs: %s\n", strerror(errno));
		tdaemon_cleanup(&d);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/low.txt", d.lower);
	stat(path, &before);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s' '%s' '%s/' && "
		 "rm -rf '%s' '%s' '%s'", d.lower, d.upper, d.work, fs,
		 d.lower, d.upper, d.work);
	CHECK_EQ(run(cmd), 0, "layers copied with cp -a, originals removed");
	snprintf(d.lower, sizeof(d.lower), "%s/lower", fs);
	snprintf(d.upper, sizeof(d.upper), "%s/upper", fs);
	snprintf(d.work, sizeof(d.work), "%s/work", fs);
	snprintf(path, sizeof(path), "%s/low.txt", d.lower);
	stat(path, &after);
	CHECK(before.st_dev != after.st_dev,
	      "the layers are on another device now");

	if (tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "the daemon serves the moved layers");
		goto out;
	}
	check_all("after the move to another file system");
	r_getattr(&gone);
	CHECK_EQ(R.status, NFS3ERR_STALE, "a removed file's handle: STALE");
	r_walk("hl-a", NULL);
	CHECK_EQ(R.attr.fileid, kept[5].fileid,
		 "hard link: still one fileid after the move");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "clean stop after the move");
out:
	raw_close();
	tdaemon_kill(&d);
	umount2(fs, MNT_DETACH);
	tdaemon_cleanup(&d);
	return tap_done();
}
