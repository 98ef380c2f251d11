/*
 * nfs4acl_test.c - the NFSv4 ACL mapping (server/nfs4acl.c) against the
 * ACE lists knfsd produces for the same POSIX ACLs, the reverse mapping
 * (round trips, and ACE lists a client may send), the refusals, and
 * nfs4acl_get()/nfs4acl_set() on a real union (as root).
 *
 * ACEs are written "TYPE:FLAGS:WHO:MASK" with hex flags and mask, TYPE A
 * (allow) or D (deny), WHO OWNER@, GROUP@, EVERYONE@, uID or gID;
 * POSIX ACLs "u::6,u:1000:7,g::4,m::6,o::0" (octal permissions).
 *
 * Masks: 120080 is what anyone has (READ_ATTRIBUTES, READ_ACL,
 * SYNCHRONIZE), 40100 the owner's own (WRITE_ATTRIBUTES, WRITE_ACL);
 * 1 read, 6 write (WRITE_DATA, APPEND_DATA), 40 DELETE_CHILD (write on a
 * directory), 20 execute.
 *
 * The POSIX-to-NFSv4 lists below are the ones knfsd (Linux 6.1) sends for
 * the same ACLs, read with the kernel client (getfattr system.nfs4_acl
 * through ../shared/kclient/knfsd-overlay.sh): identical, ACE for ACE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "nfs4acl.h"
#include "tap.h"

static struct un_acl A, D;

static void posix_parse(const char *text, struct un_acl *acl)
{
	char buf[512], *save = NULL, *tok;

	acl->count = 0;
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		struct un_acl_entry *e = &acl->e[acl->count++];
		char *id = strchr(tok, ':') + 1, *perm = strchr(id, ':') + 1;
		bool named = *id != ':';

		if (tok[0] == 'u')
			e->tag = named ? UN_ACL_USER : UN_ACL_USER_OBJ;
		else if (tok[0] == 'g')
			e->tag = named ? UN_ACL_GROUP : UN_ACL_GROUP_OBJ;
		else
			e->tag = tok[0] == 'm' ? UN_ACL_MASK : UN_ACL_OTHER;
		e->id = named ? (uint32_t)strtoul(id, NULL, 10) : 0;
		e->perm = (uint32_t)strtoul(perm, NULL, 8);
	}
}

static const char *posix_text(const struct un_acl *acl)
{
	static char out[2][512];
	static int which;
	char *o = out[which++ & 1];
	size_t off = 0;

	o[0] = '\0';
	for (uint32_t i = 0; i < acl->count; i++) {
		const struct un_acl_entry *e = &acl->e[i];
		bool user = e->tag == UN_ACL_USER_OBJ || e->tag == UN_ACL_USER;
		char c = user ? 'u' : e->tag == UN_ACL_MASK ? 'm'
			 : e->tag == UN_ACL_OTHER ? 'o' : 'g';
		char id[16] = "";

		if (e->tag == UN_ACL_USER || e->tag == UN_ACL_GROUP)
			snprintf(id, sizeof(id), "%u", e->id);
		off += (size_t)snprintf(o + off, 512 - off, "%s%c:%s:%o",
					i ? "," : "", c, id, e->perm);
	}
	return o;
}

static void aces_parse(const char *text, struct nfs4acl *acl)
{
	char buf[1024], *save = NULL, *tok;

	acl->naces = 0;
	acl->aces = calloc(32, sizeof(*acl->aces));
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok && acl->aces;
	     tok = strtok_r(NULL, ",", &save)) {
		struct nfs4acl_ace *a = &acl->aces[acl->naces++];
		char *flag = strchr(tok, ':') + 1, *who = strchr(flag, ':') + 1;
		char *mask = strchr(who, ':') + 1;

		a->type = tok[0] == 'A' ? NFS4ACL_ALLOWED
			  : tok[0] == 'D' ? NFS4ACL_DENIED : 2 /* AUDIT */;
		a->flag = (uint32_t)strtoul(flag, NULL, 16);
		a->who = nfs4acl_who_parse(who, (size_t)(mask - 1 - who));
		if (a->who == NFS4ACL_WHO_NAMED)
			a->id = (uint32_t)strtoul(who + 1, NULL, 10);
		a->access_mask = (uint32_t)strtoul(mask, NULL, 16);
	}
}

