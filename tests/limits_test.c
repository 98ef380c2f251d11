/*
 * limits_test.c - the transport's resource limits (issue 6): a connection
 * beyond max-connections is closed while the others are served; an idle
 * connection is closed after idle-timeout, a busy one is not; a client
 * that sends 1 MiB READs and never reads a reply stops being read from
 * (back-pressure) while the daemon's memory stays bounded and another
 * client is served; several such clients together stay within
 * max-buffered, the one that took nothing for long is disconnected, and
 * a bad max-buffered is a FILE:LINE error.
 *
 * Daemons run in the foreground from a configuration file, on a port of
 * their own (127.0.0.1:0).  Waits are for conditions, with generous
 * upper bounds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nfsraw.h"
#include "tap.h"

struct ldaemon {
	char dir[256];
	char path[8][320];	/* conf, log, lower, upper, work, catalog */
	pid_t pid;
	int port;
};
enum { CONF, LOG, LOWER, UPPER, WORK, CATALOG };

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_text(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool log_has(const struct ldaemon *d, const char *needle)
{
	char *text = read_text(d->path[LOG]);

	return text && strstr(text, needle);
}

/* Start a daemon whose configuration has the extra global lines. */
static int ld_start(struct ldaemon *d, const char *tag, const char *extra)
{
	static const char *const names[] = { "conf", "log", "lower", "upper",
					     "work", "catalog.db" };
	const char *bin = getenv("UNIONNFSD");
	long deadline = now_ms() + 60000;
	char conf[4096], *p;
	FILE *f;
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/unionnfsd-%s.XXXXXX", tag);
	if (!mkdtemp(d->dir))
		return -1;
	for (int i = 0; i < 6; i++)
		snprintf(d->path[i], sizeof(d->path[i]), "%s/%s", d->dir,
			 names[i]);
	if (mkdir(d->path[LOWER], 0755) < 0 || mkdir(d->path[UPPER], 0755) ||
	    mkdir(d->path[WORK], 0755) < 0)
		return -1;
	snprintf(conf, sizeof(conf),
		 "listen 127.0.0.1:0\ncatalog \"%s\"\ncontrol none\n"
		 "rpcbind no\n%s\nexport \"/export\" {\n\tlower \"%s\"\n"
		 "\tupper \"%s\"\n\twork \"%s\"\n"
		 "\tclients \"127.0.0.0/8(rw,no_root_squash)\"\n}\n",
		 d->path[CATALOG], extra, d->path[LOWER], d->path[UPPER],
		 d->path[WORK]);
	if (!(f = fopen(d->path[CONF], "w")) || fputs(conf, f) < 0 ||
	    fclose(f) != 0)
		return -1;
	if (!bin || !*bin)
		bin = "./unionnfsd";
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		fd = open(d->path[LOG], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(127);
		execl(bin, bin, "-f", "-c", d->path[CONF], (char *)NULL);
		_exit(127);
	}
	while (now_ms() < deadline) {
		char *text = read_text(d->path[LOG]);

		if (text && (p = strstr(text, "listening on 127.0.0.1:"))) {
			d->port = atoi(p + strlen("listening on 127.0.0.1:"));
			return 0;
		}
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			break;
		}
		poll(NULL, 0, 20);
	}
	fprintf(stderr, "# daemon did not start: %s\n",
		read_text(d->path[LOG]) ?: "(no log)");
	return -1;
}

