/*
 * rules_test.c - client rules over the wire, with the command line's
 * exact spelling: `--clients '10.0.0.0/8(ro) *(rw,root_squash)'` (from
 * 127.0.0.1 the `*` rule applies), then all_squash with anonuid/anongid.
 * The squashed identity is what the kernel checks and what owns new
 * files in the upper layer.  (The rules' matching, ro and `secure` are
 * unit-tested in config_test; ro and a host not allowed also in
 * nfs3_test.)  Needs root: files owned by other users.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "nfsraw.h"
#include "tap.h"

/* Owner of rel in the upper layer, "uid:gid", or "-". */
static const char *owner(const struct tdaemon *d, const char *rel)
{
	static char buf[64];
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", d->upper, rel);
	if (lstat(path, &st) < 0)
		return "-";
	snprintf(buf, sizeof(buf), "%u:%u", (unsigned)st.st_uid,
		 (unsigned)st.st_gid);
	return buf;
}

/* CREATE dir/name as uid:gid over a connection of its own. */
static int create_as(int port, unsigned uid, unsigned gid,
		     const struct fh *dir, const char *name)
{
	struct rpc_context *saved = rnfs, *c;
	int status = -1;

	c = raw_connect(port, NFS_PROGRAM, NFS_V3);
	if (!c)
		return -1;
	rpc_set_auth(c, libnfs_authunix_create("rules", uid, gid, 0, NULL));
	rnfs = c;
	if (r_create(dir, name, GUARDED, NULL) == 0)
		status = R.status;
	rnfs = saved;
	rpc_destroy_context(c);
	return status;
}

static int start(struct tdaemon *d, const char *tag, const char *clients)
{
	char pub[600];

	if (tdaemon_init(d, tag) < 0)
		return -1;
	snprintf(d->clients, sizeof(d->clients), "%s", clients);
	snprintf(pub, sizeof(pub), "%s/pub", d->upper);
	if (tfile_write(d->lower, "f", "lower f\n") < 0 ||
	    mkdir(pub, 0777) < 0 || chmod(pub, 0777) < 0 ||
	    tdaemon_start(d) < 0 || raw_open(d->port) < 0) {
		CHECK(0, "%s: daemon with --clients '%s'", tag, clients);
		return -1;
	}
	return 0;
}

static void test_root_squash(void)
{
	struct tdaemon d;
	struct fh pub, f;

	if (start(&d, "rules-squash", "10.0.0.0/8(ro) *(rw,root_squash)") < 0)
		goto out;
	r_walk("f", NULL);
	f = R.fh;
	r_read(&f, 0, 100);
	CHECK_STR(R.data, "lower f\n", "root_squash: root reads a 0644 file");
	CHECK_EQ(create_as(d.port, 0, 0, &root, "byroot"), NFS3ERR_ACCES,
		 "root_squash: root cannot CREATE in the root-owned 0755 root");
	CHECK_STR(owner(&d, "byroot"), "-", "... and nothing was made");
	r_walk("pub", NULL);
	pub = R.fh;
	CHECK_EQ(create_as(d.port, 0, 0, &pub, "r"), NFS3_OK,
		 "root_squash: root CREATEs in a 0777 directory");
	CHECK_STR(owner(&d, "pub/r"), "65534:65534",
		  "... as 65534:65534 in the upper layer");
	CHECK_EQ(create_as(d.port, 1000, 100, &pub, "u"), NFS3_OK,
		 "root_squash: a user CREATEs");
	CHECK_STR(owner(&d, "pub/u"), "1000:100", "... as himself");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "root_squash: clean stop");
out:
	raw_close();
	tdaemon_cleanup(&d);
}

static void test_all_squash(void)
{
	struct tdaemon d;
	struct fh pub;

	if (start(&d, "rules-all",
		  "127.0.0.0/8(rw,all_squash,anonuid=1234,anongid=4321)") < 0)
		goto out;
	r_walk("pub", NULL);
	pub = R.fh;
	CHECK_EQ(create_as(d.port, 1000, 100, &pub, "u"), NFS3_OK,
		 "all_squash: a user CREATEs");
	CHECK_STR(owner(&d, "pub/u"), "1234:4321", "... as anonuid:anongid");
	CHECK_EQ(create_as(d.port, 0, 0, &pub, "r"), NFS3_OK,
		 "all_squash: root CREATEs");
	CHECK_STR(owner(&d, "pub/r"), "1234:4321", "... as anonuid:anongid");
	raw_close();
	CHECK_EQ(tdaemon_stop(&d), 0, "all_squash: clean stop");
out:
	raw_close();
	tdaemon_cleanup(&d);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	test_root_squash();
	test_all_squash();
	return tap_done();
}
