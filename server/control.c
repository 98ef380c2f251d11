/*
 * control.c - the control socket that unionnfsctl(8) talks to.
 *
 * A unix stream socket, mode 0600, on the transport's event loop.  Only
 * root (and the daemon's own user) may connect: the peer's uid is taken
 * from SO_PEERCRED, not from anything it says.  The protocol is text:
 * one command per line; the reply is zero or more lines and then a last
 * line that is exactly "ok" or starts with "error: " (no other line of a
 * reply is either).  Names from the file system are escaped (\xNN) so a
 * file name cannot forge reply lines.
 *
 * The loop thread only reads lines and writes replies.  Every command
 * runs on a worker, since most touch the catalog or the layers, and even
 * the others need the server lock that a reload holds.  A connection runs
 * one command at a time; it is reference counted (open + command in
 * flight) like a client connection, so a reply finishing after its
 * reader left touches no freed memory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "server.h"
#include "stats.h"

#define CTL_MAX_LINE 8192
#define CTL_MAX_CONNS 16

struct control {
	struct server *srv;
	struct evconnlistener *listener;
	char *path;
	dev_t dev;
	ino_t ino;
	struct ctl_conn *conns;
	unsigned nconns;
};

struct ctl_conn {
	struct control *ctl;
	struct bufferevent *bev;
	struct ctl_conn *prev, *next; /* loop thread only */
	int refs;		      /* atomic */
	uid_t uid;
	bool closed, busy;	      /* under the bufferevent lock */
	char *line;		      /* the command being run */
};

/* ---- output helpers ---------------------------------------------------- */

/* Bytes from the file system or a client: printable ASCII as is. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf,
			    size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&s6->sin6_addr
						  : (const void *)&s4->sin_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static const char *export_name(struct server *srv, uint32_t id)
{
	unsigned i;

	if (id == STATS_NO_EXPORT)
		return "-";
	for (i = 0; i < srv->nexports; i++)
		if (srv->exports[i].id == id)
			return srv->exports[i].conf->u.name;
	return "(closed)";
}

static const char *type_name(enum un_type t)
{
	static const char *const names[] = {
		[UN_REG] = "file", [UN_DIR] = "directory",
		[UN_BLK] = "block-device", [UN_CHR] = "char-device",
		[UN_LNK] = "symlink", [UN_SOCK] = "socket", [UN_FIFO] = "fifo",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) && names[t]
		       ? names[t]
		       : "unknown";
}

/* ---- exports ----------------------------------------------------------- */

static void put_rule(FILE *f, const struct client_rule *r)
{
	static const char *const squash[] = {
		[SQUASH_ROOT] = "root_squash",
		[SQUASH_NONE] = "no_root_squash",
		[SQUASH_ALL] = "all_squash",
	};
	char a[INET6_ADDRSTRLEN];

	if (r->match == MATCH_ANY)
		fputs("*", f);
	else if (r->match == MATCH_HOST && r->host)
		put_escaped(f, r->host);
	else if (inet_ntop(r->family, r->addr, a, sizeof(a)))
		fprintf(f, "%s/%u", a, r->prefix);
	fprintf(f, "(%s,%s%s", r->rw ? "rw" : "ro", squash[r->squash],
		r->secure ? ",secure" : "");
	if (r->anonuid != 65534 || r->anongid != 65534)
		fprintf(f, ",anonuid=%u,anongid=%u", r->anonuid, r->anongid);
	fputs(")", f);
}

static void put_export(FILE *f, const struct srv_export *ex,
		       const struct stats_snapshot *snap)
{
	const struct un_export_conf *u = &ex->conf->u;
	struct un_stats us;
	unsigned i;

	un_stats(ex->ux, &us);
	fputs("export ", f);
	put_escaped(f, u->name);
	fprintf(f, " id %u rpc %llu copyups %llu copyups-active %u%s\n",
		ex->id,
		ex->id < STATS_MAX_EXPORT_ID
			? (unsigned long long)snap->export_calls[ex->id]
			: 0ULL,
		(unsigned long long)us.copyups, us.copyups_active,
		u->upper ? "" : " read-only");
	if (u->upper) {
		fputs("  upper ", f);
		put_escaped(f, u->upper);
		fputs("\n  work ", f);
		put_escaped(f, u->work);
		fputs("\n", f);
	}
	for (i = 0; i < u->nlower; i++) {
		fprintf(f, "  lower %u ", i);
		put_escaped(f, u->lower[i]);
		fputs("\n", f);
	}
	fputs("  clients", f);
	for (i = 0; i < ex->conf->nrules; i++) {
		fputs(" ", f);
		put_rule(f, &ex->conf->rules[i]);
	}
	fputs("\n", f);
}

