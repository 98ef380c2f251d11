/*
 * portmap.c - our own portmapper, for hosts without rpcbind (containers):
 * PMAP v2 (RFC 1833 section 3) and RPCBIND v3/v4 (RFC 1833 section 2)
 * answered on port 111 ("portmap yes" in unionnfsd.conf(5)), so that
 * `rpcinfo -p`, `showmount -e` and a plain `mount -t nfs host:/export`
 * find NFS, MOUNT and NLM without port options.
 *
 * It knows only what this daemon serves: every program/version of
 * rpc_programs[] on the NFS port, and itself (100000 v2, v3, v4) on the
 * portmapper port, for TCP and (when served) UDP.  Nobody else can
 * register: SET and UNSET answer FALSE, and CALLIT/INDIRECT (which would
 * let anybody make us call a third party) are not served.  The table is
 * taken once at start (portmap_start()) and only read afterwards.
 *
 * The wire types and their XDR routines are libtirpc's (<rpc/pmap_prot.h>,
 * <rpc/rpcb_prot.h>), as are the universal address conversions.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rpc/rpc.h>
#include <rpc/pmap_prot.h>
#include <rpc/rpcb_prot.h>

#include "log.h"
#include "server.h"

#ifndef RPCBPROC_NULL /* <rpc/rpcb_prot.h> numbers all the others */
#define RPCBPROC_NULL 0
#endif
#define PM_MAX_NETIDS 4
#define PM_MAX_ENTRIES 256
#define PM_OWNER "unionnfsd"
/* One DUMP entry at most: list flag, prog, vers, and three strings of up
 * to 8 (netid), 56 (an IPv6 universal address) and 12 (owner) bytes with
 * their lengths. */
#define PM_ENTRY_MAX 104

/* A transport we serve on, and the address we serve it at (port 0). */
struct pm_netid {
	const char *netid;	/* "tcp", "udp", "tcp6", "udp6" */
	unsigned long ipproto;	/* for PMAP v2; 0: not visible there */
	bool stream;
	struct sockaddr_storage addr;
	socklen_t len;
};

struct pm_entry {
	uint32_t prog, vers;
	const struct pm_netid *nt;
	uint16_t port;
};

static struct {
	struct pm_netid netids[PM_MAX_NETIDS];
	unsigned nnetids;
	struct pm_entry e[PM_MAX_ENTRIES];
	unsigned n;
} pm;

/* ---- the table ---------------------------------------------------------- */

static void add_netid(const char *netid, const struct sockaddr_storage *ss,
		      bool stream)
{
	struct pm_netid *nt = &pm.netids[pm.nnetids++];

	nt->netid = netid;
	nt->stream = stream;
	nt->addr = *ss;
	if (ss->ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&nt->addr)->sin6_port = 0;
		nt->len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&nt->addr)->sin_port = 0;
		nt->len = sizeof(struct sockaddr_in);
		nt->ipproto = stream ? IPPROTO_TCP : IPPROTO_UDP;
	}
}

/*
 * As server/rpcbind.c registers: the listen address's family, and IPv4
 * as well on the IPv6 wildcard (which takes IPv4 too on Linux).
 */
static void take_netids(const struct config *cfg)
{
	const struct sockaddr_in6 *sin6 =
		(const struct sockaddr_in6 *)&cfg->listen;
	struct sockaddr_storage any4 = { .ss_family = AF_INET };
	bool v6 = cfg->listen.ss_family == AF_INET6;

	add_netid(v6 ? "tcp6" : "tcp", &cfg->listen, true);
	if (cfg->udp)
		add_netid(v6 ? "udp6" : "udp", &cfg->listen, false);
	if (v6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
		add_netid("tcp", &any4, true);
		if (cfg->udp)
			add_netid("udp", &any4, false);
	}
}

