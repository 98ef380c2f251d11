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
 *
 * A program marked rpcbind_if_free (NSM, 100024) is the exception: the
 * host's rpc.statd may own it, and taking its entry would cut the local
 * kernel's lockd off its statd.  Such a program is set only where no
 * entry exists (rpcbind refuses a set over an existing one), and at
 * shutdown only the entries we made are unset.  A stale entry of our own
 * from a crash stays; with a fixed port it points at us anyway.
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

/* One registration: program p's version vers at where[t]. */
struct rpcb_reg {
	const struct rpc_program *p;
	uint32_t vers;
	unsigned t;
	const struct netconfig *nconf;
	const struct netbuf *addr;
};

/*
 * Call fn for each (program, version, netconfig) we serve; stops at the
 * first failure and returns -1 then.
 */
typedef bool (*rpcb_fn)(const struct rpcb_reg *r);

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
			for (j = 0; ok && j < rpc_programs[i]->nversions; j++) {
				struct rpcb_reg r = {
					rpc_programs[i],
					rpc_programs[i]->versions[j].vers, t,
					nconf, &w[t].addr
				};

				if (!seen_before(i, j))
					ok = fn(&r);
			}
		freenetconfigent(nconf);
		if (!ok)
			return -1;
	}
	return 0;
}

/* The rpcbind_if_free registrations we made (main thread only). */
#define OWNED_MAX 16
static struct {
	uint32_t prog, vers;
	unsigned t;
} owned[OWNED_MAX];
static unsigned nowned;

static int owned_find(const struct rpcb_reg *r)
{
	for (unsigned k = 0; k < nowned; k++)
		if (owned[k].prog == r->p->prog && owned[k].vers == r->vers &&
		    owned[k].t == r->t)
			return (int)k;
	return -1;
}

static bool set_if_free(const struct rpcb_reg *r)
{
	if (owned_find(r) >= 0)
		return true;
	if (nowned < OWNED_MAX &&
	    rpcb_set(r->p->prog, r->vers, r->nconf, r->addr)) {
		owned[nowned].prog = r->p->prog;
		owned[nowned].vers = r->vers;
		owned[nowned].t = r->t;
		nowned++;
	} else {
		log_info("rpcbind: %s (%u) v%u %s is registered by another "
			 "server (rpc.statd?); leaving it", r->p->name,
			 r->p->prog, r->vers, r->nconf->nc_netid);
	}
	return true; /* not ours to insist on */
}

static bool do_set(const struct rpcb_reg *r)
{
	if (r->p->rpcbind_if_free)
		return set_if_free(r);
	/* A stale registration (ours from a crash, or another server's)
	 * would make rpcb_set() fail; the newest server wins. */
	rpcb_unset(r->p->prog, r->vers, (struct netconfig *)r->nconf);
	return rpcb_set(r->p->prog, r->vers, r->nconf, r->addr);
}

static bool do_unset(const struct rpcb_reg *r)
{
	int k = r->p->rpcbind_if_free ? owned_find(r) : -2;

	if (k == -1)
		return true; /* another server's: not ours to remove */
	rpcb_unset(r->p->prog, r->vers, (struct netconfig *)r->nconf);
	if (k >= 0)
		owned[k] = owned[--nowned];
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
