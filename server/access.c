/*
 * access.c - the export's client rules applied to one request: who may
 * talk to the export at all, who may change it, and as whom the request
 * runs (squashing), as exports(5) defines them.
 */
#define _GNU_SOURCE
#include <string.h>
#include <netinet/in.h>

#include "gss.h"
#include "server.h"
#include "stats.h"

#define MOUNT_PROGRAM 100005
#define NLM_PROGRAM 100021

static uint16_t peer_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static void squash_to_anon(const struct client_rule *r, struct un_cred *cred)
{
	cred->uid = r->anonuid;
	cred->gid = r->anongid;
	cred->ngroups = 0;
}

static void squash(const struct client_rule *r, const struct rpc_cred *rc,
		   struct un_cred *cred)
{
	uint32_t i;

	/* AUTH_SYS claims an identity, RPCSEC_GSS has one mapped from its
	 * principal (server/gss.c); squashing applies to both alike. */
	bool identified = rc->flavor == AUTH_SYS ||
			  (gss_flavor_service(rc->flavor) && !rc->anonymous);

	if (!identified || r->squash == SQUASH_ALL) {
		squash_to_anon(r, cred);
		return;
	}
	cred->uid = rc->uid;
	cred->gid = rc->gid;
	cred->ngroups = rc->ngroups < UN_NGROUPS_MAX ? rc->ngroups
						     : UN_NGROUPS_MAX;
	for (i = 0; i < cred->ngroups; i++)
		cred->groups[i] = rc->groups[i];
	if (r->squash != SQUASH_ROOT)
		return;
	/* root_squash: root's uid and its group 0, wherever it appears. */
	if (cred->uid == 0)
		cred->uid = r->anonuid;
	if (cred->gid == 0)
		cred->gid = r->anongid;
	for (i = 0; i < cred->ngroups; i++)
		if (cred->groups[i] == 0)
			cred->groups[i] = r->anongid;
}

bool server_xprtsec_ok(const struct client_rule *r, const struct rpc_req *req)
{
	unsigned mode = req->xprtsec ? req->xprtsec : XPRTSEC_NONE;

	return (r->xprtsec & mode) != 0;
}

/*
 * The Linux client sends MOUNT and NLM in plaintext even for a mount
 * with xprtsec=tls (only the NFS program goes through TLS), so, as knfsd,
 * the rule's xprtsec= is not applied to them: MNT hands out a root
 * handle that no plaintext NFS request can then use.
 */
static bool sidecar(const struct rpc_req *req)
{
	return req->prog == MOUNT_PROGRAM || req->prog == NLM_PROGRAM;
}

unsigned server_rule_flavors(const struct client_rule *r,
			     uint32_t flavors[SEC_MAX])
{
	if (r->nsec == 0) {
		flavors[0] = AUTH_SYS;
		return 1;
	}
	memcpy(flavors, r->sec, r->nsec * sizeof(flavors[0]));
	return r->nsec;
}

bool server_sec_ok(const struct client_rule *r, uint32_t flavor)
{
	uint32_t allowed[SEC_MAX];
	unsigned n = server_rule_flavors(r, allowed);

	/* sys admits AUTH_NONE too: it runs as the anonymous user. */
	if (flavor == AUTH_NONE)
		flavor = AUTH_SYS;
	for (unsigned i = 0; i < n; i++)
		if (allowed[i] == flavor)
			return true;
	return false;
}

unsigned server_sec_flavors(const struct srv_export *ex,
			    const struct rpc_req *req,
			    uint32_t flavors[SEC_MAX])
{
	const struct sockaddr *peer = (const struct sockaddr *)&req->peer;
	const struct client_rule *r = config_match_client(ex->conf, peer);

	return r ? server_rule_flavors(r, flavors) : 0;
}

bool server_sec_allowed(const struct srv_export *ex, const struct rpc_req *req)
{
	const struct sockaddr *peer = (const struct sockaddr *)&req->peer;
	const struct client_rule *r = config_match_client(ex->conf, peer);

	return r && server_sec_ok(r, req->cred.flavor);
}

enum access_result server_access(const struct srv_export *ex,
				 const struct rpc_req *req, bool modifying,
				 struct un_cred *cred)
{
	const struct client_rule *r;

	memset(cred, 0, sizeof(*cred));
	stats_export_used(server_stats_id(ex));
	r = config_match_client(ex->conf, (const struct sockaddr *)&req->peer);
	if (!r)
		return ACCESS_DENIED;
	if (r->secure && peer_port(&req->peer) >= IPPORT_RESERVED)
		return ACCESS_DENIED;
	if (!server_xprtsec_ok(r, req) && !sidecar(req))
		return ACCESS_WRONGSEC;
	/* sec=: MOUNT and NLM are exempt as in knfsd (the Linux client
	 * mounts and locks with AUTH_SYS whatever the mount's sec=); MNT
	 * tells the client which flavors it then must use. */
	if (!server_sec_ok(r, req->cred.flavor) && !sidecar(req)) {
		if (req->wrongsec)
			*req->wrongsec = true;
		return ACCESS_WRONGSEC;
	}
	squash(r, &req->cred, cred);
	if (modifying && (!r->rw || un_export_readonly(ex->ux)))
		return ACCESS_ROFS;
	return ACCESS_OK;
}
