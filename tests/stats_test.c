/*
 * stats_test.c - the request counters of server/stats.c without a daemon:
 * exact totals from several threads counting at once, the histogram's
 * buckets and percentiles, statuses read from replies, and the bounded
 * client table.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>

#include "rpc.h"
#include "stats.h"
#include "tap.h"

#define THREADS 4
#define CALLS 100000

/* A call of prog/vers/proc whose reply is accepted with an NFS status. */
static void fake_call(uint32_t prog, uint32_t vers, uint32_t proc,
		      uint32_t nfsstat, uint32_t addr, uint32_t export_id,
		      uint64_t took_ns)
{
	uint32_t reply[8] = { 0, htonl(1), 0, 0, 0, 0, htonl(nfsstat), 0 };
	uint8_t buf[4 + sizeof(reply)];
	struct sockaddr_in *sin;
	struct rpc_req req;
	struct stats_call sc;

	memset(&req, 0, sizeof(req));
	memcpy(buf + 4, reply, sizeof(reply));
	sin = (struct sockaddr_in *)&req.peer;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	req.prog = prog;
	req.vers = vers;
	req.proc = proc;
	req.tcp = true;
	req.reclen = 100;
	req.out.base = buf;
	/* the call "arrived" took_ns ago */
	req.t_recv = stats_clock() - took_ns;
	stats_begin(&sc, &req);
	if (export_id != STATS_NO_EXPORT)
		stats_export_used(export_id);
	stats_reply(&sc, &req, 28);
	stats_end(&sc);
}

static const struct stats_proc *find(const struct stats_snapshot *s,
				     const char *program, uint32_t vers,
				     const char *name)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].name && !strcmp(s->procs[i].program, program) &&
		    s->procs[i].vers == vers && !strcmp(s->procs[i].name, name))
			return &s->procs[i];
	return NULL;
}

static void *counter_thread(void *arg)
{
	for (int i = 0; i < CALLS; i++)
		fake_call(100003, 3, 6 /* READ */, 0, 0x7f000001, 1, 0);
	return arg;
}

static void test_threads(void)
{
	pthread_t t[THREADS];
	struct stats_snapshot s;
	const struct stats_proc *p;
	int i;

	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, counter_thread, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(stats_snapshot(&s) == 0, "snapshot");
	p = find(&s, "nfs", 3, "READ");
	CHECK(p != NULL, "READ is a known procedure");
	CHECK_EQ(p ? p->calls : 0, THREADS * CALLS, "every READ counted");
	CHECK_EQ(s.requests, THREADS * CALLS, "every request counted");
	CHECK_EQ(s.bytes_in, (uint64_t)THREADS * CALLS * 104,
		 "bytes in with record marks");
	CHECK_EQ(s.export_calls[1], THREADS * CALLS, "calls of export 1");
	CHECK_EQ(s.accept[STATS_SUCCESS], THREADS * CALLS, "all accepted");
	CHECK_EQ(s.nclients, 1, "one client (one address, one export)");
	CHECK_EQ(s.nclients ? s.clients[0].requests : 0, THREADS * CALLS,
		 "its requests, summed over the threads' tables");
	stats_snapshot_free(&s);
}

static void test_latency(void)
{
	struct stats_snapshot s;
	const struct stats_proc *p;
	int i;

	/* 90 calls of ~10 us, 10 of ~1 ms: p50 near 10 us, p99 near 1 ms */
	for (i = 0; i < 90; i++)
		fake_call(100003, 3, 1 /* GETATTR */, 0, 0x7f000001, 1, 10000);
	for (i = 0; i < 10; i++)
		fake_call(100003, 3, 1, 0, 0x7f000001, 1, 1000000);
	CHECK(stats_snapshot(&s) == 0, "snapshot");
	p = find(&s, "nfs", 3, "GETATTR");
	CHECK_EQ(p ? p->calls : 0, 100, "100 GETATTR");
	if (p) {
		uint64_t p50 = stats_percentile(p, 0.5);
		uint64_t p99 = stats_percentile(p, 0.99);

		/* the clock ran a little between t_recv and the end */
		CHECK(p50 >= 8000 && p50 <= 15000, "p50 %llu ns near 10 us",
		      (unsigned long long)p50);
		CHECK(p99 >= 800000 && p99 <= 1500000,
		      "p99 %llu ns near 1 ms", (unsigned long long)p99);
	}
	stats_snapshot_free(&s);
}

static void test_buckets(void)
{
	unsigned i;
	bool rising = true;

	CHECK_EQ(stats_bounds[0], 1000, "first bound 1 us");
	CHECK_EQ(stats_bounds[STATS_NBOUNDS - 1], 80000000000ULL,
		 "last bound 80 s");
	for (i = 1; i < STATS_NBOUNDS; i++)
		rising &= stats_bounds[i] > stats_bounds[i - 1];
	CHECK(rising, "bounds rise");
	for (i = 1; i < STATS_NBOUNDS; i++)
		if (stats_bounds[i] * 3 > stats_bounds[i - 1] * 4)
			break;
	CHECK_EQ(i, STATS_NBOUNDS, "no bucket wider than a third");
}

static void test_status_and_unknown(void)
{
	struct stats_snapshot s;

	fake_call(100003, 3, 3 /* LOOKUP */, 2 /* NOENT */, 0x7f000001, 1, 0);
	fake_call(100003, 4, 1 /* COMPOUND */, 10008, 0x7f000001, 1, 0);
	fake_call(100003, 3, 99, 0, 0x7f000001, 1, 0); /* no such proc */
	fake_call(424242, 1, 0, 0, 0x7f000001, STATS_NO_EXPORT, 0);
	CHECK(stats_snapshot(&s) == 0, "snapshot");
	CHECK_EQ(s.nfsstat[0][2], 1, "one NFS3ERR_NOENT");
	CHECK_STR(stats_status_name(2), "NOENT", "its name");
	CHECK_EQ(stats_status_code(128 + 7), 10008, "status index of 10008");
	CHECK_EQ(s.nfsstat[1][128 + 7], 1, "one NFS4ERR_DELAY");
	CHECK_EQ(s.procs[s.nprocs - 1].calls, 2, "two calls of no procedure");
	stats_snapshot_free(&s);
}

static void test_clients_bounded(void)
{
	struct stats_snapshot s;

	for (uint32_t a = 0; a < 1000; a++)
		fake_call(100003, 3, 0, 0, 0x0a000000 + a, 1, 0);
	CHECK(stats_snapshot(&s) == 0, "snapshot");
	CHECK(s.nclients <= 64 + 1, "the client table stays bounded (%zu)",
	      s.nclients);
	stats_snapshot_free(&s);
}

int main(void)
{
	CHECK(stats_init() == 0, "stats_init");
	test_threads();
	test_latency();
	test_buckets();
	test_status_and_unknown();
	test_clients_bounded();
	stats_fini();
	return tap_done();
}
