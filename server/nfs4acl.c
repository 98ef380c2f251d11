/*
 * nfs4acl.c - NFSv4 ACE lists to and from POSIX ACLs, the way knfsd maps
 * them (fs/nfsd/nfs4acl.c), so clients see the same ACEs from us.
 *
 * POSIX to NFSv4: each entry becomes an ALLOW ACE, preceded by a DENY of
 * what later, broader ACEs would otherwise grant it; POSIX evaluates the
 * most specific matching entry only, NFSv4 walks the list in order.
 * Groups are special: a user may be in several, and POSIX grants the
 * union of the matching group entries, so all group ALLOWs come before
 * the group DENYs.  A default ACL follows as inherit-only ACEs.
 *
 * NFSv4 to POSIX: the ACEs are replayed in order into allow and deny
 * sets per entity; a DENY for a named entity also denies those bits to
 * the broader classes that would otherwise grant them through POSIX's
 * rules (the owner class, the group class...), so the result errs on the
 * side of granting less.  NFSv4 bits POSIX cannot enforce are accepted
 * and dropped, except DENYs of rights POSIX can never take away.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nfs4acl.h"

#define INHERIT_FLAGS (NFS4ACL_FILE_INHERIT | NFS4ACL_DIRECTORY_INHERIT)
#define SUPPORTED_FLAGS (INHERIT_FLAGS | NFS4ACL_INHERIT_ONLY | \
			 NFS4ACL_IDENTIFIER_GROUP)

/* What each POSIX bit means in NFSv4 rights. */
#define READ_MODE NFS4ACL_READ_DATA
#define WRITE_MODE (NFS4ACL_WRITE_DATA | NFS4ACL_APPEND_DATA)
#define EXECUTE_MODE NFS4ACL_EXECUTE
/* Rights anyone has (POSIX cannot refuse them), and the owner's own. */
#define ANYONE_MODE (NFS4ACL_READ_ATTRIBUTES | NFS4ACL_READ_ACL | \
		     NFS4ACL_SYNCHRONIZE)
#define OWNER_MODE (NFS4ACL_WRITE_ATTRIBUTES | NFS4ACL_WRITE_ACL)

/* ---- POSIX to NFSv4 --------------------------------------------------- */

/* The rights named by rwx bits; DELETE_CHILD goes with write on a dir. */
static uint32_t rights(uint32_t perm, bool dir)
{
	uint32_t m = 0;

	if (perm & UN_ACL_READ)
		m |= READ_MODE;
	if (perm & UN_ACL_WRITE)
		m |= WRITE_MODE | (dir ? NFS4ACL_DELETE_CHILD : 0);
	if (perm & UN_ACL_EXECUTE)
		m |= EXECUTE_MODE;
	return m;
}

/* Effective permissions of each class (named entries and the owning
 * group are limited by the MASK). */
struct summary {
	uint32_t owner, users, group, groups, other, mask;
};

static void summarize(const struct un_acl *acl, struct summary *s)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->mask = 7;
	for (i = 0; i < acl->count; i++) {
		const struct un_acl_entry *e = &acl->e[i];

		switch (e->tag) {
		case UN_ACL_USER_OBJ: s->owner = e->perm; break;
		case UN_ACL_USER: s->users |= e->perm; break;
		case UN_ACL_GROUP_OBJ: s->group = e->perm; break;
		case UN_ACL_GROUP: s->groups |= e->perm; break;
		case UN_ACL_MASK: s->mask = e->perm; break;
		case UN_ACL_OTHER: s->other = e->perm; break;
		}
	}
	s->users &= s->mask;
	s->group &= s->mask;
	s->groups &= s->mask;
}

struct builder {
	struct nfs4acl *acl;
	uint32_t eflag; /* inheritance flags of a default ACL's ACEs */
	bool dir;
};

static void add(struct builder *b, uint32_t type, uint32_t mask,
		enum nfs4acl_who who, uint32_t id, uint32_t flag)
{
	struct nfs4acl_ace *a = &b->acl->aces[b->acl->naces++];

	a->type = type;
	a->flag = b->eflag | flag;
	a->access_mask = mask;
	a->who = who;
	a->id = who == NFS4ACL_WHO_NAMED ? id : 0;
}

static void allow(struct builder *b, uint32_t perm, uint32_t extra,
		  enum nfs4acl_who who, uint32_t id, uint32_t flag)
{
	add(b, NFS4ACL_ALLOWED, ANYONE_MODE | extra | rights(perm, b->dir),
	    who, id, flag);
}

static void deny(struct builder *b, uint32_t perm, enum nfs4acl_who who,
		 uint32_t id, uint32_t flag)
{
	if (perm & 7)
		add(b, NFS4ACL_DENIED, rights(perm & 7, b->dir), who, id, flag);
}

