/*
 * test-worker.c - lib/worker.c against the hermetic world (tests/world,
 * started by worker-world.sh, which passes WORLD_DNS, WORLD_CA and
 * WORLD_CONNECT_TO): discoveries and DANE checks run on the worker thread
 * and every callback comes back on the caller's loop thread, later, never
 * inside the submitting call; cancelled requests never call back; a
 * callback may submit more work; freeing the worker with work in flight
 * runs no callback and leaks nothing (ASan in build-asan).
 */
#include <event2/event.h>
#include <pthread.h>
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

#include "mtasts/worker.h"

static const char *world_dns, *world_ca, *world_cto;
static pthread_t loop_thread;

struct run {
	struct event_base *base;
	struct sts_worker *w;
	bool in_call; /* inside a submitting call */
	int calls, want;
	int status[64];
	bool unchanged[64];
	char id[64][STS_ID_MAX + 1];
	enum sts_mode mode[64];
	enum sts_dane_status dane[64];
	const char *resubmit; /* a callback submits this domain once */
};

static void
new_worker(struct run *run)
{
	const char *fwd[1] = {world_dns};
	const char *cto[1] = {world_cto};
	struct sts_discover_config cfg = {
	    .dns = {.forwarders = fwd, .n_forwarders = 1, .timeout_ms = 3000},
	    .fetch = {.ca_file = world_ca,
		.connect_to = cto,
		.n_connect_to = 1,
		.timeout_ms = 3000},
	};
	struct sts_diag diag = {0, ""};

	run->base = event_base_new();
	assert_non_null(run->base);
	assert_int_equal(
	    sts_worker_new(run->base, &cfg, &run->w, &diag), STS_OK);
	assert_false(sts_worker_validating(run->w)); /* dnssec off */
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run the loop until run->want callbacks came, then `extra_ms` more. */
static void
loop_until_done(struct run *run, int extra_ms)
{
	struct timeval limit = {10, 0}, extra = {0, extra_ms * 1000};
	struct event *t = evtimer_new(run->base, on_timeout, run->base);

	evtimer_add(t, &limit);
	while (run->calls < run->want &&
	       event_base_loop(run->base, EVLOOP_ONCE) == 0)
		if (!evtimer_pending(t, NULL))
			break;
	if (extra_ms > 0) {
		evtimer_add(t, &extra);
		event_base_dispatch(run->base);
	}
	event_free(t);
}

static void on_discovered(struct sts_discovery *d, void *arg);

static int
discover(struct run *run, const char *domain, const char *stop_id,
    struct sts_worker_req **ret_req)
{
	const char *stop[1] = {stop_id};
	int r;

	run->in_call = true;
	r = sts_worker_discover(
	    run->w, domain, stop, stop_id ? 1 : 0, on_discovered, run, ret_req);
	run->in_call = false;
	return r;
}

static void
on_discovered(struct sts_discovery *d, void *arg)
{
	struct run *run = arg;
	int i = run->calls++;

	assert_false(run->in_call);
	assert_true(pthread_equal(pthread_self(), loop_thread));
	assert_true(i < 64);
	run->status[i] = d->status;
	run->unchanged[i] = d->unchanged;
	memcpy(run->id[i], d->id, sizeof(run->id[i]));
	run->mode[i] = d->policy != NULL ? d->policy->mode : STS_MODE_NONE;
	sts_discovery_free(d);
	if (run->resubmit != NULL) {
		const char *domain = run->resubmit;

		run->resubmit = NULL;
		run->want++;
		assert_int_equal(discover(run, domain, NULL, NULL), STS_OK);
	}
}

static void
on_dane(const struct sts_dane_result *r, void *arg)
{
	struct run *run = arg;

	assert_false(run->in_call);
	assert_true(pthread_equal(pthread_self(), loop_thread));
	run->dane[run->calls++] = r->status;
}

static void
finish(struct run *run)
{
	sts_worker_free(run->w);
	event_base_free(run->base);
}

/* RFC 8461 §3: a whole discovery, its result back on the loop thread. */
static void
test_discoveries_come_back_on_the_loop(void **state)
{
	struct run run = {0};

	(void)state;
	new_worker(&run);
	run.want = 2;
	assert_int_equal(discover(&run, "lf.example", NULL, NULL), STS_OK);
	assert_int_equal(discover(&run, "notxt.example", NULL, NULL), STS_OK);
	assert_int_equal(run.calls, 0); /* never inside the call */
	loop_until_done(&run, 0);
	assert_int_equal(run.calls, 2);
	/* the two may finish in either order */
	for (int i = 0; i < 2; i++) {
		if (run.status[i] == STS_OK) {
			assert_string_equal(run.id[i], "lf2026");
			assert_int_equal(run.mode[i], STS_MODE_ENFORCE);
		} else {
			assert_int_equal(run.status[i], STS_ENOTFOUND);
		}
	}
	assert_int_not_equal(run.status[0], run.status[1]);
	finish(&run);
}

/* §3: a TXT id equal to the cached one stops before the fetch. */
static void
test_stop_id_reaches_the_worker(void **state)
{
	struct run run = {0};

	(void)state;
	new_worker(&run);
	run.want = 1;
	assert_int_equal(discover(&run, "lf.example", "lf2026", NULL), STS_OK);
	loop_until_done(&run, 0);
	assert_int_equal(run.calls, 1);
	assert_int_equal(run.status[0], STS_OK);
	assert_true(run.unchanged[0]);
	finish(&run);
}

static void
test_cancelled_requests_never_call_back(void **state)
{
	struct run run = {0};
	struct sts_worker_req *req[5];

	(void)state;
	new_worker(&run);
	for (int i = 0; i < 5; i++)
		assert_int_equal(
		    discover(&run, "crlf.example", NULL, &req[i]), STS_OK);
	sts_worker_cancel(req[1]);
	sts_worker_cancel(req[3]);
	sts_worker_cancel(NULL);
	run.want = 3;
	loop_until_done(&run, 500);
	assert_int_equal(run.calls, 3);
	finish(&run);
}

static void
test_callback_may_submit(void **state)
{
	struct run run = {0};

	(void)state;
	new_worker(&run);
	run.resubmit = "testing.example";
	run.want = 1; /* the callback raises it */
	assert_int_equal(discover(&run, "lf.example", NULL, NULL), STS_OK);
	loop_until_done(&run, 0);
	assert_int_equal(run.calls, 2);
	assert_int_equal(run.status[1], STS_OK);
	assert_int_equal(run.mode[1], STS_MODE_TESTING);
	finish(&run);
}

static void
test_free_with_work_in_flight(void **state)
{
	struct run run = {0};
	struct timeval brief = {0, 20000};
	struct event *t;

	(void)state;
	new_worker(&run);
	for (int i = 0; i < 20; i++)
		assert_int_equal(
		    discover(&run, i % 2 ? "stall.example" : "lf.example", NULL,
			NULL),
		    STS_OK);
	/* let some finish on the worker, unread, then free */
	t = evtimer_new(run.base, on_timeout, run.base);
	evtimer_add(t, &brief);
	event_base_dispatch(run.base);
	event_free(t);
	sts_worker_free(run.w);
	run.w = NULL;
	/* nothing may call back after the free */
	t = evtimer_new(run.base, on_timeout, run.base);
	evtimer_add(t, &brief);
	event_base_dispatch(run.base);
	event_free(t);
	assert_true(run.calls < 20);
	event_base_free(run.base);
}

/* RFC 7672: without validation nothing is secure, DANE cannot apply. */
static void
test_dane_check_on_the_worker(void **state)
{
	struct run run = {0};

	(void)state;
	new_worker(&run);
	run.want = 1;
	run.in_call = true;
	assert_int_equal(
	    sts_worker_dane(run.w, "dane-ok.example", on_dane, &run, NULL),
	    STS_OK);
	run.in_call = false;
	loop_until_done(&run, 0);
	assert_int_equal(run.calls, 1);
	assert_int_equal(run.dane[0], STS_DANE_NONE);
	finish(&run);
}

static void
test_invalid_input_is_refused_at_once(void **state)
{
	struct run run = {0};
	char long_name[STS_DOMAIN_MAX + 2];
	const char *ids[3] = {"a", "b", "c"};

	(void)state;
	new_worker(&run);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(discover(&run, long_name, NULL, NULL), STS_EINVAL);
	assert_int_equal(sts_worker_discover(run.w, "lf.example", ids, 3,
			     on_discovered, &run, NULL),
	    STS_EINVAL);
	assert_int_equal(
	    sts_worker_dane(run.w, long_name, on_dane, &run, NULL), STS_EINVAL);
	loop_until_done(&run, 100);
	assert_int_equal(run.calls, 0);
	finish(&run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_discoveries_come_back_on_the_loop),
	    cmocka_unit_test(test_stop_id_reaches_the_worker),
	    cmocka_unit_test(test_cancelled_requests_never_call_back),
	    cmocka_unit_test(test_callback_may_submit),
	    cmocka_unit_test(test_free_with_work_in_flight),
	    cmocka_unit_test(test_dane_check_on_the_worker),
	    cmocka_unit_test(test_invalid_input_is_refused_at_once),
	};

	world_dns = getenv("WORLD_DNS");
	world_ca = getenv("WORLD_CA");
	world_cto = getenv("WORLD_CONNECT_TO");
	if (world_dns == NULL || world_ca == NULL || world_cto == NULL) {
		fprintf(stderr, "test-worker: run by worker-world.sh\n");
		return 1;
	}
	loop_thread = pthread_self();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
