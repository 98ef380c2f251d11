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
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/*
 * What this thread has in force.  Each change is a prepare/commit of the
 * thread's credentials in the kernel, and a worker serves the same few
 * clients over and over: a change to what is already set is skipped.
 * Unknown (false) at thread start and after any failure.
 */
static __thread struct {
	bool ids_known, groups_known;
	uid_t fsuid;
	gid_t fsgid;
	uint32_t ngroups;
	gid_t groups[UN_NGROUPS_MAX];
} in_force;

static int set_groups(uint32_t n, const gid_t *groups)
{
	if (in_force.groups_known && in_force.ngroups == n &&
	    memcmp(in_force.groups, groups, n * sizeof(*groups)) == 0)
		return 0;
	in_force.groups_known = false;
	if (syscall(SYS_setgroups, (size_t)n, groups) < 0)
		return -errno;
	in_force.ngroups = n;
	memcpy(in_force.groups, groups, n * sizeof(*groups));
	in_force.groups_known = true;
	return 0;
}

/* setfsuid/setfsgid report no error: reading the value back is the check. */
static int set_ids(uid_t uid, gid_t gid)
{
	if (in_force.ids_known && in_force.fsuid == uid &&
	    in_force.fsgid == gid)
		return 0;
	in_force.ids_known = false;
	syscall(SYS_setfsgid, gid);
	if ((gid_t)syscall(SYS_setfsgid, (gid_t)-1) != gid)
		return -EPERM;
	syscall(SYS_setfsuid, uid);
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != uid)
		return -EPERM;
	in_force.fsuid = uid;
	in_force.fsgid = gid;
	in_force.ids_known = true;
	return 0;
}

int cred_enter(const struct un_cred *cr)
{
	uint32_t n = cr->ngroups > UN_NGROUPS_MAX ? UN_NGROUPS_MAX : cr->ngroups;
	int rc = set_groups(n, cr->groups);

	if (rc == 0)
		rc = set_ids(cr->uid, cr->gid);
	if (rc < 0)
		cred_leave();
	return rc;
}

/*
 * Back to fsuid 0, which restores the file-system capabilities.  The
 * supplementary groups stay: with those capabilities (DAC override,
 * CHOWN, FOWNER, FSETID) group membership decides nothing, and the next
 * client is likely to carry the same groups.
 */
void cred_leave(void)
{
	/* Cannot fail for a process with CAP_SETUID/CAP_SETGID (root). */
	(void)set_ids(0, 0);
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
	/* an ACL decides before the mode, as in the kernel */
	if (rc == -EROFS && cr->uid != 0)
		rc = acl_permission(cr, fd, st, mask);
	if (rc == -EROFS || rc == -ENODATA)
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