static const char *aces_text(const struct nfs4acl *acl)
{
	static char out[2048];
	size_t off = 0;

	out[0] = '\0';
	for (uint32_t i = 0; i < acl->naces; i++) {
		const struct nfs4acl_ace *a = &acl->aces[i];
		const char *who = nfs4acl_who_string(a->who);
		char named[16];

		snprintf(named, sizeof(named), "%c%u",
			 (a->flag & NFS4ACL_IDENTIFIER_GROUP) ? 'g' : 'u',
			 a->id);
		off += (size_t)snprintf(out + off, sizeof(out) - off,
					"%s%c:%x:%s:%x", i ? "," : "",
					a->type == NFS4ACL_ALLOWED ? 'A' : 'D',
					a->flag, who ? who : named,
					a->access_mask);
	}
	return out;
}

/*
 * POSIX (access, default) to ACEs: exactly want; then back again, to the
 * same ACLs or, when back is not NULL, to that access ACL (permissions
 * beyond the MASK do not survive the trip: they mean nothing).
 */
static void check_to_v4(const char *acc, const char *dfl, bool dir,
			const char *want, const char *back_want,
			const char *what)
{
	struct nfs4acl acl;
	struct un_acl back, dback;

	posix_parse(acc, &A);
	posix_parse(dfl, &D);
	if (nfs4acl_from_posix(&A, &D, dir, &acl) != 0) {
		CHECK(0, "%s: mapped", what);
		return;
	}
	CHECK_STR(aces_text(&acl), want, "%s", what);
	CHECK_EQ(nfs4acl_to_posix(&acl, dir, &back, &dback), 0,
		 "%s: its ACEs map back", what);
	CHECK_STR(posix_text(&back), back_want ? back_want : acc,
		  "%s: to the same access ACL", what);
	CHECK_STR(posix_text(&dback), dfl, "%s: and default ACL", what);
	nfs4acl_free(&acl);
}

/* ACEs a client sends to POSIX: exactly want (and wantd), or err. */
static void check_to_posix(const char *aces, bool dir, int err,
			   const char *want, const char *wantd,
			   const char *what)
{
	struct nfs4acl acl;
	int rc;

	aces_parse(aces, &acl);
	rc = nfs4acl_to_posix(&acl, dir, &A, &D);
	CHECK_EQ(rc, err, "%s", what);
	if (rc == 0 && err == 0) {
		CHECK_STR(posix_text(&A), want, "%s: access ACL", what);
		CHECK_STR(posix_text(&D), wantd, "%s: default ACL", what);
	}
	nfs4acl_free(&acl);
}

