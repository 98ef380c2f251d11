/*
 * fixture.c - one real server for the harnesses: a union export "/export"
 * (lower + upper + work, everybody rw, no_root_squash) and a read-only
 * "/ro" over the same lower layer, in a fresh directory under /tmp that
 * is removed at exit.  Requests go straight to rpc_execute(), as a worker
 * thread would run them for a UDP client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "server.h"

static struct server srv;
static char top[96];
static struct un_handle handles[FUZZ_NFH];
static uint32_t next_xid = 1;

static void die(const char *what)
{
	fprintf(stderr, "fuzz fixture: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put_file(const char *rel, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0 || close(fd) < 0)
		die(path);
}

static void put_dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if (mkdir(path, 0755) < 0)
		die(path);
}

static char *layer(const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", top, rel) < 0)
		die("asprintf");
	return p;
}

static void add_export(struct config *cfg, const char *name, bool rw)
{
	struct export_conf *ex = &cfg->exports[cfg->nexports++];

	ex->versions = VERS_NFS3 | VERS_NFS4;
	ex->u.name = strdup(name);
	ex->u.lower[ex->u.nlower++] = layer("lower");
	if (rw) {
		ex->u.upper = layer("upper");
		ex->u.work = layer("work");
	}
	if (config_parse_clients(ex, rw ? "*(rw,no_root_squash)" : "*(ro)",
				 "fuzz", 0, stderr) != 0)
		exit(1);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/*
 * A crash ends the process without atexit handlers, leaving its
 * directory behind: those of processes that are gone are removed here
 * (the name carries the pid).
 */
static void sweep_stale(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	char path[300];
	int pid;

	while (d && (e = readdir(d)))
		if (sscanf(e->d_name, "unionnfsd-fuzz.%d.", &pid) == 1 &&
		    pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
			snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
			nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		}
	if (d)
		closedir(d);
}

static void make_layers(void)
{
	char path[256];

	sweep_stale();
	snprintf(top, sizeof(top), "/tmp/unionnfsd-fuzz.%d.XXXXXX",
		 (int)getpid());
	if (!mkdtemp(top))
		die("mkdtemp");
	put_dir("lower");
	put_dir("upper");
	put_dir("work");
	put_dir("lower/dir");
	put_file("lower/file", "lower layer data\n");
	put_file("lower/dir/sub", "sub\n");
	put_file("upper/new", "upper layer data\n");
	snprintf(path, sizeof(path), "%s/lower/link", top);
	if (symlink("file", path) < 0)
		die(path);
}

static void find_handles(void)
{
	static const char *const names[FUZZ_NFH] = {
		[FUZZ_FH_FILE] = "file", [FUZZ_FH_DIR] = "dir",
		[FUZZ_FH_LINK] = "link", [FUZZ_FH_UPPER] = "new",
	};
	struct un_cred root = { 0 };
	struct un_export *ux = srv.exports[0].ux;
	int i;

	if (un_root(ux, &handles[FUZZ_FH_ROOT]) < 0)
		die("un_root");
	for (i = 1; i < FUZZ_NFH; i++)
		if (un_lookup(ux, &root, &handles[FUZZ_FH_ROOT], names[i],
			      &handles[i], NULL, NULL) < 0)
			die(names[i]);
}

static void teardown(void)
{
	rpc_drc_clear();
	server_close(&srv);
	if (top[0] && nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "fuzz fixture: cannot remove %s\n", top);
}

void fuzz_setup(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char err[512];

	if (!cfg)
		die("calloc");
	/* Forged handles and bad records are logged: keep the output for
	 * what the sanitizers say. */
	log_init("unionnfsd-fuzz", getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_CRIT,
		 0);
	make_layers();
	config_init(cfg);
	cfg->catalog = layer("catalog.db");
	cfg->exports = calloc(2, sizeof(*cfg->exports));
	if (!cfg->exports)
		die("calloc");
	add_export(cfg, "/export", true);
	add_export(cfg, "/ro", false);
	if (server_open(&srv, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz fixture: %s\n", err);
		exit(1);
	}
	find_handles();
	atexit(teardown);
}

/* Replace each symbolic handle (see fuzz.h) by the real one. */
static uint8_t *substitute(const uint8_t *in, size_t size, size_t *outlen)
{
	static const uint8_t magic[8] = { 0, 0, 0, 8, 'U', 'N', 'F', 'H' };
	uint8_t *out = malloc(size / 12 * (4 + UN_HANDLE_MAX) + size + 1);
	size_t i = 0, o = 0;

	if (!out)
		return NULL;
	while (i < size) {
		if (size - i >= 12 && memcmp(in + i, magic, 8) == 0) {
			uint32_t idx, len;
			const struct un_handle *fh;

			memcpy(&idx, in + i + 8, 4);
			fh = &handles[ntohl(idx) % FUZZ_NFH];
			len = htonl(fh->len);
			memcpy(out + o, &len, 4);
			memcpy(out + o + 4, fh->data, fh->len);
			memset(out + o + 4 + fh->len, 0, (4 - fh->len % 4) % 4);
			o += 4 + (fh->len + 3) / 4 * 4;
			i += 12;
		} else {
			out[o++] = in[i++];
		}
	}
	*outlen = o;
	return out;
}

static void execute(uint8_t *rec, size_t len)
{
	struct rpc_req req = { .srv = &srv, .tcp = false };
	struct sockaddr_in *sin = (struct sockaddr_in *)&req.peer;

	sin->sin_family = AF_INET;
	sin->sin_port = htons(700);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	req.peer_len = sizeof(*sin);
	req.rec = rec;
	req.reclen = len;
	pthread_rwlock_rdlock(&srv.lock);
	rpc_execute(&srv, &req); /* frees rec */
	pthread_rwlock_unlock(&srv.lock);
	free(req.out.base);
}

void fuzz_record(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *rec = substitute(data, size, &len);

	if (rec)
		execute(rec, len);
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

void fuzz_call(uint32_t prog, uint32_t vers, uint32_t proc,
	       const uint8_t *args, size_t size)
{
	/* xid CALL 2 prog vers proc, AUTH_SYS {stamp, "fuzz", 0, 0, no
	 * groups}, AUTH_NONE verifier */
	enum { HDR = 6 * 4 + 8 + 4 * 6 + 8 };
	size_t alen;
	uint8_t *a = substitute(args, size, &alen), *rec, *p;

	if (!a)
		return;
	rec = malloc(HDR + alen + 1);
	if (!rec) {
		free(a);
		return;
	}
	p = put32(rec, next_xid++);
	p = put32(p, 0);
	p = put32(p, 2);
	p = put32(p, prog);
	p = put32(p, vers);
	p = put32(p, proc);
	p = put32(p, 1);	/* AUTH_SYS */
	p = put32(p, 6 * 4);	/* its body */
	p = put32(p, 0);	/* stamp */
	p = put32(p, 4);
	memcpy(p, "fuzz", 4);
	p += 4;
	p = put32(p, 0);	/* uid */
	p = put32(p, 0);	/* gid */
	p = put32(p, 0);	/* groups */
	p = put32(p, 0);	/* verifier: AUTH_NONE */
	p = put32(p, 0);
	memcpy(p, a, alen);
	free(a);
	execute(rec, HDR + alen);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}