/* One POSIX ACL (canonical: owner, users, group, groups, mask, other). */
static void posix_one(struct builder *b, const struct un_acl *acl)
{
	const struct un_acl_entry *e = acl->e, *end = acl->e + acl->count;
	const struct un_acl_entry *groups;
	struct summary s;

	summarize(acl, &s);
	/* deny the owner only what later ACEs would grant it */
	deny(b, ~s.owner & (s.users | s.group | s.groups | s.other),
	     NFS4ACL_WHO_OWNER, 0, 0);
	allow(b, e->perm, OWNER_MODE, NFS4ACL_WHO_OWNER, 0, 0);
	for (e++; e < end && e->tag == UN_ACL_USER; e++) {
		deny(b, ~(e->perm & s.mask) & (s.groups | s.group | s.other),
		     NFS4ACL_WHO_NAMED, e->id, 0);
		allow(b, e->perm & s.mask, 0, NFS4ACL_WHO_NAMED, e->id, 0);
	}
	/* e is GROUP_OBJ: all group ALLOWs, then the group DENYs */
	allow(b, s.group, 0, NFS4ACL_WHO_GROUP, 0, 0);
	groups = ++e;
	for (; e < end && e->tag == UN_ACL_GROUP; e++)
		allow(b, e->perm & s.mask, 0, NFS4ACL_WHO_NAMED, e->id,
		      NFS4ACL_IDENTIFIER_GROUP);
	deny(b, ~s.group & s.other, NFS4ACL_WHO_GROUP, 0, 0);
	for (e = groups; e < end && e->tag == UN_ACL_GROUP; e++)
		deny(b, ~(e->perm & s.mask) & s.other, NFS4ACL_WHO_NAMED,
		     e->id, NFS4ACL_IDENTIFIER_GROUP);
	allow(b, s.other, 0, NFS4ACL_WHO_EVERYONE, 0, 0);
}

int nfs4acl_from_posix(const struct un_acl *access, const struct un_acl *dflt,
		       bool dir, struct nfs4acl *out)
{
	uint32_t dcount = dir && dflt ? dflt->count : 0;
	struct builder b = { out, 0, dir };

	out->naces = 0;
	/* worst case: a DENY and an ALLOW per entry */
	out->aces = calloc(2 * ((size_t)access->count + dcount) + 1,
			   sizeof(*out->aces));
	if (!out->aces)
		return -ENOMEM;
	if (access->count >= 3)
		posix_one(&b, access);
	if (dcount >= 3) {
		b.eflag = INHERIT_FLAGS | NFS4ACL_INHERIT_ONLY;
		posix_one(&b, dflt);
	}
	return 0;
}

void nfs4acl_free(struct nfs4acl *acl)
{
	free(acl->aces);
	acl->aces = NULL;
	acl->naces = 0;
}

/* ---- NFSv4 to POSIX --------------------------------------------------- */

/* Rights allowed and denied so far to one entity: the first ACE that
 * mentions a right decides it. */
struct rights_state {
	uint32_t allow, deny;
};

struct named_state {
	uint32_t id;
	struct rights_state r;
};

struct posix_state {
	bool empty;
	struct rights_state owner, group, other, everyone, mask;
	struct named_state *users, *groups; /* room for naces each */
	uint32_t nusers, ngroups;
};

static void allow_bits(struct rights_state *r, uint32_t m)
{
	r->allow |= m & ~r->deny;
}

static void deny_bits(struct rights_state *r, uint32_t m)
{
	r->deny |= m & ~r->allow;
}

static void deny_named(struct named_state *n, uint32_t count, uint32_t m)
{
	for (uint32_t i = 0; i < count; i++)
		deny_bits(&n[i].r, m);
}

static void allow_named(struct named_state *n, uint32_t count, uint32_t m)
{
	for (uint32_t i = 0; i < count; i++)
		allow_bits(&n[i].r, m);
}

/* The entry of a named user or group; a new one starts from what
 * EVERYONE@ got so far, since those ACEs applied to it too. */
static struct rights_state *named(struct posix_state *s,
				  struct named_state *n, uint32_t *count,
				  uint32_t id)
{
	uint32_t i;

	for (i = 0; i < *count; i++)
		if (n[i].id == id)
			return &n[i].r;
	n[i].id = id;
	n[i].r = s->everyone;
	(*count)++;
	return &n[i].r;
}

/* A DENY that reaches a named entity or a group also keeps those rights
 * from the classes that POSIX would let grant them anyway. */
