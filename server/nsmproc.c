/*
 * nsmproc.c - the Network Status Monitor, version 1 (program 100024,
 * X/Open XNFS chapter 11), as far as a lock server needs it, served by
 * unionnfsd itself on its own port.
 *
 * The monitor list.  Every host that takes a monitored NLM lock is
 * recorded in the catalog (peers of kind "nsm": its caller_name and the
 * address the LOCK came from) the first time it locks; after that it is
 * only looked up in memory.  The list and our state number (odd while we
 * run, advanced at every start) survive restarts.  At start, each
 * recorded host's statd (found through the portmapper at its recorded
 * address) gets SM_NOTIFY with our host name and new state, and its lock
 * manager reclaims during the grace period.  A host is dropped from the
 * list once the notification was delivered, unless it locked again
 * meanwhile (a reclaim records it anew); one that does not answer is
 * tried again for a while and stays listed for the next start.  The text file "<catalog>.nsm" of earlier versions
 * is imported at the first start and removed.
 *
 * A client's reboot.  When a client host restarts, its statd sends
 * SM_NOTIFY(mon_name, state) to every server it held locks on; rpcbind
 * there points to us (or to the host's rpc.statd, see below).  We then
 * free every NLM lock and share held under that caller_name, which grants
 * waiting requests (GRANTED callbacks).  Anyone can send a datagram, and
 * a forged SM_NOTIFY would drop another host's locks, so it is believed
 * only if mon_name is a recorded host and the call comes from that host's
 * recorded address, or from this host (127.0.0.0/8, ::1): a local statd
 * relaying, or an administrator.  A name we never recorded changes
 * nothing.  The rule assumes, as NLM does throughout, that the network
 * does not spoof source addresses.
 *
 * Local monitors.  SM_MON, SM_UNMON and SM_UNMON_ALL come from lock
 * managers on this host (the kernel's lockd, if it finds us through
 * rpcbind); they are accepted from loopback only, as rpc.statd does, kept
 * in memory, and a believed SM_NOTIFY for a monitored name is relayed to
 * the monitor's callback (always on 127.0.0.1, whatever my_name says).
 * SM_STAT answers our state; SM_SIMU_CRASH is refused (PROC_UNAVAIL): a
 * pretended crash would start a grace period nobody asked for.
 *
 * rpcbind: a system rpc.statd may run on the same host and own 100024
 * there.  We register NSM only where nobody has it and never take or
 * remove another's entry (rpcbind.c, rpc_program.rpcbind_if_free): then
 * clients' notifications reach that statd, which relays them only to its
 * own monitors, and FREE_ALL (or the client's lock retries) frees our
 * locks instead.  Run without rpc.statd to have them come here.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nlm.h"
#include "sm_inter.h"

#define NSM_KIND "nsm"
#define NSM_STATE_KEY "nsm_state"
#define NSM_MAX_HOSTS 4096
#define NSM_MAX_WATCHES 1024
#define NSM_NOTIFY_PERIOD (15 * 60) /* seconds of retries, as sm-notify */

/* A host that took locks, as recorded in the catalog. */
struct nsm_host {
	struct nsm_host *next;
	char *name;
	char addr[INET6_ADDRSTRLEN];
	bool notify_pending; /* from the last run, not yet told */
};

/* A local lock manager's SM_MON: call it back when mon_name reboots. */
struct nsm_watch {
	struct nsm_watch *next;
	char *mon_name, *my_name;
	int prog, vers, proc;
	char priv[16];
};

static pthread_mutex_t nsm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct un_catalog *nsm_cat;
static struct nsm_host *nsm_hosts;
static unsigned nsm_nhosts;
static struct nsm_watch *nsm_watches;
static unsigned nsm_nwatches;
static int nsm_state = 1; /* set before serving, read-only after */
static char nsm_myname[256] = "localhost";

/* ---- the monitor list -------------------------------------------------- */

static struct nsm_host *host_find(const char *name)
{
	struct nsm_host *h;

