/*
 * nfs3_test.c - NFSv3 and MOUNTv3 against a real unionnfsd, with libnfs.
 *
 * The high-level (POSIX-like) libnfs API shows the union rules as a client
 * sees them; the raw RPC API (rpc_nfs3_*_async) gives the exact statuses,
 * lets us keep and replay raw handle bytes, and reaches the corners the
 * high-level API hides (forged handles, guards, exclusive create,
 * cookie verifiers, odd names).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon.h"
#include "nfsraw.h"
#include "tap.h"

/* ---- raw call helpers ------------------------------------------------- */

static struct tdaemon D;

/* Read a whole small file through a handle into R.data. */
static int r_slurp(const struct fh *fh)
{
	return r_read(fh, 0, 4096) == 0 && R.status == NFS3_OK ? 0 : -1;
}

static bool has_ent(const char *n)
{
	for (int i = 0; i < R.nent; i++)
		if (strcmp(R.ent[i], n) == 0)
			return true;
	return false;
}

static char *path_in(const char *layer, const char *rel)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s/%s", layer, rel);
	return buf;
}

static bool file_is(const char *layer, const char *rel, const char *want)
{
	char *got = tfile_read(layer, rel);
	bool eq = got != NULL && strcmp(got, want) == 0;

	if (!eq)
		printf("#   %s/%s is \"%s\", want \"%s\"\n", layer, rel,
		       got ? got : "(missing)", want);
	free(got);
	return eq;
}

static bool is_whiteout(const char *layer, const char *rel)
{
	struct stat st;

	return lstat(path_in(layer, rel), &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(0, 0);
}

static struct nfs_context *hl_mount(void)
{
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *url;
	char u[256];

	if (nfs == NULL)
		return NULL;
	snprintf(u, sizeof(u),
		 "nfs://127.0.0.1/export?version=3&nfsport=%d&mountport=%d",
		 D.port, D.port);
	url = nfs_parse_url_dir(nfs, u);
	if (url == NULL || nfs_mount(nfs, url->server, url->path) != 0) {
		printf("# mount: %s\n", nfs_get_error(nfs));
		if (url != NULL)
			nfs_destroy_url(url);
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_destroy_url(url);
	return nfs;
}

/* ---- the tests -------------------------------------------------------- */

static int populate(void)
{
	const char *L = D.lower;
	int err = 0;

	err |= tfile_write(L, "hello.txt", "hello lower\n");
	err |= tfile_write(L, "dir/a.txt", "A");
	err |= tfile_write(L, "dir/sub/deep.txt", "deep");
	err |= tfile_write(L, "cow.txt", "lower content");
	err |= tfile_write(L, "remove_me.txt", "bye");
	err |= tfile_write(L, "renme.txt", "rename me");
	err |= tfile_write(L, "trunc.txt", "truncate me");
	err |= tfile_write(L, "persist.txt", "persist");
	err |= tfile_write(L, "lowmv/in/deep.txt", "low deep");
	err |= tfile_write(L, "hl_a", "hardlinked");
	err |= tfile_write(L, "hl_stale.txt", "x");
	err |= tfile_write(L, "hl_dir/keep", "k");
	for (int i = 0; i < 40; i++) {
		char n[64];

		snprintf(n, sizeof(n), "many/file-%02d-with-a-longish-name", i);
		err |= tfile_write(L, n, "m");
	}
	if (err)
		return -1;
	{
		char a[1024], b[1024];

		snprintf(a, sizeof(a), "%s/hl_a", L);
		snprintf(b, sizeof(b), "%s/hl_b", L);
		if (link(a, b) != 0)
			return -1;
	}
	if (symlink("/etc/passwd", path_in(L, "escape")) != 0 ||
	    symlink("../../..", path_in(L, "up")) != 0 ||
	    symlink("/etc", path_in(L, "escdir")) != 0)
		return -1;
	return 0;
}

static void test_mount(void)
{
	char path[64];
	struct fh sub;

	CHECK_EQ(RAW0(rmnt, rpc_mount3_null_async, NULL), 0, "MOUNT NULL");

	snprintf(path, sizeof(path), "/export");
	CHECK_EQ(RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt), 0, "MNT");
	CHECK_EQ(R.status, MNT3_OK, "MNT /export is OK");
	CHECK(R.fh.len > 0 && R.fh.len <= 56, "MNT handle is 1..56 bytes (%u)",
	      R.fh.len);
	CHECK(fh_eq(&R.fh, &root), "MNT gives the same root handle twice");
	CHECK_EQ(R.nflavors, 2, "two auth flavors");
	CHECK(R.flavors[0] == 1 && R.flavors[1] == 0,
	      "flavors are AUTH_SYS, AUTH_NONE");

	snprintf(path, sizeof(path), "/export/");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3_OK, "MNT /export/ (trailing slash) is OK");
	CHECK(fh_eq(&R.fh, &root), "... and the same root handle");

	snprintf(path, sizeof(path), "/nope");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3ERR_NOENT, "MNT of an unknown export: NOENT");
	snprintf(path, sizeof(path), "/exportx");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3ERR_NOENT, "MNT /exportx is not /export: NOENT");

	snprintf(path, sizeof(path), "/export/dir/sub");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3_OK, "MNT of a directory inside the export");
	sub = R.fh;
	r_lookup(&sub, "deep.txt");
	CHECK_EQ(R.status, NFS3_OK, "... whose handle finds its files");
	r_lookup(&sub, "..");
	sub = R.fh;
	r_lookup(&sub, "..");
	CHECK(R.status == NFS3_OK && fh_eq(&R.fh, &root),
	      "... and whose '..' leads up to the export root");
	snprintf(path, sizeof(path), "/export/hello.txt");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3ERR_NOTDIR, "MNT of a file: NOTDIR");
	snprintf(path, sizeof(path), "/export/nope");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3ERR_NOENT, "MNT of a missing directory: NOENT");
	snprintf(path, sizeof(path), "/export/dir/../../etc");
	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(R.status, MNT3ERR_ACCES, "MNT of a path with '..': ACCES");
	snprintf(path, sizeof(path), "/export/dir/sub");
	RAW(rmnt, rpc_mount3_umnt_async, path, NULL);

	CHECK_EQ(RAW0(rmnt, rpc_mount3_dump_async, take_dump), 0, "DUMP");
	CHECK(has_ent("127.0.0.1 /export"), "DUMP lists 127.0.0.1 /export");
	CHECK_EQ(R.nent, 1, "DUMP lists it once (%s)", R.ent[0]);

	CHECK_EQ(RAW0(rmnt, rpc_mount3_export_async, take_export), 0,
		 "EXPORT");
	CHECK_EQ(R.nent, 1, "EXPORT lists one export");
	CHECK_STR(R.ent[0], "/export 127.0.0.0/8",
		  "EXPORT lists /export with its client spec");

	snprintf(path, sizeof(path), "/export");
	CHECK_EQ(RAW(rmnt, rpc_mount3_umnt_async, path, NULL), 0, "UMNT");
	RAW0(rmnt, rpc_mount3_dump_async, take_dump);
	CHECK_EQ(R.nent, 0, "DUMP after UMNT is empty");

	RAW(rmnt, rpc_mount3_mnt_async, path, take_mnt);
	CHECK_EQ(RAW0(rmnt, rpc_mount3_umntall_async, NULL), 0, "UMNTALL");
	RAW0(rmnt, rpc_mount3_dump_async, take_dump);
	CHECK_EQ(R.nent, 0, "DUMP after UMNTALL is empty");
}

