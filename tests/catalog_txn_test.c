/*
 * catalog_txn_test.c - a lost group commit fails every request in it.
 *
 * Catalog writes of concurrent requests share one open transaction, and
 * whichever request needs durability first commits it for all (catalog.c).
 * When that COMMIT fails (here: the catalog's file system is full), the
 * rows of the *other* requests in the transaction are gone too, so their
 * cat_sync() must fail as well: a success would hand a client an oid that
 * is in no table (and that the next new object may be given again).
 *
 * The catalog lives on a small tmpfs mounted in a private mount namespace
 * (gone with the test however it exits); needs root, otherwise skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../union/internal.h"
#include "tap.h"

static char dir[256], db[300], filler[300];
static struct un_catalog *cat;
static uint32_t ex_id;
static uint64_t root_oid;

/* One request on its own thread: catalogue a name, then, once told to,
 * wait for durability as a request does before its reply. */
struct request {
	pthread_t thread;
	pthread_barrier_t inserted, go_sync;
	const char *name;
	int insert_rc, sync_rc;
	uint64_t oid;
};

static void *request_main(void *arg)
{
	struct request *r = arg;

	r->insert_rc = cat_lookup_insert(cat, ex_id, root_oid, r->name,
					 UN_REG, &r->oid);
	pthread_barrier_wait(&r->inserted);
	pthread_barrier_wait(&r->go_sync);
	r->sync_rc = cat_sync(cat);
	return NULL;
}

static int request_start(struct request *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	if (pthread_barrier_init(&r->inserted, NULL, 2) != 0 ||
	    pthread_barrier_init(&r->go_sync, NULL, 2) != 0 ||
	    pthread_create(&r->thread, NULL, request_main, r) != 0)
		return -1;
	pthread_barrier_wait(&r->inserted);
	return 0;
}

static void request_finish(struct request *r)
{
	pthread_barrier_wait(&r->go_sync);
	pthread_join(r->thread, NULL);
	pthread_barrier_destroy(&r->inserted);
	pthread_barrier_destroy(&r->go_sync);
}

/* A thread that touched nothing: its cat_sync() has nothing to fail. */
static void *idle_sync(void *arg)
{
	*(int *)arg = cat_sync(cat);
	return NULL;
}

static void fill_fs(void)
{
	char buf[4096];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memset(buf, 'x', sizeof(buf));
	while (fd >= 0 && write(fd, buf, sizeof(buf)) > 0)
		;
	if (fd >= 0)
		close(fd);
}

static void open_catalog(void)
{
	char err[256];

	if (un_catalog_open(db, &cat, err, sizeof(err)) < 0 ||
	    cat_export_attach(cat, "/export", &ex_id, &root_oid) < 0) {
		printf("Bail out! catalog: %s\n", err);
		exit(2);
	}
}

int main(void)
{
	struct request b;
	pthread_t idle;
	int rc = 0, idle_rc = -1, i;
	uint64_t oid;

	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP needs root and a private mount namespace\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/catalog_txn_test.%d", (int)getpid());
	snprintf(db, sizeof(db), "%s/catalog.db", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	if (mkdir(dir, 0700) < 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") < 0) {
		printf("Bail out! tmpfs on %s: %s\n", dir, strerror(errno));
		return 2;
	}
	open_catalog();
	CHECK_EQ(cat_sync(cat), 0, "the export's rows are committed");

	/* Request B's row waits in the open transaction while the disk
	 * fills; then request A adds rows and commits: no room. */
	fill_fs();
	if (request_start(&b, "b") < 0) {
		printf("Bail out! thread\n");
		return 2;
	}
	CHECK_EQ(b.insert_rc, 0, "B: its row is in the open transaction");
	for (i = 0; i < 2000 && rc == 0; i++) {
		char name[32];

		snprintf(name, sizeof(name), "a%d", i);
		rc = cat_lookup_insert(cat, ex_id, root_oid, name, UN_REG,
				       &oid);
	}
	if (rc == 0)
		rc = cat_sync(cat);
	CHECK_EQ(rc, -ENOSPC, "A: its rows do not fit: NOSPC");
	request_finish(&b);
	CHECK_EQ(b.sync_rc, -ENOSPC, "B: the transaction its row was in was "
		 "lost: NOSPC, not success");
	CHECK_EQ(cat_lookup(cat, ex_id, root_oid, "b", &oid), -ENOENT,
		 "B's name is not catalogued");
	CHECK_EQ(cat_sync(cat), 0, "A's next sync has nothing lost to report");
	if (pthread_create(&idle, NULL, idle_sync, &idle_rc) == 0)
		pthread_join(idle, NULL);
	CHECK_EQ(idle_rc, 0, "a thread that touched nothing: its sync is 0");

	/* Room again: the same request now succeeds and its row lasts. */
	unlink(filler);
	if (request_start(&b, "b") < 0) {
		printf("Bail out! thread\n");
		return 2;
	}
	request_finish(&b);
	CHECK_EQ(b.insert_rc, 0, "B again: inserted");
	CHECK_EQ(b.sync_rc, 0, "B again: committed");
	un_catalog_close(cat);
	open_catalog();
	oid = 0;
	CHECK_EQ(cat_lookup(cat, ex_id, root_oid, "b", &oid), 0,
		 "after reopening, B's name is catalogued");
	CHECK_EQ(oid, b.oid, "... with the oid B was given");
	un_catalog_close(cat);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return tap_done();
}
