/*
 * nfs4_unlinked_test.c - an open file whose last name is removed stays
 * usable through its handle and stateid until CLOSE (issue 3), with raw
 * NFSv4.0 COMPOUNDs: READ, WRITE, SETATTR(size) and GETATTR (numlinks 0)
 * after REMOVE, the name gone (LOOKUP: NOENT), STALE after CLOSE; the same
 * for a file that lives only in the lower layer (left untouched, hidden by
 * a whiteout); and a daemon killed while such a file is open forgets it
 * at the restart (the orphan deleted, the handle STALE).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <rpc/rpc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon.h"
#include "nfs4raw.h"
#include "tap.h"

#define ORPHANS "#unionnfsd.orphans"

enum { OP_REMOVE = 28, OP_RENAME = 29, OP_SAVEFH = 32 };
#define FATTR4_SIZE 4
#define FATTR4_NUMLINKS 35 /* in the bitmap's second word */

static struct tdaemon d;

/* PUTROOTFH LOOKUP(export): the export's root is the current handle. */
static void put_export(struct comp *c)
{
	comp_op(c, OP_PUTROOTFH);
	comp_op(c, OP_LOOKUP);
	putbytes(&c->x, "export", 6);
}

/* OPEN name in the export's root (creating it if create) for owner,
 * whose seqid is *seqid (moved on). */
static uint32_t open_seq40(uint64_t clientid, const char *owner,
			   uint32_t *seqid, uint32_t access, bool create,
			   const char *name, struct sid *sid, struct fh *fh)
{
	struct open_req o = { clientid, owner, (*seqid)++, access, DENY_NONE,
			      create, name };
	struct res r;

	return open40(&o, sid, fh, &r);
}

static uint32_t write40(const struct fh *fh, const struct sid *sid,
			uint64_t off, const char *data)
{
	struct comp c;
	struct res r;
	uint32_t st;

	comp_begin(&c, "", 0);
	putfh(&c, fh);
	comp_op(&c, OP_WRITE);
	put_sid(&c.x, sid);
	put64(&c.x, off);
	put32(&c.x, 2); /* FILE_SYNC4 */
	putbytes(&c.x, data, (u_int)strlen(data));
	st = putfh_op_call(&c, &r, OP_WRITE);
	if (st == NFS4_OK && get32(&r) != strlen(data))
		return 0xdeadbeef; /* a short write */
	return st;
}

/* READ up to 64 bytes at 0 into buf, NUL-terminated. */
static uint32_t read40(const struct fh *fh, const struct sid *sid,
		       char buf[65])
{
	struct comp c;
	struct res r;
	uint32_t st;
	u_int n;

	buf[0] = '\0';
	comp_begin(&c, "", 0);
	putfh(&c, fh);
	comp_op(&c, OP_READ);
	put_sid(&c.x, sid);
	put64(&c.x, 0);
	put32(&c.x, 64);
	if ((st = putfh_op_call(&c, &r, OP_READ)) != NFS4_OK)
		return st;
	get32(&r); /* eof */
	n = getbytes(&r, buf, 64);
	buf[n] = '\0';
	return st;
}

/* SETATTR size through the stateid. */
static uint32_t truncate40(const struct fh *fh, const struct sid *sid,
			   uint64_t size)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "", 0);
	putfh(&c, fh);
	comp_op(&c, OP_SETATTR);
	put_sid(&c.x, sid);
	put32(&c.x, 1); /* bitmap: one word */
	put32(&c.x, 1u << FATTR4_SIZE);
	put32(&c.x, 8); /* attrlist4 */
	put64(&c.x, size);
	return putfh_op_call(&c, &r, OP_SETATTR);
}

