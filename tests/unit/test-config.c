/*
 * test-config.c - the config table, loader, dump and docs
 * (common/config.c), plus the data-driven cases in tests/data/config/.
 *
 * Usage: test-config [DATA_DIR]
 * DATA_DIR (or $STS_CONFIG_DATA_DIR) holds NNN-name.yml + NNN-name.expect
 * pairs.  .expect is either the non-default dump of the loaded config
 * (like postconf -n) or "error: <message>" with the file's base name in
 * the message.  STS_UPDATE_EXPECT=1 rewrites the .expect files (review
 * the diff before committing).
 */
/* cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
/* clang-format off */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
/* clang-format on */

#include "config.h"

static const char *data_dir;

/* Load text; on failure return NULL and leave the diag in *diag. */
static struct sts_config *
load(const char *text, int *ret_err, struct sts_diag *diag)
{
	struct sts_config *cfg = NULL;
	struct sts_diag local;

	if (diag == NULL)
		diag = &local;
	memset(diag, 0, sizeof(*diag));
	*ret_err =
	    sts_config_load_string(text, strlen(text), "t.yml", &cfg, diag);
	if (*ret_err != STS_OK) {
		assert_null(cfg);
		return NULL;
	}
	assert_non_null(cfg);
	return cfg;
}

static struct sts_config *
load_ok(const char *text)
{
	struct sts_diag diag;
	int r;
	struct sts_config *cfg = load(text, &r, &diag);

	if (cfg == NULL)
		fail_msg("load failed (%d): %s", r, diag.message);
	return cfg;
}

/* Expect a failure whose message names line and contains want. */
static void
load_bad(const char *text, int line, const char *want)
{
	struct sts_diag diag;
	char prefix[32];
	int r;

	assert_null(load(text, &r, &diag));
	if (r != STS_ESYNTAX || diag.line != line ||
	    strstr(diag.message, want) == NULL)
		fail_msg("for %s\ngot %d line %d: %s\nwant line %d: ...%s...",
		    text, r, diag.line, diag.message, line, want);
	if (line > 0) {
		snprintf(prefix, sizeof(prefix), "t.yml:%d: ", line);
		assert_true(strncmp(diag.message, prefix, strlen(prefix)) == 0);
	}
}

