/*
 * crash_test.c - kill -9 the daemon in the middle of a mixed workload,
 * restart it, and check what a client was promised (issue 6, "Faults").
 *
 * A model of every object the client knows follows the workload: creates,
 * FILE_SYNC writes, UNSTABLE writes with COMMIT, copy-ups of lower files,
 * renames and removes, one request at a time over the raw libnfs API.  A
 * thread kills the daemon after a random time, so the request in flight
 * at that moment may or may not have happened: the model then allows
 * both outcomes for it.  After each restart:
 *  - every handle the client held still works, or is STALE exactly when
 *    its removal was acknowledged (either, when the removal was in
 *    flight);
 *  - every object still reads a complete version (no torn or half-copied
 *    file), no older than what FILE_SYNC or a COMMIT made stable;
 *  - a LOOKUP of its name gives the same handle (catalog and layers
 *    agree), and no temporary is left in the work directory.
 * Violations are counted; the test expects none.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "nfsraw.h"
#include "tap.h"

#define NOBJ 24
#define NLOWER 8
#define FSIZE 64
#define CYCLES 20
#define BUDGET_MS 50000

enum ostate { FREE, LIVE, MAYBE_CREATED, MAYBE_REMOVED, REMOVED };

struct obj {
	enum ostate st;
	char name[32], alt[32];	/* alt: the target of a rename in flight */
	bool have_fh;
	struct fh fh;
	int durable;		/* oldest version it may show; -1: may be empty */
	int maxv;		/* newest version ever sent */
	int pending;		/* acknowledged UNSTABLE version */
};

static struct tdaemon D;
static struct obj objs[NOBJ];
static int version, names, violations;
static unsigned seed;
static volatile sig_atomic_t killed;

/* ---- the model ------------------------------------------------------ */

static void violation(const struct obj *o, const char *what)
{
	violations++;
	printf("# VIOLATION %s: %s (durable %d, max %d)\n", o->name, what,
	       o->durable, o->maxv);
}

static void content(int v, char *buf)
{
	char word[16];

	/* versions stay far below 10^8: eight digits per word */
	snprintf(word, sizeof(word), "%08u", (unsigned)v % 100000000u);
	for (int i = 0; i < FSIZE; i += 8)
		memcpy(buf + i, word, 8);
	buf[FSIZE] = '\0';
}

/* The version a file shows: -1 empty, -2 torn or foreign. */
static int version_of(const char *data, uint32_t len)
{
	char want[FSIZE + 1];
	int v;

	if (len == 0)
		return -1;
	if (len != FSIZE || sscanf(data, "%8d", &v) != 1)
		return -2;
	content(v, want);
	return memcmp(want, data, FSIZE) == 0 ? v : -2;
}

static struct obj *pick(enum ostate st)
{
	int start = (int)(rand_r(&seed) % NOBJ);

	for (int i = 0; i < NOBJ; i++) {
		struct obj *o = &objs[(start + i) % NOBJ];

		if (o->st == st && (st != LIVE || o->have_fh))
			return o;
	}
	return NULL;
}

static int live_count(void)
{
	int n = 0;

	for (int i = 0; i < NOBJ; i++)
		n += objs[i].st == LIVE && objs[i].have_fh;
	return n;
}