	for (h = nsm_hosts; h; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

static struct nsm_host *host_add(const char *name, const char *addr)
{
	struct nsm_host *h;

	if (nsm_nhosts >= NSM_MAX_HOSTS || strlen(addr) >= sizeof(h->addr) ||
	    !(h = calloc(1, sizeof(*h))))
		return NULL;
	if (!(h->name = strdup(name))) {
		free(h);
		return NULL;
	}
	strcpy(h->addr, addr);
	h->next = nsm_hosts;
	nsm_hosts = h;
	nsm_nhosts++;
	return h;
}

static void host_remove(struct nsm_host *gone)
{
	struct nsm_host **pp;

	for (pp = &nsm_hosts; *pp; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			nsm_nhosts--;
			free(gone->name);
			free(gone);
			return;
		}
}

/* Names go into the catalog and log lines: printable, no blanks. */
static bool name_ok(const char *name)
{
	const unsigned char *p;

	if (!*name || strlen(name) > UN_PEER_STR_MAX)
		return false;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	return true;
}

/* Remember name at addr; with nsm_lock held.  The catalog is written
 * only when the host is new or moved. */
static int record_locked(const char *name, const char *addr)
{
	struct nsm_host *h = host_find(name);

	if (h && strcmp(h->addr, addr) == 0) {
		h->notify_pending = false; /* a reclaim: keep it */
		return 0;
	}
	if (h) {
		strcpy(h->addr, addr); /* same length bound */
		h->notify_pending = false;
	} else if (!host_add(name, addr)) {
		log_ratelimited(LOG_WARNING, "nsm: cannot record lock client "
				"%s (%u recorded)", name, nsm_nhosts);
		return 0;
	}
	return un_catalog_peer_put(nsm_cat, NSM_KIND, name, addr);
}

/*
 * Called for every monitored LOCK.  The rare catalog write happens under
 * nsm_lock, so that a concurrent removal (notify delivered, SM_NOTIFY)
 * cannot overtake it; it runs on a worker, never on the event loop.
 */
void nsm_monitor(const struct rpc_req *req, const char *name)
{
	char addr[INET6_ADDRSTRLEN];
	int rc = 0;

	if (!name_ok(name) ||
	    !nlm_peer_addr(&req->peer, req->peer_len, addr, sizeof(addr)))
		return;
	pthread_mutex_lock(&nsm_lock);
	if (nsm_cat) /* NULL: not started (the procedures' fuzzer) */
		rc = record_locked(name, addr);
	pthread_mutex_unlock(&nsm_lock);
	if (rc < 0)
		log_ratelimited(LOG_WARNING, "nsm: cannot record lock client "
				"%s in the catalog: %s", name, strerror(-rc));
}

/* Forget a host (its locks are gone); with nsm_lock held. */
static void host_forget(struct nsm_host *h)
{
	int rc = un_catalog_peer_del(nsm_cat, NSM_KIND, h->name);

	if (rc < 0)
		log_ratelimited(LOG_WARNING, "nsm: cannot remove %s from the "
				"catalog: %s", h->name, strerror(-rc));
	host_remove(h);
}

/* ---- start: import, state, load ----------------------------------------- */

/* A recorded address, for calls to it. */
static bool addr_parse(const char *addr, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return true;
	}
	return false;
}

/* One line of the old file; lines it does not understand are skipped. */
static int import_line(struct un_catalog *cat, const char *line, int *n)
{
	char name[1100], addr[NI_MAXHOST];
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t old;
	int state;

	if (sscanf(line, "state %d", &state) == 1) {
		if (un_catalog_state_get(cat, NSM_STATE_KEY, &old) == 0 &&
		    old >= state)
			return 0;
		return un_catalog_state_set(cat, NSM_STATE_KEY, state);
	}
	if (sscanf(line, "client %1099s %1024s", name, addr) != 2 ||
	    !name_ok(name) || !addr_parse(addr, &ss, &len))
		return 0;
	(*n)++;
	return un_catalog_peer_put(cat, NSM_KIND, name, addr);
}

/*
 * The text file of earlier versions ("state N" and "client NAME ADDR"
 * lines): its hosts go to the catalog, then it goes.  It stays if any
 * write fails, to be imported again next time.
 */
static void import_old_list(struct un_catalog *cat, const char *catalog)
{
	char path[UN_PATH_MAX], line[2200];
	int failed = 0, n = 0;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s.nsm", catalog) >=
		    (int)sizeof(path) ||
	    !(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		if (import_line(cat, line, &n) < 0)
			failed++;
	fclose(f);
	if (failed) {
		log_warn("nsm: could not import %s into the catalog", path);
		return;
	}
	if (unlink(path) < 0)
		log_warn("nsm: cannot remove %s: %s", path, strerror(errno));
	else
		log_notice("nsm: imported %d client(s) from %s into the "
			   "catalog", n, path);
}

static int load_one(void *arg, const char *name, const char *addr)
{
	struct sockaddr_storage ss;
	struct nsm_host *h;
	socklen_t len;

	(void)arg;
	if (!name_ok(name) || host_find(name) || !addr_parse(addr, &ss, &len))
		return 0;
	h = host_add(name, addr);
	if (h)
		h->notify_pending = true;
	else
		log_warn("nsm: cannot load monitored host %s", name);
	return 0;
}

/* The next odd state number: odd means "up", and every start is new. */
static void advance_state(struct un_catalog *cat)
{
	int64_t st = 1;
	int rc = un_catalog_state_get(cat, NSM_STATE_KEY, &st);

	if (rc < 0 && rc != -ENOENT)
		log_warn("nsm: cannot read our state number: %s",
			 strerror(-rc));
	if (st < 1 || st >= 0x7ffffff0)
		st = 1; /* wrapped (after two billion restarts) */
	st += st % 2 ? 2 : 1;
	nsm_state = (int)st;
	rc = un_catalog_state_set(cat, NSM_STATE_KEY, st);
	if (rc < 0)
		log_warn("nsm: cannot store our state number: %s",
			 strerror(-rc));
}

unsigned nsm_load(struct server *srv)
{
	unsigned n;
	int rc;

	if (gethostname(nsm_myname, sizeof(nsm_myname) - 1) < 0 ||
	    !*nsm_myname)
		strcpy(nsm_myname, "localhost");
	import_old_list(srv->cat, srv->cfg->catalog);
	advance_state(srv->cat);
	pthread_mutex_lock(&nsm_lock);
	nsm_cat = srv->cat;
	rc = un_catalog_peer_list(srv->cat, NSM_KIND, load_one, NULL);
	n = nsm_nhosts;
	pthread_mutex_unlock(&nsm_lock);
	if (rc < 0)
		log_warn("nsm: cannot read the monitor list: %s",
			 strerror(-rc));
	return n;
}

/* ---- telling former clients that we restarted -------------------------- */

static bool_t xdr_nsm_nothing(XDR *x, void *p)
{
	(void)x;
	(void)p;
	return TRUE;
}

/* SM_NOTIFY to one host's statd; true when it answered. */
static bool notify_one(const char *addr)
{
	struct timeval tv = { NLM_CALLBACK_TIMEOUT, 0 };
	stat_chge args = { nsm_myname, nsm_state };
	struct sockaddr_storage ss;
	socklen_t len;
	CLIENT *c;
	bool ok;

	if (!addr_parse(addr, &ss, &len))
		return false;
	c = nlm_peer_client(&ss, len, SM_PROG, SM_VERS);
	if (!c) {
		log_info("nsm: no statd at %s to notify", addr);
		return false;
	}
	ok = clnt_call(c, SM_NOTIFY, (xdrproc_t)xdr_stat_chge, (char *)&args,
		       (xdrproc_t)xdr_nsm_nothing, NULL, tv) == RPC_SUCCESS;
	clnt_destroy(c);
	return ok;
}

/* The hosts still to notify, copied so that no lock is held while
 * calling. */
struct notify_list {
	unsigned n;
	struct notify_entry {
		char *name, *addr;
		bool done;
	} e[];
};

static void notify_list_free(struct notify_list *l)
{
	for (unsigned i = 0; l && i < l->n; i++) {
		free(l->e[i].name);
		free(l->e[i].addr);
	}
	free(l);
}

static struct notify_list *pending_snapshot(void)
{
	struct notify_list *l;
	struct nsm_host *h;

	pthread_mutex_lock(&nsm_lock);
	l = calloc(1, sizeof(*l) + nsm_nhosts * sizeof(l->e[0]));
	for (h = nsm_hosts; l && h; h = h->next) {
		struct notify_entry *e = &l->e[l->n];

		if (!h->notify_pending)
			continue;
		e->name = strdup(h->name);
		e->addr = strdup(h->addr);
		l->n++;
		if (!e->name || !e->addr) {
			notify_list_free(l);
			l = NULL;
		}
	}
	pthread_mutex_unlock(&nsm_lock);
	return l;
}

/* Not told yet and not back on its own (a reclaim records it anew)? */
static bool still_pending(const char *name)
{
	struct nsm_host *h;
	bool pending;

	pthread_mutex_lock(&nsm_lock);
	h = host_find(name);
	pending = h && h->notify_pending;
	pthread_mutex_unlock(&nsm_lock);
	return pending;
}

/* Told: forget the host unless it locked again meanwhile. */
static void notified(const char *name)
{
	struct nsm_host *h;

	pthread_mutex_lock(&nsm_lock);
	h = host_find(name);
	if (h && h->notify_pending)
		host_forget(h);
	pthread_mutex_unlock(&nsm_lock);
}

/* One round over the hosts not told yet; true when none is left. */
static bool notify_round(struct notify_list *l)
{
	bool all = true;

	for (unsigned i = 0; i < l->n && !nlm_stopping(); i++) {
		struct notify_entry *e = &l->e[i];

		if (e->done)
			continue;
		if (!still_pending(e->name)) {
			e->done = true;
		} else if (notify_one(e->addr)) {
			log_info("nsm: notified %s at %s (state %d)", e->name,
				 e->addr, nsm_state);
			notified(e->name);
			e->done = true;
		} else {
			all = false;
		}
	}
	return all;
}

/*
 * Hosts that do not answer (down, or statd not up yet) are tried again,
 * less and less often, for NSM_NOTIFY_PERIOD, as sm-notify does; those
 * never reached stay in the list for the next start.
 */
static void *notify_thread(void *p)
{
	struct notify_list *l = p;
	unsigned delay = 1, waited = 0;

	while (!notify_round(l) && waited < NSM_NOTIFY_PERIOD &&
	       nlm_pause(delay)) {
		waited += delay;
		delay = delay * 2 > 60 ? 60 : delay * 2;
	}
	notify_list_free(l);
	nlm_thread_done();
	return NULL;
}

void nsm_notify_all(void)
{
	struct notify_list *l = pending_snapshot();

	if (l && nlm_thread_start(notify_thread, l))
		return;
	log_warn("nsm: cannot start notifying clients");
	notify_list_free(l);
}

/* ---- relaying a reboot to local monitors (SM_MON callers) -------------- */

struct nsm_relay {
	u_long prog, vers, proc;
	sm_status status;
	char name[SM_MAXSTRLEN + 1];
};

static void *relay_thread(void *p)
{
	struct nsm_relay *r = p;
	struct sockaddr_in lo = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { NLM_CALLBACK_TIMEOUT, 0 };
	CLIENT *c = nlm_peer_client((struct sockaddr_storage *)&lo,
				    sizeof(lo), r->prog, r->vers);

	if (!c || clnt_call(c, r->proc, (xdrproc_t)xdr_sm_status,
			    (char *)&r->status, (xdrproc_t)xdr_nsm_nothing,
			    NULL, tv) != RPC_SUCCESS)
		log_info("nsm: cannot tell local program %lu that %s "
			 "rebooted", r->prog, r->name);
	if (c)
		clnt_destroy(c);
	free(r);
	nlm_thread_done();
	return NULL;
}

/* With nsm_lock held. */
static void relay_reboot(const char *mon_name, int state)
{
	struct nsm_watch *w;
	struct nsm_relay *r;

	for (w = nsm_watches; w; w = w->next) {
		if (strcmp(w->mon_name, mon_name) != 0)
			continue;
		r = calloc(1, sizeof(*r));
		if (!r)
			continue;
		r->prog = (u_long)w->prog;
		r->vers = (u_long)w->vers;
		r->proc = (u_long)w->proc;
		snprintf(r->name, sizeof(r->name), "%s", mon_name);
		r->status.mon_name = r->name;
		r->status.state = state;
		memcpy(r->status.priv, w->priv, sizeof(r->status.priv));
		if (!nlm_thread_start(relay_thread, r))
			free(r);
	}
}

/* ---- the procedures ------------------------------------------------------ */

static enum rpc_status nsmproc_null(struct rpc_req *req)
{
	(void)req;
	return RPC_DONE;
}

static enum rpc_status reply(struct rpc_req *req, xdrproc_t fn, void *res)
{
	return fn(&req->res, res) ? RPC_DONE : RPC_SYSTEM_ERR;
}

static enum rpc_status nsmproc_stat(struct rpc_req *req)
{
	sm_name a = { 0 };
	sm_stat_res res = { stat_fail, nsm_state };
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_sm_name(&req->args, &a)) {
		if (name_ok(a.mon_name))
			res.res_stat = stat_succ;
		st = reply(req, (xdrproc_t)xdr_sm_stat_res, &res);
	}
	xdr_free((xdrproc_t)xdr_sm_name, (char *)&a);
	return st;
}

static void watch_free(struct nsm_watch *w)
{
	free(w->mon_name);
	free(w->my_name);
	free(w);
}

static bool watch_matches(const struct nsm_watch *w, const my_id *id)
{
	return strcmp(w->my_name, id->my_name) == 0 && w->prog == id->my_prog &&
	       w->vers == id->my_vers && w->proc == id->my_proc;
}

/* Drop the watches of id (for mon_name, or all of them if NULL). */
static void watches_remove(const char *mon_name, const my_id *id)
{
	struct nsm_watch **pp = &nsm_watches, *w;

	while ((w = *pp) != NULL) {
		if (watch_matches(w, id) &&
		    (!mon_name || strcmp(w->mon_name, mon_name) == 0)) {
			*pp = w->next;
			nsm_nwatches--;
			watch_free(w);
		} else {
			pp = &w->next;
		}
	}
}

static bool watch_add(const mon *m)
{
	struct nsm_watch *w;

	if (nsm_nwatches >= NSM_MAX_WATCHES || !name_ok(m->mon_id.mon_name) ||
	    !(w = calloc(1, sizeof(*w))))
		return false;
	w->mon_name = strdup(m->mon_id.mon_name);
	w->my_name = strdup(m->mon_id.my_id.my_name);
	if (!w->mon_name || !w->my_name) {
		watch_free(w);
		return false;
	}
	w->prog = m->mon_id.my_id.my_prog;
	w->vers = m->mon_id.my_id.my_vers;
	w->proc = m->mon_id.my_id.my_proc;
	memcpy(w->priv, m->priv, sizeof(w->priv));
	watches_remove(w->mon_name, &m->mon_id.my_id); /* no duplicates */
	w->next = nsm_watches;
	nsm_watches = w;
	nsm_nwatches++;
	return true;
}

static enum rpc_status nsmproc_mon(struct rpc_req *req)
{
	mon a = { 0 };
	sm_stat_res res = { stat_fail, nsm_state };
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_mon(&req->args, &a)) {
		if (!nlm_peer_loopback(&req->peer)) {
			log_ratelimited(LOG_WARNING, "nsm: SM_MON from "
					"another host refused");
		} else {
			pthread_mutex_lock(&nsm_lock);
			if (watch_add(&a))
				res.res_stat = stat_succ;
			pthread_mutex_unlock(&nsm_lock);
		}
		st = reply(req, (xdrproc_t)xdr_sm_stat_res, &res);
	}
	xdr_free((xdrproc_t)xdr_mon, (char *)&a);
	return st;
}

