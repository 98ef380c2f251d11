/*
 * tap.h - minimal test assertions.  Each CHECK prints "ok"/"not ok" with
 * its location; a test program exits non-zero when any check failed.
 */
#ifndef UNIONNFSD_TAP_H
#define UNIONNFSD_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		tap_n++;                                                       \
		if (cond) {                                                    \
			printf("ok %d - ", tap_n);                             \
		} else {                                                       \
			tap_failed++;                                          \
			printf("not ok %d - %s:%d: (%s) ", tap_n, __FILE__,     \
			       __LINE__, #cond);                               \
		}                                                              \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		fflush(stdout);                                                \
	} while (0)

/* Compare two integers and show both on failure. */
#define CHECK_EQ(a, b, ...)                                                    \
	do {                                                                   \
		long long a__ = (long long)(a), b__ = (long long)(b);          \
		CHECK(a__ == b__, __VA_ARGS__);                                \
		if (a__ != b__)                                                \
			printf("#   got %lld, want %lld\n", a__, b__);         \
	} while (0)

#define CHECK_STR(a, b, ...)                                                   \
	do {                                                                   \
		const char *a__ = (a), *b__ = (b);                             \
		int eq__ = a__ && b__ && strcmp(a__, b__) == 0;                \
		CHECK(eq__, __VA_ARGS__);                                      \
		if (!eq__)                                                     \
			printf("#   got \"%s\", want \"%s\"\n",                \
			       a__ ? a__ : "(null)", b__ ? b__ : "(null)");    \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n# %d checks, %d failed\n", tap_n, tap_n, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif
