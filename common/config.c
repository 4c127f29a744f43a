/*
 * config.c - the option table and everything it drives: defaults,
 * parsing (libyaml document API), validation, dump and documentation.
 *
 * To add a key: add a field to struct sts_config (config.h), one row to
 * options[] (or zone_options[]) below, and a line to the man page.
 * Nothing else: parsing, the default, the dump and the doc follow.
 *
 * Keys are rows named by their dotted path ("cache.options.url").  A
 * mapping in the file is walked against the rows whose path is the
 * mapping's path plus one component; a T_SECTION row is a nested mapping.
 * The zone keys have their own table because they occur under
 * default_zone and under every zones.<NAME>.
 *
 * All loading happens into a fresh struct: the caller sees a config only
 * when the whole file was good.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "log.h"

enum opt_type {
	T_SECTION,   /* a mapping of further rows */
	T_ZONE,      /* a mapping of zone_options[] (default_zone) */
	T_ZONES,     /* a mapping of zone names to zones */
	T_STR,       /* char * */
	T_BOOL,      /* bool */
	T_UINT,      /* unsigned */
	T_SECONDS,   /* uint64_t, milliseconds */
	T_RATIO,     /* double, read with 3 fraction digits */
	T_MODE,      /* int, octal permission bits, -1 unset */
	T_ENUM,      /* an enum (unsigned-compatible), by name */
	T_LIST,      /* struct sts_config_list */
	T_HOSTPORTS, /* struct sts_config_hostports: [[host, port], ...] */
	T_VERSION,   /* unsigned, STS_CONFIG_POSTFIX_VERSION; "auto" is 0 */
};

/* Row flags. */
#define F_NULLABLE (1u << 0) /* may be unset: null, ~ or "" */

/* The cache types a cache.options row applies to. */
#define C_INTERNAL (1u << STS_CONFIG_CACHE_INTERNAL)
#define C_SQLITE   (1u << STS_CONFIG_CACHE_SQLITE)
#define C_REDIS    (1u << STS_CONFIG_CACHE_REDIS)
#define C_SENTINEL (1u << STS_CONFIG_CACHE_REDIS_SENTINEL)
#define C_POSTGRES (1u << STS_CONFIG_CACHE_POSTGRES)
#define C_REDISES  (C_REDIS | C_SENTINEL)
#define C_ALL      (C_INTERNAL | C_SQLITE | C_REDISES | C_POSTGRES)

#define MS_PER_S           1000u
#define SECONDS(s)         ((uint64_t)(s)*MS_PER_S)
#define YEAR_S             31557600u /* 365.25 days */
#define PORT_MAX           65535u
#define MODE_MAX           07777u
#define MERGES_MAX         256u /* "<<" merges one file may use */
#define DEPTH_MAX          16u  /* nesting of merges in one walk */
#define KEY_MAX            128u /* longest dotted key we build */
#define SHOW_MAX           64u  /* bytes of a bad value quoted in a message */
#define NAME_SHOW          96u  /* bytes of a file name kept in a message */
#define SUGGEST_DIST       2u   /* "did you mean" edit distance */
#define SUGGEST_PREFIX_MIN 3u   /* or a key this long that starts a name */

_Static_assert(sizeof(enum sts_config_cache_type) == sizeof(unsigned),
    "enums are stored through unsigned *");
_Static_assert(sizeof(enum sts_config_dane) == sizeof(unsigned),
    "enums are stored through unsigned *");

struct enum_name {
	const char *name;
	unsigned value;
};

/* Reason text for a rejected value; becomes part of a located message. */
struct why {
	char text[STS_DIAG_MAX];
};

struct option {
	const char *name;
	enum opt_type type;
	size_t offset;
	const char *def;   /* default as it would be written; NULL: unset */
	uint64_t min, max; /* UINT value, SECONDS ms, RATIO thousandths,
			      MODE bits, LIST/HOSTPORTS items */
	const struct enum_name *enums; /* T_ENUM, ends with {NULL, 0} */
	unsigned caches; /* cache.options.*: the C_* it applies to */
	unsigned flags;
	bool (*check)(const char *value, struct why *why); /* STR, LIST */
	const char *doc;
};

static const struct enum_name cache_types[] = {
    {"internal", STS_CONFIG_CACHE_INTERNAL},
    {"sqlite", STS_CONFIG_CACHE_SQLITE},
    {"redis", STS_CONFIG_CACHE_REDIS},
    {"redis_sentinel", STS_CONFIG_CACHE_REDIS_SENTINEL},
    {"postgres", STS_CONFIG_CACHE_POSTGRES},
    {NULL, 0},
};

static const struct enum_name dnssec_modes[] = {
    {"validate", STS_CONFIG_DNSSEC_VALIDATE},
    {"off", STS_CONFIG_DNSSEC_OFF},
    {NULL, 0},
};

static const struct enum_name dane_modes[] = {
    {"dane-only", STS_CONFIG_DANE_ONLY},
    {"dane", STS_CONFIG_DANE},
    {"off", STS_CONFIG_DANE_OFF},
    {NULL, 0},
};

static const struct enum_name dane_failures[] = {
    {"temp", STS_CONFIG_DANE_FAILURE_TEMP},
    {"notfound", STS_CONFIG_DANE_FAILURE_NOTFOUND},
    {NULL, 0},
};

static bool check_resolver(const char *value, struct why *why);
static bool check_connect_to(const char *value, struct why *why);

#define CFG(field)  offsetof(struct sts_config, field)
#define ZONE(field) offsetof(struct sts_config_zone, field)

/*
 * Every top-level key.  "(pmsr)" marks keys of postfix-mta-sts-resolver,
 * with its defaults; "(ours)" marks our additions.
 */
