/*
 * config.h - the daemon's configuration: /etc/mta-sts-daemon.yml.
 *
 * The file format and keys are those of postfix-mta-sts-resolver
 * ("pmsr"), so its users keep their file; our own keys are additions.
 * One table in config.c lists every key with its type, default, bounds
 * and a line of documentation; the same table drives parsing, defaults,
 * validation, sts_config_dump() and sts_config_print_doc().
 *
 * Unlike pmsr, mistakes are errors: an unknown key, a duplicate key, a
 * value of the wrong type or out of range stops the load with the file
 * name and line, e.g.
 *   /etc/mta-sts-daemon.yml:7: unknown key 'cache_gracee' (did you mean
 * 'cache_grace'?) A failed load never hands out a partly filled config, so a
 * daemon that reloads keeps its old one.
 *
 * Value syntax (YAML 1.1 as PyYAML reads it, made strict):
 *   boolean   true/false, yes/no, on/off (any of PyYAML's spellings), 1/0
 *   integer   decimal digits, no sign, no leading zero
 *   seconds   decimal with up to 3 fraction digits ("4", "2.5"), kept in ms
 *   mode      octal: 0666, 666, "0666" or 0o666 all mean rw-rw-rw-
 *   string    any scalar; for keys that may be unset, null, ~ or "" unset
 *   list      a YAML sequence of strings, or one string for a list of one
 * A value is read by its text, quoted or not: port: "8461" is 8461.
 * Anchors, aliases and "<<" merge keys work as in PyYAML.
 */
#ifndef MTASTS_COMMON_CONFIG_H
#define MTASTS_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mtasts/err.h"
#include "mtasts/limits.h"

/* pmsr's default config path, which we share. */
#define STS_CONFIG_DEFAULT_PATH "/etc/mta-sts-daemon.yml"

/*
 * Where the default sqlite cache lives: $STATE_DIRECTORY (set by systemd's
 * StateDirectory=; the first entry when it lists several) or else this
 * directory, plus STS_CONFIG_CACHE_FILE.  Debian's pmsr package uses the
 * same /var/lib/mta-sts/cache.db.
 */
#define STS_CONFIG_STATE_DIR  "/var/lib/mta-sts"
#define STS_CONFIG_CACHE_FILE "cache.db"

/* postfix_version as one number: 3.7.10 is 30710; 0 means "auto". */
#define STS_CONFIG_POSTFIX_VERSION(major, minor, patch)                        \
	((unsigned)(major)*10000u + (unsigned)(minor)*100u + (unsigned)(patch))

enum sts_config_cache_type {
	STS_CONFIG_CACHE_INTERNAL,       /* "internal": in-memory LRU */
	STS_CONFIG_CACHE_SQLITE,         /* "sqlite" */
	STS_CONFIG_CACHE_REDIS,          /* "redis" */
	STS_CONFIG_CACHE_REDIS_SENTINEL, /* "redis_sentinel" */
	STS_CONFIG_CACHE_POSTGRES,       /* "postgres" */
};

enum sts_config_dnssec {
	STS_CONFIG_DNSSEC_VALIDATE, /* "validate" */
	STS_CONFIG_DNSSEC_OFF,      /* "off" */
};

/* What to answer when a domain has usable DANE TLSA records. */
enum sts_config_dane {
	STS_CONFIG_DANE_ONLY, /* "dane-only" */
	STS_CONFIG_DANE,      /* "dane" */
	STS_CONFIG_DANE_OFF,  /* "off": ignore DANE, answer MTA-STS only */
};

/* What to answer when the DANE check itself fails (e.g. bogus DNSSEC). */
enum sts_config_dane_failure {
	STS_CONFIG_DANE_FAILURE_TEMP,     /* "temp" */
	STS_CONFIG_DANE_FAILURE_NOTFOUND, /* "notfound" */
};

struct sts_config_list {
	size_t n;
	char **items;
};

struct sts_config_hostport {
	char *host;
	unsigned port;
};

struct sts_config_hostports {
	size_t n;
	struct sts_config_hostport *items;
};

/*
 * A zone is the socketmap name Postfix sends before the key
 * ("socketmap:inet:127.0.0.1:8461:postfix" is zone "postfix").
 */
struct sts_config_zone {
	char *name; /* NULL for the default zone */
	bool strict_testing;
	uint64_t timeout_ms;
	bool require_sni;
	bool tlsrpt;
	enum sts_config_dane dane;
	enum sts_config_dane_failure dane_failure;
};

