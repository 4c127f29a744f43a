/*
 * test-cache-redis.c - the Redis store against a real redis-server.
 *
 * Starts its own redis-server on a free 127.0.0.1 port in a temporary
 * directory (no persistence, a password), and proves: a policy put by
 * one cache is fetched by another (a fleet sharing Redis) with every
 * field intact; the stored value and TTL are what cache_redis.c
 * documents; corrupt and foreign values count as corrupt and read as
 * absent; cancel and free with a GET in flight never call back; a
 * stalled server (SIGSTOP) fails fetches with STS_ETEMP within the
 * timeout; a killed server leaves memory answering and every store
 * operation failing fast, and a restarted one is picked up again; a
 * wrong password never comes up; db selection works.
 *
 * Exit 77 (skipped) without redis-server, unless CI=true.
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
#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mtasts/cache.h"

#define PASSWORD "t3st-pw"

static const char body1[] = "version: STSv1\r\nmode: enforce\r\n"
			    "mx: mail.example.com\r\nmax_age: 86400\r\n";

static char redis_bin[256];
static char tmpdir[64];
static int port;
static pid_t server = -1;
static struct event_base *base;

/* ---- the server ---- */

static int
free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		abort();
	p = ntohs(sin.sin_port);
	close(fd);
	return p;
}

static redisContext *
sync_client(int db)
{
	struct timeval tv = {1, 0};
	redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *rep;

	if (rc == NULL || rc->err) {
		if (rc != NULL)
			redisFree(rc);
		return NULL;
	}
	rep = redisCommand(rc, "AUTH %s", PASSWORD);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		if (rep != NULL)
			freeReplyObject(rep);
		redisFree(rc);
		return NULL;
	}
	freeReplyObject(rep);
	rep = redisCommand(rc, "SELECT %d", db);
	freeReplyObject(rep);
	return rc;
}

static void
start_server(void)
{
	char portstr[16], logf[128];

	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(logf, sizeof(logf), "%s/redis.log", tmpdir);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		execl(redis_bin, redis_bin, "--port", portstr, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
		    tmpdir, "--requirepass", PASSWORD, "--logfile", logf,
		    "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) { /* up to 5 s */
		redisContext *rc = sync_client(0);

		if (rc != NULL) {
			redisFree(rc);
			return;
		}
		usleep(10000);
	}
	fail_msg("redis-server did not start on port %d", port);
}

static void
kill_server(void)
{
	if (server <= 0)
		return;
	kill(server, SIGCONT);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	server = -1;
}

/* ---- loop helpers ---- */

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until pred(arg) or timeout_ms; returns pred's last value. */
static bool
run_until(bool (*pred)(void *), void *arg, int timeout_ms)
{
	int64_t end = ms_now() + timeout_ms;

	for (;;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (pred != NULL && pred(arg))
			return true;
		if (ms_now() >= end)
			return false;
		usleep(1000);
	}
}

static bool
is_up(void *arg)
{
	struct sts_cache_stats st;

	sts_cache_stats(arg, &st);
	return st.store_up;
}

static bool
is_down(void *arg)
{
	return !is_up(arg);
}

struct got {
	int calls;
	int status;
	struct sts_cache_entry e;
	char body[512];
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
}

static bool
called(void *arg)
{
	return ((struct got *)arg)->calls > 0;
}

static struct sts_cache *
open_redis(const char *password, int db, unsigned timeout_ms)
{
	char url[256];
	struct sts_cache_config cfg = {
	    .type = "redis",
	    .url = url,
	    .timeout_ms = timeout_ms,
	    .reconnect_max_ms = 200,
	};
	struct sts_cache *c = NULL;

	if (db < 0)
		snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d", password,
		    port);
	else
		snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d/%d",
		    password, port, db);
	assert_int_equal(sts_cache_new(base, &cfg, &c, NULL), STS_OK);
	return c;
}

static struct sts_cache_entry
entry(const char *domain, const char *id, int64_t fetched, int64_t max_age)
{
	struct sts_cache_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.domain, sizeof(e.domain), "%s", domain);
	snprintf(e.id, sizeof(e.id), "%s", id);
	e.body = body1;
	e.body_len = strlen(body1);
	e.fetched_at = fetched;
	e.checked_at = fetched + 1;
	e.expires_at = fetched + max_age;
	return e;
}

