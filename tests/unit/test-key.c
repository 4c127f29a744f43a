/*
 * test-key.c - Postfix lookup keys to Policy Domains (RFC 8461 §3.4,
 * postfix-tls-policy.md §1, peers-resolvers.md §1.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "key.h"

static const struct {
	const char *key;
	const char *domain; /* NULL: NOTFOUND */
} cases[] = {
	{"example.com", "example.com"},
	{"Example.COM", "example.com"},
	{"example.com.", "example.com"},
	{" example.com ", "example.com"},
	{"[mail.example.com]", "mail.example.com"},
	{"[mail.example.com]:587", "mail.example.com"},
	{"mail.example.com:25", "mail.example.com"},
	{"mail.example.com:smtp", "mail.example.com"},
	/* UTF-8 keys become A-labels (RFC 8461 §3.2: A-labels only) */
	{"b\xc3\xbc" "cher.example", "xn--bcher-kva.example"},
	{"B\xc3\x9c" "CHER.example", "xn--bcher-kva.example"},
	{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	/* §3.4: no parent-domain policies, no address literals */
	{".example.com", NULL},
	{"[192.0.2.1]", NULL},
	{"[192.0.2.1]:25", NULL},
	{"192.0.2.1", NULL},
	{"[ipv6:2001:db8::1]", NULL},
	{"[2001:db8::1]:25", NULL},
	{"2001:db8::1", NULL},
	{"", NULL},
	{"   ", NULL},
	{"[example.com", NULL},
	{"[example.com]x", NULL},
	{"[example.com]:", NULL},
	{"exa mple.com", NULL},
	{"example..com", NULL},
	{"12345", NULL},
	{"\xff\xfe.example", NULL},
	{"-bad.example", NULL},
};

static void
table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[STS_DOMAIN_MAX + 1] = "untouched";
		const char *why = NULL;
		int r = key_to_domain(cases[i].key, strlen(cases[i].key), out,
		    &why);

		if (cases[i].domain == NULL) {
			if (r != STS_ENOTFOUND || why == NULL)
				fail_msg("case %zu '%s': want NOTFOUND, got %d",
				    i, cases[i].key, r);
		} else if (r != STS_OK || strcmp(out, cases[i].domain) != 0) {
			fail_msg("case %zu '%s': want %s, got %d '%s' (%s)", i,
			    cases[i].key, cases[i].domain, r, out,
			    why ? why : "");
		}
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
