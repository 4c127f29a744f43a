/* test-mxmatch.c - RFC 8461 §4.1 matching, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mtasts/mxmatch.h"

static const struct {
	const char *pattern, *host;
	bool match;
} cases[] = {
	/* §4.1: the RFC's own examples. */
	{"*.example.com", "mail.example.com", true},
	{"*.example.com", "example.com", false},
	{"*.example.com", "foo.bar.example.com", false},
	/* exact names, ASCII case folding, trailing dots */
	{"mail.example.com", "mail.example.com", true},
	{"Mail.Example.COM", "mail.example.com", true},
	{"mail.example.com", "MAIL.EXAMPLE.COM.", true},
	{"mail.example.com.", "mail.example.com", true},
	{"mail.example.com", "mail.example.org", false},
	{"mail.example.com", "xmail.example.com", false},
	{"ail.example.com", "mail.example.com", false},
	/* wildcard is one whole non-empty label */
	{"*.example.com", ".example.com", false},
	{"*.example.com", "mail.example.com.", true},
	{"*.example.com", "MAIL.EXAMPLE.COM", true},
	{"*.example.com", "mailexample.com", false},
	{"*mail.example.com", "xmail.example.com", false},
	{"mail.*.com", "mail.example.com", false},
	{"*", "example", false},
	{"*.*.example.com", "a.b.example.com", false},
	/* malformed names never match */
	{"", "", false},
	{"mail..example.com", "mail..example.com", false},
	{"mail.example.com", "mail_x.example.com", false},
	{"m\xc3\xa4il.example.com", "m\xc3\xa4il.example.com", false},
	/* A-labels compare as ASCII */
	{"xn--bcher-kva.example", "XN--BCHER-KVA.example", true},
	{"*.xn--bcher-kva.example", "mx.xn--bcher-kva.example", true},
};

static void
table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sts_mxmatch(cases[i].pattern, cases[i].host) !=
		    cases[i].match)
			fail_msg("case %zu: '%s' vs '%s' should %s", i,
			    cases[i].pattern, cases[i].host,
			    cases[i].match ? "match" : "not match");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