static const struct option options[] = {
    {.name = "host",
	.type = T_STR,
	.offset = CFG(host),
	.def = "127.0.0.1",
	.doc = "(pmsr) Address to listen on for socketmap requests; "
	       "ignored when path is set."},
    {.name = "port",
	.type = T_UINT,
	.offset = CFG(port),
	.def = "8461",
	.min = 1,
	.max = PORT_MAX,
	.doc = "(pmsr) TCP port to listen on; ignored when path is set."},
    {.name = "path",
	.type = T_STR,
	.offset = CFG(path),
	.flags = F_NULLABLE,
	.doc = "(pmsr) Listen on this UNIX socket instead of host:port."},
    {.name = "mode",
	.type = T_MODE,
	.offset = CFG(mode),
	.flags = F_NULLABLE,
	.min = 0,
	.max = MODE_MAX,
	.doc = "(pmsr) Octal permissions of the UNIX socket (0666, 666 or "
	       "\"0666\"); unset leaves what the umask gives."},
    {.name = "reuse_port",
	.type = T_BOOL,
	.offset = CFG(reuse_port),
	.def = "true",
	.doc = "(pmsr) Set SO_REUSEPORT so an old and a new daemon can "
	       "share the port during a switch-over."},
    {.name = "socket_owner",
	.type = T_STR,
	.offset = CFG(socket_owner),
	.flags = F_NULLABLE,
	.doc = "(ours) User (name or id) to own the UNIX socket; unset "
	       "leaves it."},
    {.name = "socket_group",
	.type = T_STR,
	.offset = CFG(socket_group),
	.flags = F_NULLABLE,
	.doc = "(ours) Group (name or id) of the UNIX socket; unset "
	       "leaves it."},
    {.name = "max_connections",
	.type = T_UINT,
	.offset = CFG(max_connections),
	.def = "1024",
	.min = 1,
	.max = 1000000,
	.doc = "(ours) Client connections served at once; further clients "
	       "are closed at once and counted in the metrics."},
    {.name = "idle_timeout",
	.type = T_SECONDS,
	.offset = CFG(idle_timeout_ms),
	.def = "300",
	.min = 0,
	.max = SECONDS(86400),
	.doc = "(ours) Close a client connection idle this long (seconds; "
	       "0 never).  Postfix closes its idle socketmap connections "
	       "on its side too."},
    {.name = "cache_grace",
	.type = T_SECONDS,
	.offset = CFG(cache_grace_ms),
	.def = "60",
	.min = 0,
	.max = SECONDS(YEAR_S),
	.doc = "(pmsr) A cached policy younger than this many seconds is "
	       "served without checking DNS."},
    {.name = "shutdown_timeout",
	.type = T_SECONDS,
	.offset = CFG(shutdown_timeout_ms),
	.def = "20",
	.min = 0,
	.max = SECONDS(3600),
	.doc = "(pmsr) Seconds granted to requests in flight on stop."},
    {.name = "cache",
	.type = T_SECTION,
	.doc = "(pmsr) Where policies are cached."},
    /*
     * pmsr's default is "internal" (memory, lost on restart).  Ours is
     * sqlite in the state directory: the cache is what makes MTA-STS
     * secure (trust on first use), so it must survive restarts.  A
     * daemon that cannot open the file logs it and falls back to
     * internal.
     */
    {.name = "cache.type",
	.type = T_ENUM,
	.offset = CFG(cache.type),
	.def = "sqlite",
	.enums = cache_types,
	.doc = "(pmsr; default differs: pmsr uses internal) Cache "
	       "back end."},
    {.name = "cache.options",
	.type = T_SECTION,
	.doc = "(pmsr) Options of the cache back end; each applies to "
	       "the types named."},
    {.name = "cache.options.cache_size",
	.type = T_UINT,
	.offset = CFG(cache.cache_size),
	.def = "10000",
	.min = 1,
	.max = 100000000,
	.caches = C_INTERNAL,
	.doc = "(pmsr) Entries kept by the internal LRU cache."},
    {.name = "cache.options.filename",
	.type = T_STR,
	.offset = CFG(cache.filename),
	.flags = F_NULLABLE,
	.caches = C_SQLITE,
	.doc = "(pmsr) SQLite database file.  Default: cache.db in "
	       "$STATE_DIRECTORY, else /var/lib/mta-sts/cache.db."},
    {.name = "cache.options.threads",
	.type = T_UINT,
	.offset = CFG(cache.threads),
	.def = "0",
	.min = 0,
	.max = 1024,
	.caches = C_SQLITE,
	.doc = "(pmsr) SQLite connection pool size; 0 is the number of "
	       "CPUs (pmsr's default)."},
    {.name = "cache.options.timeout",
	.type = T_SECONDS,
	.offset = CFG(cache.timeout_ms),
	.def = "5",
	.min = 1,
	.max = SECONDS(3600),
	.caches = C_SQLITE | C_POSTGRES,
	.doc = "(pmsr) Seconds to wait for a database lock or "
	       "connection."},
    {.name = "cache.options.url",
	.type = T_STR,
	.offset = CFG(cache.url),
	.flags = F_NULLABLE,
	.caches = C_REDIS,
	.doc = "(pmsr) Redis URL, e.g. redis://localhost/0 (required "
	       "for redis)."},
    {.name = "cache.options.max_connections",
	.type = T_UINT,
	.offset = CFG(cache.max_connections),
	.def = "0",
	.min = 0,
	.max = 100000,
	.caches = C_REDISES,
	.doc = "(pmsr, redis-py) Redis connection pool size; 0 no "
	       "limit."},
    {.name = "cache.options.socket_timeout",
	.type = T_SECONDS,
	.offset = CFG(cache.socket_timeout_ms),
	.def = "5",
	.min = 1,
	.max = SECONDS(3600),
	.caches = C_REDISES,
	.doc = "(pmsr, redis-py) Seconds to wait for a Redis reply."},
    {.name = "cache.options.socket_connect_timeout",
	.type = T_SECONDS,
	.offset = CFG(cache.socket_connect_timeout_ms),
	.def = "5",
	.min = 1,
	.max = SECONDS(3600),
	.caches = C_REDISES,
	.doc = "(pmsr, redis-py) Seconds to wait for a Redis "
	       "connection."},
    {.name = "cache.options.password",
	.type = T_STR,
	.offset = CFG(cache.password),
	.flags = F_NULLABLE,
	.caches = C_REDISES,
	.doc = "(pmsr, redis-py) Redis password (for a sentinel setup, "
	       "of the master)."},
    {.name = "cache.options.sentinel_master_name",
	.type = T_STR,
	.offset = CFG(cache.sentinel_master_name),
	.flags = F_NULLABLE,
	.caches = C_SENTINEL,
	.doc = "(pmsr) Name of the master the sentinels watch "
	       "(required for redis_sentinel)."},
    {.name = "cache.options.sentinels",
	.type = T_HOSTPORTS,
	.offset = CFG(cache.sentinels),
	.min = 0,
	.max = STS_CONFIG_MAX_LIST,
	.caches = C_SENTINEL,
	.doc = "(pmsr) Sentinels as [[host, port], ...] (required for "
	       "redis_sentinel)."},
    {.name = "cache.options.dsn",
	.type = T_STR,
	.offset = CFG(cache.dsn),
	.flags = F_NULLABLE,
	.caches = C_POSTGRES,
	.doc = "(pmsr) PostgreSQL connection string (required for "
	       "postgres)."},
    {.name = "cache.options.negative_ttl",
	.type = T_SECONDS,
	.offset = CFG(cache.negative_ttl_ms),
	.def = "60",
	.min = 0,
	.max = SECONDS(86400),
	.caches = C_ALL,
	.doc = "(ours) Seconds to remember that a domain has no policy, "
	       "sparing a DNS query per message; 0 disables."},
    {.name = "proactive_policy_fetching",
	.type = T_SECTION,
	.doc = "(pmsr) Refresh cached policies in the background."},
    {.name = "proactive_policy_fetching.enabled",
	.type = T_BOOL,
	.offset = CFG(proactive_policy_fetching.enabled),
	.def = "false",
	.doc = "(pmsr) Turn background refresh on."},
    {.name = "proactive_policy_fetching.interval",
	.type = T_SECONDS,
	.offset = CFG(proactive_policy_fetching.interval_ms),
	.def = "86400",
	.min = SECONDS(1),
	.max = SECONDS(YEAR_S),
	.doc = "(pmsr) Seconds between refresh rounds."},
    {.name = "proactive_policy_fetching.concurrency_limit",
	.type = T_UINT,
	.offset = CFG(proactive_policy_fetching.concurrency_limit),
	.def = "100",
	.min = 1,
	.max = 10000,
	.doc = "(pmsr) Domains refreshed at once."},
    {.name = "proactive_policy_fetching.grace_ratio",
	.type = T_RATIO,
	.offset = CFG(proactive_policy_fetching.grace_ratio),
	.def = "2.0",
	.min = 1,
	.max = 1000000,
	.doc = "(pmsr) Skip domains refreshed within interval / "
	       "grace_ratio."},
    {.name = "default_zone",
	.type = T_ZONE,
	.offset = CFG(default_zone),
	.doc = "(pmsr) Reply settings for socketmap names not listed "
	       "under zones."},
    {.name = "zones",
	.type = T_ZONES,
	.doc = "(pmsr) Reply settings per socketmap name, e.g. "
	       "zones: {postfix: {require_sni: false}}."},
    {.name = "resolver",
	.type = T_LIST,
	.offset = CFG(resolver),
	.min = 0,
	.max = STS_CONFIG_MAX_LIST,
	.check = check_resolver,
	.doc = "(ours) DNS servers to forward to, \"addr\" or "
	       "\"addr@port\"; empty uses the system resolver."},
    {.name = "ca_file",
	.type = T_STR,
	.offset = CFG(ca_file),
	.flags = F_NULLABLE,
	.doc = "(ours) PEM CA bundle for policy fetches; unset uses the "
	       "system store."},
    {.name = "connect_to",
	.type = T_LIST,
	.offset = CFG(connect_to),
	.min = 0,
	.max = STS_CONFIG_MAX_LIST,
	.check = check_connect_to,
	.doc = "(ours) curl CONNECT_TO rules "
	       "\"HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT\" for policy "
	       "fetches."},
    {.name = "dnssec",
	.type = T_ENUM,
	.offset = CFG(dnssec),
	.def = "validate",
	.enums = dnssec_modes,
	.doc = "(ours) Validate DNSSEC (needed for DANE), or not."},
    {.name = "trust_anchor_file",
	.type = T_STR,
	.offset = CFG(trust_anchor_file),
	.def = "/usr/share/dns/root.key",
	.doc = "(ours) DNSSEC root trust anchor."},
    {.name = "postfix_version",
	.type = T_VERSION,
	.offset = CFG(postfix_version),
	.def = "auto",
	.doc = "(ours) Postfix version the replies are shaped for, e.g. "
	       "3.7.10; auto asks postconf."},
    {.name = "metrics",
	.type = T_SECTION,
	.doc = "(ours) HTTP listener for Prometheus metrics."},
    {.name = "metrics.enabled",
	.type = T_BOOL,
	.offset = CFG(metrics.enabled),
	.def = "false",
	.doc = "(ours) Turn the metrics listener on."},
    {.name = "metrics.host",
	.type = T_STR,
	.offset = CFG(metrics.host),
	.def = "127.0.0.1",
	.doc = "(ours) Metrics listen address."},
    {.name = "metrics.port",
	.type = T_UINT,
	.offset = CFG(metrics.port),
	.def = "8462",
	.min = 1,
	.max = PORT_MAX,
	.doc = "(ours) Metrics listen port."},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/*
 * The keys of default_zone and of each zones.<NAME>.  A zone's key that
 * the file leaves out takes the BUILT-IN default below, not the value
 * from default_zone: that is pmsr's behaviour (populate_zone() in its
 * utils.py fills each zone from the constants), and configs written for
 * it rely on it, so we keep it.
 */
static const struct option zone_options[] = {
    {.name = "strict_testing",
	.type = T_BOOL,
	.offset = ZONE(strict_testing),
	.def = "false",
	.doc = "(pmsr) Enforce policies in testing mode as if enforce."},
    {.name = "timeout",
	.type = T_SECONDS,
	.offset = ZONE(timeout_ms),
	.def = "4",
	.min = 1,
	.max = SECONDS(600),
	.doc = "(pmsr) Seconds for the DNS lookups and for the whole "
	       "policy fetch."},
    {.name = "require_sni",
	.type = T_BOOL,
	.offset = ZONE(require_sni),
	.def = "true",
	.doc = "(pmsr) Append servername=hostname to secure replies."},
    {.name = "tlsrpt",
	.type = T_BOOL,
	.offset = ZONE(tlsrpt),
	.def = "false",
	.doc = "(pmsr) Append the Postfix 3.10 TLSRPT policy attributes."},
    {.name = "dane",
	.type = T_ENUM,
	.offset = ZONE(dane),
	.def = "dane-only",
	.enums = dane_modes,
	.doc = "(ours) Reply for a domain with usable DANE TLSA records: "
	       "dane-only, dane, or off to ignore DANE."},
    {.name = "dane_failure",
	.type = T_ENUM,
	.offset = ZONE(dane_failure),
	.def = "temp",
	.enums = dane_failures,
	.doc = "(ours) Reply when the DANE lookup fails: temp or "
	       "notfound."},
};

#define N_ZONE_OPTIONS (sizeof(zone_options) / sizeof(zone_options[0]))

/* ------------------------------------------------------------------ */
/* Field access and plain value handling                                 */

static void *
field(void *base, const struct option *opt)
{
	return (char *)base + opt->offset;
}

static const void *
cfield(const void *base, const struct option *opt)
{
	return (const char *)base + opt->offset;
}

static void
list_clear(struct sts_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static void
hostports_clear(struct sts_config_hostports *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->items[i].host);
	free(h->items);
	h->items = NULL;
	h->n = 0;
}

/* Free what a row owns in base and leave it empty. */
static void
field_clear(const struct option *opt, void *base)
{
	switch (opt->type) {
	case T_STR: {
		char **s = field(base, opt);

		free(*s);
		*s = NULL;
		break;
	}
	case T_LIST:
		list_clear(field(base, opt));
		break;
	case T_HOSTPORTS:
		hostports_clear(field(base, opt));
		break;
	case T_MODE:
		*(int *)field(base, opt) = -1;
		break;
	case T_SECTION:
	case T_ZONE:
	case T_ZONES:
	case T_BOOL:
	case T_UINT:
	case T_SECONDS:
	case T_RATIO:
	case T_ENUM:
	case T_VERSION:
		break;
	}
}

static void
zone_clear(struct sts_config_zone *zone)
{
	for (size_t i = 0; i < N_ZONE_OPTIONS; i++)
		field_clear(&zone_options[i], zone);
	free(zone->name);
	zone->name = NULL;
}

void
sts_config_free(struct sts_config *config)
{
	if (config == NULL)
		return;
	for (size_t i = 0; i < N_OPTIONS; i++)
		field_clear(&options[i], config);
	zone_clear(&config->default_zone);
	for (size_t i = 0; i < config->n_zones; i++)
		zone_clear(&config->zones[i]);
	free(config->zones);
	free(config);
}

static void why_set(struct why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
why_set(struct why *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}

/* An untrusted value, escaped and cut for a message. */
struct shown {
	char text[SHOW_MAX];
};

static const char *
show(struct shown *sh, const char *s, size_t len)
{
	sts_log_escape(s, len, sh->text, sizeof(sh->text));
	return sh->text;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits, no sign, no leading zero.  Returns false with why. */
static bool
parse_uint(const char *s, size_t len, uint64_t *ret, struct why *why)
{
	struct shown sh;
	uint64_t v = 0;

	if (len == 0) {
		why_set(why, "expected a whole number, found nothing");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (!is_digit(s[i])) {
			why_set(why, "expected a whole number, found '%s'",
			    show(&sh, s, len));
			return false;
		}
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			why_set(why, "'%s' is too large", show(&sh, s, len));
			return false;
		}
		v = v * 10 + d;
	}
	if (len > 1 && s[0] == '0') {
		why_set(why,
		    "'%s' has a leading zero, which YAML 1.1 reads as octal; "
		    "write it without",
		    show(&sh, s, len));
		return false;
	}
	*ret = v;
	return true;
}

/*
 * Decimal with an optional fraction, in thousandths: "4" is 4000, "2.5"
 * 2500, ".25" 250.  Digits after the third fraction digit are dropped.
 */
static bool
parse_milli(const char *s, size_t len, uint64_t *ret, struct why *why)
{
	struct shown sh;
	uint64_t v = 0, frac = 0;
	unsigned fdigits = 0;
	size_t i = 0, digits = 0;

	if (len > 0 && s[0] == '-') {
		why_set(why, "'%s' is negative", show(&sh, s, len));
		return false;
	}
	for (; i < len && is_digit(s[i]); i++, digits++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX / MS_PER_S - d) / 10) {
			why_set(why, "'%s' is too large", show(&sh, s, len));
			return false;
		}
		v = v * 10 + d;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && is_digit(s[i]); i++, digits++) {
			if (fdigits < 3) {
				frac = frac * 10 + (unsigned)(s[i] - '0');
				fdigits++;
			}
		}
	}
	if (digits == 0 || i != len) {
		why_set(why, "expected a number such as 4 or 2.5, found '%s'",
		    show(&sh, s, len));
		return false;
	}
	for (; fdigits < 3; fdigits++)
		frac *= 10;
	*ret = v * MS_PER_S + frac;
	return true;
}