static void add_entry(uint32_t prog, uint32_t vers,
		      const struct pm_netid *nt, uint16_t port)
{
	unsigned i;

	for (i = 0; i < pm.n; i++) /* several tables share a program */
		if (pm.e[i].prog == prog && pm.e[i].vers == vers &&
		    pm.e[i].nt == nt)
			return;
	if (pm.n == PM_MAX_ENTRIES) {
		log_warn("portmapper: more than %d registrations; "
			 "%u v%u left out", PM_MAX_ENTRIES, prog, vers);
		return;
	}
	pm.e[pm.n++] = (struct pm_entry){ prog, vers, nt, port };
}

void portmap_start(const struct server *srv)
{
	uint16_t port = transport_port(srv->transport);
	uint16_t pmap_port = transport_portmap_port(srv->transport);
	const struct pm_netid *nt;
	unsigned t, v;
	size_t i;

	memset(&pm, 0, sizeof(pm));
	take_netids(srv->cfg);
	for (t = 0; t < pm.nnetids; t++) {
		nt = &pm.netids[t];
		/* Newest version first, as rpcbind lists itself. */
		for (v = portmap_program.nversions; v-- > 0;)
			add_entry(PMAPPROG, portmap_program.versions[v].vers,
				  nt, pmap_port);
		for (i = 0; i < rpc_nprograms; i++)
			for (v = 0; v < rpc_programs[i]->nversions; v++)
				add_entry(rpc_programs[i]->prog,
					  rpc_programs[i]->versions[v].vers,
					  nt, port);
	}
	log_info("portmapper: %u registrations on port %u", pm.n, pmap_port);
}

/*
 * rpcbind's find_service(): the entry of that program, version and
 * netid, else (any_version) one of another version of the program, so
 * that the client learns the versions from the server's PROG_MISMATCH.
 */
static const struct pm_entry *find(uint32_t prog, uint32_t vers,
				   const struct pm_netid *nt, bool any_version)
{
	const struct pm_entry *hit = NULL;
	unsigned i;

	for (i = 0; i < pm.n; i++) {
		if (pm.e[i].prog != prog || pm.e[i].nt != nt)
			continue;
		if (pm.e[i].vers == vers)
			return &pm.e[i];
		if (any_version && !hit)
			hit = &pm.e[i];
	}
	return hit;
}

static const struct pm_netid *netid_by_name(const char *netid)
{
	unsigned i;

	for (i = 0; i < pm.nnetids; i++)
		if (strcmp(pm.netids[i].netid, netid) == 0)
			return &pm.netids[i];
	return NULL;
}