/* One random operation; -1 when the daemon stopped answering. */
static int step(void)
{
	char buf[FSIZE + 1];
	struct obj *o = pick(LIVE);
	int op = (int)(rand_r(&seed) % 100);

	if (op < 15 || !o) {
		o = pick(FREE);
		if (!o && (o = pick(REMOVED))) {
			/* recycle the slot: its handle must be STALE now */
			if (r_getattr(&o->fh) < 0)
				return -1;
			if (R.status != NFS3ERR_STALE)
				violation(o, "acknowledged removal, not STALE");
		}
		if (!o)
			return live_count() ? 0 : -1;
		snprintf(o->name, sizeof(o->name), "f%d", ++names);
		o->st = MAYBE_CREATED;
		o->have_fh = false;
		o->durable = o->maxv = o->pending = -1;
		if (r_create(&root, o->name, UNCHECKED, NULL) < 0)
			return -1;
		/* without its handle the client could not use the file */
		if (R.status == NFS3_OK && R.have_fh) {
			o->st = LIVE;
			o->have_fh = true;
			o->fh = R.fh;
		}
		return 0;
	}
	if (op < 55) {
		bool sync = op < 35;

		o->maxv = ++version;
		content(o->maxv, buf);
		if (r_write(&o->fh, 0, buf, FSIZE, FSIZE,
			    sync ? FILE_SYNC : UNSTABLE) < 0)
			return -1;
		if (R.status == NFS3_OK && sync)
			o->durable = o->maxv;
		else if (R.status == NFS3_OK)
			o->pending = o->maxv;
		return 0;
	}
	if (op < 70) {
		int p = o->pending;

		if (r_commit(&o->fh) < 0)
			return -1;
		if (R.status == NFS3_OK && p > o->durable)
			o->durable = p;
		return 0;
	}
	if (op < 88) {
		snprintf(o->alt, sizeof(o->alt), "r%d", ++names);
		if (r_rename(&root, o->name, &root, o->alt) < 0)
			return -1; /* alt stays set: in flight */
		if (R.status == NFS3_OK)
			snprintf(o->name, sizeof(o->name), "%s", o->alt);
		o->alt[0] = '\0';
		return 0;
	}
	o->st = MAYBE_REMOVED;
	if (r_remove(&root, o->name) < 0)
		return -1;
	o->st = R.status == NFS3_OK ? REMOVED : LIVE;
	return 0;
}

/* A name's handle must be the one the client holds. */
static void check_name(struct obj *o)
{
	bool old = r_lookup(&root, o->name) == 0 && R.status == NFS3_OK;
	struct fh at = R.fh;

	if (o->alt[0] && !old && r_lookup(&root, o->alt) == 0 &&
	    R.status == NFS3_OK) {
		/* the rename in flight happened */
		snprintf(o->name, sizeof(o->name), "%s", o->alt);
		at = R.fh;
		old = true;
	}
	o->alt[0] = '\0';
	if (!old) {
		violation(o, "its name does not resolve");
		return;
	}
	if (!fh_eq(&at, &o->fh))
		violation(o, "LOOKUP of its name gives another handle");
}

static void check_data(struct obj *o)
{
	int v;

	if (r_read(&o->fh, 0, FSIZE * 2) < 0 || R.status != NFS3_OK) {
		violation(o, "READ fails");
		return;
	}
	v = version_of(R.data, R.datalen);
	if (v == -2)
		violation(o, "torn or half-copied content");
	else if (v < o->durable)
		violation(o, "lost data acknowledged as stable");
	else if (v > o->maxv)
		violation(o, "content never written");
	/* an UNSTABLE write that did not survive is no longer pending */
	o->pending = v;
	o->maxv = v > o->maxv ? v : o->maxv;
}

static void check_obj(struct obj *o)
{
	if (o->st == MAYBE_CREATED) {
		if (r_lookup(&root, o->name) == 0 && R.status == NFS3_OK) {
			o->st = LIVE;
			o->have_fh = true;
			o->fh = R.fh;
		} else {
			o->st = FREE;
			return;
		}
	}
	if (o->st == LIVE && !o->have_fh) { /* lower file, first visit */
		if (r_lookup(&root, o->name) < 0 || R.status != NFS3_OK) {
			violation(o, "lower file not found");
			o->st = FREE;
			return;
		}
		o->have_fh = true;
		o->fh = R.fh;
	}
	if (r_getattr(&o->fh) < 0) {
		violation(o, "no answer");
		return;
	}
	if (o->st == MAYBE_REMOVED)
		o->st = R.status == NFS3ERR_STALE ? REMOVED : LIVE;
	if (o->st == REMOVED) {
		if (R.status != NFS3ERR_STALE)
			violation(o, "acknowledged removal, handle not STALE");
		o->st = FREE;
		return;
	}
	if (R.status != NFS3_OK) {
		violation(o, "a live object's handle fails");
		return;
	}
	check_name(o);
	check_data(o);
}

