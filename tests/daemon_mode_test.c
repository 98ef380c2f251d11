/*
 * daemon_mode_test.c - unionnfsd without -f: it detaches once it serves
 * (the parent exits 0, or 1 when the child cannot serve), writes its pid
 * file, logs to syslog, re-reads its configuration on SIGHUP and, on
 * SIGTERM, stops cleanly and removes the pid file.
 *
 * Syslog is caught at /dev/log: the test moves into a private mount
 * namespace and mounts a tmpfs over /dev there (with the few device nodes
 * a daemon opens), so the host's /dev is never touched.  The test is the
 * daemon's subreaper, so it can wait for the detached daemon's exit
 * status.  Needs root, otherwise skipped.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static char D[256];
static char syslog_text[1 << 16];
static size_t syslog_len;
static int syslog_fd = -1;
static pid_t daemon_pid;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *P(const char *name)
{
	static char bufs[16][512];
	static int n;
	char *b = bufs[n++ % 16];

	snprintf(b, 512, "%s/%s", D, name);
	return b;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static char *read_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A tmpfs over /dev with null, zero, urandom and a syslog socket. */
static int fake_dev(void)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = { { "/dev/null", 1, 3 }, { "/dev/zero", 1, 5 },
		      { "/dev/urandom", 1, 9 }, { "/dev/random", 1, 8 } };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (mount("tmpfs", "/dev", "tmpfs", 0, "size=1m,mode=0755") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (mknod(nodes[i].name, S_IFCHR | 0666,
			  makedev(nodes[i].maj, nodes[i].min)) < 0)
			return -1;
	syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/dev/log");
	if (syslog_fd < 0 ||
	    bind(syslog_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	return chmod("/dev/log", 0666);
}

/* Collect syslog messages until one contains needle (or 30 s pass). */
static bool syslog_wait(const char *needle)
{
	long deadline = now_ms() + 30000;

	while (!strstr(syslog_text, needle)) {
		struct pollfd pfd = { syslog_fd, POLLIN, 0 };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		n = recv(syslog_fd, syslog_text + syslog_len,
			 sizeof(syslog_text) - syslog_len - 2, 0);
		if (n <= 0)
			return false;
		syslog_len += (size_t)n;
		syslog_text[syslog_len++] = '\n';
		syslog_text[syslog_len] = '\0';
	}
	return true;
}

/* Run unionnfsd -c conf without -f; its exit status (the parent's). */
static int start_daemon(const char *conf, const char *out)
{
	const char *bin = getenv("UNIONNFSD");
	int status, fd;
	pid_t pid;

	if (!bin || !*bin)
		bin = "./unionnfsd";
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execl(bin, bin, "-c", conf, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int log_port(const char *path)
{
	char *text = read_text(path), *p;

	if (!text || !(p = strstr(text, "listening on 127.0.0.1:")))
		return 0;
	return atoi(p + strlen("listening on 127.0.0.1:"));
}

/* NFS NULL over TCP: true when answered MSG_ACCEPTED / SUCCESS. */
static bool nfs_null(int port)
{
	uint32_t call[11] = { htonl(0x80000000u | 40), htonl(0x7e57), 0,
			      htonl(2), htonl(100003), htonl(3), 0, 0, 0, 0,
			      0 };
	uint32_t reply[7];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0;
	bool ok = false;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    write(fd, call, sizeof(call)) != (ssize_t)sizeof(call))
		goto out;
	while (got < sizeof(reply)) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 30000) <= 0)
			goto out;
		n = read(fd, (char *)reply + got, sizeof(reply) - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	ok = ntohl(reply[1]) == 0x7e57 && ntohl(reply[2]) == 1 &&
	     reply[3] == 0 && reply[6] == 0;
out:
	if (fd >= 0)
		close(fd);
	return ok;
}

static pid_t read_pidfile(void)
{
	char *text = read_text(P("unionnfsd.pid"));

	return text ? (pid_t)atol(text) : 0;
}

static int wait_exit(pid_t pid)
{
	long deadline = now_ms() + 60000;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
	       now_ms() < deadline)
		poll(NULL, 0, 20);
	if (r != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_conf(const char *path, const char *listen,
		       const char *clients)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "listen %s\n"
		 "catalog \"%s\"\n"
		 "pidfile \"%s\"\n"
		 "control none\n"
		 "rpcbind no\n"
		 "export \"/export\" {\n"
		 "\tlower \"%s\"\n"
		 "\tupper \"%s\"\n"
		 "\twork \"%s\"\n"
		 "\tclients \"%s\"\n"
		 "}\n",
		 listen, P("catalog.db"), P("unionnfsd.pid"), P("lower"),
		 P("upper"), P("work"), clients);
	if (write_text(path, text) < 0)
		printf("Bail out! cannot write %s\n", path);
}

static void run(void)
{
	char cwd[64], link[256], listen[64], pidstr[32];
	ssize_t n;
	int port, rc;

	write_conf(P("conf"), "127.0.0.1:0", "127.0.0.0/8(rw)");
	rc = start_daemon(P("conf"), P("stderr"));
	CHECK_EQ(rc, 0, "without -f the parent exits 0 once the daemon serves");
	daemon_pid = read_pidfile();
	CHECK(daemon_pid > 0 && kill(daemon_pid, 0) == 0,
	      "the pid file names a running process (%d)", (int)daemon_pid);
	if (daemon_pid <= 0)
		return;
	CHECK_EQ(getsid(daemon_pid), daemon_pid,
		 "the daemon leads its own session");
	snprintf(link, sizeof(link), "/proc/%d/cwd", (int)daemon_pid);
	n = readlink(link, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = '\0';
	CHECK_STR(cwd, "/", "its working directory is /");
	port = log_port(P("stderr"));
	CHECK(port > 0, "it said where it listens before detaching");
	CHECK(nfs_null(port), "NFS NULL answered by the detached daemon");

	snprintf(pidstr, sizeof(pidstr), "unionnfsd[%d]:", (int)daemon_pid);
	kill(daemon_pid, SIGHUP);
	CHECK(syslog_wait("reloaded configuration"),
	      "SIGHUP: the reload is logged to syslog");
	CHECK(strstr(syslog_text, pidstr) != NULL,
	      "syslog lines carry \"%s\"", pidstr);
	CHECK(nfs_null(port), "still serving after SIGHUP");

	/* a second daemon on the same port: the child cannot serve, the
	 * parent says so with its exit status */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	write_conf(P("conf2"), listen, "127.0.0.0/8(rw)");
	rc = start_daemon(P("conf2"), P("stderr2"));
	CHECK_EQ(rc, 1, "a daemon that cannot serve: the parent exits 1");
	CHECK_EQ(read_pidfile(), daemon_pid,
		 "... and the running daemon's pid file is left alone");

	kill(daemon_pid, SIGTERM);
	CHECK(syslog_wait("stopped"), "SIGTERM: \"stopped\" in syslog");
	CHECK_EQ(wait_exit(daemon_pid), 0, "SIGTERM: exit status 0");
	daemon_pid = 0;
	CHECK(access(P("unionnfsd.pid"), F_OK) < 0 && errno == ENOENT,
	      "the pid file is removed at exit");
}

int main(void)
{
	char tmpl[] = "/tmp/unionnfsd-daemonmode.XXXXXX";

	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP needs root and a private mount namespace\n");
		return 77;
	}
	if (!mkdtemp(tmpl)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(D, sizeof(D), "%s", tmpl);
	if (mkdir(P("lower"), 0755) < 0 || mkdir(P("upper"), 0755) < 0 ||
	    mkdir(P("work"), 0755) < 0 ||
	    write_text(P("lower/hello.txt"), "hello\n") < 0) {
		printf("Bail out! layers\n");
		return 1;
	}
	if (fake_dev() < 0) {
		printf("Bail out! a private /dev with /dev/log: %s\n",
		       strerror(errno));
		return 1;
	}
	/* the detached daemon becomes our child, so we see its exit */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		printf("Bail out! subreaper: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	run();
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	if (!getenv("KEEP")) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", D);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", D);
	}
	return tap_done();
}