static char *
dump_string(const struct sts_config *cfg, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(sts_config_dump(cfg, f, flags), STS_OK);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* Dump, load the dump, dump again: both dumps must be equal. */
static void
check_roundtrip(const struct sts_config *cfg)
{
	char *a = dump_string(cfg, 0), *b;
	struct sts_config *again = load_ok(a);

	b = dump_string(again, 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
	sts_config_free(again);
}

static int
setup(void **state)
{
	(void)state;
	unsetenv("STATE_DIRECTORY");
	return 0;
}

/* The built-in defaults are pmsr's, except the cache (sqlite). */
static void
test_defaults(void **state)
{
	struct sts_config *cfg = NULL;

	(void)state;
	assert_int_equal(sts_config_defaults(&cfg), STS_OK);
	assert_string_equal(cfg->host, "127.0.0.1");
	assert_int_equal(cfg->port, 8461);
	assert_null(cfg->path);
	assert_int_equal(cfg->mode, -1);
	assert_true(cfg->reuse_port);
	assert_int_equal(cfg->cache_grace_ms, 60000);
	assert_int_equal(cfg->shutdown_timeout_ms, 20000);
	assert_int_equal(cfg->cache.type, STS_CONFIG_CACHE_SQLITE);
	assert_string_equal(cfg->cache.filename, "/var/lib/mta-sts/cache.db");
	assert_int_equal(cfg->cache.cache_size, 10000);
	assert_int_equal(cfg->cache.threads, 0);
	assert_int_equal(cfg->cache.timeout_ms, 5000);
	assert_int_equal(cfg->cache.socket_timeout_ms, 5000);
	assert_int_equal(cfg->cache.socket_connect_timeout_ms, 5000);
	assert_null(cfg->cache.url);
	assert_null(cfg->cache.password);
	assert_null(cfg->cache.dsn);
	assert_null(cfg->cache.sentinel_master_name);
	assert_int_equal(cfg->cache.sentinels.n, 0);
	assert_int_equal(cfg->cache.negative_ttl_ms, 60000);
	assert_false(cfg->proactive_policy_fetching.enabled);
	assert_int_equal(cfg->proactive_policy_fetching.interval_ms, 86400000);
	assert_int_equal(cfg->proactive_policy_fetching.concurrency_limit, 100);
	assert_true(cfg->proactive_policy_fetching.grace_ratio == 2.0);
	assert_null(cfg->default_zone.name);
	assert_false(cfg->default_zone.strict_testing);
	assert_int_equal(cfg->default_zone.timeout_ms, 4000);
	assert_true(cfg->default_zone.require_sni);
	assert_false(cfg->default_zone.tlsrpt);
	assert_int_equal(cfg->default_zone.dane, STS_CONFIG_DANE_ONLY);
	assert_int_equal(
	    cfg->default_zone.dane_failure, STS_CONFIG_DANE_FAILURE_TEMP);
	assert_int_equal(cfg->n_zones, 0);
	/* ours */
	assert_null(cfg->socket_owner);
	assert_null(cfg->socket_group);
	assert_int_equal(cfg->max_connections, 1024);
	assert_int_equal(cfg->idle_timeout_ms, 300000);
	assert_int_equal(cfg->resolver.n, 0);
	assert_null(cfg->ca_file);
	assert_int_equal(cfg->connect_to.n, 0);
	assert_int_equal(cfg->dnssec, STS_CONFIG_DNSSEC_VALIDATE);
	assert_string_equal(cfg->trust_anchor_file, "/usr/share/dns/root.key");
	assert_int_equal(cfg->postfix_version, 0);
	assert_false(cfg->metrics.enabled);
	assert_string_equal(cfg->metrics.host, "127.0.0.1");
	assert_int_equal(cfg->metrics.port, 8462);
	check_roundtrip(cfg);
	sts_config_free(cfg);
	sts_config_free(NULL);
}

/* Empty input, comments only, an empty document: all the defaults. */
static void
test_empty(void **state)
{
	static const char *const empties[] = {"", "\n\n", "# nothing\n  # x\n",
	    "~\n", "null", "---\n", "---\n...\n", "{}\n",
	    "\xef\xbb\xbf# bom\n"};
	struct sts_config *def = NULL;
	char *want;

	(void)state;
	assert_int_equal(sts_config_defaults(&def), STS_OK);
	want = dump_string(def, 0);
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct sts_config *cfg = load_ok(empties[i]);
		char *got = dump_string(cfg, 0), *nd;

		assert_string_equal(got, want);
		nd = dump_string(cfg, STS_CONFIG_DUMP_NONDEFAULT);
		assert_string_equal(nd, "{}\n");
		free(got);
		free(nd);
		sts_config_free(cfg);
	}
	free(want);
	sts_config_free(def);
}

/* Every key, set to something other than its default. */
static void
test_every_key(void **state)
{
	static const char text[] =
	    "host: 0.0.0.0\n"
	    "port: 8000\n"
	    "path: /var/spool/postfix/run/mta-sts/mta-sts.sock\n"
	    "mode: 0660\n"
	    "reuse_port: false\n"
	    "socket_owner: _mta-sts\n"
	    "socket_group: postfix\n"
	    "max_connections: 50\n"
	    "idle_timeout: 0\n"
	    "cache_grace: 2.5\n"
	    "shutdown_timeout: 0.25\n"
	    "cache:\n"
	    "  type: redis_sentinel\n"
	    "  options:\n"
	    "    sentinel_master_name: mymaster\n"
	    "    sentinels: [[s1.example, 26379], ['::1', 26380]]\n"
	    "    password: secret\n"
	    "    max_connections: 25\n"
	    "    socket_timeout: 1\n"
	    "    socket_connect_timeout: 2\n"
	    "    negative_ttl: 0\n"
	    "proactive_policy_fetching:\n"
	    "  enabled: true\n"
	    "  interval: 3600\n"
	    "  concurrency_limit: 7\n"
	    "  grace_ratio: 1.5\n"
	    "default_zone:\n"
	    "  strict_testing: true\n"
	    "  timeout: 9\n"
	    "  require_sni: false\n"
	    "  tlsrpt: true\n"
	    "  dane: dane\n"
	    "  dane_failure: notfound\n"
	    "zones:\n"
	    "  postfix:\n"
	    "    strict_testing: true\n"
	    "    timeout: 2\n"
	    "    require_sni: false\n"
	    "    tlsrpt: true\n"
	    "    dane: 'off'\n"
	    "    dane_failure: notfound\n"
	    "  other: {}\n"
	    "resolver: [127.0.0.1@5353, '::1']\n"
	    "ca_file: /etc/test-ca.pem\n"
	    "connect_to: ['mta-sts.a.example:443:127.0.0.1:8443']\n"
	    "dnssec: off\n"
	    "trust_anchor_file: /tmp/root.key\n"
	    "postfix_version: 3.7.10\n"
	    "metrics:\n"
	    "  enabled: true\n"
	    "  host: '::1'\n"
	    "  port: 9100\n";
	struct sts_config *cfg;
	const struct sts_config_zone *z;

	(void)state;
	cfg = load_ok(text);
	assert_string_equal(cfg->host, "0.0.0.0");
	assert_int_equal(cfg->port, 8000);
	assert_string_equal(
	    cfg->path, "/var/spool/postfix/run/mta-sts/mta-sts.sock");
	assert_int_equal(cfg->mode, 0660);
	assert_false(cfg->reuse_port);
	assert_string_equal(cfg->socket_owner, "_mta-sts");
	assert_string_equal(cfg->socket_group, "postfix");
	assert_int_equal(cfg->max_connections, 50);
	assert_int_equal(cfg->idle_timeout_ms, 0);
	assert_int_equal(cfg->cache_grace_ms, 2500);
	assert_int_equal(cfg->shutdown_timeout_ms, 250);
	assert_int_equal(cfg->cache.type, STS_CONFIG_CACHE_REDIS_SENTINEL);
	assert_string_equal(cfg->cache.sentinel_master_name, "mymaster");
	assert_int_equal(cfg->cache.sentinels.n, 2);
	assert_string_equal(cfg->cache.sentinels.items[0].host, "s1.example");
	assert_int_equal(cfg->cache.sentinels.items[0].port, 26379);
	assert_string_equal(cfg->cache.sentinels.items[1].host, "::1");
	assert_int_equal(cfg->cache.sentinels.items[1].port, 26380);
	assert_string_equal(cfg->cache.password, "secret");
	assert_int_equal(cfg->cache.max_connections, 25);
	assert_int_equal(cfg->cache.socket_timeout_ms, 1000);
	assert_int_equal(cfg->cache.socket_connect_timeout_ms, 2000);
	assert_int_equal(cfg->cache.negative_ttl_ms, 0);
	assert_null(cfg->cache.filename); /* not sqlite: no default file */
	assert_true(cfg->proactive_policy_fetching.enabled);
	assert_int_equal(cfg->proactive_policy_fetching.interval_ms, 3600000);
	assert_int_equal(cfg->proactive_policy_fetching.concurrency_limit, 7);
	assert_true(cfg->proactive_policy_fetching.grace_ratio == 1.5);
	assert_true(cfg->default_zone.strict_testing);
	assert_int_equal(cfg->default_zone.timeout_ms, 9000);
	assert_false(cfg->default_zone.require_sni);
	assert_true(cfg->default_zone.tlsrpt);
	assert_int_equal(cfg->default_zone.dane, STS_CONFIG_DANE);
	assert_int_equal(
	    cfg->default_zone.dane_failure, STS_CONFIG_DANE_FAILURE_NOTFOUND);
	assert_int_equal(cfg->n_zones, 2);
	z = sts_config_zone(cfg, "postfix", 7);
	assert_string_equal(z->name, "postfix");
	assert_true(z->strict_testing);
	assert_int_equal(z->timeout_ms, 2000);
	assert_false(z->require_sni);
	assert_true(z->tlsrpt);
	assert_int_equal(z->dane, STS_CONFIG_DANE_OFF);
	assert_int_equal(z->dane_failure, STS_CONFIG_DANE_FAILURE_NOTFOUND);
	assert_int_equal(cfg->resolver.n, 2);
	assert_string_equal(cfg->resolver.items[0], "127.0.0.1@5353");
	assert_string_equal(cfg->resolver.items[1], "::1");
	assert_string_equal(cfg->ca_file, "/etc/test-ca.pem");
	assert_int_equal(cfg->connect_to.n, 1);
	assert_string_equal(
	    cfg->connect_to.items[0], "mta-sts.a.example:443:127.0.0.1:8443");
	assert_int_equal(cfg->dnssec, STS_CONFIG_DNSSEC_OFF);
	assert_string_equal(cfg->trust_anchor_file, "/tmp/root.key");
	assert_int_equal(
	    cfg->postfix_version, STS_CONFIG_POSTFIX_VERSION(3, 7, 10));
	assert_true(cfg->metrics.enabled);
	assert_string_equal(cfg->metrics.host, "::1");
	assert_int_equal(cfg->metrics.port, 9100);
	check_roundtrip(cfg);
	sts_config_free(cfg);
}

/* The other cache back ends and their options. */
static void
test_cache_types(void **state)
{
	struct sts_config *cfg;

	(void)state;
	cfg = load_ok("cache: {type: internal, options: {cache_size: 5}}\n");
	assert_int_equal(cfg->cache.type, STS_CONFIG_CACHE_INTERNAL);
	assert_int_equal(cfg->cache.cache_size, 5);
	assert_null(cfg->cache.filename);
	sts_config_free(cfg);

	cfg = load_ok("cache:\n  type: sqlite\n  options:\n"
		      "    filename: /tmp/c.db\n    threads: 4\n"
		      "    timeout: 1.5\n");
	assert_string_equal(cfg->cache.filename, "/tmp/c.db");
	assert_int_equal(cfg->cache.threads, 4);
	assert_int_equal(cfg->cache.timeout_ms, 1500);
	sts_config_free(cfg);

	/* Debian's shipped /etc/mta-sts-daemon.yml */
	cfg = load_ok("cache:\n  type: sqlite\n  options:\n"
		      "    filename: \"/var/lib/mta-sts/cache.db\"\n");
	assert_string_equal(cfg->cache.filename, "/var/lib/mta-sts/cache.db");
	sts_config_free(cfg);

	cfg = load_ok("cache:\n  type: redis\n  options:\n"
		      "    url: \"redis://127.0.0.1/0?socket_timeout=5\"\n"
		      "    max_connections: 25\n");
	assert_int_equal(cfg->cache.type, STS_CONFIG_CACHE_REDIS);
	assert_string_equal(
	    cfg->cache.url, "redis://127.0.0.1/0?socket_timeout=5");
	sts_config_free(cfg);

	cfg = load_ok("cache: {type: postgres, options: {dsn: "
		      "'postgres://u@h/db', timeout: 3}}\n");
	assert_int_equal(cfg->cache.type, STS_CONFIG_CACHE_POSTGRES);
	assert_string_equal(cfg->cache.dsn, "postgres://u@h/db");
	assert_int_equal(cfg->cache.timeout_ms, 3000);
	sts_config_free(cfg);

	/* An option that the chosen back end does not take. */
	load_bad("cache:\n  type: sqlite\n  options:\n    url: redis://x\n", 4,
	    "cache.options.url does not apply to cache.type sqlite");
	load_bad("cache:\n  options:\n    cache_size: 5\n", 3,
	    "cache.options.cache_size does not apply to cache.type sqlite");
	/* Options before type: still checked against the final type. */
	load_bad("cache:\n  options: {dsn: x}\n  type: redis\n", 2,
	    "cache.options.dsn does not apply to cache.type redis");
	/* Required options. */
	load_bad("port: 1\ncache: {type: redis}\n", 2,
	    "cache.type redis needs cache.options.url");
	load_bad("cache:\n  type: redis_sentinel\n  options: "
		 "{sentinel_master_name: m}\n",
	    2, "needs cache.options.sentinel_master_name and");
	load_bad("cache:\n  type: postgres\n", 2,
	    "cache.type postgres needs cache.options.dsn");
	load_bad("cache: {type: memcached}\n", 1,
	    "cache.type: expected one of internal, sqlite, redis, "
	    "redis_sentinel, postgres, found 'memcached'");
	/* Sentinels must be pairs. */
	load_bad("cache:\n  type: redis_sentinel\n  options:\n"
		 "    sentinel_master_name: m\n    sentinels: [[h]]\n",
	    5, "each item must be [host, port]");
	load_bad("cache:\n  type: redis_sentinel\n  options:\n"
		 "    sentinel_master_name: m\n    sentinels:\n"
		 "      - [h, 0]\n",
	    6, "with a port from 1 to 65535");
	load_bad("cache:\n  type: redis_sentinel\n  options:\n"
		 "    sentinel_master_name: m\n    sentinels: h:1\n",
	    5, "expected a list of [host, port]");
}

/*
 * pmsr's quirk, kept: a key a zone leaves out takes the built-in
 * default, not default_zone's value.
 */
static void
test_zone_quirk(void **state)
{
	static const char text[] = "default_zone:\n"
				   "  strict_testing: true\n"
				   "  timeout: 10\n"
				   "  require_sni: false\n"
				   "  dane: 'off'\n"
				   "zones:\n"
				   "  postfix:\n"
				   "    tlsrpt: true\n"
				   "  empty:\n";
	struct sts_config *cfg = load_ok(text);
	const struct sts_config_zone *z;

	(void)state;
	z = sts_config_zone(cfg, "postfix", 7);
	assert_string_equal(z->name, "postfix");
	assert_true(z->tlsrpt);
	assert_false(z->strict_testing);       /* built-in, not true */
	assert_int_equal(z->timeout_ms, 4000); /* built-in, not 10 s */
	assert_true(z->require_sni);           /* built-in, not false */
	assert_int_equal(z->dane, STS_CONFIG_DANE_ONLY);
	z = sts_config_zone(cfg, "empty", 5);
	assert_string_equal(z->name, "empty");
	assert_int_equal(z->timeout_ms, 4000);

	/* Unknown names and prefixes get the default zone. */
	z = sts_config_zone(cfg, "smtp", 4);
	assert_ptr_equal(z, &cfg->default_zone);
	assert_null(z->name);
	assert_int_equal(z->timeout_ms, 10000);
	assert_ptr_equal(sts_config_zone(cfg, "post", 4), &cfg->default_zone);
	assert_ptr_equal(
	    sts_config_zone(cfg, "postfixx", 8), &cfg->default_zone);
	assert_ptr_equal(sts_config_zone(cfg, "", 0), &cfg->default_zone);
	/* Names are bytes with a length: the request need not end in NUL. */
	assert_string_equal(
	    sts_config_zone(cfg, "postfix example.com", 7)->name, "postfix");
	sts_config_free(cfg);
}

static void
test_zone_errors(void **state)
{
	(void)state;
	load_bad("zones:\n  postfix:\n    timout: 3\n", 3,
	    "unknown key 'zones.postfix.timout' (did you mean 'timeout'?)");
	load_bad("zones:\n  'a b': {}\n", 2, "zone name 'a b' can never match");
	load_bad("zones:\n  '': {}\n", 2, "zone name '' can never match");
	load_bad("zones:\n  a: {}\n  a: {}\n", 3,
	    "duplicate key 'a' (first at line 2)");
	load_bad("zones: [a, b]\n", 1,
	    "zones: expected a mapping of keys, found a list");
	load_bad("zones:\n  a: 5\n", 2,
	    "zones.a.: expected a mapping of keys, found a single value");
	load_bad("default_zone:\n  timeout: 0\n", 2,
	    "default_zone.timeout: 0.000 is out of range (0.001 to 600.000)");
	load_bad("default_zone:\n  dane: maybe\n", 2,
	    "expected one of dane-only, dane, off, found 'maybe'");
}

static void
test_too_many_zones(void **state)
{
	size_t cap = 64 * (STS_CONFIG_MAX_ZONES + 2), len = 0;
	char *text = malloc(cap);
	struct sts_config *cfg;
	int r;

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "zones:\n");
	for (int i = 0; i < STS_CONFIG_MAX_ZONES; i++)
		len += (size_t)snprintf(
		    text + len, cap - len, "  z%d: {timeout: 1}\n", i);
	cfg = load_ok(text);
	assert_int_equal(cfg->n_zones, STS_CONFIG_MAX_ZONES);
	assert_int_equal(sts_config_zone(cfg, "z1000", 5)->timeout_ms, 1000);
	sts_config_free(cfg);
	snprintf(text + len, cap - len, "  one_more: {}\n");
	assert_null(load(text, &r, NULL));
	assert_int_equal(r, STS_ESYNTAX);
	free(text);
}

