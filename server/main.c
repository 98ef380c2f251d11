/*
 * main.c - unionnfsd(8): options, configuration, daemonizing, and the
 * order in which the parts start and stop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_CONFIG_H
#include "ac_config.h" /* autoconf's, in the build directory: the version */
#endif
#include "gss.h"
#include "log.h"
#include "server.h"
#include "stats.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* configure passes $(localstatedir)/lib/unionnfsd, which make install
 * creates; /var/lib/unionnfsd is what a distribution's build gives. */
#ifndef UNIONNFSD_STATEDIR
#define UNIONNFSD_STATEDIR "/var/lib/unionnfsd"
#endif
#define DEFAULT_CATALOG UNIONNFSD_STATEDIR "/catalog.db"
#define MAX_CLI_EXPORTS 64
/* configure passes $(runstatedir): /run for a distribution's build. */
#ifndef UNIONNFSD_RUNSTATEDIR
#define UNIONNFSD_RUNSTATEDIR "/run"
#endif
#define DEFAULT_CONTROL UNIONNFSD_RUNSTATEDIR "/unionnfsd.sock"

/* An export given on the command line, kept as written so that a reload
 * can build it again next to the re-read file. */
struct cli_export {
	const char *name, *lower, *upper, *work, *clients;
	bool userxattr;
};

struct options {
	bool foreground, debug, use_syslog, no_udp, no_rpcbind, fsck;
	bool portmap;
	bool rebuild_catalog;
	const char *config_file, *check_file;
	const char *listen, *catalog, *pidfile;
	unsigned workers;
	const char *control, *metrics; /* NULL: as the file says */
	int grace; /* -1: not given */
	struct cli_export exports[MAX_CLI_EXPORTS];
	unsigned nexports;
};