/* PyYAML's boolean spellings, plus 1 and 0. */
static bool
parse_bool(const char *s, size_t len, bool *ret, struct why *why)
{
	static const char *const yes[] = {
	    "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "1"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No",
	    "NO", "off", "Off", "OFF", "0"};
	struct shown sh;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strlen(yes[i]) == len && memcmp(s, yes[i], len) == 0) {
			*ret = true;
			return true;
		}
		if (strlen(no[i]) == len && memcmp(s, no[i], len) == 0) {
			*ret = false;
			return true;
		}
	}
	why_set(why, "expected true or false, found '%s'", show(&sh, s, len));
	return false;
}

/* Octal permission bits: 0666, 666, 0o666. */
static bool
parse_mode(const char *s, size_t len, uint64_t max, int *ret, struct why *why)
{
	struct shown sh;
	size_t i = 0;
	uint64_t v = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		i = 2;
	if (i == len)
		goto bad;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			goto bad;
		v = v * 8 + (unsigned)(s[i] - '0');
		if (v > max) {
			why_set(why, "mode '%s' is above 0%llo",
			    show(&sh, s, len), (unsigned long long)max);
			return false;
		}
	}
	*ret = (int)v;
	return true;
bad:
	why_set(why, "expected an octal mode such as 0660, found '%s'",
	    show(&sh, s, len));
	return false;
}

/* "auto", or MAJOR[.MINOR[.PATCH]] with MAJOR >= 2, all below 100. */
static bool
parse_version(const char *s, size_t len, unsigned *ret, struct why *why)
{
	unsigned part[3] = {0, 0, 0};
	size_t i = 0, n = 0;
	struct shown sh;

	if (len == 4 && memcmp(s, "auto", 4) == 0) {
		*ret = 0;
		return true;
	}
	while (n < 3) {
		size_t start = i;

		for (; i < len && is_digit(s[i]) && i - start < 3; i++)
			part[n] = part[n] * 10 + (unsigned)(s[i] - '0');
		if (i == start || part[n] > 99)
			goto bad;
		n++;
		if (i == len)
			break;
		if (s[i] != '.' || n == 3)
			goto bad;
		i++;
	}
	if (i != len || part[0] < 2)
		goto bad;
	*ret = STS_CONFIG_POSTFIX_VERSION(part[0], part[1], part[2]);
	return true;
bad:
	why_set(why,
	    "expected auto or a Postfix version such as 3.7.10, "
	    "found '%s'",
	    show(&sh, s, len));
	return false;
}

/* A port 1..65535 in decimal, no leading zero. */
static bool
parse_port(const char *s, size_t len, unsigned *ret)
{
	struct why ignore;
	uint64_t v;

	if (!parse_uint(s, len, &v, &ignore) || v < 1 || v > PORT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool
check_resolver(const char *value, struct why *why)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *at = strrchr(value, '@');
	size_t alen = at != NULL ? (size_t)(at - value) : strlen(value);
	struct shown sh;
	unsigned port;

	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, value, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		goto bad;
	if (at != NULL && !parse_port(at + 1, strlen(at + 1), &port))
		goto bad;
	return true;
bad:
	why_set(why, "expected an IP address or address@port, found '%s'",
	    show(&sh, value, strlen(value)));
	return false;
}

/* One host of a CONNECT_TO rule: empty, a name, or [IPv6]. */
static bool
connect_to_host(const char **p)
{
	const char *s = *p;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end == s + 1)
			return false;
		*p = end + 1;
		return true;
	}
	while (*s != '\0' && *s != ':' && *s != '[' && *s != ']')
		s++;
	*p = s;
	return true;
}

/* One port of a CONNECT_TO rule: empty or 1..65535. */
static bool
connect_to_port(const char **p)
{
	const char *s = *p;
	size_t n = strcspn(s, ":");
	unsigned port;

	if (n > 0 && !parse_port(s, n, &port))
		return false;
	*p = s + n;
	return true;
}

/* curl CURLOPT_CONNECT_TO: HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT. */
static bool
check_connect_to(const char *value, struct why *why)
{
	const char *p = value;
	struct shown sh;

	for (const char *c = value; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			goto bad;
	if (!connect_to_host(&p) || *p++ != ':' || !connect_to_port(&p) ||
	    *p++ != ':' || !connect_to_host(&p) || *p++ != ':' ||
	    !connect_to_port(&p) || *p != '\0')
		goto bad;
	return true;
bad:
	why_set(why,
	    "expected HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT, found '%s'",
	    show(&sh, value, strlen(value)));
	return false;
}

static bool
parse_enum(const struct option *opt, const char *s, size_t len, unsigned *ret,
    struct why *why)
{
	char names[STS_DIAG_MAX / 2] = "";
	size_t used = 0;
	struct shown sh;

	for (const struct enum_name *e = opt->enums; e->name != NULL; e++) {
		if (strlen(e->name) == len && memcmp(s, e->name, len) == 0) {
			*ret = e->value;
			return true;
		}
	}
	for (const struct enum_name *e = opt->enums; e->name != NULL; e++) {
		int n = snprintf(names + used, sizeof(names) - used, "%s%s",
		    used > 0 ? ", " : "", e->name);

		if (n < 0 || (size_t)n >= sizeof(names) - used)
			break;
		used += (size_t)n;
	}
	why_set(
	    why, "expected one of %s, found '%s'", names, show(&sh, s, len));
	return false;
}

static char *
dup_value(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* A string value: no NUL inside, bounded, passing the row's check. */
static int
make_string(const struct option *opt, const char *s, size_t len, char **ret,
    struct why *why)
{
	char *p;

	if (memchr(s, '\0', len) != NULL) {
		why_set(why, "the value contains a NUL byte");
		return STS_ESYNTAX;
	}
	if (len > STS_CONFIG_MAX_STRING) {
		why_set(why, "the value is longer than %d bytes",
		    STS_CONFIG_MAX_STRING);
		return STS_ESYNTAX;
	}
	p = dup_value(s, len);
	if (p == NULL)
		return STS_ENOMEM;
	if (opt->check != NULL && !opt->check(p, why)) {
		free(p);
		return STS_ESYNTAX;
	}
	*ret = p;
	return STS_OK;
}

static bool
range_ok(const struct option *opt, uint64_t v, struct why *why)
{
	if (v >= opt->min && v <= opt->max)
		return true;
	switch (opt->type) {
	case T_SECONDS:
	case T_RATIO:
		why_set(why,
		    "%llu.%03llu is out of range (%llu.%03llu to "
		    "%llu.%03llu)",
		    (unsigned long long)(v / 1000),
		    (unsigned long long)(v % 1000),
		    (unsigned long long)(opt->min / 1000),
		    (unsigned long long)(opt->min % 1000),
		    (unsigned long long)(opt->max / 1000),
		    (unsigned long long)(opt->max % 1000));
		break;
	default:
		why_set(why, "%llu is out of range (%llu to %llu)",
		    (unsigned long long)v, (unsigned long long)opt->min,
		    (unsigned long long)opt->max);
		break;
	}
	return false;
}

/*
 * Store one scalar into a row of base.  null says the scalar was a YAML
 * null (plain "", "~", "null").  STS_ESYNTAX fills why.
 */
static int
set_scalar(const struct option *opt, void *base, const char *s, size_t len,
    bool null, struct why *why)
{
	uint64_t v;

	if (len == 0 && opt->type == T_LIST) {
		field_clear(opt, base);
		return STS_OK;
	}
	if (null || (len == 0 && opt->type == T_STR)) {
		if (opt->flags & F_NULLABLE) {
			field_clear(opt, base);
			return STS_OK;
		}
		why_set(why, "needs a value");
		return STS_ESYNTAX;
	}

	switch (opt->type) {
	case T_STR: {
		char *p = NULL;
		int r = make_string(opt, s, len, &p, why);

		if (r != STS_OK)
			return r;
		field_clear(opt, base);
		*(char **)field(base, opt) = p;
		return STS_OK;
	}
	case T_BOOL:
		return parse_bool(s, len, field(base, opt), why) ? STS_OK
								 : STS_ESYNTAX;
	case T_UINT:
		if (!parse_uint(s, len, &v, why) || !range_ok(opt, v, why))
			return STS_ESYNTAX;
		*(unsigned *)field(base, opt) = (unsigned)v;
		return STS_OK;
	case T_SECONDS:
		if (!parse_milli(s, len, &v, why) || !range_ok(opt, v, why))
			return STS_ESYNTAX;
		*(uint64_t *)field(base, opt) = v;
		return STS_OK;
	case T_RATIO:
		if (!parse_milli(s, len, &v, why) || !range_ok(opt, v, why))
			return STS_ESYNTAX;
		*(double *)field(base, opt) = (double)v / MS_PER_S;
		return STS_OK;
	case T_MODE:
		return parse_mode(s, len, opt->max, field(base, opt), why)
			   ? STS_OK
			   : STS_ESYNTAX;
	case T_ENUM:
		return parse_enum(opt, s, len, field(base, opt), why)
			   ? STS_OK
			   : STS_ESYNTAX;
	case T_VERSION:
		return parse_version(s, len, field(base, opt), why)
			   ? STS_OK
			   : STS_ESYNTAX;
	case T_LIST: {
		/* One scalar is a list of one. */
		struct sts_config_list *l = field(base, opt);
		char **items = malloc(sizeof(*items));
		char *p = NULL;
		int r;

		if (items == NULL)
			return STS_ENOMEM;
		r = make_string(opt, s, len, &p, why);
		if (r != STS_OK) {
			free(items);
			return r;
		}
		list_clear(l);
		items[0] = p;
		l->items = items;
		l->n = 1;
		return STS_OK;
	}
	case T_HOSTPORTS:
	case T_SECTION:
	case T_ZONE:
	case T_ZONES:
		break;
	}
	why_set(why, "needs a list or mapping, not a single value");
	return STS_ESYNTAX;
}

/* Fill base with the defaults of n rows. */
static int
apply_defaults(const struct option *table, size_t n, void *base)
{
	struct why why;
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct option *opt = &table[i];

		field_clear(opt, base);
		if (opt->def == NULL)
			continue;
		r = set_scalar(
		    opt, base, opt->def, strlen(opt->def), false, &why);
		if (r != STS_OK)
			return r == STS_ENOMEM ? r : STS_EINTERNAL;
	}
	return STS_OK;
}

static int
zone_defaults(struct sts_config_zone *zone)
{
	return apply_defaults(zone_options, N_ZONE_OPTIONS, zone);
}

/* The sqlite file when the config names none. */
static int
default_cache_file(char **ret)
{
	const char *dir = getenv("STATE_DIRECTORY");
	size_t dlen, flen = strlen(STS_CONFIG_CACHE_FILE);
	char *p;

	/* systemd: absolute paths separated by ':' when there are several */
	if (dir != NULL && dir[0] == '/') {
		dlen = strcspn(dir, ":");
	} else {
		dir = STS_CONFIG_STATE_DIR;
		dlen = strlen(dir);
	}
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen + 1 + flen > STS_CONFIG_MAX_STRING) {
		dir = STS_CONFIG_STATE_DIR;
		dlen = strlen(dir);
	}
	p = malloc(dlen + 1 + flen + 1);
	if (p == NULL)
		return STS_ENOMEM;
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1 - (dlen == 1), STS_CONFIG_CACHE_FILE, flen + 1);
	*ret = p;
	return STS_OK;
}

