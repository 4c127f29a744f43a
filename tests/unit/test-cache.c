/*
 * test-cache.c - the policy cache: memory layer, SQLite store (reopen,
 * corrupt rows, schema version, kill -9), pmsr import, the Redis value
 * codec and URL parser, and a Redis that is not there.  Files live in a
 * fresh temporary directory per test.
 */
/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache_int.h"
#include "mtasts/cache.h"
#include "mtasts/policy.h"

#define T0  1700000000 /* the fake clock */
#define DAY 86400

static const char body1[] = "version: STSv1\r\nmode: enforce\r\n"
			    "mx: mail.example.com\r\nmax_age: 86400\r\n";
static const char body2[] = "version: STSv1\r\nmode: testing\r\n"
			    "mx: *.example.net\r\nmax_age: 604800\r\n";

struct fixture {
	char dir[64];
	char db[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-cache.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/cache.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char p[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct sts_cache_entry
entry(const char *domain, const char *id, const char *body, int64_t t,
    int64_t max_age)
{
	struct sts_cache_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.domain, sizeof(e.domain), "%s", domain);
	snprintf(e.id, sizeof(e.id), "%s", id);
	e.body = body;
	e.body_len = strlen(body);
	e.fetched_at = e.checked_at = t;
	e.expires_at = t + max_age;
	e.used_at = 0;
	return e;
}

static struct sts_cache *
open_mem(size_t max)
{
	struct sts_cache_config cfg = {.type = "internal", .max_entries = max};
	struct sts_cache *c = NULL;

	assert_int_equal(sts_cache_new(NULL, &cfg, &c, NULL), STS_OK);
	return c;
}

static struct sts_cache *
open_sql(const char *path, size_t max, int64_t now)
{
	struct sts_cache_config cfg = {
	    .type = "sqlite",
	    .filename = path,
	    .max_entries = max,
	    .now = now,
	};
	struct sts_cache *c = NULL;
	struct sts_diag diag = {0};
	int r = sts_cache_new(NULL, &cfg, &c, &diag);

	if (r != STS_OK)
		fail_msg(
		    "open %s: %s: %s", path, sts_strerror(r), diag.message);
	return c;
}

static void
assert_entry_eq(
    const struct sts_cache_entry *a, const struct sts_cache_entry *b)
{
	assert_string_equal(a->domain, b->domain);
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body, b->body, a->body_len);
	assert_int_equal(a->fetched_at, b->fetched_at);
	assert_int_equal(a->expires_at, b->expires_at);
	assert_int_equal(a->checked_at, b->checked_at);
}

/* ---- memory layer ---- */

static void
put_peek(void **state)
{
	struct sts_cache *c = open_mem(0);
	struct sts_cache_entry e = entry(
				   "example.com", "20240101", body1, T0, DAY),
			       got;
	struct sts_cache_stats st;

	(void)state;
	assert_string_equal(sts_cache_type(c), "internal");
	assert_int_equal(
	    sts_cache_peek(c, "example.com", T0, &got), STS_ENOTFOUND);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(
	    sts_cache_peek(c, "example.com", T0 + 5, &got), STS_OK);
	assert_entry_eq(&got, &e);
	assert_int_equal(got.used_at, T0 + 5); /* peek marks it used */
	/* keys are exact: the caller normalizes */
	assert_int_equal(
	    sts_cache_peek(c, "EXAMPLE.com", T0, &got), STS_ENOTFOUND);
	assert_int_equal(
	    sts_cache_peek(c, "example.co", T0, &got), STS_ENOTFOUND);
	sts_cache_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.max_entries, STS_CACHE_DEFAULT_ENTRIES);
	assert_true(st.store_up);
	assert_true(st.bytes > sizeof(body1));
	sts_cache_free(c);
	sts_cache_free(NULL);
}