static int cmd_exports(struct server *srv, const char *arg, FILE *f)
{
	struct stats_snapshot snap;
	unsigned i;

	if (stats_snapshot(&snap) < 0)
		return -ENOMEM;
	pthread_rwlock_rdlock(&srv->lock);
	for (i = 0; i < srv->nexports; i++)
		put_export(f, &srv->exports[i], &snap);
	pthread_rwlock_unlock(&srv->lock);
	stats_snapshot_free(&snap);
	return 0;
}

/* ---- clients ----------------------------------------------------------- */

static int cmd_clients(struct server *srv, const char *arg, FILE *f)
{
	struct stats_snapshot snap;
	time_t now = time(NULL);
	char a[INET6_ADDRSTRLEN];
	size_t i;

	if (stats_snapshot(&snap) < 0)
		return -ENOMEM;
	pthread_rwlock_rdlock(&srv->lock);
	for (i = 0; i < snap.nclients; i++) {
		const struct stats_client *c = &snap.clients[i];
		struct tm tm;
		char when[32] = "?";
		time_t t = (time_t)c->last_seen;

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
				 &tm);
		fprintf(f, "client %s export ",
			addr_str(&c->addr, a, sizeof(a)));
		put_escaped(f, export_name(srv, c->export_id));
		fprintf(f, " requests %llu last-seen %s (%llds ago)\n",
			(unsigned long long)c->requests, when,
			(long long)(now - t));
	}
	pthread_rwlock_unlock(&srv->lock);
	stats_snapshot_free(&snap);
	return 0;
}

/* ---- stats ------------------------------------------------------------- */

static void put_procs(FILE *f, const struct stats_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nprocs; i++) {
		const struct stats_proc *p = &s->procs[i];

		if (!p->calls)
			continue;
		if (p->name)
			fprintf(f, "proc %s%u %s", p->program, p->vers,
				p->name);
		else
			fputs("proc other -", f);
		fprintf(f, " calls %llu mean-us %llu p50-us %llu p90-us %llu "
			   "p99-us %llu\n",
			(unsigned long long)p->calls,
			(unsigned long long)(p->sum_ns / p->calls / 1000),
			(unsigned long long)(stats_percentile(p, 0.50) / 1000),
			(unsigned long long)(stats_percentile(p, 0.90) / 1000),
			(unsigned long long)(stats_percentile(p, 0.99) / 1000));
	}
}

static void put_statuses(FILE *f, const struct stats_snapshot *s)
{
	unsigned v, i;

	for (i = 0; i < STATS_NACCEPT; i++)
		if (s->accept[i])
			fprintf(f, "replies %s %llu\n", stats_accept_names[i],
				(unsigned long long)s->accept[i]);
	for (v = 0; v < 2; v++)
		for (i = 0; i < STATS_NSTATUS; i++) {
			uint32_t code = stats_status_code(i);
			const char *name = stats_status_name(code);

			if (!s->nfsstat[v][i])
				continue;
			fprintf(f, "errors nfs%u ", v ? 4 : 3);
			if (name)
				fprintf(f, "%s", name);
			else
				fprintf(f, "%u", code);
			fprintf(f, " %llu\n",
				(unsigned long long)s->nfsstat[v][i]);
		}
}

static void put_union(struct server *srv, FILE *f)
{
	uint64_t copyups = 0, active = 0, objects = 0, bytes = 0;
	struct un_stats us;
	unsigned i;
	int rc;

	pthread_rwlock_rdlock(&srv->lock);
	for (i = 0; i < srv->nexports; i++) {
		un_stats(srv->exports[i].ux, &us);
		copyups += us.copyups;
		active += us.copyups_active;
	}
	rc = un_catalog_size(srv->cat, &objects, &bytes);
	pthread_rwlock_unlock(&srv->lock);
	fprintf(f, "copyups %llu active %llu\n", (unsigned long long)copyups,
		(unsigned long long)active);
	if (rc == 0)
		fprintf(f, "catalog objects %llu bytes %llu\n",
			(unsigned long long)objects, (unsigned long long)bytes);
	else
		fprintf(f, "catalog unavailable (%s)\n", strerror(-rc));
}