/* Settle what depends on several keys or on the environment. */
static int
finalize(struct sts_config *cfg)
{
	if (cfg->cache.type == STS_CONFIG_CACHE_SQLITE &&
	    cfg->cache.filename == NULL)
		return default_cache_file(&cfg->cache.filename);
	return STS_OK;
}

static struct sts_config *
config_new(int *ret_err)
{
	struct sts_config *cfg = calloc(1, sizeof(*cfg));
	int r;

	if (cfg == NULL) {
		*ret_err = STS_ENOMEM;
		return NULL;
	}
	r = apply_defaults(options, N_OPTIONS, cfg);
	if (r == STS_OK)
		r = zone_defaults(&cfg->default_zone);
	if (r != STS_OK) {
		sts_config_free(cfg);
		*ret_err = r;
		return NULL;
	}
	return cfg;
}

int
sts_config_defaults(struct sts_config **ret_config)
{
	struct sts_config *cfg;
	int r = STS_OK;

	cfg = config_new(&r);
	if (cfg == NULL)
		return r;
	r = finalize(cfg);
	if (r != STS_OK) {
		sts_config_free(cfg);
		return r;
	}
	*ret_config = cfg;
	return STS_OK;
}

/* ------------------------------------------------------------------ */
/* Loading: walk the YAML document against the tables                  */

struct loader {
	yaml_document_t *doc;
	const char *name;
	struct sts_config *cfg;
	struct sts_diag *diag;
	unsigned merges;
	int seen[N_OPTIONS]; /* line where each row was last set; 0 never */
};

/* Fill the diag: "NAME:LINE: message"; returns err. */
static int fail_line(struct loader *ld, int err, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void vdiag(struct sts_diag *diag, const char *name, int line,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
vdiag(struct sts_diag *diag, const char *name, int line, const char *fmt,
    va_list ap)
{
	size_t nlen = strlen(name), used;
	const char *cut = "";
	int n;

	if (diag == NULL)
		return;
	/* Keep the tail of a long path: the file name matters most. */
	if (nlen > NAME_SHOW) {
		name += nlen - NAME_SHOW;
		cut = "...";
	}
	if (line > 0)
		n = snprintf(diag->message, sizeof(diag->message),
		    "%s%s:%d: ", cut, name, line);
	else
		n = snprintf(
		    diag->message, sizeof(diag->message), "%s%s: ", cut, name);
	used = n > 0 ? (size_t)n : 0;
	if (used < sizeof(diag->message))
		vsnprintf(diag->message + used, sizeof(diag->message) - used,
		    fmt, ap);
	diag->line = line;
}

static void set_diag(struct sts_diag *diag, const char *name, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
set_diag(
    struct sts_diag *diag, const char *name, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(diag, name, line, fmt, ap);
	va_end(ap);
}

static int
fail_line(struct loader *ld, int err, int line, const char *fmt, ...)
{
	va_list ap;

	if (err == STS_ENOMEM) {
		set_diag(ld->diag, ld->name, 0, "out of memory");
		return err;
	}
	va_start(ap, fmt);
	vdiag(ld->diag, ld->name, line, fmt, ap);
	va_end(ap);
	return err;
}

static int
node_line(const yaml_node_t *node)
{
	return node != NULL ? (int)node->start_mark.line + 1 : 0;
}

static const char *
node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a single value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_NO_NODE:
		break;
	}
	return "nothing";
}

static const char *
scalar(const yaml_node_t *node, size_t *ret_len)
{
	*ret_len = node->data.scalar.length;
	return (const char *)node->data.scalar.value;
}

/* YAML 1.1 null: a plain empty scalar, ~, null, Null, NULL. */
static bool
is_null(const yaml_node_t *node)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t len;
	const char *s;

	if (node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = scalar(node, &len);
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strlen(nulls[i]) == len && memcmp(s, nulls[i], len) == 0)
			return true;
	return false;
}

static bool
is_merge_key(const yaml_node_t *key)
{
	return key->type == YAML_SCALAR_NODE &&
	       key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       key->data.scalar.length == 2 &&
	       memcmp(key->data.scalar.value, "<<", 2) == 0;
}

static yaml_node_t *
get_node(struct loader *ld, int index)
{
	return yaml_document_get_node(ld->doc, index);
}

static bool
same_key(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->type == YAML_SCALAR_NODE && b->type == YAML_SCALAR_NODE &&
	       a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value,
		   a->data.scalar.length) == 0;
}

/*
 * Check the key of pair i of map: a scalar, not repeated among the
 * pairs before it.
 */
static int
check_key(struct loader *ld, yaml_node_t *map, yaml_node_pair_t *pair)
{
	yaml_node_t *key = get_node(ld, pair->key);
	struct shown sh;
	size_t len;
	const char *s;

	if (key == NULL)
		return fail_line(ld, STS_EINTERNAL, 0, "broken YAML document");
	if (key->type != YAML_SCALAR_NODE)
		return fail_line(ld, STS_ESYNTAX, node_line(key),
		    "a key must be a single value, not %s", node_kind(key));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair;
	     p++) {
		yaml_node_t *other = get_node(ld, p->key);

		if (other != NULL && same_key(key, other)) {
			s = scalar(key, &len);
			return fail_line(ld, STS_ESYNTAX, node_line(key),
			    "duplicate key '%s' (first at line %d)",
			    show(&sh, s, len), node_line(other));
		}
	}
	return STS_OK;
}

typedef int walk_fn(
    struct loader *ld, yaml_node_t *map, void *ctx, unsigned depth);

/*
 * Apply the "<<" merge keys of map (PyYAML semantics): the merged
 * mappings come first, earlier ones in a list winning over later ones,
 * and the explicit keys (walked afterwards) win over all of them.
 */
static int
walk_merges(struct loader *ld, yaml_node_t *map, walk_fn *walk, void *ctx,
    unsigned depth)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = get_node(ld, p->key);
		yaml_node_t *val = get_node(ld, p->value);
		int r;

		if (key == NULL || val == NULL)
			return fail_line(
			    ld, STS_EINTERNAL, 0, "broken YAML document");
		if (!is_merge_key(key))
			continue;
		if (depth >= DEPTH_MAX)
			return fail_line(ld, STS_ESYNTAX, node_line(key),
			    "merge keys ('<<') nested too deeply");
		if (val->type == YAML_MAPPING_NODE) {
			if (++ld->merges > MERGES_MAX)
				goto too_many;
			r = walk(ld, val, ctx, depth + 1);
			if (r != STS_OK)
				return r;
			continue;
		}
		if (val->type != YAML_SEQUENCE_NODE)
			return fail_line(ld, STS_ESYNTAX, node_line(val),
			    "a merge key ('<<') needs a mapping or a list of "
			    "mappings, not %s",
			    node_kind(val));
		for (yaml_node_item_t *it = val->data.sequence.items.top;
		     it > val->data.sequence.items.start; it--) {
			yaml_node_t *m = get_node(ld, it[-1]);

			if (m == NULL || m->type != YAML_MAPPING_NODE)
				return fail_line(ld, STS_ESYNTAX,
				    node_line(m != NULL ? m : val),
				    "a merge key ('<<') needs mappings");
			if (++ld->merges > MERGES_MAX)
				goto too_many;
			r = walk(ld, m, ctx, depth + 1);
			if (r != STS_OK)
				return r;
		}
	}
	return STS_OK;