/* The sync client's view of one key: GET into buf, TTL into *ttl. */
static int
raw_get(int db, const char *key, char *buf, size_t bufsz, long long *ttl)
{
	redisContext *rc = sync_client(db);
	redisReply *rep;
	int len = -1;

	assert_non_null(rc);
	rep = redisCommand(rc, "GET %s", key);
	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    (size_t)rep->len < bufsz) {
		memcpy(buf, rep->str, rep->len);
		buf[rep->len] = '\0';
		len = (int)rep->len;
	}
	freeReplyObject(rep);
	if (ttl != NULL) {
		rep = redisCommand(rc, "TTL %s", key);
		*ttl = rep != NULL && rep->type == REDIS_REPLY_INTEGER
			   ? rep->integer
			   : -99;
		freeReplyObject(rep);
	}
	redisFree(rc);
	return len;
}

static void
raw_cmd(const char *fmt, const char *a, const char *b)
{
	redisContext *rc = sync_client(0);
	redisReply *rep;

	assert_non_null(rc);
	rep = redisCommand(rc, fmt, a, b);
	assert_non_null(rep);
	freeReplyObject(rep);
	redisFree(rc);
}

/* ---- tests ---- */

static int
setup(void **state)
{
	(void)state;
	base = event_base_new();
	port = free_port();
	start_server();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kill_server();
	event_base_free(base);
	base = NULL;
	return 0;
}

static void
shared_store(void **state)
{
	struct sts_cache *a = open_redis(PASSWORD, 0, 1000);
	struct sts_cache *b = open_redis(PASSWORD, -1, 1000);
	int64_t now = time(NULL);
	struct sts_cache_entry e = entry("example.com", "20240101", now, 86400),
			       got;
	struct sts_cache_stats st;
	struct got g = {0}, g2 = {0};
	char val[512], want[512];
	long long ttl = 0;
	int n;

	(void)state;
	assert_true(run_until(is_up, a, 3000));
	assert_true(run_until(is_up, b, 3000));
	assert_int_equal(sts_cache_put(a, &e), STS_OK);
	run_until(NULL, NULL, 50);

	/* the value and TTL as documented */
	n = raw_get(0, "mta-sts:policy:example.com", val, sizeof(val), &ttl);
	snprintf(want, sizeof(want), "STS1 %lld %lld %lld 20240101\n%s",
	    (long long)e.fetched_at, (long long)e.expires_at,
	    (long long)e.checked_at, body1);
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(val, want);
	assert_true(ttl > 86400 - 5 && ttl <= 86400);

	/* another MTA of the fleet: memory misses, Redis has it */
	assert_int_equal(
	    sts_cache_peek(b, "example.com", now, &got), STS_ENOTFOUND);
	assert_int_equal(
	    sts_cache_fetch(b, "example.com", now, fetch_cb, &g, NULL), STS_OK);
	assert_int_equal(g.calls, 0);
	assert_true(run_until(called, &g, 2000));
	assert_int_equal(g.status, STS_OK);
	assert_string_equal(g.e.domain, "example.com");
	assert_string_equal(g.e.id, "20240101");
	assert_int_equal(g.e.fetched_at, e.fetched_at);
	assert_int_equal(g.e.checked_at, e.checked_at);
	assert_int_equal(g.e.expires_at, e.expires_at);
	assert_int_equal(g.e.body_len, strlen(body1));
	assert_memory_equal(g.e.body, body1, g.e.body_len);
	/* ... and now serves it from memory */
	assert_int_equal(sts_cache_peek(b, "example.com", now, &got), STS_OK);
	sts_cache_stats(b, &st);
	assert_int_equal(st.store_hits, 1);

	/* absent */
	assert_int_equal(
	    sts_cache_fetch(b, "absent.example", now, fetch_cb, &g2, NULL),
	    STS_OK);
	assert_true(run_until(called, &g2, 2000));
	assert_int_equal(g2.status, STS_ENOTFOUND);

	/* touch rewrites metadata and TTL */
	assert_int_equal(
	    sts_cache_touch(a, "example.com", now + 10, now + 10 + 2 * 86400),
	    STS_OK);
	run_until(NULL, NULL, 50);
	n = raw_get(0, "mta-sts:policy:example.com", val, sizeof(val), &ttl);
	assert_true(n > 0);
	assert_true(ttl > 2 * 86400 - 5);
	snprintf(want, sizeof(want), "STS1 %lld %lld %lld 20240101\n",
	    (long long)e.fetched_at, (long long)(now + 10 + 2 * 86400),
	    (long long)(now + 10));
	assert_memory_equal(val, want, strlen(want));

	/* delete */
	assert_int_equal(sts_cache_del(a, "example.com"), STS_OK);
	run_until(NULL, NULL, 50);
	assert_int_equal(
	    raw_get(0, "mta-sts:policy:example.com", val, sizeof(val), NULL),
	    -1);
	/* an already expired policy is deleted, not written */
	e = entry("old.example", "a", now - 100, 50);
	assert_int_equal(sts_cache_put(a, &e), STS_OK);
	run_until(NULL, NULL, 50);
	assert_int_equal(
	    raw_get(0, "mta-sts:policy:old.example", val, sizeof(val), NULL),
	    -1);
	sts_cache_stats(a, &st);
	assert_int_equal(st.store_errors, 0);
	sts_cache_free(a);
	sts_cache_free(b);
}

