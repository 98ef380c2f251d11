/*
 * config_test.c - unionnfsd.conf(5) parsing (exact structure, exact error
 * messages and lines), client rule matching, and the squashing that
 * server_access() applies.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "server.h" /* and through it include/config.h */
#include "tap.h"

static char tmpdir[] = "/tmp/unionnfsd-config.XXXXXX";

static char *write_conf(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	return path;
}

/* Parse a file; the error report, as one string (caller frees). */
static char *parse_errors(struct config *cfg, const char *path, int *nerr)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	config_init(cfg);
	*nerr = config_parse_file(cfg, path, f);
	fclose(f);
	return text;
}

static void test_good_file(void)
{
	static const char conf[] =
		"# a complete configuration\n"
		"listen 127.0.0.1:2050\n"
		"catalog \"/var/tmp/cat.db\"\n"
		"pidfile \"/run/u.pid\"\n"
		"workers 8\n"
		"max-record 1114112\n"
		"max-connections 100\n"
		"idle-timeout 0\n"
		"udp no\n"
		"log-level debug\n"
		"\n"
		"export \"/export\" {\n"
		"\tlower \"/srv/base\" \"/srv/base 2\"   # top-most first\n"
		"\tupper /srv/upper\n"
		"\twork \"/srv/work\"\n"
		"\tuserxattr yes\n"
		"\tversions 3\n"
		"\tclients \"127.0.0.0/8(rw,no_root_squash) *(ro)\"\n"
		"\tclients \"::1(rw,all_squash,anonuid=1000,anongid=100,secure)\"\n"
		"}\n"
		"export \"/ro\"\n"
		"{\n"
		"\tlower \"/x\"\n"
		"\tclients 10.1.2.0/24 \"q\\\"uote\"\n"
		"}\n";
	struct config cfg;
	struct export_conf *ex;
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.listen;
	char *errs;
	int n;

	errs = parse_errors(&cfg, write_conf("good.conf", conf), &n);
	/* The one error is the deliberately odd host name. */
	CHECK_EQ(n, 1, "good file: one error (the quoted host)");
	CHECK(strstr(errs, "good.conf:24: cannot resolve host \"q\"uote\"") !=
		      NULL,
	      "escaped quote kept in the host name: %s", errs);
	free(errs);
	CHECK_EQ(sin->sin_family, AF_INET, "listen: IPv4");
	CHECK_EQ(ntohs(sin->sin_port), 2050, "listen: port");
	CHECK_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000001, "listen: address");
	CHECK_STR(cfg.catalog, "/var/tmp/cat.db", "catalog");
	CHECK_STR(cfg.pidfile, "/run/u.pid", "pidfile");
	CHECK_EQ(cfg.workers, 8, "workers");
	CHECK_EQ(cfg.max_record, 1114112, "max-record");
	CHECK_EQ(cfg.max_connections, 100, "max-connections");
	CHECK_EQ(cfg.idle_timeout, 0, "idle-timeout");
	CHECK_EQ(cfg.udp, 0, "udp no");
	CHECK_EQ(cfg.log_level, LOG_DEBUG, "log-level");
	CHECK_EQ(cfg.nexports, 2, "two exports");
	if (cfg.nexports != 2)
		goto out;

	ex = &cfg.exports[0];
	CHECK_STR(ex->u.name, "/export", "export name");
	CHECK_EQ(ex->line, 12, "export line");
	CHECK_EQ(ex->u.nlower, 2, "two lower layers");
	CHECK_STR(ex->u.lower[0], "/srv/base", "top-most lower first");
	CHECK_STR(ex->u.lower[1], "/srv/base 2", "quoted lower with a space");
	CHECK_STR(ex->u.upper, "/srv/upper", "unquoted upper");
	CHECK_STR(ex->u.work, "/srv/work", "work");
	CHECK_EQ(ex->u.userxattr, 1, "userxattr");
	CHECK_EQ(ex->versions, VERS_NFS3, "versions 3");
	CHECK_EQ(ex->nrules, 3, "three client rules");
	if (ex->nrules == 3) {
		const struct client_rule *r = ex->rules;

		CHECK_EQ(r[0].match, MATCH_CIDR, "rule 0: CIDR");
		CHECK_EQ(r[0].family, AF_INET, "rule 0: IPv4");
		CHECK_EQ(r[0].prefix, 8, "rule 0: /8");
		CHECK_EQ(r[0].addr[0], 127, "rule 0: 127.");
		CHECK_EQ(r[0].rw, 1, "rule 0: rw");
		CHECK_EQ(r[0].squash, SQUASH_NONE, "rule 0: no_root_squash");
		CHECK_EQ(r[0].secure, 0, "rule 0: insecure by default");
		CHECK_EQ(r[0].line, 18, "rule 0: line");
		CHECK_EQ(r[1].match, MATCH_ANY, "rule 1: *");
		CHECK_EQ(r[1].rw, 0, "rule 1: ro");
		CHECK_EQ(r[1].squash, SQUASH_ROOT, "rule 1: root_squash default");
		CHECK_EQ(r[1].anonuid, 65534, "rule 1: anonuid default");
		CHECK_EQ(r[2].family, AF_INET6, "rule 2: IPv6");
		CHECK_EQ(r[2].prefix, 128, "rule 2: bare address is /128");
		CHECK_EQ(r[2].squash, SQUASH_ALL, "rule 2: all_squash");
		CHECK_EQ(r[2].anonuid, 1000, "rule 2: anonuid");
		CHECK_EQ(r[2].anongid, 100, "rule 2: anongid");
		CHECK_EQ(r[2].secure, 1, "rule 2: secure");
		CHECK_EQ(r[2].line, 19, "rule 2: line");
	}
	ex = &cfg.exports[1];
	CHECK_STR(ex->u.name, "/ro", "second export, brace on the next line");
	CHECK(ex->u.upper == NULL && ex->u.work == NULL,
	      "read-only export: no upper, no work");
	CHECK_EQ(ex->versions, VERS_NFS3 | VERS_NFS4, "versions default");
	CHECK_EQ(ex->nrules, 1, "one rule");
	CHECK_EQ(ex->rules[0].rw, 0, "no options: ro");
	CHECK_EQ(ex->rules[0].squash, SQUASH_ROOT, "no options: root_squash");
