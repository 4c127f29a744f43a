/* test-tlsrpt.c - the _smtp._tls record (RFC 8460 §3): API contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts/tlsrpt.h"

#define REC(s) {s, sizeof(s) - 1}

static const struct {
	const char *data;
	int rc;
	size_t n_rua, n_ignored;
	const char *first; /* rua[0] when valid */
} records[] = {
	{"v=TLSRPTv1;rua=mailto:reports@example.com", STS_OK, 1, 0,
	    "mailto:reports@example.com"},
	{"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", STS_OK, 1,
	    0, "https://reporting.example.com/v1/tlsrpt"},
	{"v=TLSRPTv1; rua=ftp://x.example/r , mailto:a@example.com", STS_OK, 1,
	    1, "mailto:a@example.com"},
	{"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
	    STS_OK, 1, 0, "mailto:a@example.com"},
	{"v=TLSRPTv1 ; rua=mailto:a@example.com", STS_OK, 1, 0,
	    "mailto:a@example.com"},
	{"v=TLSRPTv1; rua=ftp://x.example/r", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=mailto:a!b@example.com", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; RUA=mailto:a@example.com", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=https://:443/x", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=mailto:a@example.com; rua=x y", STS_ESYNTAX, 0, 0,
	    NULL},
	/* RFC 3986 structure: delimiters in their places */
	{"v=TLSRPTv1; rua=https://[2001:db8::1]:8443/r?a#b", STS_OK, 1, 0,
	    "https://[2001:db8::1]:8443/r?a#b"},
	{"v=TLSRPTv1; rua=https://[v7.x:y]/r", STS_OK, 1, 0,
	    "https://[v7.x:y]/r"},
	{"v=TLSRPTv1; rua=https://r.example/[x]", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=https://[::1]x/r", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=https://[v7.]/r", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=https://[]/r", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=https://r.example:44x/r", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=https://a@b@r.example/r", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1; rua=mailto:a@example.com#x#y", STS_ESYNTAX, 0, 0, NULL},
	{"v=TLSRPTv1", STS_ESYNTAX, 0, 0, NULL},
	{"", STS_ESYNTAX, 0, 0, NULL},
};

static void
record_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		struct sts_tlsrpt *t = NULL;
		struct sts_diag diag = {.line = -1};
		int rc = sts_tlsrpt_parse_record(records[i].data,
		    strlen(records[i].data), &t, &diag);

		if (rc != records[i].rc)
			fail_msg("record %zu '%s': rc %d, want %d (%s)", i,
			    records[i].data, rc, records[i].rc, diag.message);
		if (rc != STS_OK) {
			assert_null(t);
			assert_int_equal(diag.line, 0);
			continue;
		}
		assert_int_equal(t->n_rua, records[i].n_rua);
		assert_int_equal(t->n_ignored, records[i].n_ignored);
		assert_string_equal(t->rua[0], records[i].first);
		sts_tlsrpt_free(t);
	}
}

/* The RRset rule, as for MTA-STS, and diag.line of the chosen record. */
static void
rrset_rule(void **state)
{
	const struct sts_txt_record one[] = {
	    REC("v=spf1 -all"), REC("v=TLSRPTv1; rua=mailto:a@example.com")};
	const struct sts_txt_record two[] = {
	    REC("v=TLSRPTv1; rua=mailto:a@example.com"),
	    REC("v=TLSRPTv1; rua=mailto:b@example.com")};
	const struct sts_txt_record none[] = {
	    REC("v=spf1 -all"), REC("v=TLSRPTv1 ;rua=mailto:a@example.com")};
	const struct sts_txt_record bad[] = {
	    REC("v=spf1 -all"), REC("v=TLSRPTv1;rua=ftp://x.example/")};
	struct sts_tlsrpt *t = NULL;
	struct sts_diag diag;

	(void)state;
	assert_int_equal(sts_tlsrpt_parse(one, 2, &t, &diag), STS_OK);
	assert_int_equal(t->n_rua, 1);
	assert_string_equal(t->rua[0], "mailto:a@example.com");
	sts_tlsrpt_free(t);
	t = NULL;

	diag.line = -1;
	assert_int_equal(sts_tlsrpt_parse(two, 2, &t, &diag), STS_ESYNTAX);
	assert_int_equal(diag.line, 0);
	diag.line = -1;
	assert_int_equal(sts_tlsrpt_parse(none, 2, &t, &diag), STS_ENOTFOUND);
	assert_int_equal(diag.line, 0);
	diag.line = -1;
	assert_int_equal(sts_tlsrpt_parse(NULL, 0, &t, &diag), STS_ENOTFOUND);
	assert_int_equal(diag.line, 0);
	diag.line = -1;
	assert_int_equal(sts_tlsrpt_parse(bad, 2, &t, &diag), STS_ESYNTAX);
	assert_int_equal(diag.line, 2);
	assert_null(t);
}

