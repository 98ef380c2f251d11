/*
 * config.c - unionnfsd.conf(5): the daemon's configuration file, and the
 * exports(5)-style client rules shared with the command line.
 *
 * The grammar is line oriented, in the style of OpenBSD daemons:
 *
 *	listen 127.0.0.1:2049
 *	catalog "/var/lib/unionnfsd/catalog.db"
 *	export "/export" {
 *		lower "/srv/base" "/srv/base2"
 *		upper "/srv/upper"
 *		work "/srv/work"
 *		clients "127.0.0.0/8(rw,no_root_squash) *(ro)"
 *	}
 *
 * Parsing goes on after an error so that one run reports every mistake,
 * each as "FILE:LINE: message".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gss.h"
#include "log.h"
#include "server.h"

#define DEFAULT_PORT 2049
#define ANON_ID 65534

static void conf_err(FILE *errf, const char *where, unsigned line,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void conf_err(FILE *errf, const char *where, unsigned line,
		     const char *fmt, ...)
{
	va_list ap;

	if (!errf)
		return;
	if (line)
		fprintf(errf, "%s:%u: ", where, line);
	else
		fprintf(errf, "%s: ", where);
	va_start(ap, fmt);
	vfprintf(errf, fmt, ap);
	va_end(ap);
	fputc('\n', errf);
}

/* ---- defaults and teardown -------------------------------------------- */

static unsigned default_workers(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = ncpu > 0 ? 2 * (unsigned)ncpu : 4;

	return n < 4 ? 4 : n;
}

void config_init(struct config *cfg)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg->listen;

	memset(cfg, 0, sizeof(*cfg));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	sin->sin_port = htons(DEFAULT_PORT);
	cfg->listen_len = sizeof(*sin);
	cfg->workers = default_workers();
	/* A 1 MiB WRITE plus its header, with room to spare. */
	cfg->max_record = (1u << 20) + (64u << 10);
	cfg->max_connections = 1024;
	cfg->idle_timeout = 300;
	cfg->udp = true;
	cfg->rpcbind = true;
	cfg->portmap_port = 111; /* PMAPPORT */
	cfg->grace = 90;
	cfg->view_idle = 900;
	cfg->lease_time = 90;
	cfg->log_level = LOG_INFO;
}

static void export_conf_free(struct export_conf *ex)
{
	unsigned i;

	free((char *)ex->u.name);
	for (i = 0; i < ex->u.nlower; i++)
		free((char *)ex->u.lower[i]);
	free((char *)ex->u.upper);
	free((char *)ex->u.work);
	for (i = 0; i < ex->nrules; i++) {
		free(ex->rules[i].host);
		free(ex->rules[i].private_upper);
	}
	free(ex->rules);
	memset(ex, 0, sizeof(*ex));
}

void config_free(struct config *cfg)
{
	unsigned i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nexports; i++)
		export_conf_free(&cfg->exports[i]);
	free(cfg->exports);
	free(cfg->file);
	free(cfg->catalog);
	free(cfg->pidfile);
	free(cfg->control);
	free(cfg->metrics);
	free(cfg->idmap_domain);
	free(cfg->krb5_keytab);
	free(cfg->krb5_principal);
	free(cfg->krb5_map);
	for (i = 0; i < cfg->nkrb5_maps; i++) {
		free(cfg->krb5_maps[i].principal);
		free(cfg->krb5_maps[i].user);
	}
	free(cfg->krb5_maps);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_ca);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- client rules ----------------------------------------------------- */

static void rule_defaults(struct client_rule *r, unsigned line)
{
	memset(r, 0, sizeof(*r));
	r->rw = false; /* exports(5): ro and root_squash unless told */
	r->squash = SQUASH_ROOT;
	r->anonuid = ANON_ID;
	r->anongid = ANON_ID;
	r->secure = false; /* unlike exports(5): see unionnfsd.conf(5) */
	r->xprtsec = XPRTSEC_ALL; /* as exports(5): none:tls:mtls */
	r->line = line;
}

int config_parse_u32(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "none:tls:mtls": the transport security modes a rule accepts. */
static int parse_xprtsec(const char *list, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned mode;
	} modes[] = {
		{ "none", XPRTSEC_NONE },
		{ "tls", XPRTSEC_TLS },
		{ "mtls", XPRTSEC_MTLS },
	};
	const char *p = list, *end;
	size_t i, n;

	*out = 0;
	do {
		end = strchr(p, ':');
		n = end ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (strlen(modes[i].name) == n &&
			    strncmp(p, modes[i].name, n) == 0)
				break;
		if (i == sizeof(modes) / sizeof(modes[0]))
			return -1;
		*out |= modes[i].mode;
		p = end + 1;
	} while (end);
	return 0;
}