static bool is_v4_mapped(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(
		       &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* The netid the request came by ("tcp", "udp6"...). */
static const char *request_netid(const struct rpc_req *req)
{
	bool v6 = req->peer.ss_family == AF_INET6 && !is_v4_mapped(&req->peer);

	if (req->tcp)
		return v6 ? "tcp6" : "tcp";
	return v6 ? "udp6" : "udp";
}

/* ---- universal addresses ------------------------------------------------ */

/* taddr2uaddr() of libtirpc, for an address of ours; malloc'd or NULL. */
static char *uaddr_of(const struct pm_netid *nt,
		      const struct sockaddr_storage *addr, uint16_t port)
{
	struct sockaddr_storage ss = *addr;
	struct netbuf nb = { .maxlen = nt->len, .len = nt->len, .buf = &ss };
	struct netconfig *nc = getnetconfigent(nt->netid);
	char *uaddr;

	if (!nc)
		return NULL;
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	uaddr = taddr2uaddr(nc, &nb);
	freenetconfigent(nc);
	return uaddr;
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
	       htonl(INADDR_ANY);
}

/* An IPv4-mapped IPv6 address as the IPv4 address it is. */
static void unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 s6 = *(struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	if (!is_v4_mapped(ss))
		return;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = s6.sin6_port;
	memcpy(&sin->sin_addr, &s6.sin6_addr.s6_addr[12], 4);
}

/*
 * The address the caller reaches us at, for a service on the wildcard
 * address ("0.0.0.0.8.1" would send it to itself): the source address the
 * kernel picks towards the caller, as rpcbind's mergeaddr() answers.
 * Connecting a UDP socket sends nothing.
 */
static bool local_addr_for(const struct rpc_req *req, int family,
			   struct sockaddr_storage *out)
{
	struct sockaddr_storage peer = req->peer;
	socklen_t len = sizeof(*out);
	bool ok;
	int fd;

	unmap(&peer);
	if (peer.ss_family != family)
		return false;
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (peer.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&peer)->sin6_port = htons(PMAPPORT);
	else
		((struct sockaddr_in *)&peer)->sin_port = htons(PMAPPORT);
	ok = connect(fd, (struct sockaddr *)&peer,
		     family == AF_INET6 ? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_in)) == 0 &&
	     getsockname(fd, (struct sockaddr *)out, &len) == 0;
	close(fd);
	return ok;
}

/* Where the caller finds entry e, or NULL when it cannot reach it. */
static char *uaddr_for_caller(const struct rpc_req *req,
			      const struct pm_entry *e)
{
	struct sockaddr_storage local;

	if (!is_wildcard(&e->nt->addr))
		return uaddr_of(e->nt, &e->nt->addr, e->port);
	if (!local_addr_for(req, e->nt->addr.ss_family, &local))
		return NULL;
	return uaddr_of(e->nt, &local, e->port);
}

/* ---- procedures shared by all versions ---------------------------------- */

static enum rpc_status pm_null(struct rpc_req *req)
{
	return RPC_DONE;
}

static void refused(const struct rpc_req *req, const char *what,
		    unsigned long prog, unsigned long vers)
{
	char peer[INET6_ADDRSTRLEN + 8];

	log_ratelimited(LOG_NOTICE,
			"portmapper: %s: %s of %lu v%lu refused (only "
			"unionnfsd's own programs are served here)",
			log_addr((const struct sockaddr *)&req->peer, peer,
				 sizeof(peer)),
			what, prog, vers);
}

static enum rpc_status reply_false(struct rpc_req *req)
{
	bool_t no = FALSE;

	return xdr_bool(&req->res, &no) ? RPC_DONE : RPC_SYSTEM_ERR;
}

/* ---- PMAP v2 ------------------------------------------------------------ */

static enum rpc_status pm2_set(struct rpc_req *req)
{
	struct pmap m;

	if (!xdr_pmap(&req->args, &m))
		return RPC_GARBAGE;
	refused(req, req->proc == PMAPPROC_SET ? "SET" : "UNSET", m.pm_prog,
		m.pm_vers);
	return reply_false(req);
}

static const struct pm_netid *netid_by_ipproto(unsigned long ipproto)
{
	unsigned i;

	for (i = 0; i < pm.nnetids; i++)
		if (pm.netids[i].ipproto && pm.netids[i].ipproto == ipproto)
			return &pm.netids[i];
	return NULL;
}

static enum rpc_status pm2_getport(struct rpc_req *req)
{
	const struct pm_netid *nt;
	const struct pm_entry *e = NULL;
	struct pmap m;
	u_long port;

	if (!xdr_pmap(&req->args, &m))
		return RPC_GARBAGE;
	nt = netid_by_ipproto(m.pm_prot);
	if (nt && m.pm_prog <= UINT32_MAX && m.pm_vers <= UINT32_MAX)
		e = find((uint32_t)m.pm_prog, (uint32_t)m.pm_vers, nt, true);
	port = e ? e->port : 0;
	return xdr_u_long(&req->res, &port) ? RPC_DONE : RPC_SYSTEM_ERR;
}

static size_t pm2_dump_max(const struct rpc_req *req)
{
	return 4 + (size_t)pm.n * (4 + 16);
}

static enum rpc_status pm2_dump(struct rpc_req *req)
{
	struct pmaplist *list = calloc(pm.n ? pm.n : 1, sizeof(*list));
	struct pmaplist *head = NULL, **tail = &head;
	enum rpc_status st;
	unsigned i;

	if (!list)
		return RPC_SYSTEM_ERR;
	for (i = 0; i < pm.n; i++) {
		if (!pm.e[i].nt->ipproto)
			continue; /* v2 knows only IPv4 TCP and UDP */
		list[i].pml_map = (struct pmap){ pm.e[i].prog, pm.e[i].vers,
						 pm.e[i].nt->ipproto,
						 pm.e[i].port };
		*tail = &list[i];
		tail = &list[i].pml_next;
	}
	st = xdr_pmaplist(&req->res, &head) ? RPC_DONE : RPC_SYSTEM_ERR;
	free(list);
	return st;
}

/* ---- RPCBIND v3 and v4 -------------------------------------------------- */

static enum rpc_status pm3_set(struct rpc_req *req)
{
	struct rpcb r;

	memset(&r, 0, sizeof(r));
	if (!xdr_rpcb(&req->args, &r)) {
		xdr_free((xdrproc_t)xdr_rpcb, (char *)&r);
		return RPC_GARBAGE;
	}
	refused(req, req->proc == RPCBPROC_SET ? "SET" : "UNSET", r.r_prog,
		r.r_vers);
	xdr_free((xdrproc_t)xdr_rpcb, (char *)&r);
	return reply_false(req);
}

static enum rpc_status reply_string(struct rpc_req *req, const char *s)
{
	char *str = (char *)(s ? s : "");

	return xdr_wrapstring(&req->res, &str) ? RPC_DONE : RPC_SYSTEM_ERR;
}

/*
 * GETADDR (any version will do, as rpcbind) and v4's GETVERSADDR (that
 * version only).  The netid asked for, or the one the call came by.
 */
static enum rpc_status getaddr(struct rpc_req *req, bool any_version)
{
	const struct pm_netid *nt;
	const struct pm_entry *e = NULL;
	enum rpc_status st;
	char *uaddr = NULL;
	struct rpcb r;

	memset(&r, 0, sizeof(r));
	if (!xdr_rpcb(&req->args, &r)) {
		xdr_free((xdrproc_t)xdr_rpcb, (char *)&r);
		return RPC_GARBAGE;
	}
	nt = netid_by_name(r.r_netid && *r.r_netid ? r.r_netid
						   : request_netid(req));
	if (nt)
		e = find(r.r_prog, r.r_vers, nt, any_version);
	if (e)
		uaddr = uaddr_for_caller(req, e);
	st = reply_string(req, uaddr);
	free(uaddr);
	xdr_free((xdrproc_t)xdr_rpcb, (char *)&r);
	return st;
}

static enum rpc_status pm3_getaddr(struct rpc_req *req)
{
	return getaddr(req, true);
}

static enum rpc_status pm4_getversaddr(struct rpc_req *req)
{
	return getaddr(req, false);
}

static size_t pm3_dump_max(const struct rpc_req *req)
{
	return 4 + (size_t)pm.n * PM_ENTRY_MAX;
}

/* The registered addresses, wildcard and all, as rpcbind lists them. */
static enum rpc_status pm3_dump(struct rpc_req *req)
{
	struct rp__list *list = calloc(pm.n ? pm.n : 1, sizeof(*list));
	struct rp__list *head = NULL;
	enum rpc_status st = RPC_SYSTEM_ERR;
	unsigned i;

	if (!list)
		return RPC_SYSTEM_ERR;
	for (i = 0; i < pm.n; i++) {
		struct rpcb *m = &list[i].rpcb_map;

		m->r_prog = pm.e[i].prog;
		m->r_vers = pm.e[i].vers;
		m->r_netid = (char *)pm.e[i].nt->netid;
		m->r_owner = (char *)PM_OWNER;
		m->r_addr = uaddr_of(pm.e[i].nt, &pm.e[i].nt->addr,
				     pm.e[i].port);
		if (!m->r_addr)
			goto out;
		list[i].rpcb_next = i + 1 < pm.n ? &list[i + 1] : NULL;
	}
	head = pm.n ? list : NULL;
	if (xdr_rpcblist_ptr(&req->res, &head))
		st = RPC_DONE;
out:
	for (i = 0; i < pm.n; i++)
		free(list[i].rpcb_map.r_addr);
	free(list);
	return st;
}

static size_t pm4_getaddrlist_max(const struct rpc_req *req)
{
	return 4 + (size_t)pm.nnetids * PM_ENTRY_MAX;
}

/*
 * v4 GETADDRLIST (rpcinfo -l): every transport of that very version, in
 * the caller's protocol family, where the caller reaches it.
 */
static enum rpc_status pm4_getaddrlist(struct rpc_req *req)
{
	struct rpcb_entry_list list[PM_MAX_NETIDS], *head = NULL;
	struct rpcb_entry_list **tail = &head;
	int family = strchr(request_netid(req), '6') ? AF_INET6 : AF_INET;
	enum rpc_status st = RPC_SYSTEM_ERR;
	const struct pm_entry *e;
	unsigned i, n = 0;
	struct rpcb r;

	memset(&r, 0, sizeof(r));
	memset(list, 0, sizeof(list));
	if (!xdr_rpcb(&req->args, &r)) {
		xdr_free((xdrproc_t)xdr_rpcb, (char *)&r);
		return RPC_GARBAGE;
	}
	for (i = 0; i < pm.nnetids; i++) {
		const struct pm_netid *nt = &pm.netids[i];
		struct rpcb_entry *m = &list[n].rpcb_entry_map;

		e = find(r.r_prog, r.r_vers, nt, false);
		if (!e || nt->addr.ss_family != family)
			continue;
		m->r_maddr = uaddr_for_caller(req, e);
		if (!m->r_maddr)
			continue;
		m->r_nc_netid = (char *)nt->netid;
		m->r_nc_semantics = nt->stream ? NC_TPI_COTS_ORD : NC_TPI_CLTS;
		m->r_nc_protofmly = family == AF_INET6 ? NC_INET6 : NC_INET;
		m->r_nc_proto = nt->stream ? NC_TCP : NC_UDP;
		*tail = &list[n];
		tail = &list[n++].rpcb_entry_next;
	}
	if (xdr_rpcb_entry_list_ptr(&req->res, &head))
		st = RPC_DONE;
	for (i = 0; i < n; i++)
		free(list[i].rpcb_entry_map.r_maddr);
	xdr_free((xdrproc_t)xdr_rpcb, (char *)&r);
	return st;
}

static enum rpc_status pm3_gettime(struct rpc_req *req)
{
	u_int now = (u_int)time(NULL);

	return xdr_u_int(&req->res, &now) ? RPC_DONE : RPC_SYSTEM_ERR;
}

/* Conversions in the caller's transport family, as rpcbind does them. */
static struct netconfig *request_netconfig(const struct rpc_req *req)
{
	return getnetconfigent(request_netid(req));
}

static enum rpc_status pm3_uaddr2taddr(struct rpc_req *req)
{
	struct netbuf empty = { 0, 0, NULL }, *taddr = NULL;
	struct netconfig *nc;
	enum rpc_status st;
	char *uaddr = NULL;

	if (!xdr_wrapstring(&req->args, &uaddr)) {
		xdr_free((xdrproc_t)xdr_wrapstring, (char *)&uaddr);
		return RPC_GARBAGE;
	}
	nc = request_netconfig(req);
	if (nc)
		taddr = uaddr2taddr(nc, uaddr);
	st = xdr_netbuf(&req->res, taddr ? taddr : &empty) ? RPC_DONE
							  : RPC_SYSTEM_ERR;
	if (taddr) {
		free(taddr->buf);
		free(taddr);
	}
	if (nc)
		freenetconfigent(nc);
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&uaddr);
	return st;
}

