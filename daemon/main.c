/*
 * main.c - mta-stsd: setup, serve, reload, drain.
 *
 * Phases, kept apart so hardening can slot in between them:
 *   1. options, logging, config (or the embedded defaults);
 *   2. bind the listeners (may need root: port < 1024, socket dirs);
 *   3. drop privileges for good;
 *   4. open the cache, start the resolver, serve;
 *   5. on SIGTERM stop accepting and drain in-flight lookups; on SIGHUP
 *      reload the config, keeping the old one if the new one is broken.
 * The command line is postfix-mta-sts-resolver's (-c -v -l -p -u -g).
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "lookup.h"
#include "metrics.h"
#include "mtasts/mtasts.h"
#include "mtasts/resolver.h"
#include "server.h"
#include "system.h"

/* Discoveries go on in the background after a lookup gives up. */
#define DISCOVERY_FETCH_TIMEOUT_MS 30000

struct daemon {
	struct event_base *base;
	const char *config_path; /* NULL: embedded defaults */
	struct sts_config *config;
	/* The config the listener, cache and resolver were built from: a
	 * reload compares with it, as those parts keep its values. */
	struct sts_config *boot;
	struct sts_cache *cache;
	struct sts_resolver *resolver;
	struct server *server;
	struct metrics *metrics;
	struct lookup_service svc;
	struct event *ev_term, *ev_int, *ev_hup, *ev_drain;
	bool draining;
	int64_t drain_deadline_ms;
	unsigned postfix_version;
};