enum {
	OPT_CHECK = 256,
	OPT_LISTEN,
	OPT_CATALOG,
	OPT_EXPORT,
	OPT_LOWER,
	OPT_UPPER,
	OPT_WORK,
	OPT_CLIENTS,
	OPT_USERXATTR,
	OPT_PIDFILE,
	OPT_WORKERS,
	OPT_NO_UDP,
	OPT_NO_RPCBIND,
	OPT_GRACE,
	OPT_SYSLOG,
	OPT_CONTROL,
	OPT_METRICS,
	OPT_HELP,
	OPT_VERSION,
	OPT_FSCK,
	OPT_PORTMAP,
	OPT_REBUILD_CATALOG,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", required_argument, NULL, OPT_CHECK },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "catalog", required_argument, NULL, OPT_CATALOG },
	{ "export", required_argument, NULL, OPT_EXPORT },
	{ "lower", required_argument, NULL, OPT_LOWER },
	{ "upper", required_argument, NULL, OPT_UPPER },
	{ "work", required_argument, NULL, OPT_WORK },
	{ "clients", required_argument, NULL, OPT_CLIENTS },
	{ "userxattr", no_argument, NULL, OPT_USERXATTR },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "no-udp", no_argument, NULL, OPT_NO_UDP },
	{ "no-rpcbind", no_argument, NULL, OPT_NO_RPCBIND },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "fsck", no_argument, NULL, OPT_FSCK },
	{ "portmap", no_argument, NULL, OPT_PORTMAP },
	{ "rebuild-catalog", no_argument, NULL, OPT_REBUILD_CATALOG },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: unionnfsd [-df] [-c FILE] [--listen ADDR:PORT] "
		"[--catalog FILE]\n"
		"                 [--export /NAME --lower DIR[:DIR...] "
		"[--upper DIR --work DIR]\n"
		"                  --clients SPEC [--userxattr]] ...\n"
		"                 [--pidfile FILE] [--workers N] [--no-udp] "
		"[--syslog]\n"
		"                 [--no-rpcbind] [--portmap] [--grace SECONDS]\n"
		"                 [--control PATH] [--metrics ADDR:PORT]\n"
		"       unionnfsd --check-config FILE\n"
		"\n"
		"  -c, --config FILE      read the configuration file "
		"(unionnfsd.conf(5))\n"
		"  --check-config FILE    check a configuration file and exit\n"
		"  --fsck                 check and repair the catalog against "
		"the layers, then exit\n"
		"  --rebuild-catalog      move a damaged catalog aside and "
		"build a new one from\n"
		"                         the layers, then exit (every file "
		"handle changes)\n"
		"  -f                     stay in the foreground, log to "
		"stderr\n"
		"  -d                     log debugging messages\n"
		"  --listen ADDR:PORT     TCP and UDP address (default "
		"0.0.0.0:2049; port 0: any)\n"
		"  --catalog FILE         handle catalog (default %s)\n"
		"  --export /NAME         start an export mounted as /NAME; "
		"the options below apply to it\n"
		"  --lower DIR[:DIR...]   read-only layers, top-most first\n"
		"  --upper DIR            writable layer\n"
		"  --work DIR             work directory, on upper's file "
		"system\n"
		"  --clients SPEC         client rules, e.g. "
		"'127.0.0.0/8(rw,no_root_squash) *(ro)'\n"
		"  --userxattr            overlay xattrs in user.overlay.* "
		"instead of trusted.overlay.*\n"
		"  --pidfile FILE         write the process id to FILE\n"
		"  --workers N            worker threads (default: 2 per CPU, "
		"at least 4)\n"
		"  --no-udp               serve TCP only\n"
		"  --no-rpcbind           do not register with the local "
		"rpcbind\n"
		"  --portmap              be the portmapper: answer rpcbind "
		"queries on port 111\n"
		"                         (for hosts without rpcbind; implies "
		"--no-rpcbind)\n"
		"  --grace SECONDS        after a restart, only reclaims "
		"(NLM, NFSv4) for this long (default 90)\n"
		"  --syslog               log to syslog even in the "
		"foreground\n"
		"  --control PATH         control socket for unionnfsctl(8) "
		"(default %s;\n"
		"                         none: no control socket)\n"
		"  --metrics ADDR:PORT    serve Prometheus metrics at "
		"http://ADDR:PORT/metrics\n"
		"                         (a bare PORT listens on 127.0.0.1)\n"
		"  --help                 show this help\n"
		"  --version              show the version\n",
		DEFAULT_CATALOG, DEFAULT_CONTROL);
}

static int parse_number(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end || v == 0 || v > 1024)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_grace(const char *s, int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end || v > 3600)
		return -1;
	*out = (int)v;
	return 0;
}

static const char *option_name(int ch)
{
	const struct option *opt;

	for (opt = long_options; opt->name; opt++)
		if (opt->val == ch)
			return opt->name;
	return "?";
}

/* The --export an option like --lower applies to, or NULL (error). */
static struct cli_export *current_export(struct options *o, const char *opt)
{
	if (o->nexports == 0) {
		fprintf(stderr, "unionnfsd: --%s must follow --export\n",
			opt);
		return NULL;
	}
	return &o->exports[o->nexports - 1];
}

static int export_option(struct options *o, int ch, const char *arg)
{
	struct cli_export *e;

	if (ch == OPT_EXPORT) {
		if (o->nexports == MAX_CLI_EXPORTS) {
			fprintf(stderr, "unionnfsd: too many --export\n");
			return -1;
		}
		o->exports[o->nexports++] = (struct cli_export){ .name = arg };
		return 0;
	}
	e = current_export(o, option_name(ch));
	if (!e)
		return -1;
	switch (ch) {
	case OPT_LOWER:
		e->lower = arg;
		break;
	case OPT_UPPER:
		e->upper = arg;
		break;
	case OPT_WORK:
		e->work = arg;
		break;
	case OPT_CLIENTS:
		e->clients = arg;
		break;
	case OPT_USERXATTR:
		e->userxattr = true;
		break;
	}
	return 0;
}