/* libtirpc reads a whole sockaddr of the netid's family: check first. */
static bool taddr_fits(const struct netbuf *nb, const char *netid)
{
	int family = strchr(netid, '6') ? AF_INET6 : AF_INET;
	size_t need = family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);

	return nb->buf && nb->len >= need &&
	       ((const struct sockaddr *)nb->buf)->sa_family == family;
}

static enum rpc_status pm3_taddr2uaddr(struct rpc_req *req)
{
	struct netbuf nb = { 0, 0, NULL };
	struct netconfig *nc = NULL;
	enum rpc_status st;
	char *uaddr = NULL;

	if (!xdr_netbuf(&req->args, &nb)) {
		xdr_free((xdrproc_t)xdr_netbuf, (char *)&nb);
		return RPC_GARBAGE;
	}
	if (taddr_fits(&nb, request_netid(req)))
		nc = request_netconfig(req);
	if (nc)
		uaddr = taddr2uaddr(nc, &nb);
	st = reply_string(req, uaddr);
	free(uaddr);
	if (nc)
		freenetconfigent(nc);
	xdr_free((xdrproc_t)xdr_netbuf, (char *)&nb);
	return st;
}

/* ---- the program -------------------------------------------------------- */

/* CALLIT (v2, v3), BCAST/INDIRECT (v4): not served, PROC_UNAVAIL; nor
 * GETSTAT (v4), rpcbind's own call counters. */