/* PUTFH GETATTR(numlinks): the COMPOUND's status; *nlink on success. */
static uint32_t numlinks40(const struct fh *fh, uint32_t *nlink)
{
	struct comp c;
	struct res r;
	uint32_t n;

	*nlink = 0xdeadbeef;
	comp_begin(&c, "", 0);
	putfh(&c, fh);
	comp_op(&c, OP_GETATTR);
	put32(&c.x, 2);
	put32(&c.x, 0);
	put32(&c.x, 1u << (FATTR4_NUMLINKS - 32));
	if (!comp_call(&c, &r))
		return 0xdeadbeef;
	if (r.status != NFS4_OK)
		return r.status;
	next_result(&r, OP_PUTFH);
	next_result(&r, OP_GETATTR);
	for (n = get32(&r); n > 0 && n < 8; n--)
		get32(&r);
	if (get32(&r) == 4) /* attrlist4 length */
		*nlink = get32(&r);
	return r.status;
}

/* REMOVE or LOOKUP of name in the export's root. */
static uint32_t name_op(uint32_t op, const char *name)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "", 0);
	put_export(&c);
	comp_op(&c, op);
	putbytes(&c.x, name, (u_int)strlen(name));
	if (!comp_call(&c, &r))
		return 0xdeadbeef;
	return r.status;
}

/* RENAME from over to in the export's root. */
static uint32_t rename40(const char *from, const char *to)
{
	struct comp c;
	struct res r;

	comp_begin(&c, "", 0);
	put_export(&c);
	comp_op(&c, OP_SAVEFH);
	comp_op(&c, OP_RENAME);
	putbytes(&c.x, from, (u_int)strlen(from));
	putbytes(&c.x, to, (u_int)strlen(to));
	if (!comp_call(&c, &r))
		return 0xdeadbeef;
	return r.status;
}

/* Files in the work dir's orphan directory (0 when it does not exist). */
static int orphans(void)
{
	char path[400];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/" ORPHANS, d.work);
	if (!(dir = opendir(path)))
		return 0;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

static bool is_whiteout_at(const char *layer, const char *name)
{
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", layer, name);
	return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(0, 0);
}

static bool exists_at(const char *layer, const char *name)
{
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", layer, name);
	return lstat(path, &st) == 0;
}

static const struct sid anon; /* all zeros: the anonymous stateid */

static void test_upper(uint64_t cl)
{
	uint32_t seqid = 1, nlink;
	struct sid sid;
	struct fh fh;
	char buf[65];

	CHECK_EQ(open_seq40(cl, "up", &seqid, ACCESS_BOTH, true, "gone.txt",
			    &sid, &fh), NFS4_OK, "OPEN(create) gone.txt");
	CHECK_EQ(write40(&fh, &sid, 0, "hello"), NFS4_OK, "WRITE hello");
	CHECK_EQ(name_op(OP_REMOVE, "gone.txt"), NFS4_OK,
		 "REMOVE gone.txt while it is open");
	CHECK(!exists_at(d.upper, "gone.txt"), "its name left the upper layer");
	CHECK_EQ(orphans(), 1, "its data waits in the work dir");
	CHECK_EQ(read40(&fh, &sid, buf), NFS4_OK, "READ after REMOVE: OK");
	CHECK_STR(buf, "hello", "READ after REMOVE: the written bytes");
	CHECK_EQ(write40(&fh, &sid, 5, " world"), NFS4_OK,
		 "WRITE after REMOVE: OK");
	CHECK_EQ(read40(&fh, &sid, buf), NFS4_OK, "READ it back");
	CHECK_STR(buf, "hello world", "READ back: both writes");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4_OK, "GETATTR after REMOVE");
	CHECK_EQ(nlink, 0, "numlinks 0");
	CHECK_EQ(truncate40(&fh, &sid, 4), NFS4_OK, "SETATTR size 4");
	CHECK_EQ(read40(&fh, &sid, buf), NFS4_OK, "READ after the truncate");
	CHECK_STR(buf, "hell", "the truncate took");
	CHECK_EQ(name_op(OP_LOOKUP, "gone.txt"), NFS4ERR_NOENT,
		 "LOOKUP gone.txt: NOENT");
	CHECK_EQ(close40(&fh, &sid, seqid++), NFS4_OK, "CLOSE");
	CHECK_EQ(read40(&fh, &anon, buf), NFS4ERR_STALE,
		 "READ after CLOSE: STALE");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4ERR_STALE,
		 "PUTFH GETATTR after CLOSE: STALE");
	CHECK_EQ(orphans(), 0, "CLOSE deleted the data");

	/* a file nobody has open goes at once, as always */
	CHECK_EQ(open_seq40(cl, "up", &seqid, ACCESS_BOTH, true, "brief.txt",
			    &sid, &fh), NFS4_OK, "OPEN(create) brief.txt");
	CHECK_EQ(close40(&fh, &sid, seqid++), NFS4_OK, "CLOSE brief.txt");
	CHECK_EQ(name_op(OP_REMOVE, "brief.txt"), NFS4_OK, "REMOVE brief.txt");
	CHECK_EQ(orphans(), 0, "a closed file leaves nothing behind");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4ERR_STALE,
		 "its handle is STALE at once");
}