static void
corrupt_values(void **state)
{
	struct sts_cache *c = open_redis(PASSWORD, -1, 1000);
	int64_t now = time(NULL);
	struct got g1 = {0}, g2 = {0}, g3 = {0};
	struct sts_cache_stats st;
	char expired[128];

	(void)state;
	assert_true(run_until(is_up, c, 3000));
	raw_cmd("SET %s %s", "mta-sts:policy:bad.example", "garbage");
	raw_cmd("HSET %s f %s", "mta-sts:policy:hash.example", "v");
	snprintf(expired, sizeof(expired), "STS1 %lld %lld %lld a\nbody",
	    (long long)now - 100, (long long)now - 1, (long long)now - 100);
	raw_cmd("SET %s %s", "mta-sts:policy:exp.example", expired);

	assert_int_equal(
	    sts_cache_fetch(c, "bad.example", now, fetch_cb, &g1, NULL),
	    STS_OK);
	assert_int_equal(
	    sts_cache_fetch(c, "hash.example", now, fetch_cb, &g2, NULL),
	    STS_OK);
	assert_int_equal(
	    sts_cache_fetch(c, "exp.example", now, fetch_cb, &g3, NULL),
	    STS_OK);
	assert_true(run_until(called, &g3, 2000));
	assert_int_equal(g1.status, STS_ENOTFOUND);
	assert_int_equal(g2.status, STS_ENOTFOUND);
	assert_int_equal(g3.status, STS_ENOTFOUND);
	sts_cache_stats(c, &st);
	assert_int_equal(st.corrupt_skipped, 2);
	assert_int_equal(st.store_errors, 0);
	assert_int_equal(st.entries, 0);
	sts_cache_free(c);
}

static void
cancel_and_free(void **state)
{
	struct sts_cache *c = open_redis(PASSWORD, -1, 1000);
	struct sts_cache_entry e = entry("example.com", "a", time(NULL), 86400);
	struct sts_cache_req *req = NULL;
	struct got g = {0}, g2 = {0};

	(void)state;
	assert_true(run_until(is_up, c, 3000));
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	assert_int_equal(sts_cache_del(c, "example.com"), STS_OK); /* memory */
	raw_cmd("SET %s %s", "mta-sts:policy:x.example", "garbage");
	assert_int_equal(
	    sts_cache_fetch(c, "x.example", time(NULL), fetch_cb, &g, &req),
	    STS_OK);
	sts_cache_cancel(req);
	run_until(NULL, NULL, 200); /* the reply comes and is dropped */
	assert_int_equal(g.calls, 0);
	/* free with a GET in flight: no callback, nothing leaks */
	assert_int_equal(
	    sts_cache_fetch(c, "x.example", time(NULL), fetch_cb, &g2, NULL),
	    STS_OK);
	sts_cache_free(c);
	run_until(NULL, NULL, 50);
	assert_int_equal(g2.calls, 0);
}

static void
stalled_server(void **state)
{
	struct sts_cache *c = open_redis(PASSWORD, -1, 200);
	int64_t now = time(NULL), t;
	struct sts_cache_entry e = entry("example.com", "a", now, 86400), got;
	struct got g = {0}, g2 = {0};

	(void)state;
	assert_true(run_until(is_up, c, 3000));
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	run_until(NULL, NULL, 50);
	kill(server, SIGSTOP);
	t = ms_now();
	assert_int_equal(
	    sts_cache_fetch(c, "slow.example", now, fetch_cb, &g, NULL),
	    STS_OK);
	assert_true(run_until(called, &g, 3000));
	assert_int_equal(g.status, STS_ETEMP);
	assert_true(ms_now() - t < 1000);
	/* the connection is given up; everything fails fast meanwhile */
	assert_true(run_until(is_down, c, 2000));
	t = ms_now();
	assert_int_equal(
	    sts_cache_fetch(c, "slow.example", now, fetch_cb, &g2, NULL),
	    STS_ETEMP);
	assert_int_equal(sts_cache_put(c, &e), STS_ETEMP);
	assert_true(ms_now() - t < 50);
	assert_int_equal(sts_cache_peek(c, "example.com", now, &got), STS_OK);
	kill(server, SIGCONT);
	assert_true(run_until(is_up, c, 5000));
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	sts_cache_free(c);
}

