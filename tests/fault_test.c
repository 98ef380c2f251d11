/*
 * fault_test.c - the daemon under faults (issue 6): forged handles in
 * bulk (rate-limited log), a damaged catalog (refused at start, rebuilt
 * from the layers), the upper layer's and the catalog's file systems
 * running full (the catalog's also under concurrent CREATEs that share a
 * failing commit), and lower layers that become unreadable or vanish.
 *
 * File systems that run full are small tmpfs mounts.  The test first
 * moves into a private mount namespace, so every mount it makes goes
 * away with it (and with its daemons) however it exits.  Needs root for
 * that; otherwise it is skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "nfsraw.h"
#include "tap.h"

/* ---- helpers --------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run unionnfsd in the foreground with d's export and the extra options
 * (--fsck, --rebuild-catalog, or nothing: a start that should fail),
 * output to out.  Returns its exit status, or -1 (killed after 60 s).
 */
static int run_tool(const struct tdaemon *d, const char *extra,
		    const char *out)
{
	const char *bin = getenv("UNIONNFSD");
	long deadline = now_ms() + 60000;
	int status, fd;
	pid_t pid, r;

	if (!bin || !*bin)
		bin = "./unionnfsd";
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		const char *argv[] = { bin, "-f", "--no-rpcbind", "--listen",
				       "127.0.0.1:0", "--catalog", d->catalog,
				       "--export", "/export", "--lower",
				       d->lower, "--upper", d->upper, "--work",
				       d->work, "--clients", d->clients,
				       extra, NULL };

		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		poll(NULL, 0, 20);
	}
	return r == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Lines of path containing needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static bool file_has(const char *path, const char *needle)
{
	return count_lines(path, needle) > 0;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n = 0;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (out < 0 || close(out) < 0)
		return -1;
	return n < 0 ? -1 : 0;
}