static void
expiry(void **state)
{
	struct sts_cache *c = open_mem(0);
	struct sts_cache_entry e = entry("example.com", "a", body1, T0, DAY),
			       got;
	size_t removed = 99;

	(void)state;
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	assert_int_equal(
	    sts_cache_peek(c, "example.com", T0 + DAY - 1, &got), STS_OK);
	/* RFC 8461 §3.2: usable for max_age seconds, not at max_age */
	assert_int_equal(
	    sts_cache_peek(c, "example.com", T0 + DAY, &got), STS_ENOTFOUND);
	/* diagnostics still see it, and seeing it changes nothing */
	assert_int_equal(sts_cache_peek_stale(c, "example.com", &got), STS_OK);
	assert_int_equal(got.expires_at, T0 + DAY);
	assert_int_equal(got.used_at, T0 + DAY - 1);
	assert_int_equal(sts_cache_prune(c, T0 + DAY - 1, &removed), STS_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(sts_cache_prune(c, T0 + DAY, &removed), STS_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(
	    sts_cache_peek_stale(c, "example.com", &got), STS_ENOTFOUND);
	sts_cache_free(c);
}

static void
rejects(void **state)
{
	struct sts_cache *c = open_mem(0);
	struct sts_cache_entry e;
	struct sts_cache_stats st;
	char *big = malloc(STS_POLICY_MAX_BYTES + 2);
	char name[STS_DOMAIN_MAX + 2];

	(void)state;
	assert_non_null(big);
	memset(big, 'x', STS_POLICY_MAX_BYTES + 1);
	big[STS_POLICY_MAX_BYTES + 1] = '\0';

	static const char *const bad_domains[] = {"", "Example.com",
	    "example.com.", ".example.com", "a..b", "exa mple.com",
	    "ex_ample.com", "*.example.com", "b\xc3\xa9.example"};
	for (size_t i = 0; i < sizeof(bad_domains) / sizeof(*bad_domains);
	     i++) {
		e = entry(bad_domains[i], "a", body1, T0, DAY);
		assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);
	}
	/* 63-octet labels are fine, 64 are not; 253 octets total */
	memset(name, 'a', 64);
	name[64] = '\0';
	e = entry(name, "a", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);
	for (int i = 0; i < STS_DOMAIN_MAX; i++)
		name[i] = (i % 2) ? '.' : 'a';
	name[STS_DOMAIN_MAX] = '\0';
	e = entry(name, "a", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	name[STS_DOMAIN_MAX] = 'a';
	name[STS_DOMAIN_MAX + 1] = '\0';
	memcpy(e.domain, name, sizeof(e.domain)); /* no NUL inside */
	assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);

	static const char *const bad_ids[] = {
	    "", "a-b", "a b", "123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(*bad_ids); i++) {
		e = entry("example.com", "x", body1, T0, DAY);
		memcpy(e.id, bad_ids[i],
		    strlen(bad_ids[i]) + 1 > sizeof(e.id)
			? sizeof(e.id)
			: strlen(bad_ids[i]) + 1);
		assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);
	}
	e = entry(
	    "example.com", "12345678901234567890123456789012", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);

	e = entry("big.example", "a", big, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_ETOOBIG);
	e.body_len = STS_POLICY_MAX_BYTES;
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	e = entry("null.example", "a", "", T0, DAY);
	e.body = NULL;
	e.body_len = 1;
	assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);
	e.body_len = 0;
	assert_int_equal(sts_cache_put(c, &e), STS_OK); /* empty is storable */
	e = entry("neg.example", "a", body1, -5, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);
	assert_int_equal(sts_cache_put(c, NULL), STS_EINVAL);
	assert_int_equal(sts_cache_touch(c, "example.com", -1, 5), STS_EINVAL);

	sts_cache_stats(c, &st);
	assert_int_equal(st.entries, 4);
	free(big);
	sts_cache_free(c);
}

