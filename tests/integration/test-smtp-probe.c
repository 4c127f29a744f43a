/*
 * test-smtp-probe.c - smtp_probe.c against real servers on loopback:
 * smtp-sink.py in each of its modes (started by check-probe.sh, which
 * passes SINK_PORT and the world's CA) and the world's nginx for
 * implicit TLS.  Every result field a check item rests on is asserted;
 * so are "the callback never runs inside sts_smtp_probe()", cancel and
 * free with probes outstanding (no callback, no leak under ASan).
 */
#include <event2/event.h>
#include <openssl/x509_vfy.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* clang-format off: cmocka.h needs the headers above first */
#include <cmocka.h>
/* clang-format on */

#include "mtasts/smtp_probe.h"

static unsigned sink_port, https_port;
static const char *ca, *unknown_ca;

struct run {
	bool in_call;
	int calls;
	struct sts_smtp_probe_result res;
};

static void
on_result(const struct sts_smtp_probe_result *res, void *arg)
{
	struct run *run = arg;

	assert_false(run->in_call); /* never synchronous */
	run->calls++;
	run->res = *res;
}

/* One probe with its own loop and prober; the result in run->res. */
static void
probe(const char *ca_file, unsigned timeout_ms, const char *host,
    const char *addr, unsigned port, enum sts_smtp_probe_mode mode,
    struct run *run)
{
	struct sts_smtp_probe_config cfg = {.ca_file = ca_file,
	    .helo_name = "probe.test.example",
	    .timeout_ms = timeout_ms};
	struct event_base *base = event_base_new();
	struct sts_smtp_prober *p = NULL;

	memset(run, 0, sizeof(*run));
	assert_non_null(base);
	assert_int_equal(sts_smtp_prober_new(base, &cfg, &p, NULL), STS_OK);
	run->in_call = true;
	assert_int_equal(
	    sts_smtp_probe(p, host, addr, port, mode, on_result, run, NULL),
	    STS_OK);
	run->in_call = false;
	assert_int_equal(run->calls, 0);
	event_base_dispatch(base);
	assert_int_equal(run->calls, 1);
	sts_smtp_prober_free(p);
	event_base_free(base);
}

static void
smtp(const char *host, const char *addr, struct run *run)
{
	probe(ca, 5000, host, addr, sink_port, STS_PROBE_STARTTLS, run);
}

static void
test_good(void **state)
{
	struct run run;
	const struct sts_smtp_probe_result *r = &run.res;

	(void)state;
	smtp("mx1.check-good.example", "127.0.0.21", &run);
	assert_int_equal(r->status, STS_OK);
	assert_int_equal(r->failed_stage, STS_PROBE_DONE);
	assert_int_equal(r->banner_code, 220); /* a two-line greeting */
	assert_string_equal(r->banner, "sink.example ESMTP test sink");
	assert_int_equal(r->ehlo_code, 250);
	assert_true(r->starttls_offered);
	assert_int_equal(r->starttls_code, 220);
	assert_true(r->tls);
	assert_true(r->tls_version_num >= 0x0303);
	assert_true(r->cipher[0] != '\0');
	assert_true(r->have_cert);
	assert_true(r->chain_trusted);
	assert_true(r->dates_ok);
	assert_true(r->name_ok);
	assert_false(r->self_signed);
	assert_true(r->not_after > (int64_t)time(NULL));
	/* issued moments ago, maybe within this very second */
	assert_true(r->not_before <= (int64_t)time(NULL));
	assert_string_equal(r->names[0], "mx1.check-good.example");
	assert_true(r->n_chain >= 1);
	assert_string_equal(r->host, "mx1.check-good.example");
	assert_string_equal(r->address, "127.0.0.21");
	assert_int_equal(r->port, sink_port);

	smtp("mx1.check-good.example", "::1", &run); /* IPv6 */
	assert_int_equal(r->status, STS_OK);
	assert_true(r->name_ok && r->chain_trusted);
	assert_string_equal(r->address, "::1");

	/* the same server, another name: the certificate does not fit */
	smtp("mx9.check-good.example", "127.0.0.21", &run);
	assert_int_equal(r->status, STS_OK);
	assert_false(r->name_ok);
	assert_true(r->chain_trusted);
}