static void test_basic(void)
{
	struct fh f, d;
	char longname[300];

	CHECK_EQ(RAW0(rnfs, rpc_nfs3_null_async, NULL), 0, "NFS NULL");

	r_getattr(&root);
	CHECK_EQ(R.status, NFS3_OK, "GETATTR root");
	CHECK_EQ(R.attr.type, NF3DIR, "root is a directory");
	CHECK(R.attr.fileid != 0, "root has a fileid");

	r_lookup(&root, "hello.txt");
	CHECK_EQ(R.status, NFS3_OK, "LOOKUP hello.txt");
	CHECK(R.have_attr && R.attr.type == NF3REG && R.attr.size == 12,
	      "LOOKUP gives the lower file's attributes");
	CHECK(R.have_dattr && R.dattr.type == NF3DIR,
	      "LOOKUP gives the directory's attributes");
	f = R.fh;

	r_lookup(&root, "nope");
	CHECK_EQ(R.status, NFS3ERR_NOENT, "LOOKUP of a missing name: NOENT");
	CHECK(R.have_dattr, "... with the directory's attributes");

	r_lookup(&root, ".");
	CHECK_EQ(R.status, NFS3_OK, "LOOKUP .");
	CHECK(fh_eq(&R.fh, &root), "'.' is the directory itself");
	r_lookup(&root, "..");
	CHECK_EQ(R.status, NFS3_OK, "LOOKUP .. at the root");
	CHECK(fh_eq(&R.fh, &root), "'..' at the export root is the root");
	r_lookup(&root, "dir");
	d = R.fh;
	r_lookup(&d, "..");
	CHECK(R.status == NFS3_OK && fh_eq(&R.fh, &root),
	      "'..' of dir is the root");
	r_lookup(&f, "x");
	CHECK_EQ(R.status, NFS3ERR_NOTDIR, "LOOKUP in a file: NOTDIR");

	/* Not single components: the engine says EINVAL (see nfs3proc.c). */
	r_lookup(&root, "dir/a.txt");
	CHECK_EQ(R.status, NFS3ERR_INVAL, "LOOKUP of a name with '/': INVAL");
	r_lookup(&root, "");
	CHECK_EQ(R.status, NFS3ERR_INVAL, "LOOKUP of an empty name: INVAL");
	memset(longname, 'n', 256);
	longname[256] = '\0';
	r_lookup(&root, longname);
	CHECK_EQ(R.status, NFS3ERR_NAMETOOLONG,
		 "LOOKUP of a 256-byte name: NAMETOOLONG");

	{
		ACCESS3args a = { wire(&f), 0x3f };

		RAW(rnfs, rpc_nfs3_access_async, &a, take_access);
		CHECK_EQ(R.status, NFS3_OK, "ACCESS");
		CHECK_EQ(R.access & 0x2d, 0x0d,
			 "root may read, modify, extend a 0644 file, not exec");
		CHECK(R.have_attr, "ACCESS returns attributes");
	}

	r_read(&f, 0, 100);
	CHECK_EQ(R.status, NFS3_OK, "READ");
	CHECK_STR(R.data, "hello lower\n", "READ gives the lower content");
	CHECK(R.count == 12 && R.eof, "READ of all: count 12, eof");
	CHECK(R.have_attr && R.attr.size == 12, "READ returns attributes");
	r_read(&f, 6, 3);
	CHECK(R.count == 3 && !R.eof && strcmp(R.data, "low") == 0,
	      "READ in the middle: 'low', not eof");
	r_read(&f, 100, 10);
	CHECK(R.status == NFS3_OK && R.count == 0 && R.eof,
	      "READ past the end: 0 bytes, eof");
	r_read(&root, 0, 10);
	CHECK_EQ(R.status, NFS3ERR_ISDIR, "READ of a directory: ISDIR");

	{
		FSSTAT3args a = { wire(&root) };

		RAW(rnfs, rpc_nfs3_fsstat_async, &a, take_fsstat);
		CHECK_EQ(R.status, NFS3_OK, "FSSTAT");
		CHECK(R.fsstat.tbytes > 0 && R.fsstat.fbytes <= R.fsstat.tbytes,
		      "FSSTAT sizes are sane");
		CHECK(R.have_attr, "FSSTAT returns attributes");
	}
	{
		FSINFO3args a = { wire(&root) };

		RAW(rnfs, rpc_nfs3_fsinfo_async, &a, take_fsinfo);
		CHECK_EQ(R.status, NFS3_OK, "FSINFO");
		CHECK_EQ(R.fsinfo.rtmax, 1048576, "rtmax 1 MiB");
		CHECK_EQ(R.fsinfo.wtmax, 1048576, "wtmax 1 MiB");
		CHECK_EQ(R.fsinfo.rtmult, 4096, "rtmult");
		CHECK_EQ(R.fsinfo.time_delta.nseconds, 1, "time_delta 1 ns");
		CHECK_EQ(R.fsinfo.properties, 0x1b,
			 "LINK|SYMLINK|HOMOGENEOUS|CANSETTIME");
	}
	{
		PATHCONF3args a = { wire(&root) };

		RAW(rnfs, rpc_nfs3_pathconf_async, &a, take_pathconf);
		CHECK_EQ(R.status, NFS3_OK, "PATHCONF");
		CHECK_EQ(R.pathconf.name_max, 255, "name_max 255");
		CHECK(R.pathconf.no_trunc && R.pathconf.chown_restricted &&
			      !R.pathconf.case_insensitive &&
			      R.pathconf.case_preserving,
		      "PATHCONF flags");
	}
}