static enum rpc_status nsmproc_unmon(struct rpc_req *req)
{
	mon_id a = { 0 };
	sm_stat res = { nsm_state };
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_mon_id(&req->args, &a)) {
		if (nlm_peer_loopback(&req->peer)) {
			pthread_mutex_lock(&nsm_lock);
			watches_remove(a.mon_name, &a.my_id);
			pthread_mutex_unlock(&nsm_lock);
		}
		st = reply(req, (xdrproc_t)xdr_sm_stat, &res);
	}
	xdr_free((xdrproc_t)xdr_mon_id, (char *)&a);
	return st;
}

static enum rpc_status nsmproc_unmon_all(struct rpc_req *req)
{
	my_id a = { 0 };
	sm_stat res = { nsm_state };
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_my_id(&req->args, &a)) {
		if (nlm_peer_loopback(&req->peer)) {
			pthread_mutex_lock(&nsm_lock);
			watches_remove(NULL, &a);
			pthread_mutex_unlock(&nsm_lock);
		}
		st = reply(req, (xdrproc_t)xdr_sm_stat, &res);
	}
	xdr_free((xdrproc_t)xdr_my_id, (char *)&a);
	return st;
}

/*
 * Is an SM_NOTIFY for mon_name from addr to be believed (see the top of
 * the file)?  h is the recorded host of that name, if any.  A local
 * monitor's name may also be the sender's own address (Linux lockd
 * monitors hosts by address).
 */