static int write_at(const char *path, off_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = pwrite(fd, p, n, off);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

/* Files named prefix* in dir (the work directory's temporaries). */
static int count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static int mount_tmpfs(const char *dir, const char *opts)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0) {
		fprintf(stderr, "# mount tmpfs %s on %s: %s\n", opts, dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Fill the file system of dir with a file until it is full. */
static void fill_fs(const char *dir, const char *name)
{
	char path[512], buf[4096];
	int fd;

	memset(buf, 'x', sizeof(buf));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return;
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* Write a file of len bytes in dir (less if the fs runs full). */
static void fill_part(const char *dir, const char *name, size_t len)
{
	char path[512], buf[4096];
	size_t done = 0;
	int fd;

	memset(buf, 'r', sizeof(buf));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return;
	while (done < len && write(fd, buf, sizeof(buf)) > 0)
		done += sizeof(buf);
	close(fd);
}

/* ---- 1. forged handles: one log line per client, not one per request -- */

#define FORGED 1000

static void test_forged_log(void)
{
	struct tdaemon d;
	struct fh forged;
	int i, bad = 0;

	if (tdaemon_init(&d, "fault-forged") < 0 || tdaemon_start(&d) < 0 ||
	    raw_open(d.port) < 0) {
		CHECK(0, "forged: daemon and mount");
		tdaemon_cleanup(&d);
		return;
	}
	forged = root;
	forged.data[forged.len - 1] ^= 0x55; /* in the integrity tag */
	for (i = 0; i < FORGED; i++)
		if (r_getattr(&forged) != 0 || R.status != NFS3ERR_BADHANDLE)
			bad++;
	CHECK_EQ(bad, 0, "forged: %d GETATTRs with an altered tag answered "
		 "BADHANDLE", FORGED);
	r_getattr(&root);
	CHECK_EQ(R.status, NFS3_OK, "forged: the real handle still works");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "forged: clean stop");
	CHECK_EQ(count_lines(d.log, "bad file handle from 127.0.0.1"), 2,
		 "forged: the log has one line and one summary, not %d lines",
		 FORGED);
	CHECK_EQ(count_lines(d.log, "bad file handle from 127.0.0.1: 999 "
				    "more suppressed"), 1,
		 "forged: the summary counts the %d suppressed", FORGED - 1);
	tdaemon_cleanup(&d);
}

/* ---- 2. a damaged catalog: refused at start, rebuilt from the layers -- */

static bool start_refused(struct tdaemon *d, const char *what)
{
	char out[400];
	int rc;

	snprintf(out, sizeof(out), "%s/refused.out", d->dir);
	rc = run_tool(d, NULL, out);
	CHECK_EQ(rc, 1, "catalog %s: the daemon refuses to start", what);
	CHECK(file_has(out, "is damaged") &&
		      file_has(out, "--rebuild-catalog") &&
		      file_has(out, d->catalog),
	      "catalog %s: the message names the file and the cure", what);
	return rc == 1;
}

static void test_catalog_damage(void)
{
	static const uint8_t garbage[64] = "this is not a database at all";
	static const uint8_t app_id[4] = { 0x12, 0x34, 0x56, 0x78 };
	struct tdaemon d;
	struct fh old_file, old_upper, fh;
	char backup[400], out[400];
	struct stat st;

	if (tdaemon_init(&d, "fault-catalog") < 0 ||
	    tfile_write(d.lower, "dir/a.txt", "lower a\n") < 0 ||
	    tfile_write(d.lower, "gone.txt", "whited out\n") < 0 ||
	    tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "catalog: daemon and mount");
		tdaemon_cleanup(&d);
		return;
	}
	r_walk("dir/a.txt", NULL);
	old_file = R.fh;
	r_create(&root, "made.txt", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3_OK, "catalog: CREATE made.txt");
	old_upper = R.fh;
	r_write(&old_upper, 0, "upper data\n", 11, 11, FILE_SYNC);
	r_remove(&root, "gone.txt");
	CHECK_EQ(R.status, NFS3_OK, "catalog: REMOVE gone.txt (a whiteout)");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "catalog: clean stop");
	snprintf(backup, sizeof(backup), "%s/catalog.good", d.dir);
	CHECK_EQ(copy_file(d.catalog, backup), 0, "catalog: kept a copy");
	snprintf(out, sizeof(out), "%s/healthy.out", d.dir);
	CHECK_EQ(run_tool(&d, "--rebuild-catalog", out), 1,
		 "catalog: --rebuild-catalog leaves a healthy catalog alone");
	CHECK(file_has(out, "nothing to rebuild") &&
		      count_prefixed(d.dir, "catalog.db.corrupt-") == 0,
	      "catalog: ... and says so");

	/* an application's other database */
	write_at(d.catalog, 68, app_id, sizeof(app_id));
	start_refused(&d, "with a foreign application_id");
	/* cut short */
	copy_file(backup, d.catalog);
	CHECK_EQ(truncate(d.catalog, 4096), 0, "catalog: truncated");
	start_refused(&d, "truncated");
	/* garbage over the header */
	copy_file(backup, d.catalog);
	write_at(d.catalog, 0, garbage, sizeof(garbage));
	if (!start_refused(&d, "with garbage bytes"))
		goto out;
	CHECK(stat(d.catalog, &st) == 0 && st.st_size > 4096,
	      "catalog: the refused file was left as it was");

	snprintf(out, sizeof(out), "%s/rebuild.out", d.dir);
	CHECK_EQ(run_tool(&d, "--rebuild-catalog", out), 0,
		 "catalog: --rebuild-catalog succeeds");
	CHECK(file_has(out, "old catalog kept as") &&
		      file_has(out, "Every file handle changed"),
	      "catalog: rebuild says where the old one is and that handles "
	      "changed");
	CHECK_EQ(count_prefixed(d.dir, "catalog.db.corrupt-"), 1,
		 "catalog: the damaged file was moved aside, not deleted");

	if (tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "catalog: the daemon starts on the rebuilt catalog");
		goto out;
	}
	r_walk("dir/a.txt", NULL);
	CHECK_EQ(R.status, NFS3_OK, "rebuilt: LOOKUP dir/a.txt");
	fh = R.fh; /* RAW() clears R */
	r_read(&fh, 0, 100);
	CHECK_STR(R.data, "lower a\n", "rebuilt: READ a lower file");
	r_walk("made.txt", NULL);
	fh = R.fh;
	r_read(&fh, 0, 100);
	CHECK_STR(R.data, "upper data\n", "rebuilt: READ an upper file");
	r_walk("gone.txt", NULL);
	CHECK_EQ(R.status, NFS3ERR_NOENT, "rebuilt: the whiteout still hides");
	r_getattr(&old_file);
	CHECK_EQ(R.status, NFS3ERR_STALE, "rebuilt: an old handle is STALE");
	r_getattr(&old_upper);
	CHECK_EQ(R.status, NFS3ERR_STALE, "rebuilt: another old handle too");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "rebuilt: clean stop");
	snprintf(out, sizeof(out), "%s/fsck.out", d.dir);
	CHECK_EQ(run_tool(&d, "--fsck", out), 0, "rebuilt: --fsck runs");
	CHECK(file_has(out, "fsck: 0 findings"), "rebuilt: fsck finds nothing");