static void test_posix_to_v4(void)
{
	check_to_v4("u::6,g::4,o::4", "", false,
		    "A:0:OWNER@:160187,A:0:GROUP@:120081,A:0:EVERYONE@:120081",
		    NULL, "mode 0644");
	check_to_v4("u::6,g::0,o::4", "", false,
		    "A:0:OWNER@:160187,A:0:GROUP@:120080,D:0:GROUP@:1,"
		    "A:0:EVERYONE@:120081", NULL,
		    "mode 0604: GROUP@ denied what EVERYONE@ grants");
	check_to_v4("u::0,g::0,o::0", "", false,
		    "A:0:OWNER@:160180,A:0:GROUP@:120080,A:0:EVERYONE@:120080",
		    NULL, "mode 0000: the owner keeps its attributes and ACL");
	check_to_v4("u::6,u:1000:7,g::4,g:50:6,m::6,o::0", "", false,
		    "A:0:OWNER@:160187,A:0:u1000:120087,A:0:GROUP@:120081,"
		    "A:40:g50:120087,A:0:EVERYONE@:120080",
		    "u::6,u:1000:6,g::4,g:50:6,m::6,o::0",
		    "named user and group, limited by the MASK");
	check_to_v4("u::4,u:1000:6,g::4,m::6,o::0", "", false,
		    "D:0:OWNER@:6,A:0:OWNER@:160181,A:0:u1000:120087,"
		    "A:0:GROUP@:120081,A:0:EVERYONE@:120080", NULL,
		    "an owner with less than a named user is denied the rest");
	check_to_v4("u::7,u:1000:0,g::4,m::4,o::4", "", false,
		    "A:0:OWNER@:1601a7,D:0:u1000:1,A:0:u1000:120080,"
		    "A:0:GROUP@:120081,A:0:EVERYONE@:120081", NULL,
		    "an empty user entry denies what EVERYONE@ grants");
	check_to_v4("u::7,g::7,g:50:1,g:60:5,m::5,o::4", "", false,
		    "A:0:OWNER@:1601a7,A:0:GROUP@:1200a1,A:40:g50:1200a0,"
		    "A:40:g60:1200a1,D:40:g50:1,A:0:EVERYONE@:120081",
		    "u::7,g::5,g:50:1,g:60:5,m::5,o::4",
		    "groups: all ALLOWs, then the DENYs");
	check_to_v4("u::7,u:1000:5,g::5,m::5,o::5", "u::7,g::5,o::0", true,
		    "A:0:OWNER@:1601e7,A:0:u1000:1200a1,A:0:GROUP@:1200a1,"
		    "A:0:EVERYONE@:1200a1,A:b:OWNER@:1601e7,A:b:GROUP@:1200a1,"
		    "A:b:EVERYONE@:120080", NULL,
		    "a directory (DELETE_CHILD) and its default ACL "
		    "(inherit-only)");
}

static void test_v4_to_posix(void)
{
	check_to_posix("", false, 0, "u::0,g::0,o::0", "",
		       "no ACE: nothing allowed");
	check_to_posix("A:0:EVERYONE@:1", false, 0, "u::4,g::4,o::4", "",
		       "EVERYONE@ read");
	check_to_posix("D:0:OWNER@:6,A:0:EVERYONE@:7", false, 0,
		       "u::4,g::6,o::6", "", "the first ACE decides a right");
	check_to_posix("A:0:u2000:1,A:0:u1000:6", false, 0,
		       "u::0,u:1000:2,u:2000:4,g::0,m::6,o::0", "",
		       "named users, sorted, with a MASK of their union");
	check_to_posix("D:40:g50:1,A:0:EVERYONE@:1", false, 0,
		       "u::0,g::0,g:50:0,m::0,o::4", "",
		       "a group DENY keeps the right from the group class");
	check_to_posix("A:0:OWNER@:2", false, 0, "u::0,g::0,o::0", "",
		       "WRITE_DATA without APPEND_DATA is not write");
	check_to_posix("A:0:OWNER@:46", true, 0, "u::2,g::0,o::0", "",
		       "write on a directory needs DELETE_CHILD too");
	check_to_posix("A:0:OWNER@:6", true, 0, "u::0,g::0,o::0", "",
		       "and without it is not write");
	check_to_posix("A:9:OWNER@:1", true, 0, "u::0,g::0,o::0",
		       "u::4,g::0,o::0",
		       "FILE_INHERIT alone, inherit-only: a default ACL only");
	check_to_posix("A:3:EVERYONE@:21", true, 0, "u::5,g::5,o::5",
		       "u::5,g::5,o::5",
		       "inheritable, not inherit-only: both ACLs");
	check_to_posix("A:0:OWNER@:40100,D:0:u1000:40100,A:0:EVERYONE@:1",
		       false, 0, "u::4,u:1000:4,g::4,m::4,o::4", "",
		       "denying a user WRITE_ACL the owner has is accepted");
	check_to_posix("A:0:OWNER@:c0000", false, 0, "u::0,g::0,o::0", "",
		       "unsupported rights allowed are dropped");

	/* what POSIX cannot say */
	check_to_posix("D:0:EVERYONE@:20000", false, -EINVAL, "", "",
		       "refused: a DENY of READ_ACL");
	check_to_posix("D:0:u1000:80", false, -EINVAL, "", "",
		       "refused: a DENY of READ_ATTRIBUTES");
	check_to_posix("D:0:OWNER@:40000", false, -EINVAL, "", "",
		       "refused: denying the owner WRITE_ACL");
	check_to_posix("D:0:GROUP@:40000,A:0:EVERYONE@:1", false, -EINVAL, "",
		       "", "refused: a GROUP@ DENY of WRITE_ACL (the owner's "
		       "too, in POSIX)");
	check_to_posix("X:0:OWNER@:1", false, -EINVAL, "", "",
		       "refused: an AUDIT ACE");
	check_to_posix("A:80:OWNER@:1", false, -EINVAL, "", "",
		       "refused: the INHERITED_ACE flag");
	check_to_posix("A:4:OWNER@:1", true, -EINVAL, "", "",
		       "refused: NO_PROPAGATE_INHERIT");
	check_to_posix("A:3:OWNER@:1", false, -EINVAL, "", "",
		       "refused: inheritance on a file");
}

