/* test-txt.c - the _mta-sts TXT RRset (RFC 8461 §3.1): API contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts/txt.h"

#define REC(s) {s, sizeof(s) - 1}

static const struct {
	const char *data;
	int rc;
	const char *id;
} records[] = {
	{"v=STSv1; id=20160831085700Z;", STS_OK, "20160831085700Z"},
	{"v=STSv1;id=1", STS_OK, "1"},
	{"v=STSv1 ; id=1", STS_OK, "1"}, /* one record: ABNF alone */
	{"v=STSv1; id=abcdefghijklmnopqrstuvwxyz012345", STS_OK,
	    "abcdefghijklmnopqrstuvwxyz012345"},
	{"v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456", STS_ESYNTAX, NULL},
	{"v=STSv1; id=first; id=second", STS_OK, "first"},
	{"v=STSv1; ID=1", STS_ESYNTAX, NULL},
	{"v=STSv1; id=", STS_ESYNTAX, NULL},
	{"v=STSv1; id=1; x=", STS_ESYNTAX, NULL},
	{"v=STSv1; id=1 ", STS_ESYNTAX, NULL},
	{" v=STSv1; id=1", STS_ESYNTAX, NULL},
	{"v=STSv1;; id=1", STS_ESYNTAX, NULL},
	{"v=STSv1", STS_ESYNTAX, NULL},
	{"", STS_ESYNTAX, NULL},
};

static void
record_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		struct sts_txt txt;
		struct sts_diag diag = {.line = -1};
		int rc = sts_txt_parse_record(records[i].data,
		    strlen(records[i].data), &txt, &diag);

		if (rc != records[i].rc)
			fail_msg("record %zu '%s': rc %d, want %d (%s)", i,
			    records[i].data, rc, records[i].rc, diag.message);
		if (rc == STS_OK)
			assert_string_equal(txt.id, records[i].id);
		else
			assert_int_equal(diag.line, 0);
	}
}

/* The RRset rule: return code and the record number in diag.line. */
static void
rrset_rule(void **state)
{
	const struct sts_txt_record spf_sts[] = {
	    REC("v=spf1 -all"), REC("v=STSv1; id=abc")};
	const struct sts_txt_record two_sts[] = {
	    REC("v=STSv1; id=abc"), REC("v=STSv1; id=def")};
	const struct sts_txt_record no_sts[] = {
	    REC("v=spf1 -all"), REC("v=STSv1 ;id=abc")};
	const struct sts_txt_record bad_third[] = {
	    REC("a"), REC("b"), REC("v=STSv1;id=a-b")};
	const struct sts_txt_record spaced_other[] = {
	    REC("v=STSv1 ;id=abc"), REC("v=STSv1;id=def")};
	struct sts_txt txt;
	struct sts_diag diag;

	(void)state;
	assert_int_equal(sts_txt_parse(spf_sts, 2, &txt, &diag), STS_OK);
	assert_string_equal(txt.id, "abc");

	diag.line = -1;
	assert_int_equal(sts_txt_parse(two_sts, 2, &txt, &diag), STS_ESYNTAX);
	assert_int_equal(diag.line, 0);

	diag.line = -1;
	assert_int_equal(sts_txt_parse(no_sts, 2, &txt, &diag),
	    STS_ENOTFOUND);
	assert_int_equal(diag.line, 0);

	diag.line = -1;
	assert_int_equal(sts_txt_parse(NULL, 0, &txt, &diag), STS_ENOTFOUND);
	assert_int_equal(diag.line, 0);

	/* The chosen record is named by its 1-based place in the RRset. */
	diag.line = -1;
	assert_int_equal(sts_txt_parse(bad_third, 3, &txt, &diag),
	    STS_ESYNTAX);
	assert_int_equal(diag.line, 3);

	/* Erratum 6285: "v=STSv1 ;" is dropped beside another record. */
	assert_int_equal(sts_txt_parse(spaced_other, 2, &txt, &diag), STS_OK);
	assert_string_equal(txt.id, "def");

	/* A single record is judged by the grammar: line 0. */
	diag.line = -1;
	assert_int_equal(sts_txt_parse(&bad_third[2], 1, &txt, &diag),
	    STS_ESYNTAX);
	assert_int_equal(diag.line, 0);
}