static void parse_args(struct options *o, int argc, char **argv)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "c:df", long_options, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			o->config_file = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'f':
			o->foreground = true;
			break;
		case OPT_CHECK:
			o->check_file = optarg;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_CATALOG:
			o->catalog = optarg;
			break;
		case OPT_PIDFILE:
			o->pidfile = optarg;
			break;
		case OPT_WORKERS:
			if (parse_number(optarg, &o->workers) < 0) {
				fprintf(stderr, "unionnfsd: bad --workers "
						"\"%s\" (1 to 1024)\n",
					optarg);
				exit(1);
			}
			break;
		case OPT_NO_UDP:
			o->no_udp = true;
			break;
		case OPT_NO_RPCBIND:
			o->no_rpcbind = true;
			break;
		case OPT_GRACE:
			if (parse_grace(optarg, &o->grace) < 0) {
				fprintf(stderr, "unionnfsd: bad --grace \"%s\" "
						"(0 to 3600)\n",
					optarg);
				exit(1);
			}
			break;
		case OPT_SYSLOG:
			o->use_syslog = true;
			break;
		case OPT_CONTROL:
			o->control = optarg;
			break;
		case OPT_METRICS:
			if (metrics_parse_addr(optarg, NULL, NULL) < 0) {
				fprintf(stderr, "unionnfsd: bad --metrics "
						"\"%s\" (ADDR:PORT or PORT)\n",
					optarg);
				exit(1);
			}
			o->metrics = optarg;
			break;
		case OPT_EXPORT:
		case OPT_LOWER:
		case OPT_UPPER:
		case OPT_WORK:
		case OPT_CLIENTS:
		case OPT_USERXATTR:
			if (export_option(o, ch, optarg) < 0)
				exit(1);
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("unionnfsd %s\n", PACKAGE_VERSION);
			exit(0);
		case OPT_FSCK:
			o->fsck = true;
			break;
		case OPT_PORTMAP:
			o->portmap = true;
			break;
		case OPT_REBUILD_CATALOG:
			o->rebuild_catalog = true;
			break;
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "unionnfsd: unexpected argument \"%s\"\n",
			argv[optind]);
		usage(stderr);
		exit(1);
	}
}

/* ---- building the configuration --------------------------------------- */

static int add_cli_export(struct config *cfg, const struct cli_export *e,
			  FILE *errf)
{
	struct export_conf ex = { .versions = VERS_NFS3 | VERS_NFS4 }, *n;
	char *lowers, *dir, *save = NULL;
	int errors = 0;

	ex.u.name = strdup(e->name);
	ex.u.upper = e->upper ? strdup(e->upper) : NULL;
	ex.u.work = e->work ? strdup(e->work) : NULL;
	ex.u.userxattr = e->userxattr;
	lowers = e->lower ? strdup(e->lower) : NULL;
	for (dir = lowers ? strtok_r(lowers, ":", &save) : NULL; dir;
	     dir = strtok_r(NULL, ":", &save)) {
		if (ex.u.nlower == UN_MAX_LOWER) {
			fprintf(errf, "--lower: more than %d layers\n",
				UN_MAX_LOWER);
			errors++;
			break;
		}
		ex.u.lower[ex.u.nlower++] = strdup(dir);
	}
	free(lowers);
	if (e->clients)
		errors += config_parse_clients(&ex, e->clients, "--clients", 0,
					       errf);
	n = realloc(cfg->exports, (cfg->nexports + 1) * sizeof(*n));
	if (!n) {
		fprintf(errf, "out of memory\n");
		return errors + 1;
	}
	cfg->exports = n;
	n[cfg->nexports++] = ex;
	return errors;
}

/*
 * The file (if any), then the command line on top of it.  Used at start
 * and again for every reload.  Returns NULL after reporting errors.
 */
static struct config *build_config(const struct options *o, FILE *errf)
{
	struct config *cfg = malloc(sizeof(*cfg));
	int errors = 0;
	unsigned i;