static void
lru(void **state)
{
	struct sts_cache *c = open_mem(3);
	struct sts_cache_entry e, got;
	struct sts_cache_stats st;
	const char *names[] = {"a.example", "b.example", "c.example"};

	(void)state;
	for (int i = 0; i < 3; i++) {
		e = entry(names[i], "a", body1, T0, DAY);
		assert_int_equal(sts_cache_put(c, &e), STS_OK);
	}
	/* a is used, so b is now the least recently used */
	assert_int_equal(sts_cache_peek(c, "a.example", T0, &got), STS_OK);
	e = entry("d.example", "a", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	assert_int_equal(
	    sts_cache_peek_stale(c, "b.example", &got), STS_ENOTFOUND);
	assert_int_equal(sts_cache_peek_stale(c, "a.example", &got), STS_OK);
	assert_int_equal(sts_cache_peek_stale(c, "c.example", &got), STS_OK);
	assert_int_equal(sts_cache_peek_stale(c, "d.example", &got), STS_OK);
	/* replacing an entry evicts nothing */
	e = entry("c.example", "b", body2, T0 + 1, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	sts_cache_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 1);
	sts_cache_free(c);
}

static void
replace_touch_del(void **state)
{
	struct sts_cache *c = open_mem(0);
	struct sts_cache_entry e = entry("example.com", "a", body1, T0, DAY),
			       got;

	(void)state;
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	assert_int_equal(
	    sts_cache_peek(c, "example.com", T0 + 50, &got), STS_OK);
	e = entry("example.com", "b", body2, T0 + 100, 7 * DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	assert_int_equal(sts_cache_peek_stale(c, "example.com", &got), STS_OK);
	assert_entry_eq(&got, &e);
	assert_int_equal(got.used_at, T0 + 50); /* the larger used_at stays */

	assert_int_equal(
	    sts_cache_touch(c, "example.com", T0 + 200, T0 + 200 + 7 * DAY),
	    STS_OK);
	assert_int_equal(sts_cache_peek_stale(c, "example.com", &got), STS_OK);
	assert_int_equal(got.checked_at, T0 + 200);
	assert_int_equal(got.expires_at, T0 + 200 + 7 * DAY);
	assert_int_equal(got.fetched_at, T0 + 100);
	assert_memory_equal(got.body, body2, strlen(body2));
	assert_int_equal(
	    sts_cache_touch(c, "other.example", T0, T0), STS_ENOTFOUND);

	assert_int_equal(sts_cache_del(c, "example.com"), STS_OK);
	assert_int_equal(sts_cache_del(c, "example.com"), STS_ENOTFOUND);
	assert_int_equal(
	    sts_cache_peek_stale(c, "example.com", &got), STS_ENOTFOUND);
	sts_cache_free(c);
}

struct walk {
	int n;
	char seen[8][32];
	struct sts_cache *c;
	int stop_at;
};

static int
walk_cb(const struct sts_cache_entry *e, void *arg)
{
	struct walk *w = arg;
	struct sts_cache_entry copy = *e;

	snprintf(w->seen[w->n], sizeof(w->seen[0]), "%.31s", e->domain);
	w->n++;
	/* the cache refuses changes during the walk */
	assert_int_equal(sts_cache_put(w->c, &copy), STS_EINVAL);
	assert_int_equal(sts_cache_del(w->c, e->domain), STS_EINVAL);
	assert_int_equal(sts_cache_foreach(w->c, walk_cb, w), STS_EINVAL);
	return w->n == w->stop_at ? 42 : 0;
}

static void foreach (void **state)
{
	struct sts_cache *c = open_mem(0);
	struct sts_cache_entry e, got;
	struct walk w = {.c = c, .stop_at = -1};

	(void)state;
	e = entry("a.example", "a", body1, T0, DAY);
	sts_cache_put(c, &e);
	e = entry("b.example", "a", body1, T0, DAY);
	sts_cache_put(c, &e);
	e = entry("c.example", "a", body1, T0, 1); /* expired: listed too */
	sts_cache_put(c, &e);
	assert_int_equal(sts_cache_peek(c, "a.example", T0 + 10, &got), STS_OK);
	assert_int_equal(sts_cache_foreach(c, walk_cb, &w), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.seen[0], "a.example"); /* most recent first */
	assert_string_equal(w.seen[1], "c.example");
	assert_string_equal(w.seen[2], "b.example");
	memset(&w, 0, sizeof(w));
	w.c = c;
	w.stop_at = 2;
	assert_int_equal(sts_cache_foreach(c, walk_cb, &w), 42);
	assert_int_equal(w.n, 2);
	/* changes work again after the walk */
	assert_int_equal(sts_cache_clear(c), STS_OK);
	assert_int_equal(
	    sts_cache_peek_stale(c, "a.example", &got), STS_ENOTFOUND);
	sts_cache_free(c);
}

/* ---- asynchronous fetch on the memory layer ---- */

struct got {
	int calls;
	int status;
	struct sts_cache_entry e;
	char body[256];
	struct sts_cache **free_me;
};

static void
fetch_cb(int status, const struct sts_cache_entry *e, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->status = status;
	if (e != NULL) {
		g->e = *e;
		assert_true(e->body_len < sizeof(g->body));
		memcpy(g->body, e->body, e->body_len);
		g->e.body = g->body;
	}
	if (g->free_me != NULL) { /* the callback may free the cache */
		sts_cache_free(*g->free_me);
		*g->free_me = NULL;
	}
}

static void
fetch_memory(void **state)
{
	struct event_base *base = event_base_new();
	struct sts_cache_config cfg = {.type = "internal"};
	struct sts_cache *c = NULL, *nobase = open_mem(0);
	struct sts_cache_entry e = entry("example.com", "a", body1, T0, DAY);
	struct sts_cache_req *req = NULL;
	struct got g1 = {0}, g2 = {0}, g3 = {0}, g4 = {0};

	(void)state;
	assert_non_null(base);
	assert_int_equal(sts_cache_new(base, &cfg, &c, NULL), STS_OK);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	assert_int_equal(
	    sts_cache_fetch(nobase, "example.com", T0, fetch_cb, &g1, NULL),
	    STS_EINVAL);
	assert_int_equal(
	    sts_cache_fetch(c, "Bad..name", T0, fetch_cb, &g1, NULL),
	    STS_EINVAL);

	assert_int_equal(
	    sts_cache_fetch(c, "example.com", T0 + 1, fetch_cb, &g1, &req),
	    STS_OK);
	assert_non_null(req);
	assert_int_equal(
	    sts_cache_fetch(c, "none.example", T0, fetch_cb, &g2, NULL),
	    STS_OK);
	assert_int_equal(
	    sts_cache_fetch(c, "example.com", T0, fetch_cb, &g3, &req), STS_OK);
	/* never called back from inside the call */
	assert_int_equal(g1.calls + g2.calls + g3.calls, 0);
	sts_cache_cancel(req);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g1.status, STS_OK);
	assert_entry_eq(&g1.e, &e);
	assert_int_equal(g1.e.used_at, T0 + 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g2.status, STS_ENOTFOUND);
	assert_int_equal(g3.calls, 0); /* cancelled */
	sts_cache_cancel(NULL);

	/* a callback that frees the cache, with another fetch pending */
	g4.free_me = &c;
	assert_int_equal(
	    sts_cache_fetch(c, "example.com", T0, fetch_cb, &g4, NULL), STS_OK);
	assert_int_equal(
	    sts_cache_fetch(c, "example.com", T0, fetch_cb, &g3, NULL), STS_OK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(g4.calls, 1);
	assert_null(c);
	assert_int_equal(g3.calls, 0); /* freed before its turn: never called */

	/* freeing with fetches outstanding: no callback, no leak */
	assert_int_equal(sts_cache_new(base, &cfg, &c, NULL), STS_OK);
	assert_int_equal(
	    sts_cache_fetch(c, "x.example", T0, fetch_cb, &g3, NULL), STS_OK);
	sts_cache_free(c);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(g3.calls, 0);

	sts_cache_free(nobase);
	event_base_free(base);
}

static void
config_errors(void **state)
{
	struct sts_cache *c = NULL;
	struct sts_diag diag = {0};
	struct sts_cache_config cfg = {.type = "postgres"};

	(void)state;
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EINVAL);
	assert_non_null(strstr(diag.message, "postgres"));
	cfg.type = "sqlite";
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EINVAL);
	cfg.type = "redis";
	cfg.url = "redis://127.0.0.1:6379";
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EINVAL);
	cfg.type = "internal";
	cfg.read_only = true;
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EINVAL);
	cfg.read_only = false;
	cfg.max_entries = (size_t)STS_CACHE_MAX_ENTRIES + 1;
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EINVAL);
	assert_null(c); /* untouched on failure */
	assert_int_equal(sts_cache_new(NULL, NULL, &c, NULL), STS_OK);
	assert_string_equal(sts_cache_type(c), "internal");
	sts_cache_free(c);
}

/*
 * 10 000 policies of a realistic size: every one is found, and the
 * memory per entry (measured with mallinfo2) is reported.
 */