static void deny_wider(struct posix_state *s, uint32_t m, bool group_too)
{
	deny_bits(&s->owner, m);
	if (!group_too)
		return;
	deny_bits(&s->everyone, m);
	deny_named(s->users, s->nusers, m);
	deny_named(s->groups, s->ngroups, m);
}

static void process_ace(struct posix_state *s, const struct nfs4acl_ace *a)
{
	bool allowed = a->type == NFS4ACL_ALLOWED;
	uint32_t m = a->access_mask;
	struct rights_state *r;

	s->empty = false;
	switch (a->who) {
	case NFS4ACL_WHO_OWNER:
		(allowed ? allow_bits : deny_bits)(&s->owner, m);
		break;
	case NFS4ACL_WHO_GROUP:
		if (allowed) {
			allow_bits(&s->group, m);
			break;
		}
		deny_bits(&s->group, m);
		deny_wider(s, s->group.deny, true);
		break;
	case NFS4ACL_WHO_EVERYONE:
		if (allowed) {
			allow_bits(&s->owner, m);
			allow_bits(&s->group, m);
			allow_bits(&s->other, m);
			allow_bits(&s->everyone, m);
			allow_named(s->users, s->nusers, m);
			allow_named(s->groups, s->ngroups, m);
		} else {
			deny_bits(&s->group, m);
			deny_bits(&s->other, m);
			deny_wider(s, m, true);
		}
		break;
	case NFS4ACL_WHO_NAMED:
	default:
		if (a->flag & NFS4ACL_IDENTIFIER_GROUP) {
			r = named(s, s->groups, &s->ngroups, a->id);
			if (allowed) {
				allow_bits(r, m);
				break;
			}
			deny_bits(r, m);
			m = r->deny;
			deny_bits(&s->group, m);
			deny_wider(s, m, true);
		} else {
			r = named(s, s->users, &s->nusers, a->id);
			if (allowed) {
				allow_bits(r, m);
				break;
			}
			deny_bits(r, m);
			deny_wider(s, r->deny, false);
		}
		break;
	}
}

/* rwx from rights, pessimistically: every right of a bit is needed. */
static uint32_t perm_of(uint32_t m, bool dir)
{
	uint32_t write = WRITE_MODE | (dir ? NFS4ACL_DELETE_CHILD : 0);
	uint32_t perm = 0;

	if ((m & READ_MODE) == READ_MODE)
		perm |= UN_ACL_READ;
	if ((m & write) == write)
		perm |= UN_ACL_WRITE;
	if ((m & EXECUTE_MODE) == EXECUTE_MODE)
		perm |= UN_ACL_EXECUTE;
	return perm;
}

/* Rights that no POSIX ACL can take away must not be denied. */
static int check_deny(uint32_t deny, bool owner)
{
	if (deny & (NFS4ACL_READ_ATTRIBUTES | NFS4ACL_READ_ACL))
		return -EINVAL;
	if (owner && (deny & (NFS4ACL_WRITE_ATTRIBUTES | NFS4ACL_WRITE_ACL)))
		return -EINVAL;
	return 0;
}

static int put_entry(struct un_acl *acl, uint32_t tag, uint32_t id,
		     const struct rights_state *r, bool owner, bool dir)
{
	struct un_acl_entry *e = &acl->e[acl->count++];

	e->tag = tag;
	e->id = id;
	e->perm = perm_of(r->allow, dir);
	return check_deny(r->deny, owner);
}

