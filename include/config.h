/*
 * config.h - the daemon's configuration: listen address, catalog, exports
 * and their client rules.  Parsed from unionnfsd.conf(5) or built from the
 * command line; both produce the same structure.
 */
#ifndef UNIONNFSD_CONFIG_H
#define UNIONNFSD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "union.h"

enum squash {
	SQUASH_ROOT, /* root_squash (the default) */
	SQUASH_NONE, /* no_root_squash */
	SQUASH_ALL,  /* all_squash */
};

enum client_match {
	MATCH_ANY,  /* "*" */
	MATCH_CIDR, /* address with prefix length; a bare address is /32 or /128 */
	MATCH_HOST, /* a host name, resolved when the config is loaded */
};

struct client_rule {
	enum client_match match;
	int family; /* AF_INET or AF_INET6 for MATCH_CIDR */
	uint8_t addr[16];
	unsigned prefix;
	char *host; /* MATCH_HOST: as written */
	bool rw;
	enum squash squash;
	uint32_t anonuid, anongid; /* default 65534 */
	bool secure;		   /* source port must be < 1024 */
	unsigned xprtsec;	   /* XPRTSEC_* modes accepted; default all */
	/* sec=: the flavors allowed (AUTH_SYS, RPC_AUTH_KRB5, ...), in the
	 * order written; nsec 0 means sec=sys. */
	uint32_t sec[4];
	unsigned nsec;
	/* private_upper=DIR: each client this rule admits gets its own
	 * upper layer DIR/ADDRESS/upper and work dir DIR/ADDRESS/work over
	 * the export's lower layers (server_view()); NULL: the shared upper */
	char *private_upper;
	unsigned line;		   /* where it was defined */
};

/* One line of the krb5-map file (server/gss.c). */
struct krb5_map_entry {
	char *principal; /* "alice@EXAMPLE.COM", "nfs/host@EXAMPLE.COM" */
	char *user;	 /* "PRINCIPAL USERNAME": looked up when used */
	uint32_t uid, gid;
};

/* Transport security of a connection, as exports(5)'s xprtsec= names it. */
enum {
	XPRTSEC_NONE = 1 << 0, /* plaintext */
	XPRTSEC_TLS = 1 << 1,  /* RPC-with-TLS, no client certificate */
	XPRTSEC_MTLS = 1 << 2, /* RPC-with-TLS, a verified client certificate */
	XPRTSEC_ALL = XPRTSEC_NONE | XPRTSEC_TLS | XPRTSEC_MTLS,
};

enum {
	VERS_NFS3 = 1 << 0,
	VERS_NFS4 = 1 << 1,
};

struct export_conf {
	struct un_export_conf u; /* name, layers, userxattr */
	struct client_rule *rules;
	unsigned nrules;
	unsigned versions; /* VERS_* bits; default all */
	unsigned line;
};

struct config {
	char *file; /* NULL when built from the command line */
	struct sockaddr_storage listen;
	socklen_t listen_len;
	char *catalog;
	char *pidfile;
	unsigned workers;	   /* worker threads */
	uint32_t max_record;	   /* bytes in one RPC record */
	uint32_t max_connections;
	/* MiB of replies queued and records half received, all connections
	 * together (server/transport.c); 0: a quarter of the RAM. */
	uint32_t max_buffered;
	unsigned idle_timeout;	   /* seconds; 0 = never */
	unsigned view_idle;	   /* private_upper= views: seconds; 0 = never */
	bool udp;		   /* also serve UDP on the same port */
	bool rpcbind;		   /* register with the local rpcbind */
	bool portmap;		   /* be the portmapper ourselves */
	uint16_t portmap_port;	   /* where, on the listen address; 111 */
	unsigned grace;		   /* NLM grace after a restart, seconds */
	unsigned lease_time;	   /* NFSv4 lease, seconds */
	char *idmap_domain;	   /* NFSv4 owner@DOMAIN; NULL: the host's */
	bool idmap_numeric;	   /* AUTH_SYS callers get numeric owners */
	bool use_syslog;
	int log_level;
	char *control;		   /* control socket; NULL: default; "none" */
	char *metrics;		   /* Prometheus "ADDR:PORT"; NULL: none */
	char *krb5_keytab;	   /* RPCSEC_GSS acceptor keytab; NULL: default */
	char *krb5_principal;	   /* service principal; NULL: any in keytab */
	char *krb5_map;		   /* principal mapping file, or NULL */
	struct krb5_map_entry *krb5_maps; /* its lines */
	unsigned nkrb5_maps;
	char *tls_cert, *tls_key;  /* RPC-with-TLS: PEM files; NULL: no TLS */
	char *tls_ca;		   /* client certificates' CA; NULL: none */
	struct export_conf *exports;
	unsigned nexports;
};

void config_init(struct config *cfg); /* defaults */
void config_free(struct config *cfg);

/*
 * Parse a config file into cfg.  Every error is reported to errf as
 * "FILE:LINE: message"; returns the number of errors (0 = success).
 */
int config_parse_file(struct config *cfg, const char *path, FILE *errf);

/*
 * Parse one client-rule list, as written on an export's "clients" line or
 * given to --clients: "127.0.0.0/8(rw,no_root_squash) *(ro)".  Errors are
 * reported as "WHERE:LINE: message".  Returns the number of errors.
 */
int config_parse_clients(struct export_conf *ex, const char *spec,
			 const char *where, unsigned line, FILE *errf);

/* Parse "ADDR:PORT", "[V6ADDR]:PORT" or "PORT" into cfg->listen. */
int config_parse_listen(struct config *cfg, const char *s);

/*
 * A decimal uint32 ("0".."4294967295", digits only): ids and numbers as the
 * config, the Kerberos map file and NFSv4 numeric owners write them.
 * 0, or -1 for anything else.
 */
int config_parse_u32(const char *s, uint32_t *out);

/* Check what parsing cannot: at least one export, unique names, layers. */
int config_validate(const struct config *cfg, FILE *errf);

/*
 * The first rule matching a client address, or NULL (access denied).
 */
const struct client_rule *config_match_client(const struct export_conf *ex,
					      const struct sockaddr *sa);

#endif