/* "sys:krb5:krb5i:krb5p": the flavors a rule allows, in that order. */
static int parse_sec(const char *list, struct client_rule *r)
{
	static const struct {
		const char *name;
		uint32_t flavor;
	} secs[] = {
		{ "sys", AUTH_SYS },
		{ "krb5", RPC_AUTH_KRB5 },
		{ "krb5i", RPC_AUTH_KRB5I },
		{ "krb5p", RPC_AUTH_KRB5P },
	};
	const char *p = list, *end;
	size_t i, n;
	unsigned j;

	r->nsec = 0;
	do {
		end = strchr(p, ':');
		n = end ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
			if (strlen(secs[i].name) == n &&
			    strncmp(p, secs[i].name, n) == 0)
				break;
		if (i == sizeof(secs) / sizeof(secs[0]))
			return -1;
		for (j = 0; j < r->nsec; j++)
			if (r->sec[j] == secs[i].flavor)
				return -1; /* named twice */
		r->sec[r->nsec++] = secs[i].flavor;
		p = end + 1;
	} while (end);
	return 0;
}

/*
 * The directory below which each client gets its own upper and work dir:
 * absolute, so that it does not depend on where the daemon runs, and not
 * given twice in one rule.
 */
static int parse_private_upper(const char *dir, struct client_rule *r)
{
	if (dir[0] != '/' || r->private_upper)
		return -1;
	r->private_upper = strdup(dir);
	return r->private_upper ? 0 : -1;
}

static int rule_option(struct client_rule *r, const char *opt)
{
	static const char *const ignored[] = {
		"sync", "async", "subtree_check", "no_subtree_check",
		"wdelay", "no_wdelay",
	};
	size_t i;

	if (strcmp(opt, "rw") == 0)
		r->rw = true;
	else if (strcmp(opt, "ro") == 0)
		r->rw = false;
	else if (strcmp(opt, "root_squash") == 0)
		r->squash = SQUASH_ROOT;
	else if (strcmp(opt, "no_root_squash") == 0)
		r->squash = SQUASH_NONE;
	else if (strcmp(opt, "all_squash") == 0)
		r->squash = SQUASH_ALL;
	else if (strcmp(opt, "secure") == 0)
		r->secure = true;
	else if (strcmp(opt, "insecure") == 0)
		r->secure = false;
	else if (strncmp(opt, "anonuid=", 8) == 0)
		return config_parse_u32(opt + 8, &r->anonuid);
	else if (strncmp(opt, "anongid=", 8) == 0)
		return config_parse_u32(opt + 8, &r->anongid);
	else if (strncmp(opt, "xprtsec=", 8) == 0)
		return parse_xprtsec(opt + 8, &r->xprtsec);
	else if (strncmp(opt, "sec=", 4) == 0)
		return parse_sec(opt + 4, r);
	else if (strncmp(opt, "private_upper=", 14) == 0)
		return parse_private_upper(opt + 14, r);
	else {
		/* Accepted for exports(5) compatibility; they change nothing
		 * here (the server always honours the client's stability). */
		for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
			if (strcmp(opt, ignored[i]) == 0)
				return 0;
		return -1;
	}
	return 0;
}

static int parse_cidr(struct client_rule *r, const char *host)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	uint32_t prefix;
	unsigned maxprefix;

	if (strlen(host) >= sizeof(buf))
		return -1;
	strcpy(buf, host);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, r->addr) == 1) {
		r->family = AF_INET;
		maxprefix = 32;
	} else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
		r->family = AF_INET6;
		maxprefix = 128;
	} else if (slash || strchr(buf, ':') ||
		   strspn(buf, "0123456789.") == strlen(buf)) {
		return -1; /* meant as an address, but is not one */
	} else {
		return 1; /* a host name */
	}
	prefix = maxprefix;
	if (slash &&
	    (config_parse_u32(slash, &prefix) < 0 || prefix > maxprefix))
		return -1;
	r->match = MATCH_CIDR;
	r->prefix = prefix;
	return 0;
}

static int add_rule(struct export_conf *ex, const struct client_rule *r)
{
	struct client_rule *n;

	n = realloc(ex->rules, (ex->nrules + 1) * sizeof(*n));
	if (!n)
		return -1;
	ex->rules = n;
	ex->rules[ex->nrules++] = *r;
	return 0;
}

/* A host name becomes one rule per address it resolves to, now. */
static int add_host_rules(struct export_conf *ex, struct client_rule *tmpl,
			  const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	unsigned first = ex->nrules, i;
	struct client_rule r;
	bool dup;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		r = *tmpl;
		r.match = MATCH_HOST;
		r.family = ai->ai_family;
		if (ai->ai_family == AF_INET) {
			memcpy(r.addr,
			       &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
			r.prefix = 32;
		} else if (ai->ai_family == AF_INET6) {
			memcpy(r.addr,
			       &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
			       16);
			r.prefix = 128;
		} else {
			continue;
		}
		dup = false;
		for (i = first; i < ex->nrules; i++)
			if (ex->rules[i].family == r.family &&
			    memcmp(ex->rules[i].addr, r.addr, 16) == 0)
				dup = true;
		if (dup)
			continue;
		r.host = strdup(host);
		/* each rule owns its strings: config_free() frees them */
		r.private_upper = tmpl->private_upper ?
				  strdup(tmpl->private_upper) : NULL;
		if (!r.host || (tmpl->private_upper && !r.private_upper) ||
		    add_rule(ex, &r) < 0) {
			free(r.host);
			free(r.private_upper);
			break;
		}
	}
	freeaddrinfo(res);
	return ex->nrules > first ? 0 : -1;
}

