/* test-policy.c - the policy body (RFC 8461 §3.2): API contract, lint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts/policy.h"

#define HEAD "version: STSv1\n"
#define GOOD HEAD "mode: enforce\nmx: mail.example.com\nmax_age: 604800\n"

static int
parse_str(const char *s, struct sts_policy **pol, struct sts_diag *diag)
{
	return sts_policy_parse(s, strlen(s), pol, diag);
}

/* Fields of a parsed policy; the policy owns copies of its strings. */
static void
fields(void **state)
{
	char body[] = HEAD "mode: testing\nmx: Mail.Example.COM\n"
			   "mx: *.example.net\nmax_age: 0086400\nfoo: bar\n";
	struct sts_policy *pol = NULL;

	(void)state;
	assert_int_equal(parse_str(body, &pol, NULL), STS_OK);
	assert_non_null(pol);
	assert_int_equal(pol->mode, STS_MODE_TESTING);
	assert_int_equal(pol->max_age, 86400);
	assert_int_equal(pol->n_mx, 2);
	memset(body, 'X', sizeof(body) - 1);
	assert_string_equal(pol->mx[0], "Mail.Example.COM");
	assert_string_equal(pol->mx[1], "*.example.net");
	assert_int_equal(pol->body_bytes, sizeof(body) - 1);
	assert_int_equal(pol->blank_lines, 0);
	sts_policy_free(pol);

	assert_int_equal(parse_str(HEAD "\nmode: none\r\n\r\nmax_age: 1\n\n",
			     &pol, NULL),
	    STS_OK);
	assert_int_equal(pol->mode, STS_MODE_NONE);
	assert_int_equal(pol->n_mx, 0);
	assert_int_equal(pol->blank_lines, 3);
	sts_policy_free(pol);
}

/* diag.line: the 1-based line of the fault, 0 for whole-body faults. */
static const struct {
	const char *body;
	int rc, line;
} faults[] = {
	{"", STS_ESYNTAX, 0},
	{"\n", STS_ESYNTAX, 0},
	{"mode: enforce\nmx: a.example\nmax_age: 1\n", STS_ESYNTAX, 0},
	{HEAD "mx: a.example\nmax_age: 1\n", STS_ESYNTAX, 0},
	{HEAD "mode: enforce\nmx: a.example\n", STS_ESYNTAX, 0},
	{HEAD "mode: enforce\nmax_age: 1\n", STS_ESYNTAX, 0},
	{"version: STSv2\n", STS_ESYNTAX, 1},
	{HEAD "mode: Enforce\n", STS_ESYNTAX, 2},
	{HEAD "\n\nmode: bogus\n", STS_ESYNTAX, 4},
	{HEAD "mode: enforce\r\nmx: a.example.\r\n", STS_ESYNTAX, 3},
	{HEAD "mode: enforce\rmx: a.example\n", STS_ESYNTAX, 2},
	{HEAD "mode: enforce\nmax_age: 31557601\n", STS_ESYNTAX, 3},
	{HEAD "mode: enforce\nmax_age: 00000000001\n", STS_ESYNTAX, 3},
	{HEAD "mode: enforce\nmax_age: 1\nmx: a.example\n \n", STS_ESYNTAX,
	    5},
	{HEAD "mode: enforce\nnote: a\tb\n", STS_ESYNTAX, 3},
	{HEAD "mode: enforce\nnote: \xc0\xaf\n", STS_ESYNTAX, 3},
	{HEAD "mode: enforce\nno colon\n", STS_ESYNTAX, 3},
	{"\xef\xbb\xbf" GOOD, STS_ESYNTAX, 1},
};

static void
fault_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct sts_policy *pol = NULL;
		struct sts_diag diag = {.line = -1};
		int rc = parse_str(faults[i].body, &pol, &diag);

		if (rc != faults[i].rc || diag.line != faults[i].line)
			fail_msg("fault %zu: rc %d line %d, want rc %d line %d "
				 "(%s)",
			    i, rc, diag.line, faults[i].rc, faults[i].line,
			    diag.message);
		assert_null(pol);
		assert_true(strstr(diag.message, "RFC ") != NULL);
	}
}