static void test_symlinks(void)
{
	struct fh s;
	READLINK3args a;

	r_lookup(&root, "escape");
	CHECK(R.status == NFS3_OK && R.attr.type == NF3LNK,
	      "LOOKUP of a symlink gives the link itself");
	s = R.fh;
	a.symlink = wire(&s);
	RAW(rnfs, rpc_nfs3_readlink_async, &a, take_readlink);
	CHECK_EQ(R.status, NFS3_OK, "READLINK");
	CHECK_STR(R.data, "/etc/passwd", "READLINK returns the target as is");
	r_read(&s, 0, 100);
	CHECK(R.status != NFS3_OK, "READ through a symlink handle fails (%d)",
	      R.status);

	r_lookup(&root, "up");
	s = R.fh;
	a.symlink = wire(&s);
	RAW(rnfs, rpc_nfs3_readlink_async, &a, take_readlink);
	CHECK_STR(R.data, "../../..", "READLINK of ../../..");

	r_lookup(&root, "escdir");
	s = R.fh;
	r_lookup(&s, "passwd");
	CHECK_EQ(R.status, NFS3ERR_NOTDIR,
		 "LOOKUP through a symlink to /etc is not followed: NOTDIR");

	a.symlink = wire(&root);
	RAW(rnfs, rpc_nfs3_readlink_async, &a, take_readlink);
	CHECK_EQ(R.status, NFS3ERR_INVAL, "READLINK of a directory: INVAL");
}

static void test_write(void)
{
	struct fh f;
	char verf[8];

	r_lookup(&root, "hello.txt");
	f = R.fh;
	r_write(&f, 0, "HELLO", 5, 5, FILE_SYNC);
	CHECK_EQ(R.status, NFS3_OK, "WRITE to a lower file");
	CHECK(R.count == 5 && R.committed == FILE_SYNC,
	      "WRITE: count 5, FILE_SYNC");
	CHECK(R.have_attr && R.attr.size == 12, "WRITE returns wcc after");
	memcpy(verf, R.verf, 8);
	CHECK(file_is(D.lower, "hello.txt", "hello lower\n"),
	      "the lower file is unchanged on disk");
	CHECK(file_is(D.upper, "hello.txt", "HELLO lower\n"),
	      "the upper copy has the new content");
	r_slurp(&f);
	CHECK_STR(R.data, "HELLO lower\n", "the handle reads the new content");

	r_write(&f, 0, "abcde", 10, 5, FILE_SYNC);
	CHECK_EQ(R.status, NFS3ERR_INVAL, "WRITE with count != length: INVAL");

	r_write(&f, 12, "tail", 4, 4, UNSTABLE);
	CHECK_EQ(R.status, NFS3_OK, "UNSTABLE WRITE");
	CHECK(memcmp(R.verf, verf, 8) == 0, "same write verifier");
	r_commit(&f);
	CHECK_EQ(R.status, NFS3_OK, "COMMIT");
	CHECK(memcmp(R.verf, verf, 8) == 0, "COMMIT returns the verifier");
	CHECK(R.have_attr && R.attr.size == 16, "COMMIT wcc after: size 16");
}

