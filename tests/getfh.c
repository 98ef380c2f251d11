/*
 * getfh - print, in hex, the NFSv3 file handle of a path of an export:
 * MOUNT the export, then LOOKUP each component, over TCP to 127.0.0.1.
 * For tests/ctl_test.sh (unionnfsctl handle HEX).
 *
 *   getfh PORT /EXPORT [PATH]     exit 0, or 1 with a message
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rpc/rpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount3_prot.h"
#include "nfs3_prot.h"

static const struct timeval timeout = { 30, 0 };

static CLIENT *client(int port, unsigned long prog, unsigned long vers)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int sock = RPC_ANYSOCK;
	CLIENT *c;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	c = clnttcp_create(&sin, prog, vers, &sock, 0, 0);
	if (!c) {
		clnt_pcreateerror("getfh");
		return NULL;
	}
	c->cl_auth = authunix_create_default();
	return c;
}

/* The export's root handle into fh (data malloc'd). */
static int mount_root(int port, char *export, nfs_fh3 *fh)
{
	CLIENT *c = client(port, MOUNT_PROGRAM, MOUNT_V3);
	mountres3 res;
	int rc = -1;

	if (!c)
		return -1;
	memset(&res, 0, sizeof(res));
	if (clnt_call(c, MOUNTPROC3_MNT, (xdrproc_t)xdr_dirpath,
		      (caddr_t)&export, (xdrproc_t)xdr_mountres3,
		      (caddr_t)&res, timeout) != RPC_SUCCESS) {
		clnt_perror(c, "getfh: MNT");
	} else if (res.fhs_status != MNT3_OK) {
		fprintf(stderr, "getfh: MNT %s: status %d\n", export,
			res.fhs_status);
	} else {
		fhandle3 *h = &res.mountres3_u.mountinfo.fhandle;

		fh->data.data_len = h->fhandle3_len;
		fh->data.data_val = malloc(h->fhandle3_len);
		if (fh->data.data_val) {
			memcpy(fh->data.data_val, h->fhandle3_val,
			       h->fhandle3_len);
			rc = 0;
		}
	}
	clnt_freeres(c, (xdrproc_t)xdr_mountres3, (caddr_t)&res);
	auth_destroy(c->cl_auth);
	clnt_destroy(c);
	return rc;
}

/* One LOOKUP: fh becomes the handle of name in it. */
static int lookup(CLIENT *c, nfs_fh3 *fh, char *name)
{
	LOOKUP3args args = { .what = { .dir = *fh, .name = name } };
	LOOKUP3res res;
	int rc = -1;

	memset(&res, 0, sizeof(res));
	if (clnt_call(c, NFSPROC3_LOOKUP, (xdrproc_t)xdr_LOOKUP3args,
		      (caddr_t)&args, (xdrproc_t)xdr_LOOKUP3res,
		      (caddr_t)&res, timeout) != RPC_SUCCESS) {
		clnt_perror(c, "getfh: LOOKUP");
	} else if (res.status != NFS3_OK) {
		fprintf(stderr, "getfh: LOOKUP %s: status %d\n", name,
			res.status);
	} else {
		nfs_fh3 *o = &res.LOOKUP3res_u.resok.object;
		char *copy = malloc(o->data.data_len);

		if (copy) {
			memcpy(copy, o->data.data_val, o->data.data_len);
			free(fh->data.data_val);
			fh->data.data_val = copy;
			fh->data.data_len = o->data.data_len;
			rc = 0;
		}
	}
	clnt_freeres(c, (xdrproc_t)xdr_LOOKUP3res, (caddr_t)&res);
	return rc;
}

int main(int argc, char **argv)
{
	nfs_fh3 fh = { { 0, NULL } };
	char *save = NULL, *name;
	CLIENT *c;
	int rc = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: getfh PORT /EXPORT [PATH]\n");
		return 1;
	}
	if (mount_root(atoi(argv[1]), argv[2], &fh) < 0)
		return 1;
	c = client(atoi(argv[1]), NFS_PROGRAM, NFS_V3);
	if (!c)
		rc = -1;
	for (name = argc == 4 ? strtok_r(argv[3], "/", &save) : NULL;
	     rc == 0 && name; name = strtok_r(NULL, "/", &save))
		rc = lookup(c, &fh, name);
	if (rc == 0) {
		for (u_int i = 0; i < fh.data.data_len; i++)
			printf("%02x", (unsigned char)fh.data.data_val[i]);
		printf("\n");
	}
	free(fh.data.data_val);
	if (c) {
		auth_destroy(c->cl_auth);
		clnt_destroy(c);
	}
	return rc == 0 ? 0 : 1;
}