/* One "HOST(opts)" item.  Returns the number of errors. */
static int parse_client(struct export_conf *ex, const char *item,
			const char *where, unsigned line, FILE *errf)
{
	char *s = strdup(item), *host, *opts, *opt, *save = NULL;
	struct client_rule r;
	int errors = 0, rc;

	if (!s)
		return 1;
	host = s;
	opts = strchr(s, '(');
	if (opts) {
		size_t n = strlen(opts);

		if (opts[n - 1] != ')' || strchr(opts + 1, '(')) {
			conf_err(errf, where, line, "bad client \"%s\"", item);
			free(s);
			return 1;
		}
		*opts++ = '\0';
		opts[n - 2] = '\0';
	}
	rule_defaults(&r, line);
	for (opt = opts ? strtok_r(opts, ",", &save) : NULL; opt;
	     opt = strtok_r(NULL, ",", &save)) {
		if (rule_option(&r, opt) < 0) {
			conf_err(errf, where, line, "bad client option \"%s\"%s",
				 opt, strncmp(opt, "private_upper=", 14) ? "" :
				 " (one absolute directory)");
			errors++;
		}
	}
	/* a private upper layer is there to be written */
	if (r.private_upper && !r.rw) {
		conf_err(errf, where, line, "private_upper= in \"%s\" needs rw",
			 item);
		errors++;
	}
	if (*host == '\0') {
		conf_err(errf, where, line, "missing host in \"%s\"", item);
		errors++;
	} else if (strcmp(host, "*") == 0) {
		r.match = MATCH_ANY;
	} else if ((rc = parse_cidr(&r, host)) < 0) {
		conf_err(errf, where, line, "bad address \"%s\"", host);
		errors++;
	} else if (rc > 0) {
		if (!errors && add_host_rules(ex, &r, host) < 0) {
			conf_err(errf, where, line,
				 "cannot resolve host \"%s\"", host);
			errors++;
		}
		free(r.private_upper); /* the rules made have their copies */
		free(s);
		return errors;
	}
	if (!errors && add_rule(ex, &r) < 0) {
		conf_err(errf, where, line, "out of memory");
		errors++;
	}
	if (errors)
		free(r.private_upper);
	free(s);
	return errors;
}

int config_parse_clients(struct export_conf *ex, const char *spec,
			 const char *where, unsigned line, FILE *errf)
{
	char *s = strdup(spec), *item, *save = NULL;
	int errors = 0, nitems = 0;

	if (!s)
		return 1;
	for (item = strtok_r(s, " \t", &save); item;
	     item = strtok_r(NULL, " \t", &save)) {
		errors += parse_client(ex, item, where, line, errf);
		nitems++;
	}
	if (nitems == 0) {
		conf_err(errf, where, line, "missing client");
		errors++;
	}
	free(s);
	return errors;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

const struct client_rule *config_match_client(const struct export_conf *ex,
					      const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *addr;
	int family = sa->sa_family;
	unsigned i;

	if (family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)
			       ->sin_addr;
	} else if (family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		/* A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d;
		 * rules written for IPv4 must still match them. */
		if (memcmp(addr, v4mapped, 12) == 0) {
			addr += 12;
			family = AF_INET;
		}
	} else {
		return NULL;
	}
	for (i = 0; i < ex->nrules; i++) {
		const struct client_rule *r = &ex->rules[i];

		if (r->match == MATCH_ANY)
			return r;
		if (r->family == family && prefix_match(r->addr, addr, r->prefix))
			return r;
	}
	return NULL;
}

/* ---- listen address --------------------------------------------------- */

int config_parse_listen(struct config *cfg, const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *portstr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg->listen;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg->listen;
	uint32_t port;
	size_t hlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		hlen = (size_t)(close - s - 1);
		if (hlen >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		portstr = close + 2;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host) || memchr(s, ':', hlen))
			return -1;
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		portstr = colon + 1;
	} else {
		strcpy(host, "*");
		portstr = s;
	}
	if (config_parse_u32(portstr, &port) < 0 || port > 65535)
		return -1;

	memset(&cfg->listen, 0, sizeof(cfg->listen));
	if (strcmp(host, "*") == 0 || host[0] == '\0') {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		cfg->listen_len = sizeof(*sin6);
		return 0;
	} else {
		return -1;
	}
	sin->sin_port = htons((uint16_t)port);
	cfg->listen_len = sizeof(*sin);
	return 0;
}

/* ---- lexer ------------------------------------------------------------ */

enum tok_type { T_WORD, T_LBRACE, T_RBRACE, T_EOL, T_EOF };

struct token {
	enum tok_type type;
	char *text; /* T_WORD: malloc'd */
	unsigned line;
};

