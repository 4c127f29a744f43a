/*
 * test-check.c - check.c: facts in, judged items out, no network.
 *
 * good() builds the facts of a flawless domain (every item passes); each
 * test then breaks one fact and asserts the item that must turn to warn
 * or fail, and that the verdict and the enforce readiness follow.
 * Together they give every item id a passing and a failing case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
/* clang-format off: cmocka.h needs the headers above first */
#include <cmocka.h>
/* clang-format on */

#include "mtasts/check.h"

#define NOW 1800000000LL /* 2027-01-15 */
#define DAY 86400

#define GOOD_POLICY                                                            \
	"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\n"           \
	"max_age: 1209600\r\n"

struct fx {
	struct sts_check_facts f;
	struct sts_txt_record txt[3];
	struct sts_txt_record rpt[2];
	struct sts_dns_addr host_addrs[2];
	struct sts_check_mx mx[2];
	struct sts_dns_addr mx_addrs[2][2];
	struct sts_check_probe probes[2][2];
	struct sts_dns_tlsa tlsa[2];
	uint8_t spki[32], other[32];
	const char *body4, *body6;
	struct sts_check_report *r;
};

static struct fx X;

static void
lookup_ok(struct sts_check_lookup *l)
{
	memset(l, 0, sizeof(*l));
	l->done = true;
	l->status = STS_OK;
	l->security = STS_DNS_SECURE;
}

static void
lookup_none(struct sts_check_lookup *l, bool nxdomain)
{
	lookup_ok(l);
	l->status = STS_ENOTFOUND;
	l->nxdomain = nxdomain;
}

static void
txt(struct sts_txt_record *r, const char *s)
{
	r->data = s;
	r->len = strlen(s);
}

static void
fetch_ok(struct sts_check_fetch *fe, const char *addr, const char *body)
{
	memset(fe, 0, sizeof(*fe));
	fe->done = true;
	fe->status = STS_OK;
	fe->http_status = 200;
	snprintf(fe->content_type, sizeof(fe->content_type), "text/plain");
	snprintf(fe->address, sizeof(fe->address), "%s", addr);
	snprintf(fe->tls_version, sizeof(fe->tls_version), "TLSv1.3");
	fe->body = body;
	fe->body_len = strlen(body);
}

static void
probe_ok(
    struct sts_check_probe *p, const char *host, const char *addr, bool smtp)
{
	struct sts_smtp_probe_result *r = &p->result;

	memset(p, 0, sizeof(*p));
	p->done = true;
	r->status = STS_OK;
	r->failed_stage = STS_PROBE_DONE;
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->address, sizeof(r->address), "%s", addr);
	r->port = smtp ? 25 : 443;
	r->mode = smtp ? STS_PROBE_STARTTLS : STS_PROBE_IMPLICIT_TLS;
	if (smtp) {
		r->banner_code = 220;
		snprintf(r->banner, sizeof(r->banner), "mx ESMTP");
		r->ehlo_code = 250;
		r->starttls_offered = true;
		r->starttls_code = 220;
	}
	r->tls = true;
	r->tls_version_num = 0x0304;
	snprintf(r->tls_version, sizeof(r->tls_version), "TLSv1.3");
	snprintf(r->cipher, sizeof(r->cipher), "TLS_AES_128_GCM_SHA256");
	r->have_cert = true;
	r->chain_trusted = true;
	r->dates_ok = true;
	r->name_ok = true;
	r->not_before = NOW - 10 * DAY;
	r->not_after = NOW + 60 * DAY;
	r->n_names = 1;
	snprintf(r->names[0], sizeof(r->names[0]), "%s", host);
	snprintf(r->issuer, sizeof(r->issuer), "/CN=Test CA");
	r->n_chain = 2;
	memcpy(r->chain[0].spki_sha256, X.spki, 32);
}

static void
addr(struct sts_dns_addr *a, int family, const char *s)
{
	a->family = family;
	snprintf(a->addr, sizeof(a->addr), "%s", s);
}

/* A flawless example.com: one MX, reachable policy host on both
 * families, enforce policy covering it, TLS-RPT, DNSSEC, DANE-EE. */