out:
	config_free(&cfg);
}

static void check_errors(const char *name, const char *conf,
			 const char *want, int nwant)
{
	struct config cfg;
	char *path = write_conf(name, conf), expect[4096], *got;
	const char *p;
	size_t o = 0;
	int n;

	/* want uses "F" for the file name. */
	for (p = want; *p && o < sizeof(expect) - 512; p++) {
		if (*p == 'F' && (p == want || p[-1] == '\n'))
			o += (size_t)snprintf(expect + o, sizeof(expect) - o,
					      "%s", path);
		else
			expect[o++] = *p;
	}
	expect[o] = '\0';
	got = parse_errors(&cfg, path, &n);
	CHECK_EQ(n, nwant, "%s: number of errors", name);
	CHECK_STR(got, expect, "%s: messages and lines", name);
	free(got);
	config_free(&cfg);
}

static void test_bad_files(void)
{
	check_errors("bad1.conf",
		     "# comment\n"
		     "listen 127.0.0.1:99999\n"
		     "workers\n"
		     "frobnicate 1\n"
		     "export \"/a\" {\n"
		     "\tlower \"/tmp\"\n"
		     "\tupper \"/tmp\"\n"
		     "\tclients \"10.0.0.0/8(rw,bogus)\"\n"
		     "}\n"
		     "export \"/a\" {\n"
		     "\tlower \"/tmp\"\n"
		     "\tclients *\n"
		     "}\n"
		     "export \"/b\" {\n"
		     "\tclients \"*(ro)\"\n"
		     "}\n"
		     "udp maybe\n"
		     "catalog \"unterminated\n",
		     "F:2: bad address \"127.0.0.1:99999\"\n"
		     "F:3: missing value for \"workers\"\n"
		     "F:4: unknown keyword \"frobnicate\"\n"
		     "F:8: bad client option \"bogus\"\n"
		     "F:5: export \"/a\": upper without work\n"
		     "F:10: duplicate export \"/a\" (first defined at line 5)\n"
		     "F:14: export \"/b\" has no lower layer\n"
		     "F:17: bad value \"maybe\" for \"udp\" (yes or no)\n"
		     "F:18: unterminated string\n",
		     9);
	check_errors("bad2.conf",
		     "workers 0\n"
		     "workers many\n"
		     "listen [::1:2049\n"
		     "export noslash {\n"
		     "\tlower /x\n"
		     "\twork /w\n"
		     "\tbogus yes\n"
		     "\tclients \"300.1.2.3(rw) 10.0.0.0/33 nosuchhost.invalid(rw)\"\n"
		     "\tclients \"10.0.0.1(anonuid=x)\" \"(rw)\" \"*(rw\"\n"
		     "\tversions 2\n"
		     "}\n"
		     "}\n"
		     "export \"/z\" {\n"
		     "\tlower /x\n",
		     "F:1: \"workers\" must be between 1 and 1024\n"
		     "F:2: bad number \"many\" for \"workers\"\n"
		     "F:3: bad address \"[::1:2049\"\n"
		     "F:7: unknown keyword \"bogus\"\n"
		     "F:8: bad address \"300.1.2.3\"\n"
		     "F:8: bad address \"10.0.0.0/33\"\n"
		     "F:8: cannot resolve host \"nosuchhost.invalid\"\n"
		     "F:9: bad client option \"anonuid=x\"\n"
		     "F:9: missing host in \"(rw)\"\n"
		     "F:9: bad client \"*(rw\"\n"
		     "F:10: bad version \"2\" (3 or 4)\n"
		     "F:4: export name \"noslash\" must start with \"/\"\n"
		     "F:4: export \"noslash\": work without upper\n"
		     "F:12: unexpected \"}\"\n"
		     "F:13: missing \"}\" for export \"/z\"\n"
		     "F:13: export \"/z\" has no clients\n",
		     16);
	check_errors("bad3.conf", "export \"/e\"\nlower /x\n",
		     "F:1: missing \"{\" after export \"/e\"\n"
		     "F:2: unknown keyword \"lower\"\n",
		     2);
}