out:
	raw_close();
	tdaemon_cleanup(&d);
}

/* ---- 3. the upper layer's file system runs full -------------------------- */

static void test_upper_full(void)
{
	static char chunk[32768];
	struct tdaemon d;
	struct fh fill, big, small;
	char small_fs[280], out[400], path[400], big_data[8192];
	struct stat st;
	int i, creates;

	memset(chunk, 'z', sizeof(chunk));
	if (tdaemon_init(&d, "fault-nospc") < 0)
		return;
	snprintf(small_fs, sizeof(small_fs), "%s/small", d.dir);
	/* size: 1 MiB of data; nr_inodes: CREATE runs out too */
	if (mount_tmpfs(small_fs, "size=1m,nr_inodes=64,mode=0755") < 0) {
		CHECK(0, "nospc: mount a 1 MiB tmpfs");
		tdaemon_cleanup(&d);
		return;
	}
	snprintf(d.upper, sizeof(d.upper), "%s/upper", small_fs);
	snprintf(d.work, sizeof(d.work), "%s/work", small_fs);
	memset(big_data, 'b', sizeof(big_data));
	if (mkdir(d.upper, 0755) < 0 || mkdir(d.work, 0755) < 0 ||
	    tfile_write(d.lower, "small.txt", "small lower file\n") < 0 ||
	    tfile_write(d.lower, "big.bin", "") < 0) {
		CHECK(0, "nospc: layers");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/big.bin", d.lower);
	for (i = 0; i < 256; i++) /* 2 MiB: more than the upper can take */
		write_at(path, (off_t)i * (off_t)sizeof(big_data), big_data,
			 sizeof(big_data));
	if (tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "nospc: daemon and mount");
		goto out;
	}
	r_walk("small.txt", NULL);
	small = R.fh;
	r_walk("big.bin", NULL);
	big = R.fh;

	r_create(&root, "fill", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3_OK, "nospc: CREATE fill");
	fill = R.fh;
	for (i = 0; i < 64; i++) { /* 2 MiB at most */
		r_write(&fill, (uint64_t)i * sizeof(chunk), chunk,
			sizeof(chunk), sizeof(chunk), FILE_SYNC);
		if (R.status != NFS3_OK)
			break;
	}
	CHECK(i > 0 && i < 64, "nospc: %d writes fit before the fs is full",
	      i);
	CHECK_EQ(R.status, NFS3ERR_NOSPC, "nospc: WRITE on a full fs");

	for (creates = 0; creates < 100; creates++) {
		char name[32];

		snprintf(name, sizeof(name), "n%d", creates);
		r_create(&root, name, GUARDED, NULL);
		if (R.status != NFS3_OK)
			break;
	}
	CHECK(creates < 100, "nospc: %d creates before running out", creates);
	CHECK_EQ(R.status, NFS3ERR_NOSPC, "nospc: CREATE on a full fs");

	r_read(&small, 0, 100);
	CHECK_STR(R.data, "small lower file\n", "nospc: READ still served");
	r_read(&fill, 0, 4);
	CHECK_STR(R.data, "zzzz", "nospc: READ of the filled file");

	/* room for a little, not for a 2 MiB copy-up */
	r_remove(&root, "fill");
	CHECK_EQ(R.status, NFS3_OK, "nospc: REMOVE fill frees space");
	r_write(&big, 0, "X", 1, 1, FILE_SYNC);
	CHECK_EQ(R.status, NFS3ERR_NOSPC, "nospc: a copy-up that does not "
		 "fit fails with NOSPC");
	CHECK(stat(path, &st) == 0 && st.st_size == 2 << 20,
	      "nospc: the lower file is untouched");
	snprintf(path, sizeof(path), "%s/big.bin", d.upper);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT,
	      "nospc: no half-copied file in the upper layer");
	CHECK_EQ(count_prefixed(d.work, "#unionnfsd."), 0,
		 "nospc: no temporaries left in the work dir");
	r_read(&big, 0, 4);
	CHECK_STR(R.data, "bbbb", "nospc: the big file still reads from "
		  "the lower layer");
	r_create(&root, "after", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3_OK, "nospc: CREATE works again with room");

	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "nospc: clean stop");
	snprintf(out, sizeof(out), "%s/fsck.out", d.dir);
	CHECK_EQ(run_tool(&d, "--fsck", out), 0, "nospc: --fsck runs");
	CHECK(file_has(out, "fsck: 0 findings"),
	      "nospc: the catalog agrees with the layers");
