/*
 * fuzz_config - the configuration file parser and validator: the input
 * is a whole unionnfsd.conf, read through a memfd like any file.
 *
 * Host names in client rules are resolved when a file is loaded; over
 * the network that can take seconds per name, so here only numeric
 * addresses resolve (getaddrinfo below wraps the C library's).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *,
			   const struct addrinfo *, struct addrinfo **);
	struct addrinfo h = { 0 };

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (!real)
		return EAI_FAIL;
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct config cfg;
	char path[64];
	int fd = memfd_create("fuzz.conf", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_init(&cfg);
	if (config_parse_file(&cfg, path, devnull) == 0)
		config_validate(&cfg, devnull);
	config_free(&cfg);
	close(fd);
	return 0;
}