static void test_create(void)
{
	struct fh f, ex1;
	SETATTR3args sa;
	uint32_t ctime_s, ctime_ns;

	r_create(&root, "new.txt", UNCHECKED, NULL);
	CHECK_EQ(R.status, NFS3_OK, "CREATE UNCHECKED");
	CHECK(R.have_fh && R.have_attr && R.attr.type == NF3REG &&
		      (R.attr.mode & 07777) == 0644,
	      "CREATE returns handle and attributes, mode 0644 (%o)",
	      R.attr.mode);
	CHECK(R.have_dattr, "CREATE returns the directory's wcc");
	f = R.fh;
	CHECK(access(path_in(D.upper, "new.txt"), F_OK) == 0,
	      "the new file is in upper");
	r_create(&root, "new.txt", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3ERR_EXIST, "CREATE GUARDED over it: EXIST");
	r_create(&root, "hello.txt", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3ERR_EXIST, "CREATE GUARDED over a lower: EXIST");

	r_create(&root, "excl.txt", EXCLUSIVE, "verf0001");
	CHECK_EQ(R.status, NFS3_OK, "CREATE EXCLUSIVE");
	ex1 = R.fh;
	r_create(&root, "excl.txt", EXCLUSIVE, "verf0001");
	CHECK_EQ(R.status, NFS3_OK, "CREATE EXCLUSIVE retry, same verifier");
	CHECK(R.have_fh && fh_eq(&R.fh, &ex1), "... gives the same handle");
	r_create(&root, "excl.txt", EXCLUSIVE, "verf0002");
	CHECK_EQ(R.status, NFS3ERR_EXIST,
		 "CREATE EXCLUSIVE, other verifier: EXIST");

	r_getattr(&f);
	ctime_s = R.attr.ctime.seconds;
	ctime_ns = R.attr.ctime.nseconds;
	memset(&sa, 0, sizeof(sa));
	sa.object = wire(&f);
	sa.new_attributes.mode.set_it = 1;
	sa.new_attributes.mode.set_mode3_u.mode = 0600;
	sa.guard.check = 1;
	sa.guard.sattrguard3_u.obj_ctime.seconds = ctime_s + 1000;
	RAW(rnfs, rpc_nfs3_setattr_async, &sa, take_setattr);
	CHECK_EQ(R.status, NFS3ERR_NOT_SYNC, "SETATTR, wrong guard: NOT_SYNC");
	sa.guard.sattrguard3_u.obj_ctime.seconds = ctime_s;
	sa.guard.sattrguard3_u.obj_ctime.nseconds = ctime_ns;
	RAW(rnfs, rpc_nfs3_setattr_async, &sa, take_setattr);
	CHECK_EQ(R.status, NFS3_OK, "SETATTR, right guard");
	CHECK(R.have_attr && (R.attr.mode & 07777) == 0600,
	      "SETATTR wcc after: mode 0600");

	r_lookup(&root, "trunc.txt");
	f = R.fh;
	memset(&sa, 0, sizeof(sa));
	sa.object = wire(&f);
	sa.new_attributes.size.set_it = 1;
	sa.new_attributes.size.set_size3_u.size = 3;
	RAW(rnfs, rpc_nfs3_setattr_async, &sa, take_setattr);
	CHECK(R.status == NFS3_OK && R.attr.size == 3,
	      "SETATTR size of a lower file");
	CHECK(file_is(D.upper, "trunc.txt", "tru"), "upper is truncated");
	CHECK(file_is(D.lower, "trunc.txt", "truncate me"), "lower is not");

	{
		MKNOD3args a;

		memset(&a, 0, sizeof(a));
		a.where.dir = wire(&root);
		a.where.name = "fifo";
		a.what.type = NF3FIFO;
		a.what.mknoddata3_u.pipe_attributes.mode.set_it = 1;
		a.what.mknoddata3_u.pipe_attributes.mode.set_mode3_u.mode =
			0644;
		RAW(rnfs, rpc_nfs3_mknod_async, &a, take_mknod);
		CHECK_EQ(R.status, NFS3_OK, "MKNOD FIFO");
		CHECK(R.have_attr && R.attr.type == NF3FIFO,
		      "MKNOD returns a FIFO");
		a.where.name = "reg";
		a.what.type = NF3REG;
		RAW(rnfs, rpc_nfs3_mknod_async, &a, take_mknod);
		CHECK_EQ(R.status, NFS3ERR_BADTYPE, "MKNOD of NF3REG: BADTYPE");
		a.what.type = NF3DIR;
		RAW(rnfs, rpc_nfs3_mknod_async, &a, take_mknod);
		CHECK_EQ(R.status, NFS3ERR_BADTYPE, "MKNOD of NF3DIR: BADTYPE");
	}
	{
		SYMLINK3args a;
		READLINK3args r;
		struct fh l;

		memset(&a, 0, sizeof(a));
		a.where.dir = wire(&root);
		a.where.name = "sl";
		a.symlink.symlink_data = "target/x";
		RAW(rnfs, rpc_nfs3_symlink_async, &a, take_symlink);
		CHECK_EQ(R.status, NFS3_OK, "SYMLINK");
		CHECK(R.have_fh && R.attr.type == NF3LNK, "SYMLINK gives a link");
		l = R.fh;
		r.symlink = wire(&l);
		RAW(rnfs, rpc_nfs3_readlink_async, &r, take_readlink);
		CHECK_STR(R.data, "target/x", "READLINK of the new link");
	}
	{
		LINK3args a;

		a.file = wire(&f);
		a.link.dir = wire(&root);
		a.link.name = "new_link";
		RAW(rnfs, rpc_nfs3_link_async, &a, take_link);
		CHECK_EQ(R.status, NFS3_OK, "LINK");
		CHECK(R.have_attr && R.attr.nlink == 2, "LINK: nlink 2");
		CHECK(R.have_dattr, "LINK returns the directory's wcc");
	}
	r_mkdir(&root, "newdir");
	CHECK_EQ(R.status, NFS3_OK, "MKDIR");
	CHECK(R.have_fh && R.attr.type == NF3DIR, "MKDIR gives a directory");
	r_mkdir(&root, "newdir");
	CHECK_EQ(R.status, NFS3ERR_EXIST, "MKDIR again: EXIST");
	r_mkdir(&root, "a/b");
	CHECK_EQ(R.status, NFS3ERR_INVAL, "MKDIR of a name with '/': INVAL");
	{
		RMDIR3args a;

		a.object.dir = wire(&root);
		a.object.name = "newdir";
		RAW(rnfs, rpc_nfs3_rmdir_async, &a, take_rmdir);
		CHECK_EQ(R.status, NFS3_OK, "RMDIR");
		a.object.name = "dir";
		RAW(rnfs, rpc_nfs3_rmdir_async, &a, take_rmdir);
		CHECK_EQ(R.status, NFS3ERR_NOTEMPTY,
			 "RMDIR of a non-empty lower dir: NOTEMPTY");
	}
}