struct options {
	const char *config;
	const char *verbosity;
	const char *logfile;
	const char *pidfile;
	const char *user, *group;
	const char *import_pmsr;
	bool check_config, dump_config, config_doc;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: mta-stsd [-c FILE] [-v LEVEL] [-l LOGFILE] [-p PIDFILE]\n"
	    "                [-u USER] [-g GROUP] [--import-pmsr-cache FILE]\n"
	    "       mta-stsd --check-config [-c FILE]\n"
	    "       mta-stsd --dump-config [-c FILE]\n"
	    "LEVEL is debug, info, warn, error or fatal.  Without -c the\n"
	    "daemon reads %s when it exists, else runs on its\n"
	    "embedded defaults.\n",
	    STS_CONFIG_DEFAULT_PATH);
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"verbosity", required_argument, NULL, 'v'},
	    {"logfile", required_argument, NULL, 'l'},
	    {"pidfile", required_argument, NULL, 'p'},
	    {"user", required_argument, NULL, 'u'},
	    {"group", required_argument, NULL, 'g'},
	    {"disable-uvloop", no_argument, NULL, 'U'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"dump-config", no_argument, NULL, 'D'},
	    {"import-pmsr-cache", required_argument, NULL, 'I'},
	    {"config-doc", no_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:v:l:p:u:g:h", longopts,
		    NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'v':
			o->verbosity = optarg;
			break;
		case 'l':
			o->logfile = optarg;
			break;
		case 'p':
			o->pidfile = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'g':
			o->group = optarg;
			break;
		case 'U':
			break; /* the peer's Python option: nothing to do */
		case 'C':
			o->check_config = true;
			break;
		case 'D':
			o->dump_config = true;
			break;
		case 'I':
			o->import_pmsr = optarg;
			break;
		case 'K':
			o->config_doc = true;
			break;
		case 'V':
			printf("mta-stsd %s\n", MTASTS_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The file named with -c must exist; the default one may be absent. */
static int
load_config(const char *path, bool explicit, struct sts_config **ret)
{
	struct sts_diag diag = {0};
	int r = sts_config_load_file(path, ret, &diag);

	if (r == STS_ENOTFOUND && !explicit) {
		sts_log(STS_LOG_INFO,
		    "no %s: running on the embedded defaults", path);
		return sts_config_defaults(ret);
	}
	if (r != STS_OK)
		sts_log(STS_LOG_ERROR, "%s", diag.message);
	return r;
}

static void
resolver_config(const struct sts_config *cfg, struct sts_cache *cache,
    struct sts_resolver_config *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->discover.dns.forwarders = (const char *const *)cfg->resolver.items;
	rc->discover.dns.n_forwarders = cfg->resolver.n;
	rc->discover.dns.dnssec = cfg->dnssec == STS_CONFIG_DNSSEC_VALIDATE;
	rc->discover.dns.trust_anchor_file = cfg->trust_anchor_file;
	rc->discover.fetch.ca_file = cfg->ca_file;
	rc->discover.fetch.connect_to =
	    (const char *const *)cfg->connect_to.items;
	rc->discover.fetch.n_connect_to = cfg->connect_to.n;
	rc->discover.fetch.timeout_ms = DISCOVERY_FETCH_TIMEOUT_MS;
	rc->discover.fetch.user_agent = "mta-stsd/" MTASTS_VERSION;
	rc->cache = cache;
	rc->grace_s = (int64_t)(cfg->cache_grace_ms / 1000);
	rc->negative_ttl_s = (int64_t)(cfg->cache.negative_ttl_ms / 1000);
	rc->lookup_timeout_ms = (unsigned)cfg->default_zone.timeout_ms;
	rc->proactive_refresh = cfg->proactive_policy_fetching.enabled;
	rc->refresh_interval_s =
	    (int64_t)(cfg->proactive_policy_fetching.interval_ms / 1000);
	rc->refresh_concurrency =
	    cfg->proactive_policy_fetching.concurrency_limit;
	rc->max_domains = cfg->cache.cache_size;
	rc->dane = cfg->dnssec == STS_CONFIG_DNSSEC_VALIDATE;
}

static void
on_resolver_event(const struct sts_resolver_event *ev, void *arg)
{
	const struct sts_discovery *d = ev->discovery;

	(void)arg;
	switch (ev->kind) {
	case STS_EV_FETCHED:
		sts_log(STS_LOG_INFO,
		    "policy domain=%s id=%s mode=%s max_age=%u source=fetch "
		    "ms=%u",
		    ev->domain, d->id, ev->cached ? sts_mode_name(ev->cached->mode) : "-",
		    ev->cached ? ev->cached->max_age : 0, d->elapsed_ms);
		break;
	case STS_EV_UNCHANGED:
		sts_log(STS_LOG_DEBUG, "policy domain=%s id=%s unchanged",
		    ev->domain, ev->detail);
		break;
	case STS_EV_FETCH_FAILED:
		sts_log(STS_LOG_INFO,
		    "policy domain=%s id=%s result=%s reason='%s'",
		    ev->domain, d->id, d->tlsrpt_result ? d->tlsrpt_result : "-",
		    ev->detail);
		break;
	case STS_EV_REFRESH_FAILED:
		/* RFC 8461 §10.2: tell the operator long before expiry. */
		sts_log(ev->cached && ev->cached->mode == STS_MODE_NONE
			    ? STS_LOG_INFO
			    : STS_LOG_WARN,
		    "refresh failed domain=%s mode=%s result=%s reason='%s', "
		    "using the cached policy",
		    ev->domain,
		    ev->cached ? sts_mode_name(ev->cached->mode) : "-",
		    d->tlsrpt_result ? d->tlsrpt_result : "-", ev->detail);
		break;
	case STS_EV_STORE_ERROR:
		sts_log(STS_LOG_WARN,
		    "cache store failed for domain=%s: %s, serving from memory",
		    ev->domain, ev->detail);
		break;
	case STS_EV_CORRUPT_ENTRY:
		sts_log(STS_LOG_WARN, "cache entry for domain=%s: %s",
		    ev->domain, ev->detail);
		break;
	case STS_EV_DANE:
		sts_log(ev->dane->status == STS_DANE_FAILED ? STS_LOG_WARN
		    : ev->dane->status == STS_DANE_APPLIES  ? STS_LOG_INFO
							    : STS_LOG_DEBUG,
		    "dane domain=%s state=%s ttl=%u reason='%s'", ev->domain,
		    sts_dane_status_name(ev->dane->status), ev->dane->ttl,
		    ev->detail);
		break;
	}
}

/* Open the cache the config names; unimplemented backends fall back. */
static int
open_cache(struct daemon *dm)
{
	const struct sts_config *cfg = dm->config;
	struct sts_cache_config cc = {0};
	struct sts_diag diag = {0};
	int r;

	cc.max_entries = cfg->cache.cache_size;
	cc.timeout_ms = (unsigned)cfg->cache.timeout_ms;
	switch (cfg->cache.type) {
	case STS_CONFIG_CACHE_INTERNAL:
		cc.type = "internal";
		break;
	case STS_CONFIG_CACHE_SQLITE:
		cc.type = "sqlite";
		cc.filename = cfg->cache.filename;
		break;
	case STS_CONFIG_CACHE_REDIS:
		cc.type = "redis";
		cc.url = cfg->cache.url;
		cc.timeout_ms = (unsigned)cfg->cache.socket_timeout_ms;
		break;
	case STS_CONFIG_CACHE_REDIS_SENTINEL:
	case STS_CONFIG_CACHE_POSTGRES:
		sts_log(STS_LOG_WARN,
		    "cache type %s is not implemented: using an sqlite cache "
		    "at %s instead",
		    sts_config_cache_type_name(cfg->cache.type),
		    cfg->cache.filename ? cfg->cache.filename : "(default)");
		cc.type = "sqlite";
		cc.filename = cfg->cache.filename;
		break;
	}
	if (cc.filename != NULL) {
		/* The state directory of the embedded default may not
		 * exist yet on a fresh machine: make it (one level). */
		char dir[PATH_MAX];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", cc.filename);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST)
				sts_log(STS_LOG_WARN, "cannot create %s: %s",
				    dir, strerror(errno));
		}
	}
	r = sts_cache_new(dm->base, &cc, &dm->cache, &diag);
	if (r != STS_OK) {
		sts_log(STS_LOG_ERROR, "cache: %s",
		    diag.message[0] ? diag.message : sts_strerror(r));
		return r;
	}
	sts_log(STS_LOG_INFO, "cache: %s%s%s", cc.type,
	    cc.filename ? " " : "", cc.filename ? cc.filename : "");
	return STS_OK;
}

static int
start_listeners(struct daemon *dm, long uid, long gid)
{
	const struct sts_config *cfg = dm->config;
	struct server_config sc = {cfg->max_connections, cfg->idle_timeout_ms};
	struct sts_diag diag = {0};
	int r;

	r = server_new(dm->base, &sc, &lookup_ops, &dm->svc, &dm->server);
	if (r != STS_OK)
		return r;
	/* The socket's owner: socket_owner/socket_group when set, else
	 * the user the daemon runs as (-u/-g). */
	if (cfg->path != NULL &&
	    (cfg->socket_owner != NULL || cfg->socket_group != NULL)) {
		long ouid = -1, ogid = -1;

		if (system_lookup_ids(cfg->socket_owner, cfg->socket_group,
			&ouid, &ogid, &diag) != STS_OK) {
			sts_log(STS_LOG_ERROR, "%s", diag.message);
			return STS_EINVAL;
		}
		if (cfg->socket_owner != NULL)
			uid = ouid;
		gid = ogid >= 0 ? ogid : gid;
	}
	if (cfg->path != NULL)
		r = server_listen_unix(dm->server, cfg->path, cfg->mode,
		    uid, gid, &diag);
	else
		r = server_listen_tcp(dm->server, cfg->host, cfg->port,
		    cfg->reuse_port, &diag);
	if (r != STS_OK) {
		sts_log(STS_LOG_ERROR, "%s", diag.message);
		return r;
	}
	if (cfg->path != NULL)
		sts_log(STS_LOG_INFO, "listening on %s", cfg->path);
	else
		sts_log(STS_LOG_INFO, "listening on %s:%u", cfg->host,
		    server_tcp_port(dm->server));
	return STS_OK;
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *dm = arg;
	struct timespec now;
	int64_t ms;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (dm->svc.pending == 0 || ms >= dm->drain_deadline_ms) {
		if (dm->svc.pending > 0)
			sts_log(STS_LOG_WARN,
			    "shutdown timeout: %u lookups left unanswered",
			    dm->svc.pending);
		event_base_loopbreak(dm->base);
	}
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *dm = arg;
	struct timeval tick = {0, 100000};
	struct timespec now;

	(void)what;
	if (dm->draining) {
		sts_log(STS_LOG_INFO, "signal %d again: exiting now", (int)sig);
		event_base_loopbreak(dm->base);
		return;
	}
	dm->draining = true;
	system_notify("STOPPING=1");
	sts_log(STS_LOG_INFO,
	    "signal %d: no new connections, draining %u lookups", (int)sig,
	    dm->svc.pending);
	server_stop_listening(dm->server);
	clock_gettime(CLOCK_MONOTONIC, &now);
	dm->drain_deadline_ms = (int64_t)now.tv_sec * 1000 +
				now.tv_nsec / 1000000 +
				(int64_t)dm->config->shutdown_timeout_ms;
	dm->ev_drain = event_new(dm->base, -1, EV_PERSIST, on_drain_tick, dm);
	if (dm->ev_drain == NULL)
		event_base_loopbreak(dm->base);
	else
		evtimer_add(dm->ev_drain, &tick);
	on_drain_tick(-1, 0, dm);
}

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
same_list(const struct sts_config_list *a, const struct sts_config_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_str(a->items[i], b->items[i]))
			return false;
	return true;
}