static bool notify_believed(const struct rpc_req *req, const char *addr,
			    const struct nsm_host *h, const char *mon_name)
{
	if (nlm_peer_loopback(&req->peer))
		return true;
	if (h)
		return strcmp(h->addr, addr) == 0;
	return strcmp(mon_name, addr) == 0;
}

/* A client rebooted: free its locks and tell local monitors. */
static void client_rebooted(const struct rpc_req *req, const stat_chge *a)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	struct nsm_host *h;
	bool believed, known;

	(void)nlm_peer_addr(&req->peer, req->peer_len, addr, sizeof(addr));
	pthread_mutex_lock(&nsm_lock);
	h = name_ok(a->mon_name) ? host_find(a->mon_name) : NULL;
	known = h != NULL;
	believed = notify_believed(req, addr, h, a->mon_name);
	if (believed) {
		if (h)
			host_forget(h);
		relay_reboot(a->mon_name, a->state);
	}
	pthread_mutex_unlock(&nsm_lock);
	if (known && believed) {
		log_notice("nsm: %s rebooted (state %d, told by %s): "
			   "freeing its locks", a->mon_name, a->state, addr);
		nlm_free_client(a->mon_name);
	} else if (known) {
		log_ratelimited(LOG_WARNING, "nsm: SM_NOTIFY for %s from %s "
				"ignored: that host locked from another "
				"address", a->mon_name, addr);
	} else {
		log_ratelimited(LOG_INFO, "nsm: SM_NOTIFY for %s from %s: no "
				"locks recorded",
				name_ok(a->mon_name) ? a->mon_name
						     : "(bad name)",
				addr);
	}
}