static void
test_unknown_key(void **state)
{
	(void)state;
	load_bad("port: 8461\n\ncache_gracee: 3\n", 3,
	    "unknown key 'cache_gracee' (did you mean 'cache_grace'?)");
	load_bad("# comment\nhots: x\n", 2,
	    "unknown key 'hots' (did you mean 'host'?)");
	load_bad("cache:\n  type: redis\n  options:\n    urll: x\n", 4,
	    "unknown key 'cache.options.urll' (did you mean 'url'?)");
	/* A zone key at the top level, as pmsr users sometimes try. */
	load_bad("timeout: 5\n", 1,
	    "unknown key 'timeout' (did you mean 'default_zone.timeout'?)");
	load_bad("cache:\n  filename: x\n", 2,
	    "unknown key 'cache.filename' (did you mean "
	    "'cache.options.filename'?)");
	/* Nothing close: no suggestion. */
	load_bad("frobnicate: 1\n", 1, "unknown key 'frobnicate'");
	/* Untrusted text is escaped in the message. */
	load_bad("\"a\\x01b\": 1\n", 1, "unknown key 'a\\x01b'");
	/* A key that is not a plain value. */
	load_bad("[a]: 1\n", 1, "a key must be a single value, not a list");
}

static void
test_bad_values(void **state)
{
	(void)state;
	load_bad(
	    "port: [1]\n", 1, "port: expected a single value, found a list");
	load_bad("port: {a: 1}\n", 1, "found a mapping");
	load_bad(
	    "port: abc\n", 1, "port: expected a whole number, found 'abc'");
	load_bad("port: 0\n", 1, "port: 0 is out of range (1 to 65535)");
	load_bad("port: 65536\n", 1, "port: 65536 is out of range");
	load_bad("port: -1\n", 1, "expected a whole number");
	load_bad("port: 08461\n", 1, "has a leading zero");
	load_bad("port: 8461.0\n", 1, "expected a whole number");
	load_bad("port: 99999999999999999999999\n", 1, "is too large");
	load_bad("port:\n", 1, "port: needs a value");
	load_bad("host: ''\n", 1, "host: needs a value");
	load_bad("reuse_port: maybe\n", 1,
	    "reuse_port: expected true or false, found 'maybe'");
	load_bad("reuse_port: 2\n", 1, "expected true or false");
	load_bad("cache_grace: -1\n", 1, "cache_grace: '-1' is negative");
	load_bad("cache_grace: 1s\n", 1,
	    "cache_grace: expected a number such as 4 or 2.5, found '1s'");
	load_bad("cache_grace: .\n", 1, "expected a number");
	load_bad("cache_grace: 1e3\n", 1, "expected a number");
	load_bad("shutdown_timeout: 3601\n", 1, "is out of range");
	load_bad("proactive_policy_fetching:\n  grace_ratio: 0\n", 2,
	    "grace_ratio: 0.000 is out of range");
	load_bad("proactive_policy_fetching: 5\n", 1,
	    "expected a mapping of keys, found a single value");
	load_bad("dnssec: maybe\n", 1,
	    "dnssec: expected one of validate, off, found 'maybe'");
	load_bad("postfix_version: three\n", 1,
	    "expected auto or a Postfix version such as 3.7.10");
	load_bad("postfix_version: 1.0\n", 1, "expected auto");
	load_bad("postfix_version: 3.7.10.1\n", 1, "expected auto");
	load_bad("postfix_version: 3.100\n", 1, "expected auto");
	load_bad("host: \"a\\0b\"\n", 1, "host: the value contains a NUL byte");
	load_bad("resolver: [not-an-ip]\n", 1,
	    "resolver: expected an IP address or address@port, found "
	    "'not-an-ip'");
	load_bad("resolver:\n  - 127.0.0.1\n  - 127.0.0.1@0\n", 3,
	    "expected an IP address or address@port");
	load_bad("resolver: ['@53']\n", 1, "expected an IP address");
	load_bad(
	    "resolver: [[1]]\n", 1, "resolver: each item must be a string");
	load_bad("resolver: [~]\n", 1, "each item must be a string");
	load_bad("resolver: {a: 1}\n", 1, "resolver: expected a list");
	load_bad("connect_to: [a.example]\n", 1,
	    "expected HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT");
	load_bad("connect_to: ['a:443:b:99999']\n", 1, "expected HOST:PORT");
	load_bad("connect_to: ['a:443:b:1:2']\n", 1, "expected HOST:PORT");
	load_bad("connect_to: ['a b:443:b:1']\n", 1, "expected HOST:PORT");
	load_bad("metrics:\n  port: 0\n", 2, "metrics.port: 0 is out of range");
}

