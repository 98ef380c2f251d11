/*
 * copyup_bench.c - how long the first WRITE to a big lower file takes (the
 * copy-up runs inside it), and what GETATTR of another file costs for a
 * second client meanwhile.  Not a test: a measurement, run by
 * scripts/copyup_bench.sh.
 *
 *   copyup_bench URL FILE OTHER [chmod]
 *     URL    nfs://127.0.0.1/export?version=3&nfsport=P&mountport=P
 *     FILE   the lower file to write 4 KiB into (path in the export)
 *     OTHER  the file the second client GETATTRs in a loop
 *     chmod  first chmod FILE (a metacopy copy-up with `metacopy yes`)
 *
 * Prints: [chmod_s=]  write_s=  getattr_n=  getattr_avg_ms=  getattr_max_ms=
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfsc/libnfs.h>

static const char *url;
static const char *other;
static volatile bool writing = true;
static volatile bool ready;
static double lat_max, lat_sum;
static unsigned long lat_n;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct nfs_context *connect_url(void)
{
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *u;

	if (!nfs)
		return NULL;
	nfs_set_timeout(nfs, 600 * 1000);
	u = nfs_parse_url_dir(nfs, url);
	if (!u || nfs_mount(nfs, u->server, u->path) != 0) {
		fprintf(stderr, "copyup_bench: mount %s: %s\n", url,
			nfs_get_error(nfs));
		if (u)
			nfs_destroy_url(u);
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_destroy_url(u);
	return nfs;
}

static void *getattr_loop(void *arg)
{
	struct nfs_context *nfs = connect_url();
	struct nfs_stat_64 st;

	(void)arg;
	ready = true;
	if (!nfs)
		return NULL;
	while (writing) {
		double t = now(), d;

		if (nfs_stat64(nfs, other, &st) != 0) {
			fprintf(stderr, "copyup_bench: stat: %s\n",
				nfs_get_error(nfs));
			break;
		}
		d = now() - t;
		lat_sum += d;
		lat_n++;
		if (d > lat_max)
			lat_max = d;
	}
	nfs_destroy_context(nfs);
	return NULL;
}

int main(int argc, char **argv)
{
	struct nfs_context *nfs;
	struct nfsfh *fh;
	char buf[4096];
	pthread_t t;
	double t0, t1;
	int rc;

	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "chmod") == 0)) {
		fprintf(stderr, "usage: copyup_bench URL FILE OTHER [chmod]\n");
		return 2;
	}
	url = argv[1];
	other = argv[3];
	if (!(nfs = connect_url()))
		return 1;
	if (argc == 5) {
		t0 = now();
		if (nfs_chmod(nfs, argv[2], 0640) != 0) {
			fprintf(stderr, "copyup_bench: chmod: %s\n",
				nfs_get_error(nfs));
			return 1;
		}
		printf("chmod_s=%.3f ", now() - t0);
	}
	if (nfs_open(nfs, argv[2], O_WRONLY, &fh) != 0) {
		fprintf(stderr, "copyup_bench: open %s: %s\n", argv[2],
			nfs_get_error(nfs));
		return 1;
	}
	if (pthread_create(&t, NULL, getattr_loop, NULL) != 0)
		return 1;
	while (!ready)
		; /* the other client is connecting: spin, it is short */
	memset(buf, 'w', sizeof(buf));
	t0 = now();
	rc = nfs_pwrite(nfs, fh, 0, sizeof(buf), buf);
	t1 = now();
	writing = false;
	pthread_join(t, NULL);
	if (rc != (int)sizeof(buf)) {
		fprintf(stderr, "copyup_bench: write: %s\n", nfs_get_error(nfs));
		return 1;
	}
	nfs_close(nfs, fh);
	nfs_destroy_context(nfs);
	printf("write_s=%.3f getattr_n=%lu getattr_avg_ms=%.3f "
	       "getattr_max_ms=%.3f\n", t1 - t0, lat_n,
	       lat_n ? lat_sum / lat_n * 1e3 : 0.0, lat_max * 1e3);
	return 0;
}
