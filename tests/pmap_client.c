/*
 * pmap_client.c - for tests/portmap_test.sh: the portmapper calls that
 * rpcinfo and showmount do not make, with libtirpc's client and XDR
 * routines.  Prints one line per call; the script compares them.
 *
 *   pmap_client ADDR PMAP_PORT NFS_PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <rpc/rpc.h>
#include <rpc/pmap_prot.h>
#include <rpc/rpcb_prot.h>

static struct sockaddr_in server;

/* No arguments, no results (libtirpc's xdr_void() has no parameters). */
static bool_t xdr_nothing(XDR *x, void *p)
{
	return TRUE;
}

static struct timeval timeout = { 10, 0 };

static CLIENT *client(uint16_t port, u_long prog, u_long vers, bool tcp)
{
	struct sockaddr_in sin = server;
	struct timeval wait = { 1, 0 };
	int sock = RPC_ANYSOCK;
	CLIENT *c;

	sin.sin_port = htons(port);
	c = tcp ? clnttcp_create(&sin, prog, vers, &sock, 0, 0)
		: clntudp_create(&sin, prog, vers, wait, &sock);
	if (!c) {
		printf("cannot reach %lu v%lu on port %u: %s\n", prog, vers,
		       port, clnt_spcreateerror(""));
		exit(1);
	}
	return c;
}

static const char *status(enum clnt_stat st)
{
	switch (st) {
	case RPC_SUCCESS:
		return "SUCCESS";
	case RPC_PROGUNAVAIL:
		return "PROG_UNAVAIL";
	case RPC_PROCUNAVAIL:
		return "PROC_UNAVAIL";
	default:
		return clnt_sperrno(st);
	}
}

static void pmap2_set(uint16_t pport, u_long proc, const char *name)
{
	CLIENT *c = client(pport, PMAPPROG, PMAPVERS, false);
	struct pmap m = { 300000, 1, IPPROTO_TCP, 4242 };
	bool_t res = TRUE;
	enum clnt_stat st;

	st = clnt_call(c, proc, (xdrproc_t)xdr_pmap, (char *)&m,
		       (xdrproc_t)xdr_bool, (char *)&res, timeout);
	printf("v2 %s: %s %s\n", name, status(st), res ? "TRUE" : "FALSE");
	clnt_destroy(c);
}

static void rpcb_set_call(uint16_t pport, u_long vers, u_long proc,
			  const char *name)
{
	CLIENT *c = client(pport, RPCBPROG, vers, true);
	struct rpcb r = { 300000, 1, "tcp", "127.0.0.1.16.146", "test" };
	bool_t res = TRUE;
	enum clnt_stat st;

	st = clnt_call(c, proc, (xdrproc_t)xdr_rpcb, (char *)&r,
		       (xdrproc_t)xdr_bool, (char *)&res, timeout);
	printf("v%lu %s: %s %s\n", vers, name, status(st),
	       res ? "TRUE" : "FALSE");
	clnt_destroy(c);
}

static void pmap2_getport(uint16_t pport, u_long prog, u_long vers,
			  u_long prot)
{
	CLIENT *c = client(pport, PMAPPROG, PMAPVERS, false);
	struct pmap m = { prog, vers, prot, 0 };
	u_long port = 0;
	enum clnt_stat st;

	st = clnt_call(c, PMAPPROC_GETPORT, (xdrproc_t)xdr_pmap, (char *)&m,
		       (xdrproc_t)xdr_u_long, (char *)&port, timeout);
	printf("v2 GETPORT %lu %lu %s: %s %lu\n", prog, vers,
	       prot == IPPROTO_TCP ? "tcp" : "udp", status(st), port);
	clnt_destroy(c);
}

static void rpcb_getaddr_call(uint16_t pport, u_long vers, u_long proc,
			      const char *name, u_long prog, u_long pvers,
			      const char *netid)
{
	CLIENT *c = client(pport, RPCBPROG, vers, true);
	struct rpcb r = { prog, pvers, (char *)netid, "", "" };
	char *uaddr = NULL;
	enum clnt_stat st;

	st = clnt_call(c, proc, (xdrproc_t)xdr_rpcb, (char *)&r,
		       (xdrproc_t)xdr_wrapstring, (char *)&uaddr, timeout);
	printf("v%lu %s %lu %lu %s: %s \"%s\"\n", vers, name, prog, pvers,
	       netid, status(st), uaddr ? uaddr : "");
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&uaddr);
	clnt_destroy(c);
}