out:
	raw_close();
	tdaemon_kill(&d);
	umount2(small_fs, MNT_DETACH);
	tdaemon_cleanup(&d);
}

/* ---- 4. the catalog's file system runs full -------------------------- */

static void test_catalog_full(void)
{
	struct tdaemon d;
	struct fh file;
	char cat_fs[280], out[400], filler[400];
	int i, st = NFS3_OK;

	if (tdaemon_init(&d, "fault-catfull") < 0)
		return;
	snprintf(cat_fs, sizeof(cat_fs), "%s/catfs", d.dir);
	if (mount_tmpfs(cat_fs, "size=2m,mode=0755") < 0) {
		CHECK(0, "catfull: mount a 2 MiB tmpfs");
		tdaemon_cleanup(&d);
		return;
	}
	snprintf(d.catalog, sizeof(d.catalog), "%s/catalog.db", cat_fs);
	if (tfile_write(d.lower, "r.txt", "readable\n") < 0 ||
	    tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "catfull: daemon and mount");
		goto out;
	}
	r_walk("r.txt", NULL);
	file = R.fh;
	fill_fs(cat_fs, "filler");
	/* The WAL may still have room for a few rows: go on until the
	 * catalog cannot take another one. */
	for (i = 0; i < 2000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "c%d", i);
		r_create(&root, name, GUARDED, NULL);
		st = R.status;
		if (st != NFS3_OK)
			break;
	}
	CHECK(i < 2000, "catfull: CREATE fails after %d with the catalog's "
	      "fs full", i);
	CHECK_EQ(st, NFS3ERR_NOSPC, "catfull: the status is NOSPC");
	r_read(&file, 0, 100);
	CHECK_STR(R.data, "readable\n", "catfull: READ still served");
	r_getattr(&root);
	CHECK_EQ(R.status, NFS3_OK, "catfull: GETATTR still served");

	snprintf(filler, sizeof(filler), "%s/filler", cat_fs);
	unlink(filler);
	snprintf(filler, sizeof(filler), "c%d", i);
	/* When the shared commit fails after the file was made, the file
	 * stays without a row (as after a crash) and a LOOKUP catalogues
	 * it: either way the name is consistent. */
	r_lookup(&root, filler);
	CHECK(R.status == NFS3ERR_NOENT || R.status == NFS3_OK,
	      "catfull: the name of the failed CREATE is consistent (%d)",
	      R.status);
	r_create(&root, "later", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3_OK, "catfull: CREATE works again with room");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "catfull: clean stop");
	snprintf(out, sizeof(out), "%s/fsck.out", d.dir);
	CHECK_EQ(run_tool(&d, "--fsck", out), 0,
		 "catfull: the catalog opens and passes its checks");
	CHECK(file_has(out, "fsck: 0 findings"),
	      "catfull: the catalog agrees with the layers");
out:
	raw_close();
	tdaemon_kill(&d);
	umount2(cat_fs, MNT_DETACH);
	tdaemon_cleanup(&d);
}

/* ---- 4b. the catalog runs full under concurrent CREATEs ----------------
 * Concurrent requests share one catalog transaction, committed by whoever
 * needs durability first.  When that COMMIT fails, every request whose row
 * was in it must answer an error: a CREATE answered OK whose row was lost
 * would leave the client a handle that stops working (STALE, or another
 * object's oid).  So: CREATEs in flight together until the catalog is
 * full, then room again, and every handle a CREATE answered OK with must
 * work, and its name must lead to that very handle, before and after a
 * restart.
 */