static void
test_values(void **state)
{
	struct sts_config *cfg;

	(void)state;
	/* PyYAML's boolean spellings. */
	cfg = load_ok("reuse_port: no\nproactive_policy_fetching: "
		      "{enabled: ON}\n");
	assert_false(cfg->reuse_port);
	assert_true(cfg->proactive_policy_fetching.enabled);
	sts_config_free(cfg);
	cfg = load_ok("reuse_port: 0\n");
	assert_false(cfg->reuse_port);
	sts_config_free(cfg);
	/* Values are read by their text, quoted or not. */
	cfg = load_ok("port: \"8025\"\nreuse_port: 'false'\n");
	assert_int_equal(cfg->port, 8025);
	assert_false(cfg->reuse_port);
	sts_config_free(cfg);
	/* Seconds keep milliseconds; further digits are dropped. */
	cfg = load_ok("cache_grace: 0.0015\nshutdown_timeout: .5\n"
		      "idle_timeout: 7.\n");
	assert_int_equal(cfg->cache_grace_ms, 1);
	assert_int_equal(cfg->shutdown_timeout_ms, 500);
	assert_int_equal(cfg->idle_timeout_ms, 7000);
	sts_config_free(cfg);
	/* Nullable strings: null, ~ or "" unset them. */
	cfg = load_ok("path: ~\nca_file: ''\nsocket_owner: null\n");
	assert_null(cfg->path);
	assert_null(cfg->ca_file);
	assert_null(cfg->socket_owner);
	sts_config_free(cfg);
	/* One string is a list of one; null and "" are empty lists. */
	cfg = load_ok("resolver: 10.0.0.1\nconnect_to: ~\n");
	assert_int_equal(cfg->resolver.n, 1);
	assert_string_equal(cfg->resolver.items[0], "10.0.0.1");
	assert_int_equal(cfg->connect_to.n, 0);
	sts_config_free(cfg);
	cfg = load_ok("resolver: ''\nconnect_to: []\n");
	assert_int_equal(cfg->resolver.n, 0);
	sts_config_free(cfg);
	cfg = load_ok("resolver: ['2001:db8::53@5353', '192.0.2.1@53']\n"
		      "connect_to: ['::[::1]:', '[::1]:443:127.0.0.1:']\n");
	assert_int_equal(cfg->resolver.n, 2);
	assert_int_equal(cfg->connect_to.n, 2);
	sts_config_free(cfg);
	/* Postfix versions: 3.10 is a version, not the float 3.1. */
	cfg = load_ok("postfix_version: 3.10\n");
	assert_int_equal(
	    cfg->postfix_version, STS_CONFIG_POSTFIX_VERSION(3, 10, 0));
	sts_config_free(cfg);
	cfg = load_ok("postfix_version: '3'\n");
	assert_int_equal(cfg->postfix_version, 30000);
	sts_config_free(cfg);
	cfg = load_ok("postfix_version: auto\n");
	assert_int_equal(cfg->postfix_version, 0);
	sts_config_free(cfg);
	/* Null sections are empty sections. */
	cfg = load_ok("cache:\nproactive_policy_fetching: ~\nzones:\n"
		      "default_zone:\n");
	assert_int_equal(cfg->cache.type, STS_CONFIG_CACHE_SQLITE);
	assert_int_equal(cfg->n_zones, 0);
	sts_config_free(cfg);
}