struct parser {
	const char *path;
	FILE *errf;
	const char *p;
	unsigned line;
	int errors;
	struct token peeked;
	bool have_peeked;
	struct config *cfg;
	unsigned rpcbind_line, portmap_line; /* where they were set, or 0 */
	unsigned tls_line; /* the last tls-* keyword */
};

#define perr(ps, line, ...)                                                    \
	do {                                                                   \
		conf_err((ps)->errf, (ps)->path, (line), __VA_ARGS__);         \
		(ps)->errors++;                                                \
	} while (0)

static char *lex_quoted(struct parser *ps)
{
	size_t cap = 64, n = 0;
	char *s = malloc(cap), *t;

	if (!s)
		return NULL;
	ps->p++; /* opening quote */
	while (*ps->p != '"') {
		if (*ps->p == '\0' || *ps->p == '\n') {
			perr(ps, ps->line, "unterminated string");
			break;
		}
		if (*ps->p == '\\' && (ps->p[1] == '"' || ps->p[1] == '\\'))
			ps->p++;
		if (n + 1 >= cap) {
			t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
		}
		s[n++] = *ps->p++;
	}
	if (*ps->p == '"')
		ps->p++;
	s[n] = '\0';
	return s;
}

static struct token lex(struct parser *ps)
{
	struct token t = { T_EOF, NULL, ps->line };
	const char *start;

	for (;;) {
		while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')
			ps->p++;
		if (*ps->p == '#') {
			while (*ps->p && *ps->p != '\n')
				ps->p++;
		}
		/* A backslash at the end of a line continues it. */
		if (ps->p[0] == '\\' && ps->p[1] == '\n') {
			ps->p += 2;
			ps->line++;
			continue;
		}
		break;
	}
	t.line = ps->line;
	switch (*ps->p) {
	case '\0':
		return t;
	case '\n':
		ps->p++;
		ps->line++;
		t.type = T_EOL;
		return t;
	case '{':
		ps->p++;
		t.type = T_LBRACE;
		return t;
	case '}':
		ps->p++;
		t.type = T_RBRACE;
		return t;
	case '"':
		t.type = T_WORD;
		t.text = lex_quoted(ps);
		return t;
	}
	start = ps->p;
	while (*ps->p && !strchr(" \t\r\n#{}\"", *ps->p))
		ps->p++;
	t.type = T_WORD;
	t.text = strndup(start, (size_t)(ps->p - start));
	return t;
}

static struct token next(struct parser *ps)
{
	if (ps->have_peeked) {
		ps->have_peeked = false;
		return ps->peeked;
	}
	return lex(ps);
}

static void push_back(struct parser *ps, struct token t)
{
	ps->peeked = t;
	ps->have_peeked = true;
}

/* One statement: its words, ended by a newline, a brace or the end. */
#define MAX_WORDS (UN_MAX_LOWER + 2)
struct stmt {
	char *w[MAX_WORDS];
	unsigned n;
	unsigned line;
	enum tok_type end;
};

static void stmt_free(struct stmt *st)
{
	unsigned i;

	for (i = 0; i < st->n; i++)
		free(st->w[i]);
	st->n = 0;
}

static void read_stmt(struct parser *ps, struct stmt *st)
{
	struct token t;
	bool too_many = false;

	st->n = 0;
	st->line = 0;
	for (;;) {
		t = next(ps);
		if (!st->line)
			st->line = t.line;
		if (t.type != T_WORD) {
			st->end = t.type;
			break;
		}
		if (!t.text) {
			perr(ps, t.line, "out of memory");
			continue;
		}
		if (st->n == MAX_WORDS) {
			if (!too_many)
				perr(ps, t.line, "too many values for \"%s\"",
				     st->w[0]);
			too_many = true;
			free(t.text);
			continue;
		}
		st->w[st->n++] = t.text;
	}
}

/* Skip to the brace that closes a block (after an error). */
static void skip_block(struct parser *ps)
{
	unsigned depth = 1;
	struct token t;

	while (depth > 0) {
		t = next(ps);
		free(t.text);
		if (t.type == T_EOF)
			return;
		if (t.type == T_LBRACE)
			depth++;
		else if (t.type == T_RBRACE)
			depth--;
	}
}

/* ---- statements ------------------------------------------------------- */

static bool want_args(struct parser *ps, const struct stmt *st, unsigned min,
		      unsigned max)
{
	if (st->n - 1 < min) {
		perr(ps, st->line, "missing value for \"%s\"", st->w[0]);
		return false;
	}
	if (st->n - 1 > max) {
		perr(ps, st->line, "too many values for \"%s\"", st->w[0]);
		return false;
	}
	return true;
}