#define PIPE_N 24
#define PIPE_ROUNDS 200
#define PIPE_RESERVES 24
#define PIPE_RESERVE_SIZE 16384

struct pcreate {
	char name[32];
	int done, status;
	struct fh fh;
};

static void pcreate_done(struct rpc_context *rpc, int status, void *data,
			 void *priv)
{
	struct pcreate *c = priv;
	CREATE3res *r = data;

	(void)rpc;
	c->done = 1;
	c->status = -1;
	if (status != RPC_STATUS_SUCCESS || !r)
		return;
	c->status = r->status;
	if (r->status == NFS3_OK &&
	    r->CREATE3res_u.resok.obj.handle_follows)
		keep_fh(&c->fh, &r->CREATE3res_u.resok.obj.post_op_fh3_u.handle);
	else if (r->status == NFS3_OK)
		c->status = -2; /* OK without a handle: not what we send */
}

/* Send n CREATEs at once on rnfs and wait for every answer. */
static int pcreate_batch(struct pcreate *c, int n)
{
	long deadline = now_ms() + 60000;
	int i, left = n;

	for (i = 0; i < n; i++) {
		CREATE3args a;

		memset(&a, 0, sizeof(a));
		a.where.dir = wire(&root);
		a.where.name = c[i].name;
		a.how.mode = GUARDED;
		a.how.createhow3_u.obj_attributes.mode.set_it = 1;
		a.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0644;
		if (rpc_nfs3_create_async(rnfs, pcreate_done, &a, &c[i]) != 0)
			return -1;
	}
	while (left > 0 && now_ms() < deadline) {
		struct pollfd pfd = { rpc_get_fd(rnfs), rpc_which_events(rnfs),
				      0 };

		if (poll(&pfd, 1, 1000) < 0 ||
		    rpc_service(rnfs, pfd.revents) < 0)
			return -1;
		for (left = 0, i = 0; i < n; i++)
			left += !c[i].done;
	}
	return left == 0 ? 0 : -1;
}

/* Every CREATE answered OK: its handle works and its name leads to it. */
static int pcreate_violations(const struct pcreate *c, int n, int *nok)
{
	int i, bad = 0;

	*nok = 0;
	for (i = 0; i < n; i++) {
		if (c[i].status != NFS3_OK)
			continue;
		(*nok)++;
		r_getattr(&c[i].fh);
		if (R.status != NFS3_OK) {
			printf("# %s: GETATTR of its handle: %d\n", c[i].name,
			       R.status);
			bad++;
			continue;
		}
		r_lookup(&root, c[i].name);
		if (R.status != NFS3_OK || !fh_eq(&R.fh, &c[i].fh)) {
			printf("# %s: LOOKUP %d, same handle %d\n", c[i].name,
			       R.status, R.status == NFS3_OK &&
						 fh_eq(&R.fh, &c[i].fh));
			bad++;
		}
	}
	return bad;
}