static int cmd_stats(struct server *srv, const char *arg, FILE *f)
{
	struct stats_snapshot s;

	if (stats_snapshot(&s) < 0)
		return -ENOMEM;
	fprintf(f, "uptime %llu\n",
		(unsigned long long)((uint64_t)time(NULL) - srv->boot_time));
	fprintf(f, "requests %llu\n", (unsigned long long)s.requests);
	fprintf(f, "bytes-in %llu\nbytes-out %llu\n",
		(unsigned long long)s.bytes_in,
		(unsigned long long)s.bytes_out);
	fprintf(f, "connections %llu total %llu\n",
		(unsigned long long)s.conns_open,
		(unsigned long long)s.conns_total);
	put_union(srv, f);
	if (srv->metrics)
		fprintf(f, "metrics %s\n", metrics_address(srv->metrics));
	put_statuses(f, &s);
	put_procs(f, &s);
	stats_snapshot_free(&s);
	return 0;
}

/* ---- handle, whereis --------------------------------------------------- */

static int parse_hex(const char *s, struct un_handle *fh)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 || n / 2 > UN_HANDLE_MAX)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		fh->data[i] = (uint8_t)v;
	}
	fh->len = (uint32_t)(n / 2);
	return 0;
}

static void put_where(FILE *f, const struct un_where *w)
{
	if (!w->found && !w->whiteout) {
		fputs("state absent\n", f);
		return;
	}
	fprintf(f, "state %s\n", w->found ? "visible" : "whiteout");
	if (w->found)
		fprintf(f, "fileid %llu\ntype %s\n",
			(unsigned long long)w->fileid, type_name(w->type));
	if (w->upper)
		fputs("layer upper ", f);
	else
		fprintf(f, "layer lower %u ", w->lower);
	put_escaped(f, w->layer_dir);
	fputs("\npath ", f);
	put_escaped(f, *w->path ? w->path : ".");
	fputs("\n", f);
	if (w->found && w->type == UN_DIR)
		fprintf(f, "merged %u\nopaque %s\n", w->nmerged,
			w->opaque ? "yes" : "no");
}

static const char *where_error(int rc)
{
	switch (rc) {
	case -UN_EBADHANDLE:
		return "bad handle: its integrity tag does not match "
		       "(forged or damaged)";
	case -ESTALE:
		return "stale handle: the object was removed";
	default:
		return strerror(-rc);
	}
}

static int cmd_handle(struct server *srv, const char *arg, FILE *f,
		      const char **why)
{
	struct srv_export *ex;
	struct un_handle fh = { 0 };
	struct un_where w;
	int rc;

	if (parse_hex(arg, &fh) < 0) {
		*why = "usage: handle HEX (an even number of hex digits, at "
		       "most 112)";
		return -EINVAL;
	}
	pthread_rwlock_rdlock(&srv->lock);
	ex = server_export_by_handle(srv, &fh);
	rc = ex ? un_handle_where(ex->ux, &fh, &w) : -ENOENT;
	if (!ex) {
		*why = "not a handle of any export served";
	} else if (rc < 0) {
		*why = where_error(rc);
	} else {
		fputs("export ", f);
		put_escaped(f, ex->conf->u.name);
		fputs("\n", f);
		put_where(f, &w);
	}
	pthread_rwlock_unlock(&srv->lock);
	return rc;
}

static int cmd_whereis(struct server *srv, const char *arg, FILE *f,
		       const char **why)
{
	const char *sp = strchr(arg, ' ');
	char name[UN_PATH_MAX];
	struct srv_export *ex;
	struct un_where w;
	int rc;

	if (!sp || sp == arg || (size_t)(sp - arg) >= sizeof(name)) {
		*why = "usage: whereis EXPORT PATH";
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(sp - arg), arg);
	pthread_rwlock_rdlock(&srv->lock);
	ex = server_export_by_name(srv, name);
	rc = ex ? un_whereis(ex->ux, sp + 1, &w) : -ENOENT;
	if (!ex)
		*why = "no such export";
	else if (rc < 0)
		*why = strerror(-rc);
	else
		put_where(f, &w);
	pthread_rwlock_unlock(&srv->lock);
	return rc;
}

/* ---- reload ------------------------------------------------------------ */

/*
 * The configuration is built once to report its errors (FILE:LINE) to the
 * caller, then server_reload() builds and applies it as SIGHUP does.
 */