/* Append name to the list in buf ("a, b, c"). */
static void
note_key(char *buf, size_t cap, const char *name)
{
	size_t len = strlen(buf);

	snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", name);
}

/*
 * The keys whose new value a reload does not apply: the listener, the
 * cache and the resolver are built once at start.  Saying "reloaded"
 * while silently keeping, say, the old cache_grace would mislead.
 */
static void
restart_only_changes(const struct sts_config *o, const struct sts_config *n,
    char *buf, size_t cap)
{
	buf[0] = '\0';
	if (!same_str(n->host, o->host) || n->port != o->port ||
	    !same_str(n->path, o->path) || n->mode != o->mode ||
	    n->reuse_port != o->reuse_port ||
	    !same_str(n->socket_owner, o->socket_owner) ||
	    !same_str(n->socket_group, o->socket_group))
		note_key(buf, cap, "listener (host, port, path, mode, ...)");
	if (n->cache.type != o->cache.type ||
	    !same_str(n->cache.filename, o->cache.filename) ||
	    !same_str(n->cache.url, o->cache.url) ||
	    !same_str(n->cache.password, o->cache.password) ||
	    n->cache.cache_size != o->cache.cache_size ||
	    n->cache.timeout_ms != o->cache.timeout_ms ||
	    n->cache.socket_timeout_ms != o->cache.socket_timeout_ms)
		note_key(buf, cap, "cache");
	if (n->cache.negative_ttl_ms != o->cache.negative_ttl_ms)
		note_key(buf, cap, "cache.options.negative_ttl");
	if (n->cache_grace_ms != o->cache_grace_ms)
		note_key(buf, cap, "cache_grace");
	if (n->proactive_policy_fetching.enabled !=
		o->proactive_policy_fetching.enabled ||
	    n->proactive_policy_fetching.interval_ms !=
		o->proactive_policy_fetching.interval_ms ||
	    n->proactive_policy_fetching.concurrency_limit !=
		o->proactive_policy_fetching.concurrency_limit)
		note_key(buf, cap, "proactive_policy_fetching");
	if (!same_list(&n->resolver, &o->resolver) ||
	    n->dnssec != o->dnssec ||
	    !same_str(n->trust_anchor_file, o->trust_anchor_file))
		note_key(buf, cap, "resolver, dnssec, trust_anchor_file");
	if (!same_str(n->ca_file, o->ca_file) ||
	    !same_list(&n->connect_to, &o->connect_to))
		note_key(buf, cap, "ca_file, connect_to");
	if (n->metrics.enabled != o->metrics.enabled ||
	    !same_str(n->metrics.host, o->metrics.host) ||
	    n->metrics.port != o->metrics.port)
		note_key(buf, cap, "metrics");
}