static void test_remove_rename(void)
{
	struct fh f;

	r_remove(&root, "remove_me.txt");
	CHECK_EQ(R.status, NFS3_OK, "REMOVE of a lower file");
	CHECK(R.have_attr, "REMOVE returns the directory's wcc");
	r_lookup(&root, "remove_me.txt");
	CHECK_EQ(R.status, NFS3ERR_NOENT, "it is gone");
	CHECK(is_whiteout(D.upper, "remove_me.txt"),
	      "upper has a whiteout (char 0/0)");
	CHECK(file_is(D.lower, "remove_me.txt", "bye"), "lower still has it");
	r_remove(&root, "remove_me.txt");
	CHECK_EQ(R.status, NFS3ERR_NOENT, "REMOVE again: NOENT");

	r_rename(&root, "renme.txt", &root, "renamed.txt");
	CHECK_EQ(R.status, NFS3_OK, "RENAME of a lower file");
	CHECK(R.have_attr && R.have_dattr, "RENAME returns both wcc");
	r_lookup(&root, "renme.txt");
	CHECK_EQ(R.status, NFS3ERR_NOENT, "the old name is gone");
	r_lookup(&root, "renamed.txt");
	CHECK_EQ(R.status, NFS3_OK, "the new name is there");
	f = R.fh;
	r_slurp(&f);
	CHECK_STR(R.data, "rename me", "with the content");
	CHECK(file_is(D.lower, "renme.txt", "rename me"),
	      "lower is unchanged");
	r_rename(&root, "nope", &root, "nope2");
	CHECK_EQ(R.status, NFS3ERR_NOENT, "RENAME of a missing name: NOENT");
}

static void test_readdir(void)
{
	char seen[MAXENT][256];
	int nseen = 0, calls = 0, dups = 0;
	uint64_t cookie = 0;
	char verf[8] = { 0 };
	struct fh many, hello;

	r_readdir(&root, 0, NULL, 65536);
	CHECK_EQ(R.status, NFS3_OK, "READDIR");
	CHECK(R.eof, "READDIR of the root in one go: eof");
	CHECK(has_ent(".") && has_ent(".."), "lists . and ..");
	CHECK(has_ent("hello.txt") && has_ent("dir") && has_ent("new.txt"),
	      "lists lower and upper entries");
	CHECK(!has_ent("remove_me.txt") && !has_ent("renme.txt"),
	      "whiteouts hide removed and renamed lower entries");
	CHECK(R.have_dattr, "READDIR returns the directory's attributes");

	r_readdir(&root, 0, NULL, 50);
	CHECK_EQ(R.status, NFS3ERR_TOOSMALL, "READDIR count 50: TOOSMALL");

	r_walk("many", &many);
	do {
		r_readdir(&many, cookie, verf, 400);
		if (R.status != NFS3_OK || R.nent == 0)
			break;
		for (int i = 0; i < R.nent; i++) {
			for (int j = 0; j < nseen; j++)
				dups += strcmp(seen[j], R.ent[i]) == 0;
			if (nseen < MAXENT)
				snprintf(seen[nseen++], 256, "%s", R.ent[i]);
		}
		cookie = R.cookie[R.nent - 1];
		memcpy(verf, R.cookieverf, 8);
		calls++;
	} while (!R.eof && calls < 100);
	CHECK_EQ(R.status, NFS3_OK, "READDIR in small pieces");
	CHECK(calls > 3, "count 400 took several calls (%d)", calls);
	CHECK_EQ(nseen, 42, "all 40 files, . and .. seen");
	CHECK_EQ(dups, 0, "no entry twice");

	memset(verf, 0x5a, 8);
	r_readdir(&many, cookie, verf, 4096);
	CHECK_EQ(R.status, NFS3ERR_BAD_COOKIE,
		 "READDIR with a forged cookie verifier: BAD_COOKIE");
	r_readdir(&many, 0, verf, 65536);
	CHECK(R.status == NFS3_OK && R.eof && R.nent == 42,
	      "cookie 0 ignores the verifier (RFC 1813 3.3.16)");

	r_lookup(&root, "hello.txt");
	hello = R.fh;
	r_readdirplus(&root, 0, NULL, 8192, 65536);
	CHECK_EQ(R.status, NFS3_OK, "READDIRPLUS");
	CHECK(R.eof, "READDIRPLUS in one go: eof");
	for (int i = 0; i < R.nent; i++)
		if (strcmp(R.ent[i], "hello.txt") == 0) {
			CHECK(R.entfh_ok[i] && fh_eq(&R.entfh[i], &hello),
			      "READDIRPLUS gives LOOKUP's handle");
			CHECK_EQ(R.enttype[i], NF3REG,
				 "... and the attributes");
		}
	r_readdirplus(&many, 0, NULL, 100, 65536);
	CHECK(R.status == NFS3_OK && !R.eof && R.nent > 0 && R.nent < 10,
	      "READDIRPLUS honours dircount (%d entries)", R.nent);
	r_readdirplus(&many, 0, NULL, 65536, 1000);
	CHECK(R.status == NFS3_OK && !R.eof && R.nent > 0 && R.nent < 10,
	      "READDIRPLUS honours maxcount (%d entries)", R.nent);
}

static void test_handles(void)
{
	struct fh f, g, bad;

	bad = root;
	bad.data[bad.len / 2] ^= 0x40;
	r_getattr(&bad);
	CHECK_EQ(R.status, NFS3ERR_BADHANDLE,
		 "a byte-flipped handle: BADHANDLE");
	bad = root;
	bad.len = 60;
	r_getattr(&bad);
	CHECK_EQ(R.status, NFS3ERR_BADHANDLE, "a 60-byte handle: BADHANDLE");
	bad.len = 0;
	r_getattr(&bad);
	CHECK_EQ(R.status, NFS3ERR_BADHANDLE, "an empty handle: BADHANDLE");

	r_create(&root, "doomed.txt", UNCHECKED, NULL);
	f = R.fh;
	r_remove(&root, "doomed.txt");
	r_getattr(&f);
	CHECK_EQ(R.status, NFS3ERR_STALE, "a removed file's handle: STALE");
	r_read(&f, 0, 10);
	CHECK_EQ(R.status, NFS3ERR_STALE, "READ with it: STALE");

	/* Lower files removed through a whiteout are stale too. */
	r_lookup(&root, "hl_stale.txt");
	g = R.fh;
	r_remove(&root, "hl_stale.txt");
	r_getattr(&g);
	CHECK_EQ(R.status, NFS3ERR_STALE, "a whited-out lower file: STALE");

}