static int cmd_reload(struct server *srv, const char *arg, FILE *f,
		      const char **why)
{
	char *text = NULL;
	size_t len = 0;
	FILE *errf;
	struct config *cfg, *before, *after;
	unsigned n;

	if (!srv->load_config || !srv->parse_config) {
		*why = "started without a configuration file; nothing to "
		       "reload";
		return -EINVAL;
	}
	if (!(errf = open_memstream(&text, &len)))
		return -ENOMEM;
	cfg = srv->parse_config(srv->load_arg, errf);
	fclose(errf);
	if (!cfg) {
		fputs(text ? text : "", f);
		free(text);
		log_notice("control: reload refused: the configuration has "
			   "errors");
		*why = "configuration has errors; the running one is kept";
		return -EINVAL;
	}
	free(text);
	config_free(cfg);
	free(cfg);
	pthread_rwlock_rdlock(&srv->lock);
	before = srv->cfg;
	pthread_rwlock_unlock(&srv->lock);
	log_notice("control: reloading configuration");
	sd_notify_reloading(); /* as for SIGHUP: systemd sees the reload */
	server_reload(srv);
	sd_notify_state("READY=1");
	pthread_rwlock_rdlock(&srv->lock);
	after = srv->cfg;
	n = srv->nexports;
	pthread_rwlock_unlock(&srv->lock);
	if (after == before) {
		*why = "reload failed; the running configuration is kept "
		       "(see the log)";
		return -EIO;
	}
	fprintf(f, "reloaded %u export%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

static int cmd_help(struct server *srv, const char *arg, FILE *f)
{
	fputs("commands: exports, clients, stats, handle HEX, "
	      "whereis EXPORT PATH, reload, help\n",
	      f);
	return 0;
}

static const struct {
	const char *name;
	bool has_arg;
	int (*fn)(struct server *srv, const char *arg, FILE *f);
	int (*fn_why)(struct server *srv, const char *arg, FILE *f,
		      const char **why);
} commands[] = {
	{ "exports", false, cmd_exports, NULL },
	{ "clients", false, cmd_clients, NULL },
	{ "stats", false, cmd_stats, NULL },
	{ "handle", true, NULL, cmd_handle },
	{ "whereis", true, NULL, cmd_whereis },
	{ "reload", false, NULL, cmd_reload },
	{ "help", false, cmd_help, NULL },
};

/* Run one command line; the reply, with its last line, goes to f. */
static void run_command(struct server *srv, char *line, FILE *f)
{
	char *arg = strchr(line, ' ');
	const char *why = NULL;
	size_t i;
	int rc;

	if (arg)
		*arg++ = '\0';
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, line) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fputs("error: unknown command \"", f);
		put_escaped(f, line);
		fputs("\" (try help)\n", f);
		return;
	}
	if (commands[i].has_arg != (arg != NULL)) {
		fprintf(f, "error: %s %s\n", commands[i].name,
			commands[i].has_arg ? "needs an argument"
					    : "takes no argument");
		return;
	}
	rc = commands[i].fn ? commands[i].fn(srv, arg, f)
			    : commands[i].fn_why(srv, arg, f, &why);
	if (rc < 0)
		fprintf(f, "error: %s\n", why ? why : strerror(-rc));
	else
		fputs("ok\n", f);
}

/* ---- connections ------------------------------------------------------- */

static void conn_put(struct ctl_conn *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	bufferevent_free(c->bev);
	free(c->line);
	free(c);
}

