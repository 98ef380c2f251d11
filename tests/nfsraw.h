/*
 * nfsraw.h - raw NFSv3 and MOUNTv3 calls over libnfs for the C tests.
 *
 * One call at a time: RAW() sends an rpc_*_async call, waits for its
 * reply and leaves what it said in R.  The tests differ only in how long
 * they wait and in what a hang-up means, so those are a policy each test
 * sets (raw_policy), not copies of the plumbing.
 */
#ifndef UNIONNFSD_TESTS_NFSRAW_H
#define UNIONNFSD_TESTS_NFSRAW_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h> /* libnfs.h needs struct timeval */

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

struct fh {
	uint32_t len;
	char data[NFS3_FHSIZE];
};

#define MAXENT 128

/* What the last raw call returned; only the fields the call fills. */
struct raw_result {
	int status; /* nfsstat3 or mountstat3; -1: no answer */
	struct fh fh;
	bool have_fh;
	fattr3 attr; /* object attributes (wcc "after" for wcc calls) */
	bool have_attr;
	fattr3 dattr; /* directory attributes */
	bool have_dattr;
	bool have_pre;
	char data[65536];
	uint32_t count;
	uint32_t datalen; /* READ: bytes of data, and their checksum */
	uint64_t sum;
	bool eof;
	char verf[8];
	int committed;
	uint32_t access;
	int nent;
	char ent[MAXENT][256];
	uint64_t cookie[MAXENT];
	uint64_t fileid[MAXENT];
	struct fh entfh[MAXENT];
	bool entfh_ok[MAXENT];
	int enttype[MAXENT];
	char cookieverf[8];
	FSINFO3resok fsinfo;
	FSSTAT3resok fsstat;
	PATHCONF3resok pathconf;
	int flavors[8];
	int nflavors;
};
extern struct raw_result R;

/* How every raw call waits for its reply (default 10 s, hang-ups ignored). */
struct raw_policy {
	int timeout_ms;		/* no reply for this long: the call failed */
	bool hangup_fails;	/* POLLHUP/POLLERR fails the call at once */
};
extern struct raw_policy raw_policy;

/* The MOUNT and NFS connections to the daemon, and the export's root. */
extern struct rpc_context *rnfs, *rmnt;
extern struct fh root;

typedef void (*take_fn)(void *data);
struct pending {
	take_fn take;
	int done;
	int status;
};

void rpc_done(struct rpc_context *rpc, int status, void *data, void *priv);
struct pending *raw_begin(take_fn take);
int raw_wait(struct rpc_context *rpc, struct pending *p);

/* Call an (rpc, cb, args, priv) function and wait; 0 when answered. */
#define RAW(rpc, fn, argp, takefn)                                             \
	({                                                                     \
		struct pending *p__ = raw_begin((take_fn)(takefn));            \
		fn(rpc, rpc_done, argp, p__) == 0 ? raw_wait(rpc, p__) : -1;   \
	})
#define RAW0(rpc, fn, takefn)                                                  \
	({                                                                     \
		struct pending *p__ = raw_begin((take_fn)(takefn));            \
		fn(rpc, rpc_done, p__) == 0 ? raw_wait(rpc, p__) : -1;         \
	})

struct rpc_context *raw_connect(int port, int prog, int vers);
int raw_open(int port);
void raw_close(void);

/*
 * libnfs decodes linked lists (DUMP, EXPORT, READDIR entries) into memory
 * from its own pool, only 4-byte aligned; walking them trips UBSan's
 * alignment check although x86 does not mind.
 */
#define LIBNFS_LISTS __attribute__((no_sanitize("alignment")))

nfs_fh3 wire(const struct fh *fh);
void keep_fh(struct fh *fh, const nfs_fh3 *w);
bool fh_eq(const struct fh *a, const struct fh *b);

/* Result takers, one per result type: each fills R. */
void take_mnt(mountres3 *r);
void take_mnt1(mountres1 *r);
void take_dump(mountlist *l);
void take_export(exports *e);
void take_getattr(GETATTR3res *r);
void take_setattr(SETATTR3res *r);
void take_lookup(LOOKUP3res *r);
void take_access(ACCESS3res *r);
void take_readlink(READLINK3res *r);
void take_read(READ3res *r);
void take_write(WRITE3res *r);
void take_commit(COMMIT3res *r);
void take_create(CREATE3res *r);
void take_mkdir(MKDIR3res *r);
void take_symlink(SYMLINK3res *r);
void take_mknod(MKNOD3res *r);
void take_remove(REMOVE3res *r);
void take_rmdir(RMDIR3res *r);
void take_rename(RENAME3res *r);
void take_link(LINK3res *r);
void take_readdir(READDIR3res *r);
void take_readdirplus(READDIRPLUS3res *r);
void take_fsstat(FSSTAT3res *r);
void take_fsinfo(FSINFO3res *r);
void take_pathconf(PATHCONF3res *r);

/* NFSv3 calls on rnfs: 0 when answered, R.status then holds the status. */
int r_getattr(const struct fh *fh);
int r_lookup(const struct fh *dir, const char *n);
int r_walk(const char *path, struct fh *out);
int r_read(const struct fh *fh, uint64_t off, uint32_t count);
int r_write(const struct fh *fh, uint64_t off, const char *data,
	    uint32_t count, uint32_t len, stable_how how);
int r_commit(const struct fh *fh);
int r_create(const struct fh *dir, const char *n, createmode3 how,
	     const char *verf);
int r_remove(const struct fh *dir, const char *n);
int r_rename(const struct fh *fd, const char *fn, const struct fh *td,
	     const char *tn);
int r_mkdir(const struct fh *dir, const char *n);
int r_readdir(const struct fh *dir, uint64_t cookie, const char *verf,
	      uint32_t count);
int r_readdirplus(const struct fh *dir, uint64_t cookie, const char *verf,
		  uint32_t dircount, uint32_t maxcount);

#endif