static void
ten_thousand(void **state)
{
	struct mallinfo2 before, after;
	struct sts_cache *c;
	struct sts_cache_entry e, got;
	struct sts_cache_stats st;
	char name[64];
	size_t body_bytes = 0, key_bytes = 0;

	(void)state;
	before = mallinfo2();
	c = open_mem(STS_CACHE_DEFAULT_ENTRIES);
	for (int i = 0; i < STS_CACHE_DEFAULT_ENTRIES; i++) {
		snprintf(name, sizeof(name), "d%05d.example.com", i);
		e = entry(name, "20240101T000000", body1, T0, DAY);
		assert_int_equal(sts_cache_put(c, &e), STS_OK);
		body_bytes += e.body_len;
		key_bytes += strlen(e.domain) + strlen(e.id);
	}
	after = mallinfo2();
	for (int i = 0; i < STS_CACHE_DEFAULT_ENTRIES; i++) {
		snprintf(name, sizeof(name), "d%05d.example.com", i);
		assert_int_equal(sts_cache_peek(c, name, T0, &got), STS_OK);
	}
	sts_cache_stats(c, &st);
	assert_int_equal(st.entries, STS_CACHE_DEFAULT_ENTRIES);
	{
		double total = (double)(after.uordblks - before.uordblks);
		double per = total / STS_CACHE_DEFAULT_ENTRIES;
		double payload = (double)(body_bytes + key_bytes) /
				 STS_CACHE_DEFAULT_ENTRIES;

		printf("# 10000 entries: %.0f bytes each in the heap "
		       "(payload %.0f, overhead %.0f); stats.bytes %zu\n",
		    per, payload, per - payload, st.bytes);
		/* Under sanitizers malloc is ASan's; only bound it loosely. */
		if (total > 0)
			assert_true(per - payload < 256);
	}
	sts_cache_free(c);
}

/* ---- SQLite ---- */

static int64_t
scalar(const char *path, const char *sql_text)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, sql_text, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
exec_file(const char *path, const char *sql_text)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql_text, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql_text, err);
	sqlite3_close(db);
}

static void
sqlite_reopen(void **state)
{
	struct fixture *f = *state;
	struct sts_cache *c = open_sql(f->db, 0, T0);
	struct sts_cache_entry a = entry("a.example", "one", body1, T0, DAY);
	struct sts_cache_entry b =
	    entry("b.example", "two", body2, T0, 7 * DAY);
	struct sts_cache_entry got;
	struct stat sb;

	assert_string_equal(sts_cache_type(c), "sqlite");
	assert_int_equal(sts_cache_put(c, &a), STS_OK);
	assert_int_equal(sts_cache_put(c, &b), STS_OK);
	assert_int_equal(
	    sts_cache_touch(c, "b.example", T0 + 60, T0 + 60 + 7 * DAY),
	    STS_OK);
	b.checked_at = T0 + 60;
	b.expires_at = T0 + 60 + 7 * DAY;
	assert_int_equal(sts_cache_peek(c, "a.example", T0 + 30, &got), STS_OK);
	sts_cache_free(c); /* flushes used_at */

	assert_int_equal(stat(f->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(
	    scalar(f->db, "SELECT max(version) FROM mtasts_schema_version"), 1);
	assert_int_equal(
	    scalar(f->db, "SELECT count(*) FROM mtasts_policy"), 2);

	c = open_sql(f->db, 0, T0 + 100);
	assert_int_equal(sts_cache_peek_stale(c, "a.example", &got), STS_OK);
	assert_entry_eq(&got, &a);
	assert_int_equal(got.used_at, T0 + 30);
	assert_int_equal(sts_cache_peek_stale(c, "b.example", &got), STS_OK);
	assert_entry_eq(&got, &b);
	/* delete and clear are written through */
	assert_int_equal(sts_cache_del(c, "a.example"), STS_OK);
	assert_int_equal(sts_cache_del(c, "a.example"), STS_ENOTFOUND);
	sts_cache_free(c);
	assert_int_equal(
	    scalar(f->db, "SELECT count(*) FROM mtasts_policy"), 1);
	c = open_sql(f->db, 0, T0 + 100);
	assert_int_equal(sts_cache_clear(c), STS_OK);
	sts_cache_free(c);
	assert_int_equal(
	    scalar(f->db, "SELECT count(*) FROM mtasts_policy"), 0);
}

static void
sqlite_expired_and_evicted(void **state)
{
	struct fixture *f = *state;
	struct sts_cache *c = open_sql(f->db, 2, T0);
	struct sts_cache_entry e, got;
	struct sts_cache_stats st;

	e = entry("old.example", "a", body1, T0, 10);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	e = entry("new.example", "a", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	sts_cache_free(c);

	/* at T0+10 old.example has expired: not loaded, row deleted */
	c = open_sql(f->db, 2, T0 + 10);
	assert_int_equal(
	    sts_cache_peek_stale(c, "old.example", &got), STS_ENOTFOUND);
	assert_int_equal(
	    sts_cache_peek(c, "new.example", T0 + 10, &got), STS_OK);
	assert_int_equal(
	    scalar(f->db, "SELECT count(*) FROM mtasts_policy"), 1);
	/* memory mirrors the file: an eviction deletes the row */
	e = entry("x.example", "a", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	e = entry("y.example", "a", body1, T0, DAY);
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	sts_cache_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(sts_cache_peek(c, "y.example", T0 + 5, &got), STS_OK);
	sts_cache_free(c);
	assert_int_equal(
	    scalar(f->db, "SELECT count(*) FROM mtasts_policy"), 2);
	assert_int_equal(scalar(f->db, "SELECT count(*) FROM mtasts_policy"
				       " WHERE domain = 'new.example'"),
	    0);

	/* a smaller limit loads the most recently used rows only */
	c = open_sql(f->db, 1, T0 + 10);
	sts_cache_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(sts_cache_peek_stale(c, "y.example", &got), STS_OK);
	sts_cache_free(c);
}

static void
sqlite_corrupt_rows(void **state)
{
	struct fixture *f = *state;
	struct sts_cache *c = open_sql(f->db, 0, T0);
	struct sts_cache_entry e = entry("good.example", "a", body1, T0, DAY),
			       got;
	struct sts_cache_stats st;

	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	sts_cache_free(c);
	exec_file(f->db,
	    "INSERT INTO mtasts_policy VALUES"
	    " ('UPPER.example', 'a', 'b', 1700000000, 1800000000, 1700000000, "
	    "0),"
	    " ('badid.example', 'no id!', 'b', 1700000000, 1800000000, "
	    "1700000000, 0),"
	    " ('longid.example', '123456789012345678901234567890123', 'b', "
	    "1700000000, 1800000000, 1700000000, 0),"
	    " ('type.example', 'a', 'b', 1700000000, 1800000000, 'yesterday', "
	    "0),"
	    " ('real.example', 'a', 'b', 1700000000.5, 1800000000, 1700000000, "
	    "0),"
	    " ('body.example', 'a', 42, 1700000000, 1800000000, 1700000000, 0),"
	    " (X'61', 'a', 'b', 1700000000, 1800000000, 1700000000, 0),"
	    " ('neg.example', 'a', 'b', -1, 1800000000, 1700000000, 0),"
	    " ('nul.example', 'a' || char(0) || 'b', 'b', 1700000000, "
	    "1800000000, 1700000000, 0),"
	    " ('big.example', 'a', zeroblob(65537), 1700000000, 1800000000, "
	    "1700000000, 0),"
	    " ('textbody.example', 'a', 'version: STSv1', 1700000000, "
	    "1800000000, 1700000000, 0);");
	c = open_sql(f->db, 0, T0);
	sts_cache_stats(c, &st);
	assert_int_equal(st.corrupt_skipped, 10);
	assert_int_equal(st.entries, 2);
	assert_int_equal(sts_cache_peek(c, "good.example", T0, &got), STS_OK);
	assert_int_equal(
	    sts_cache_peek(c, "textbody.example", T0, &got), STS_OK);
	assert_int_equal(got.body_len, 14);
	sts_cache_free(c);
}

static void
sqlite_bad_files(void **state)
{
	struct fixture *f = *state;
	struct sts_cache_config cfg = {.type = "sqlite", .filename = f->db};
	struct sts_cache *c = NULL;
	struct sts_diag diag = {0};
	char path[256];
	int fd;

	/* a schema from the future is refused, not reinterpreted */
	c = open_sql(f->db, 0, T0);
	sts_cache_free(c);
	c = NULL;
	exec_file(f->db, "UPDATE mtasts_schema_version SET version = 2");
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EIO);
	assert_non_null(strstr(diag.message, "newer"));
	assert_null(c);

	/* not a database */
	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(
		    write(fd, "this is not a database file\n", 28), 28);
	close(fd);
	cfg.filename = path;
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EIO);
	assert_null(c);

	/* a directory that does not exist */
	snprintf(path, sizeof(path), "%s/no/such/dir/cache.db", f->dir);
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, &diag), STS_EIO);
	assert_null(c);
}