/* Loop thread. */
static void conn_close(struct ctl_conn *c)
{
	struct control *ctl = c->ctl;

	bufferevent_lock(c->bev);
	if (c->closed) {
		bufferevent_unlock(c->bev);
		return;
	}
	c->closed = true;
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_unlock(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nconns--;
	conn_put(c);
}

static void conn_read(struct bufferevent *bev, void *arg);

/* Worker thread: run the command, queue the reply, read the next line. */
static void conn_work(void *arg)
{
	struct ctl_conn *c = arg;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		run_command(c->ctl->srv, c->line, f);
		if (fclose(f) != 0) {
			free(text);
			text = NULL;
		}
	}
	bufferevent_lock(c->bev);
	if (!c->closed) {
		struct evbuffer *out = bufferevent_get_output(c->bev);

		if (!text || evbuffer_add(out, text, len) < 0)
			evbuffer_add_printf(out, "error: out of memory\n");
		c->busy = false;
		bufferevent_enable(c->bev, EV_READ);
		bufferevent_trigger(c->bev, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS |
					    BEV_TRIG_DEFER_CALLBACKS);
	}
	free(c->line);
	c->line = NULL;
	bufferevent_unlock(c->bev);
	free(text);
	conn_put(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	conn_close(arg);
}

static void close_when_sent(struct bufferevent *bev, void *arg)
{
	conn_close(arg);
}

/* Reply with an error and close once it is written. */
static void conn_refuse(struct ctl_conn *c, const char *why)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev), "error: %s\n",
			    why);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, close_when_sent, conn_event, c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	if (c->busy || c->closed)
		return;
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (!line) {
		if (evbuffer_get_length(in) > CTL_MAX_LINE)
			conn_refuse(c, "line too long");
		return;
	}
	if (n > CTL_MAX_LINE || memchr(line, '\0', n)) {
		free(line);
		conn_refuse(c, n > CTL_MAX_LINE ? "line too long"
						: "NUL byte in command line");
		return;
	}
	if (n == 0) { /* an empty line: nothing to do */
		free(line);
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	/* The command word only: arguments may be handles. */
	log_debug("control: uid %u: %.*s", (unsigned)c->uid,
		  (int)strcspn(line, " "), line);
	c->line = line;
	c->busy = true;
	bufferevent_disable(bev, EV_READ);
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	workers_submit(c->ctl->srv->workers, conn_work, c);
}

static bool peer_allowed(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	struct ctl_conn *c = calloc(1, sizeof(*c));
	bool allowed;

	if (c)
		c->bev = bufferevent_socket_new(
			evconnlistener_get_base(l), fd,
			BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE);
	if (!c || !c->bev) {
		log_ratelimited(LOG_ERR, "control: out of memory");
		free(c);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->refs = 1;
	c->next = ctl->conns;
	if (ctl->conns)
		ctl->conns->prev = c;
	ctl->conns = c;
	ctl->nconns++;
	allowed = peer_allowed(fd, &c->uid);
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (!allowed) {
		log_ratelimited(LOG_NOTICE, "control: uid %u refused",
				(unsigned)c->uid);
		conn_refuse(c, "permission denied: root only");
	} else if (ctl->nconns > CTL_MAX_CONNS) {
		conn_refuse(c, "too many control connections");
	}
}

/* ---- the socket --------------------------------------------------------- */

/*
 * A socket file left by a daemon that died is replaced; one that answers
 * belongs to a running daemon and is left alone (-EADDRINUSE); anything
 * else at that path is not ours to remove.
 */
static int clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (rc < 0 && errno == EAGAIN) /* a full backlog: alive */
		rc = 0;
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	return unlink(sun->sun_path) < 0 && errno != ENOENT ? -errno : 0;
}

static int bind_control(struct control *ctl, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((rc = clear_stale(&sun)) < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Linux gives the file the socket inode's mode less the umask: set
	 * 0600 before bind() so the path never exists with another mode
	 * (a chmod after it left a window where stat(1) saw 0755). */
	if (fchmod(fd, 0600) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0600) < 0 || stat(path, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	return fd;
}

struct control *control_open(struct server *srv, const char *path,
			     bool required)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	int fd;

	if (!ctl || !(ctl->path = strdup(path))) {
		log_err("control %s: out of memory", path);
		free(ctl);
		return NULL;
	}
	ctl->srv = srv;
	fd = bind_control(ctl, path);
	if (fd < 0) {
		log_msg(required ? LOG_ERR : LOG_WARNING,
			"control socket %s: %s%s", path,
			fd == -EADDRINUSE ? "another daemon is using it"
			: fd == -EEXIST	  ? "exists and is not a socket"
					  : strerror(-fd),
			required ? "" : "; continuing without one");
		goto fail;
	}
	ctl->listener = evconnlistener_new(transport_base(srv->transport),
					   on_accept, ctl,
					   LEV_OPT_CLOSE_ON_FREE |
						   LEV_OPT_CLOSE_ON_EXEC,
					   8, fd);
	if (!ctl->listener) {
		log_err("control socket %s: listen: %s", path,
			strerror(errno));
		close(fd);
		unlink(path);
		goto fail;
	}
	log_info("control socket %s", path);
	return ctl;
fail:
	free(ctl->path);
	free(ctl);
	return NULL;
}

void control_close(struct control *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	while (ctl->conns)
		conn_close(ctl->conns);
	evconnlistener_free(ctl->listener);
	/* Only our own socket: another daemon may have taken the path. */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
