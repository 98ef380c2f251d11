/*
 * server.c - the daemon's state: the catalog, the open exports, and the
 * configuration reload that swaps client rules under running clients.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "server.h"

struct srv_export *server_export_by_handle(struct server *srv,
					   const struct un_handle *fh)
{
	uint32_t id;
	unsigned i;

	if (un_handle_export_id(fh, &id) < 0)
		return NULL;
	for (i = 0; i < srv->nexports; i++)
		if (srv->exports[i].id == id)
			return &srv->exports[i];
	return NULL;
}

struct srv_export *server_export_by_name(struct server *srv, const char *name)
{
	unsigned i;

	for (i = 0; i < srv->nexports; i++)
		if (strcmp(srv->exports[i].conf->u.name, name) == 0)
			return &srv->exports[i];
	return NULL;
}

static void make_write_verf(struct server *srv)
{
	uint32_t boot = (uint32_t)srv->boot_time, rnd;

	/* The boot time alone repeats if the clock is set back; the random
	 * half keeps two boots apart anyway. */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)clock();
	memcpy(srv->write_verf, &boot, 4);
	memcpy(srv->write_verf + 4, &rnd, 4);
}

static int open_exports(struct server *srv, const struct config *cfg,
			struct srv_export **out, char *err, size_t errlen)
{
	struct srv_export *ex = calloc(cfg->nexports ? cfg->nexports : 1,
				       sizeof(*ex));
	char why[256];
	unsigned i;
	int rc;

	if (!ex) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < cfg->nexports; i++) {
		ex[i].conf = &cfg->exports[i];
		why[0] = '\0';
		rc = un_export_open(srv->cat, &cfg->exports[i].u, &ex[i].ux,
				    why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "export %s: %s",
				 cfg->exports[i].u.name,
				 why[0] ? why : strerror(-rc));
			while (i-- > 0)
				un_export_close(ex[i].ux);
			free(ex);
			return rc;
		}
		ex[i].id = un_export_id(ex[i].ux);
	}
	*out = ex;
	return 0;
}