static void
sqlite_read_only(void **state)
{
	struct fixture *f = *state;
	struct sts_cache_config cfg = {
	    .type = "sqlite",
	    .filename = f->db,
	    .read_only = true,
	};
	struct sts_cache *c = NULL, *rw;
	struct sts_cache_entry e = entry("a.example", "a", body1, T0, 10), got;
	struct stat sb;

	/* a missing file is not created */
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, NULL), STS_ENOTFOUND);
	assert_int_equal(stat(f->db, &sb), -1);

	rw = open_sql(f->db, 0, T0);
	assert_int_equal(sts_cache_put(rw, &e), STS_OK);
	/* a reader beside a running writer (the CLI beside the daemon) */
	assert_int_equal(sts_cache_new(NULL, &cfg, &c, NULL), STS_OK);
	/* expired rows are listed too */
	assert_int_equal(sts_cache_peek_stale(c, "a.example", &got), STS_OK);
	assert_int_equal(
	    sts_cache_peek(c, "a.example", T0 + 20, &got), STS_ENOTFOUND);
	assert_int_equal(sts_cache_put(c, &e), STS_EINVAL);
	assert_int_equal(sts_cache_del(c, "a.example"), STS_EINVAL);
	assert_int_equal(sts_cache_clear(c), STS_EINVAL);
	assert_int_equal(sts_cache_touch(c, "a.example", T0, T0), STS_EINVAL);
	assert_int_equal(sts_cache_prune(c, T0, NULL), STS_EINVAL);
	sts_cache_free(c);
	sts_cache_free(rw);
	assert_int_equal(
	    scalar(f->db, "SELECT count(*) FROM mtasts_policy"), 1);
}

/* Children that die by SIGKILL while (or after) writing. */
static void
child_writes(const char *path, int n, bool forever)
{
	struct sts_cache_config cfg = {
	    .type = "sqlite", .filename = path, .now = T0};
	struct sts_cache *c = NULL;
	char name[64];

	if (sts_cache_new(NULL, &cfg, &c, NULL) != STS_OK)
		_exit(3);
	for (int i = 0; forever || i < n; i++) {
		struct sts_cache_entry e;

		snprintf(name, sizeof(name), "d%d.example", i % 5000);
		e = entry(name, "a", (i & 1) ? body1 : body2, T0 + i, DAY);
		if (sts_cache_put(c, &e) != STS_OK)
			_exit(4);
	}
	raise(SIGKILL);
	_exit(5);
}