static void test_validate(void)
{
	char lower[600], upper[600], work[600], conf[4096], *errs, *path;
	char expect[4096];
	struct config cfg;
	size_t len = 0;
	FILE *f;
	int n;

	snprintf(lower, sizeof(lower), "%s/lower", tmpdir);
	snprintf(upper, sizeof(upper), "%s/upper", tmpdir);
	snprintf(work, sizeof(work), "%s/work", tmpdir);
	mkdir(lower, 0755);
	mkdir(upper, 0755);
	snprintf(conf, sizeof(conf),
		 "export \"/ok\" {\n lower \"%s\"\n upper \"%s\"\n"
		 " work \"%s\"\n clients *\n}\n",
		 lower, upper, work);
	path = write_conf("validate.conf", conf);
	errs = NULL;
	config_init(&cfg);
	CHECK_EQ(config_parse_file(&cfg, path, stderr), 0, "validate.conf parses");
	f = open_memstream(&errs, &len);
	n = config_validate(&cfg, f);
	fclose(f);
	snprintf(expect, sizeof(expect),
		 "%s:1: export \"/ok\": work \"%s\": No such file or "
		 "directory\n",
		 path, work);
	CHECK_EQ(n, 1, "missing work dir: one error");
	CHECK_STR(errs, expect, "missing work dir: message");
	free(errs);

	mkdir(work, 0755);
	CHECK_EQ(config_validate(&cfg, stderr), 0, "all layers exist: valid");
	config_free(&cfg);

	config_init(&cfg);
	f = open_memstream(&errs, &len);
	n = config_validate(&cfg, f);
	fclose(f);
	CHECK_EQ(n, 1, "no exports: an error");
	CHECK_STR(errs, "command line: no exports defined\n",
		  "no exports: message");
	free(errs);
	config_free(&cfg);
}

static void test_listen(void)
{
	struct config cfg;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg.listen;
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.listen;

	config_init(&cfg);
	CHECK_EQ(ntohs(sin->sin_port), 2049, "default port 2049");
	CHECK_EQ(config_parse_listen(&cfg, "[::1]:0"), 0, "[::1]:0 parses");
	CHECK_EQ(sin6->sin6_family, AF_INET6, "[::1]: IPv6");
	CHECK_EQ(cfg.listen_len, sizeof(*sin6), "[::1]: length");
	CHECK_EQ(config_parse_listen(&cfg, "3049"), 0, "bare port parses");
	CHECK_EQ(ntohs(sin->sin_port), 3049, "bare port");
	CHECK_EQ(sin->sin_addr.s_addr, htonl(INADDR_ANY), "bare port: any");
	CHECK_EQ(config_parse_listen(&cfg, "*:7"), 0, "*:7 parses");
	CHECK_EQ(config_parse_listen(&cfg, "::1:2049"), -1,
		 "unbracketed IPv6 rejected");
	CHECK_EQ(config_parse_listen(&cfg, "host.example:2049"), -1,
		 "host names rejected");
	CHECK_EQ(config_parse_listen(&cfg, "1.2.3.4:"), -1, "empty port");
	config_free(&cfg);
}

static void free_rules(struct export_conf *ex)
{
	unsigned i;

	for (i = 0; i < ex->nrules; i++)
		free(ex->rules[i].host);
	free(ex->rules);
	ex->rules = NULL;
	ex->nrules = 0;
}

