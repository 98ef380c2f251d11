/*
 * daemon.h - run a real unionnfsd for a test: temporary layer directories,
 * a catalog file, a free loopback port.  The binary is $UNIONNFSD (set by
 * `make check`), else ./unionnfsd.
 */
#ifndef UNIONNFSD_TEST_DAEMON_H
#define UNIONNFSD_TEST_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

struct tdaemon {
	char dir[256];	   /* temporary root: lower/ upper/ work/ catalog.db */
	char lower[300];   /* dir/lower */
	char lower2[300];  /* dir/lower2: a second, deeper lower layer */
	char upper[300];
	char work[300];
	char catalog[300];
	char log[300];	   /* the daemon's stderr */
	char clients[256]; /* --clients; default "127.0.0.0/8(rw,no_root_squash)" */
	const char *export_name; /* default "/export" */
	bool two_lowers;   /* pass --lower lower:lower2 */
	const char *grace; /* --grace SECONDS, or NULL */
	const char *config; /* -c FILE, read before the command line; or NULL */
	int port;
	pid_t pid;
};

/* Make the temporary directories (empty layers).  Returns 0 or -1. */
int tdaemon_init(struct tdaemon *d, const char *tag);
/* Start the daemon on a free port and wait until it accepts. 0 or -1. */
int tdaemon_start(struct tdaemon *d);
/* SIGTERM and wait; returns the exit status (or -1). */
int tdaemon_stop(struct tdaemon *d);
/* A socket of type connected to 127.0.0.1:port, whose receives give up
 * after timeout_s seconds (0: never); -1 on failure. */
int tconnect(int port, int type, int timeout_s);
/* SIGKILL and wait. */
void tdaemon_kill(struct tdaemon *d);
/* Is the process still running? */
bool tdaemon_alive(struct tdaemon *d);
/* rm -rf the temporary root. */
void tdaemon_cleanup(struct tdaemon *d);
/* Write a file (creating parents) below a layer dir; returns 0 or -1. */
int tfile_write(const char *layerdir, const char *rel, const char *content);
/* Read a whole small file; returns malloc'd text or NULL. */
char *tfile_read(const char *layerdir, const char *rel);

/*
 * Fake hosts for the tests that need clients at other addresses, in a
 * network namespace of the test's own (unshare(CLONE_NEWNET) first).
 */
/* Bring lo up and give it ips[0..n) as aliases lo:INDEX (addresses in
 * 127/8 are skipped: lo has them already).  Returns 0 or -1 (errno). */
int tnet_aliases(const char *const *ips, int n);
/* A TCP RPC client of d (AUTH_SYS root) whose calls come from the address
 * src; NULL on failure.  libtirpc's CLIENT, declared by its tag so that
 * this header does not need <rpc/rpc.h>. */
struct __rpc_client *tclient_from(const struct tdaemon *d, const char *src,
				  unsigned long prog, unsigned long vers);
/* auth_destroy + clnt_destroy; NULL is fine. */
void tclient_free(struct __rpc_client *c);

#endif