static int id_cmp(const void *a, const void *b)
{
	const struct named_state *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int state_to_acl(struct posix_state *s, bool dflt, bool dir,
			struct un_acl *acl)
{
	uint32_t i;
	int rc;

	acl->count = 0;
	if (s->empty && dflt)
		return 0; /* no inheritable ACE: no default ACL */
	if (4 + (size_t)s->nusers + s->ngroups > UN_ACL_MAX_ENTRIES)
		return -EINVAL;
	qsort(s->users, s->nusers, sizeof(*s->users), id_cmp);
	qsort(s->groups, s->ngroups, sizeof(*s->groups), id_cmp);
	rc = put_entry(acl, UN_ACL_USER_OBJ, 0, &s->owner, true, dir);
	for (i = 0; rc == 0 && i < s->nusers; i++) {
		rc = put_entry(acl, UN_ACL_USER, s->users[i].id,
			       &s->users[i].r, false, dir);
		s->mask.allow |= s->users[i].r.allow;
	}
	if (rc == 0)
		rc = put_entry(acl, UN_ACL_GROUP_OBJ, 0, &s->group, false, dir);
	s->mask.allow |= s->group.allow;
	for (i = 0; rc == 0 && i < s->ngroups; i++) {
		rc = put_entry(acl, UN_ACL_GROUP, s->groups[i].id,
			       &s->groups[i].r, false, dir);
		s->mask.allow |= s->groups[i].r.allow;
	}
	if (rc == 0 && (s->nusers || s->ngroups))
		rc = put_entry(acl, UN_ACL_MASK, 0, &s->mask, false, dir);
	if (rc == 0)
		rc = put_entry(acl, UN_ACL_OTHER, 0, &s->other, false, dir);
	return rc;
}

static int state_init(struct posix_state *s, uint32_t naces)
{
	memset(s, 0, sizeof(*s));
	s->empty = true;
	s->users = calloc(naces + 1, sizeof(*s->users));
	s->groups = calloc(naces + 1, sizeof(*s->groups));
	return s->users && s->groups ? 0 : -ENOMEM;
}

static void state_free(struct posix_state *s)
{
	free(s->users);
	free(s->groups);
}

/* Feed one ACE to the access and/or default state, or refuse it. */
static int route_ace(const struct nfs4acl_ace *a, bool dir,
		     struct posix_state *eff, struct posix_state *def)
{
	if (a->type != NFS4ACL_ALLOWED && a->type != NFS4ACL_DENIED)
		return -EINVAL;
	if (a->flag & ~SUPPORTED_FLAGS)
		return -EINVAL;
	if (a->who > NFS4ACL_WHO_EVERYONE)
		return -EINVAL;
	if (!(a->flag & INHERIT_FLAGS)) {
		process_ace(eff, a);
		return 0;
	}
	if (!dir)
		return -EINVAL;
	/* FILE_INHERIT or DIRECTORY_INHERIT alone: POSIX has only both,
	 * which RFC 3530 allows a server to turn on */
	process_ace(def, a);
	if (!(a->flag & NFS4ACL_INHERIT_ONLY))
		process_ace(eff, a);
	return 0;
}

int nfs4acl_to_posix(const struct nfs4acl *acl, bool dir,
		     struct un_acl *access, struct un_acl *dflt)
{
	struct posix_state eff, def;
	uint32_t i;
	int rc;

	rc = state_init(&eff, acl->naces);
	if (rc == 0)
		rc = state_init(&def, acl->naces);
	else
		memset(&def, 0, sizeof(def));
	for (i = 0; rc == 0 && i < acl->naces; i++)
		rc = route_ace(&acl->aces[i], dir, &eff, &def);
	if (rc == 0)
		rc = state_to_acl(&eff, false, dir, access);
	if (rc == 0)
		rc = state_to_acl(&def, true, dir, dflt);
	state_free(&eff);
	state_free(&def);
	return rc;
}

/* ---- on union objects ------------------------------------------------- */

int nfs4acl_get(struct un_export *ex, const struct un_handle *fh,
		struct nfs4acl *out)
{
	struct un_acl *acc = malloc(sizeof(*acc)), *def = malloc(sizeof(*def));
	struct un_attr attr;
	int rc = acc && def ? 0 : -ENOMEM;

	out->naces = 0;
	out->aces = NULL;
	if (rc == 0)
		rc = un_getacl(ex, fh, acc, def, &attr);
	if (rc == 0)
		rc = nfs4acl_from_posix(acc, def, attr.type == UN_DIR, out);
	free(acc);
	free(def);
	return rc;
}

int nfs4acl_set(struct un_export *ex, const struct un_cred *cr,
		const struct un_handle *fh, const struct nfs4acl *acl,
		struct un_wcc *wcc)
{
	struct un_acl *acc = malloc(sizeof(*acc)), *def = malloc(sizeof(*def));
	struct un_attr attr;
	bool dir = false;
	int rc = acc && def ? 0 : -ENOMEM;

	if (rc == 0)
		rc = un_getattr(ex, fh, &attr);
	if (rc == 0) {
		dir = attr.type == UN_DIR;
		rc = nfs4acl_to_posix(acl, dir, acc, def);
	}
	if (rc == 0)
		rc = un_setacl(ex, cr, fh, acc, dir ? def : NULL, wcc);
	free(acc);
	free(def);
	return rc;
}

/* ---- who strings ------------------------------------------------------- */

static const struct {
	const char *s;
	enum nfs4acl_who who;
} special[] = {
	{ "OWNER@", NFS4ACL_WHO_OWNER },
	{ "GROUP@", NFS4ACL_WHO_GROUP },
	{ "EVERYONE@", NFS4ACL_WHO_EVERYONE },
};

enum nfs4acl_who nfs4acl_who_parse(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strlen(special[i].s) == len &&
		    memcmp(special[i].s, s, len) == 0)
			return special[i].who;
	return NFS4ACL_WHO_NAMED;
}

const char *nfs4acl_who_string(enum nfs4acl_who who)
{
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (special[i].who == who)
			return special[i].s;
	return NULL;
}