struct sts_config {
	/* Listener: TCP host:port, or a UNIX socket when path is set. */
	char *host;
	unsigned port;
	char *path; /* NULL: listen on host:port */
	int mode;   /* chmod of the UNIX socket; -1 leaves it */
	bool reuse_port;
	char *socket_owner; /* chown of the UNIX socket; NULL leaves it */
	char *socket_group;
	unsigned max_connections;
	uint64_t idle_timeout_ms; /* 0: never close an idle connection */

	uint64_t cache_grace_ms;
	uint64_t shutdown_timeout_ms;

	struct {
		enum sts_config_cache_type type;
		unsigned cache_size;        /* internal */
		char *filename;             /* sqlite */
		unsigned threads;           /* sqlite; 0: number of CPUs */
		uint64_t timeout_ms;        /* sqlite, postgres */
		char *url;                  /* redis */
		unsigned max_connections;   /* redis*; 0: no limit */
		uint64_t socket_timeout_ms; /* redis* */
		uint64_t socket_connect_timeout_ms;    /* redis* */
		char *password;                        /* redis* */
		char *sentinel_master_name;            /* redis_sentinel */
		struct sts_config_hostports sentinels; /* redis_sentinel */
		char *dsn;                             /* postgres */
		uint64_t negative_ttl_ms; /* all; 0: no negative caching */
	} cache;

	struct {
		bool enabled;
		uint64_t interval_ms;
		unsigned concurrency_limit;
		double grace_ratio;
	} proactive_policy_fetching;

	struct sts_config_zone default_zone;
	size_t n_zones;
	struct sts_config_zone *zones;

	struct sts_config_list
	    resolver;  /* "addr" or "addr@port"; empty: system */
	char *ca_file; /* NULL: system store */
	struct sts_config_list connect_to; /* CURLOPT_CONNECT_TO entries */
	enum sts_config_dnssec dnssec;
	char *trust_anchor_file;
	unsigned postfix_version; /* STS_CONFIG_POSTFIX_VERSION; 0 auto */

	struct {
		bool enabled;
		char *host;
		unsigned port;
	} metrics;
};

/*
 * Load the YAML file at path.  STS_OK stores a new config in *ret_config
 * (free with sts_config_free).  On failure *ret_config is untouched and
 * reterr_diag (may be NULL) holds a message ready to print, starting
 * "PATH:LINE: " (or "PATH: " when there is no line):
 *   STS_ENOTFOUND  the file does not exist (the caller may use defaults)
 *   STS_EIO        it cannot be read
 *   STS_ETOOBIG    it is larger than STS_CONFIG_MAX_BYTES
 *   STS_ESYNTAX    YAML syntax, unknown key, wrong type, out of range
 *   STS_ENOMEM
 * An empty file, or one with only comments, gives the defaults.
 */
int sts_config_load_file(const char *path, struct sts_config **ret_config,
    struct sts_diag *reterr_diag);

/*
 * Load from len bytes of text; name stands for the file name in messages
 * (NULL: "<config>").  Results as sts_config_load_file().
 */
int sts_config_load_string(const char *text, size_t len, const char *name,
    struct sts_config **ret_config, struct sts_diag *reterr_diag);

/*
 * A new config with every default: what the daemon runs with when it has
 * no file.  These equal pmsr's defaults except the cache, which is sqlite
 * in the state directory (see STS_CONFIG_STATE_DIR).  STS_OK or
 * STS_ENOMEM.
 */
int sts_config_defaults(struct sts_config **ret_config);

/* Free a config; NULL is fine. */
void sts_config_free(struct sts_config *config);

/*
 * The zone for a socketmap name of len bytes; the default zone when no
 * zone has that name.  Never NULL.
 */
const struct sts_config_zone *sts_config_zone(
    const struct sts_config *config, const char *name, size_t len);

/* sts_config_dump() flags. */
enum sts_config_dump_flags {
	/* Only keys whose value differs from the default (like postconf -n). */
	STS_CONFIG_DUMP_NONDEFAULT = 1 << 0,
};

/*
 * Print the effective config as YAML that loads back to the same config.
 * Cache options that do not apply to the cache type are left out.
 * STS_OK, STS_EIO (write failed) or STS_ENOMEM.
 */
int sts_config_dump(const struct sts_config *config, FILE *out, unsigned flags);

/*
 * Print every key with its type, default and description, in scdoc(5)
 * markup, for the man page and for the check that it is complete.
 * STS_OK or STS_EIO.
 */
int sts_config_print_doc(FILE *out);

/* Names of the enum values as the file spells them; "?" if out of range. */
const char *sts_config_cache_type_name(enum sts_config_cache_type type);
const char *sts_config_dane_name(enum sts_config_dane dane);
const char *sts_config_dane_failure_name(enum sts_config_dane_failure f);
const char *sts_config_dnssec_name(enum sts_config_dnssec dnssec);

#endif
