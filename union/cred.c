/*
 * cred.c - run file-system work as the client.
 *
 * fsuid, fsgid and the supplementary groups are per-thread in the kernel,
 * but glibc's setgroups()/setfsuid() wrappers broadcast the change to every
 * thread; raw syscalls change only the calling worker.  Setting a non-zero
 * fsuid also drops the file-system capabilities, and going back to 0
 * restores them, which is what makes the kernel check the client's rights.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static int set_fsids(uid_t uid, gid_t gid, size_t ngroups,
		     const gid_t *groups)
{
	if (syscall(SYS_setgroups, ngroups, groups) < 0)
		return -errno;
	syscall(SYS_setfsgid, gid);
	if ((gid_t)syscall(SYS_setfsgid, (gid_t)-1) != gid)
		return -EPERM;
	syscall(SYS_setfsuid, uid);
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != uid)
		return -EPERM;
	return 0;
}

int cred_enter(const struct un_cred *cr)
{
	uint32_t n = cr->ngroups > UN_NGROUPS_MAX ? UN_NGROUPS_MAX : cr->ngroups;
	int rc = set_fsids(cr->uid, cr->gid, n, cr->groups);

	if (rc < 0)
		cred_leave();
	return rc;
}

void cred_leave(void)
{
	/* Cannot fail for a process with CAP_SETUID/CAP_SETGID (root). */
	(void)set_fsids(0, 0, 0, NULL);
}

/* Is gid the caller's primary or one of its supplementary groups? */
bool cred_in_group(const struct un_cred *cr, gid_t gid)
{
	if (cr->gid == gid)
		return true;
	for (uint32_t i = 0; i < cr->ngroups && i < UN_NGROUPS_MAX; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

/* The classic owner/group/other check, for objects on read-only file
 * systems where the kernel answers every W_OK with EROFS. */
static int mode_access(const struct un_cred *cr, const struct stat *st,
		       int mask)
{
	mode_t m = st->st_mode;
	int bits;

	if (cr->uid == 0) {
		if (!(mask & X_OK) || S_ISDIR(m) || (m & 0111))
			return 0;
		return -EACCES;
	}
	if (cr->uid == st->st_uid)
		bits = (m >> 6) & 7;
	else if (cred_in_group(cr, st->st_gid))
		bits = (m >> 3) & 7;
	else
		bits = m & 7;
	return (bits & mask) == mask ? 0 : -EACCES;
}

int may_access(const struct un_cred *cr, int fd, const struct stat *st,
	       int mask)
{
	int rc;

	if (mask == 0)
		return 0;
	rc = cred_enter(cr);
	if (rc < 0)
		return rc;
	rc = syscall(SYS_faccessat2, fd, "", mask, AT_EACCESS | AT_EMPTY_PATH);
	rc = rc < 0 ? -errno : 0;
	cred_leave();
	if (rc == -EROFS)
		rc = mode_access(cr, st, mask);
	return rc;
}

/* The sticky-directory rule of rename(2)/unlink(2). */
int may_delete(const struct un_cred *cr, const struct stat *dir,
	       const struct stat *victim)
{
	if (!(dir->st_mode & S_ISVTX) || cr->uid == 0)
		return 0;
	if (cr->uid == dir->st_uid || cr->uid == victim->st_uid)
		return 0;
	return -EPERM;
}