int server_open(struct server *srv, struct config *cfg, char *err,
		size_t errlen)
{
	pthread_rwlockattr_t attr;
	char why[256] = "";
	int rc;

	srv->cfg = cfg;
	srv->boot_time = (uint64_t)time(NULL);
	make_write_verf(srv);
	/* A reload must not wait behind an endless stream of requests. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&srv->lock, &attr);
	pthread_rwlockattr_destroy(&attr);

	srv->views = views_create();
	if (!srv->views) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = un_catalog_open(cfg->catalog, &srv->cat, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "catalog %s: %s", cfg->catalog,
			 why[0] ? why : strerror(-rc));
		srv->cat = NULL;
		goto fail;
	}
	rc = open_exports(srv, cfg, &srv->exports, err, errlen);
	if (rc < 0) {
		un_catalog_close(srv->cat);
		srv->cat = NULL;
		goto fail;
	}
	srv->nexports = cfg->nexports;
	return 0;
fail:
	views_destroy(srv->views);
	srv->views = NULL;
	return rc;
}

void server_close(struct server *srv)
{
	unsigned i;

	views_destroy(srv->views);
	srv->views = NULL;
	for (i = 0; i < srv->nexports; i++)
		un_export_close(srv->exports[i].ux);
	free(srv->exports);
	srv->exports = NULL;
	srv->nexports = 0;
	un_catalog_close(srv->cat);
	srv->cat = NULL;
	if (srv->cfg) {
		config_free(srv->cfg);
		free(srv->cfg);
		srv->cfg = NULL;
	}
	pthread_rwlock_destroy(&srv->lock);
}

/* ---- reload ----------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Same name and same layers: the open export can stay. */
static bool same_layers(const struct un_export_conf *a,
			const struct un_export_conf *b)
{
	unsigned i;

	if (!str_eq(a->name, b->name) || a->nlower != b->nlower ||
	    !str_eq(a->upper, b->upper) || !str_eq(a->work, b->work) ||
	    a->userxattr != b->userxattr ||
	    a->redirect_dir_off != b->redirect_dir_off ||
	    a->metacopy != b->metacopy)
		return false;
	for (i = 0; i < a->nlower; i++)
		if (!str_eq(a->lower[i], b->lower[i]))
			return false;
	return true;
}

static struct srv_export *find_reusable(struct server *srv,
					const struct export_conf *conf,
					bool *taken)
{
	unsigned i;

	for (i = 0; i < srv->nexports; i++)
		if (!taken[i] && same_layers(&srv->exports[i].conf->u, &conf->u)) {
			taken[i] = true;
			return &srv->exports[i];
		}
	return NULL;
}

static void warn_static_changes(const struct config *old,
				const struct config *cfg)
{
	if (old->listen_len != cfg->listen_len ||
	    memcmp(&old->listen, &cfg->listen, cfg->listen_len) != 0 ||
	    !str_eq(old->catalog, cfg->catalog) || old->workers != cfg->workers ||
	    old->udp != cfg->udp || old->max_record != cfg->max_record)
		log_warn("reload: listen, catalog, workers, udp and "
			 "max-record changes take effect after a restart");
}

/*
 * Build the new export table beside the old one.  Exports whose layers
 * changed are opened anew; one that fails to open is left out (logged)
 * rather than keeping every client from the new rules.
 */
static struct srv_export *reload_exports(struct server *srv,
					 const struct config *cfg,
					 unsigned *n, bool *taken)
{
	struct srv_export *ex = calloc(cfg->nexports + 1, sizeof(*ex)), *old;
	char why[256];
	unsigned i;
	int rc;

	if (!ex)
		return NULL;
	*n = 0;
	for (i = 0; i < cfg->nexports; i++) {
		const struct export_conf *conf = &cfg->exports[i];

		old = find_reusable(srv, conf, taken);
		if (old) {
			ex[*n] = *old;
		} else {
			why[0] = '\0';
			rc = un_export_open(srv->cat, &conf->u, &ex[*n].ux, why,
					    sizeof(why));
			if (rc < 0) {
				log_err("reload: export %s: %s", conf->u.name,
					why[0] ? why : strerror(-rc));
				continue;
			}
			ex[*n].id = un_export_id(ex[*n].ux);
		}
		ex[*n].conf = conf;
		(*n)++;
	}
	return ex;
}

void server_reload(struct server *srv)
{
	struct srv_export *ex, *old_ex;
	struct config *cfg, *old_cfg;
	unsigned n, old_n, i;
	bool *taken;

	if (!srv->load_config) {
		log_notice("reload: no configuration file; nothing to do");
		return;
	}
	cfg = srv->load_config(srv->load_arg);
	if (!cfg)
		return; /* the loader said why; keep the running config */
	taken = calloc(srv->nexports + 1, sizeof(*taken));
	ex = taken ? reload_exports(srv, cfg, &n, taken) : NULL;
	if (!ex) {
		log_err("reload: out of memory");
		free(taken);
		config_free(cfg);
		free(cfg);
		return;
	}
	warn_static_changes(srv->cfg, cfg);

	pthread_rwlock_wrlock(&srv->lock);
	old_ex = srv->exports;
	old_n = srv->nexports;
	old_cfg = srv->cfg;
	srv->exports = ex;
	srv->nexports = n;
	srv->cfg = cfg;
	/* Views of kept exports move to the new rules, others close. */
	views_reload(srv);
	pthread_rwlock_unlock(&srv->lock);

	for (i = 0; i < old_n; i++)
		if (!taken[i])
			un_export_close(old_ex[i].ux);
	free(taken);
	free(old_ex);
	config_free(old_cfg);
	free(old_cfg);
	log_notice("reloaded configuration: %u export%s", n,
		   n == 1 ? "" : "s");
}
