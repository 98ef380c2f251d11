/*
 * layer.c - confined access to one layer, and overlayfs's on-disk markers.
 *
 * Everything below a layer root is opened with openat2(2) relative to the
 * root's O_PATH descriptor: RESOLVE_BENEATH keeps ".." and absolute paths
 * inside, RESOLVE_NO_SYMLINKS makes every symlink stored in a layer data,
 * never a way out.  A symlink as the last component gives an O_PATH
 * descriptor of the link itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"

int layer_openat(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	int fd, tries = 0;

	if (!*path)
		path = ".";
	do {
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		/* EAGAIN: a concurrent rename made the walk unsure; retry */
	} while (fd < 0 && (errno == EINTR || errno == EAGAIN) &&
		 ++tries < 16);
	return fd < 0 ? -errno : fd;
}

int layer_open(struct un_export *ex, int layer, const char *path, int flags)
{
	return layer_openat(ex->layers[layer].fd, path, flags);
}

bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

const char *ovl_xattr_prefix(const struct un_export *ex)
{
	return ex->userxattr ? "user.overlay." : "trusted.overlay.";
}

static void opaque_name(const struct un_export *ex, char *buf, size_t len)
{
	snprintf(buf, len, "%sopaque", ovl_xattr_prefix(ex));
}

/*
 * fgetxattr() refuses O_PATH descriptors; the /proc link of our own
 * descriptor names exactly the directory it holds.
 */
int is_opaque(struct un_export *ex, int fd)
{
	char proc[64], xname[64], val[4];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	opaque_name(ex, xname, sizeof(xname));
	n = getxattr(proc, xname, val, sizeof(val));
	if (n < 0)
		return (errno == ENODATA || errno == ENOTSUP) ? 0 : -errno;
	return n == 1 && val[0] == 'y';
}

int set_opaque(struct un_export *ex, int dirfd, const char *name)
{
	char xname[64];
	int fd, rc = 0;

	opaque_name(ex, xname, sizeof(xname));
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				 O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsetxattr(fd, xname, "y", 1, 0) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