static void
test_octal_mode(void **state)
{
	static const struct {
		const char *text;
		int mode;
	} good[] = {
	    {"mode: 0666\n", 0666},
	    {"mode: 666\n", 0666},
	    {"mode: \"0666\"\n", 0666},
	    {"mode: '666'\n", 0666},
	    {"mode: 0o666\n", 0666},
	    {"mode: 0600\n", 0600},
	    {"mode: 0\n", 0},
	    {"mode: 07777\n", 07777},
	    {"mode: 00660\n", 0660},
	    {"mode: ~\n", -1},
	};
	struct sts_config *cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg = load_ok(good[i].text);
		assert_int_equal(cfg->mode, good[i].mode);
		check_roundtrip(cfg);
		sts_config_free(cfg);
	}
	load_bad("mode: 0888\n", 1,
	    "mode: expected an octal mode such as 0660, found '0888'");
	load_bad("mode: 438\n", 1, "expected an octal mode");
	load_bad("mode: 0o\n", 1, "expected an octal mode");
	load_bad("mode: rw-rw-rw-\n", 1, "expected an octal mode");
	load_bad("mode: 17777\n", 1, "mode: mode '17777' is above 07777");
	load_bad("mode: ''\n", 1, "expected an octal mode");
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	load_bad("port: 1\nhost: [a\n", 3,
	    "YAML syntax error: did not find "
	    "expected ',' or ']'");
	load_bad("port: 1\n  x: : 2\n", 2,
	    "YAML syntax error: mapping values "
	    "are not allowed in this context");
	load_bad("a:\n\tb: 1\n", 2, "YAML syntax error");
	load_bad(
	    "port: *nope\n", 1, "YAML syntax error: found undefined alias");
	load_bad("port: 1\n---\nport: 2\n", 2, "more than one YAML document");
	load_bad("- a\n- b\n", 1,
	    "top level: expected a mapping of keys, "
	    "found a list");
	load_bad("just text\n", 1,
	    "top level: expected a mapping of keys, "
	    "found a single value");
	load_bad("port: 1\nport: 2\n", 2,
	    "duplicate key 'port' (first at line "
	    "1)");
	/* Invalid UTF-8: a reader error, located by offset. */
	load_bad("port: 1\nhost: \xff\n", 2, "YAML syntax error");
}