/* SIGHUP: a broken file keeps the running config (and says why). */
static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *dm = arg;
	struct sts_config *fresh = NULL, *old = dm->config;
	struct server_config sc;
	char later[512];

	(void)sig;
	(void)what;
	if (dm->config_path == NULL) {
		sts_log(STS_LOG_INFO, "SIGHUP: no config file to reload");
		return;
	}
	if (load_config(dm->config_path, true, &fresh) != STS_OK) {
		sts_log(STS_LOG_ERROR,
		    "reload of %s failed: keeping the running config",
		    dm->config_path);
		return;
	}
	restart_only_changes(dm->boot, fresh, later, sizeof(later));
	if (later[0] != '\0')
		sts_log(STS_LOG_WARN,
		    "reload: changes to %s take effect at the next restart; "
		    "the running values stay",
		    later);
	sc.max_connections = fresh->max_connections;
	sc.idle_timeout_ms = fresh->idle_timeout_ms;
	server_set_config(dm->server, &sc);
	dm->svc.config = fresh;
	dm->svc.tlsrpt_supported =
	    (fresh->postfix_version ? fresh->postfix_version
				    : dm->postfix_version) >=
	    STS_CONFIG_POSTFIX_VERSION(3, 10, 0);
	dm->config = fresh;
	if (old != dm->boot)
		sts_config_free(old);
	sts_log(STS_LOG_INFO, "reloaded %s", dm->config_path);
}

