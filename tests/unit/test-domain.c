/* test-domain.c - sts_domain_normalize: grammar, flags, API contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts/domain.h"

#define W STS_DOMAIN_WILDCARD
#define T STS_DOMAIN_TRAILING_DOT

/* 253 characters: 63 + 1 + 63 + 1 + 63 + 1 + 61. */
#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define N253 L63 "." L63 "." L63 "." \
	"ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static const struct {
	const char *name;
	unsigned flags;
	int rc;
	const char *norm; /* expected output when rc == STS_OK */
} cases[] = {
	/* RFC 5321 §4.1.2 Domain, folded to lower case (RFC 4343) */
	{"example.com", 0, STS_OK, "example.com"},
	{"MAIL.Example.COM", 0, STS_OK, "mail.example.com"},
	{"a", 0, STS_OK, "a"},
	{"0-9.example", 0, STS_OK, "0-9.example"},
	{"a--b.example", 0, STS_OK, "a--b.example"},
	{"-a.example", 0, STS_ESYNTAX, NULL},
	{"a-.example", 0, STS_ESYNTAX, NULL},
	{"a_b.example", 0, STS_ESYNTAX, NULL},
	{"a..b", 0, STS_ESYNTAX, NULL},
	{".a", 0, STS_ESYNTAX, NULL},
	{"", 0, STS_ESYNTAX, NULL},
	{"", W | T, STS_ESYNTAX, NULL},
	/* RFC 1035 §2.3.4 lengths */
	{L63 ".example", 0, STS_OK, L63 ".example"},
	{L63 "a.example", 0, STS_ESYNTAX, NULL},
	{N253, 0, STS_OK, N253},
	{N253 "d", 0, STS_ESYNTAX, NULL},
	{N253 ".", T, STS_OK, N253},
	{N253 "d.", T, STS_ESYNTAX, NULL},
	/* trailing dot: only with the flag, only one */
	{"example.com.", 0, STS_ESYNTAX, NULL},
	{"example.com.", T, STS_OK, "example.com"},
	{"example.com..", T, STS_ESYNTAX, NULL},
	{".", T, STS_ESYNTAX, NULL},
	/* wildcard: only with the flag, only "*." in front */
	{"*.example.com", 0, STS_ESYNTAX, NULL},
	{"*.Example.COM", W, STS_OK, "*.example.com"},
	{"*.example.com.", W, STS_ESYNTAX, NULL},
	{"*.example.com.", W | T, STS_OK, "*.example.com"},
	{"*", W, STS_ESYNTAX, NULL},
	{"*.", W, STS_ESYNTAX, NULL},
	{"*.", W | T, STS_ESYNTAX, NULL},
	{"*.*.example.com", W, STS_ESYNTAX, NULL},
	{"a.*.example.com", W, STS_ESYNTAX, NULL},
	{"*a.example.com", W, STS_ESYNTAX, NULL},
	/* IDN: A-labels only (RFC 8461 §3.2, RFC 5890 §2.3.2.1) */
	{"xn--bcher-kva.example", 0, STS_OK, "xn--bcher-kva.example"},
	{"XN--BCHER-KVA.example", 0, STS_OK, "xn--bcher-kva.example"},
	{"xn--bcher-kvb.example", 0, STS_ESYNTAX, NULL},
	{"xn--zz.example", 0, STS_ESYNTAX, NULL},
	{"xn--g6h.example", 0, STS_ESYNTAX, NULL},
	{"b\xc3\xbc" "cher.example", 0, STS_ESYNTAX, NULL},
	{"*.xn--fa-hia.example", W, STS_OK, "*.xn--fa-hia.example"},
};

static void
table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[STS_DOMAIN_MAX + 1];
		struct sts_diag diag = {.line = -1};
		int rc = sts_domain_normalize(cases[i].name,
		    strlen(cases[i].name), cases[i].flags, out, &diag);

		if (rc != cases[i].rc)
			fail_msg("case %zu '%s' flags %u: rc %d, want %d (%s)",
			    i, cases[i].name, cases[i].flags, rc, cases[i].rc,
			    diag.message);
		if (rc == STS_OK && strcmp(out, cases[i].norm) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, out,
			    cases[i].norm);
		if (rc != STS_OK) {
			/* A name has no lines: diag.line is 0. */
			assert_int_equal(diag.line, 0);
			assert_true(diag.message[0] != '\0');
		}
	}
}

/* On failure ret_name is left exactly as it was. */
static void
out_param_untouched_on_failure(void **state)
{
	static const char *bad[] = {"", "a..b", "-a", "*.x", "a_b",
	    N253 "d", "xn--zz", "example.com."};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[STS_DOMAIN_MAX + 1], copy[STS_DOMAIN_MAX + 1];

		memset(out, 'Z', sizeof(out));
		memcpy(copy, out, sizeof(out));
		assert_int_equal(sts_domain_normalize(bad[i], strlen(bad[i]),
				     0, out, NULL),
		    STS_ESYNTAX);
		assert_memory_equal(out, copy, sizeof(out));
	}
}

/* A NULL diag is accepted on success and on every failure path. */
static void
diag_null(void **state)
{
	char out[STS_DOMAIN_MAX + 1];

	(void)state;
	assert_int_equal(sts_domain_normalize("a.example", 9, 0, out, NULL),
	    STS_OK);
	assert_int_equal(sts_domain_normalize("", 0, 0, out, NULL),
	    STS_ESYNTAX);
	assert_int_equal(sts_domain_normalize("*.", 2, W, out, NULL),
	    STS_ESYNTAX);
	assert_int_equal(sts_domain_normalize(L63 "a", 64, 0, out, NULL),
	    STS_ESYNTAX);
	assert_int_equal(sts_domain_normalize("xn--zz", 6, 0, out, NULL),
	    STS_ESYNTAX);
}

/* len bounds the input: no NUL terminator is needed, none is read. */
static void
length_not_nul(void **state)
{
	char out[STS_DOMAIN_MAX + 1];
	char *exact = malloc(11); /* "example.com" without its NUL */

	(void)state;
	assert_non_null(exact);
	memcpy(exact, "example.com", 11);
	assert_int_equal(sts_domain_normalize(exact, 11, 0, out, NULL), STS_OK);
	assert_string_equal(out, "example.com");
	assert_int_equal(sts_domain_normalize(exact, 7, 0, out, NULL), STS_OK);
	assert_string_equal(out, "example");
	free(exact);
	/* An embedded NUL is a byte like any other: not LDH. */
	assert_int_equal(sts_domain_normalize("a\0b.example", 11, 0, out, NULL),
	    STS_ESYNTAX);
}

/* The longest name fills the buffer exactly, NUL included. */
static void
longest_fits(void **state)
{
	struct {
		char out[STS_DOMAIN_MAX + 1];
		char canary[8];
	} buf;

	(void)state;
	memset(&buf, 'Z', sizeof(buf));
	assert_int_equal(sts_domain_normalize(N253 ".", 254, T, buf.out, NULL),
	    STS_OK);
	assert_int_equal(strlen(buf.out), STS_DOMAIN_MAX);
	assert_memory_equal(buf.canary, "ZZZZZZZZ", 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(out_param_untouched_on_failure),
		cmocka_unit_test(diag_null),
		cmocka_unit_test(length_not_nul),
		cmocka_unit_test(longest_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