/* On failure *ret_policy keeps its old value; NULL diag is fine. */
static void
out_param_untouched_on_failure(void **state)
{
	struct sts_policy *sentinel = (struct sts_policy *)&sentinel;
	struct sts_policy *pol = sentinel;
	char *big = malloc(STS_POLICY_MAX_BYTES + 1);

	(void)state;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		assert_int_equal(parse_str(faults[i].body, &pol, NULL),
		    faults[i].rc);
		assert_ptr_equal(pol, sentinel);
	}
	assert_non_null(big);
	memset(big, 'x', STS_POLICY_MAX_BYTES + 1);
	assert_int_equal(sts_policy_parse(big, STS_POLICY_MAX_BYTES + 1, &pol,
			     NULL),
	    STS_ETOOBIG);
	assert_ptr_equal(pol, sentinel);
	free(big);
}

static void
free_null(void **state)
{
	(void)state;
	sts_policy_free(NULL);
}

/* Build a valid body of exactly size bytes out of GOOD and padding. */
static char *
padded_body(size_t size)
{
	char *b = malloc(size);
	size_t len = strlen(GOOD);

	assert_non_null(b);
	assert_true(size > len + 8);
	memcpy(b, GOOD, len);
	memcpy(b + len, "pad: ", 5);
	memset(b + len + 5, 'x', size - len - 6);
	b[size - 1] = '\n';
	return b;
}

/* Over the cap is STS_ETOOBIG (checked before syntax); at it, parsed. */
static void
size_limit(void **state)
{
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {.line = -1};
	char *b = padded_body(STS_POLICY_MAX_BYTES + 1);

	(void)state;
	assert_int_equal(sts_policy_parse(b, STS_POLICY_MAX_BYTES + 1, &pol,
			     &diag),
	    STS_ETOOBIG);
	assert_int_equal(diag.line, 0);
	free(b);

	b = padded_body(STS_POLICY_MAX_BYTES);
	assert_int_equal(sts_policy_parse(b, STS_POLICY_MAX_BYTES, &pol, NULL),
	    STS_OK);
	assert_int_equal(pol->body_bytes, STS_POLICY_MAX_BYTES);
	assert_true(sts_policy_warnings(pol) & STS_WARN_NEAR_CAP);
	sts_policy_free(pol);

	/* The same bytes one short of a line end: a syntax error. */
	memset(b, '\t', 16);
	assert_int_equal(sts_policy_parse(b, STS_POLICY_MAX_BYTES, &pol, NULL),
	    STS_ESYNTAX);
	free(b);
}

/* The body is bytes with a length: exactly sized, never NUL-ended. */
static void
exact_length_buffer(void **state)
{
	size_t len = strlen(GOOD) - 1; /* no final LF either */
	char *b = malloc(len);
	struct sts_policy *pol = NULL;

	(void)state;
	assert_non_null(b);
	memcpy(b, GOOD, len);
	assert_int_equal(sts_policy_parse(b, len, &pol, NULL), STS_OK);
	assert_int_equal(pol->max_age, 604800);
	free(b);
	sts_policy_free(pol);
}

static const struct {
	const char *body;
	unsigned warnings;
} lint[] = {
	{GOOD, 0},
	{HEAD "mode: enforce\nmx: a.example\nmax_age: 86399\n",
	    STS_WARN_ENFORCE_SHORT_AGE},
	{HEAD "mode: enforce\nmx: a.example\nmax_age: 86400\n", 0},
	{HEAD "mode: enforce\nmx: a.example\nmax_age: 0\n",
	    STS_WARN_ENFORCE_SHORT_AGE | STS_WARN_ZERO_AGE},
	{HEAD "mode: testing\nmx: a.example\nmax_age: 604799\n",
	    STS_WARN_TESTING_AGE},
	{HEAD "mode: testing\nmx: a.example\nmax_age: 604800\n", 0},
	{HEAD "mode: testing\nmx: a.example\nmax_age: 1209600\n", 0},
	{HEAD "mode: testing\nmx: a.example\nmax_age: 1209601\n",
	    STS_WARN_TESTING_AGE},
	{HEAD "mode: testing\nmx: a.example\nmax_age: 0\n",
	    STS_WARN_TESTING_AGE | STS_WARN_ZERO_AGE},
	{HEAD "mode: none\nmax_age: 0\n", STS_WARN_ZERO_AGE},
	{HEAD "mode: none\nmax_age: 1\n", 0},
	{HEAD "mode: none\nmx: a.example\nmax_age: 1\n",
	    STS_WARN_NONE_WITH_MX},
	{HEAD "mode: enforce\nmx: *.example\nmax_age: 86400\n",
	    STS_WARN_WILDCARD_MX},
	{HEAD "mode: enforce\nmx: a.example\nmx: A.EXAMPLE\nmax_age: 86400\n",
	    STS_WARN_DUPLICATE_MX},
	{HEAD "mode: enforce\nmx: a.example\nmx: b.example\nmax_age: 86400\n",
	    0},
	{HEAD "\nmode: enforce\nmx: a.example\nmax_age: 86400\n",
	    STS_WARN_BLANK_LINES},
	{HEAD "mode: enforce\nmx: *.a.example\nmx: *.a.example\n\n"
	      "max_age: 1\n",
	    STS_WARN_ENFORCE_SHORT_AGE | STS_WARN_WILDCARD_MX |
		STS_WARN_DUPLICATE_MX | STS_WARN_BLANK_LINES},
};