	if (!cfg) {
		fprintf(errf, "unionnfsd: out of memory\n");
		return NULL;
	}
	config_init(cfg);
	if (o->config_file)
		errors += config_parse_file(cfg, o->config_file, errf);
	if (o->listen && config_parse_listen(cfg, o->listen) < 0) {
		fprintf(errf, "--listen: bad address \"%s\"\n", o->listen);
		errors++;
	}
	if (o->catalog) {
		free(cfg->catalog);
		cfg->catalog = strdup(o->catalog);
	}
	if (!cfg->catalog)
		cfg->catalog = strdup(DEFAULT_CATALOG);
	if (o->pidfile) {
		free(cfg->pidfile);
		cfg->pidfile = strdup(o->pidfile);
	}
	if (o->workers)
		cfg->workers = o->workers;
	if (o->no_udp)
		cfg->udp = false;
	if (o->no_rpcbind)
		cfg->rpcbind = false;
	if (o->portmap) { /* we are the portmapper: nobody to register with */
		cfg->portmap = true;
		cfg->rpcbind = false;
	}
	if (o->grace >= 0)
		cfg->grace = (unsigned)o->grace;
	if (o->debug)
		cfg->log_level = LOG_DEBUG;
	if (o->control) {
		free(cfg->control);
		cfg->control = strdup(o->control);
	}
	if (o->metrics) {
		free(cfg->metrics);
		cfg->metrics = strdup(o->metrics);
	}
	for (i = 0; i < o->nexports; i++)
		errors += add_cli_export(cfg, &o->exports[i], errf);
	if (!o->config_file || cfg->file) /* the file could be read */
		errors += config_validate(cfg, errf);
	if (errors || !cfg->catalog) {
		config_free(cfg);
		free(cfg);
		return NULL;
	}
	return cfg;
}

/* SIGHUP: errors go to the log, since stderr may be gone. */
static struct config *reload_config(void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *errf = open_memstream(&text, &len);
	struct config *cfg;
	char *line, *save = NULL;

	if (!errf) {
		log_err("reload: out of memory");
		return NULL;
	}
	cfg = build_config(arg, errf);
	fclose(errf);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		log_err("reload: %s", line);
	if (!cfg)
		log_err("reload: configuration has errors; keeping the "
			"running one");
	free(text);
	return cfg;
}

/* unionnfsctl reload: errors to the caller (the control socket). */
static struct config *parse_config(void *arg, FILE *errf)
{
	return build_config(arg, errf);
}

static int check_config(const char *path)
{
	struct config cfg;
	int errors;

	config_init(&cfg);
	errors = config_parse_file(&cfg, path, stderr);
	if (cfg.file) /* the file could be read */
		errors += config_validate(&cfg, stderr);
	config_free(&cfg);
	if (errors)
		return 1;
	printf("%s: OK\n", path);
	return 0;
}

/* ---- daemon ----------------------------------------------------------- */

/*
 * Fork early and let the parent wait until the child is serving, so that
 * "unionnfsd -c FILE" fails visibly (exit status, message on the terminal)
 * when the port is taken or an export does not open.
 */
