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

#endif
