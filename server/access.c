/*
 * access.c - the export's client rules applied to one request: who may
 * talk to the export at all, who may change it, and as whom the request
 * runs (squashing), as exports(5) defines them.
 */
#define _GNU_SOURCE
#include <string.h>
#include <netinet/in.h>

#include "server.h"
#include "stats.h"

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

	if (rc->flavor != AUTH_SYS || r->squash == SQUASH_ALL) {
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

enum access_result server_access(const struct srv_export *ex,
				 const struct rpc_req *req, bool modifying,
				 struct un_cred *cred)
{
	const struct client_rule *r;

	memset(cred, 0, sizeof(*cred));
	stats_export_used(ex->id);
	r = config_match_client(ex->conf, (const struct sockaddr *)&req->peer);
	if (!r)
		return ACCESS_DENIED;
	if (r->secure && peer_port(&req->peer) >= IPPORT_RESERVED)
		return ACCESS_DENIED;
	squash(r, &req->cred, cred);
	if (modifying && (!r->rw || un_export_readonly(ex->ux)))
		return ACCESS_ROFS;
	return ACCESS_OK;
}
