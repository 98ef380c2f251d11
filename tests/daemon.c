/*
 * daemon.c - run a real unionnfsd for a test (see daemon.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <netinet/in.h>
#include <rpc/rpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 20000

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int tdaemon_init(struct tdaemon *d, const char *tag)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/unionnfsd-%s.XXXXXX", tag);
	if (!mkdtemp(d->dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(d->lower, sizeof(d->lower), "%s/lower", d->dir);
	snprintf(d->lower2, sizeof(d->lower2), "%s/lower2", d->dir);
	snprintf(d->upper, sizeof(d->upper), "%s/upper", d->dir);
	snprintf(d->work, sizeof(d->work), "%s/work", d->dir);
	snprintf(d->catalog, sizeof(d->catalog), "%s/catalog.db", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
	snprintf(d->clients, sizeof(d->clients),
		 "127.0.0.0/8(rw,no_root_squash)");
	d->export_name = "/export";
	d->pid = -1;
	if (mkdir(d->lower, 0755) < 0 || mkdir(d->lower2, 0755) < 0 ||
	    mkdir(d->upper, 0755) < 0 || mkdir(d->work, 0755) < 0) {
		perror("mkdir");
		return -1;
	}
	return 0;
}

static void exec_daemon(const struct tdaemon *d)
{
	const char *bin = getenv("UNIONNFSD");
	char lowers[700];
	int fd;

	if (!bin || !*bin)
		bin = "./unionnfsd";
	if (d->two_lowers)
		snprintf(lowers, sizeof(lowers), "%s:%s", d->lower, d->lower2);
	else
		snprintf(lowers, sizeof(lowers), "%s", d->lower);
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 ||
	    dup2(fd, STDOUT_FILENO) < 0)
		_exit(127);
	/* A test that dies must not leave its daemon behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(127);
	/* --no-rpcbind, --control none: tests run daemons in parallel, and
	 * each would take the others' registrations and control socket. */
	const char *argv[] = { bin, "-f", "--no-rpcbind", "--control", "none",
			       "--listen",
			       "127.0.0.1:0", "--catalog", d->catalog,
			       "--export", d->export_name, "--lower", lowers,
			       "--upper", d->upper, "--work", d->work,
			       "--clients", d->clients,
			       d->config ? "-c" : NULL, d->config,
			       NULL, NULL, NULL };

	/* The optional ones, packed at the end before the NULL. */
	if (d->grace) {
		size_t n = sizeof(argv) / sizeof(argv[0]) - 3;

		if (!d->config)
			n -= 2;
		argv[n] = "--grace";
		argv[n + 1] = d->grace;
	}
	execv(bin, (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* The port of the last "listening on 127.0.0.1:PORT" line, or 0. */
static int log_port(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], *p;
	int port = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "listening on 127.0.0.1:")) != NULL)
			port = atoi(p + strlen("listening on 127.0.0.1:"));
	fclose(f);
	return port;
}

int tconnect(int port, int type, int timeout_s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { timeout_s, 0 };
	int fd = socket(AF_INET, type, 0);

	if (fd < 0)
		return -1;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool can_connect(int port)
{
	int fd = tconnect(port, SOCK_STREAM, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void show_log(const struct tdaemon *d)
{
	char *text = tfile_read(d->dir, "log");

	fprintf(stderr, "# unionnfsd did not start; its log:\n%s",
		text ? text : "(none)\n");
	free(text);
}

int tdaemon_start(struct tdaemon *d)
{
	long deadline = now_ms() + START_TIMEOUT_MS;

	d->port = 0;
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0)
		exec_daemon(d);
	while (now_ms() < deadline) {
		if (!tdaemon_alive(d))
			break;
		/* the log is appended across restarts: the last line wins */
		d->port = log_port(d->log);
		if (d->port && can_connect(d->port))
			return 0;
		sleep_ms(20);
	}
	show_log(d);
	tdaemon_kill(d);
	return -1;
}

bool tdaemon_alive(struct tdaemon *d)
{
	int status;

	if (d->pid <= 0)
		return false;
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		d->pid = -1;
		return false;
	}
	return true;
}

int tdaemon_stop(struct tdaemon *d)
{
	long deadline = now_ms() + STOP_TIMEOUT_MS;
	int status;
	pid_t r;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	while ((r = waitpid(d->pid, &status, WNOHANG)) == 0) {
		if (now_ms() > deadline) {
			fprintf(stderr, "# unionnfsd ignored SIGTERM\n");
			tdaemon_kill(d);
			return -1;
		}
		sleep_ms(10);
	}
	d->pid = -1;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* a failed shutdown explains itself in the test's log */
		char *text = tfile_read(d->dir, "log");

		fprintf(stderr, "# unionnfsd stopped with status 0x%x; its log:\n%s",
			status, text ? text : "(none)\n");
		free(text);
	}
	if (r < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

void tdaemon_kill(struct tdaemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	if (remove(path) < 0)
		fprintf(stderr, "# rm %s: %s\n", path, strerror(errno));
	return 0;
}

void tdaemon_cleanup(struct tdaemon *d)
{
	tdaemon_kill(d);
	if (d->dir[0] && !getenv("KEEP"))
		nftw(d->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_parents(char *path)
{
	char *slash;

	for (slash = strchr(path + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*slash = '/';
			return -1;
		}
		*slash = '/';
	}
	return 0;
}

int tfile_write(const char *layerdir, const char *rel, const char *content)
{
	char path[4096];
	size_t len = strlen(content);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", layerdir, rel);
	if (make_parents(path) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, content, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

char *tfile_read(const char *layerdir, const char *rel)
{
	char path[4096];
	FILE *f;
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	snprintf(path, sizeof(path), "%s/%s", layerdir, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	do {
		if (n + 1024 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

int tnet_aliases(const char *const *ips, int n)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		goto out;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

		if (strncmp(ips[i], "127.", 4) == 0)
			continue;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo:%d", i);
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, ips[i], &sin->sin_addr) != 1 ||
		    ioctl(fd, SIOCSIFADDR, &ifr) < 0)
			goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

CLIENT *tclient_from(const struct tdaemon *d, const char *src,
		     unsigned long prog, unsigned long vers)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)d->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	CLIENT *c;

	if (sock < 0)
		return NULL;
	if (inet_pton(AF_INET, src, &me.sin_addr) != 1 ||
	    bind(sock, (struct sockaddr *)&me, sizeof(me)) < 0) {
		close(sock);
		return NULL;
	}
	c = clnttcp_create(&sin, prog, vers, &sock, 0, 0);
	if (!c) {
		close(sock);
		return NULL;
	}
	clnt_control(c, CLSET_FD_CLOSE, NULL);
	c->cl_auth = authunix_create("test", 0, 0, 0, NULL);
	return c;
}

void tclient_free(CLIENT *c)
{
	if (!c)
		return;
	auth_destroy(c->cl_auth);
	clnt_destroy(c);
}