static int daemon_start(void)
{
	int p[2];
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("unionnfsd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("unionnfsd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		log_warn("setsid: %s", strerror(errno));
	return p[1];
}

static void daemon_ready(int fd, const struct config *cfg)
{
	int null = open("/dev/null", O_RDWR);

	if (chdir("/") < 0)
		log_warn("chdir /: %s", strerror(errno));
	log_init("unionnfsd", cfg->log_level, 1);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(fd, "", 1) != 1)
		log_warn("cannot tell the parent we are ready");
	close(fd);
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		log_err("pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0) {
		log_err("pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The default catalog lives in a directory that may not exist yet. */
static void make_catalog_dir(const char *catalog)
{
	char *copy = strdup(catalog);

	if (copy && strcmp(catalog, DEFAULT_CATALOG) == 0 &&
	    mkdir(dirname(copy), 0700) < 0 && errno != EEXIST)
		log_warn("mkdir for %s: %s", catalog, strerror(errno));
	free(copy);
}

/*
 * The control socket and the metrics endpoint, on the transport's loop.
 * A control socket or metrics address that was asked for must work; the
 * default control socket may be missing (another daemon holds it, or
 * $(runstatedir) does not exist), which only costs unionnfsctl.
 */
static int open_observers(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	const char *path = cfg->control ? cfg->control : DEFAULT_CONTROL;

	if (strcmp(path, "none") != 0) {
		srv->control = control_open(srv, path, cfg->control != NULL);
		if (!srv->control && cfg->control)
			return -1;
	}
	if (cfg->metrics) {
		srv->metrics = metrics_open(srv, cfg->metrics);
		if (!srv->metrics)
			return -1;
	}
	return 0;
}

static int serve(struct server *srv, const struct options *o, int ready_fd)
{
	char err[512] = "";
	struct config *cfg = srv->cfg;
	bool pidfile = false, registered = false;
	int rc = 1;

	srv->workers = workers_start(cfg->workers);
	if (!srv->workers) {
		log_err("cannot start worker threads");
		return 1;
	}
	if (!transport_open(srv, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	nlm_start(srv);
	nfs4_start(srv);
	/* Before the pidfile and the ready signal: whoever waits for those
	 * (systemd, scripts) may look the daemon up through rpcbind. */
	if (cfg->rpcbind)
		registered = rpcbind_register(
				     srv, transport_port(srv->transport)) == 0;
	if (cfg->portmap)
		portmap_start(srv);
	if (open_observers(srv) < 0)
		goto out;
	if (cfg->pidfile) {
		if (write_pidfile(cfg->pidfile) < 0)
			goto out;
		pidfile = true;
	}
	if (ready_fd >= 0)
		daemon_ready(ready_fd, cfg);
	sd_notify_state("READY=1");
	rc = transport_run(srv->transport) < 0 ? 1 : 0;
	sd_notify_state("STOPPING=1");
out:
	if (registered)
		rpcbind_unregister(srv);
	/* Requests already taken finish, and their replies go out. */
	workers_stop(srv->workers);
	srv->workers = NULL;
	control_close(srv->control);
	srv->control = NULL;
	metrics_close(srv->metrics);
	srv->metrics = NULL;
	nlm_shutdown();
	transport_close(srv->transport);
	if (pidfile)
		unlink(srv->cfg->pidfile);
	return rc;
}

/* --fsck: every export of the configuration, with the daemon stopped. */
static int run_fsck(const struct config *cfg)
{
	struct un_catalog *cat;
	char err[512];
	int found = 0, failed = 0;

	if (un_catalog_open(cfg->catalog, &cat, err, sizeof(err)) < 0) {
		fprintf(stderr, "unionnfsd: %s\n", err);
		return 2;
	}
	for (unsigned i = 0; i < cfg->nexports; i++) {
		struct un_export *ex;
		int rc = un_export_open(cat, &cfg->exports[i].u, &ex, err,
					sizeof(err));

		if (rc == 0) {
			rc = un_fsck(ex, true, stdout);
			un_export_close(ex);
		}
		if (rc < 0) {
			fprintf(stderr, "unionnfsd: %s: %s\n",
				cfg->exports[i].u.name,
				*err ? err : strerror(-rc));
			failed++;
		} else {
			found += rc;
		}
	}
	un_catalog_close(cat);
	printf("unionnfsd: fsck: %d finding%s repaired%s\n", found,
	       found == 1 ? "" : "s", failed ? ", some exports failed" : "");
	return failed ? 2 : 0;
}

/*
 * --rebuild-catalog: the old catalog (damaged, or just unwanted) goes
 * aside, never deleted, and a new one gets a row for every object of
 * every export, with new handles.  The key stays: old handles then
 * answer STALE, which makes clients look their files up again.
 */
static int run_rebuild(const struct config *cfg)
{
	struct un_catalog *cat;
	char err[1024] = "", moved[UN_PATH_MAX + 64];
	int failed = 0, rc;

	/* Only a catalog its checks refuse (-EUCLEAN): a healthy one is
	 * not thrown away by a slip of the keyboard. */
	rc = un_catalog_open(cfg->catalog, &cat, err, sizeof(err));
	if (rc == 0) {
		un_catalog_close(cat);
		fprintf(stderr, "unionnfsd: %s passes its checks; nothing to "
				"rebuild (move it away first to start over: "
				"every handle changes)\n", cfg->catalog);
		return 1;
	}
	if (rc != -EUCLEAN) {
		fprintf(stderr, "unionnfsd: %s\n", err);
		return 2;
	}
	rc = un_catalog_move_aside(cfg->catalog, moved, sizeof(moved));
	if (rc < 0) {
		fprintf(stderr, "unionnfsd: cannot move %s aside: %s\n",
			cfg->catalog, strerror(-rc));
		return 2;
	}
	if (rc > 0)
		printf("unionnfsd: old catalog kept as %s\n", moved);
	if (un_catalog_open(cfg->catalog, &cat, err, sizeof(err)) < 0) {
		fprintf(stderr, "unionnfsd: %s\n", err);
		return 2;
	}
	for (unsigned i = 0; i < cfg->nexports; i++) {
		struct un_export *ex;
		long n = un_export_open(cat, &cfg->exports[i].u, &ex, err,
					sizeof(err));

		if (n == 0) {
			n = un_rebuild(ex, stdout);
			un_export_close(ex);
		}
		if (n < 0) {
			fprintf(stderr, "unionnfsd: %s: %s\n",
				cfg->exports[i].u.name,
				*err ? err : strerror((int)-n));
			failed++;
		} else {
			printf("unionnfsd: %s: %ld objects catalogued\n",
			       cfg->exports[i].u.name, n);
		}
	}
	un_catalog_close(cat);
	if (failed)
		return 2;
	printf("unionnfsd: catalog %s rebuilt.  Every file handle changed: "
	       "clients must unmount and mount again (old handles answer "
	       "STALE)\n", cfg->catalog);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .grace = -1 };
	struct server srv = { 0 };
	struct config *cfg;
	char err[512] = "", *abs_config = NULL;
	int ready_fd = -1, rc;

	parse_args(&o, argc, argv);
	if (o.check_file)
		return check_config(o.check_file);
	if (!o.config_file && o.nexports == 0) {
		fprintf(stderr, "unionnfsd: no configuration: give -c FILE "
				"or --export\n");
		usage(stderr);
		return 1;
	}
	/* Reloads happen after the daemon moved to "/". */
	if (o.config_file && (abs_config = realpath(o.config_file, NULL)))
		o.config_file = abs_config;
	cfg = build_config(&o, stderr);
	if (!cfg) {
		free(abs_config);
		return 1;
	}
	log_init("unionnfsd", cfg->log_level, o.use_syslog);
	if (o.fsck || o.rebuild_catalog) {
		rc = o.fsck ? run_fsck(cfg) : run_rebuild(cfg);
		config_free(cfg);
		free(cfg);
		free(abs_config);
		return rc;
	}
	if (!o.foreground)
		ready_fd = daemon_start();
	signal(SIGPIPE, SIG_IGN);
	make_catalog_dir(cfg->catalog);
	if (server_open(&srv, cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		config_free(cfg);
		free(cfg);
		free(abs_config);
		return 1;
	}
	if (o.config_file) {
		srv.load_config = reload_config;
		srv.parse_config = parse_config;
		srv.load_arg = &o;
	}
	if (stats_init() < 0)
		log_warn("statistics: too many program versions; not counted");
	rc = serve(&srv, &o, ready_fd);
	stats_fini();
	rpc_drc_clear();
	gss_clear(); /* RPCSEC_GSS contexts */
	log_ratelimit_flush(); /* what rate limiting held back, summed up */
	server_close(&srv); /* flushes the catalog */
	log_notice("stopped");
	free(abs_config);
	return rc;
}