static struct sockaddr_storage addr(const char *s, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else {
		abort();
	}
	return ss;
}

/* Index of the rule that matches s, or -1. */
static int match(const struct export_conf *ex, const char *s)
{
	struct sockaddr_storage ss = addr(s, 1000);
	const struct client_rule *r =
		config_match_client(ex, (struct sockaddr *)&ss);

	return r ? (int)(r - ex->rules) : -1;
}

static void test_match(void)
{
	struct export_conf ex = { 0 };

	CHECK_EQ(config_parse_clients(&ex,
				      "10.0.0.0/8(rw) 192.168.1.1 "
				      "2001:db8::/32(rw) 10.20.0.2/31 "
				      "0.0.0.0/0",
				      "test", 1, stderr),
		 0, "rules parse");
	CHECK_EQ(match(&ex, "10.255.1.2"), 0, "10/8 matches 10.255.1.2");
	CHECK_EQ(match(&ex, "192.168.1.1"), 1, "bare address matches itself");
	CHECK_EQ(match(&ex, "192.168.1.2"), 4, "bare address is /32");
	CHECK_EQ(match(&ex, "2001:db8:ffff::5"), 2, "IPv6 /32 matches");
	CHECK_EQ(match(&ex, "2001:db9::5"), -1, "IPv6 outside /32: none");
	CHECK_EQ(match(&ex, "::ffff:10.1.1.1"), 0,
		 "IPv4-mapped IPv6 matches an IPv4 rule");
	CHECK_EQ(match(&ex, "11.20.0.3"), 4, "0.0.0.0/0 matches any IPv4");
	free_rules(&ex);

	memset(&ex, 0, sizeof(ex));
	CHECK_EQ(config_parse_clients(&ex, "11.20.0.2/31 localhost(rw) *(ro)",
				      "test", 2, stderr),
		 0, "host and * rules parse");
	CHECK_EQ(match(&ex, "11.20.0.3"), 0, "/31 includes .3");
	CHECK_EQ(match(&ex, "11.20.0.4"), 2, "/31 excludes .4, * catches it");
	CHECK_EQ(ex.rules[1].match, MATCH_HOST, "localhost is a host rule");
	CHECK_STR(ex.rules[1].host, "localhost", "host kept as written");
	CHECK_EQ(match(&ex, "127.0.0.1"), 1, "localhost matches 127.0.0.1");
	CHECK_EQ(match(&ex, "fe80::1"), 2, "* matches IPv6 too");
	free_rules(&ex);
}

/* server_access() for one caller. */
static enum access_result access_as(struct srv_export *sx, uint32_t flavor,
				    uint32_t uid, uint32_t gid, uint16_t port,
				    bool modifying, struct un_cred *out)
{
	struct rpc_req req;

	memset(&req, 0, sizeof(req));
	req.peer = addr("127.0.0.1", port);
	req.cred.flavor = flavor;
	req.cred.uid = uid;
	req.cred.gid = gid;
	req.cred.ngroups = 2;
	req.cred.groups[0] = 0;
	req.cred.groups[1] = 5;
	return server_access(sx, &req, modifying, out);
}