static void test_who(void)
{
	CHECK_EQ(nfs4acl_who_parse("OWNER@", 6), NFS4ACL_WHO_OWNER, "OWNER@");
	CHECK_EQ(nfs4acl_who_parse("GROUP@", 6), NFS4ACL_WHO_GROUP, "GROUP@");
	CHECK_EQ(nfs4acl_who_parse("EVERYONE@", 9), NFS4ACL_WHO_EVERYONE,
		 "EVERYONE@");
	CHECK_EQ(nfs4acl_who_parse("OWNER@x", 6), NFS4ACL_WHO_OWNER,
		 "the length given counts");
	CHECK_EQ(nfs4acl_who_parse("owner@", 6), NFS4ACL_WHO_NAMED,
		 "names are case-sensitive: owner@ is a user");
	CHECK(nfs4acl_who_string(NFS4ACL_WHO_NAMED) == NULL,
	      "a named who has no fixed string");
}

/* ---- on a real union: nfs4acl_get() and nfs4acl_set() -------------- */

static char T[64];

static const char *at(const char *rel)
{
	static char p[2][256];
	static int which;
	char *o = p[which++ & 1];

	snprintf(o, 256, "%s/%s", T, rel);
	return o;
}

static int lookup(struct un_export *ex, const char *name,
		  struct un_handle *fh)
{
	struct un_cred root = { 0 };
	struct un_handle r;
	int rc = un_root(ex, &r);

	return rc < 0 ? rc : un_lookup(ex, &root, &r, name, fh, NULL, NULL);
}

static const char *get_text(struct un_export *ex, const struct un_handle *fh)
{
	static char out[2048];
	struct nfs4acl acl;

	if (nfs4acl_get(ex, fh, &acl) != 0)
		return "(error)";
	snprintf(out, sizeof(out), "%s", aces_text(&acl));
	nfs4acl_free(&acl);
	return out;
}

static int set_text(struct un_export *ex, uid_t uid,
		    const struct un_handle *fh, const char *aces)
{
	struct un_cred cr = { .uid = uid, .gid = uid };
	struct nfs4acl acl;
	int rc;

	aces_parse(aces, &acl);
	rc = nfs4acl_set(ex, &cr, fh, &acl, NULL);
	nfs4acl_free(&acl);
	return rc;
}

static bool make_layers(void)
{
	FILE *f;

	snprintf(T, sizeof(T), "/tmp/nfs4acl_test.XXXXXX");
	if (!mkdtemp(T) || mkdir(at("lower"), 0755) < 0 ||
	    mkdir(at("upper"), 0755) < 0 || mkdir(at("work"), 0755) < 0 ||
	    mkdir(at("lower/d"), 0755) < 0)
		return false;
	for (int i = 0; i < 2; i++) {
		f = fopen(at(i ? "lower/g" : "lower/f"), "w");
		if (!f || fputs("data\n", f) < 0 || fclose(f) != 0)
			return false;
		if (chmod(at(i ? "lower/g" : "lower/f"), 0644) < 0)
			return false;
	}
	return true;
}