static uint64_t checksum(const char *p, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + (uint8_t)p[i];
	return sum;
}

/* Records of the largest size the server announces (FSINFO wtmax). */
static void test_big(void)
{
	size_t n = 1048576;
	char *buf = malloc(n + 4);
	struct fh f;

	if (buf == NULL)
		return;
	for (size_t i = 0; i < n + 4; i++)
		buf[i] = (char)('a' + i % 23);
	r_create(&root, "big.bin", UNCHECKED, NULL);
	f = R.fh;
	r_write(&f, 0, buf, n, n, UNSTABLE);
	CHECK_EQ(R.status, NFS3_OK, "WRITE of 1 MiB (wtmax)");
	CHECK_EQ(R.count, n, "... all of it");
	r_write(&f, 0, buf, n + 4, n + 4, UNSTABLE);
	CHECK_EQ(R.status, NFS3ERR_INVAL, "WRITE beyond wtmax: INVAL");
	r_read(&f, 0, 4 * n);
	CHECK_EQ(R.status, NFS3_OK, "READ of 4 MiB");
	CHECK(R.count == n && R.datalen == n && R.eof,
	      "is capped to rtmax: 1 MiB and eof (%u)", R.count);
	CHECK(R.sum == checksum(buf, n), "the data is right");
	r_read(&f, 1000, 4095);
	CHECK(R.count == 4095 && !R.eof &&
		      R.sum == checksum(buf + 1000, 4095),
	      "an unaligned READ is right and padded correctly");
	free(buf);
}

/* AUTH_NONE is squashed to the anonymous user, even with no_root_squash. */
static void test_authnone(void)
{
	struct rpc_context *saved = rnfs;
	struct fh f;

	rnfs = raw_connect(D.port, NFS_PROGRAM, NFS_V3);
	if (rnfs == NULL) {
		rnfs = saved;
		return;
	}
	rpc_set_auth(rnfs, libnfs_authnone_create());
	r_getattr(&root);
	CHECK_EQ(R.status, NFS3_OK, "AUTH_NONE: GETATTR");
	r_lookup(&root, "hello.txt");
	CHECK_EQ(R.status, NFS3_OK, "AUTH_NONE: LOOKUP");
	f = R.fh;
	r_read(&f, 0, 5);
	CHECK_EQ(R.status, NFS3_OK, "AUTH_NONE: READ of a 0644 file");
	r_create(&root, "anon.txt", GUARDED, NULL);
	CHECK_EQ(R.status, NFS3ERR_ACCES,
		 "AUTH_NONE: CREATE in root's 0755 directory: ACCES");
	rpc_destroy_context(rnfs);
	rnfs = saved;
}

static void test_mount_v1(void)
{
	struct rpc_context *m = raw_connect(D.port, MOUNT_PROGRAM, MOUNT_V1);
	char path[] = "/export";

	if (m == NULL) {
		CHECK(0, "MOUNT v1 connects");
		return;
	}
	CHECK_EQ(RAW0(m, rpc_mount1_null_async, NULL), 0, "MOUNT v1 NULL");
	CHECK_EQ(RAW0(m, rpc_mount1_export_async, take_export), 0,
		 "MOUNT v1 EXPORT (showmount -e)");
	CHECK_STR(R.ent[0], "/export 127.0.0.0/8", "lists /export");
	CHECK_EQ(RAW(m, rpc_mount1_mnt_async, path, take_mnt1), 0,
		 "MOUNT v1 MNT");
	CHECK_EQ(R.status, MNT3ERR_NOTSUPP,
		 "v1 MNT is refused: our handles do not fit 32 bytes");
	CHECK_EQ(RAW0(m, rpc_mount1_dump_async, take_dump), 0, "v1 DUMP");
	rpc_destroy_context(m);
}

/* Handles outlive copy-up, renames and restarts. */
struct kept {
	struct fh persist, inner, hla, hlb, lowdeep;
	uint64_t hl_id; /* the one fileid of hl_a and hl_b */
	uint64_t persist_id;
	char verf[8];
};