static int
set_log(const struct options *o)
{
	int level = STS_LOG_INFO;

	if (o->verbosity != NULL &&
	    sts_log_level_parse(o->verbosity, &level) != STS_OK) {
		fprintf(stderr, "mta-stsd: unknown verbosity '%s'\n",
		    o->verbosity);
		return -1;
	}
	if (o->logfile != NULL)
		return sts_log_open("mta-stsd", STS_LOG_TARGET_FILE, o->logfile,
			   level) == STS_OK
			   ? 0
			   : -1;
	return sts_log_open("mta-stsd", STS_LOG_TARGET_STDERR, NULL, level) ==
		       STS_OK
		   ? 0
		   : -1;
}

static void
write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		sts_log(STS_LOG_WARN, "pidfile %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

static void
warn_tlsrpt(const struct daemon *dm)
{
	const struct sts_config *cfg = dm->config;
	bool wanted = cfg->default_zone.tlsrpt;

	for (size_t i = 0; i < cfg->n_zones; i++)
		wanted = wanted || cfg->zones[i].tlsrpt;
	if (wanted && !dm->svc.tlsrpt_supported)
		sts_log(STS_LOG_WARN,
		    "tlsrpt is set but the local Postfix (%s) does not take "
		    "the TLS-RPT attributes (3.10 or newer): leaving them out",
		    dm->postfix_version ? "older" : "version unknown");
}

/*
 * Two priorities: the socketmap events (server.c) run at 0, everything
 * else (DNS, HTTPS, timers) at the default 1.  Between two lower-priority
 * callbacks the loop looks at the sockets again, so a cached answer waits
 * for at most one piece of TLS work, never for a batch of them.
 */
static struct event_base *
new_event_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_max_dispatch_interval(ec, NULL, 1, 1);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (base != NULL && event_base_priority_init(base, 2) != 0) {
		event_base_free(base);
		base = NULL;
	}
	return base;
}