static void test_lower(uint64_t cl)
{
	uint32_t seqid = 1, nlink;
	struct sid sid;
	struct fh fh;
	char buf[65], *text;

	CHECK_EQ(open_seq40(cl, "low", &seqid, ACCESS_READ, false, "low.txt",
			    &sid, &fh), NFS4_OK,
		 "OPEN low.txt (lower only) for read");
	CHECK(!exists_at(d.upper, "low.txt"), "an open for read copies nothing");
	CHECK_EQ(name_op(OP_REMOVE, "low.txt"), NFS4_OK,
		 "REMOVE low.txt while it is open");
	CHECK(is_whiteout_at(d.upper, "low.txt"), "a whiteout hides the name");
	text = tfile_read(d.lower, "low.txt");
	CHECK(text && !strcmp(text, "lower data"), "the lower file is untouched");
	free(text);
	CHECK_EQ(read40(&fh, &sid, buf), NFS4_OK, "READ after REMOVE: OK");
	CHECK_STR(buf, "lower data", "READ after REMOVE: the lower bytes");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4_OK, "GETATTR after REMOVE");
	CHECK_EQ(nlink, 0, "numlinks 0");
	CHECK_EQ(name_op(OP_LOOKUP, "low.txt"), NFS4ERR_NOENT,
		 "LOOKUP low.txt: NOENT");
	/* the same owner opens it again for write, by its handle */
	CHECK_EQ(write40(&fh, &anon, 0, "LOWER"), NFS4_OK,
		 "WRITE (anonymous stateid) to the removed lower file");
	CHECK_EQ(read40(&fh, &sid, buf), NFS4_OK, "READ it back");
	CHECK_STR(buf, "LOWER data", "READ back: the write");
	text = tfile_read(d.lower, "low.txt");
	CHECK(text && !strcmp(text, "lower data"),
	      "the lower file is still untouched");
	free(text);
	CHECK_EQ(close40(&fh, &sid, seqid++), NFS4_OK, "CLOSE");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4ERR_STALE,
		 "PUTFH GETATTR after CLOSE: STALE");
	CHECK_EQ(orphans(), 0, "CLOSE deleted the copy");
	CHECK(is_whiteout_at(d.upper, "low.txt"), "the whiteout stays");
}