static void
sqlite_kill9(void **state)
{
	struct fixture *f = *state;
	struct sts_cache *c;
	struct sts_cache_stats st;
	struct sts_cache_entry got;
	int status;
	pid_t pid;

	/* everything put before the kill is there */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_writes(f->db, 500, false);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	c = open_sql(f->db, 0, T0);
	sts_cache_stats(c, &st);
	assert_int_equal(st.entries, 500);
	assert_int_equal(st.corrupt_skipped, 0);
	assert_int_equal(sts_cache_peek(c, "d499.example", T0, &got), STS_OK);
	assert_int_equal(got.fetched_at, T0 + 499);
	sts_cache_free(c);

	/* killed at an arbitrary point of a write storm: still a sound file */
	for (int round = 0; round < 3; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child_writes(f->db, 0, true);
		usleep(30000 + 20000 * round);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		c = open_sql(f->db, 0, T0);
		sts_cache_stats(c, &st);
		assert_true(st.entries >= 500);
		assert_int_equal(st.corrupt_skipped, 0);
		sts_cache_free(c);
		{
			sqlite3 *db;
			sqlite3_stmt *s;

			assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
			assert_int_equal(
			    sqlite3_prepare_v2(
				db, "PRAGMA integrity_check", -1, &s, NULL),
			    SQLITE_OK);
			assert_int_equal(sqlite3_step(s), SQLITE_ROW);
			assert_string_equal(
			    (const char *)sqlite3_column_text(s, 0), "ok");
			sqlite3_finalize(s);
			sqlite3_close(db);
		}
	}
}

/* ---- pmsr import ---- */

static void
make_pmsr(const char *path)
{
	exec_file(path,
	    "CREATE TABLE sts_policy_cache (domain text, ts integer,"
	    " pol_id text, pol_body text);"
	    "CREATE UNIQUE INDEX sts_policy_domain ON sts_policy_cache "
	    "(domain);"
	    "CREATE TABLE proactive_fetch_ts (id integer primary key,"
	    " last_fetch_ts integer);"
	    "INSERT INTO sts_policy_cache VALUES"
	    /* usable */
	    " ('enforce.example', 1700000000, '20240101',"
	    "  '{\"mx\": [\"mail.enforce.example\", \"mx2.enforce.example\"],"
	    "  \"version\": \"STSv1\", \"mode\": \"enforce\", \"max_age\": "
	    "86400}'),"
	    " ('testing.example', 1700000000, 'abc',"
	    "  '{\"mx\": [\"*.Testing.Example\"], \"version\": \"STSv1\","
	    "  \"mode\": \"testing\", \"max_age\": 604800, \"ext\": \"x\"}'),"
	    " ('none.example', 1700000000, 'n1',"
	    "  '{\"mx\": [], \"version\": \"STSv1\", \"mode\": \"none\","
	    "  \"max_age\": 86400}'),"
	    " ('real.example', 1700000000.75, 'r1',"
	    "  '{\"mx\": [\"m.real.example\"], \"version\": \"STSv1\","
	    "  \"mode\": \"enforce\", \"max_age\": \"86400\"}'),"
	    /* malformed */
	    " ('json.example', 1700000000, 'a', '{\"mx\": [\"m.example\"'),"
	    " ('noage.example', 1700000000, 'a',"
	    "  '{\"mx\": [\"m.example\"], \"version\": \"STSv1\", \"mode\": "
	    "\"enforce\"}'),"
	    " ('nomx.example', 1700000000, 'a',"
	    "  '{\"mx\": [], \"version\": \"STSv1\", \"mode\": \"enforce\", "
	    "\"max_age\": 5}'),"
	    " ('inject.example', 1700000000, 'a',"
	    "  '{\"mx\": [\"m.example\\r\\nmode: none\"], \"version\": "
	    "\"STSv1\","
	    "  \"mode\": \"enforce\", \"max_age\": 86400}'),"
	    " ('mode.example', 1700000000, 'a',"
	    "  '{\"mx\": [\"m.example\"], \"version\": \"STSv1\", \"mode\": "
	    "\"Enforce\","
	    "  \"max_age\": 86400}'),"
	    " ('bigage.example', 1700000000, 'a',"
	    "  '{\"mx\": [\"m.example\"], \"version\": \"STSv1\", \"mode\": "
	    "\"enforce\","
	    "  \"max_age\": 31557601}'),"
	    " ('id.example', 1700000000, 'not-an-id',"
	    "  '{\"mx\": [\"m.example\"], \"version\": \"STSv1\", \"mode\": "
	    "\"enforce\","
	    "  \"max_age\": 86400}'),"
	    " ('[::1]', 1700000000, 'a',"
	    "  '{\"mx\": [\"m.example\"], \"version\": \"STSv1\", \"mode\": "
	    "\"enforce\","
	    "  \"max_age\": 86400}'),"
	    " ('ts.example', 'yesterday', 'a',"
	    "  '{\"mx\": [\"m.example\"], \"version\": \"STSv1\", \"mode\": "
	    "\"enforce\","
	    "  \"max_age\": 86400}'),"
	    /* expired at T0 + DAY */
	    " ('old.example', 1699000000, 'a',"
	    "  '{\"mx\": [\"m.old.example\"], \"version\": \"STSv1\","
	    "  \"mode\": \"enforce\", \"max_age\": 86400}');");
}