static void check_work_dir(void)
{
	struct dirent *de;
	DIR *dir = opendir(D.work);

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (strncmp(de->d_name, "#unionnfsd.", 11) == 0) {
			violations++;
			printf("# VIOLATION work dir holds %s\n", de->d_name);
		}
	closedir(dir);
}

static void *killer(void *arg)
{
	struct timespec ts = { 0, (long)(uintptr_t)arg * 1000000L };

	nanosleep(&ts, NULL);
	kill(D.pid, SIGKILL);
	killed = 1;
	return NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int populate(void)
{
	char n[32], buf[FSIZE + 1];

	content(0, buf);
	for (int i = 0; i < NLOWER; i++) {
		snprintf(n, sizeof(n), "low%02d", i);
		if (tfile_write(D.lower, n, buf) < 0)
			return -1;
		snprintf(objs[i].name, sizeof(objs[i].name), "%s", n);
		objs[i].st = LIVE;
		objs[i].durable = objs[i].maxv = objs[i].pending = 0;
	}
	return 0;
}

static int cycle(int c)
{
	uintptr_t ms = 20 + rand_r(&seed) % 300;
	pthread_t t;
	int ops = 0;

	if (tdaemon_start(&D) < 0 || raw_open(D.port) < 0) {
		printf("# cycle %d: daemon did not come back\n", c);
		return -1;
	}
	check_work_dir();
	for (int i = 0; i < NOBJ; i++)
		if (objs[i].st != FREE)
			check_obj(&objs[i]);
	killed = 0;
	if (pthread_create(&t, NULL, killer, (void *)ms) != 0)
		return -1;
	while (!killed && step() == 0)
		ops++;
	pthread_join(t, NULL);
	tdaemon_kill(&D);
	raw_close();
	printf("# cycle %d: %d requests answered before kill -9 at %u ms\n",
	       c, ops, (unsigned)ms);
	return 0;
}

int main(void)
{
	long start = now_ms();
	int c;

	/*
	 * The daemon is killed under the calls: its hang-up ends the call in
	 * flight at once (no reconnecting), and a reply lost to the kill is
	 * given up on soon, for the budget is shared by all cycles.
	 */
	raw_policy = (struct raw_policy){ .timeout_ms = 5000,
					  .hangup_fails = true };
	seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	if (getenv("SEED"))
		seed = (unsigned)atoi(getenv("SEED"));
	printf("# seed %u (SEED=... repeats a run)\n", seed);
	if (tdaemon_init(&D, "crash") < 0 || populate() < 0) {
		printf("Bail out! setup\n");
		return 1;
	}
	for (c = 0; c < CYCLES && now_ms() - start < BUDGET_MS; c++)
		if (cycle(c) < 0)
			break;
	CHECK(c > 0 && (c == CYCLES || now_ms() - start >= BUDGET_MS),
	      "%d kill -9 cycles ran", c);
	/* the last check, then a clean stop */
	if (tdaemon_start(&D) == 0 && raw_open(D.port) == 0) {
		check_work_dir();
		for (int i = 0; i < NOBJ; i++)
			if (objs[i].st != FREE)
				check_obj(&objs[i]);
	} else {
		violations++;
	}
	raw_close();
	CHECK_EQ(tdaemon_stop(&D), 0, "clean stop after the last restart");
	CHECK_EQ(violations, 0, "no violations over %d crashes", c);
	tdaemon_cleanup(&D);
	return tap_done();
}