static enum rpc_status nsmproc_notify(struct rpc_req *req)
{
	stat_chge a = { 0 };
	enum rpc_status st = RPC_GARBAGE;

	if (xdr_stat_chge(&req->args, &a)) {
		client_rebooted(req, &a);
		st = RPC_DONE; /* void result */
	}
	xdr_free((xdrproc_t)xdr_stat_chge, (char *)&a);
	return st;
}

/* ---- the program ---------------------------------------------------------- */

static const struct rpc_proc nsm1_procs[] = {
	[SM_NULL] = { "NULL", nsmproc_null, NULL, true },
	[SM_STAT] = { "STAT", nsmproc_stat, NULL, true },
	[SM_MON] = { "MON", nsmproc_mon, NULL, true },
	[SM_UNMON] = { "UNMON", nsmproc_unmon, NULL, true },
	[SM_UNMON_ALL] = { "UNMON_ALL", nsmproc_unmon_all, NULL, true },
	[SM_SIMU_CRASH] = { "SIMU_CRASH", NULL, NULL, true }, /* refused */
	[SM_NOTIFY] = { "NOTIFY", nsmproc_notify, NULL, true },
};

static const struct rpc_version nsm_versions[] = {
	{ SM_VERS, nsm1_procs, sizeof(nsm1_procs) / sizeof(nsm1_procs[0]) },
};

const struct rpc_program nsm1_program = {
	.name = "status",
	.prog = SM_PROG,
	.versions = nsm_versions,
	.nversions = 1,
	.rpcbind_if_free = true,
};

void nsm_clear(void)
{
	struct nsm_watch *w;

	pthread_mutex_lock(&nsm_lock);
	while (nsm_hosts)
		host_remove(nsm_hosts);
	while ((w = nsm_watches) != NULL) {
		nsm_watches = w->next;
		watch_free(w);
	}
	nsm_nwatches = 0;
	nsm_cat = NULL;
	pthread_mutex_unlock(&nsm_lock);
}