static void
import_pmsr(void **state)
{
	struct fixture *f = *state;
	struct sts_cache *c = open_sql(f->db, 0, T0);
	struct sts_cache_import_stats is;
	struct sts_cache_entry got, newer;
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {0};
	static const char want[] = "version: STSv1\r\nmode: enforce\r\n"
				   "mx: mail.enforce.example\r\n"
				   "mx: mx2.enforce.example\r\n"
				   "max_age: 86400\r\n";

	/* the same file as our own cache: pmsr's Debian default path */
	make_pmsr(f->db);
	/* an entry the cache already has, newer than pmsr's */
	newer = entry("none.example", "mine", body1, T0 + 5, DAY);
	assert_int_equal(sts_cache_put(c, &newer), STS_OK);

	assert_int_equal(
	    sts_cache_import_pmsr(c, f->db, T0 + DAY - 1, &is, &diag), STS_OK);
	assert_int_equal(is.rows, 14);
	assert_int_equal(is.imported, 3);
	assert_int_equal(is.kept, 1);
	assert_int_equal(is.malformed, 9);
	assert_int_equal(is.expired, 1);
	assert_int_equal(is.failed, 0);

	assert_int_equal(
	    sts_cache_peek(c, "enforce.example", T0, &got), STS_OK);
	assert_int_equal(got.body_len, strlen(want));
	assert_memory_equal(got.body, want, got.body_len);
	assert_string_equal(got.id, "20240101");
	assert_int_equal(got.fetched_at, T0);
	assert_int_equal(got.checked_at, T0);
	assert_int_equal(got.expires_at, T0 + DAY);

	/* the rendered bodies parse back to the policy pmsr had */
	assert_int_equal(
	    sts_cache_peek(c, "testing.example", T0, &got), STS_OK);
	assert_int_equal(
	    sts_policy_parse(got.body, got.body_len, &pol, NULL), STS_OK);
	assert_int_equal(pol->mode, STS_MODE_TESTING);
	assert_int_equal(pol->max_age, 604800);
	assert_int_equal(pol->n_mx, 1);
	assert_string_equal(pol->mx[0], "*.testing.example");
	sts_policy_free(pol);
	assert_int_equal(sts_cache_peek(c, "real.example", T0, &got), STS_OK);
	assert_int_equal(got.fetched_at, T0); /* REAL ts truncated */
	assert_int_equal(
	    sts_cache_peek(c, "none.example", T0 + 6, &got), STS_OK);
	assert_string_equal(got.id, "mine");
	sts_cache_free(c);

	/* written through: a restart has them */
	c = open_sql(f->db, 0, T0);
	assert_int_equal(
	    sts_cache_peek(c, "enforce.example", T0, &got), STS_OK);
	assert_memory_equal(got.body, want, got.body_len);
	/* importing again changes nothing */
	assert_int_equal(
	    sts_cache_import_pmsr(c, f->db, T0, &is, NULL), STS_OK);
	assert_int_equal(is.imported, 0);
	assert_int_equal(is.kept, 4);
	sts_cache_free(c);
}

static void
import_errors(void **state)
{
	struct fixture *f = *state;
	struct sts_cache *c = open_mem(0);
	struct sts_cache_import_stats is = {.rows = 77};
	struct sts_diag diag = {0};
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/missing.db", f->dir);
	assert_int_equal(
	    sts_cache_import_pmsr(c, path, T0, &is, &diag), STS_ENOTFOUND);
	assert_int_equal(is.rows, 77); /* untouched */
	/* a database without pmsr's table (e.g. our own) */
	sts_cache_free(open_sql(f->db, 0, T0));
	assert_int_equal(
	    sts_cache_import_pmsr(c, f->db, T0, &is, &diag), STS_ENOTFOUND);
	assert_non_null(strstr(diag.message, "sts_policy_cache"));
	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(
		    write(fd, "junk junk junk junk junk junk\n", 30), 30);
	close(fd);
	assert_int_equal(
	    sts_cache_import_pmsr(c, path, T0, &is, &diag), STS_EIO);
	sts_cache_free(c);
}

/* ---- Redis value codec and URL (no server needed) ---- */

static void
redis_codec(void **state)
{
	struct sts_cache_entry e = entry(
				   "example.com", "abc123", body1, T0, DAY),
			       d;
	char hdr[STS_CACHE_REDIS_HEADER_MAX];
	char val[512];
	size_t hlen;

	(void)state;
	e.checked_at = T0 + 7;
	hlen = sts_cache_redis_encode_header(&e, hdr);
	assert_int_equal(hlen, strlen("STS1 1700000000 1700086400 1700000007 "
				      "abc123\n"));
	assert_memory_equal(
	    hdr, "STS1 1700000000 1700086400 1700000007 abc123\n", hlen);
	memcpy(val, hdr, hlen);
	memcpy(val + hlen, body1, strlen(body1));
	memset(&d, 0, sizeof(d));
	assert_int_equal(
	    sts_cache_redis_decode(val, hlen + strlen(body1), &d), STS_OK);
	assert_string_equal(d.id, "abc123");
	assert_int_equal(d.fetched_at, T0);
	assert_int_equal(d.expires_at, T0 + DAY);
	assert_int_equal(d.checked_at, T0 + 7);
	assert_int_equal(d.body_len, strlen(body1));
	assert_ptr_equal(d.body, val + hlen);
	/* an empty body is a value too */
	assert_int_equal(
	    sts_cache_redis_decode("STS1 0 1 2 a\n", 13, &d), STS_OK);
	assert_int_equal(d.body_len, 0);

	static const char *const bad[] = {
	    "",
	    "STS1",
	    "STS2 1 2 3 a\nbody",
	    "sts1 1 2 3 a\nbody",
	    "STS1 01 2 3 a\nbody",
	    "STS1 1 2 3 a",
	    "STS1 1 2 3 \nbody",
	    "STS1 1 2 3 a-b\nbody",
	    "STS1 -1 2 3 a\nbody",
	    "STS1 1  2 3 a\nbody",
	    "STS1 1 2 3 a b\nbody",
	    "STS1 1 2 a\nbody",
	    "STS1 99999999999999999999 2 3 a\nbody",
	    "STS1 9223372036854775808 2 3 a\nbody",
	    "STS1 1 2 3 123456789012345678901234567890123\nbody",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		memset(&d, 0x33, sizeof(d));
		if (sts_cache_redis_decode(bad[i], strlen(bad[i]), &d) !=
		    STS_ESYNTAX)
			fail_msg("decoded: %s", bad[i]);
		assert_int_equal(d.fetched_at, 0x3333333333333333LL);
	}
	assert_int_equal(
	    sts_cache_redis_decode("STS1 9223372036854775807 2 3 a\n", 31, &d),
	    STS_OK);
	{
		size_t n = 13 + STS_POLICY_MAX_BYTES + 1;
		char *big = calloc(1, n);

		assert_non_null(big);
		memcpy(big, "STS1 0 1 2 a\n", 13);
		assert_int_equal(
		    sts_cache_redis_decode(big, n, &d), STS_ETOOBIG);
		assert_int_equal(
		    sts_cache_redis_decode(big, n - 1, &d), STS_OK);
		free(big);
	}
}

