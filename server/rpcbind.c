/*
 * rpcbind.c - tell the local rpcbind (portmapper) which programs we serve
 * and where, so that clients find NFS, MOUNT and the others without port
 * options (`mount -t nfs host:/export`, `showmount -e`, `rpcinfo -p`).
 *
 * Every program/version of rpc_programs[] is registered for TCP, and for
 * UDP when it is served, on the port the transport bound.  rpcbind keeps
 * one registration per (program, version, netid): a previous daemon that
 * died without unregistering left stale entries, so each one is unset
 * before it is set, as nfsd and mountd do.  rpcbind answers portmapper v2
 * queries (rpcinfo -p, the kernel's mount) from the same table, so
 * rpcb_set() covers v2, v3 and v4 clients.
 *
 * No rpcbind is not an error: the daemon serves clients that know the
 * port, and says once that it could not register.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <rpc/rpc.h>
#include <rpc/rpcb_clnt.h>

#include "log.h"
#include "server.h"

/* Where we are, per netid: the listen address with the bound port. */
struct rpcb_where {
	const char *netid;
	struct sockaddr_storage ss;
	struct netbuf addr;
};

static void where_set(struct rpcb_where *w, const char *netid,
		      const struct sockaddr_storage *ss, uint16_t port)
{
	w->netid = netid;
	w->ss = *ss;
	w->addr.buf = &w->ss;
	if (ss->ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&w->ss)->sin6_port = htons(port);
		w->addr.len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&w->ss)->sin_port = htons(port);
		w->addr.len = sizeof(struct sockaddr_in);
	}
	w->addr.maxlen = w->addr.len;
}

/*
 * TCP, and UDP when served, in the listen address's family.  A socket on
 * the IPv6 wildcard also takes IPv4 (Linux's default, bindv6only=0), and
 * IPv4 clients look up with portmapper v2, which knows only tcp and udp:
 * register those as well then.
 */
static unsigned rpcbind_where(const struct server *srv, uint16_t port,
			      struct rpcb_where w[4])
{
	const struct sockaddr_storage *ss = &srv->cfg->listen;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_storage any4 = { .ss_family = AF_INET };
	bool v6 = ss->ss_family == AF_INET6;
	unsigned n = 0;

	where_set(&w[n++], v6 ? "tcp6" : "tcp", ss, port);
	if (srv->cfg->udp)
		where_set(&w[n++], v6 ? "udp6" : "udp", ss, port);
	if (v6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
		where_set(&w[n++], "tcp", &any4, port);
		if (srv->cfg->udp)
			where_set(&w[n++], "udp", &any4, port);
	}
	return n;
}

/* Whether rpc_programs[i]'s version j was already seen in an earlier
 * table (several tables may share a program number). */
static bool seen_before(size_t i, uint32_t j)
{
	const struct rpc_program *p = rpc_programs[i];
	size_t k;
	uint32_t l;

	for (k = 0; k < i; k++) {
		if (rpc_programs[k]->prog != p->prog)
			continue;
		for (l = 0; l < rpc_programs[k]->nversions; l++)
			if (rpc_programs[k]->versions[l].vers ==
			    p->versions[j].vers)
				return true;
	}
	return false;
}

/*
 * Call fn for each (program, version, netconfig) we serve; stops at the
 * first failure and returns -1 then.
 */
typedef bool (*rpcb_fn)(uint32_t prog, uint32_t vers,
			const struct netconfig *nconf,
			const struct netbuf *addr);

static int for_each_registration(const struct server *srv, uint16_t port,
				  rpcb_fn fn)
{
	struct rpcb_where w[4];
	unsigned n = rpcbind_where(srv, port, w), t;
	struct netconfig *nconf;
	size_t i;
	uint32_t j;
	bool ok;

	for (t = 0; t < n; t++) {
		nconf = getnetconfigent(w[t].netid);
		if (!nconf) {
			log_warn("rpcbind: no netconfig for %s", w[t].netid);
			return -1;
		}
		ok = true;
		for (i = 0; ok && i < rpc_nprograms; i++)
			for (j = 0; ok && j < rpc_programs[i]->nversions; j++)
				if (!seen_before(i, j))
					ok = fn(rpc_programs[i]->prog,
						rpc_programs[i]->versions[j].vers,
						nconf, &w[t].addr);
		freenetconfigent(nconf);
		if (!ok)
			return -1;
	}
	return 0;
}

static bool do_set(uint32_t prog, uint32_t vers,
		   const struct netconfig *nconf, const struct netbuf *addr)
{
	/* A stale registration (ours from a crash, or another server's)
	 * would make rpcb_set() fail; the newest server wins. */
	rpcb_unset(prog, vers, (struct netconfig *)nconf);
	return rpcb_set(prog, vers, nconf, addr);
}

static bool do_unset(uint32_t prog, uint32_t vers,
		     const struct netconfig *nconf, const struct netbuf *addr)
{
	(void)addr;
	rpcb_unset(prog, vers, (struct netconfig *)nconf);
	return true; /* go on with the others even if one is gone */
}

int rpcbind_register(struct server *srv, uint16_t port)
{
	if (for_each_registration(srv, port, do_set) < 0) {
		log_warn("rpcbind: no local rpcbind accepted our "
			 "registration; clients must give port=%u", port);
		/* Drop what did get registered: all or nothing. */
		for_each_registration(srv, port, do_unset);
		return -1;
	}
	log_info("rpcbind: registered on port %u", port);
	return 0;
}

void rpcbind_unregister(struct server *srv)
{
	(void)for_each_registration(srv, 0, do_unset);
}