/* Anchors, aliases and "<<" merge keys, as PyYAML reads them. */
static void
test_merge_keys(void **state)
{
	static const char text[] = "base: &b\n"; /* unknown key: not used */
	static const char good[] =
	    "zones:\n"
	    "  a: &z {strict_testing: true, timeout: 7}\n"
	    "  b: *z\n"
	    "  c: {<<: *z, timeout: 3}\n"
	    "  d:\n"
	    "    timeout: 5\n"
	    "    <<: [*z, {tlsrpt: true, timeout: 1}]\n";
	struct sts_config *cfg;
	const struct sts_config_zone *z;
	int r;

	(void)state;
	assert_null(load(text, &r, NULL));
	cfg = load_ok(good);
	z = sts_config_zone(cfg, "b", 1);
	assert_true(z->strict_testing);
	assert_int_equal(z->timeout_ms, 7000);
	z = sts_config_zone(cfg, "c", 1);
	assert_true(z->strict_testing);
	assert_int_equal(z->timeout_ms, 3000); /* explicit key wins */
	z = sts_config_zone(cfg, "d", 1);
	assert_true(z->strict_testing);
	assert_true(z->tlsrpt);
	assert_int_equal(z->timeout_ms, 5000); /* explicit over merged */
	sts_config_free(cfg);

	/* Earlier mappings in a merge list win over later ones. */
	cfg = load_ok("default_zone: {<<: [{timeout: 1}, {timeout: 2}]}\n");
	assert_int_equal(cfg->default_zone.timeout_ms, 1000);
	sts_config_free(cfg);

	/* A mapping merged into itself must not loop. */
	load_bad("default_zone: &a {<<: *a}\n", 1,
	    "merge keys ('<<') nested "
	    "too deeply");
	load_bad("port: 1\n<<: 5\n", 2, "a merge key ('<<') needs a mapping");
	/* Merged zones mappings; a later definition replaces a merged one. */
	cfg = load_ok("zones:\n  <<: {a: {timeout: 9}, b: {}}\n  a: {}\n");
	assert_int_equal(cfg->n_zones, 2);
	assert_int_equal(sts_config_zone(cfg, "a", 1)->timeout_ms, 4000);
	sts_config_free(cfg);
}

/* Self-referential structures where a value is expected. */
static void
test_cycles(void **state)
{
	(void)state;
	load_bad("resolver: &a [*a]\n", 1,
	    "resolver: each item must be a "
	    "string");
	load_bad("cache:\n  type: redis_sentinel\n  options:\n"
		 "    sentinel_master_name: m\n    sentinels: &s [*s, *s]\n",
	    5, "each item must be [host, port]");
	load_bad("cache: &c {options: *c}\n", 1,
	    "unknown key 'cache.options."
	    "options'");
}