static void
killed_and_restarted(void **state)
{
	struct sts_cache *c = open_redis(PASSWORD, -1, 500);
	int64_t now = time(NULL), t;
	struct sts_cache_entry e = entry("example.com", "a", now, 86400), got;
	struct sts_cache_entry e2 = entry("later.example", "b", now, 86400);
	struct sts_cache_stats st;
	struct got g = {0}, g2 = {0};
	char val[512];

	(void)state;
	assert_true(run_until(is_up, c, 3000));
	assert_int_equal(sts_cache_put(c, &e), STS_OK);
	run_until(NULL, NULL, 50);

	kill_server();
	assert_true(run_until(is_down, c, 2000));
	/* memory keeps answering */
	assert_int_equal(sts_cache_peek(c, "example.com", now, &got), STS_OK);
	assert_int_equal(
	    sts_cache_fetch(c, "example.com", now, fetch_cb, &g, NULL), STS_OK);
	assert_true(run_until(called, &g, 1000));
	assert_int_equal(g.status, STS_OK);
	/* the store fails fast */
	t = ms_now();
	assert_int_equal(
	    sts_cache_fetch(c, "miss.example", now, fetch_cb, &g2, NULL),
	    STS_ETEMP);
	assert_int_equal(sts_cache_put(c, &e2), STS_ETEMP);
	assert_true(ms_now() - t < 50);
	assert_int_equal(sts_cache_peek(c, "later.example", now, &got), STS_OK);
	run_until(NULL, NULL, 500); /* a few failed reconnects */

	start_server(); /* same port, empty */
	assert_true(run_until(is_up, c, 5000));
	assert_int_equal(sts_cache_put(c, &e2), STS_OK);
	run_until(NULL, NULL, 50);
	assert_true(raw_get(0, "mta-sts:policy:later.example", val, sizeof(val),
			NULL) > 0);
	sts_cache_stats(c, &st);
	assert_int_equal(st.reconnects, 2);
	assert_true(st.store_errors > 0);
	assert_int_equal(g2.calls, 0);
	sts_cache_free(c);
}

static void
auth_and_db(void **state)
{
	struct sts_cache *bad = open_redis("wrong", -1, 500);
	struct sts_cache *db3 = open_redis(PASSWORD, 3, 500);
	struct sts_cache_entry e = entry("example.com", "a", time(NULL), 86400);
	char val[512];

	(void)state;
	assert_true(run_until(is_up, db3, 3000));
	assert_false(run_until(is_up, bad, 500));
	assert_int_equal(sts_cache_put(bad, &e), STS_ETEMP);
	assert_int_equal(sts_cache_put(db3, &e), STS_OK);
	run_until(NULL, NULL, 50);
	assert_int_equal(
	    raw_get(0, "mta-sts:policy:example.com", val, sizeof(val), NULL),
	    -1);
	assert_true(raw_get(3, "mta-sts:policy:example.com", val, sizeof(val),
			NULL) > 0);
	sts_cache_free(bad);
	sts_cache_free(db3);
}

static bool
find_redis(void)
{
	const char *env = getenv("REDIS_SERVER");
	const char *cands[] = {"/usr/bin/redis-server",
	    "/usr/local/bin/redis-server", "/usr/sbin/redis-server"};

	if (env != NULL && access(env, X_OK) == 0) {
		snprintf(redis_bin, sizeof(redis_bin), "%s", env);
		return true;
	}
	for (size_t i = 0; i < sizeof(cands) / sizeof(*cands); i++)
		if (access(cands[i], X_OK) == 0) {
			snprintf(redis_bin, sizeof(redis_bin), "%s", cands[i]);
			return true;
		}
	return false;
}

static void
rm_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char p[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(shared_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(corrupt_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(cancel_and_free, setup, teardown),
	    cmocka_unit_test_setup_teardown(stalled_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		killed_and_restarted, setup, teardown),
	    cmocka_unit_test_setup_teardown(auth_and_db, setup, teardown),
	};
	const char *ci = getenv("CI");
	int r;

	if (!find_redis()) {
		fprintf(stderr, "redis-server not found\n");
		return ci != NULL && strcmp(ci, "true") == 0 ? 1 : 77;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-cache-redis.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	kill_server();
	rm_tmpdir();
	return r;
}