too_many:
	return fail_line(ld, STS_ESYNTAX, node_line(map),
	    "more than %u merges ('<<') in one file", MERGES_MAX);
}

/* Levenshtein distance of two short strings, capped at SUGGEST_DIST+1. */
static size_t
distance(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t row[KEY_MAX + 1];

	if (alen > KEY_MAX || blen > KEY_MAX)
		return SUGGEST_DIST + 1;
	if (alen > blen + SUGGEST_DIST || blen > alen + SUGGEST_DIST)
		return SUGGEST_DIST + 1;
	for (size_t j = 0; j <= blen; j++)
		row[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[blen];
}

/* The last component of a dotted name. */
static const char *
leaf(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot != NULL ? dot + 1 : name;
}

static bool
is_child(const char *name, const char *prefix)
{
	size_t plen = strlen(prefix);

	return strncmp(name, prefix, plen) == 0 && name[plen] != '\0' &&
	       strchr(name + plen, '.') == NULL;
}

/* A row elsewhere whose last component is key; below prefix if under. */
static bool
misplaced(const char *prefix, bool under, const char *key, size_t klen,
    char *out, size_t outsz)
{
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *name = options[i].name, *l = leaf(name);

		if (l == name || strlen(l) != klen || memcmp(l, key, klen) != 0)
			continue;
		if (under && strncmp(name, prefix, plen) != 0)
			continue;
		snprintf(out, outsz, " (did you mean '%s'?)", name);
		return true;
	}
	return false;
}

/*
 * "did you mean" text for an unknown key: a close sibling in table, or
 * the same word elsewhere in the main table (e.g. "timeout" at the top
 * level is default_zone.timeout).
 */
static void
suggest(const struct option *table, size_t n, const char *prefix,
    const char *key, size_t klen, char *out, size_t outsz)
{
	const char *best = NULL;
	size_t best_d = SUGGEST_DIST + 1;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (!is_child(table[i].name, prefix))
			continue;
		d = distance(key, klen, leaf(table[i].name),
		    strlen(leaf(table[i].name)));
		/* "file" for "filename": a shortened key is close too. */
		if (d > SUGGEST_DIST && klen >= SUGGEST_PREFIX_MIN &&
		    strncmp(leaf(table[i].name), key, klen) == 0)
			d = SUGGEST_DIST;
		if (d < best_d) {
			best_d = d;
			best = leaf(table[i].name);
		}
	}
	if (best != NULL) {
		snprintf(out, outsz, " (did you mean '%s'?)", best);
		return;
	}
	if (table != options)
		return;
	/* The same word elsewhere: below this mapping first ... */
	if (prefix[0] != '\0' && misplaced(prefix, true, key, klen, out, outsz))
		return;
	/* ... then a zone key (pmsr users write timeout at the top) ... */
	for (size_t i = 0; i < N_ZONE_OPTIONS; i++) {
		const char *l = zone_options[i].name;

		if (strlen(l) == klen && memcmp(l, key, klen) == 0) {
			snprintf(out, outsz,
			    " (did you mean 'default_zone.%s'?)", l);
			return;
		}
	}
	/* ... then anywhere. */
	misplaced(prefix, false, key, klen, out, outsz);
}

static int
unknown_key(struct loader *ld, const struct option *table, size_t n,
    const char *prefix, const yaml_node_t *key)
{
	char hint[KEY_MAX + 32];
	struct shown sh;
	size_t len;
	const char *s = scalar(key, &len);

	suggest(table, n, prefix, s, len, hint, sizeof(hint));
	return fail_line(ld, STS_ESYNTAX, node_line(key),
	    "unknown key '%s%s'%s", prefix, show(&sh, s, len), hint);
}

static int
set_list(struct loader *ld, const struct option *opt, void *base,
    yaml_node_t *seq, const char *label)
{
	struct sts_config_list l = {0, NULL};
	size_t count = (size_t)(seq->data.sequence.items.top -
				seq->data.sequence.items.start);
	struct why why;
	int r = STS_OK;

	if (count > opt->max)
		return fail_line(ld, STS_ESYNTAX, node_line(seq),
		    "%s: more than %llu items", label,
		    (unsigned long long)opt->max);
	if (count > 0) {
		l.items = calloc(count, sizeof(*l.items));
		if (l.items == NULL)
			return fail_line(ld, STS_ENOMEM, 0, "out of memory");
	}
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item = get_node(ld, *it);
		size_t len;
		const char *s;

		if (item == NULL || item->type != YAML_SCALAR_NODE ||
		    is_null(item)) {
			r = fail_line(ld, STS_ESYNTAX,
			    node_line(item ? item : seq),
			    "%s: each item must be a string", label);
			goto out;
		}
		s = scalar(item, &len);
		if (len == 0) {
			r = fail_line(ld, STS_ESYNTAX, node_line(item),
			    "%s: an item is empty", label);
			goto out;
		}
		r = make_string(opt, s, len, &l.items[l.n], &why);
		if (r != STS_OK) {
			r = fail_line(
			    ld, r, node_line(item), "%s: %s", label, why.text);
			goto out;
		}
		l.n++;
	}
	list_clear(field(base, opt));
	*(struct sts_config_list *)field(base, opt) = l;
	return STS_OK;
out:
	list_clear(&l);
	return r;
}

static int
set_hostports(struct loader *ld, const struct option *opt, void *base,
    yaml_node_t *seq, const char *label)
{
	struct sts_config_hostports h = {0, NULL};
	size_t count = (size_t)(seq->data.sequence.items.top -
				seq->data.sequence.items.start);
	int r = STS_OK;

	if (count > opt->max)
		return fail_line(ld, STS_ESYNTAX, node_line(seq),
		    "%s: more than %llu items", label,
		    (unsigned long long)opt->max);
	if (count > 0) {
		h.items = calloc(count, sizeof(*h.items));
		if (h.items == NULL)
			return fail_line(ld, STS_ENOMEM, 0, "out of memory");
	}
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *pair = get_node(ld, *it);
		yaml_node_t *host = NULL, *port = NULL;
		struct why why;
		size_t hlen, plen;
		const char *hs, *ps;

		if (pair != NULL && pair->type == YAML_SEQUENCE_NODE &&
		    pair->data.sequence.items.top -
			    pair->data.sequence.items.start ==
			2) {
			host = get_node(ld, pair->data.sequence.items.start[0]);
			port = get_node(ld, pair->data.sequence.items.start[1]);
		}
		if (host == NULL || port == NULL ||
		    host->type != YAML_SCALAR_NODE ||
		    port->type != YAML_SCALAR_NODE || is_null(host)) {
			r = fail_line(ld, STS_ESYNTAX,
			    node_line(pair != NULL ? pair : seq),
			    "%s: each item must be [host, port]", label);
			goto out;
		}
		hs = scalar(host, &hlen);
		ps = scalar(port, &plen);
		if (hlen == 0 || !parse_port(ps, plen, &h.items[h.n].port)) {
			r = fail_line(ld, STS_ESYNTAX, node_line(pair),
			    "%s: each item must be [host, port] with a port "
			    "from 1 to 65535",
			    label);
			goto out;
		}
		r = make_string(opt, hs, hlen, &h.items[h.n].host, &why);
		if (r != STS_OK) {
			r = fail_line(
			    ld, r, node_line(host), "%s: %s", label, why.text);
			goto out;
		}
		h.n++;
	}
	hostports_clear(field(base, opt));
	*(struct sts_config_hostports *)field(base, opt) = h;
	return STS_OK;
out:
	hostports_clear(&h);
	return r;
}

/* Store the value node of a leaf row into base. */
static int
set_option(struct loader *ld, const struct option *opt, void *base,
    yaml_node_t *val, const char *label)
{
	struct why why;
	size_t len;
	const char *s;
	int r;

	if (val->type == YAML_SEQUENCE_NODE) {
		if (opt->type == T_LIST)
			return set_list(ld, opt, base, val, label);
		if (opt->type == T_HOSTPORTS)
			return set_hostports(ld, opt, base, val, label);
	}
	if (val->type != YAML_SCALAR_NODE)
		return fail_line(ld, STS_ESYNTAX, node_line(val),
		    "%s: expected %s, found %s", label,
		    opt->type == T_LIST || opt->type == T_HOSTPORTS
			? "a list"
			: "a single value",
		    node_kind(val));
	if (opt->type == T_HOSTPORTS) {
		if (is_null(val)) {
			field_clear(opt, base);
			return STS_OK;
		}
		return fail_line(ld, STS_ESYNTAX, node_line(val),
		    "%s: expected a list of [host, port]", label);
	}
	if (opt->type == T_LIST && is_null(val)) {
		field_clear(opt, base);
		return STS_OK;
	}
	s = scalar(val, &len);
	r = set_scalar(opt, base, s, len, is_null(val), &why);
	if (r != STS_OK)
		return fail_line(
		    ld, r, node_line(val), "%s: %s", label, why.text);
	return STS_OK;
}

static const struct option *
find_row(const struct option *table, size_t n, const char *prefix,
    const char *key, size_t klen, size_t *ret_index)
{
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < n; i++) {
		const char *name = table[i].name;

		if (strlen(name) == plen + klen &&
		    memcmp(name, prefix, plen) == 0 &&
		    memcmp(name + plen, key, klen) == 0) {
			*ret_index = i;
			return &table[i];
		}
	}
	return NULL;
}

static int walk_zone(
    struct loader *ld, yaml_node_t *map, void *ctx, unsigned depth);
static int walk_zones(
    struct loader *ld, yaml_node_t *map, void *ctx, unsigned depth);

/* A mapping that must be one, or a null standing for an empty one. */
static int
want_mapping(
    struct loader *ld, yaml_node_t *node, const char *label, bool *ret_empty)
{
	*ret_empty = false;
	if (is_null(node)) {
		*ret_empty = true;
		return STS_OK;
	}
	if (node->type != YAML_MAPPING_NODE)
		return fail_line(ld, STS_ESYNTAX, node_line(node),
		    "%s: expected a mapping of keys, found %s", label,
		    node_kind(node));
	return STS_OK;
}