static const struct rpc_proc pmap2_procs[] = {
	[PMAPPROC_NULL] = { "NULL", pm_null, NULL, true },
	[PMAPPROC_SET] = { "SET", pm2_set, NULL, true },
	[PMAPPROC_UNSET] = { "UNSET", pm2_set, NULL, true },
	[PMAPPROC_GETPORT] = { "GETPORT", pm2_getport, NULL, true },
	[PMAPPROC_DUMP] = { "DUMP", pm2_dump, pm2_dump_max, true },
	[PMAPPROC_CALLIT] = { "CALLIT", NULL, NULL, true },
};

#define RPCB3_PROCS                                                           \
	[RPCBPROC_NULL] = { "NULL", pm_null, NULL, true },                   \
	[RPCBPROC_SET] = { "SET", pm3_set, NULL, true },                     \
	[RPCBPROC_UNSET] = { "UNSET", pm3_set, NULL, true },                 \
	[RPCBPROC_GETADDR] = { "GETADDR", pm3_getaddr, NULL, true },         \
	[RPCBPROC_DUMP] = { "DUMP", pm3_dump, pm3_dump_max, true },         \
	[RPCBPROC_CALLIT] = { "CALLIT", NULL, NULL, true },                   \
	[RPCBPROC_GETTIME] = { "GETTIME", pm3_gettime, NULL, true },         \
	[RPCBPROC_UADDR2TADDR] = { "UADDR2TADDR", pm3_uaddr2taddr, NULL,     \
				   true },                                    \
	[RPCBPROC_TADDR2UADDR] = { "TADDR2UADDR", pm3_taddr2uaddr, NULL,     \
				   true }

static const struct rpc_proc rpcb3_procs[] = { RPCB3_PROCS };

static const struct rpc_proc rpcb4_procs[] = {
	RPCB3_PROCS,
	[RPCBPROC_GETVERSADDR] = { "GETVERSADDR", pm4_getversaddr, NULL,
				   true },
	[RPCBPROC_INDIRECT] = { "INDIRECT", NULL, NULL, true },
	[RPCBPROC_GETADDRLIST] = { "GETADDRLIST", pm4_getaddrlist,
				   pm4_getaddrlist_max, true },
	[RPCBPROC_GETSTAT] = { "GETSTAT", NULL, NULL, true },
};

#define NPROCS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const struct rpc_version portmap_versions[] = {
	{ PMAPVERS, pmap2_procs, NPROCS(pmap2_procs) },
	{ RPCBVERS, rpcb3_procs, NPROCS(rpcb3_procs) },
	{ RPCBVERS4, rpcb4_procs, NPROCS(rpcb4_procs) },
};

const struct rpc_program portmap_program = {
	.name = "portmapper",
	.prog = PMAPPROG,
	.versions = portmap_versions,
	.nversions = NPROCS(portmap_versions),
};