static bool get_number(struct parser *ps, const struct stmt *st, uint32_t min,
		       uint32_t max, uint32_t *out)
{
	uint32_t v;

	if (!want_args(ps, st, 1, 1))
		return false;
	if (config_parse_u32(st->w[1], &v) < 0) {
		perr(ps, st->line, "bad number \"%s\" for \"%s\"", st->w[1],
		     st->w[0]);
		return false;
	}
	if (v < min || v > max) {
		perr(ps, st->line, "\"%s\" must be between %u and %u",
		     st->w[0], min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_bool(struct parser *ps, const struct stmt *st, bool *out)
{
	if (!want_args(ps, st, 1, 1))
		return false;
	if (strcmp(st->w[1], "yes") == 0)
		*out = true;
	else if (strcmp(st->w[1], "no") == 0)
		*out = false;
	else {
		perr(ps, st->line, "bad value \"%s\" for \"%s\" (yes or no)",
		     st->w[1], st->w[0]);
		return false;
	}
	return true;
}

/* A string setting given once: the second one is an error. */
static void set_string(struct parser *ps, const struct stmt *st, char **dst)
{
	if (!want_args(ps, st, 1, 1))
		return;
	if (*dst) {
		perr(ps, st->line, "\"%s\" given twice", st->w[0]);
		return;
	}
	*dst = strdup(st->w[1]);
}

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

/* A PEM file for RPC-with-TLS: say now if it cannot be read (its
 * contents are checked when the daemon starts). */
static void set_tls_file(struct parser *ps, const struct stmt *st, char **dst)
{
	bool was_set = *dst != NULL;

	set_string(ps, st, dst);
	ps->tls_line = st->line;
	if (!was_set && *dst && access(*dst, R_OK) < 0)
		perr(ps, st->line, "\"%s\" \"%s\": %s", st->w[0], *dst,
		     strerror(errno));
}

static void top_statement(struct parser *ps, const struct stmt *st)
{
	struct config *cfg = ps->cfg;
	const char *kw = st->w[0];
	uint32_t v;
	size_t i;

	if (strcmp(kw, "listen") == 0) {
		if (want_args(ps, st, 1, 1) &&
		    config_parse_listen(cfg, st->w[1]) < 0)
			perr(ps, st->line, "bad address \"%s\"", st->w[1]);
	} else if (strcmp(kw, "catalog") == 0) {
		set_string(ps, st, &cfg->catalog);
	} else if (strcmp(kw, "pidfile") == 0) {
		set_string(ps, st, &cfg->pidfile);
	} else if (strcmp(kw, "workers") == 0) {
		if (get_number(ps, st, 1, 1024, &v))
			cfg->workers = v;
	} else if (strcmp(kw, "max-record") == 0) {
		if (get_number(ps, st, 8192, 64u << 20, &v))
			cfg->max_record = v;
	} else if (strcmp(kw, "max-connections") == 0) {
		if (get_number(ps, st, 1, 1000000, &v))
			cfg->max_connections = v;
	} else if (strcmp(kw, "max-buffered") == 0) {
		if (get_number(ps, st, 8, 1u << 20, &v))
			cfg->max_buffered = v;
	} else if (strcmp(kw, "idle-timeout") == 0) {
		if (get_number(ps, st, 0, 86400 * 7, &v))
			cfg->idle_timeout = v;
	} else if (strcmp(kw, "view-idle-timeout") == 0) {
		if (get_number(ps, st, 0, 86400 * 7, &v))
			cfg->view_idle = v;
	} else if (strcmp(kw, "udp") == 0) {
		get_bool(ps, st, &cfg->udp);
	} else if (strcmp(kw, "rpcbind") == 0) {
		if (get_bool(ps, st, &cfg->rpcbind))
			ps->rpcbind_line = st->line;
	} else if (strcmp(kw, "portmap") == 0) {
		if (get_bool(ps, st, &cfg->portmap))
			ps->portmap_line = st->line;
	} else if (strcmp(kw, "portmap-port") == 0) {
		if (get_number(ps, st, 1, 65535, &v))
			cfg->portmap_port = (uint16_t)v;
	} else if (strcmp(kw, "control") == 0) {
		set_string(ps, st, &cfg->control);
	} else if (strcmp(kw, "metrics") == 0) {
		set_string(ps, st, &cfg->metrics);
		if (st->n == 2 && metrics_parse_addr(st->w[1], NULL, NULL) < 0)
			perr(ps, st->line, "bad metrics address \"%s\" "
			     "(ADDR:PORT or PORT)", st->w[1]);
	} else if (strcmp(kw, "grace") == 0) {
		if (get_number(ps, st, 0, 3600, &v))
			cfg->grace = v;
	} else if (strcmp(kw, "lease-time") == 0) {
		if (get_number(ps, st, 1, 3600, &v))
			cfg->lease_time = v;
	} else if (strcmp(kw, "idmap-numeric") == 0) {
		get_bool(ps, st, &cfg->idmap_numeric);
	} else if (strcmp(kw, "idmap-domain") == 0) {
		set_string(ps, st, &cfg->idmap_domain);
		if (st->n == 2 && (!st->w[1][0] || strchr(st->w[1], '@')))
			perr(ps, st->line, "bad id-mapping domain \"%s\"",
			     st->w[1]);
	} else if (strcmp(kw, "krb5-keytab") == 0) {
		set_string(ps, st, &cfg->krb5_keytab);
		/* Found now rather than at the first client's context. */
		if (st->n == 2 && access(st->w[1], R_OK) < 0)
			perr(ps, st->line, "krb5-keytab \"%s\": %s", st->w[1],
			     strerror(errno));
	} else if (strcmp(kw, "krb5-principal") == 0) {
		set_string(ps, st, &cfg->krb5_principal);
	} else if (strcmp(kw, "krb5-map") == 0) {
		set_string(ps, st, &cfg->krb5_map);
	} else if (strcmp(kw, "tls-certificate") == 0) {
		set_tls_file(ps, st, &cfg->tls_cert);
	} else if (strcmp(kw, "tls-key") == 0) {
		set_tls_file(ps, st, &cfg->tls_key);
	} else if (strcmp(kw, "tls-ca") == 0) {
		set_tls_file(ps, st, &cfg->tls_ca);
	} else if (strcmp(kw, "log-level") == 0) {
		if (!want_args(ps, st, 1, 1))
			return;
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
			if (strcmp(st->w[1], log_levels[i].name) == 0)
				break;
		if (i == sizeof(log_levels) / sizeof(log_levels[0]))
			perr(ps, st->line, "bad log level \"%s\"", st->w[1]);
		else
			cfg->log_level = log_levels[i].level;
	} else {
		perr(ps, st->line, "unknown keyword \"%s\"", kw);
	}
}

static void export_lower(struct parser *ps, struct export_conf *ex,
			 const struct stmt *st)
{
	unsigned i;

	if (!want_args(ps, st, 1, UN_MAX_LOWER))
		return;
	if (ex->u.nlower) {
		perr(ps, st->line, "\"lower\" given twice");
		return;
	}
	for (i = 1; i < st->n; i++)
		ex->u.lower[ex->u.nlower++] = strdup(st->w[i]);
}

static void export_versions(struct parser *ps, struct export_conf *ex,
			    const struct stmt *st)
{
	unsigned i, v = 0;

	if (!want_args(ps, st, 1, 2))
		return;
	for (i = 1; i < st->n; i++) {
		if (strcmp(st->w[i], "3") == 0)
			v |= VERS_NFS3;
		else if (strcmp(st->w[i], "4") == 0)
			v |= VERS_NFS4;
		else {
			perr(ps, st->line, "bad version \"%s\" (3 or 4)",
			     st->w[i]);
			return;
		}
	}
	ex->versions = v;
}

static void export_statement(struct parser *ps, struct export_conf *ex,
			     const struct stmt *st)
{
	const char *kw = st->w[0];
	unsigned i;

	if (strcmp(kw, "lower") == 0) {
		export_lower(ps, ex, st);
	} else if (strcmp(kw, "upper") == 0) {
		set_string(ps, st, (char **)&ex->u.upper);
	} else if (strcmp(kw, "work") == 0) {
		set_string(ps, st, (char **)&ex->u.work);
	} else if (strcmp(kw, "userxattr") == 0) {
		get_bool(ps, st, &ex->u.userxattr);
	} else if (strcmp(kw, "redirect-dir") == 0) {
		bool on;

		if (get_bool(ps, st, &on))
			ex->u.redirect_dir_off = !on;
	} else if (strcmp(kw, "metacopy") == 0) {
		get_bool(ps, st, &ex->u.metacopy);
	} else if (strcmp(kw, "versions") == 0) {
		export_versions(ps, ex, st);
	} else if (strcmp(kw, "clients") == 0) {
		if (!want_args(ps, st, 1, MAX_WORDS))
			return;
		for (i = 1; i < st->n; i++)
			ps->errors += config_parse_clients(ex, st->w[i],
							   ps->path, st->line,
							   ps->errf);
	} else {
		perr(ps, st->line, "unknown keyword \"%s\"", kw);
	}
}

/* What an export needs, whether from a file or the command line. */
static int check_export(const struct export_conf *ex, const char *where,
			FILE *errf, bool need_rules)
{
	const char *name = ex->u.name;
	int errors = 0;

	if (name[0] != '/') {
		conf_err(errf, where, ex->line,
			 "export name \"%s\" must start with \"/\"", name);
		errors++;
	}
	if (ex->u.nlower == 0) {
		conf_err(errf, where, ex->line,
			 "export \"%s\" has no lower layer", name);
		errors++;
	}
	if (ex->u.upper && !ex->u.work) {
		conf_err(errf, where, ex->line,
			 "export \"%s\": upper without work", name);
		errors++;
	}
	if (ex->u.work && !ex->u.upper) {
		conf_err(errf, where, ex->line,
			 "export \"%s\": work without upper", name);
		errors++;
	}
	if (need_rules && ex->nrules == 0) {
		conf_err(errf, where, ex->line, "export \"%s\" has no clients",
			 name);
		errors++;
	}
	return errors;
}

static struct export_conf *find_export(struct config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nexports; i++)
		if (strcmp(cfg->exports[i].u.name, name) == 0)
			return &cfg->exports[i];
	return NULL;
}

static void parse_export(struct parser *ps, struct stmt *st)
{
	struct export_conf ex = { .versions = VERS_NFS3 | VERS_NFS4 };
	struct export_conf *dup, *n;
	struct stmt inner;
	struct token t;
	bool closed = false, had_clients = false;

	if (!want_args(ps, st, 1, 1)) {
		if (st->end == T_LBRACE)
			skip_block(ps);
		return;
	}
	/* The brace may be on the next line. */
	while (st->end == T_EOL && (t = next(ps)).type == T_EOL)
		;
	if (st->end == T_EOL && t.type == T_LBRACE)
		st->end = T_LBRACE;
	else if (st->end == T_EOL)
		push_back(ps, t);
	if (st->end != T_LBRACE) {
		perr(ps, st->line, "missing \"{\" after export \"%s\"",
		     st->w[1]);
		return;
	}
	ex.u.name = strdup(st->w[1]);
	ex.line = st->line;
	while (!closed) {
		read_stmt(ps, &inner);
		if (inner.n > 0 && strcmp(inner.w[0], "clients") == 0)
			had_clients = true;
		if (inner.n > 0)
			export_statement(ps, &ex, &inner);
		stmt_free(&inner);
		if (inner.end == T_RBRACE)
			closed = true;
		else if (inner.end == T_LBRACE) {
			perr(ps, inner.line, "unexpected \"{\"");
			skip_block(ps);
		} else if (inner.end == T_EOF) {
			perr(ps, ex.line, "missing \"}\" for export \"%s\"",
			     ex.u.name);
			break;
		}
	}
	if (!ex.u.name) {
		perr(ps, st->line, "out of memory");
		export_conf_free(&ex);
		return;
	}
	dup = find_export(ps->cfg, ex.u.name);
	if (dup) {
		perr(ps, ex.line,
		     "duplicate export \"%s\" (first defined at line %u)",
		     ex.u.name, dup->line);
		export_conf_free(&ex);
		return;
	}
	/* A clients line with errors was reported already. */
	ps->errors += check_export(&ex, ps->path, ps->errf, !had_clients);
	n = realloc(ps->cfg->exports,
		    (ps->cfg->nexports + 1) * sizeof(*n));
	if (!n) {
		perr(ps, ex.line, "out of memory");
		export_conf_free(&ex);
		return;
	}
	ps->cfg->exports = n;
	n[ps->cfg->nexports++] = ex;
}

static void parse_top(struct parser *ps)
{
	struct stmt st;

	for (;;) {
		read_stmt(ps, &st);
		if (st.n == 0) {
			if (st.end == T_EOF)
				return;
			if (st.end == T_RBRACE)
				perr(ps, st.line, "unexpected \"}\"");
			if (st.end == T_LBRACE) {
				perr(ps, st.line, "unexpected \"{\"");
				skip_block(ps);
			}
			continue;
		}
		if (strcmp(st.w[0], "export") == 0) {
			parse_export(ps, &st);
		} else {
			top_statement(ps, &st);
			if (st.end == T_LBRACE) {
				perr(ps, st.line, "unexpected \"{\"");
				skip_block(ps);
			} else if (st.end == T_RBRACE) {
				perr(ps, st.line, "unexpected \"}\"");
			}
		}
		stmt_free(&st);
		if (st.end == T_EOF)
			return;
	}
}

static char *read_file(const char *path, FILE *errf)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f) {
		conf_err(errf, path, 0, "%s", strerror(errno));
		return NULL;
	}
	do {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? 2 * cap : 8192);

			if (!nb) {
				free(buf);
				fclose(f);
				conf_err(errf, path, 0, "out of memory");
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		conf_err(errf, path, 0, "read error");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (strlen(buf) != n) {
		conf_err(errf, path, 0, "NUL byte in configuration");
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * With "portmap yes" we are the host's portmapper, so there is no other
 * rpcbind to register with: that is implied, and asking for both is a
 * contradiction (two servers cannot own port 111).
 */
static void portmap_or_rpcbind(struct parser *ps)
{
	if (!ps->cfg->portmap)
		return;
	if (ps->cfg->rpcbind && ps->rpcbind_line)
		perr(ps, ps->portmap_line,
		     "\"portmap yes\" makes unionnfsd the portmapper; it "
		     "cannot also register with rpcbind (\"rpcbind yes\" at "
		     "line %u)",
		     ps->rpcbind_line);
	ps->cfg->rpcbind = false;
}

/* A key is useless without its certificate, and the reverse. */
static void tls_files(struct parser *ps)
{
	const struct config *cfg = ps->cfg;

	if (!ps->tls_line)
		return;
	if (!cfg->tls_cert || !cfg->tls_key)
		perr(ps, ps->tls_line,
		     "RPC-with-TLS needs both \"tls-certificate\" and "
		     "\"tls-key\"");
}

int config_parse_file(struct config *cfg, const char *path, FILE *errf)
{
	struct parser ps = { .path = path, .errf = errf, .line = 1, .cfg = cfg };
	char *text = read_file(path, errf);

	if (!text)
		return 1;
	free(cfg->file);
	cfg->file = strdup(path);
	ps.p = text;
	parse_top(&ps);
	free(text);
	portmap_or_rpcbind(&ps);
	tls_files(&ps);
	/* Its errors are the mapping file's own "FILE:LINE: ...". */
	if (cfg->krb5_map)
		ps.errors += gss_map_load(cfg, errf);
	return ps.errors;
}

/* ---- validation ------------------------------------------------------- */

static int check_dir(const char *dir, const char *what,
		     const struct export_conf *ex, const char *where,
		     FILE *errf, struct stat *st)
{
	if (stat(dir, st) < 0) {
		conf_err(errf, where, ex->line, "export \"%s\": %s \"%s\": %s",
			 ex->u.name, what, dir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st->st_mode)) {
		conf_err(errf, where, ex->line,
			 "export \"%s\": %s \"%s\" is not a directory",
			 ex->u.name, what, dir);
		return 1;
	}
	return 0;
}

static int validate_layers(const struct export_conf *ex, const char *where,
			   FILE *errf)
{
	struct stat st, ust, wst;
	int errors = 0, uerr = 1, werr = 1;
	unsigned i;

	for (i = 0; i < ex->u.nlower; i++)
		errors += check_dir(ex->u.lower[i], "lower", ex, where, errf,
				    &st);
	if (ex->u.upper)
		errors += uerr = check_dir(ex->u.upper, "upper", ex, where,
					   errf, &ust);
	if (ex->u.work)
		errors += werr = check_dir(ex->u.work, "work", ex, where, errf,
					   &wst);
	if (uerr || werr)
		return errors;
	/* overlayfs renames between work and upper: same file system. */
	if (ust.st_dev != wst.st_dev) {
		conf_err(errf, where, ex->line,
			 "export \"%s\": work \"%s\" is not on the same file "
			 "system as upper \"%s\"",
			 ex->u.name, ex->u.work, ex->u.upper);
		errors++;
	} else if (ust.st_ino == wst.st_ino) {
		conf_err(errf, where, ex->line,
			 "export \"%s\": work and upper are the same directory",
			 ex->u.name);
		errors++;
	}
	return errors;
}

/*
 * A rule that refuses plaintext while the daemon has no certificate, or
 * accepts only client certificates while it has no CA to check them
 * with, would lock everybody out without a word: say so now.
 */
static int validate_xprtsec(const struct config *cfg,
			    const struct export_conf *ex, const char *where,
			    FILE *errf)
{
	int errors = 0;
	unsigned i;

	for (i = 0; i < ex->nrules; i++) {
		const struct client_rule *r = &ex->rules[i];

		if (!(r->xprtsec & XPRTSEC_NONE) && !cfg->tls_cert) {
			conf_err(errf, where, r->line ? r->line : ex->line,
				 "export \"%s\": xprtsec= without \"none\" "
				 "needs \"tls-certificate\" and \"tls-key\"",
				 ex->u.name);
			errors++;
		} else if (r->xprtsec == XPRTSEC_MTLS && !cfg->tls_ca) {
			conf_err(errf, where, r->line ? r->line : ex->line,
				 "export \"%s\": xprtsec=mtls needs \"tls-ca\" "
				 "to verify client certificates",
				 ex->u.name);
			errors++;
		}
	}
	return errors;
}

/*
 * private_upper=DIR must exist now: its per-client directories are made
 * on first use, when nobody is there to read a complaint but the log.
 */
static int validate_private_upper(const struct export_conf *ex,
				  const char *where, FILE *errf)
{
	struct stat st;
	int errors = 0;
	unsigned i;

	for (i = 0; i < ex->nrules; i++) {
		const char *dir = ex->rules[i].private_upper;
		unsigned line = ex->rules[i].line ? ex->rules[i].line : ex->line;

		if (!dir)
			continue;
		if (stat(dir, &st) < 0) {
			conf_err(errf, where, line,
				 "export \"%s\": private_upper \"%s\": %s",
				 ex->u.name, dir, strerror(errno));
			errors++;
		} else if (!S_ISDIR(st.st_mode)) {
			conf_err(errf, where, line,
				 "export \"%s\": private_upper \"%s\" is not "
				 "a directory", ex->u.name, dir);
			errors++;
		}
	}
	return errors;
}

int config_validate(const struct config *cfg, FILE *errf)
{
	const char *where = cfg->file ? cfg->file : "command line";
	int errors = 0;
	unsigned i, j;

	if (cfg->nexports == 0) {
		conf_err(errf, where, 0, "no exports defined");
		errors++;
	}
	for (i = 0; i < cfg->nexports; i++) {
		const struct export_conf *ex = &cfg->exports[i];

		for (j = 0; j < i; j++)
			if (strcmp(cfg->exports[j].u.name, ex->u.name) == 0) {
				conf_err(errf, where, ex->line,
					 "duplicate export \"%s\"",
					 ex->u.name);
				errors++;
			}
		/* The parser has checked the exports of a file already. */
		if (ex->line == 0)
			errors += check_export(ex, where, errf, true);
		errors += validate_layers(ex, where, errf);
		errors += validate_xprtsec(cfg, ex, where, errf);
		errors += validate_private_upper(ex, where, errf);
	}
	return errors;
}