static void test_union(void)
{
	struct un_export_conf conf = { .name = "/export", .nlower = 1 };
	struct un_catalog *cat = NULL;
	struct un_export *ex = NULL;
	struct un_handle f, g, d;
	char err[256] = "", db[128], lower[128], upper[128], work[128];
	pid_t pid;

	if (!make_layers()) {
		CHECK(0, "union: layers made in %s", T);
		return;
	}
	snprintf(db, sizeof(db), "%s", at("catalog.db"));
	snprintf(lower, sizeof(lower), "%s", at("lower"));
	snprintf(upper, sizeof(upper), "%s", at("upper"));
	snprintf(work, sizeof(work), "%s", at("work"));
	conf.lower[0] = lower;
	conf.upper = upper;
	conf.work = work;
	if (un_catalog_open(db, &cat, err, sizeof(err)) < 0 ||
	    un_export_open(cat, &conf, &ex, err, sizeof(err)) < 0 ||
	    lookup(ex, "f", &f) < 0 || lookup(ex, "g", &g) < 0 ||
	    lookup(ex, "d", &d) < 0) {
		CHECK(0, "union: opened (%s)", err);
		goto out;
	}
	CHECK_STR(get_text(ex, &f),
		  "A:0:OWNER@:160187,A:0:GROUP@:120081,A:0:EVERYONE@:120081",
		  "union: the ACEs of a lower 0644 file");
	CHECK_EQ(set_text(ex, 0, &f, "A:0:OWNER@:160187,A:0:u1000:120087,"
				     "A:0:GROUP@:120081,A:0:EVERYONE@:120081"),
		 0, "union: SETATTR acl on the lower file");
	CHECK_STR(get_text(ex, &f),
		  "A:0:OWNER@:160187,A:0:u1000:120087,A:0:GROUP@:120081,"
		  "A:0:EVERYONE@:120081", "union: read back");
	CHECK(getxattr(at("upper/f"), "system.posix_acl_access", NULL, 0) == 44,
	      "union: copied up, a 5-entry ACL in the upper layer's xattr");
	CHECK(getxattr(at("lower/f"), "system.posix_acl_access", NULL, 0) < 0,
	      "union: the lower file has none");

	CHECK_EQ(set_text(ex, 0, &d, "A:0:OWNER@:1601e7,A:0:GROUP@:1200a1,"
				     "A:0:EVERYONE@:1200a1,A:b:OWNER@:1601e7,"
				     "A:b:GROUP@:1200a1,A:b:EVERYONE@:120080"),
		 0, "union: SETATTR acl with inheritable ACEs on a lower dir");
	CHECK_STR(get_text(ex, &d),
		  "A:0:OWNER@:1601e7,A:0:GROUP@:1200a1,A:0:EVERYONE@:1200a1,"
		  "A:b:OWNER@:1601e7,A:b:GROUP@:1200a1,A:b:EVERYONE@:120080",
		  "union: read back, default ACL included");
	CHECK(getxattr(at("upper/d"), "system.posix_acl_default", NULL, 0) ==
		      28, "union: the default ACL is the upper dir's xattr");
	CHECK_EQ(set_text(ex, 0, &d, "A:0:OWNER@:1601e7,A:0:GROUP@:1200a1,"
				     "A:0:EVERYONE@:1200a1"),
		 0, "union: no inheritable ACE");
	CHECK(getxattr(at("upper/d"), "system.posix_acl_default", NULL, 0) < 0,
	      "union: removes the default ACL");

	CHECK_EQ(set_text(ex, 0, &g, "D:0:EVERYONE@:20000"), -EINVAL,
		 "union: an ACE POSIX cannot say is refused");
	CHECK_EQ(set_text(ex, 1000, &g, "A:0:EVERYONE@:1"), -EPERM,
		 "union: and a user who does not own the file");
	CHECK(access(at("upper/g"), F_OK) < 0,
	      "union: refused: nothing copied up");
out:
	un_export_close(ex);
	un_catalog_close(cat);
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", T, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int main(void)
{
	test_posix_to_v4();
	test_v4_to_posix();
	test_who();
	if (geteuid() == 0)
		test_union();
	else
		printf("# SKIP union: needs root (ACL xattrs, owners)\n");
	return tap_done();
}
