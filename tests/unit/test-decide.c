/*
 * test-decide.c - RFC 8461 §3.3 / §5.1 decisions against a fake clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mtasts/decide.h"
#include "mtasts/limits.h"

#define T0 1700000000 /* the fake clock's origin */
#define DAY 86400

static const struct sts_decide_cached none = {0};

static struct sts_decide_cached
cached(const char *id, int64_t checked_at, int64_t expires_at)
{
	struct sts_decide_cached c = {true, id, expires_at, checked_at};
	return c;
}

static void
lookup_steps(void **state)
{
	struct sts_decide_cached c = cached("a1", T0, T0 + DAY);

	(void)state;
	/* §5.1 step 1: no cached policy => resolve. */
	assert_int_equal(sts_decide_lookup(&none, T0, 60), STS_RESOLVE);
	/* younger than cache_grace: served, no DNS at all */
	assert_int_equal(sts_decide_lookup(&c, T0 + 59, 60), STS_SERVE_CACHED);
	/* older: served, and re-checked off the request path */
	assert_int_equal(sts_decide_lookup(&c, T0 + 60, 60),
	    STS_SERVE_CACHED_AND_RECHECK);
	/* §3.2: usable up to max_age, not at it */
	assert_int_equal(sts_decide_lookup(&c, T0 + DAY - 1, 60),
	    STS_SERVE_CACHED_AND_RECHECK);
	assert_int_equal(sts_decide_lookup(&c, T0 + DAY, 60), STS_RESOLVE);
}

static void
txt_never_evicts(void **state)
{
	struct sts_decide_cached c = cached("a1", T0, T0 + DAY);

	(void)state;
	/* STS-CACHE-5: TXT gone or broken keeps the cached policy */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_NONE, NULL, NULL,
			     T0 + 100),
	    STS_USE_CACHED);
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_TEMPFAIL, NULL,
			     NULL, T0 + 100),
	    STS_USE_CACHED);
	/* ... until it expires */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_NONE, NULL, NULL,
			     T0 + DAY),
	    STS_NO_POLICY);
	assert_int_equal(sts_decide_after_txt(&none, STS_TXT_NONE, NULL, NULL,
			     T0),
	    STS_NO_POLICY);
}

static void
txt_id_comparison(void **state)
{
	struct sts_decide_cached c = cached("a1", T0, T0 + DAY);

	(void)state;
	/* §3: same id => current, no HTTPS */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "a1", NULL,
			     T0 + 100),
	    STS_CONFIRM_CACHED);
	/* ids are compared for equality only (case-sensitive) */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "A1", NULL,
			     T0 + 100),
	    STS_FETCH);
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "a0", NULL,
			     T0 + 100),
	    STS_FETCH);
	/* an expired policy with the same id is fetched again */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "a1", NULL,
			     T0 + DAY),
	    STS_FETCH);
	assert_int_equal(sts_decide_after_txt(&none, STS_TXT_VALID, "a1",
			     NULL, T0),
	    STS_FETCH);
}

static void
refetch_rate_limit(void **state)
{
	struct sts_decide_cached c = cached("a1", T0, T0 + DAY);
	struct sts_decide_failure f = {true, "b2", T0 + 1000};

	(void)state;
	/* §3.3: a fetch for id b2 failed at T0+1000: wait 5 minutes */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "b2", &f,
			     T0 + 1000 + STS_REFETCH_MIN_S - 1),
	    STS_USE_CACHED);
	assert_int_equal(sts_decide_after_txt(&none, STS_TXT_VALID, "b2", &f,
			     T0 + 1001),
	    STS_NO_POLICY);
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "b2", &f,
			     T0 + 1000 + STS_REFETCH_MIN_S),
	    STS_FETCH);
	/* the limit is per id: a newer id is fetched at once */
	assert_int_equal(sts_decide_after_txt(&c, STS_TXT_VALID, "c3", &f,
			     T0 + 1001),
	    STS_FETCH);
}

static void
fetch_failure_keeps_cache(void **state)
{
	struct sts_decide_cached c = cached("a1", T0, T0 + DAY);

	(void)state;
	assert_int_equal(sts_decide_after_fetch(&c, true, T0 + 5),
	    STS_STORE_NEW);
	/* STS-FETCH-15: failure with a valid cache applies the cache */
	assert_int_equal(sts_decide_after_fetch(&c, false, T0 + 5),
	    STS_KEEP_CACHED);
	/* STS-FETCH-14: failure and no usable cache: no policy */
	assert_int_equal(sts_decide_after_fetch(&c, false, T0 + DAY),
	    STS_FETCH_NO_POLICY);
	assert_int_equal(sts_decide_after_fetch(&none, false, T0),
	    STS_FETCH_NO_POLICY);
}

static void
refresh_schedule(void **state)
{
	(void)state;
	/* a year-long policy checked at T0: the daily interval wins */
	assert_int_equal(sts_decide_refresh_at(T0, T0 + 365 * DAY, DAY, 0, T0),
	    T0 + DAY);
	/* jitter moves it earlier by at most a tenth */
	assert_int_equal(sts_decide_refresh_at(T0, T0 + 365 * DAY, DAY, 1000,
			     T0),
	    T0 + DAY - DAY / 10);
	/* a one-hour policy: refresh a tenth before expiry */
	assert_int_equal(sts_decide_refresh_at(T0, T0 + 3600, DAY, 0, T0),
	    T0 + 3600 - 360);
	/* never in the past */
	assert_int_equal(sts_decide_refresh_at(T0, T0 + 3600, DAY, 0,
			     T0 + 7200),
	    T0 + 7200);
	/* out-of-range jitter is clamped */
	assert_int_equal(sts_decide_refresh_at(T0, T0 + 365 * DAY, DAY, 5000,
			     T0),
	    T0 + DAY - DAY / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookup_steps),
		cmocka_unit_test(txt_never_evicts),
		cmocka_unit_test(txt_id_comparison),
		cmocka_unit_test(refetch_rate_limit),
		cmocka_unit_test(fetch_failure_keeps_cache),
		cmocka_unit_test(refresh_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