static void test_catalog_full_concurrent(void)
{
	static struct pcreate c[PIPE_N * PIPE_ROUNDS];
	struct tdaemon d;
	char cat_fs[280], out[400], filler[400];
	int i, n = 0, round, nospc = 0, other = 0, nok, present = 0;
	int nretry = 0;

	if (tdaemon_init(&d, "fault-catrace") < 0)
		return;
	snprintf(cat_fs, sizeof(cat_fs), "%s/catfs", d.dir);
	/* room for the WAL to grow to its checkpoint size (4 MiB) once
	 * the filler is gone */
	if (mount_tmpfs(cat_fs, "size=8m,mode=0755") < 0) {
		CHECK(0, "catrace: mount an 8 MiB tmpfs");
		tdaemon_cleanup(&d);
		return;
	}
	snprintf(d.catalog, sizeof(d.catalog), "%s/catalog.db", cat_fs);
	/* one name a round is created over a whiteout (of a lower file
	 * removed first): refused, it must hide the lower file again */
	for (round = 0; round < PIPE_ROUNDS; round++) {
		snprintf(filler, sizeof(filler), "r%d_0", round);
		if (tfile_write(d.lower, filler, "below\n") < 0)
			other++;
	}
	if (other || tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "catrace: daemon and mount");
		goto out;
	}
	for (round = 0; round < PIPE_ROUNDS; round++) {
		snprintf(filler, sizeof(filler), "r%d_0", round);
		if (r_remove(&root, filler) < 0 || R.status != NFS3_OK)
			other++;
	}
	CHECK_EQ(other, 0, "catrace: %d lower files removed (whiteouts)",
		 PIPE_ROUNDS);
	other = 0;
	/* Full but for small reserves, freed one per round: rounds where
	 * some commits fit and others do not. */
	for (i = 0; i < PIPE_RESERVES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "reserve%d", i);
		fill_part(cat_fs, name, PIPE_RESERVE_SIZE);
	}
	fill_fs(cat_fs, "filler");
	for (round = 0; round < PIPE_ROUNDS; round++) {
		int refused = 0;

		if (round < PIPE_RESERVES) {
			snprintf(filler, sizeof(filler), "%s/reserve%d",
				 cat_fs, round);
			unlink(filler);
		}

		for (i = 0; i < PIPE_N; i++)
			snprintf(c[n + i].name, sizeof(c[n + i].name),
				 "r%d_%d", round, i);
		if (pcreate_batch(&c[n], PIPE_N) < 0) {
			CHECK(0, "catrace: round %d answered", round);
			goto out;
		}
		for (i = n; i < n + PIPE_N; i++) {
			nospc += c[i].status == NFS3ERR_NOSPC;
			refused += c[i].status == NFS3ERR_NOSPC;
			if (c[i].status != NFS3_OK &&
			    c[i].status != NFS3ERR_NOSPC) {
				printf("# %s: CREATE %d\n", c[i].name,
				       c[i].status);
				other++;
			}
		}
		printf("# round %d: %d of %d refused\n", round, refused,
		       PIPE_N);
		n += PIPE_N;
		if (refused == PIPE_N && round >= PIPE_RESERVES)
			break;
	}
	CHECK(nospc > 0, "catrace: %d of %d CREATEs answered NOSPC", nospc, n);
	CHECK_EQ(other, 0, "catrace: every answer was OK or NOSPC");

	snprintf(filler, sizeof(filler), "%s/filler", cat_fs);
	unlink(filler);
	CHECK_EQ(pcreate_violations(c, n, &nok), 0,
		 "catrace: each of the %d CREATEs answered OK has a working "
		 "handle its name leads to", nok);
	/* A refused CREATE's name was taken back (its catalog row was
	 * lost with the shared commit): a GUARDED retry, now that there
	 * is room, makes it. */
	for (i = 0; i < n; i++) {
		if (c[i].status != NFS3ERR_NOSPC)
			continue;
		nretry++;
		r_lookup(&root, c[i].name);
		if (R.status != NFS3ERR_NOENT) {
			printf("# %s: LOOKUP %d\n", c[i].name, R.status);
			present++;
		}
		if (r_create(&root, c[i].name, GUARDED, NULL) < 0 ||
		    R.status != NFS3_OK) {
			printf("# %s: retried CREATE %d\n", c[i].name,
			       R.status);
			other++;
			continue;
		}
		c[i].status = NFS3_OK;
		c[i].fh = R.fh;
	}
	CHECK_EQ(present, 0, "catrace: none of the %d refused names is "
		 "there (LOOKUP NOENT)", nretry);
	CHECK_EQ(other, 0, "catrace: a GUARDED retry of each of the %d "
		 "refused CREATEs succeeds", nretry);
	CHECK_EQ(pcreate_violations(c, n, &nok), 0,
		 "catrace: so do the %d retried names with the rest (%d)",
		 nretry, nok);

	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "catrace: clean stop");
	if (tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "catrace: restart");
		goto out;
	}
	CHECK_EQ(pcreate_violations(c, n, &nok), 0,
		 "catrace: after a restart too (%d handles)", nok);
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "catrace: clean stop after restart");
	snprintf(out, sizeof(out), "%s/fsck.out", d.dir);
	CHECK_EQ(run_tool(&d, "--fsck", out), 0, "catrace: --fsck runs");
	CHECK(file_has(out, "fsck: 0 findings"),
	      "catrace: the catalog agrees with the layers");
out:
	raw_close();
	tdaemon_kill(&d);
	umount2(cat_fs, MNT_DETACH);
	tdaemon_cleanup(&d);
}

/* ---- 5. lower layers that become unreadable or vanish ------------------- */