/* ret_txt is left exactly as it was on every kind of failure. */
static void
out_param_untouched_on_failure(void **state)
{
	const struct sts_txt_record bad[] = {REC("v=STSv1; id=a-b")};
	const struct sts_txt_record two[] = {
	    REC("v=STSv1; id=abc"), REC("v=STSv1; id=def")};
	const struct sts_txt_record none[] = {REC("x"), REC("y")};
	struct sts_txt txt, copy;
	char *big = malloc(STS_TXT_MAX_BYTES + 1);

	(void)state;
	memset(&txt, 'Z', sizeof(txt));
	copy = txt;
	assert_int_equal(sts_txt_parse(bad, 1, &txt, NULL), STS_ESYNTAX);
	assert_int_equal(sts_txt_parse(two, 2, &txt, NULL), STS_ESYNTAX);
	assert_int_equal(sts_txt_parse(none, 2, &txt, NULL), STS_ENOTFOUND);
	assert_int_equal(sts_txt_parse(NULL, 0, &txt, NULL), STS_ENOTFOUND);
	/* The id is checked after an id-like prefix was seen. */
	assert_int_equal(sts_txt_parse_record("v=STSv1; id=abc; x=", 19, &txt,
			     NULL),
	    STS_ESYNTAX);
	assert_non_null(big);
	memset(big, 'y', STS_TXT_MAX_BYTES + 1);
	memcpy(big, "v=STSv1; id=big; x=", 19);
	assert_int_equal(sts_txt_parse_record(big, STS_TXT_MAX_BYTES + 1, &txt,
			     NULL),
	    STS_ETOOBIG);
	assert_memory_equal(&txt, &copy, sizeof(txt));
	free(big);
}

/* 65535 bytes is a record; one more is STS_ETOOBIG, not STS_ESYNTAX. */
static void
size_limit(void **state)
{
	char *big = malloc(STS_TXT_MAX_BYTES + 1);
	struct sts_txt txt;
	struct sts_diag diag;

	(void)state;
	assert_non_null(big);
	memset(big, 'y', STS_TXT_MAX_BYTES + 1);
	memcpy(big, "v=STSv1; id=big; x=", 19);
	assert_int_equal(sts_txt_parse_record(big, STS_TXT_MAX_BYTES, &txt,
			     &diag),
	    STS_OK);
	assert_string_equal(txt.id, "big");
	assert_int_equal(sts_txt_parse_record(big, STS_TXT_MAX_BYTES + 1, &txt,
			     &diag),
	    STS_ETOOBIG);
	/* Garbage over the limit is still "too big": size comes first. */
	memset(big, 0, STS_TXT_MAX_BYTES + 1);
	assert_int_equal(sts_txt_parse_record(big, STS_TXT_MAX_BYTES + 1, &txt,
			     &diag),
	    STS_ETOOBIG);
	assert_int_equal(sts_txt_parse_record(big, STS_TXT_MAX_BYTES, &txt,
			     &diag),
	    STS_ESYNTAX);
	free(big);
}

/* Records are bytes with a length: no NUL needed, none read past. */
static void
exact_length_buffers(void **state)
{
	static const char text[] = "v=STSv1; id=abc";
	char *exact = malloc(sizeof(text) - 1);
	struct sts_txt_record rec;
	struct sts_txt txt;

	(void)state;
	assert_non_null(exact);
	memcpy(exact, text, sizeof(text) - 1);
	rec.data = exact;
	rec.len = sizeof(text) - 1;
	assert_int_equal(sts_txt_parse(&rec, 1, &txt, NULL), STS_OK);
	assert_string_equal(txt.id, "abc");
	/* A shorter len ends the record early: "v=STSv1; id=a". */
	rec.len = 13;
	assert_int_equal(sts_txt_parse(&rec, 1, &txt, NULL), STS_OK);
	assert_string_equal(txt.id, "a");
	/* The id is a copy: the input can go away. */
	memset(exact, 'X', sizeof(text) - 1);
	free(exact);
	assert_string_equal(txt.id, "a");
	/* An embedded NUL is not US-ASCII text. */
	assert_int_equal(sts_txt_parse_record("v=STSv1; id=a\0b", 15, &txt,
			     NULL),
	    STS_ESYNTAX);
}

/* A NULL diag is accepted on every failure path. */
static void
diag_null(void **state)
{
	const struct sts_txt_record two[] = {
	    REC("v=STSv1; id=abc"), REC("v=STSv1; id=def")};
	struct sts_txt txt;

	(void)state;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		assert_int_equal(sts_txt_parse_record(records[i].data,
				     strlen(records[i].data), &txt, NULL),
		    records[i].rc);
	assert_int_equal(sts_txt_parse(two, 2, &txt, NULL), STS_ESYNTAX);
	assert_int_equal(sts_txt_parse(two, 0, &txt, NULL), STS_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_table),
		cmocka_unit_test(rrset_rule),
		cmocka_unit_test(out_param_untouched_on_failure),
		cmocka_unit_test(size_limit),
		cmocka_unit_test(exact_length_buffers),
		cmocka_unit_test(diag_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
