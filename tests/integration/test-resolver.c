/*
 * test-resolver.c - lib/resolver.c with a fake clock against the hermetic
 * world (started by resolver-world.sh, which passes WORLD_DNS, WORLD_CA
 * and WORLD_CONNECT_TO): the RFC 8461 cache rules that need time to pass
 * and a real discovery behind them, run in milliseconds.
 *
 * World policies have max_age 86400 and the TXT id "<name>2026".
 */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* clang-format off: cmocka.h needs the headers above first */
#include <cmocka.h>
/* clang-format on */

#include "mtasts/cache.h"
#include "mtasts/resolver.h"

#define T0      1800000000 /* the fake clock's start */
#define GRACE_S 60
#define MAX_AGE 86400 /* the world's policies */

static const char *world_dns, *world_ca, *world_cto;

struct run {
	struct event_base *base;
	struct sts_cache *cache;
	struct sts_resolver *res;
	int64_t now;
	int answers;
	bool has_policy;
	enum sts_answer_source source;
	char reason[256];
};

static int64_t
fake_now(void *arg)
{
	return ((struct run *)arg)->now;
}

static void
setup_run(struct run *run)
{
	const char *fwd[1] = {world_dns};
	const char *cto[1] = {world_cto};
	struct sts_cache_config cc = {.type = "internal"};
	struct sts_resolver_config cfg = {
	    .discover =
		{
		    .dns = {.forwarders = fwd, .n_forwarders = 1,
			.timeout_ms = 3000},
		    .fetch = {.ca_file = world_ca, .connect_to = cto,
			.n_connect_to = 1, .timeout_ms = 3000},
		},
	    .grace_s = GRACE_S,
	    .lookup_timeout_ms = 5000,
	    .now = fake_now,
	    .now_arg = run,
	};
	struct sts_diag diag = {0, ""};

	run->now = T0;
	run->base = event_base_new();
	assert_non_null(run->base);
	assert_int_equal(
	    sts_cache_new(run->base, &cc, &run->cache, &diag), STS_OK);
	cfg.cache = run->cache;
	assert_int_equal(
	    sts_resolver_new(run->base, &cfg, &run->res, &diag), STS_OK);
}

static void
teardown_run(struct run *run)
{
	sts_resolver_free(run->res);
	sts_cache_free(run->cache);
	event_base_free(run->base);
}

static void
record(struct run *run, const struct sts_answer *a)
{
	run->answers++;
	run->has_policy = a->policy != NULL;
	run->source = a->source;
	snprintf(run->reason, sizeof(run->reason), "%s", a->reason);
}

static void
on_answer(const struct sts_answer *a, void *arg)
{
	record(arg, a);
	event_base_loopbreak(((struct run *)arg)->base);
}

/* One lookup; waits on the loop when the answer is not there at once. */
static void
lookup(struct run *run, const char *domain)
{
	struct sts_answer a;
	int r, before = run->answers;

	r = sts_resolver_lookup(
	    run->res, domain, 0, &a, on_answer, run, NULL);
	if (r == STS_OK) {
		record(run, &a);
		return;
	}
	assert_int_equal(r, STS_RESOLVER_PENDING);
	while (run->answers == before)
		assert_int_equal(event_base_dispatch(run->base), 0);
}

static uint64_t
discoveries(const struct run *run)
{
	struct sts_resolver_stats st;

	sts_resolver_stats(run->res, &st);
	return st.discoveries;
}

/* RFC 8461 §3: fetched once, then served from the cache. */
static void
test_fetched_then_cached(void **state)
{
	struct run run = {0};

	(void)state;
	setup_run(&run);
	lookup(&run, "lf.example");
	assert_true(run.has_policy);
	assert_int_equal(run.source, STS_SOURCE_FETCH);
	run.now += 10;
	lookup(&run, "lf.example");
	assert_true(run.has_policy);
	assert_int_equal(run.source, STS_SOURCE_CACHE);
	assert_int_equal(discoveries(&run), 1);
	teardown_run(&run);
}

/* §3: after the grace period the TXT id is re-checked; the same id
 * extends the cached policy without a fetch. */
static void
test_recheck_same_id_extends(void **state)
{
	struct run run = {0};
	struct sts_resolver_stats st;

	(void)state;
	setup_run(&run);
	lookup(&run, "lf.example");
	run.now += GRACE_S + 1;
	lookup(&run, "lf.example"); /* served, re-check starts */
	assert_true(run.has_policy);
	assert_int_equal(discoveries(&run), 2);
	/* let the re-check finish */
	for (int i = 0; i < 200; i++) {
		sts_resolver_stats(run.res, &st);
		if (st.unchanged == 1)
			break;
		event_base_loop(run.base, EVLOOP_ONCE);
	}
	assert_int_equal(st.unchanged, 1);
	assert_int_equal(st.fetch_ok, 1);
	/* extended: still served well past the first expiry */
	run.now = T0 + MAX_AGE + GRACE_S / 2;
	lookup(&run, "lf.example");
	assert_true(run.has_policy);
	assert_int_equal(run.source, STS_SOURCE_CACHE);
	teardown_run(&run);
}

/*
 * §3.2, §5.1: a policy that expires while its re-check runs is not used;
 * the lookup that found it expired waits for a fresh fetch.  (The
 * re-check's "same id" must not be taken for the 5-minute rule of §3.3,
 * which is about an id whose fetch failed.)
 */
static void
test_expiry_during_recheck_fetches_again(void **state)
{
	struct run run = {0};
	struct sts_resolver_stats st;

	(void)state;
	setup_run(&run);
	lookup(&run, "lf.example");
	run.now = T0 + MAX_AGE - 1;
	lookup(&run, "lf.example"); /* served; the re-check starts */
	assert_true(run.has_policy);
	run.now = T0 + MAX_AGE + 1; /* expired, re-check still running */
	lookup(&run, "lf.example");
	assert_true(run.has_policy);
	assert_string_equal(run.reason, "");
	sts_resolver_stats(run.res, &st);
	assert_int_equal(st.rate_limited, 0);
	assert_int_equal(st.fetch_ok, 2);
	teardown_run(&run);
}

/* Concurrent lookups of one domain share one discovery. */
static void
test_concurrent_lookups_share_a_discovery(void **state)
{
	struct run run = {0};
	struct sts_answer a;

	(void)state;
	setup_run(&run);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sts_resolver_lookup(run.res, "crlf.example", 0,
				     &a, on_answer, &run, NULL),
		    STS_RESOLVER_PENDING);
	while (run.answers < 3)
		assert_int_equal(event_base_dispatch(run.base), 0);
	assert_true(run.has_policy);
	assert_int_equal(discoveries(&run), 1);
	teardown_run(&run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetched_then_cached),
	    cmocka_unit_test(test_recheck_same_id_extends),
	    cmocka_unit_test(test_expiry_during_recheck_fetches_again),
	    cmocka_unit_test(test_concurrent_lookups_share_a_discovery),
	};

	world_dns = getenv("WORLD_DNS");
	world_ca = getenv("WORLD_CA");
	world_cto = getenv("WORLD_CONNECT_TO");
	if (world_dns == NULL || world_ca == NULL || world_cto == NULL) {
		fprintf(stderr, "test-resolver: run by resolver-world.sh\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