static void
test_certificates(void **state)
{
	struct run run;
	const struct sts_smtp_probe_result *r = &run.res;

	(void)state;
	smtp("mx1.check-expired.example", "127.0.0.22", &run);
	assert_int_equal(r->status, STS_OK);
	assert_true(r->chain_trusted); /* dates judged apart */
	assert_false(r->dates_ok);
	assert_non_null(strstr(r->dates_reason, "expired"));
	assert_true(r->not_after < (int64_t)time(NULL));
	assert_true(r->name_ok);

	smtp("mx1.check-wrongname.example", "127.0.0.23", &run);
	assert_int_equal(r->status, STS_OK);
	assert_false(r->name_ok);
	assert_true(r->chain_trusted);
	assert_int_equal(r->n_names, 1);
	assert_string_equal(r->names[0], "mx.other.example");

	smtp("mx1.check-selfsigned.example", "127.0.0.24", &run);
	assert_int_equal(r->status, STS_OK);
	assert_false(r->chain_trusted);
	assert_true(r->self_signed);
	assert_int_equal(
	    r->verify_error, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	assert_true(r->name_ok); /* the name is right, the trust is not */

	/* A CA store without the world's CA: not trusted. */
	probe(unknown_ca, 5000, "mx1.check-good.example", "127.0.0.21",
	    sink_port, STS_PROBE_STARTTLS, &run);
	assert_int_equal(r->status, STS_OK);
	assert_false(r->chain_trusted);
	assert_non_null(strstr(r->verify_reason, "issuer"));
}

static void
test_protocol(void **state)
{
	struct run run;
	const struct sts_smtp_probe_result *r = &run.res;

	(void)state;
	smtp("mx1.check-nostarttls.example", "127.0.0.25", &run);
	assert_int_equal(r->status, STS_EPROTO);
	assert_int_equal(r->failed_stage, STS_PROBE_STARTTLS_CMD);
	assert_false(r->starttls_offered);
	assert_false(r->tls);
	assert_non_null(strstr(r->reason, "STARTTLS not offered"));

	smtp("mx1.check-oldtls.example", "127.0.0.26", &run);
	assert_int_equal(r->status, STS_OK);
	assert_int_equal(r->tls_version_num, 0x0302); /* TLS 1.1 */
	assert_string_equal(r->tls_version, "TLSv1.1");

	smtp("mx.reject.example", "127.0.0.31", &run);
	assert_int_equal(r->status, STS_EPROTO);
	assert_int_equal(r->failed_stage, STS_PROBE_BANNER);
	assert_int_equal(r->banner_code, 554);

	smtp("mx.tls454.example", "127.0.0.32", &run);
	assert_int_equal(r->status, STS_EPROTO);
	assert_int_equal(r->failed_stage, STS_PROBE_STARTTLS_CMD);
	assert_true(r->starttls_offered);
	assert_int_equal(r->starttls_code, 454);

	smtp("mx.garbage.example", "127.0.0.33", &run);
	assert_int_equal(r->status, STS_EPROTO);
	assert_non_null(strstr(r->reason, "malformed"));
}

static void
test_network(void **state)
{
	struct run run;
	const struct sts_smtp_probe_result *r = &run.res;

	(void)state;
	probe(ca, 400, "mx1.check-stall.example", "127.0.0.27", sink_port,
	    STS_PROBE_STARTTLS, &run);
	assert_int_equal(r->status, STS_ETEMP);
	assert_int_equal(r->failed_stage, STS_PROBE_BANNER);
	assert_non_null(strstr(r->reason, "timed out after 400 ms"));
	assert_true(r->elapsed_ms >= 350 && r->elapsed_ms < 3000);

	smtp("mx.refused.example", "127.0.0.9", &run);
	assert_int_equal(r->status, STS_ETEMP);
	assert_int_equal(r->failed_stage, STS_PROBE_CONNECT);
	assert_non_null(strstr(r->reason, "refused"));

	/* implicit TLS: the world's nginx, SNI chooses the certificate */
	probe(ca, 5000, "mta-sts.lf.example", "127.0.0.1", https_port,
	    STS_PROBE_IMPLICIT_TLS, &run);
	assert_int_equal(r->status, STS_OK);
	assert_int_equal(r->banner_code, 0);
	assert_true(r->chain_trusted && r->name_ok && r->dates_ok);

	/* unknown SNI: nginx refuses the handshake */
	probe(ca, 5000, "mta-sts.nowhere.example", "127.0.0.1", https_port,
	    STS_PROBE_IMPLICIT_TLS, &run);
	assert_int_equal(r->status, STS_ETLS);
	assert_int_equal(r->failed_stage, STS_PROBE_HANDSHAKE);
	assert_non_null(strstr(r->reason, "unrecognized name"));
}

static void
never(const struct sts_smtp_probe_result *res, void *arg)
{
	(void)res;
	(void)arg;
	fail_msg("callback after cancel");
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void
test_cancel_and_args(void **state)
{
	struct sts_smtp_probe_config cfg = {.ca_file = ca};
	struct event_base *base = event_base_new();
	struct sts_smtp_prober *p = NULL;
	struct sts_smtp_probe_req *req = NULL;
	struct timeval tv = {0, 300000};
	struct event *t = evtimer_new(base, on_timer, base);
	struct sts_diag diag = {0};

	(void)state;
	assert_int_equal(sts_smtp_prober_new(base, &cfg, &p, NULL), STS_OK);
	/* cancel one, leave others outstanding for prober_free */
	assert_int_equal(
	    sts_smtp_probe(p, "mx1.check-stall.example", "127.0.0.27",
		sink_port, STS_PROBE_STARTTLS, never, NULL, &req),
	    STS_OK);
	sts_smtp_probe_cancel(req);
	assert_int_equal(
	    sts_smtp_probe(p, "mx1.check-stall.example", "127.0.0.27",
		sink_port, STS_PROBE_STARTTLS, never, NULL, NULL),
	    STS_OK);
	assert_int_equal(sts_smtp_probe(p, "mx.refused.example", "127.0.0.9",
			     sink_port, STS_PROBE_STARTTLS, never, NULL, &req),
	    STS_OK);
	sts_smtp_probe_cancel(req); /* the early-failure path, cancelled */
	sts_smtp_probe_cancel(NULL);
	evtimer_add(t, &tv);
	event_base_dispatch(base); /* connected, waiting for a greeting */
	sts_smtp_prober_free(p);   /* cancels it: no callback */

	assert_int_equal(sts_smtp_prober_new(base, &cfg, &p, NULL), STS_OK);
	assert_int_equal(sts_smtp_probe(p, "mx.example", "not-an-ip", 25,
			     STS_PROBE_STARTTLS, never, NULL, NULL),
	    STS_EINVAL);
	assert_int_equal(sts_smtp_probe(p, "mx.example", "127.0.0.1", 0,
			     STS_PROBE_STARTTLS, never, NULL, NULL),
	    STS_EINVAL);
	assert_int_equal(sts_smtp_probe(p, "bad..name", "127.0.0.1", 25,
			     STS_PROBE_STARTTLS, never, NULL, NULL),
	    STS_EINVAL);
	sts_smtp_prober_free(p);
	sts_smtp_prober_free(NULL);

	cfg.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(
	    sts_smtp_prober_new(base, &cfg, &p, &diag), STS_EINVAL);
	assert_non_null(strstr(diag.message, "/nonexistent/ca.pem"));
	cfg.ca_file = ca;
	cfg.helo_name = "bad name";
	assert_int_equal(sts_smtp_prober_new(base, &cfg, &p, NULL), STS_EINVAL);
	assert_string_equal(
	    sts_smtp_probe_stage_name(STS_PROBE_HANDSHAKE), "TLS handshake");
	event_free(t);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_certificates),
	    cmocka_unit_test(test_protocol),
	    cmocka_unit_test(test_network),
	    cmocka_unit_test(test_cancel_and_args),
	};
	const char *port = getenv("SINK_PORT"),
		   *hp = getenv("WORLD_HTTPS_PORT");

	ca = getenv("WORLD_CA");
	unknown_ca = getenv("WORLD_UNKNOWN_CA");
	if (port == NULL || hp == NULL || ca == NULL || unknown_ca == NULL) {
		fprintf(stderr, "run me from check-probe.sh\n");
		return 77;
	}
	sink_port = (unsigned)strtoul(port, NULL, 10);
	https_port = (unsigned)strtoul(hp, NULL, 10);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