/* Walk a mapping of main-table rows; ctx is the prefix ("" or "x."). */
static int
walk_section(struct loader *ld, yaml_node_t *map, void *ctx, unsigned depth)
{
	const char *prefix = ctx;
	bool empty;
	int r;

	r = want_mapping(
	    ld, map, prefix[0] != '\0' ? prefix : "top level", &empty);
	if (r != STS_OK || empty)
		return r;
	r = walk_merges(ld, map, walk_section, ctx, depth);
	if (r != STS_OK)
		return r;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key, *val;
		const struct option *opt;
		char child[KEY_MAX + 2];
		size_t klen, idx = 0;
		const char *k;

		r = check_key(ld, map, p);
		if (r != STS_OK)
			return r;
		key = get_node(ld, p->key);
		val = get_node(ld, p->value);
		if (key == NULL || val == NULL)
			return fail_line(
			    ld, STS_EINTERNAL, 0, "broken YAML document");
		if (is_merge_key(key))
			continue;
		k = scalar(key, &klen);
		opt = find_row(options, N_OPTIONS, prefix, k, klen, &idx);
		if (opt == NULL)
			return unknown_key(ld, options, N_OPTIONS, prefix, key);
		switch (opt->type) {
		case T_SECTION:
			snprintf(child, sizeof(child), "%s.", opt->name);
			r = walk_section(ld, val, child, depth);
			break;
		case T_ZONE:
			r = walk_zone(ld, val, &ld->cfg->default_zone, depth);
			break;
		case T_ZONES:
			r = walk_zones(ld, val, NULL, depth);
			break;
		default:
			r = set_option(ld, opt, ld->cfg, val, opt->name);
			break;
		}
		if (r != STS_OK)
			return r;
		ld->seen[idx] = node_line(key);
	}
	return STS_OK;
}

/* Walk the keys of one zone; ctx is the struct sts_config_zone. */
static int
walk_zone(struct loader *ld, yaml_node_t *map, void *ctx, unsigned depth)
{
	struct sts_config_zone *zone = ctx;
	char label[STS_CONFIG_ZONE_NAME_MAX + KEY_MAX];
	char prefix[STS_CONFIG_ZONE_NAME_MAX + 16];
	struct shown sh;
	bool empty;
	int r;

	if (zone->name == NULL)
		snprintf(prefix, sizeof(prefix), "default_zone.");
	else
		snprintf(prefix, sizeof(prefix), "zones.%s.",
		    show(&sh, zone->name, strlen(zone->name)));
	r = want_mapping(ld, map, prefix, &empty);
	if (r != STS_OK || empty)
		return r;
	r = walk_merges(ld, map, walk_zone, ctx, depth);
	if (r != STS_OK)
		return r;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key, *val;
		const struct option *opt;
		size_t klen, idx;
		const char *k;

		r = check_key(ld, map, p);
		if (r != STS_OK)
			return r;
		key = get_node(ld, p->key);
		val = get_node(ld, p->value);
		if (key == NULL || val == NULL)
			return fail_line(
			    ld, STS_EINTERNAL, 0, "broken YAML document");
		if (is_merge_key(key))
			continue;
		k = scalar(key, &klen);
		opt = find_row(zone_options, N_ZONE_OPTIONS, "", k, klen, &idx);
		if (opt == NULL) {
			char hint[KEY_MAX + 32];

			suggest(zone_options, N_ZONE_OPTIONS, "", k, klen, hint,
			    sizeof(hint));
			return fail_line(ld, STS_ESYNTAX, node_line(key),
			    "unknown key '%s%s'%s", prefix, show(&sh, k, klen),
			    hint);
		}
		snprintf(label, sizeof(label), "%s%s", prefix, opt->name);
		r = set_option(ld, opt, zone, val, label);
		if (r != STS_OK)
			return r;
	}
	return STS_OK;
}

/* A zone name can only match if Postfix can send it: no space, no control. */
static bool
zone_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > STS_CONFIG_ZONE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

static struct sts_config_zone *
find_zone(struct sts_config *cfg, const char *name, size_t len)
{
	for (size_t i = 0; i < cfg->n_zones; i++)
		if (strlen(cfg->zones[i].name) == len &&
		    memcmp(cfg->zones[i].name, name, len) == 0)
			return &cfg->zones[i];
	return NULL;
}

static int
add_zone(struct loader *ld, const yaml_node_t *key, const char *name,
    size_t len, struct sts_config_zone **ret_zone)
{
	struct sts_config *cfg = ld->cfg;
	struct sts_config_zone *zone, *zones;
	int r;

	zone = find_zone(cfg, name, len);
	if (zone != NULL) {
		/* Defined by a merge: the later definition replaces it. */
		char *keep = zone->name;

		zone->name = NULL;
		zone_clear(zone);
		zone->name = keep;
		r = zone_defaults(zone);
		if (r != STS_OK)
			return fail_line(ld, r, 0, "cannot set zone defaults");
		*ret_zone = zone;
		return STS_OK;
	}
	if (cfg->n_zones >= STS_CONFIG_MAX_ZONES)
		return fail_line(ld, STS_ESYNTAX, node_line(key),
		    "more than %d zones", STS_CONFIG_MAX_ZONES);
	zones = realloc(cfg->zones, (cfg->n_zones + 1) * sizeof(*zones));
	if (zones == NULL)
		return fail_line(ld, STS_ENOMEM, 0, "out of memory");
	cfg->zones = zones;
	zone = &zones[cfg->n_zones];
	memset(zone, 0, sizeof(*zone));
	zone->name = dup_value(name, len);
	if (zone->name == NULL)
		return fail_line(ld, STS_ENOMEM, 0, "out of memory");
	cfg->n_zones++;
	/* Built-in defaults, NOT default_zone's values: pmsr's rule. */
	r = zone_defaults(zone);
	if (r != STS_OK)
		return fail_line(ld, r, 0, "cannot set zone defaults");
	*ret_zone = zone;
	return STS_OK;
}

/* Walk zones: a mapping of zone names to zone mappings. */
static int
walk_zones(struct loader *ld, yaml_node_t *map, void *ctx, unsigned depth)
{
	bool empty;
	int r;

	r = want_mapping(ld, map, "zones", &empty);
	if (r != STS_OK || empty)
		return r;
	if (map->data.mapping.pairs.top - map->data.mapping.pairs.start >
	    STS_CONFIG_MAX_ZONES + 1)
		return fail_line(ld, STS_ESYNTAX, node_line(map),
		    "more than %d zones", STS_CONFIG_MAX_ZONES);
	r = walk_merges(ld, map, walk_zones, ctx, depth);
	if (r != STS_OK)
		return r;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		struct sts_config_zone *zone = NULL;
		yaml_node_t *key, *val;
		struct shown sh;
		size_t klen;
		const char *k;

		r = check_key(ld, map, p);
		if (r != STS_OK)
			return r;
		key = get_node(ld, p->key);
		val = get_node(ld, p->value);
		if (key == NULL || val == NULL)
			return fail_line(
			    ld, STS_EINTERNAL, 0, "broken YAML document");
		if (is_merge_key(key))
			continue;
		k = scalar(key, &klen);
		if (!zone_name_ok(k, klen))
			return fail_line(ld, STS_ESYNTAX, node_line(key),
			    "zone name '%s' can never match a socketmap name "
			    "(empty, too long, or with a space or control "
			    "character)",
			    show(&sh, k, klen));
		r = add_zone(ld, key, k, klen, &zone);
		if (r != STS_OK)
			return r;
		r = walk_zone(ld, val, zone, depth);
		if (r != STS_OK)
			return r;
	}
	return STS_OK;
}

static size_t
row_index(const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return i;
	return N_OPTIONS;
}

/* Rules across keys: cache options must fit the cache type. */
static int
check_cache(struct loader *ld)
{
	const struct sts_config *cfg = ld->cfg;
	unsigned bit = 1u << cfg->cache.type;
	const char *type = sts_config_cache_type_name(cfg->cache.type);
	size_t ti = row_index("cache.type");
	int type_line = ti < N_OPTIONS ? ld->seen[ti] : 0;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].caches == 0 || ld->seen[i] == 0 ||
		    (options[i].caches & bit))
			continue;
		return fail_line(ld, STS_ESYNTAX, ld->seen[i],
		    "%s does not apply to cache.type %s", options[i].name,
		    type);
	}
	switch (cfg->cache.type) {
	case STS_CONFIG_CACHE_REDIS:
		if (cfg->cache.url == NULL)
			return fail_line(ld, STS_ESYNTAX, type_line,
			    "cache.type redis needs cache.options.url");
		break;
	case STS_CONFIG_CACHE_REDIS_SENTINEL:
		if (cfg->cache.sentinel_master_name == NULL ||
		    cfg->cache.sentinels.n == 0)
			return fail_line(ld, STS_ESYNTAX, type_line,
			    "cache.type redis_sentinel needs "
			    "cache.options.sentinel_master_name and "
			    "cache.options.sentinels");
		break;
	case STS_CONFIG_CACHE_POSTGRES:
		if (cfg->cache.dsn == NULL)
			return fail_line(ld, STS_ESYNTAX, type_line,
			    "cache.type postgres needs cache.options.dsn");
		break;
	case STS_CONFIG_CACHE_INTERNAL:
	case STS_CONFIG_CACHE_SQLITE:
		break;
	}
	return STS_OK;
}

/* Line of a byte offset (for libyaml reader errors, which have none). */
static int
offset_line(const char *text, size_t len, size_t offset)
{
	int line = 1;

	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static int
yaml_fail(
    struct loader *ld, yaml_parser_t *parser, const char *text, size_t len)
{
	const char *problem = parser->problem ? parser->problem : "error";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return fail_line(ld, STS_ENOMEM, 0, "out of memory");
	case YAML_READER_ERROR:
		return fail_line(ld, STS_ESYNTAX,
		    offset_line(text, len, parser->problem_offset),
		    "YAML syntax error: %s", problem);
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
	case YAML_COMPOSER_ERROR:
		if (parser->context != NULL)
			return fail_line(ld, STS_ESYNTAX,
			    (int)parser->problem_mark.line + 1,
			    "YAML syntax error: %s (%s at line %d)", problem,
			    parser->context,
			    (int)parser->context_mark.line + 1);
		return fail_line(ld, STS_ESYNTAX,
		    (int)parser->problem_mark.line + 1, "YAML syntax error: %s",
		    problem);
	case YAML_NO_ERROR:
	case YAML_WRITER_ERROR:
	case YAML_EMITTER_ERROR:
		break;
	}
	return fail_line(ld, STS_ESYNTAX, 0, "YAML error: %s", problem);
}