static void test_layers_vanish(void)
{
	struct tdaemon d;
	struct fh locked_file, gone_file, upper_file;
	struct rpc_context *user;
	char path[512], moved[400];

	if (tdaemon_init(&d, "fault-layers") < 0 ||
	    tfile_write(d.lower, "locked/f", "secret\n") < 0 ||
	    tfile_write(d.lower, "gone/g", "soon gone\n") < 0 ||
	    tfile_write(d.upper, "u.txt", "upper stays\n") < 0 ||
	    tdaemon_start(&d) < 0 || raw_open(d.port) < 0) {
		CHECK(0, "layers: daemon and mount");
		tdaemon_cleanup(&d);
		return;
	}
	r_walk("locked/f", NULL);
	locked_file = R.fh;
	r_walk("gone/g", NULL);
	gone_file = R.fh;
	r_walk("u.txt", NULL);
	upper_file = R.fh;

	/* chmod 000: an unprivileged client is refused, not the daemon's
	 * business to crash over */
	snprintf(path, sizeof(path), "%s/locked", d.lower);
	chmod(path, 0);
	user = raw_connect(d.port, NFS_PROGRAM, NFS_V3);
	if (user) {
		struct rpc_context *saved = rnfs;
		struct fh dir;

		rpc_set_auth(user, libnfs_authunix_create("fault", 1000, 1000,
							  0, NULL));
		r_walk("locked", NULL);
		dir = R.fh;
		rnfs = user;
		r_lookup(&dir, "f");
		CHECK_EQ(R.status, NFS3ERR_ACCES,
			 "layers: LOOKUP in a mode 000 lower dir as a user");
		r_read(&upper_file, 0, 100);
		CHECK_STR(R.data, "upper stays\n",
			  "layers: the user is served elsewhere");
		rnfs = saved;
		rpc_destroy_context(user);
	}
	chmod(path, 0755);

	/* a lower directory removed behind the daemon's back */
	snprintf(path, sizeof(path), "%s/gone/g", d.lower);
	unlink(path);
	snprintf(path, sizeof(path), "%s/gone", d.lower);
	rmdir(path);
	r_getattr(&gone_file);
	CHECK_EQ(R.status, NFS3ERR_STALE, "layers: a vanished file is STALE");
	r_walk("gone", NULL);
	CHECK_EQ(R.status, NFS3ERR_NOENT, "layers: its directory is gone");

	/* the whole lower layer renamed away, then removed */
	snprintf(moved, sizeof(moved), "%s/lower.moved", d.dir);
	CHECK_EQ(rename(d.lower, moved), 0, "layers: lower layer renamed");
	r_getattr(&locked_file);
	CHECK(R.status == NFS3_OK || R.status == NFS3ERR_STALE,
	      "layers: a file of the moved layer: OK or STALE (%d)", R.status);
	snprintf(path, sizeof(path), "%s/locked/f", moved);
	unlink(path);
	snprintf(path, sizeof(path), "%s/locked", moved);
	rmdir(path);
	rmdir(moved);
	r_getattr(&locked_file);
	CHECK_EQ(R.status, NFS3ERR_STALE,
		 "layers: a file of the removed layer is STALE");
	r_walk("locked", NULL);
	CHECK(R.status == NFS3ERR_NOENT || R.status == NFS3ERR_STALE ||
		      R.status == NFS3ERR_IO,
	      "layers: LOOKUP in a removed layer is an error (%d)", R.status);
	r_read(&upper_file, 0, 100);
	CHECK_STR(R.data, "upper stays\n", "layers: the upper is still served");
	r_create(&root, "new.txt", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3_OK, "layers: CREATE still works");
	CHECK(tdaemon_alive(&d), "layers: the daemon is alive");
	raw_close();
	mkdir(d.lower, 0755); /* so that cleanup finds what it expects */
	CHECK_EQ(tdaemon_stop(&d), 0, "layers: clean stop");
	tdaemon_cleanup(&d);
}

int main(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP needs root and a private mount namespace\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	/* a daemon under faults may answer late: wait rather than fail */
	raw_policy = (struct raw_policy){ .timeout_ms = 20000,
					  .hangup_fails = false };
	test_forged_log();
	test_catalog_damage();
	test_upper_full();
	test_catalog_full();
	test_catalog_full_concurrent();
	test_layers_vanish();
	return tap_done();
}
