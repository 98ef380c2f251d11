/*
 * view.c - per-client upper layers (private_upper=DIR in a client rule).
 *
 * Every client such a rule admits gets its own union over the export's
 * lower layers: upper DIR/ADDRESS/upper, work DIR/ADDRESS/work.  Each view
 * is an export of its own in the catalog, named "ADDRESS@/export" (no
 * export name can look like that: they start with "/"), so it has its own
 * export id in every handle, its own objects, and the same id after a
 * restart.  A handle of one client's view presented by another names an
 * export that client does not see: STALE, as a handle of an unexported
 * file system is for knfsd.
 *
 * Views are opened on first use, on a worker thread (making directories
 * and attaching to the catalog block on the disk).  They are closed only
 * with srv->lock held for writing, so a request may keep the srv_export
 * it was given until it ends: by a reload, which keeps those whose export
 * and private_upper= it kept, and when idle (view-idle-timeout).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

struct view {
	struct srv_export ex; /* conf: the export's; client: its address */
	char *base;	      /* the export's name */
	uint32_t base_id;     /* and id: a view's calls count as the export's */
	const struct un_export *base_ux; /* a reload keeps the view if kept */
	char *dir;	      /* the private_upper= it was opened under */
	struct sockaddr_storage peer; /* the client, for the new rules */
	long last_used;	      /* monotonic seconds; atomic */
	struct view *next;
};

struct srv_views {
	pthread_mutex_t lock;
	struct view *list;
	long last_sweep;      /* monotonic seconds; atomic */
};

static long now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct srv_views *views_create(void)
{
	struct srv_views *v = calloc(1, sizeof(*v));

	if (v)
		pthread_mutex_init(&v->lock, NULL);
	return v;
}

static void view_free(struct view *vw)
{
	un_export_close(vw->ex.ux);
	free(vw->ex.client);
	free(vw->base);
	free(vw->dir);
	free(vw);
}

/*
 * After a reload: the export the view was opened from, if the reload
 * kept it open (same layers), and the new rules still give the client
 * the same private_upper=.  Else the view must go.
 */
static const struct srv_export *still_valid(const struct server *srv,
					    const struct view *vw)
{
	const struct client_rule *r;

	for (unsigned i = 0; i < srv->nexports; i++) {
		const struct srv_export *ex = &srv->exports[i];

		if (ex->ux != vw->base_ux)
			continue;
		r = config_match_client(ex->conf,
					(const struct sockaddr *)&vw->peer);
		return r && r->private_upper &&
		       !strcmp(r->private_upper, vw->dir) ? ex : NULL;
	}
	return NULL;
}

void views_reload(struct server *srv)
{
	struct view **pp = &srv->views->list, *vw;
	const struct srv_export *ex;

	pthread_mutex_lock(&srv->views->lock);
	while ((vw = *pp) != NULL) {
		ex = still_valid(srv, vw);
		if (ex) {
			vw->ex.conf = ex->conf; /* the old one is freed */
			pp = &vw->next;
			continue;
		}
		*pp = vw->next;
		log_info("export %s: view of client %s closed by the reload",
			 vw->base, vw->ex.client);
		view_free(vw);
	}
	pthread_mutex_unlock(&srv->views->lock);
}

static void views_close_all(struct srv_views *v)
{
	struct view *vw, *next;

	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	for (vw = v->list; vw; vw = next) {
		next = vw->next;
		view_free(vw);
	}
	v->list = NULL;
	pthread_mutex_unlock(&v->lock);
}

void views_destroy(struct srv_views *v)
{
	if (!v)
		return;
	views_close_all(v);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/*
 * The client's address as its directory is named: "192.0.2.7",
 * "2001:db8::7"; an IPv4 client on a dual-stack socket is the IPv4
 * address, whichever socket it came in on.
 */
static int client_key(const struct sockaddr_storage *ss, char *buf,
		      size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET,
				 &((const struct sockaddr_in *)ss)->sin_addr,
				 buf, len) ? 0 : -1;
	if (ss->ss_family != AF_INET6)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
				 len) ? 0 : -1;
	return inet_ntop(AF_INET6, &s6->sin6_addr, buf, len) ? 0 : -1;
}

/* The private_upper= of the rule admitting req's client to ex, or NULL. */
static const char *private_dir(const struct export_conf *conf,
			       const struct rpc_req *req)
{
	const struct client_rule *r =
		config_match_client(conf, (const struct sockaddr *)&req->peer);

	return r ? r->private_upper : NULL;
}

static struct view *find_view(struct srv_views *v, const char *base,
			      const char *client)
{
	struct view *vw;

	for (vw = v->list; vw; vw = vw->next)
		if (!strcmp(vw->base, base) && !strcmp(vw->ex.client, client))
			return vw;
	return NULL;
}

