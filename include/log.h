/*
 * log.h - one line per event, to stderr or syslog.
 */
#ifndef UNIONNFSD_LOG_H
#define UNIONNFSD_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void log_init(const char *ident, int level, int use_syslog);
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * At most one message per second per call site; the number suppressed is
 * reported with the next one (for messages a client can provoke).
 */
#define log_ratelimited(level, ...)                                            \
	do {                                                                   \
		static struct log_ratelimit rl__;                              \
		log_limited(&rl__, level, __VA_ARGS__);                        \
	} while (0)
struct log_ratelimit {
	long last;
	unsigned suppressed;
};
void log_limited(struct log_ratelimit *rl, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * At most one message per key (say "bad file handle from 10.1.2.3") per
 * LOG_KEY_INTERVAL seconds, so that one client cannot flood the log
 * while every client still gets its first line.  What was held back is
 * summed up as "KEY: N more suppressed" with the key's next message
 * after the interval, or by log_ratelimit_flush() (at exit).
 */
struct sockaddr;
#define LOG_KEY_INTERVAL 60
void log_ratelimited_key(const char *key, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_ratelimit_flush(void);

/* A handle whose integrity tag did not verify: rate-limited per host. */
void log_bad_handle(const struct sockaddr *peer, const char *proto);

/* A printable "ADDR" (no port) of a socket address, in buf. */
const char *log_host(const struct sockaddr *sa, char *buf, unsigned len);

/* A printable "ADDR:PORT" of a socket address, in buf. */
struct sockaddr;
const char *log_addr(const struct sockaddr *sa, char *buf, unsigned len);

#endif