static void
good(void)
{
	struct sts_check_facts *f = &X.f;

	sts_check_report_free(X.r);
	memset(&X, 0, sizeof(X));
	for (int i = 0; i < 32; i++) {
		X.spki[i] = (uint8_t)i;
		X.other[i] = (uint8_t)(255 - i);
	}
	f->domain = "example.com";
	f->now = NOW;
	f->smtp_port = 25;
	f->dnssec_validating = true;

	lookup_ok(&f->txt);
	txt(&X.txt[0], "v=STSv1; id=20260101T000000");
	f->txt_records = X.txt;
	f->n_txt = 1;

	lookup_ok(&f->host_addr);
	addr(&X.host_addrs[0], AF_INET6, "2001:db8::1");
	addr(&X.host_addrs[1], AF_INET, "192.0.2.1");
	f->host_addrs = X.host_addrs;
	f->n_host_addrs = 2;
	X.body4 = X.body6 = GOOD_POLICY;
	fetch_ok(&f->fetch[0], "192.0.2.1", X.body4);
	fetch_ok(&f->fetch[1], "2001:db8::1", X.body6);
	probe_ok(&f->host_tls, "mta-sts.example.com", "192.0.2.1", false);

	lookup_ok(&f->mx);
	f->n_mx_total = 1;
	f->n_mx = 1;
	f->mxs = X.mx;
	snprintf(X.mx[0].host, sizeof(X.mx[0].host), "mx1.example.com");
	X.mx[0].pref = 10;
	lookup_ok(&X.mx[0].addr);
	addr(&X.mx_addrs[0][0], AF_INET, "192.0.2.25");
	X.mx[0].addrs = X.mx_addrs[0];
	X.mx[0].n_addrs = 1;
	lookup_ok(&X.mx[0].tlsa);
	X.tlsa[0] = (struct sts_dns_tlsa){3, 1, 1, X.spki, 32};
	X.mx[0].tlsa_records = X.tlsa;
	X.mx[0].n_tlsa = 1;
	probe_ok(&X.probes[0][0], "mx1.example.com", "192.0.2.25", true);
	X.mx[0].probes = X.probes[0];
	X.mx[0].n_probes = 1;

	lookup_ok(&f->tlsrpt);
	txt(&X.rpt[0], "v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
	f->tlsrpt_records = X.rpt;
	f->n_tlsrpt = 1;
}

static void
eval(void)
{
	sts_check_report_free(X.r);
	X.r = NULL;
	assert_int_equal(sts_check_evaluate(&X.f, &X.r), STS_OK);
}

/* Status of the first item id (with subject containing sub, if given);
 * -1 when there is none. */
static int
st(const char *id, const char *sub)
{
	for (size_t i = 0; i < X.r->n_items; i++) {
		const struct sts_check_item *it = &X.r->items[i];

		if (strcmp(it->id, id) == 0 &&
		    (sub == NULL || strstr(it->subject, sub) != NULL))
			return (int)it->status;
	}
	return -1;
}

static const char *
msg(const char *id)
{
	for (size_t i = 0; i < X.r->n_items; i++)
		if (strcmp(X.r->items[i].id, id) == 0)
			return X.r->items[i].message;
	return "";
}

static void
expect(const char *id, int status)
{
	int got = st(id, NULL);

	if (got != status)
		fail_msg("%s: want %d, got %d (%s)", id, status, got, msg(id));
}

static void
teardown_report(void)
{
	sts_check_report_free(X.r);
	X.r = NULL;
}

/* ---- the flawless domain ---------------------------------------------- */

static void
test_good(void **state)
{
	static const char *const ids[] = {"txt.record", "txt.count",
	    "txt.other", "txt.syntax", "txt.id", "txt.extensions", "txt.dnssec",
	    "host.address", "host.ipv4", "host.ipv6", "host.tls",
	    "host.cert_trust", "host.cert_name", "host.cert_expiry",
	    "host.redirect", "host.status", "host.content_type", "host.size",
	    "host.same_policy", "policy.syntax", "policy.mode",
	    "policy.max_age", "policy.lint", "policy.mx_covered",
	    "policy.mx_stale", "mx.records", "mx.address", "mx.starttls",
	    "mx.tls_version", "mx.cert_trust", "mx.cert_name", "mx.cert_expiry",
	    "tlsrpt.record", "tlsrpt.rua", "dane.dnssec", "dane.tlsa",
	    "readiness.enforce"};

	(void)state;
	good();
	eval();
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		expect(ids[i], STS_CHECK_PASS);
	for (size_t i = 0; i < X.r->n_items; i++) {
		assert_int_equal(X.r->items[i].status, STS_CHECK_PASS);
		assert_string_equal(X.r->items[i].fix, "");
		assert_non_null(X.r->items[i].rfc);
	}
	assert_int_equal(X.r->verdict, STS_CHECK_PASS);
	assert_true(X.r->enforce_ready);
	assert_string_equal(X.r->id, "20260101T000000");
	assert_non_null(X.r->policy);
	assert_string_equal(sts_check_verdict_name(X.r->verdict), "ok");
	teardown_report();
}

/* ---- txt -------------------------------------------------------------- */

static void
test_txt(void **state)
{
	(void)state;
	good();
	lookup_none(&X.f.txt, true);
	X.f.n_txt = 0;
	eval();
	expect("txt.record", STS_CHECK_FAIL);
	expect("txt.dnssec", STS_CHECK_PASS); /* a secure denial */
	assert_int_equal(X.r->verdict, STS_CHECK_FAIL);
	assert_string_equal(X.r->id, "");

	good();
	X.f.txt.status = STS_ETEMP;
	eval();
	expect("txt.record", STS_CHECK_FAIL);

	good(); /* only an SPF record: not an MTA-STS record */
	txt(&X.txt[0], "v=spf1 -all");
	eval();
	expect("txt.record", STS_CHECK_FAIL);

	good(); /* two STS records (RFC 8461 §3.1) */
	txt(&X.txt[1], "v=STSv1; id=other");
	X.f.n_txt = 2;
	eval();
	expect("txt.record", STS_CHECK_PASS);
	expect("txt.count", STS_CHECK_FAIL);
	assert_int_equal(st("txt.syntax", NULL), -1);

	good(); /* an SPF record beside it: discarded, but suspicious */
	txt(&X.txt[1], "v=spf1 -all");
	X.f.n_txt = 2;
	eval();
	expect("txt.count", STS_CHECK_PASS);
	expect("txt.other", STS_CHECK_WARN);
	expect("txt.id", STS_CHECK_PASS);

	good(); /* grammar: no ';' before the next field */
	txt(&X.txt[0], "v=STSv1; id=abc x");
	eval();
	expect("txt.syntax", STS_CHECK_FAIL);
	assert_int_equal(st("txt.id", NULL), -1);

	good(); /* case-sensitive version */
	txt(&X.txt[0], "V=STSv1; id=abc");
	eval();
	expect("txt.syntax", STS_CHECK_FAIL);

	good();
	txt(&X.txt[0], "v=STSv1; id=2026-01-01");
	eval();
	expect("txt.syntax", STS_CHECK_PASS);
	expect("txt.id", STS_CHECK_FAIL);
	assert_non_null(strstr(msg("txt.id"), "'-'"));

	good();
	txt(&X.txt[0], "v=STSv1; id=123456789012345678901234567890123");
	eval();
	expect("txt.id", STS_CHECK_FAIL);

	good();
	txt(&X.txt[0], "v=STSv1; foo=bar");
	eval();
	expect("txt.id", STS_CHECK_FAIL);
	expect("txt.extensions", STS_CHECK_WARN);

	good(); /* duplicate id: the first wins, a warning */
	txt(&X.txt[0], "v=STSv1; id=first; id=second;");
	eval();
	expect("txt.id", STS_CHECK_WARN);
	assert_string_equal(X.r->id, "first");
	expect("txt.extensions", STS_CHECK_PASS);

	good();
	X.f.txt.security = STS_DNS_BOGUS;
	X.f.txt.status = STS_ETEMP;
	eval();
	expect("txt.dnssec", STS_CHECK_FAIL);

	good(); /* unsigned: informative pass */
	X.f.txt.security = STS_DNS_INSECURE;
	eval();
	expect("txt.dnssec", STS_CHECK_PASS);
	assert_non_null(strstr(msg("txt.dnssec"), "not DNSSEC-signed"));
	teardown_report();
}

/* ---- host ------------------------------------------------------------- */

static void
test_host(void **state)
{
	(void)state;
	good();
	lookup_none(&X.f.host_addr, true);
	X.f.n_host_addrs = 0;
	X.f.fetch[0].done = X.f.fetch[1].done = false;
	X.f.host_tls.done = false;
	eval();
	expect("host.address", STS_CHECK_FAIL);
	assert_int_equal(st("host.ipv4", NULL), -1);
	assert_int_equal(st("policy.syntax", NULL), -1);
	assert_false(X.r->enforce_ready);
	expect("readiness.enforce", STS_CHECK_WARN);

	good(); /* IPv6 broken, IPv4 fine */
	X.f.fetch[1].status = STS_ETEMP;
	X.f.fetch[1].http_status = 0;
	X.f.fetch[1].body = NULL;
	snprintf(X.f.fetch[1].reason, sizeof(X.f.fetch[1].reason),
	    "connection refused");
	eval();
	expect("host.ipv4", STS_CHECK_PASS);
	expect("host.ipv6", STS_CHECK_FAIL);
	assert_int_equal(st("host.same_policy", NULL), -1);
	expect("policy.syntax", STS_CHECK_PASS);

	good(); /* IPv4 broken */
	X.f.fetch[0].status = STS_ETEMP;
	X.f.fetch[0].http_status = 0;
	eval();
	expect("host.ipv4", STS_CHECK_FAIL);
	expect("host.ipv6", STS_CHECK_PASS);

	good(); /* AAAA only: IPv4-only senders cannot fetch */
	X.f.host_addrs = &X.host_addrs[0];
	X.f.n_host_addrs = 1;
	X.f.fetch[0].done = false;
	eval();
	expect("host.ipv4", STS_CHECK_WARN);
	expect("host.ipv6", STS_CHECK_PASS);

	good(); /* A only: fine */
	X.f.host_addrs = &X.host_addrs[1];
	X.f.n_host_addrs = 1;
	X.f.fetch[1].done = false;
	eval();
	expect("host.ipv6", STS_CHECK_PASS);
	assert_non_null(strstr(msg("host.ipv6"), "no AAAA"));

	good(); /* different bodies per family */
	X.f.fetch[1].body = "version: STSv1\r\nmode: testing\r\n"
			    "mx: mx1.example.com\r\nmax_age: 86400\r\n";
	X.f.fetch[1].body_len = strlen(X.f.fetch[1].body);
	eval();
	expect("host.same_policy", STS_CHECK_FAIL);

	good(); /* TLS handshake refused */
	X.f.host_tls.result.status = STS_ETLS;
	X.f.host_tls.result.tls = false;
	X.f.host_tls.result.failed_stage = STS_PROBE_HANDSHAKE;
	eval();
	expect("host.tls", STS_CHECK_FAIL);

	good();
	X.f.host_tls.result.tls_version_num = 0x0302;
	snprintf(X.f.host_tls.result.tls_version, 16, "TLSv1.1");
	eval();
	expect("host.tls", STS_CHECK_FAIL);

	good();
	X.f.host_tls.result.chain_trusted = false;
	snprintf(X.f.host_tls.result.verify_reason, 64,
	    "unable to get "
	    "local issuer");
	eval();
	expect("host.cert_trust", STS_CHECK_FAIL);

	good();
	X.f.host_tls.result.name_ok = false;
	eval();
	expect("host.cert_name", STS_CHECK_FAIL);

	good();
	X.f.host_tls.result.not_after = NOW - DAY;
	eval();
	expect("host.cert_expiry", STS_CHECK_FAIL);

	good();
	X.f.host_tls.result.not_after = NOW + 3 * DAY;
	eval();
	expect("host.cert_expiry", STS_CHECK_WARN);

	good(); /* no probe, but the fetch says the chain is bad */
	X.f.host_tls.done = false;
	X.f.fetch[0].status = X.f.fetch[1].status = STS_ETLS;
	X.f.fetch[0].http_status = X.f.fetch[1].http_status = 0;
	eval();
	expect("host.cert_trust", STS_CHECK_FAIL);

	good();
	X.f.fetch[0].status = X.f.fetch[1].status = STS_EPROTO;
	X.f.fetch[0].http_status = X.f.fetch[1].http_status = 301;
	eval();
	expect("host.redirect", STS_CHECK_FAIL);
	assert_int_equal(st("host.status", NULL), -1);

	good();
	X.f.fetch[0].status = X.f.fetch[1].status = STS_EPROTO;
	X.f.fetch[0].http_status = X.f.fetch[1].http_status = 404;
	eval();
	expect("host.redirect", STS_CHECK_PASS);
	expect("host.status", STS_CHECK_FAIL);

	good();
	X.f.fetch[0].status = X.f.fetch[1].status = STS_EPROTO;
	snprintf(X.f.fetch[0].content_type, 32, "text/html");
	eval();
	expect("host.content_type", STS_CHECK_FAIL);

	good(); /* parameters are ignored (RFC 8461 §3.2) */
	snprintf(X.f.fetch[0].content_type, 64, "Text/Plain ; charset=utf-8");
	eval();
	expect("host.content_type", STS_CHECK_PASS);

	good();
	X.f.fetch[0].content_type[0] = '\0';
	eval();
	expect("host.content_type", STS_CHECK_FAIL);

	good();
	X.f.fetch[0].status = X.f.fetch[1].status = STS_ETOOBIG;
	eval();
	expect("host.size", STS_CHECK_FAIL);

	good(); /* one fetch through a proxy */
	X.f.proxied = true;
	X.f.host_addr.done = false;
	X.f.fetch[1].done = false;
	eval();
	expect("host.fetch", STS_CHECK_PASS);
	X.f.fetch[0].status = STS_ETEMP;
	X.f.fetch[0].http_status = 0;
	eval();
	expect("host.fetch", STS_CHECK_FAIL);
	teardown_report();
}

/* ---- policy ----------------------------------------------------------- */

static void
set_body(const char *body)
{
	X.f.fetch[0].body = X.f.fetch[1].body = body;
	X.f.fetch[0].body_len = X.f.fetch[1].body_len = strlen(body);
}

static void
test_policy(void **state)
{
	(void)state;
	good();
	set_body("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\n");
	eval();
	expect("policy.syntax", STS_CHECK_FAIL);
	assert_null(X.r->policy);
	assert_false(X.r->enforce_ready);

	good();
	set_body("version: STSv1\nmode: testing\nmx: mx1.example.com\n"
		 "max_age: 604800\n");
	eval();
	expect("policy.syntax", STS_CHECK_PASS);
	expect("policy.mode", STS_CHECK_WARN);
	expect("policy.max_age", STS_CHECK_PASS);
	expect("readiness.enforce", STS_CHECK_PASS);
	assert_true(X.r->enforce_ready);
	assert_non_null(strstr(X.r->readiness, "switching to enforce"));

	good();
	set_body("version: STSv1\nmode: none\nmax_age: 86400\n");
	eval();
	expect("policy.mode", STS_CHECK_WARN);
	assert_int_equal(st("policy.mx_covered", NULL), -1);

	good(); /* enforce with max_age 0 protects nothing */
	set_body("version: STSv1\nmode: enforce\nmx: mx1.example.com\n"
		 "max_age: 0\n");
	eval();
	expect("policy.max_age", STS_CHECK_FAIL);

	good();
	set_body("version: STSv1\nmode: enforce\nmx: mx1.example.com\n"
		 "max_age: 3600\n");
	eval();
	expect("policy.max_age", STS_CHECK_WARN);

	good(); /* testing outside one to two weeks (lint advice) */
	set_body("version: STSv1\nmode: testing\nmx: mx1.example.com\n"
		 "max_age: 31557600\n");
	eval();
	expect("policy.max_age", STS_CHECK_WARN);

	good();
	set_body("version: STSv1\nmode: enforce\nmx: mx1.example.com\n"
		 "mx: mx1.example.com\nmax_age: 1209600\n");
	eval();
	expect("policy.lint", STS_CHECK_WARN);

	good(); /* an MX the policy does not cover, a stale pattern */
	set_body("version: STSv1\nmode: enforce\nmx: old.example.com\n"
		 "max_age: 1209600\n");
	eval();
	expect("policy.mx_covered", STS_CHECK_FAIL);
	expect("policy.mx_stale", STS_CHECK_WARN);
	expect("readiness.enforce", STS_CHECK_FAIL);
	assert_false(X.r->enforce_ready);
	assert_int_equal(X.r->n_blockers, 1);
	assert_string_equal(X.r->blockers[0].host, "mx1.example.com");

	good(); /* the same in testing: a warning, readiness not ready */
	set_body("version: STSv1\nmode: testing\nmx: old.example.com\n"
		 "max_age: 604800\n");
	eval();
	expect("policy.mx_covered", STS_CHECK_WARN);
	expect("readiness.enforce", STS_CHECK_WARN);
	assert_false(X.r->enforce_ready);

	good(); /* wildcards match one whole label only (§4.1) */
	set_body("version: STSv1\nmode: enforce\nmx: *.example.com\n"
		 "max_age: 1209600\n");
	eval();
	expect("policy.mx_covered", STS_CHECK_PASS);
	snprintf(X.mx[0].host, sizeof(X.mx[0].host), "a.mx.example.com");
	eval();
	expect("policy.mx_covered", STS_CHECK_FAIL);

	good(); /* a local file judged instead of the published policy */
	X.f.local_policy = "version: STSv1\nmode: testing\n"
			   "mx: mx1.example.com\nmax_age: 604800\n";
	X.f.local_policy_len = strlen(X.f.local_policy);
	eval();
	assert_true(X.r->policy_is_local);
	assert_int_equal(X.r->policy->mode, STS_MODE_TESTING);
	assert_true(X.r->enforce_ready);
	teardown_report();
}

/* ---- mx --------------------------------------------------------------- */

static struct sts_smtp_probe_result *
probe0(void)
{
	return &X.probes[0][0].result;
}

static void
test_mx(void **state)
{
	(void)state;
	good();
	X.f.mx.status = STS_ETEMP;
	X.f.n_mx = 0;
	eval();
	expect("mx.records", STS_CHECK_FAIL);
	expect("readiness.enforce", STS_CHECK_WARN);

	good(); /* implicit MX (RFC 5321 §5.1) */
	lookup_none(&X.f.mx, false);
	X.f.implicit_mx = true;
	snprintf(X.mx[0].host, sizeof(X.mx[0].host), "example.com");
	eval();
	expect("mx.records", STS_CHECK_WARN);
	expect("policy.mx_covered", STS_CHECK_FAIL);

	good(); /* null MX with MTA-STS published */
	X.f.null_mx = true;
	X.f.n_mx = 0;
	eval();
	expect("mx.records", STS_CHECK_WARN);

	good(); /* null MX, no MTA-STS at all: nothing needed */
	X.f.null_mx = true;
	X.f.n_mx = 0;
	lookup_none(&X.f.txt, true);
	lookup_none(&X.f.host_addr, true);
	lookup_none(&X.f.tlsrpt, true);
	X.f.n_txt = X.f.n_host_addrs = X.f.n_tlsrpt = 0;
	X.f.fetch[0].done = X.f.fetch[1].done = X.f.host_tls.done = false;
	eval();
	assert_int_equal(X.r->verdict, STS_CHECK_PASS);

	good();
	lookup_none(&X.mx[0].addr, true);
	X.mx[0].n_addrs = 0;
	X.mx[0].n_probes = 0;
	eval();
	expect("mx.address", STS_CHECK_FAIL);

	good(); /* port 25 blocked here: cannot tell, a warning */
	probe0()->status = STS_ETEMP;
	probe0()->failed_stage = STS_PROBE_CONNECT;
	probe0()->tls = false;
	eval();
	expect("mx.starttls", STS_CHECK_WARN);
	expect("readiness.enforce", STS_CHECK_WARN);
	assert_false(X.r->enforce_ready);

	good();
	probe0()->status = STS_EPROTO;
	probe0()->failed_stage = STS_PROBE_STARTTLS_CMD;
	probe0()->starttls_offered = false;
	probe0()->tls = false;
	eval();
	expect("mx.starttls", STS_CHECK_FAIL);
	expect("readiness.enforce", STS_CHECK_FAIL);
	assert_non_null(strstr(X.r->blockers[0].why, "STARTTLS"));

	good();
	probe0()->status = STS_ETLS;
	probe0()->failed_stage = STS_PROBE_HANDSHAKE;
	probe0()->tls = false;
	eval();
	expect("mx.starttls", STS_CHECK_PASS);
	expect("mx.tls_version", STS_CHECK_FAIL);

	good();
	probe0()->tls_version_num = 0x0301;
	snprintf(probe0()->tls_version, 16, "TLSv1");
	eval();
	expect("mx.tls_version", STS_CHECK_FAIL);
	expect("readiness.enforce", STS_CHECK_FAIL);

	good();
	probe0()->chain_trusted = false;
	probe0()->self_signed = true;
	eval();
	expect("mx.cert_trust", STS_CHECK_FAIL);
	assert_non_null(strstr(msg("mx.cert_trust"), "self-signed"));

	good();
	probe0()->name_ok = false;
	snprintf(probe0()->names[0], sizeof(probe0()->names[0]),
	    "mail.other.example");
	eval();
	expect("mx.cert_name", STS_CHECK_FAIL);
	assert_non_null(strstr(msg("mx.cert_name"), "mail.other.example"));

	good();
	probe0()->not_after = NOW - 1;
	eval();
	expect("mx.cert_expiry", STS_CHECK_FAIL);
	expect("readiness.enforce", STS_CHECK_FAIL);

	good();
	probe0()->not_before = NOW + DAY;
	eval();
	expect("mx.cert_expiry", STS_CHECK_FAIL);

	good(); /* expiring soon: a warning, still ready */
	probe0()->not_after = NOW + 5 * DAY;
	eval();
	expect("mx.cert_expiry", STS_CHECK_WARN);
	assert_true(X.r->enforce_ready);
	X.f.expiry_warn_days = 3;
	eval();
	expect("mx.cert_expiry", STS_CHECK_PASS);

	good(); /* the second MX is covered but has no STARTTLS */
	X.f.n_mx = X.f.n_mx_total = 2;
	X.mx[1] = X.mx[0];
	snprintf(X.mx[1].host, sizeof(X.mx[1].host), "mx2.example.com");
	X.mx[1].pref = 20;
	X.mx[1].probes = X.probes[1];
	X.probes[1][0] = X.probes[0][0];
	X.probes[1][0].result.status = STS_EPROTO;
	X.probes[1][0].result.failed_stage = STS_PROBE_STARTTLS_CMD;
	set_body("version: STSv1\nmode: enforce\nmx: *.example.com\n"
		 "max_age: 1209600\n");
	eval();
	assert_int_equal(st("mx.starttls", "mx1"), STS_CHECK_PASS);
	assert_int_equal(st("mx.starttls", "mx2"), STS_CHECK_FAIL);
	assert_int_equal(X.r->n_blockers, 1);
	assert_string_equal(X.r->blockers[0].host, "mx2.example.com");
	teardown_report();
}

/* ---- tlsrpt ----------------------------------------------------------- */

static void
test_tlsrpt(void **state)
{
	(void)state;
	good();
	lookup_none(&X.f.tlsrpt, true);
	X.f.n_tlsrpt = 0;
	eval();
	expect("tlsrpt.record", STS_CHECK_WARN);
	assert_non_null(strstr(msg("tlsrpt.record"), "MTA-STS is deployed"));

	good();
	X.f.tlsrpt.status = STS_ETEMP;
	eval();
	expect("tlsrpt.record", STS_CHECK_FAIL);

	good();
	txt(&X.rpt[1], "v=TLSRPTv1; rua=mailto:b@example.com");
	X.f.n_tlsrpt = 2;
	eval();
	expect("tlsrpt.record", STS_CHECK_FAIL);

	good();
	txt(&X.rpt[0], "v=TLSRPTv1; rua=ftp://example.com/");
	eval();
	expect("tlsrpt.record", STS_CHECK_PASS);
	expect("tlsrpt.rua", STS_CHECK_FAIL);

	good();
	txt(&X.rpt[0], "v=TLSRPTv1; rua=mailto:a@example.com,ftp://x.example/");
	eval();
	expect("tlsrpt.rua", STS_CHECK_WARN);

	good();
	txt(&X.rpt[0], "v=TLSRPTv1; rua=https://r.example.com/x");
	eval();
	expect("tlsrpt.rua", STS_CHECK_PASS);
	teardown_report();
}

/* ---- dane ------------------------------------------------------------- */

static void
test_dane(void **state)
{
	(void)state;
	good();
	X.f.mx.security = STS_DNS_BOGUS;
	eval();
	expect("dane.dnssec", STS_CHECK_FAIL);

	good(); /* unsigned MX: DANE cannot apply, informative */
	X.f.mx.security = STS_DNS_INSECURE;
	eval();
	expect("dane.dnssec", STS_CHECK_PASS);
	expect("dane.tlsa", STS_CHECK_WARN); /* signed TLSA, unsigned MX */

	good(); /* secure, but names another key */
	X.tlsa[0].data = X.other;
	eval();
	expect("dane.tlsa", STS_CHECK_FAIL);

	good(); /* DANE-TA of an issuer in the chain */
	memcpy(probe0()->chain[1].cert_sha512, X.other, 32);
	memcpy(probe0()->chain[1].cert_sha512 + 32, X.spki, 32);
	{
		static uint8_t d[64];

		memcpy(d, X.other, 32);
		memcpy(d + 32, X.spki, 32);
		X.tlsa[0] = (struct sts_dns_tlsa){2, 0, 2, d, 64};
	}
	eval();
	expect("dane.tlsa", STS_CHECK_PASS);

	good(); /* only PKIX usages: unusable for SMTP (RFC 7672 §3.1.3) */
	X.tlsa[0].usage = 1;
	eval();
	expect("dane.tlsa", STS_CHECK_WARN);

	good();
	X.mx[0].tlsa.security = STS_DNS_INSECURE;
	eval();
	expect("dane.tlsa", STS_CHECK_WARN);

	good();
	X.mx[0].tlsa.status = STS_ETEMP;
	X.mx[0].n_tlsa = 0;
	eval();
	expect("dane.tlsa", STS_CHECK_FAIL);

	good();
	lookup_none(&X.mx[0].tlsa, true);
	X.mx[0].n_tlsa = 0;
	eval();
	expect("dane.tlsa", STS_CHECK_PASS);

	good(); /* no validation here: nothing judged */
	X.f.dnssec_validating = false;
	X.tlsa[0].data = X.other;
	eval();
	expect("dane.tlsa", STS_CHECK_PASS);
	expect("dane.dnssec", STS_CHECK_PASS);
	teardown_report();
}

static void
test_misc(void **state)
{
	struct sts_check_report *r = NULL;
	struct sts_check_facts f = {0};

	(void)state;
	assert_int_equal(sts_check_evaluate(&f, &r), STS_EINVAL);
	assert_int_equal(sts_check_evaluate(NULL, &r), STS_EINVAL);
	sts_check_report_free(NULL);
	f.domain = "nothing.example"; /* no lookups made at all */
	assert_int_equal(sts_check_evaluate(&f, &r), STS_OK);
	assert_int_equal(r->n_items, 0);
	assert_int_equal(r->verdict, STS_CHECK_PASS);
	sts_check_report_free(r);
	assert_string_equal(sts_check_status_name(STS_CHECK_WARN), "warn");
	assert_string_equal(sts_check_verdict_name(STS_CHECK_FAIL), "fail");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_txt),
	    cmocka_unit_test(test_host),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_mx),
	    cmocka_unit_test(test_tlsrpt),
	    cmocka_unit_test(test_dane),
	    cmocka_unit_test(test_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