static void
test_state_directory(void **state)
{
	struct sts_config *cfg;

	(void)state;
	setenv("STATE_DIRECTORY", "/run/state/mta-sts:/var/lib/other", 1);
	cfg = load_ok("");
	assert_string_equal(cfg->cache.filename, "/run/state/mta-sts/cache.db");
	sts_config_free(cfg);
	setenv("STATE_DIRECTORY", "/srv/x///", 1);
	assert_int_equal(sts_config_defaults(&cfg), STS_OK);
	assert_string_equal(cfg->cache.filename, "/srv/x/cache.db");
	sts_config_free(cfg);
	setenv("STATE_DIRECTORY", "/", 1);
	assert_int_equal(sts_config_defaults(&cfg), STS_OK);
	assert_string_equal(cfg->cache.filename, "/cache.db");
	sts_config_free(cfg);
	/* Relative or empty: ignored. */
	setenv("STATE_DIRECTORY", "relative", 1);
	assert_int_equal(sts_config_defaults(&cfg), STS_OK);
	assert_string_equal(cfg->cache.filename, "/var/lib/mta-sts/cache.db");
	sts_config_free(cfg);
	/* A file named in the config wins. */
	setenv("STATE_DIRECTORY", "/run/state/mta-sts", 1);
	cfg = load_ok("cache: {type: sqlite, options: {filename: a.db}}\n");
	assert_string_equal(cfg->cache.filename, "a.db");
	sts_config_free(cfg);
	unsetenv("STATE_DIRECTORY");
}

/* A failed load leaves the caller's pointer alone. */
static void
test_no_half_config(void **state)
{
	static const char bad1[] = "port: 1\nzones: {a: {}}\nhost: [\n";
	static const char bad2[] = "port: 1\nbogus: 1\n";
	struct sts_config *keep = (struct sts_config *)&keep, *cfg = keep;
	struct sts_diag diag;

	(void)state;
	assert_int_equal(
	    sts_config_load_string(bad1, strlen(bad1), "x", &cfg, &diag),
	    STS_ESYNTAX);
	assert_ptr_equal(cfg, keep);
	assert_int_equal(
	    sts_config_load_string(bad2, strlen(bad2), NULL, &cfg, &diag),
	    STS_ESYNTAX);
	assert_ptr_equal(cfg, keep);
	assert_string_equal(diag.message, "<config>:2: unknown key 'bogus'");
	assert_int_equal(diag.line, 2);
	/* A NUL byte in the text is a YAML error, not an end. */
	assert_int_equal(
	    sts_config_load_string(bad2, sizeof(bad2), "x", &cfg, &diag),
	    STS_ESYNTAX);
	assert_ptr_equal(cfg, keep);
	/* A NULL diag is fine. */
	assert_int_equal(
	    sts_config_load_string(bad2, strlen(bad2), "x", &cfg, NULL),
	    STS_ESYNTAX);
	assert_ptr_equal(cfg, keep);
}