int
sts_config_load_string(const char *text, size_t len, const char *name,
    struct sts_config **ret_config, struct sts_diag *reterr_diag)
{
	struct loader ld = {
	    .name = name != NULL ? name : "<config>", .diag = reterr_diag};
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	bool have_doc = false;
	yaml_node_t *root;
	int r;

	if (text == NULL && len > 0)
		return STS_EINVAL;
	if (len > STS_CONFIG_MAX_BYTES)
		return fail_line(&ld, STS_ETOOBIG, 0, "larger than %d bytes",
		    STS_CONFIG_MAX_BYTES);
	if (!yaml_parser_initialize(&parser))
		return fail_line(&ld, STS_ENOMEM, 0, "out of memory");
	yaml_parser_set_input_string(
	    &parser, (const unsigned char *)(text != NULL ? text : ""), len);

	if (!yaml_parser_load(&parser, &doc)) {
		r = yaml_fail(&ld, &parser, text, len);
		goto out;
	}
	have_doc = true;
	ld.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL) {
		/* A second document would be silently ignored: refuse it. */
		if (!yaml_parser_load(&parser, &extra)) {
			r = yaml_fail(&ld, &parser, text, len);
			goto out;
		}
		if (yaml_document_get_root_node(&extra) != NULL) {
			r = fail_line(&ld, STS_ESYNTAX,
			    (int)extra.start_mark.line + 1,
			    "more than one YAML document");
			yaml_document_delete(&extra);
			goto out;
		}
		yaml_document_delete(&extra);
	}

	ld.cfg = config_new(&r);
	if (ld.cfg == NULL) {
		r = fail_line(&ld, r, 0, "cannot set defaults");
		goto out;
	}
	if (root != NULL) {
		char top[] = "";

		r = walk_section(&ld, root, top, 0);
		if (r != STS_OK)
			goto out;
	}
	r = check_cache(&ld);
	if (r != STS_OK)
		goto out;
	r = finalize(ld.cfg);
	if (r != STS_OK) {
		r = fail_line(&ld, r, 0, "cannot settle defaults");
		goto out;
	}
	*ret_config = ld.cfg;
	ld.cfg = NULL;
	r = STS_OK;
out:
	sts_config_free(ld.cfg);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return r;
}

int
sts_config_load_file(const char *path, struct sts_config **ret_config,
    struct sts_diag *reterr_diag)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		set_diag(reterr_diag, path, 0, "%s", strerror(e));
		return e == ENOENT ? STS_ENOTFOUND : STS_EIO;
	}
	if (fstat(fd, &st) < 0) {
		set_diag(reterr_diag, path, 0, "%s", strerror(errno));
		r = STS_EIO;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		set_diag(reterr_diag, path, 0, "is a directory");
		r = STS_EIO;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			char *p;

			if (ncap > STS_CONFIG_MAX_BYTES + 1)
				ncap = STS_CONFIG_MAX_BYTES + 1;
			if (ncap == cap) {
				set_diag(reterr_diag, path, 0,
				    "larger than %d bytes",
				    STS_CONFIG_MAX_BYTES);
				r = STS_ETOOBIG;
				goto out;
			}
			p = realloc(buf, ncap);
			if (p == NULL) {
				set_diag(reterr_diag, path, 0, "out of memory");
				r = STS_ENOMEM;
				goto out;
			}
			buf = p;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_diag(reterr_diag, path, 0, "%s", strerror(errno));
			r = STS_EIO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = sts_config_load_string(buf, len, path, ret_config, reterr_diag);
out:
	free(buf);
	close(fd);
	return r;
}

const struct sts_config_zone *
sts_config_zone(const struct sts_config *config, const char *name, size_t len)
{
	for (size_t i = 0; i < config->n_zones; i++) {
		const struct sts_config_zone *z = &config->zones[i];

		if (strlen(z->name) == len && memcmp(z->name, name, len) == 0)
			return z;
	}
	return &config->default_zone;
}

static const char *
enum_name(const struct enum_name *names, unsigned value)
{
	for (; names->name != NULL; names++)
		if (names->value == value)
			return names->name;
	return "?";
}

const char *
sts_config_cache_type_name(enum sts_config_cache_type type)
{
	return enum_name(cache_types, type);
}

const char *
sts_config_dane_name(enum sts_config_dane dane)
{
	return enum_name(dane_modes, dane);
}

const char *
sts_config_dane_failure_name(enum sts_config_dane_failure f)
{
	return enum_name(dane_failures, f);
}

const char *
sts_config_dnssec_name(enum sts_config_dnssec dnssec)
{
	return enum_name(dnssec_modes, dnssec);
}

/* ------------------------------------------------------------------ */
/* Dump (libyaml emitter)                                               */

struct dumper {
	yaml_emitter_t emitter;
	const struct sts_config *cfg;
	const struct sts_config *def; /* NULL: print everything */
	bool failed;
};

static void
emit(struct dumper *d, yaml_event_t *ev)
{
	if (d->failed)
		yaml_event_delete(ev);
	else if (!yaml_emitter_emit(&d->emitter, ev))
		d->failed = true;
}

/* YAML 1.1 would read s as something other than a string. */
static bool
looks_typed(const char *s)
{
	static const char *const words[] = {"~", "null", "Null", "NULL", "y",
	    "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true",
	    "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off",
	    "Off", "OFF", "<<", "="};

	size_t dots = 0;
	bool numeric = true;

	if (s[0] == '\0' || strcmp(s, ".inf") == 0 || strcmp(s, ".nan") == 0 ||
	    strcasecmp(s, "-.inf") == 0 || strcasecmp(s, "+.inf") == 0 ||
	    strcasecmp(s, ".inf") == 0 || strcasecmp(s, ".nan") == 0)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	/* 0x1f, 0b101, 0o17 and the like */
	if (s[0] == '0' && s[1] != '\0' && strchr("xXbBoO", s[1]) != NULL)
		return true;
	/* ints, floats, sexagesimals, dates: digits and these marks only;
	   an IPv4 address or 3.7.10 has too many dots to be a number */
	for (const char *c = s; *c != '\0'; c++) {
		if (*c == '.')
			dots++;
		else if (!is_digit(*c) && strchr("_+-:eE", *c) == NULL)
			numeric = false;
	}
	return numeric && dots <= 1 && strpbrk(s, "0123456789") != NULL;
}

static void
emit_scalar(struct dumper *d, const char *s, bool string)
{
	yaml_event_t ev;
	bool plain = !string || !looks_typed(s);

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
		(const yaml_char_t *)s, (int)strlen(s), plain, 1,
		YAML_ANY_SCALAR_STYLE)) {
		d->failed = true;
		return;
	}
	emit(d, &ev);
}

static void
emit_map(struct dumper *d, bool start)
{
	yaml_event_t ev;
	int ok = start ? yaml_mapping_start_event_initialize(
			     &ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
		       : yaml_mapping_end_event_initialize(&ev);

	if (!ok) {
		d->failed = true;
		return;
	}
	emit(d, &ev);
}

static void
emit_seq(struct dumper *d, bool start, bool flow)
{
	yaml_event_t ev;
	int ok = start
		     ? yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
			   flow ? YAML_FLOW_SEQUENCE_STYLE
				: YAML_BLOCK_SEQUENCE_STYLE)
		     : yaml_sequence_end_event_initialize(&ev);

	if (!ok) {
		d->failed = true;
		return;
	}
	emit(d, &ev);
}

/* Thousandths as "4", "2.5", "0.001". */
static void
format_milli(uint64_t v, char *out, size_t outsz)
{
	unsigned frac = (unsigned)(v % MS_PER_S);

	if (frac == 0) {
		snprintf(
		    out, outsz, "%llu", (unsigned long long)(v / MS_PER_S));
		return;
	}
	if (frac % 100 == 0)
		snprintf(out, outsz, "%llu.%u",
		    (unsigned long long)(v / MS_PER_S), frac / 100);
	else if (frac % 10 == 0)
		snprintf(out, outsz, "%llu.%02u",
		    (unsigned long long)(v / MS_PER_S), frac / 10);
	else
		snprintf(out, outsz, "%llu.%03u",
		    (unsigned long long)(v / MS_PER_S), frac);
}

/* A ratio back in thousandths (ratios are positive: round half up). */
static uint64_t
ratio_milli(double r)
{
	return (uint64_t)(r * MS_PER_S + 0.5);
}

static void
emit_value(struct dumper *d, const struct option *opt, const void *base)
{
	char buf[64];

	switch (opt->type) {
	case T_STR: {
		const char *s = *(char *const *)cfield(base, opt);

		if (s == NULL)
			emit_scalar(d, "null", false);
		else
			emit_scalar(d, s, true);
		return;
	}
	case T_BOOL:
		emit_scalar(d,
		    *(const bool *)cfield(base, opt) ? "true" : "false", false);
		return;
	case T_UINT:
		snprintf(buf, sizeof(buf), "%u",
		    *(const unsigned *)cfield(base, opt));
		emit_scalar(d, buf, false);
		return;
	case T_SECONDS:
		format_milli(
		    *(const uint64_t *)cfield(base, opt), buf, sizeof(buf));
		emit_scalar(d, buf, false);
		return;
	case T_RATIO:
		format_milli(ratio_milli(*(const double *)cfield(base, opt)),
		    buf, sizeof(buf));
		emit_scalar(d, buf, false);
		return;
	case T_MODE: {
		int mode = *(const int *)cfield(base, opt);

		if (mode < 0)
			emit_scalar(d, "null", false);
		else {
			snprintf(buf, sizeof(buf), "0%03o", (unsigned)mode);
			emit_scalar(d, buf, false);
		}
		return;
	}
	case T_ENUM:
		emit_scalar(d,
		    enum_name(opt->enums, *(const unsigned *)cfield(base, opt)),
		    true);
		return;
	case T_VERSION: {
		unsigned v = *(const unsigned *)cfield(base, opt);

		if (v == 0)
			snprintf(buf, sizeof(buf), "auto");
		else
			snprintf(buf, sizeof(buf), "%u.%u.%u", v / 10000,
			    v / 100 % 100, v % 100);
		emit_scalar(d, buf, true);
		return;
	}
	case T_LIST: {
		const struct sts_config_list *l = cfield(base, opt);

		emit_seq(d, true, false);
		for (size_t i = 0; i < l->n; i++)
			emit_scalar(d, l->items[i], true);
		emit_seq(d, false, false);
		return;
	}
	case T_HOSTPORTS: {
		const struct sts_config_hostports *h = cfield(base, opt);

		emit_seq(d, true, false);
		for (size_t i = 0; i < h->n; i++) {
			emit_seq(d, true, true);
			emit_scalar(d, h->items[i].host, true);
			snprintf(buf, sizeof(buf), "%u", h->items[i].port);
			emit_scalar(d, buf, false);
			emit_seq(d, false, true);
		}
		emit_seq(d, false, false);
		return;
	}
	case T_SECTION:
	case T_ZONE:
	case T_ZONES:
		break;
	}
	d->failed = true;
}

