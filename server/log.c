/*
 * log.c - one line per event, to stderr (foreground) or syslog.
 *
 * Worker threads log concurrently, so every line is formatted into a local
 * buffer first and written with a single call: lines never interleave.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

static const char *log_ident = "unionnfsd";
static int log_level = LOG_INFO;
static int log_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *ident, int level, int use_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

static void log_vmsg(int level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(level, "%s", line);
		return;
	}
	fprintf(stderr, "%s: %s\n", log_ident, line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static long monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

void log_limited(struct log_ratelimit *rl, int level, const char *fmt, ...)
{
	long now = monotonic_seconds();
	unsigned suppressed;
	va_list ap;
	char line[900];

	pthread_mutex_lock(&log_lock);
	if (rl->last != 0 && now - rl->last < 1) {
		rl->suppressed++;
		pthread_mutex_unlock(&log_lock);
		return;
	}
	rl->last = now;
	suppressed = rl->suppressed;
	rl->suppressed = 0;
	pthread_mutex_unlock(&log_lock);

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (suppressed)
		log_msg(level, "%s (%u similar messages suppressed)", line,
			suppressed);
	else
		log_msg(level, "%s", line);
}

/* ---- per-key rate limiting ------------------------------------------
 * A small table, oldest entry evicted (after its summary): a flood from
 * many addresses costs at most one line per address and interval.
 */
#define KEY_SLOTS 128
#define KEY_LEN 96

static struct key_slot {
	char key[KEY_LEN];
	long last; /* 0: free */
	unsigned suppressed;
	int level;
} key_slots[KEY_SLOTS];

/* Under log_lock: the slot for key, or a free or evicted one (then
 * *summary receives what the evicted key had held back). */
static struct key_slot *key_slot(const char *key, char *summary, size_t len,
				 int *summary_level)
{
	struct key_slot *s, *oldest = &key_slots[0];

	for (s = key_slots; s < key_slots + KEY_SLOTS; s++) {
		if (s->last != 0 && strcmp(s->key, key) == 0)
			return s;
		if (s->last < oldest->last)
			oldest = s;
	}
	if (oldest->last != 0 && oldest->suppressed) {
		snprintf(summary, len, "%s: %u more suppressed", oldest->key,
			 oldest->suppressed);
		*summary_level = oldest->level;
	}
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	return oldest;
}

void log_ratelimited_key(const char *key, int level, const char *fmt, ...)
{
	long now = monotonic_seconds();
	char summary[KEY_LEN + 40] = "", line[900];
	int summary_level = level;
	struct key_slot *s;
	va_list ap;

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&log_lock);
	s = key_slot(key, summary, sizeof(summary), &summary_level);
	if (s->last != 0 && now - s->last < LOG_KEY_INTERVAL) {
		s->suppressed++;
		pthread_mutex_unlock(&log_lock);
		return;
	}
	if (s->suppressed)
		snprintf(summary, sizeof(summary), "%s: %u more suppressed",
			 s->key, s->suppressed);
	s->last = now > 0 ? now : 1;
	s->suppressed = 0;
	s->level = level;
	pthread_mutex_unlock(&log_lock);

	if (summary[0])
		log_msg(summary_level, "%s", summary);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(level, "%s", line);
}

void log_ratelimit_flush(void)
{
	struct key_slot *s;

	pthread_mutex_lock(&log_lock);
	for (s = key_slots; s < key_slots + KEY_SLOTS; s++) {
		if (s->last != 0 && s->suppressed)
			log_msg(s->level, "%s: %u more suppressed", s->key,
				s->suppressed);
		s->suppressed = 0;
	}
	pthread_mutex_unlock(&log_lock);
}

void log_bad_handle(const struct sockaddr *peer, const char *proto)
{
	char host[INET6_ADDRSTRLEN + 8], key[KEY_LEN];

	log_host(peer, host, sizeof(host));
	snprintf(key, sizeof(key), "bad file handle from %s", host);
	log_ratelimited_key(key, LOG_WARNING,
			    "%s (%s): forged, damaged or issued by another "
			    "catalog; answered BADHANDLE", key, proto);
}

const char *log_host(const struct sockaddr *sa, char *buf, unsigned len)
{
	char host[INET6_ADDRSTRLEN];
	socklen_t salen = sa->sa_family == AF_INET6
				  ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in);

	if (getnameinfo(sa, salen, host, sizeof(host), NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s", host);
	return buf;
}

const char *log_addr(const struct sockaddr *sa, char *buf, unsigned len)
{
	char host[INET6_ADDRSTRLEN], port[8];
	socklen_t salen = sa->sa_family == AF_INET6
				  ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in);

	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
	return buf;
}