static void rpcb_conversions(uint16_t pport, uint16_t nport)
{
	CLIENT *c = client(pport, RPCBPROG, RPCBVERS, true);
	struct netbuf nb = { 0, 0, NULL };
	struct sockaddr_in sin = server;
	char uaddr[64], *u = uaddr, *back = NULL;
	u_int now = 0;
	enum clnt_stat st;

	snprintf(uaddr, sizeof(uaddr), "%s.%u.%u", inet_ntoa(server.sin_addr),
		 nport >> 8, nport & 0xff);
	st = clnt_call(c, RPCBPROC_UADDR2TADDR, (xdrproc_t)xdr_wrapstring,
		       (char *)&u, (xdrproc_t)xdr_netbuf, (char *)&nb, timeout);
	memset(&sin, 0, sizeof(sin));
	if (nb.len == sizeof(sin))
		memcpy(&sin, nb.buf, sizeof(sin));
	printf("v3 UADDR2TADDR: %s family %s port %u\n", status(st),
	       sin.sin_family == AF_INET ? "inet" : "?", ntohs(sin.sin_port));
	st = clnt_call(c, RPCBPROC_TADDR2UADDR, (xdrproc_t)xdr_netbuf,
		       (char *)&nb, (xdrproc_t)xdr_wrapstring, (char *)&back,
		       timeout);
	printf("v3 TADDR2UADDR: %s %s\n", status(st),
	       back && strcmp(back, uaddr) == 0 ? "same" : "different");
	xdr_free((xdrproc_t)xdr_wrapstring, (char *)&back);
	xdr_free((xdrproc_t)xdr_netbuf, (char *)&nb);
	st = clnt_call(c, RPCBPROC_GETTIME, (xdrproc_t)xdr_nothing, NULL,
		       (xdrproc_t)xdr_u_int, (char *)&now, timeout);
	printf("v3 GETTIME: %s %s\n", status(st),
	       labs((long)now - (long)time(NULL)) < 60 ? "now" : "wrong");
	clnt_destroy(c);
}

/* A call that must be refused before any procedure runs. */
static void null_call(uint16_t port, u_long prog, u_long vers, u_long proc,
		      const char *what)
{
	CLIENT *c = client(port, prog, vers, true);
	enum clnt_stat st;

	st = clnt_call(c, proc, (xdrproc_t)xdr_nothing, NULL,
		       (xdrproc_t)xdr_nothing, NULL, timeout);
	printf("%s: %s\n", what, status(st));
	clnt_destroy(c);
}

int main(int argc, char **argv)
{
	uint16_t pport, nport;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) {
		fprintf(stderr, "usage: pmap_client ADDR PMAP_PORT NFS_PORT\n");
		return 2;
	}
	server.sin_family = AF_INET;
	pport = (uint16_t)atoi(argv[2]);
	nport = (uint16_t)atoi(argv[3]);

	pmap2_set(pport, PMAPPROC_SET, "SET");
	pmap2_set(pport, PMAPPROC_UNSET, "UNSET");
	rpcb_set_call(pport, RPCBVERS, RPCBPROC_SET, "SET");
	rpcb_set_call(pport, RPCBVERS4, RPCBPROC_UNSET, "UNSET");
	pmap2_getport(pport, 300000, 1, IPPROTO_TCP);
	pmap2_getport(pport, 100005, 3, IPPROTO_UDP);
	pmap2_getport(pport, 100003, 2, IPPROTO_TCP);
	rpcb_getaddr_call(pport, RPCBVERS, RPCBPROC_GETADDR, "GETADDR",
			  100003, 2, "tcp");
	rpcb_getaddr_call(pport, RPCBVERS4, RPCBPROC_GETVERSADDR,
			  "GETVERSADDR", 100003, 2, "tcp");
	rpcb_getaddr_call(pport, RPCBVERS4, RPCBPROC_GETVERSADDR,
			  "GETVERSADDR", 100003, 3, "udp");
	rpcb_conversions(pport, nport);
	null_call(pport, PMAPPROG, PMAPVERS, PMAPPROC_CALLIT, "v2 CALLIT");
	null_call(pport, RPCBPROG, RPCBVERS4, RPCBPROC_INDIRECT,
		  "v4 INDIRECT");
	null_call(pport, 100003, 3, 0, "NFS on the portmapper port");
	null_call(nport, PMAPPROG, PMAPVERS, 0, "portmapper on the NFS port");
	return 0;
}