static void
warnings(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lint) / sizeof(lint[0]); i++) {
		struct sts_policy *pol = NULL;
		unsigned w;

		assert_int_equal(parse_str(lint[i].body, &pol, NULL), STS_OK);
		w = sts_policy_warnings(pol);
		if (w != lint[i].warnings)
			fail_msg("lint %zu: warnings 0x%x, want 0x%x", i, w,
			    lint[i].warnings);
		sts_policy_free(pol);
	}
}

/* The near-cap warning starts at 90 % of the 64 KiB cap. */
static void
near_cap_threshold(void **state)
{
	struct sts_policy *pol = NULL;
	char *b;

	(void)state;
	b = padded_body(STS_POLICY_NEAR_CAP_BYTES - 1);
	assert_int_equal(sts_policy_parse(b, STS_POLICY_NEAR_CAP_BYTES - 1,
			     &pol, NULL),
	    STS_OK);
	assert_int_equal(sts_policy_warnings(pol) & STS_WARN_NEAR_CAP, 0);
	sts_policy_free(pol);
	free(b);
	b = padded_body(STS_POLICY_NEAR_CAP_BYTES);
	assert_int_equal(sts_policy_parse(b, STS_POLICY_NEAR_CAP_BYTES, &pol,
			     NULL),
	    STS_OK);
	assert_int_equal(sts_policy_warnings(pol), STS_WARN_NEAR_CAP);
	sts_policy_free(pol);
	free(b);
}

/* Every warning bit has its own text; unknown bits get "?". */
static void
warning_texts(void **state)
{
	(void)state;
	for (unsigned a = 1; a <= STS_WARN_NONE_WITH_MX; a <<= 1) {
		const char *ta = sts_policy_warning_text(a);

		assert_non_null(ta);
		assert_string_not_equal(ta, "?");
		for (unsigned b = 1; b < a; b <<= 1)
			assert_string_not_equal(ta,
			    sts_policy_warning_text(b));
	}
	assert_string_equal(
	    sts_policy_warning_text((enum sts_policy_warning)(1u << 20)), "?");
	assert_string_equal(sts_mode_name(STS_MODE_NONE), "none");
	assert_string_equal(sts_mode_name(STS_MODE_TESTING), "testing");
	assert_string_equal(sts_mode_name(STS_MODE_ENFORCE), "enforce");
}

/* Messages quote values: long or UTF-8 ones are not cut mid-character. */
static void
message_quoting(void **state)
{
	char body[600];
	struct sts_diag diag;
	struct sts_policy *pol = NULL;
	int n = snprintf(body, sizeof(body), HEAD "mode: ");

	(void)state;
	for (int i = 0; i < 200; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "\xc3\xa9");
	assert_int_equal(sts_policy_parse(body, (size_t)n, &pol, &diag),
	    STS_ESYNTAX);
	/* The only non-ASCII left is the "§" of the RFC citation. */
	for (const char *p = diag.message; *p; p++) {
		if (strncmp(p, "§", 2) == 0)
			p++;
		else
			assert_true((unsigned char)*p < 0x80);
	}
	assert_true(strlen(diag.message) < STS_DIAG_MAX - 1);
	assert_non_null(strstr(diag.message, "\\xC3\\xA9"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fields),
		cmocka_unit_test(fault_lines),
		cmocka_unit_test(out_param_untouched_on_failure),
		cmocka_unit_test(free_null),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(exact_length_buffer),
		cmocka_unit_test(warnings),
		cmocka_unit_test(near_cap_threshold),
		cmocka_unit_test(warning_texts),
		cmocka_unit_test(message_quoting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
