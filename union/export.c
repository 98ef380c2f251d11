/*
 * export.c - attach a layered export to the catalog; root and statfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"

static int open_layer(struct un_layer *ly, const char *path, const char *what,
		      char *err, size_t errlen)
{
	struct stat st;
	int rc;

	ly->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ly->fd < 0 || fstat(ly->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s layer %s: %s", what, path,
			 strerror(errno));
		return rc;
	}
	ly->dev = st.st_dev;
	ly->path = strdup(path);
	return ly->path ? 0 : -ENOMEM;
}

static int check_conf(const struct un_export_conf *conf, char *err,
		      size_t errlen)
{
	if (!conf->name || !*conf->name) {
		snprintf(err, errlen, "export without a name");
		return -EINVAL;
	}
	if (conf->nlower < 1 || conf->nlower > UN_MAX_LOWER) {
		snprintf(err, errlen, "%s: needs 1 to %d lower layers",
			 conf->name, UN_MAX_LOWER);
		return -EINVAL;
	}
	if (conf->upper && !conf->work) {
		snprintf(err, errlen, "%s: an upper layer needs a work dir",
			 conf->name);
		return -EINVAL;
	}
	return 0;
}

static int open_layers(struct un_export *ex, const struct un_export_conf *c,
		       char *err, size_t errlen)
{
	struct stat st;
	unsigned i;
	int rc;

	ex->has_upper = c->upper != NULL;
	if (ex->has_upper &&
	    (rc = open_layer(&ex->layers[UPPER], c->upper, "upper", err,
			     errlen)) < 0)
		return rc;
	ex->nlayers = ex->has_upper ? 1 : 0;
	for (i = 0; i < c->nlower; i++, ex->nlayers++)
		if ((rc = open_layer(&ex->layers[ex->nlayers], c->lower[i],
				     "lower", err, errlen)) < 0)
			return rc;
	if (!ex->has_upper)
		return 0;
	ex->workfd = open(c->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ex->workfd < 0 || fstat(ex->workfd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "work dir %s: %s", c->work,
			 strerror(errno));
		return rc;
	}
	if (st.st_dev != ex->layers[UPPER].dev) {
		snprintf(err, errlen, "work dir %s is not on the file system "
			 "of upper %s", c->work, c->upper);
		return -EXDEV;
	}
	return 0;
}

int un_export_open(struct un_catalog *cat, const struct un_export_conf *conf,
		   struct un_export **out, char *err, size_t errlen)
{
	struct un_export *ex;
	pthread_rwlockattr_t ra;
	uint8_t seed[12];
	int rc;

	*out = NULL;
	if ((rc = check_conf(conf, err, errlen)) < 0)
		return rc;
	if (!(ex = calloc(1, sizeof(*ex)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ex->cat = cat;
	ex->workfd = -1;
	for (unsigned i = 0; i < UN_MAX_LAYERS; i++)
		ex->layers[i].fd = -1;
	ex->userxattr = conf->userxattr;
	ex->redirect_dir = !conf->redirect_dir_off;
	ex->metacopy = conf->metacopy;
	pthread_mutex_init(&ex->tmp_lock, NULL);
	/* writers first: a stream of lookups must not starve a rename */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&ex->ns_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	rc = -ENOMEM;
	if (!(ex->name = strdup(conf->name)) || fdc_create(ex) < 0 ||
	    rdc_create(ex) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((rc = open_layers(ex, conf, err, errlen)) < 0)
		goto fail;
	rc = cat_export_attach(cat, conf->name, &ex->id, &ex->root_oid);
	if (rc < 0) {
		snprintf(err, errlen, "%s: catalog error", conf->name);
		goto fail;
	}
	memcpy(seed, "readdirverf", 11);
	seed[11] = (uint8_t)ex->id;
	ex->verf = siphash24_u64(cat->key, seed, sizeof(seed)) | 1;
	if (ex->has_upper)
		work_cleanup(ex);
	if (ex->has_upper &&
	    ((rc = dur_add_fs(cat->dur, ex->layers[UPPER].fd)) < 0 ||
	     (rc = cat_intents_resolve(ex)) < 0)) {
		snprintf(err, errlen, "%s: cannot recover: %s", conf->name,
			 strerror(-rc));
		goto fail;
	}
	*out = ex;
	return 0;
fail:
	un_export_close(ex);
	return rc;
}

void un_export_close(struct un_export *ex)
{
	unsigned i;

	if (!ex)
		return;
	fdc_destroy(ex);
	rdc_destroy(ex);
	for (i = 0; i < UN_MAX_LAYERS; i++) {
		if (ex->layers[i].fd >= 0)
			close(ex->layers[i].fd);
		free(ex->layers[i].path);
	}
	if (ex->workfd >= 0)
		close(ex->workfd);
	pthread_rwlock_destroy(&ex->ns_lock);
	pthread_mutex_destroy(&ex->tmp_lock);
	free(ex->name);
	free(ex);
}

uint32_t un_export_id(const struct un_export *ex)
{
	return ex->id;
}

bool un_export_readonly(const struct un_export *ex)
{
	return !ex->has_upper;
}

int un_root(struct un_export *ex, struct un_handle *out)
{
	int rc = handle_make(ex, ex->root_oid, out);

	return rc < 0 ? rc : cat_sync(ex->cat);
}

int un_statfs(struct un_export *ex, const struct un_handle *fh,
	      struct un_statfs *st)
{
	struct statvfs sv;
	struct un_obj o;
	int rc;

	rc = obj_resolve_shared(ex, fh, &o);
	if (rc < 0)
		return rc;
	obj_release(&o);
	/* the top layer: where new data goes */
	if (fstatvfs(ex->layers[0].fd, &sv) < 0)
		return -errno;
	st->tbytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	st->fbytes = (uint64_t)sv.f_bfree * sv.f_frsize;
	st->abytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	st->tfiles = sv.f_files;
	st->ffiles = sv.f_ffree;
	st->afiles = sv.f_favail;
	st->name_max = sv.f_namemax < UN_NAME_MAX ? (uint32_t)sv.f_namemax
						  : UN_NAME_MAX;
	return 0;
}
