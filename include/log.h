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

/* A printable "ADDR:PORT" of a socket address, in buf. */
struct sockaddr;
const char *log_addr(const struct sockaddr *sa, char *buf, unsigned len);

#endif