static int mkdir_at(int dirfd, const char *name, mode_t mode)
{
	return mkdirat(dirfd, name, mode) < 0 && errno != EEXIST ? -errno : 0;
}

/*
 * DIR/ADDRESS (0700, root's: only the daemon goes there), and in it
 * upper, with the mode and owner of the top lower layer's root so the
 * client's root looks like the image's, and work.
 */
static int make_dirs(const char *dir, const char *client, const char *top,
		     char *err, size_t errlen)
{
	struct stat st;
	int fd, cfd, rc;

	if (stat(top, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lower %s: %s", top, strerror(errno));
		return rc;
	}
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return rc;
	}
	rc = mkdir_at(fd, client, 0700);
	cfd = rc < 0 ? -1 : openat(fd, client, O_PATH | O_DIRECTORY |
					       O_NOFOLLOW | O_CLOEXEC);
	if (rc == 0 && cfd < 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		rc = mkdir_at(cfd, "work", 0700);
	if (rc == 0)
		rc = mkdir_at(cfd, "upper", st.st_mode & 07777);
	if (rc == 0 && fchownat(cfd, "upper", st.st_uid, st.st_gid,
				AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc < 0)
		snprintf(err, errlen, "%s/%s: %s", dir, client, strerror(-rc));
	if (cfd >= 0)
		close(cfd);
	return rc;
}

/*
 * The view's names: in the catalog "ADDRESS@/export", and its layers.
 * False when a path does not fit.
 */
static bool view_paths(const char *dir, const char *client, const char *base,
		       char name[UN_PATH_MAX], char upper[UN_PATH_MAX],
		       char work[UN_PATH_MAX])
{
	return snprintf(name, UN_PATH_MAX, "%s@%s", client, base) <
		       UN_PATH_MAX &&
	       snprintf(upper, UN_PATH_MAX, "%s/%s/upper", dir, client) <
		       UN_PATH_MAX &&
	       snprintf(work, UN_PATH_MAX, "%s/%s/work", dir, client) <
		       UN_PATH_MAX;
}

/* Open the client's view of ex under dir; create: make its directories. */
static struct view *open_view(struct server *srv, const struct srv_export *ex,
			      const char *dir, const char *client,
			      const struct rpc_req *req, bool create)
{
	struct un_export_conf u = ex->conf->u;
	char name[UN_PATH_MAX], upper[UN_PATH_MAX], work[UN_PATH_MAX];
	char why[256] = "";
	struct view *vw = NULL;
	int rc;

	if (!view_paths(dir, client, u.name, name, upper, work)) {
		snprintf(why, sizeof(why), "%s: path too long", dir);
		goto fail;
	}
	if (!create && access(upper, F_OK) < 0)
		return NULL; /* never made: no handle of it can exist */
	if (create &&
	    make_dirs(dir, client, u.lower[0], why, sizeof(why)) < 0)
		goto fail;
	u.name = name;
	u.upper = upper;
	u.work = work;
	vw = calloc(1, sizeof(*vw));
	if (!vw || !(vw->base = strdup(ex->conf->u.name)) ||
	    !(vw->ex.client = strdup(client)) || !(vw->dir = strdup(dir))) {
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	rc = un_export_open(srv->cat, &u, &vw->ex.ux, why, sizeof(why));
	if (rc < 0) {
		if (!why[0])
			snprintf(why, sizeof(why), "%s", strerror(-rc));
		goto fail;
	}
	vw->ex.conf = ex->conf;
	vw->ex.id = un_export_id(vw->ex.ux);
	vw->base_id = ex->id;
	vw->base_ux = ex->ux;
	vw->peer = req->peer;
	vw->last_used = now_sec();
	vw->next = srv->views->list;
	srv->views->list = vw;
	log_info("export %s: view of client %s opened (upper %s, id %u)",
		 ex->conf->u.name, client, upper, vw->ex.id);
	return vw;
fail:
	if (vw)
		view_free(vw);
	/* every request of the client retries: one line a second at most */
	log_ratelimited(LOG_ERR, "export %s: cannot open the view of "
			"client %s: %s", ex->conf->u.name, client, why);
	return NULL;
}

/* ---- closing idle views ---------------------------------------------- */

/* Set while a request submits a sweep: it holds srv->lock for reading. */
static __thread bool submitting;

/*
 * Close the views nobody used for view-idle-timeout seconds: each holds
 * descriptors (layers, work, its caches).  Under srv->lock for writing,
 * as a reload, so no request holds one; the next request of its client
 * reopens it, with the same export id.
 */
static void sweep(void *arg)
{
	struct server *srv = arg;
	struct view **pp, *vw;
	long now = now_sec();

	/* workers_submit() out of memory runs the job in place, on the
	 * request's thread: the lock would wait for itself */
	if (submitting)
		return;
	pthread_rwlock_wrlock(&srv->lock);
	pthread_mutex_lock(&srv->views->lock);
	for (pp = &srv->views->list; (vw = *pp) != NULL;) {
		if (!srv->cfg->view_idle ||
		    now - vw->last_used < (long)srv->cfg->view_idle) {
			pp = &vw->next;
			continue;
		}
		*pp = vw->next;
		log_info("export %s: view of client %s closed: idle",
			 vw->base, vw->ex.client);
		view_free(vw);
	}
	pthread_mutex_unlock(&srv->views->lock);
	pthread_rwlock_unlock(&srv->lock);
}

/*
 * A view is being used: note when, and at most once per idle period (or
 * minute) have a worker close the idle ones.  Not here: this request
 * holds srv->lock for reading.
 */
static void view_touch(struct server *srv, struct view *vw)
{
	long now = now_sec(), last, every = srv->cfg->view_idle;

	__atomic_store_n(&vw->last_used, now, __ATOMIC_RELAXED);
	if (every == 0 || !srv->workers)
		return;
	every = every < 60 ? every : 60;
	last = __atomic_load_n(&srv->views->last_sweep, __ATOMIC_RELAXED);
	if (now - last >= every &&
	    __atomic_compare_exchange_n(&srv->views->last_sweep, &last, now,
					false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED)) {
		submitting = true;
		workers_submit(srv->workers, sweep, srv);
		submitting = false;
	}
}

uint32_t server_stats_id(const struct srv_export *ex)
{
	const struct view *vw = (const struct view *)ex; /* ex is its first */

	return ex->client ? vw->base_id : ex->id;
}

struct srv_export *server_view(const struct rpc_req *req,
			       struct srv_export *ex)
{
	struct srv_views *v = req->srv->views;
	const char *dir = private_dir(ex->conf, req);
	char client[INET6_ADDRSTRLEN];
	struct view *vw;

	if (!dir)
		return ex;
	if (client_key(&req->peer, client, sizeof(client)) < 0)
		return NULL;
	pthread_mutex_lock(&v->lock);
	vw = find_view(v, ex->conf->u.name, client);
	if (!vw)
		vw = open_view(req->srv, ex, dir, client, req, true);
	pthread_mutex_unlock(&v->lock);
	if (!vw)
		return NULL;
	view_touch(req->srv, vw);
	return &vw->ex;
}

/* An open view with this id, if it is the client's own. */
static struct srv_export *view_by_id(struct server *srv, uint32_t id,
				     const char *client,
				     const struct rpc_req *req, bool *found)
{
	struct view *vw;

	for (vw = srv->views->list; vw; vw = vw->next) {
		if (vw->ex.id != id)
			continue;
		*found = true;
		return !strcmp(vw->ex.client, client) &&
		       private_dir(vw->ex.conf, req) ? &vw->ex : NULL;
	}
	return NULL;
}

/*
 * A view closed (restart, reload, idle) and not yet reopened: open the
 * client's view of each export that gives it one, if it was ever made,
 * until one has the handle's id.
 */
static struct srv_export *reopen_view(struct server *srv, uint32_t id,
				      const char *client,
				      const struct rpc_req *req)
{
	for (unsigned i = 0; i < srv->nexports; i++) {
		struct srv_export *ex = &srv->exports[i];
		const char *dir = private_dir(ex->conf, req);
		struct view *vw;

		if (!dir || find_view(srv->views, ex->conf->u.name, client))
			continue;
		vw = open_view(srv, ex, dir, client, req, false);
		if (vw && vw->ex.id == id)
			return &vw->ex;
	}
	return NULL;
}

struct srv_export *server_export_of(const struct rpc_req *req,
				    const struct un_handle *fh)
{
	struct server *srv = req->srv;
	char client[INET6_ADDRSTRLEN];
	struct srv_export *ex = server_export_by_handle(srv, fh);
	bool found = false;
	uint32_t id;

	if (ex)
		return private_dir(ex->conf, req) ? NULL : ex;
	if (un_handle_export_id(fh, &id) < 0 ||
	    client_key(&req->peer, client, sizeof(client)) < 0)
		return NULL;
	pthread_mutex_lock(&srv->views->lock);
	ex = view_by_id(srv, id, client, req, &found);
	if (!found)
		ex = reopen_view(srv, id, client, req);
	pthread_mutex_unlock(&srv->views->lock);
	if (ex)
		view_touch(srv, (struct view *)ex); /* ex is its first */
	return ex;
}
