/*
 * unionnfsctl(8) - ask a running unionnfsd through its control socket.
 *
 * The command is the arguments joined by spaces, sent as one line; the
 * reply is printed as it comes, without its last line, which says how
 * the command went: "ok" (exit 0) or "error: ..." (printed to stderr,
 * exit 1).  A connection that ends before that line is an error too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef UNIONNFSD_RUNSTATEDIR
#define UNIONNFSD_RUNSTATEDIR "/run"
#endif
#define DEFAULT_CONTROL UNIONNFSD_RUNSTATEDIR "/unionnfsd.sock"
/* Only a sanity bound: the daemon enforces its own, smaller limit. */
#define MAX_LINE 65536

static void usage(FILE *f)
{
	fprintf(f,
		"usage: unionnfsctl [-s PATH] COMMAND [ARG...]\n"
		"\n"
		"  -s, --socket PATH   the daemon's control socket (default "
		"%s)\n"
		"  -h, --help          show this help\n"
		"\n"
		"commands:\n"
		"  exports               exports, their layers, client rules "
		"and call counts\n"
		"  clients               clients seen: address, export, "
		"requests, last seen\n"
		"  stats                 calls and latency per procedure, "
		"connections, bytes,\n"
		"                        copy-ups, catalog size\n"
		"  handle HEX            the export, layer and path of a file "
		"handle\n"
		"  whereis EXPORT PATH   the layer a path of an export comes "
		"from\n"
		"  reload                re-read the configuration (as "
		"SIGHUP)\n",
		DEFAULT_CONTROL);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "unionnfsctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "unionnfsctl: %s: %s%s\n", path,
			strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED
				? " (is unionnfsd running?)"
				: "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The arguments as one command line; no newline may hide a second one. */
static char *join_args(int argc, char **argv)
{
	size_t len = 2;
	char *line;
	int i;

	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\r\n")) {
			fprintf(stderr, "unionnfsctl: newline in argument\n");
			return NULL;
		}
		len += strlen(argv[i]) + 1;
	}
	if (len > MAX_LINE || !(line = malloc(len))) {
		fprintf(stderr, "unionnfsctl: command too long\n");
		return NULL;
	}
	line[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	strcat(line, "\n");
	return line;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Print the reply; 0 after "ok", 1 after "error: ...", 2 if cut short. */
static int read_reply(FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 2;

	while ((n = getline(&line, &cap, in)) > 0) {
		if (strcmp(line, "ok\n") == 0) {
			rc = 0;
			break;
		}
		if (strncmp(line, "error: ", 7) == 0) {
			fprintf(stderr, "unionnfsctl: %s", line + 7);
			rc = 1;
			break;
		}
		fputs(line, stdout);
	}
	free(line);
	if (rc == 2)
		fprintf(stderr, "unionnfsctl: the daemon closed the "
				"connection before answering\n");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONTROL;
	char *line;
	FILE *in;
	int ch, fd, rc;

	while ((ch = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 1;
	}
	if (!(line = join_args(argc - optind, argv + optind)))
		return 1;
	fd = connect_to(path);
	if (fd < 0) {
		free(line);
		return 1;
	}
	/* A refusal (not root) may close before the command is read: its
	 * reason is still there to read. */
	(void)send_all(fd, line, strlen(line));
	free(line);
	if (!(in = fdopen(fd, "r"))) {
		close(fd);
		return 1;
	}
	rc = read_reply(in);
	fclose(in);
	if (fflush(stdout) != 0)
		return 1;
	return rc ? 1 : 0;
}
