/*
 * notify_test.c - the sd_notify(3) protocol as systemd's Type=notify sees
 * it: a datagram socket named in $NOTIFY_SOCKET gets READY=1 once the
 * daemon serves, RELOADING=1 then READY=1 around a SIGHUP reload, and
 * STOPPING=1 on SIGTERM.  Once with an abstract socket name ("@..."), as
 * systemd uses, once with a path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

#define WAIT_MS 20000

/* A datagram socket bound to name ("@..." abstract, else a path). */
static int notify_socket(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || len >= sizeof(addr.sun_path)) {
		perror("socket");
		return -1;
	}
	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&addr,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			     (name[0] != '@'))) < 0) {
		perror("bind");
		close(fd);
		return -1;
	}
	return fd;
}

/* The next message, NUL-terminated in buf, or "" after WAIT_MS. */
static const char *next_message(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, WAIT_MS) != 1)
		return buf;
	n = recv(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The first line of a message ("RELOADING=1\nMONOTONIC_USEC=..."). */
static const char *first_line(char *msg)
{
	msg[strcspn(msg, "\n")] = '\0';
	return msg;
}

static void run(const char *tag, const char *name, bool reload)
{
	struct tdaemon d;
	char msg[256];
	int fd;

	if (tdaemon_init(&d, tag) < 0) {
		CHECK(0, "%s: temporary directories", tag);
		return;
	}
	fd = notify_socket(name);
	CHECK(fd >= 0, "%s: notify socket %s", tag, name);
	if (fd < 0 || setenv("NOTIFY_SOCKET", name, 1) < 0 ||
	    tdaemon_start(&d) < 0) {
		CHECK(0, "%s: daemon started", tag);
		goto out;
	}
	CHECK_STR(next_message(fd, msg, sizeof(msg)), "READY=1",
		  "%s: READY=1 once serving", tag);
	if (reload) {
		kill(d.pid, SIGHUP);
		next_message(fd, msg, sizeof(msg));
		CHECK(strstr(msg, "\nMONOTONIC_USEC=") != NULL,
		      "%s: RELOADING=1 says when (MONOTONIC_USEC)", tag);
		CHECK_STR(first_line(msg), "RELOADING=1",
			  "%s: RELOADING=1 on SIGHUP", tag);
		CHECK_STR(next_message(fd, msg, sizeof(msg)), "READY=1",
			  "%s: READY=1 after the reload", tag);
	}
	CHECK_EQ(tdaemon_stop(&d), 0, "%s: SIGTERM: exit status 0", tag);
	CHECK_STR(next_message(fd, msg, sizeof(msg)), "STOPPING=1",
		  "%s: STOPPING=1 on SIGTERM", tag);
out:
	unsetenv("NOTIFY_SOCKET");
	if (fd >= 0)
		close(fd);
	tdaemon_cleanup(&d);
}

int main(void)
{
	char abstract[108], path[108];

	snprintf(abstract, sizeof(abstract), "@unionnfsd-notify-test-%ld",
		 (long)getpid());
	run("notify-abstract", abstract, true);
	snprintf(path, sizeof(path), "/tmp/unionnfsd-notify-%ld.sock",
		 (long)getpid());
	unlink(path);
	run("notify-path", path, false);
	unlink(path);
	return tap_done();
}