static bool
value_equal(const struct option *opt, const void *a, const void *b)
{
	switch (opt->type) {
	case T_STR: {
		const char *x = *(char *const *)cfield(a, opt);
		const char *y = *(char *const *)cfield(b, opt);

		return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
	}
	case T_BOOL:
		return *(const bool *)cfield(a, opt) ==
		       *(const bool *)cfield(b, opt);
	case T_UINT:
	case T_ENUM:
	case T_VERSION:
		return *(const unsigned *)cfield(a, opt) ==
		       *(const unsigned *)cfield(b, opt);
	case T_SECONDS:
		return *(const uint64_t *)cfield(a, opt) ==
		       *(const uint64_t *)cfield(b, opt);
	case T_RATIO:
		return ratio_milli(*(const double *)cfield(a, opt)) ==
		       ratio_milli(*(const double *)cfield(b, opt));
	case T_MODE:
		return *(const int *)cfield(a, opt) ==
		       *(const int *)cfield(b, opt);
	case T_LIST: {
		const struct sts_config_list *x = cfield(a, opt);
		const struct sts_config_list *y = cfield(b, opt);

		if (x->n != y->n)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->items[i], y->items[i]) != 0)
				return false;
		return true;
	}
	case T_HOSTPORTS: {
		const struct sts_config_hostports *x = cfield(a, opt);
		const struct sts_config_hostports *y = cfield(b, opt);

		if (x->n != y->n)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (x->items[i].port != y->items[i].port ||
			    strcmp(x->items[i].host, y->items[i].host) != 0)
				return false;
		return true;
	}
	case T_SECTION:
	case T_ZONE:
	case T_ZONES:
		break;
	}
	return false;
}

static bool
zone_differs(const struct sts_config_zone *z, const struct sts_config_zone *def)
{
	for (size_t i = 0; i < N_ZONE_OPTIONS; i++)
		if (!value_equal(&zone_options[i], z, def))
			return true;
	return false;
}

static void
emit_zone(struct dumper *d, const struct sts_config_zone *z,
    const struct sts_config_zone *def)
{
	emit_map(d, true);
	for (size_t i = 0; i < N_ZONE_OPTIONS; i++) {
		const struct option *opt = &zone_options[i];

		if (def != NULL && value_equal(opt, z, def))
			continue;
		emit_scalar(d, opt->name, true);
		emit_value(d, opt, z);
	}
	emit_map(d, false);
}

/* Does the row print anything (a leaf, or a section with output)? */
static bool
row_prints(const struct dumper *d, const struct option *opt)
{
	char prefix[KEY_MAX + 2];

	if (opt->caches != 0 && !(opt->caches & (1u << d->cfg->cache.type)))
		return false;
	switch (opt->type) {
	case T_SECTION:
		snprintf(prefix, sizeof(prefix), "%s.", opt->name);
		for (size_t i = 0; i < N_OPTIONS; i++)
			if (is_child(options[i].name, prefix) &&
			    row_prints(d, &options[i]))
				return true;
		return false;
	case T_ZONE:
		return d->def == NULL || zone_differs(&d->cfg->default_zone,
					     &d->def->default_zone);
	case T_ZONES:
		return d->def == NULL || d->cfg->n_zones > 0;
	default:
		return d->def == NULL || !value_equal(opt, d->cfg, d->def);
	}
}

static void
emit_section(struct dumper *d, const char *prefix)
{
	emit_map(d, true);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option *opt = &options[i];
		char child[KEY_MAX + 2];

		if (!is_child(opt->name, prefix) || !row_prints(d, opt))
			continue;
		emit_scalar(d, leaf(opt->name), true);
		switch (opt->type) {
		case T_SECTION:
			snprintf(child, sizeof(child), "%s.", opt->name);
			emit_section(d, child);
			break;
		case T_ZONE:
			emit_zone(d, &d->cfg->default_zone,
			    d->def != NULL ? &d->def->default_zone : NULL);
			break;
		case T_ZONES:
			emit_map(d, true);
			for (size_t z = 0; z < d->cfg->n_zones; z++) {
				emit_scalar(d, d->cfg->zones[z].name, true);
				emit_zone(d, &d->cfg->zones[z],
				    d->def != NULL ? &d->def->default_zone
						   : NULL);
			}
			emit_map(d, false);
			break;
		default:
			emit_value(d, opt, d->cfg);
			break;
		}
	}
	emit_map(d, false);
}

int
sts_config_dump(const struct sts_config *config, FILE *out, unsigned flags)
{
	struct sts_config *def = NULL;
	struct dumper d = {.cfg = config};
	yaml_event_t ev;
	int r;

	if (flags & STS_CONFIG_DUMP_NONDEFAULT) {
		/* The built-in zone defaults are default_zone's defaults. */
		r = sts_config_defaults(&def);
		if (r != STS_OK)
			return r;
		d.def = def;
	}
	if (!yaml_emitter_initialize(&d.emitter)) {
		sts_config_free(def);
		return STS_ENOMEM;
	}
	yaml_emitter_set_output_file(&d.emitter, out);
	yaml_emitter_set_unicode(&d.emitter, 1);
	yaml_emitter_set_width(&d.emitter, -1);

	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
		emit(&d, &ev);
	else
		d.failed = true;
	if (yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))
		emit(&d, &ev);
	else
		d.failed = true;
	emit_section(&d, "");
	if (yaml_document_end_event_initialize(&ev, 1))
		emit(&d, &ev);
	else
		d.failed = true;
	if (yaml_stream_end_event_initialize(&ev))
		emit(&d, &ev);
	else
		d.failed = true;
	if (!d.failed && !yaml_emitter_flush(&d.emitter))
		d.failed = true;
	r = d.failed
		? (d.emitter.error == YAML_MEMORY_ERROR ? STS_ENOMEM : STS_EIO)
		: STS_OK;
	yaml_emitter_delete(&d.emitter);
	sts_config_free(def);
	if (r == STS_OK && fflush(out) != 0)
		r = STS_EIO;
	return r;
}

/* ------------------------------------------------------------------ */
/* Documentation                                                        */

static void
type_text(const struct option *opt, char *out, size_t outsz)
{
	size_t used = 0;

	switch (opt->type) {
	case T_STR:
		snprintf(out, outsz, "string");
		return;
	case T_BOOL:
		snprintf(out, outsz, "boolean");
		return;
	case T_UINT:
		snprintf(out, outsz, "integer %llu..%llu",
		    (unsigned long long)opt->min, (unsigned long long)opt->max);
		return;
	case T_SECONDS: {
		char lo[32], hi[32];

		format_milli(opt->min, lo, sizeof(lo));
		format_milli(opt->max, hi, sizeof(hi));
		snprintf(out, outsz, "seconds %s..%s", lo, hi);
		return;
	}
	case T_RATIO: {
		char lo[32], hi[32];

		format_milli(opt->min, lo, sizeof(lo));
		format_milli(opt->max, hi, sizeof(hi));
		snprintf(out, outsz, "number %s..%s", lo, hi);
		return;
	}
	case T_MODE:
		snprintf(out, outsz, "octal mode");
		return;
	case T_ENUM:
		out[0] = '\0';
		for (const struct enum_name *e = opt->enums; e->name != NULL;
		     e++) {
			int n = snprintf(out + used, outsz - used, "%s%s",
			    used > 0 ? "|" : "", e->name);

			if (n < 0 || (size_t)n >= outsz - used)
				return;
			used += (size_t)n;
		}
		return;
	case T_LIST:
		snprintf(out, outsz, "list of strings");
		return;
	case T_HOSTPORTS:
		snprintf(out, outsz, "list of [host, port]");
		return;
	case T_VERSION:
		snprintf(out, outsz, "auto or a version");
		return;
	case T_SECTION:
	case T_ZONE:
		snprintf(out, outsz, "section");
		return;
	case T_ZONES:
		snprintf(out, outsz, "mapping of zone names to sections");
		return;
	}
	snprintf(out, outsz, "?");
}

static void
cache_types_text(unsigned caches, char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = '\0';
	for (const struct enum_name *e = cache_types; e->name != NULL; e++) {
		int n;

		if (!(caches & (1u << e->value)))
			continue;
		n = snprintf(out + used, outsz - used, "%s%s",
		    used > 0 ? ", " : "", e->name);
		if (n < 0 || (size_t)n >= outsz - used)
			return;
		used += (size_t)n;
	}
}

static void
print_row(FILE *out, const char *name, const struct option *opt)
{
	char type[128], caches[128];

	type_text(opt, type, sizeof(type));
	fprintf(out, "*%s* (%s", name, type);
	if (opt->def != NULL)
		fprintf(out, "; default: %s", opt->def);
	else if (opt->type == T_LIST || opt->type == T_HOSTPORTS)
		fprintf(out, "; default: empty");
	else if (opt->flags & F_NULLABLE)
		fprintf(out, "; default: unset");
	if (opt->caches != 0 && opt->caches != C_ALL) {
		cache_types_text(opt->caches, caches, sizeof(caches));
		fprintf(out, "; cache.type: %s", caches);
	}
	fprintf(out, ")\n\t%s\n\n", opt->doc);
}

int
sts_config_print_doc(FILE *out)
{
	char name[KEY_MAX + 32];

	for (size_t i = 0; i < N_OPTIONS; i++) {
		print_row(out, options[i].name, &options[i]);
		if (options[i].type != T_ZONE && options[i].type != T_ZONES)
			continue;
		for (size_t z = 0; z < N_ZONE_OPTIONS; z++) {
			snprintf(name, sizeof(name), "%s.%s",
			    options[i].type == T_ZONE ? "default_zone"
						      : "zones.<NAME>",
			    zone_options[z].name);
			print_row(out, name, &zone_options[z]);
		}
	}
	return fflush(out) == 0 && !ferror(out) ? STS_OK : STS_EIO;
}