static void test_squash(void)
{
	struct export_conf ex = { .u = { .name = "/e" } };
	struct srv_export sx = { .conf = &ex };
	struct un_cred cr;

	/* root_squash (default) */
	config_parse_clients(&ex, "127.0.0.1", "t", 1, stderr);
	CHECK_EQ(access_as(&sx, AUTH_SYS, 0, 0, 900, false, &cr), ACCESS_OK,
		 "root_squash: root admitted");
	CHECK(cr.uid == 65534 && cr.gid == 65534,
	      "root_squash: root becomes 65534:65534 (got %u:%u)",
	      (unsigned)cr.uid, (unsigned)cr.gid);
	CHECK(cr.ngroups == 2 && cr.groups[0] == 65534 && cr.groups[1] == 5,
	      "root_squash: group 0 squashed in the list, others kept");
	access_as(&sx, AUTH_SYS, 1000, 100, 900, false, &cr);
	CHECK(cr.uid == 1000 && cr.gid == 100 && cr.ngroups == 2,
	      "root_squash: a user stays himself");
	access_as(&sx, AUTH_NONE, 0, 0, 900, false, &cr);
	CHECK(cr.uid == 65534 && cr.gid == 65534 && cr.ngroups == 0,
	      "AUTH_NONE: anonymous");
	CHECK_EQ(access_as(&sx, AUTH_SYS, 1000, 100, 900, true, &cr),
		 ACCESS_ROFS, "ro (default): modifying refused");
	free_rules(&ex);

	memset(&ex, 0, sizeof(ex));
	config_parse_clients(&ex, "127.0.0.0/8(no_root_squash,anonuid=7)",
			     "t", 1, stderr);
	access_as(&sx, AUTH_SYS, 0, 0, 900, false, &cr);
	CHECK(cr.uid == 0 && cr.gid == 0 && cr.groups[0] == 0,
	      "no_root_squash: root stays root");
	access_as(&sx, AUTH_NONE, 0, 0, 900, false, &cr);
	CHECK(cr.uid == 7 && cr.gid == 65534,
	      "no_root_squash: AUTH_NONE still anonymous (anonuid 7)");
	free_rules(&ex);

	memset(&ex, 0, sizeof(ex));
	config_parse_clients(&ex, "127.0.0.1(all_squash,anonuid=1234,"
				  "anongid=4321,secure)",
			     "t", 1, stderr);
	CHECK_EQ(access_as(&sx, AUTH_SYS, 1000, 100, 900, false, &cr),
		 ACCESS_OK, "secure: port 900 admitted");
	CHECK(cr.uid == 1234 && cr.gid == 4321 && cr.ngroups == 0,
	      "all_squash: a user becomes anonuid:anongid");
	access_as(&sx, AUTH_SYS, 0, 0, 900, false, &cr);
	CHECK(cr.uid == 1234 && cr.gid == 4321, "all_squash: root too");
	CHECK_EQ(access_as(&sx, AUTH_SYS, 1000, 100, 2000, false, &cr),
		 ACCESS_DENIED, "secure: port 2000 refused");
	free_rules(&ex);

	memset(&ex, 0, sizeof(ex));
	config_parse_clients(&ex, "10.0.0.0/8(rw)", "t", 1, stderr);
	CHECK_EQ(access_as(&sx, AUTH_SYS, 1000, 100, 900, false, &cr),
		 ACCESS_DENIED, "no matching rule: denied");
	free_rules(&ex);
}

/* rw rules against a real export: read-only without an upper layer. */
static void test_rofs(void)
{
	struct export_conf ex = { 0 };
	struct srv_export sx = { .conf = &ex };
	struct un_catalog *cat = NULL;
	char cpath[600], lower[600], upper[600], work[600], err[256];
	struct un_cred cr;

	snprintf(cpath, sizeof(cpath), "%s/catalog.db", tmpdir);
	snprintf(lower, sizeof(lower), "%s/lower", tmpdir);
	snprintf(upper, sizeof(upper), "%s/upper", tmpdir);
	snprintf(work, sizeof(work), "%s/work", tmpdir);
	config_parse_clients(&ex, "*(rw)", "t", 1, stderr);
	CHECK_EQ(un_catalog_open(cpath, &cat, err, sizeof(err)), 0,
		 "catalog opens");
	ex.u.name = "/rw";
	ex.u.lower[0] = lower;
	ex.u.nlower = 1;
	ex.u.upper = upper;
	ex.u.work = work;
	if (un_export_open(cat, &ex.u, &sx.ux, err, sizeof(err)) == 0) {
		CHECK_EQ(access_as(&sx, AUTH_SYS, 1, 1, 900, true, &cr),
			 ACCESS_OK, "rw rule, writable export: may modify");
		un_export_close(sx.ux);
	} else {
		CHECK(0, "export /rw opens: %s", err);
	}
	ex.u.name = "/ro";
	ex.u.upper = ex.u.work = NULL;
	if (un_export_open(cat, &ex.u, &sx.ux, err, sizeof(err)) == 0) {
		CHECK_EQ(access_as(&sx, AUTH_SYS, 1, 1, 900, true, &cr),
			 ACCESS_ROFS, "rw rule, export without upper: ROFS");
		CHECK_EQ(access_as(&sx, AUTH_SYS, 1, 1, 900, false, &cr),
			 ACCESS_OK, "export without upper: reading is fine");
		un_export_close(sx.ux);
	} else {
		CHECK(0, "export /ro opens: %s", err);
	}
	un_catalog_close(cat);
	free_rules(&ex);
}

static int rm_rf(const char *dir)
{
	char cmd[700];

	if (getenv("KEEP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	log_init("config_test", LOG_WARNING, 0);
	test_good_file();
	test_bad_files();
	test_validate();
	test_listen();
	test_match();
	test_squash();
	test_rofs();
	rm_rf(tmpdir);
	return tap_done();
}