/* *ret_tlsrpt keeps its old value on every failure; NULL diag is fine. */
static void
out_param_untouched_on_failure(void **state)
{
	struct sts_tlsrpt *sentinel = (struct sts_tlsrpt *)&sentinel;
	struct sts_tlsrpt *t = sentinel;
	const struct sts_txt_record two[] = {
	    REC("v=TLSRPTv1; rua=mailto:a@example.com"),
	    REC("v=TLSRPTv1; rua=mailto:b@example.com")};

	(void)state;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		if (records[i].rc == STS_OK)
			continue;
		assert_int_equal(sts_tlsrpt_parse_record(records[i].data,
				     strlen(records[i].data), &t, NULL),
		    records[i].rc);
		assert_ptr_equal(t, sentinel);
	}
	assert_int_equal(sts_tlsrpt_parse(two, 2, &t, NULL), STS_ESYNTAX);
	assert_int_equal(sts_tlsrpt_parse(two, 0, &t, NULL), STS_ENOTFOUND);
	assert_ptr_equal(t, sentinel);
}

static void
free_null(void **state)
{
	(void)state;
	sts_tlsrpt_free(NULL);
}

/* A rua list of n mailto: URIs. */
static size_t
rua_list(char *buf, size_t size, unsigned n)
{
	size_t len = (size_t)snprintf(buf, size, "v=TLSRPTv1; rua=");

	for (unsigned i = 1; i <= n; i++)
		len += (size_t)snprintf(buf + len, size - len,
		    "%smailto:r%u@example.com", i > 1 ? "," : "", i);
	return len;
}

/* STS_TLSRPT_MAX_RUA usable URIs are kept; one more is STS_ETOOBIG. */
static void
rua_limit(void **state)
{
	char buf[1024];
	struct sts_tlsrpt *t = NULL;
	struct sts_diag diag;
	size_t len;

	(void)state;
	len = rua_list(buf, sizeof(buf), STS_TLSRPT_MAX_RUA);
	assert_int_equal(sts_tlsrpt_parse_record(buf, len, &t, &diag), STS_OK);
	assert_int_equal(t->n_rua, STS_TLSRPT_MAX_RUA);
	assert_string_equal(t->rua[STS_TLSRPT_MAX_RUA - 1],
	    "mailto:r16@example.com");
	sts_tlsrpt_free(t);
	t = NULL;
	len = rua_list(buf, sizeof(buf), STS_TLSRPT_MAX_RUA + 1);
	assert_int_equal(sts_tlsrpt_parse_record(buf, len, &t, &diag),
	    STS_ETOOBIG);
	assert_null(t);
}

/* 65535 bytes is a record; one more is STS_ETOOBIG, before any syntax. */
static void
size_limit(void **state)
{
	static const char head[] = "v=TLSRPTv1; rua=mailto:a@example.com; x=";
	char *big = malloc(STS_TXT_MAX_BYTES + 1);
	struct sts_tlsrpt *t = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, 'y', STS_TXT_MAX_BYTES + 1);
	memcpy(big, head, sizeof(head) - 1);
	assert_int_equal(sts_tlsrpt_parse_record(big, STS_TXT_MAX_BYTES, &t,
			     NULL),
	    STS_OK);
	sts_tlsrpt_free(t);
	t = NULL;
	assert_int_equal(sts_tlsrpt_parse_record(big, STS_TXT_MAX_BYTES + 1,
			     &t, NULL),
	    STS_ETOOBIG);
	memset(big, ' ', STS_TXT_MAX_BYTES + 1);
	assert_int_equal(sts_tlsrpt_parse_record(big, STS_TXT_MAX_BYTES + 1,
			     &t, NULL),
	    STS_ETOOBIG);
	assert_int_equal(sts_tlsrpt_parse_record(big, STS_TXT_MAX_BYTES, &t,
			     NULL),
	    STS_ESYNTAX);
	assert_null(t);
	free(big);
}

/* The result owns copies; the input needs no NUL and is not kept. */
static void
ownership(void **state)
{
	static const char text[] =
	    "v=TLSRPTv1; rua=mailto:a@example.com,gopher://g.example/,"
	    "https://r.example/x";
	char *exact = malloc(sizeof(text) - 1);
	struct sts_tlsrpt *t = NULL;

	(void)state;
	assert_non_null(exact);
	memcpy(exact, text, sizeof(text) - 1);
	assert_int_equal(sts_tlsrpt_parse_record(exact, sizeof(text) - 1, &t,
			     NULL),
	    STS_OK);
	memset(exact, 'X', sizeof(text) - 1);
	free(exact);
	assert_int_equal(t->n_rua, 2);
	assert_string_equal(t->rua[0], "mailto:a@example.com");
	assert_string_equal(t->rua[1], "https://r.example/x");
	assert_int_equal(t->n_ignored, 1);
	assert_string_equal(t->ignored[0], "gopher://g.example/");
	sts_tlsrpt_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_table),
		cmocka_unit_test(rrset_rule),
		cmocka_unit_test(out_param_untouched_on_failure),
		cmocka_unit_test(free_null),
		cmocka_unit_test(rua_limit),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(ownership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