static int
run(struct daemon *dm, const struct options *o)
{
	struct sts_resolver_config rc;
	struct sts_diag diag = {0};
	long uid = -1, gid = -1;
	int r;

	if ((dm->base = new_event_base()) == NULL)
		return 1;
	if (system_lookup_ids(o->user, o->group, &uid, &gid, &diag) !=
	    STS_OK) {
		sts_log(STS_LOG_ERROR, "%s", diag.message);
		return 1;
	}
	dm->postfix_version = dm->config->postfix_version
				  ? dm->config->postfix_version
				  : system_postfix_version();
	dm->svc.config = dm->config;
	dm->svc.tlsrpt_supported =
	    dm->postfix_version >= STS_CONFIG_POSTFIX_VERSION(3, 10, 0);
	warn_tlsrpt(dm);

	if (start_listeners(dm, uid, gid) != STS_OK)
		return 1;
	if (o->pidfile != NULL)
		write_pidfile(o->pidfile);
	if (system_drop_privileges(uid, gid, &diag) != STS_OK) {
		sts_log(STS_LOG_ERROR, "%s", diag.message);
		return 1;
	}
	if (open_cache(dm) != STS_OK)
		return 1;
	if (o->import_pmsr != NULL) {
		struct sts_cache_import_stats is = {0};

		r = sts_cache_import_pmsr(dm->cache, o->import_pmsr,
		    (int64_t)time(NULL), &is, &diag);
		if (r != STS_OK)
			sts_log(STS_LOG_ERROR, "import %s: %s", o->import_pmsr,
			    diag.message[0] ? diag.message : sts_strerror(r));
		else
			sts_log(STS_LOG_INFO,
			    "imported %zu of %zu postfix-mta-sts-resolver "
			    "policies from %s (%zu expired, %zu malformed)",
			    is.imported, is.rows, o->import_pmsr, is.expired,
			    is.malformed);
	}
	resolver_config(dm->config, dm->cache, &rc);
	rc.on_event = on_resolver_event;
	r = sts_resolver_new(dm->base, &rc, &dm->resolver, &diag);
	if (r != STS_OK) {
		sts_log(STS_LOG_ERROR, "resolver: %s",
		    diag.message[0] ? diag.message : sts_strerror(r));
		return 1;
	}
	dm->svc.resolver = dm->resolver;
	if (dm->config->metrics.enabled) {
		struct metrics_sources src = {&dm->svc, dm->resolver,
		    dm->cache, dm->server};

		r = metrics_new(dm->base, dm->config->metrics.host,
		    dm->config->metrics.port, &src, &dm->metrics, &diag);
		if (r != STS_OK) {
			sts_log(STS_LOG_ERROR, "%s", diag.message);
			return 1;
		}
		sts_log(STS_LOG_INFO, "metrics on http://%s:%u/metrics",
		    dm->config->metrics.host, metrics_port(dm->metrics));
	}
	dm->ev_term = evsignal_new(dm->base, SIGTERM, on_term, dm);
	dm->ev_int = evsignal_new(dm->base, SIGINT, on_term, dm);
	dm->ev_hup = evsignal_new(dm->base, SIGHUP, on_hup, dm);
	if (!dm->ev_term || !dm->ev_int || !dm->ev_hup ||
	    evsignal_add(dm->ev_term, NULL) || evsignal_add(dm->ev_int, NULL) ||
	    evsignal_add(dm->ev_hup, NULL))
		return 1;
	signal(SIGPIPE, SIG_IGN);

	system_notify("READY=1");
	sts_log(STS_LOG_INFO, "mta-stsd %s ready", MTASTS_VERSION);
	event_base_dispatch(dm->base);
	sts_log(STS_LOG_INFO, "mta-stsd stopped");
	return 0;
}

static void
teardown(struct daemon *dm)
{
	server_free(dm->server);
	metrics_free(dm->metrics);
	sts_resolver_free(dm->resolver);
	sts_cache_free(dm->cache);
	if (dm->ev_term)
		event_free(dm->ev_term);
	if (dm->ev_int)
		event_free(dm->ev_int);
	if (dm->ev_hup)
		event_free(dm->ev_hup);
	if (dm->ev_drain)
		event_free(dm->ev_drain);
	if (dm->base)
		event_base_free(dm->base);
	if (dm->boot != dm->config)
		sts_config_free(dm->boot);
	sts_config_free(dm->config);
}

int
main(int argc, char **argv)
{
	struct options o = {0};
	struct daemon dm = {0};
	int status;

	if (parse_options(argc, argv, &o) != 0)
		return 2;
	if (o.config_doc) /* the key list of mta-sts.conf(5), from the table */
		return sts_config_print_doc(stdout) == STS_OK ? 0 : 1;
	if (set_log(&o) != 0)
		return 2;
	dm.config_path = o.config ? o.config : STS_CONFIG_DEFAULT_PATH;
	if (load_config(dm.config_path, o.config != NULL, &dm.config) !=
	    STS_OK)
		return 1;
	if (o.config == NULL && access(STS_CONFIG_DEFAULT_PATH, F_OK) != 0)
		dm.config_path = NULL;
	if (o.check_config || o.dump_config) {
		if (o.dump_config)
			sts_config_dump(dm.config, stdout, 0);
		else
			printf("%s: OK\n",
			    dm.config_path ? dm.config_path
					   : "embedded defaults");
		sts_config_free(dm.config);
		return 0;
	}
	dm.boot = dm.config;
	status = run(&dm, &o);
	teardown(&dm);
	sts_log_close();
	return status;
}