/* Both names of the lower hard link still show the one fileid. */
static void check_hl_ids(const struct kept *k, const char *when)
{
	uint64_t a, b;

	r_lookup(&root, "hl_a");
	a = R.attr.fileid;
	r_lookup(&root, "hl_b");
	b = R.attr.fileid;
	CHECK(R.status == NFS3_OK && a == k->hl_id && b == k->hl_id,
	      "hard link fileids %s: %llu %llu, want %llu", when,
	      (unsigned long long)a, (unsigned long long)b,
	      (unsigned long long)k->hl_id);
}
static void test_persist_before(struct kept *k)
{
	struct fh dir;

	r_lookup(&root, "persist.txt");
	k->persist = R.fh;
	k->persist_id = R.attr.fileid;
	r_write(&k->persist, 0, "PERSIST", 7, 7, FILE_SYNC);
	CHECK_EQ(R.status, NFS3_OK, "copy-up through a kept handle");
	memcpy(k->verf, R.verf, 8);
	r_getattr(&k->persist);
	CHECK_EQ(R.attr.fileid, k->persist_id, "fileid stable across copy-up");

	r_rename(&root, "persist.txt", &root, "persist2.txt");
	CHECK_EQ(R.status, NFS3_OK, "rename the copied-up file");
	r_slurp(&k->persist);
	CHECK_STR(R.data, "PERSIST", "the old handle reads after rename");

	r_mkdir(&root, "udir");
	dir = R.fh;
	r_create(&dir, "inner.txt", UNCHECKED, NULL);
	k->inner = R.fh;
	r_write(&k->inner, 0, "inner", 5, 5, FILE_SYNC);
	r_rename(&root, "udir", &root, "udir2");
	CHECK_EQ(R.status, NFS3_OK, "rename the ancestor directory");
	r_slurp(&k->inner);
	CHECK_STR(R.data, "inner", "the handle reads after ancestor rename");
	r_write(&k->inner, 5, "+", 1, 1, FILE_SYNC);
	CHECK(R.status == NFS3_OK &&
		      file_is(D.upper, "udir2/inner.txt", "inner+"),
	      "and writes the renamed file");

	/* a lower directory moves with a redirect (redirect-dir yes) */
	if (r_walk("lowmv/in/deep.txt", &k->lowdeep) == 0) {
		char v[64] = "";

		r_rename(&root, "lowmv", &root, "lowmv2");
		CHECK_EQ(R.status, NFS3_OK, "RENAME of a lower directory");
		CHECK(getxattr(path_in(D.upper, "lowmv2"),
			       "trusted.overlay.redirect", v, sizeof(v)) == 5 &&
			      memcmp(v, "lowmv", 5) == 0,
		      "with a redirect to its old name");
		r_slurp(&k->lowdeep);
		CHECK_STR(R.data, "low deep", "a handle from inside it reads");
	} else {
		CHECK(0, "lowmv/in/deep.txt is there");
	}

	r_lookup(&root, "hl_a");
	k->hla = R.fh;
	k->hl_id = R.attr.fileid;
	r_lookup(&root, "hl_b");
	k->hlb = R.fh;
	CHECK_EQ(R.attr.fileid, k->hl_id,
		 "LOOKUP of both names of a lower hard link: one fileid");
	r_write(&k->hlb, 0, "HARDLINKED", 10, 10, FILE_SYNC);
	CHECK_EQ(R.status, NFS3_OK, "copy-up of one hard-link name");
	check_hl_ids(k, "after copy-up");
}

/* The handle reads what a fresh lookup of path reads. */
static void check_same_as_path(const struct fh *fh, const char *path,
			       const char *what)
{
	struct fh now;
	static char a[sizeof(R.data)];

	if (r_walk(path, &now) != 0) {
		CHECK(0, "%s: %s is there", what, path);
		return;
	}
	r_slurp(&now);
	snprintf(a, sizeof(a), "%s", R.data);
	r_slurp(fh);
	CHECK(R.status == NFS3_OK && strcmp(R.data, a) == 0,
	      "%s: handle reads \"%s\" like %s (\"%s\")", what, R.data, path,
	      a);
}

static void test_persist_after(struct kept *k)
{
	check_hl_ids(k, "after restart");
	r_getattr(&k->persist);
	CHECK_EQ(R.status, NFS3_OK, "a handle from before the restart");
	CHECK_EQ(R.attr.fileid, k->persist_id, "fileid stable across restart");
	r_slurp(&k->persist);
	CHECK_STR(R.data, "PERSIST", "it reads the renamed, copied-up file");
	r_write(&k->persist, 7, "!", 1, 1, FILE_SYNC);
	CHECK_EQ(R.status, NFS3_OK, "and writes it");
	CHECK(file_is(D.upper, "persist2.txt", "PERSIST!"),
	      "the write lands in the right file");
	CHECK(memcmp(R.verf, k->verf, 8) != 0,
	      "the write verifier changed across the restart");
	r_slurp(&k->inner);
	CHECK_STR(R.data, "inner+", "the ancestor-renamed handle reads");
	check_same_as_path(&k->lowdeep, "lowmv2/in/deep.txt",
			   "inside a renamed lower directory");

	check_same_as_path(&k->hla, "hl_a", "hard link a");
	check_same_as_path(&k->hlb, "hl_b", "hard link b");
	r_write(&k->hla, 0, "h", 1, 1, FILE_SYNC);
	CHECK_EQ(R.status, NFS3_OK, "write through the other link's handle");
	check_same_as_path(&k->hla, "hl_a", "hard link a after write");
}

