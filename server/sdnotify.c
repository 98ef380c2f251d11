/*
 * sdnotify.c - tell the service manager how we are doing, the systemd
 * way (sd_notify(3), Type=notify): one datagram of "KEY=VALUE" lines to
 * the unix socket named by $NOTIFY_SOCKET, which may be a path or, with a
 * leading '@', a name in the abstract namespace.
 *
 * Written by hand because the protocol is one sendto() and libsystemd
 * would be a dependency for that alone.  Without $NOTIFY_SOCKET (not
 * started by systemd, or not Type=notify) this does nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

/* The socket address of $NOTIFY_SOCKET; 0 if unset or unusable. */
static socklen_t notify_address(struct sockaddr_un *addr)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return 0;
	len = strlen(path);
	if (len < 2 || len > sizeof(addr->sun_path)) {
		log_warn("NOTIFY_SOCKET: bad socket name");
		return 0;
	}
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, len);
	/* An abstract name starts with a NUL byte and is not terminated:
	 * its length is part of the name. */
	if (path[0] == '@')
		addr->sun_path[0] = '\0';
	else if (len == sizeof(addr->sun_path))
		return 0; /* no room for the path's terminating NUL */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			   (path[0] == '/'));
}

int sd_notify_state(const char *state)
{
	struct sockaddr_un addr;
	socklen_t len = notify_address(&addr);
	ssize_t n;
	int fd;

	if (len == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
		return -1;
	}
	/* Never block: RELOADING=1 is sent from the event loop thread. */
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
		   (struct sockaddr *)&addr, len);
	if (n < 0)
		log_warn("NOTIFY_SOCKET: cannot send %.*s: %s",
			 (int)strcspn(state, "\n"), state, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 1;
}

/*
 * systemd 253 and later (Type=notify-reload) want to know when the reload
 * began, so that they can tell a finished reload from an old READY=1.
 */
void sd_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	sd_notify_state(msg);
}