static void
test_load_file(void **state)
{
	char dir[] = "/tmp/test-config-XXXXXX", path[64];
	struct sts_config *cfg = NULL;
	struct sts_diag diag;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mta-sts-daemon.yml", dir);

	assert_int_equal(
	    sts_config_load_file(path, &cfg, &diag), STS_ENOTFOUND);
	assert_null(cfg);
	assert_int_equal(diag.line, 0);
	assert_non_null(strstr(diag.message, "mta-sts-daemon.yml: No such "
					     "file"));
	assert_int_equal(sts_config_load_file(dir, &cfg, &diag), STS_EIO);
	assert_non_null(strstr(diag.message, ": is a directory"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("port: 10025\n\ncache_gracee: 1\n", f);
	fclose(f);
	assert_int_equal(sts_config_load_file(path, &cfg, &diag), STS_ESYNTAX);
	assert_int_equal(diag.line, 3);
	assert_true(strncmp(diag.message, path, strlen(path)) == 0);
	assert_string_equal(diag.message + strlen(path),
	    ":3: unknown key 'cache_gracee' (did you mean 'cache_grace'?)");

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("port: 10025\n", f);
	fclose(f);
	assert_int_equal(sts_config_load_file(path, &cfg, &diag), STS_OK);
	assert_int_equal(cfg->port, 10025);
	sts_config_free(cfg);

	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i <= STS_CONFIG_MAX_BYTES / 8; i++)
		fputs("#6789ab\n", f);
	fclose(f);
	cfg = NULL;
	assert_int_equal(sts_config_load_file(path, &cfg, &diag), STS_ETOOBIG);
	assert_null(cfg);

	unlink(path);
	rmdir(dir);
}

static void
test_dump(void **state)
{
	struct sts_config *cfg;
	char *out;

	(void)state;
	cfg = load_ok("port: 10025\nzones: {postfix: {tlsrpt: true}, "
		      "plain: {}}\ncache: {type: internal}\n"
		      "host: 'yes'\nresolver: 127.0.0.1\n");
	out = dump_string(cfg, STS_CONFIG_DUMP_NONDEFAULT);
	assert_string_equal(out, "host: 'yes'\n"
				 "port: 10025\n"
				 "cache:\n"
				 "  type: internal\n"
				 "zones:\n"
				 "  postfix:\n"
				 "    tlsrpt: true\n"
				 "  plain: {}\n"
				 "resolver:\n"
				 "- 127.0.0.1\n");
	free(out);
	/* The full dump shows only the options of the chosen back end. */
	out = dump_string(cfg, 0);
	assert_non_null(strstr(out, "  options:\n    cache_size: 10000\n"
				    "    negative_ttl: 60\n"));
	assert_null(strstr(out, "filename"));
	assert_null(strstr(out, "url"));
	free(out);
	check_roundtrip(cfg);
	sts_config_free(cfg);
	/* Strings that YAML would read as other types are quoted. */
	cfg = load_ok("cache: {type: redis, options: {url: x, password: "
		      "'0123'}}\nsocket_owner: 'null'\nsocket_group: '1e5'\n"
		      "metrics: {host: 'x: y'}\n");
	check_roundtrip(cfg);
	out = dump_string(cfg, STS_CONFIG_DUMP_NONDEFAULT);
	assert_non_null(strstr(out, "password: '0123'\n"));
	assert_non_null(strstr(out, "socket_owner: 'null'\n"));
	assert_non_null(strstr(out, "socket_group: '1e5'\n"));
	free(out);
	sts_config_free(cfg);
}

static void
test_doc(void **state)
{
	static const char *const keys[] = {"*host*", "*port*", "*path*",
	    "*mode*", "*reuse_port*", "*cache_grace*", "*shutdown_timeout*",
	    "*cache.type*", "*cache.options.cache_size*",
	    "*cache.options.filename*", "*cache.options.sentinels*",
	    "*cache.options.negative_ttl*",
	    "*proactive_policy_fetching."
	    "grace_ratio*",
	    "*default_zone.strict_testing*", "*zones.<NAME>.timeout*",
	    "*zones.<NAME>.dane_failure*", "*resolver*", "*connect_to*",
	    "*dnssec*", "*trust_anchor_file*", "*postfix_version*",
	    "*metrics.port*", "*idle_timeout*", "*max_connections*",
	    "*socket_owner*"};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(sts_config_print_doc(f), STS_OK);
	fclose(f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strstr(buf, keys[i]) == NULL)
			fail_msg("doc lacks %s", keys[i]);
	assert_non_null(strstr(buf, "*port* (integer 1..65535; default: "
				    "8461)\n\t(pmsr) "));
	assert_non_null(strstr(buf, "*cache.options.url* (string; default: "
				    "unset; cache.type: redis)"));
	free(buf);
}

static void
test_enum_names(void **state)
{
	(void)state;
	assert_string_equal(
	    sts_config_cache_type_name(STS_CONFIG_CACHE_REDIS_SENTINEL),
	    "redis_sentinel");
	assert_string_equal(
	    sts_config_cache_type_name((enum sts_config_cache_type)99), "?");
	assert_string_equal(
	    sts_config_dane_name(STS_CONFIG_DANE_ONLY), "dane-only");
	assert_string_equal(
	    sts_config_dane_failure_name(STS_CONFIG_DANE_FAILURE_NOTFOUND),
	    "notfound");
	assert_string_equal(
	    sts_config_dnssec_name(STS_CONFIG_DNSSEC_OFF), "off");
}

/* ---- data-driven cases ---------------------------------------------- */

static char *
slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (f == NULL)
		return NULL;
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	*ret_len = len;
	return buf;
}

static int
is_case(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 4 && strcmp(e->d_name + n - 4, ".yml") == 0;
}

/* What a case produces: the -n dump, or "error: <message>". */
static char *
run_case(const char *name, const char *text, size_t len)
{
	struct sts_config *cfg = NULL;
	struct sts_diag diag;
	char *out = NULL;
	size_t olen = 0;
	FILE *m;

	if (sts_config_load_string(text, len, name, &cfg, &diag) != STS_OK) {
		m = open_memstream(&out, &olen);
		assert_non_null(m);
		fprintf(m, "error: %s\n", diag.message);
		fclose(m);
		return out;
	}
	check_roundtrip(cfg);
	out = dump_string(cfg, STS_CONFIG_DUMP_NONDEFAULT);
	sts_config_free(cfg);
	return out;
}

static void
test_data_cases(void **state)
{
	bool update = getenv("STS_UPDATE_EXPECT") != NULL;
	struct dirent **list = NULL;
	unsigned failed = 0;
	int n;

	(void)state;
	if (data_dir == NULL)
		skip();
	n = scandir(data_dir, &list, is_case, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		char path[4096], expect_path[4096];
		size_t len = 0, elen = 0;
		char *text, *got, *want;

		snprintf(
		    path, sizeof(path), "%s/%s", data_dir, list[i]->d_name);
		snprintf(expect_path, sizeof(expect_path), "%.*s.expect",
		    (int)(strlen(path) - 4), path);
		text = slurp(path, &len);
		assert_non_null(text);
		got = run_case(list[i]->d_name, text, len);
		if (update) {
			FILE *f = fopen(expect_path, "w");

			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		}
		want = slurp(expect_path, &elen);
		if (want == NULL || strcmp(got, want) != 0) {
			print_error("%s:\n--- want\n%s--- got\n%s", path,
			    want != NULL ? want : "(no .expect file)\n", got);
			failed++;
		} else {
			print_message("ok %s\n", list[i]->d_name);
		}
		free(text);
		free(got);
		free(want);
		free(list[i]);
	}
	free(list);
	if (failed > 0)
		fail_msg("%u of %d data cases failed", failed, n);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_cache_types),
	    cmocka_unit_test(test_zone_quirk),
	    cmocka_unit_test(test_zone_errors),
	    cmocka_unit_test(test_too_many_zones),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_octal_mode),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_merge_keys),
	    cmocka_unit_test(test_cycles),
	    cmocka_unit_test(test_state_directory),
	    cmocka_unit_test(test_no_half_config),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_dump),
	    cmocka_unit_test(test_doc),
	    cmocka_unit_test(test_enum_names),
	    cmocka_unit_test(test_data_cases),
	};

	data_dir = argc > 1 ? argv[1] : getenv("STS_CONFIG_DATA_DIR");
	return cmocka_run_group_tests_name("config", tests, setup, NULL);
}