/* The POSIX view through libnfs's high-level API. */
static void test_highlevel(void)
{
	struct nfs_context *nfs = hl_mount();
	struct nfsfh *fh = NULL;
	struct nfs_stat_64 st;
	struct nfsdir *dir = NULL;
	struct nfsdirent *de;
	char buf[64];
	int found = 0;

	CHECK(nfs != NULL, "libnfs mounts the export");
	if (nfs == NULL)
		return;
	CHECK_EQ(nfs_stat64(nfs, "/cow.txt", &st), 0, "stat a lower file");
	CHECK_EQ(st.nfs_size, 13, "its size");
	CHECK_EQ(nfs_open(nfs, "/cow.txt", O_RDWR, &fh), 0, "open it rw");
	if (fh != NULL) {
		CHECK_EQ(nfs_pwrite(nfs, fh, 0, 5, "UPPER"), 5, "pwrite");
		memset(buf, 0, sizeof(buf));
		CHECK_EQ(nfs_pread(nfs, fh, 0, sizeof(buf) - 1, buf), 13,
			 "pread");
		CHECK_STR(buf, "UPPER content", "reads the new content");
		nfs_close(nfs, fh);
	}
	CHECK(file_is(D.lower, "cow.txt", "lower content"),
	      "copy-up left lower alone");
	CHECK(file_is(D.upper, "cow.txt", "UPPER content"), "upper has it");

	CHECK_EQ(nfs_mkdir(nfs, "/dir/made"), 0, "mkdir in a lower dir");
	CHECK_EQ(nfs_rename(nfs, "/dir/a.txt", "/dir/made/a2.txt"), 0,
		 "rename a lower file into it");
	CHECK_EQ(nfs_opendir(nfs, "/dir", &dir), 0, "opendir merged dir");
	while (dir != NULL && (de = nfs_readdir(nfs, dir)) != NULL)
		found |= (strcmp(de->name, "sub") == 0) << 0 |
			 (strcmp(de->name, "made") == 0) << 1 |
			 (strcmp(de->name, "a.txt") == 0) << 2;
	if (dir != NULL)
		nfs_closedir(nfs, dir);
	CHECK_EQ(found, 3, "merged listing has sub and made, not a.txt");
	CHECK(is_whiteout(D.upper, "dir/a.txt"), "rename left a whiteout");

	CHECK_EQ(nfs_chmod(nfs, "/dir/sub/deep.txt", 0600), 0, "chmod");
	CHECK_EQ(nfs_stat64(nfs, "/dir/sub/deep.txt", &st), 0, "stat");
	CHECK_EQ(st.nfs_mode & 07777, 0600, "mode changed");
	CHECK(file_is(D.upper, "dir/sub/deep.txt", "deep"),
	      "chmod copied up with the content");
	CHECK_EQ(nfs_truncate(nfs, "/dir/sub/deep.txt", 2), 0, "truncate");
	CHECK(file_is(D.upper, "dir/sub/deep.txt", "de"), "truncated");
	CHECK_EQ(nfs_symlink(nfs, "deep.txt", "/dir/sub/ln"), 0, "symlink");
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(nfs_readlink(nfs, "/dir/sub/ln", buf, sizeof(buf)), 0,
		 "readlink");
	CHECK_STR(buf, "deep.txt", "link target");
	CHECK_EQ(nfs_link(nfs, "/dir/sub/deep.txt", "/dir/sub/hard"), 0,
		 "link");
	CHECK_EQ(nfs_unlink(nfs, "/dir/sub/hard"), 0, "unlink");
	CHECK_EQ(nfs_rmdir(nfs, "/dir/made"), -ENOTEMPTY,
		 "rmdir non-empty: ENOTEMPTY");
	CHECK_EQ(nfs_unlink(nfs, "/dir/made/a2.txt"), 0, "unlink");
	CHECK_EQ(nfs_rmdir(nfs, "/dir/made"), 0, "rmdir");
	nfs_destroy_context(nfs);
}

/* Another daemon with other client rules. */
static void test_rules(const char *clients, bool expect_mount)
{
	struct tdaemon d2;
	struct rpc_context *m;
	char path[] = "/export";

	if (tdaemon_init(&d2, "nfs3rules") != 0)
		return;
	snprintf(d2.clients, sizeof(d2.clients), "%s", clients);
	tfile_write(d2.lower, "f", "x");
	if (tdaemon_start(&d2) != 0) {
		CHECK(0, "daemon with clients %s starts", clients);
		tdaemon_cleanup(&d2);
		return;
	}
	m = raw_connect(d2.port, MOUNT_PROGRAM, MOUNT_V3);
	if (m != NULL) {
		RAW(m, rpc_mount3_mnt_async, path, take_mnt);
		CHECK_EQ(R.status, expect_mount ? MNT3_OK : MNT3ERR_ACCES,
			 "MNT with clients %s", clients);
	}
	if (m != NULL && expect_mount) {
		struct rpc_context *saved = rnfs;
		struct fh r = R.fh, f;

		rnfs = raw_connect(d2.port, NFS_PROGRAM, NFS_V3);
		if (rnfs != NULL) {
			r_lookup(&r, "f");
			f = R.fh;
			CHECK_EQ(R.status, NFS3_OK, "read-only rule: LOOKUP");
			r_read(&f, 0, 10);
			CHECK_EQ(R.status, NFS3_OK, "read-only rule: READ");
			r_write(&f, 0, "y", 1, 1, FILE_SYNC);
			CHECK_EQ(R.status, NFS3ERR_ROFS,
				 "read-only rule: WRITE is ROFS");
			r_create(&r, "g", UNCHECKED, NULL);
			CHECK_EQ(R.status, NFS3ERR_ROFS,
				 "read-only rule: CREATE is ROFS");
			rpc_destroy_context(rnfs);
		}
		rnfs = saved;
	}
	if (m != NULL)
		rpc_destroy_context(m);
	CHECK_EQ(tdaemon_stop(&d2), 0, "daemon with %s exits cleanly",
		 clients);
	tdaemon_cleanup(&d2);
}

int main(void)
{
	struct kept k;

	if (tdaemon_init(&D, "nfs3") != 0 || populate() != 0) {
		printf("Bail out! cannot set up layers\n");
		return 1;
	}
	if (tdaemon_start(&D) != 0 || raw_open(D.port) != 0) {
		printf("Bail out! cannot start or mount the daemon (log %s)\n",
		       D.log);
		tdaemon_kill(&D);
		return 1;
	}
	test_mount();
	test_basic();
	test_symlinks();
	test_write();
	test_create();
	test_remove_rename();
	test_readdir();
	test_handles();
	test_big();
	test_authnone();
	test_mount_v1();
	test_persist_before(&k);
	test_highlevel();

	raw_close();
	CHECK_EQ(tdaemon_stop(&D), 0, "the daemon exits cleanly");
	/* A fresh log, so the harness cannot find the old run's port. */
	if (rename(D.log, path_in(D.dir, "log.1")) != 0)
		unlink(D.log);
	if (tdaemon_start(&D) != 0 || raw_open(D.port) != 0) {
		CHECK(0, "the daemon restarts on the same layers and catalog");
		tdaemon_kill(&D);
		return tap_done();
	}
	test_persist_after(&k);
	raw_close();
	CHECK_EQ(tdaemon_stop(&D), 0, "the daemon exits cleanly again");

	test_rules("127.0.0.1(ro,no_root_squash)", true);
	test_rules("10.1.2.3(rw)", false);

	tdaemon_cleanup(&D);
	return tap_done();
}