static int ld_stop(struct ldaemon *d)
{
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &status, 0) != d->pid)
		return -1;
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void ld_cleanup(struct ldaemon *d)
{
	char cmd[400];

	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	if (d->dir[0] && !getenv("KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			printf("# cannot remove %s\n", d->dir);
	}
}

static int tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Wait up to ms for fd to be readable; read what is there.  Returns
 * bytes read, 0 at EOF, -1 on timeout or error. */
static ssize_t wait_read(int fd, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	return read(fd, buf, len);
}

/* NFS NULL on a connected socket: true when answered. */
static bool nfs_null(int fd, uint32_t xid)
{
	uint32_t call[11] = { htonl(0x80000000u | 40), htonl(xid), 0,
			      htonl(2), htonl(100003), htonl(3), 0, 0, 0, 0,
			      0 };
	uint32_t reply[7];
	size_t got = 0;

	if (write(fd, call, sizeof(call)) != (ssize_t)sizeof(call))
		return false;
	while (got < sizeof(reply)) {
		ssize_t n = wait_read(fd, (char *)reply + got,
				      sizeof(reply) - got, 30000);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return ntohl(reply[1]) == xid && reply[3] == 0 && reply[6] == 0;
}

/* Has the server closed fd (EOF or reset) within 30 s? */
static bool closed_by_server(int fd)
{
	char buf[256];
	long deadline = now_ms() + 30000;

	while (now_ms() < deadline) {
		ssize_t n = wait_read(fd, buf, sizeof(buf), 1000);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

static void test_max_connections(void)
{
	struct ldaemon d;
	int fd[4], extra, i, ok = 0;

	if (ld_start(&d, "limits-conn", "max-connections 3\nidle-timeout 0") <
	    0) {
		CHECK(0, "max-connections: daemon");
		ld_cleanup(&d);
		return;
	}
	for (i = 0; i < 3; i++) {
		fd[i] = tcp_connect(d.port);
		ok += fd[i] >= 0 && nfs_null(fd[i], 0x100 + (uint32_t)i);
	}
	CHECK_EQ(ok, 3, "max-connections 3: three connections served");
	extra = tcp_connect(d.port);
	CHECK(extra >= 0 && closed_by_server(extra),
	      "a fourth connection is closed by the server");
	CHECK(log_has(&d, "3 connections open; refusing another"),
	      "... and the log says why");
	for (ok = 0, i = 0; i < 3; i++)
		ok += nfs_null(fd[i], 0x200 + (uint32_t)i);
	CHECK_EQ(ok, 3, "the three are still served");
	close(fd[0]);
	/* the close reaches the daemon asynchronously: retry a while */
	ok = 0;
	for (long end = now_ms() + 30000; !ok && now_ms() < end;) {
		int f = tcp_connect(d.port);

		ok = f >= 0 && nfs_null(f, 0x300);
		if (f >= 0)
			close(f);
		if (!ok)
			poll(NULL, 0, 50);
	}
	CHECK(ok, "after one closes, a new connection is served");
	for (i = 1; i < 3; i++)
		close(fd[i]);
	if (extra >= 0)
		close(extra);
	CHECK_EQ(ld_stop(&d), 0, "max-connections: clean stop");
	ld_cleanup(&d);
}

static void test_idle_timeout(void)
{
	struct ldaemon d;
	int idle, busy;
	bool busy_ok = true;

	if (ld_start(&d, "limits-idle", "idle-timeout 2") < 0) {
		CHECK(0, "idle-timeout: daemon");
		ld_cleanup(&d);
		return;
	}
	idle = tcp_connect(d.port);
	busy = tcp_connect(d.port);
	CHECK(idle >= 0 && nfs_null(idle, 1), "idle-timeout: first call");
	CHECK(busy >= 0 && nfs_null(busy, 2), "idle-timeout: other client");
	/* the busy client calls every 200 ms until the idle one is shut */
	for (long end = now_ms() + 30000; now_ms() < end;) {
		char c;
		ssize_t n = wait_read(idle, &c, 1, 200);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		busy_ok = busy_ok && nfs_null(busy, 3);
	}
	CHECK(closed_by_server(idle), "an idle connection is closed");
	CHECK(busy_ok && nfs_null(busy, 4), "a busy one is served throughout");
	CHECK(log_has(&d, "idle for 2 seconds; closing connection"),
	      "the log says why");
	close(idle);
	close(busy);
	CHECK_EQ(ld_stop(&d), 0, "idle-timeout: clean stop");
	ld_cleanup(&d);
}

/* VmRSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid)
{
	char path[64], *text, *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = read_text(path);
	if (!text || !(p = strstr(text, "VmRSS:")))
		return -1;
	return atol(p + 6);
}

/* A READ3 call (AUTH_NONE) of count bytes at offset 0 of fh. */
static size_t read_call(uint8_t *out, uint32_t xid, const struct fh *fh,
			uint32_t count)
{
	uint32_t w[12] = { 0, htonl(xid), 0, htonl(2), htonl(100003),
			   htonl(3), htonl(6), 0, 0, 0, 0, htonl(fh->len) };
	size_t n = sizeof(w), pad = (fh->len + 3) & ~3u;
	uint32_t tail[3] = { 0, 0, htonl(count) };

	memcpy(out, w, n);
	memset(out + n, 0, pad);
	memcpy(out + n, fh->data, fh->len);
	n += pad;
	memcpy(out + n, tail, sizeof(tail));
	n += sizeof(tail);
	w[0] = htonl(0x80000000u | (uint32_t)(n - 4));
	memcpy(out, w, 4);
	return n;
}

/* Bytes the daemon's end of our connection (local port lport) has
 * received and not read yet: rx_queue in /proc/net/tcp.  -1: not found. */
static long server_rx_queue(int port, int lport)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	long q = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned la, lp, ra, rp, st;
		unsigned long tx, rx;

		if (sscanf(line, " %*d: %x:%x %x:%x %x %lx:%lx", &la, &lp, &ra,
			   &rp, &st, &tx, &rx) == 7 &&
		    (int)lp == port && (int)rp == lport)
			q = (long)rx;
	}
	fclose(f);
	return q;
}

#define SLOW_CALLS 1000		/* 1 GiB of replies if nothing held back */
#define SLOW_RSS_MAX (400L << 10) /* KiB: what back-pressure must keep */

static void test_slow_reader(void)
{
	static uint8_t call[256];
	struct ldaemon d;
	struct fh big;
	struct sockaddr_in me;
	socklen_t melen = sizeof(me);
	char path[400];
	long rss0, rss1 = -1, q = -1, prev = -2;
	int fd, i, sent = 0;
	size_t n;
	FILE *f;

	if (ld_start(&d, "limits-slow", "idle-timeout 0") < 0) {
		CHECK(0, "slow reader: daemon");
		ld_cleanup(&d);
		return;
	}
	snprintf(path, sizeof(path), "%s/big", d.path[LOWER]);
	f = fopen(path, "w");
	if (!f || ftruncate(fileno(f), 1 << 20) < 0 || fclose(f) != 0 ||
	    raw_open(d.port) < 0 || r_walk("big", &big) != 0 ||
	    (fd = tcp_connect(d.port)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &melen) < 0) {
		CHECK(0, "slow reader: a 1 MiB file, its handle, a connection");
		raw_close();
		ld_cleanup(&d);
		return;
	}
	rss0 = rss_kib(d.pid);
	/* 1000 READs of 1 MiB, about 100 KB of calls: the kernel's
	 * buffers take them all whether the daemon reads them or not */
	for (i = 0; i < SLOW_CALLS; i++) {
		n = read_call(call, 0x51000000u + (uint32_t)i, &big, 1 << 20);
		if (write(fd, call, n) != (ssize_t)n)
			break;
		sent++;
	}
	CHECK_EQ(sent, SLOW_CALLS, "slow reader: %d READs sent, no reply read",
		 SLOW_CALLS);
	/* wait until the daemon stops reading us: calls left in its
	 * receive queue, the same amount twice in a row */
	for (long end = now_ms() + 60000; now_ms() < end;) {
		q = server_rx_queue(d.port, ntohs(me.sin_port));
		if (q > 0 && q == prev)
			break;
		prev = q;
		poll(NULL, 0, 500);
	}
	CHECK(q > 0 && q == prev, "the daemon stops reading a client that "
	      "does not read (%ld bytes of calls left unread)", q);
	rss1 = rss_kib(d.pid);
	CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < SLOW_RSS_MAX,
	      "its memory grew by %ld KiB, less than %ld KiB (1 GiB asked)",
	      rss1 - rss0, SLOW_RSS_MAX);
	r_getattr(&root);
	CHECK_EQ(R.status, NFS3_OK, "another client is served meanwhile");
	close(fd);
	r_getattr(&big);
	CHECK_EQ(R.status, NFS3_OK, "... and after the slow one hung up");
	raw_close();
	CHECK_EQ(ld_stop(&d), 0, "slow reader: clean stop");
	ld_cleanup(&d);
}

/*
 * Several clients that never read, each asking for 1 GiB: alone, each
 * would hold about 72 MiB (8 MiB of output and 64 replies in flight, see
 * test_slow_reader()), 430 MiB in all.  With max-buffered 16 the daemon
 * must stay within the budget plus the replies its workers are making,
 * serve another client meanwhile, and disconnect a client that took
 * nothing for 10 seconds.
 */
#define BUDGET_CLIENTS 6
#define BUDGET_MIB 16
#define BUDGET_RSS_MAX (96L << 10) /* KiB: budget, workers' replies, malloc */

/* Wait until the daemon reads none of fds any more (their calls left in
 * its receive queues, the same twice in a row) or has closed them. */
static bool all_held_back(const struct ldaemon *d, const int *lports, int n)
{
	long q[BUDGET_CLIENTS], prev[BUDGET_CLIENTS];
	int i, same = 0;

	for (i = 0; i < n; i++)
		prev[i] = -2;
	for (long end = now_ms() + 60000; now_ms() < end;) {
		for (same = 0, i = 0; i < n; i++) {
			q[i] = server_rx_queue(d->port, lports[i]);
			same += q[i] == prev[i];
			prev[i] = q[i];
		}
		if (same == n)
			return true;
		poll(NULL, 0, 500);
	}
	return false;
}

static int count_lines(const struct ldaemon *d, const char *needle)
{
	char *text = read_text(d->path[LOG]), *p;
	int n = 0;

	for (p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_global_budget(void)
{
	static uint8_t call[256];
	struct ldaemon d;
	struct fh big;
	struct sockaddr_in me;
	socklen_t melen;
	char path[400];
	const char *closing = "seconds while over max-buffered (16 MiB); "
			      "closing connection";
	int fd[BUDGET_CLIENTS], lport[BUDGET_CLIENTS], i, k, sent = 0, n = 0;
	long rss0, rss1, rss2;
	size_t len;
	FILE *f;

	if (ld_start(&d, "limits-budget", "idle-timeout 0\nmax-buffered 16") <
	    0) {
		CHECK(0, "max-buffered: daemon");
		ld_cleanup(&d);
		return;
	}
	CHECK(log_has(&d, "max-buffered 16 MiB"), "the log says max-buffered");
	snprintf(path, sizeof(path), "%s/big", d.path[LOWER]);
	f = fopen(path, "w");
	if (!f || ftruncate(fileno(f), 1 << 20) < 0 || fclose(f) != 0 ||
	    raw_open(d.port) < 0 || r_walk("big", &big) != 0) {
		CHECK(0, "max-buffered: a 1 MiB file and its handle");
		raw_close();
		ld_cleanup(&d);
		return;
	}
	rss0 = rss_kib(d.pid);
	for (i = 0; i < BUDGET_CLIENTS; i++) {
		melen = sizeof(me);
		fd[i] = tcp_connect(d.port);
		if (fd[i] < 0 ||
		    getsockname(fd[i], (struct sockaddr *)&me, &melen) < 0)
			break;
		lport[i] = ntohs(me.sin_port);
		n++;
		for (k = 0; k < SLOW_CALLS; k++) {
			len = read_call(call, 0x52000000u + (uint32_t)(i << 12) +
						      (uint32_t)k,
					&big, 1 << 20);
			if (write(fd[i], call, len) != (ssize_t)len)
				break;
			sent++;
		}
	}
	CHECK_EQ(sent, BUDGET_CLIENTS * SLOW_CALLS,
		 "%d clients sent %d READs of 1 MiB each, no reply read",
		 BUDGET_CLIENTS, SLOW_CALLS);
	CHECK(n == BUDGET_CLIENTS && all_held_back(&d, lport, n),
	      "the daemon stops reading all of them");
	rss1 = rss_kib(d.pid);
	CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < BUDGET_RSS_MAX,
	      "its memory grew by %ld KiB, less than %ld KiB "
	      "(max-buffered 16 MiB; %d GiB asked)",
	      rss1 - rss0, BUDGET_RSS_MAX, BUDGET_CLIENTS);
	r_getattr(&root);
	CHECK_EQ(R.status, NFS3_OK, "another client is served meanwhile");
	r_read(&big, 0, 1 << 20);
	CHECK(R.status == NFS3_OK && R.count == 1u << 20,
	      "... a 1 MiB READ too (status %d, %u bytes)", R.status, R.count);
	for (long end = now_ms() + 120000;
	     count_lines(&d, closing) == 0 && now_ms() < end;)
		poll(NULL, 0, 200);
	CHECK(count_lines(&d, closing) >= 1,
	      "a client that took nothing for 10 s is disconnected (%d)",
	      count_lines(&d, closing));
	rss2 = rss_kib(d.pid);
	CHECK(rss2 > 0 && rss2 - rss0 < BUDGET_RSS_MAX,
	      "memory still within bounds: grew by %ld KiB", rss2 - rss0);
	r_getattr(&big);
	CHECK_EQ(R.status, NFS3_OK, "the other client is still served");
	for (i = 0; i < n; i++)
		close(fd[i]);
	raw_close();
	CHECK_EQ(ld_stop(&d), 0, "max-buffered: clean stop");
	CHECK(!log_has(&d, "bytes still counted at exit"),
	      "every byte counted was given back");
	ld_cleanup(&d);
}

/* --check-config: a max-buffered out of range is FILE:LINE. */
static void test_budget_config(void)
{
	const char *bin = getenv("UNIONNFSD");
	char conf[] = "/tmp/unionnfsd-limits-conf.XXXXXX", cmd[512], want[128];
	char out[1024] = "";
	FILE *f, *p;
	size_t n = 0;
	int fd = mkstemp(conf), st = -1;

	if (!bin || !*bin)
		bin = "./unionnfsd";
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || fputs("listen 127.0.0.1:0\nmax-buffered 4\n", f) < 0 ||
	    fclose(f) != 0) {
		CHECK(0, "max-buffered: a config file");
		return;
	}
	snprintf(cmd, sizeof(cmd), "'%s' --check-config '%s' 2>&1", bin, conf);
	if ((p = popen(cmd, "r"))) {
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		st = pclose(p);
	}
	snprintf(want, sizeof(want),
		 "%s:2: \"max-buffered\" must be between 8 and 1048576", conf);
	CHECK(st != 0 && strstr(out, want),
	      "max-buffered 4: %s (exit %d)", want, st);
	unlink(conf);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_max_connections();
	test_idle_timeout();
	test_slow_reader();
	test_global_budget();
	test_budget_config();
	return tap_done();
}