static void
redis_url(void **state)
{
	struct sts_cache_redis_url u;
	struct sts_diag diag = {0};

	(void)state;
	assert_int_equal(
	    sts_cache_redis_parse_url("redis://localhost", &u, NULL), STS_OK);
	assert_string_equal(u.host, "localhost");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_false(u.has_password);
	assert_false(u.unix_socket);

	assert_int_equal(sts_cache_redis_parse_url(
			     "redis://:s%40cret@127.0.0.1:6380/2", &u, NULL),
	    STS_OK);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 2);
	assert_true(u.has_password);
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "s@cret");

	assert_int_equal(
	    sts_cache_redis_parse_url(
		"redis://bob:pw@[::1]:7000/?db=5&socket_timeout=5", &u, NULL),
	    STS_OK);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 5);
	assert_string_equal(u.user, "bob");
	assert_string_equal(u.password, "pw");

	assert_int_equal(sts_cache_redis_parse_url(
			     "unix:///run/redis/redis.sock?db=3", &u, NULL),
	    STS_OK);
	assert_true(u.unix_socket);
	assert_string_equal(u.host, "/run/redis/redis.sock");
	assert_int_equal(u.db, 3);
	assert_int_equal(
	    sts_cache_redis_parse_url("unix://:pw@/tmp/r.sock", &u, NULL),
	    STS_OK);
	assert_string_equal(u.host, "/tmp/r.sock");
	assert_string_equal(u.password, "pw");

	static const char *const bad[] = {
	    "",
	    "localhost:6379",
	    "http://localhost",
	    "redis://",
	    "redis://:6379",
	    "redis://host:0",
	    "redis://host:65536",
	    "redis://host:12ab",
	    "redis://host/x",
	    "redis://host/-1",
	    "redis://[::1/0",
	    "redis://:pw%zz@host",
	    "redis://:pw%00@host",
	    "redis://host?db=x",
	    "unix://relative/path",
	    "unix://",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (sts_cache_redis_parse_url(bad[i], &u, &diag) != STS_EINVAL)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(
	    sts_cache_redis_parse_url("rediss://host", &u, &diag), STS_EINVAL);
	assert_non_null(strstr(diag.message, "TLS"));
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Redis down from the start: memory answers, the store fails fast. */
static void
redis_down(void **state)
{
	struct event_base *base = event_base_new();
	char url[64];
	struct sts_cache_config cfg = {
	    .type = "redis", .url = url, .timeout_ms = 200};
	struct sts_cache *c = NULL;
	struct sts_cache_entry e = entry("example.com", "a", body1, T0, DAY),
			       got;
	struct sts_cache_stats st;
	struct got g = {0};
	struct timeval tv = {0, 300000};

	(void)state;
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", closed_port());
	assert_int_equal(sts_cache_new(base, &cfg, &c, NULL), STS_OK);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base); /* let it try (and retry) */
	sts_cache_stats(c, &st);
	assert_false(st.store_up);
	assert_int_equal(st.reconnects, 0);
	/* put lands in memory; the store part fails at once */
	assert_int_equal(sts_cache_put(c, &e), STS_ETEMP);
	assert_int_equal(sts_cache_peek(c, "example.com", T0, &got), STS_OK);
	/* a memory miss cannot ask the store: fail fast, no callback */
	assert_int_equal(
	    sts_cache_fetch(c, "other.example", T0, fetch_cb, &g, NULL),
	    STS_ETEMP);
	/* a memory hit is still answered */
	assert_int_equal(
	    sts_cache_fetch(c, "example.com", T0, fetch_cb, &g, NULL), STS_OK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, STS_OK);
	assert_int_equal(sts_cache_del(c, "example.com"), STS_ETEMP);
	assert_int_equal(
	    sts_cache_peek(c, "example.com", T0, &got), STS_ENOTFOUND);
	sts_cache_free(c);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(put_peek),
	    cmocka_unit_test(expiry),
	    cmocka_unit_test(rejects),
	    cmocka_unit_test(lru),
	    cmocka_unit_test(replace_touch_del),
	    cmocka_unit_test(foreach),
	    cmocka_unit_test(fetch_memory),
	    cmocka_unit_test(config_errors),
	    cmocka_unit_test(ten_thousand),
	    cmocka_unit_test_setup_teardown(sqlite_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		sqlite_expired_and_evicted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		sqlite_corrupt_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(sqlite_bad_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(sqlite_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(sqlite_kill9, setup, teardown),
	    cmocka_unit_test_setup_teardown(import_pmsr, setup, teardown),
	    cmocka_unit_test_setup_teardown(import_errors, setup, teardown),
	    cmocka_unit_test(redis_codec),
	    cmocka_unit_test(redis_url),
	    cmocka_unit_test(redis_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