/* RENAME over an open file (its last name) is a REMOVE of it. */
static void test_rename_over(uint64_t cl)
{
	uint32_t seqid = 1, nlink;
	struct sid sid, sid2;
	struct fh fh, fh2;
	char buf[65], *text;

	CHECK_EQ(open_seq40(cl, "ren", &seqid, ACCESS_BOTH, true, "victim.txt",
			    &sid, &fh), NFS4_OK, "OPEN(create) victim.txt");
	CHECK_EQ(write40(&fh, &sid, 0, "victim"), NFS4_OK, "WRITE victim");
	CHECK_EQ(open_seq40(cl, "ren", &seqid, ACCESS_BOTH, true, "new.txt",
			    &sid2, &fh2), NFS4_OK, "OPEN(create) new.txt");
	CHECK_EQ(write40(&fh2, &sid2, 0, "new"), NFS4_OK, "WRITE new");
	CHECK_EQ(close40(&fh2, &sid2, seqid++), NFS4_OK, "CLOSE new.txt");
	CHECK_EQ(rename40("new.txt", "victim.txt"), NFS4_OK,
		 "RENAME new.txt over the open victim.txt");
	text = tfile_read(d.upper, "victim.txt");
	CHECK(text && !strcmp(text, "new"), "victim.txt is the new file");
	free(text);
	CHECK_EQ(read40(&fh, &sid, buf), NFS4_OK, "READ the old one: OK");
	CHECK_STR(buf, "victim", "READ the old one: its bytes");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4_OK, "GETATTR the old one");
	CHECK_EQ(nlink, 0, "numlinks 0");
	CHECK_EQ(close40(&fh, &sid, seqid++), NFS4_OK, "CLOSE the old one");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4ERR_STALE,
		 "the old one's handle is STALE after CLOSE");
	CHECK_EQ(numlinks40(&fh2, &nlink), NFS4_OK,
		 "the renamed file's handle lives on");
	CHECK_EQ(orphans(), 0, "nothing left in the work dir");
}

static bool connect_port(int port)
{
	if (nfs4_sock >= 0)
		close(nfs4_sock);
	nfs4_sock = tconnect(port, SOCK_STREAM, 10);
	return nfs4_sock >= 0;
}

static void test_crash(uint64_t cl)
{
	uint32_t seqid = 1, nlink;
	struct sid sid;
	struct fh fh;
	char *log;

	CHECK_EQ(open_seq40(cl, "crash", &seqid, ACCESS_BOTH, true, "crash.txt",
			    &sid, &fh), NFS4_OK, "OPEN(create) crash.txt");
	CHECK_EQ(write40(&fh, &sid, 0, "doomed"), NFS4_OK, "WRITE doomed");
	CHECK_EQ(name_op(OP_REMOVE, "crash.txt"), NFS4_OK, "REMOVE crash.txt");
	CHECK_EQ(orphans(), 1, "its data waits in the work dir");
	tdaemon_kill(&d);
	CHECK_EQ(orphans(), 1, "kill -9 leaves it there");
	if (tdaemon_start(&d) < 0 || !connect_port(d.port)) {
		CHECK(false, "the daemon restarts");
		return;
	}
	CHECK_EQ(orphans(), 0, "the restart deleted it");
	CHECK_EQ(numlinks40(&fh, &nlink), NFS4ERR_STALE,
		 "its handle is STALE after the restart");
	log = tfile_read(d.dir, "log");
	CHECK(log && strstr(log, "1 file removed while open"),
	      "the restart says so in the log");
	free(log);
}

int main(void)
{
	uint64_t cl;

	if (tdaemon_init(&d, "nfs4unlinked") < 0 ||
	    tfile_write(d.lower, "low.txt", "lower data") < 0 ||
	    tdaemon_start(&d) < 0 || !connect_port(d.port)) {
		printf("Bail out! daemon did not start\n");
		tdaemon_cleanup(&d);
		return 99;
	}
	cl = client40("nfs4_unlinked_test");
	CHECK(cl != 0, "a 4.0 client confirmed");
	test_upper(cl);
	test_lower(cl);
	test_rename_over(cl);
	test_crash(cl);
	close(nfs4_sock);
	CHECK_EQ(tdaemon_stop(&d), 0, "daemon exits cleanly");
	tdaemon_cleanup(&d);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
